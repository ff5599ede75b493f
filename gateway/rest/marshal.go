package rest

import (
	"io"
	"reflect"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
)

// Marshaler is the REST side's runtime.Marshaler. It writes the JSON that Photon 1.2
// clients decode with encoding/json:
//
//   - field names are the proto JSON names (lowerCamelCase: queuedTime, selfLink);
//   - int64, uint64 and their fixed/signed kinds are JSON numbers, not the strings
//     protojson writes (a Go client decoding "queuedTime":"1700" into an int64 fails);
//   - enums are their names; bytes are standard base64; NaN and ±Inf are strings;
//   - unpopulated fields are left out as protojson leaves them out: zero implicit
//     scalars, empty repeated fields and maps, unset messages (a set but empty message
//     is written as {}), except a list answer's items, written [] when empty, as
//     Photon's ResourceList always had them;
//   - Timestamp, Duration, Struct, Value, ListValue, FieldMask, Any and Empty keep
//     protojson's forms (an Any's content included); a wrapper is its value, so
//     Int64Value and UInt64Value are numbers too;
//   - map keys are sorted and there is no optional whitespace, so equal messages give
//     equal bytes;
//   - a google.rpc.Status is written as a Photon ApiError {"code","message","data"}:
//     grpc-gateway marshals the errors of streamed responses as {"error": status};
//   - other values (the {"result": msg} chunks of streams, maps, slices) are walked so
//     that the messages inside them get the rules above; the rest is encoding/json.
//
// Requests are read by protojson, which takes 64-bit integers as numbers or strings.
// Unknown fields are ignored, as Photon's server ignored them (its SDK sends fields this
// API has no use for, such as a subnet's portGroups); a known field of the wrong type is
// still an error, which the ErrorHandler answers as InvalidJson.
type Marshaler struct{}

var _ runtime.Marshaler = Marshaler{}

// unmarshaler reads request bodies, skipping unknown fields as Photon did.
var unmarshaler = &runtime.JSONPb{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true}}

// Marshal writes v as JSON by the rules on Marshaler.
func (Marshaler) Marshal(v any) ([]byte, error) {
	if m, ok := v.(proto.Message); ok && m.ProtoReflect().IsValid() {
		return marshalMessage(m)
	}
	return marshalAny(v)
}

// Unmarshal reads data into v, a pointer to a proto message or to a non-message field
// of one (grpc-gateway decodes a body mapped to a single field that way). A message read
// is then held to shared/domain's bounds and name rules (CheckRequest): a refusal is
// the *errs.Error InvalidEntity.
func (Marshaler) Unmarshal(data []byte, v any) error {
	if err := unmarshaler.Unmarshal(data, v); err != nil {
		return err
	}
	return checkBounds(v)
}

// NewDecoder returns a Decoder of JSON values read from r, with Unmarshal's rules. A
// refusal of the bounds is also recorded on a body LimitBody wrapped, so that
// ErrorHandler answers it as InvalidEntity rather than as the InvalidJson grpc-gateway
// makes of every decoding error.
func (Marshaler) NewDecoder(r io.Reader) runtime.Decoder {
	d := unmarshaler.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		if err := d.Decode(v); err != nil {
			return err
		}
		err := checkBounds(v)
		if b, ok := r.(*limitedBody); ok && err != nil {
			b.refused = err
		}
		return err
	})
}

// checkBounds holds what a body decoded into to the bounds: a message, or what
// grpc-gateway decodes a body mapped to one field into, a pointer to the field (a
// message, or a list of them).
func checkBounds(v any) error {
	if m, ok := v.(proto.Message); ok {
		return domain.CheckRequest(m.ProtoReflect())
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil
	}
	switch e := rv.Elem(); e.Kind() {
	case reflect.Pointer:
		if m, ok := e.Interface().(proto.Message); ok && !e.IsNil() {
			return domain.CheckRequest(m.ProtoReflect())
		}
	case reflect.Slice:
		if e.Len() > domain.DefaultBound.Items {
			return errs.Invalid("the body has %d elements, at most %d", e.Len(), domain.DefaultBound.Items)
		}
		for i := range e.Len() {
			if err := checkBounds(e.Index(i).Addr().Interface()); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewEncoder returns an Encoder that writes each value as Marshal does, followed by a
// newline.
func (m Marshaler) NewEncoder(w io.Writer) runtime.Encoder {
	return runtime.EncoderFunc(func(v any) error {
		b, err := m.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, m.Delimiter()...))
		return err
	})
}

// ContentType is always application/json.
func (Marshaler) ContentType(any) string { return "application/json" }

// Delimiter separates the messages of a streamed response: one JSON value per line.
func (Marshaler) Delimiter() []byte { return []byte("\n") }
