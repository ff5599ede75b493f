package rest

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/photon-cloud/photon/shared/errs"
)

// appendMessage writes m as a JSON object: fields by their JSON names in declaration
// order, only populated ones (protoreflect's Has: non-zero implicit scalars, set
// optional scalars and messages, non-empty lists and maps), 64-bit integers as numbers.
func appendMessage(b []byte, m protoreflect.Message) ([]byte, error) {
	md := m.Descriptor()
	if md.FullName().Parent() == "google.protobuf" {
		switch md.Name() {
		case "DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value",
			"UInt32Value", "BoolValue", "StringValue", "BytesValue":
			// A wrapper is its value; through the walker Int64Value is a number too.
			fd := md.Fields().ByNumber(1)
			return appendSingular(b, fd, m.Get(fd))
		case "Any", "Timestamp", "Duration", "Struct", "Value", "ListValue", "FieldMask", "Empty":
			return appendProtojson(b, m)
		}
	}
	b = append(b, '{')
	first := true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			if fd.IsList() && fd.JSONName() == "items" {
				// A list answer always has its items, as Photon's ResourceList had.
				if !first {
					b = append(b, ',')
				}
				b, first = append(b, `"items":[]`...), false
			}
			continue
		}
		var err error
		if b, err = appendField(b, &first, fd.JSONName(), fd, m.Get(fd)); err != nil {
			return nil, err
		}
	}
	// Extensions follow the fields, named as protojson names them, in a stable order.
	var exts []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if fd.IsExtension() {
			exts = append(exts, fd)
		}
		return true
	})
	slices.SortFunc(exts, func(a, b protoreflect.FieldDescriptor) int { return cmp.Compare(a.FullName(), b.FullName()) })
	for _, fd := range exts {
		var err error
		if b, err = appendField(b, &first, "["+string(fd.FullName())+"]", fd, m.Get(fd)); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendField(b []byte, first *bool, name string, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	if !*first {
		b = append(b, ',')
	}
	*first = false
	b, _ = appendString(b, name)
	b = append(b, ':')
	var err error
	switch {
	case fd.IsList():
		b, err = appendList(b, fd, v.List())
	case fd.IsMap():
		b, err = appendMap(b, fd, v.Map())
	default:
		b, err = appendSingular(b, fd, v)
	}
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", fd.FullName(), err)
	}
	return b, nil
}

func appendList(b []byte, fd protoreflect.FieldDescriptor, l protoreflect.List) ([]byte, error) {
	b = append(b, '[')
	for i := range l.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendSingular(b, fd, l.Get(i)); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendMap writes a map with its keys sorted as protojson sorts them: false before
// true, integers by value, strings bytewise. JSON object keys are always strings.
func appendMap(b []byte, fd protoreflect.FieldDescriptor, m protoreflect.Map) ([]byte, error) {
	keys := make([]protoreflect.MapKey, 0, m.Len())
	m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, compareMapKeys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendString(b, k.String()); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = appendSingular(b, fd.MapValue(), m.Get(k)); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func compareMapKeys(a, b protoreflect.MapKey) int {
	switch x := a.Interface().(type) {
	case bool:
		y := b.Bool()
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int32, int64:
		return cmp.Compare(a.Int(), b.Int())
	case uint32, uint64:
		return cmp.Compare(a.Uint(), b.Uint())
	}
	return cmp.Compare(a.String(), b.String())
}

// appendSingular writes one value of fd's kind (a field, a list element or a map value).
func appendSingular(b []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(b, v.Bool()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		// The reason for this marshaler: protojson would quote the 64-bit kinds.
		return strconv.AppendInt(b, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case protoreflect.FloatKind:
		return appendFloat(b, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(b, v.Float(), 64), nil
	case protoreflect.StringKind:
		return appendString(b, v.String())
	case protoreflect.BytesKind:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes())
		return append(b, '"'), nil
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return append(b, "null"...), nil
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return appendString(b, string(ev.Name()))
		}
		return strconv.AppendInt(b, int64(v.Enum()), 10), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return appendMessage(b, v.Message())
	}
	return nil, fmt.Errorf("unsupported kind %v", fd.Kind())
}

// appendFloat writes f as protojson does: NaN and the infinities as strings, other values
// in encoding/json's shortest form.
func appendFloat(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	var j []byte
	if bits == 32 {
		j, _ = json.Marshal(float32(f))
	} else {
		j, _ = json.Marshal(f)
	}
	return append(b, j...)
}

// appendString writes s as a JSON string. Unlike encoding/json it leaves <, > and &
// alone, as protojson does. Invalid UTF-8 is an error, as in protojson.
func appendString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("invalid UTF-8 in string %q", s)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"'), nil
}

// appendProtojson writes a well-known type with a special JSON form (Timestamp as
// RFC 3339, Struct as an object, Any with its @type, ...) by protojson, compacted so
// that the output does not depend on protojson's randomised spacing.
func appendProtojson(b []byte, m protoreflect.Message) ([]byte, error) {
	j, err := protojson.Marshal(m.Interface())
	if err != nil {
		return nil, err
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, j); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// marshalMessage writes a proto message. A google.rpc.Status (the error chunk of a
// streamed response) is written as the Photon ApiError it stands for.
func marshalMessage(m proto.Message) ([]byte, error) {
	if st, ok := m.(*spb.Status); ok {
		return json.Marshal(apiErrorBody(errs.FromStatus(status.FromProto(st))))
	}
	return appendMessage(nil, m.ProtoReflect())
}

// marshalAny writes a value that is not a proto message: grpc-gateway wraps stream
// chunks as map[string]any{"result": msg} and errors as map[string]proto.Message. Maps
// with string keys and slices are walked so that the messages inside them get the same
// treatment as top-level ones; everything else goes to encoding/json.
func marshalAny(v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return []byte("null"), nil
	case proto.Message:
		if !v.ProtoReflect().IsValid() { // a typed nil
			return []byte("null"), nil
		}
		return marshalMessage(v)
	case json.Marshaler:
		return json.Marshal(v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			return []byte("null"), nil
		}
		keys := rv.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(a.String(), b.String()) })
		b := []byte{'{'}
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendString(b, k.String()); err != nil {
				return nil, err
			}
			b = append(b, ':')
			e, err := marshalAny(rv.MapIndex(k).Interface())
			if err != nil {
				return nil, err
			}
			b = append(b, e...)
		}
		return append(b, '}'), nil
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			break // []byte is base64 in encoding/json
		}
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []byte("null"), nil
		}
		b := []byte{'['}
		for i := range rv.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			e, err := marshalAny(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			b = append(b, e...)
		}
		return append(b, ']'), nil
	}
	return json.Marshal(v)
}
