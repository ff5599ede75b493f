package rest

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/apipb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/sourcecontextpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/typepb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	photonv1 "github.com/photon-cloud/photon/gateway/api/photon/v1"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
)

// kindsProto declares a message with every kind of field the walker handles.
const kindsProto = `
name: "rest_test.proto" package: "rest.test" syntax: "proto3"
dependency: "google/protobuf/wrappers.proto" dependency: "google/protobuf/timestamp.proto"
enum_type { name: "Color" value { name: "COLOR_UNSPECIFIED" number: 0 } value { name: "RED" number: 1 } }
message_type {
  name: "Kinds"
  field { name: "i64" number: 1 type: TYPE_INT64 label: LABEL_OPTIONAL }
  field { name: "u64" number: 2 type: TYPE_UINT64 label: LABEL_OPTIONAL }
  field { name: "s64" number: 3 type: TYPE_SINT64 label: LABEL_OPTIONAL }
  field { name: "f64" number: 4 type: TYPE_FIXED64 label: LABEL_OPTIONAL }
  field { name: "sf64" number: 5 type: TYPE_SFIXED64 label: LABEL_OPTIONAL }
  field { name: "i32" number: 6 type: TYPE_INT32 label: LABEL_OPTIONAL }
  field { name: "u32" number: 7 type: TYPE_UINT32 label: LABEL_OPTIONAL }
  field { name: "d" number: 8 type: TYPE_DOUBLE label: LABEL_OPTIONAL }
  field { name: "f" number: 9 type: TYPE_FLOAT label: LABEL_OPTIONAL }
  field { name: "b" number: 10 type: TYPE_BOOL label: LABEL_OPTIONAL }
  field { name: "s" number: 11 type: TYPE_STRING label: LABEL_OPTIONAL }
  field { name: "by" number: 12 type: TYPE_BYTES label: LABEL_OPTIONAL }
  field { name: "color" number: 13 type: TYPE_ENUM type_name: ".rest.test.Color" label: LABEL_OPTIONAL }
  field { name: "opt_size" number: 14 type: TYPE_INT64 label: LABEL_OPTIONAL proto3_optional: true oneof_index: 1 }
  field { name: "list" number: 15 type: TYPE_INT64 label: LABEL_REPEATED }
  field { name: "by_id" number: 16 type: TYPE_MESSAGE type_name: ".rest.test.Kinds.ByIdEntry" label: LABEL_REPEATED }
  field { name: "by_bool" number: 17 type: TYPE_MESSAGE type_name: ".rest.test.Kinds.ByBoolEntry" label: LABEL_REPEATED }
  field { name: "child" number: 18 type: TYPE_MESSAGE type_name: ".rest.test.Kinds" label: LABEL_OPTIONAL }
  field { name: "name" number: 19 type: TYPE_STRING label: LABEL_OPTIONAL oneof_index: 0 }
  field { name: "number" number: 20 type: TYPE_INT64 label: LABEL_OPTIONAL oneof_index: 0 }
  field { name: "wrapped" number: 21 type: TYPE_MESSAGE type_name: ".google.protobuf.Int64Value" label: LABEL_OPTIONAL }
  field { name: "at" number: 22 type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" label: LABEL_OPTIONAL }
  field { name: "colors" number: 23 type: TYPE_ENUM type_name: ".rest.test.Color" label: LABEL_REPEATED }
  nested_type { name: "ByIdEntry" options { map_entry: true }
    field { name: "key" number: 1 type: TYPE_INT64 label: LABEL_OPTIONAL }
    field { name: "value" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL } }
  nested_type { name: "ByBoolEntry" options { map_entry: true }
    field { name: "key" number: 1 type: TYPE_BOOL label: LABEL_OPTIONAL }
    field { name: "value" number: 2 type: TYPE_INT64 label: LABEL_OPTIONAL } }
  oneof_decl { name: "choice" }
  oneof_decl { name: "_opt_size" }
}`

func kindsDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	var fdp descriptorpb.FileDescriptorProto
	if err := prototext.Unmarshal([]byte(kindsProto), &fdp); err != nil {
		t.Fatal(err)
	}
	fd, err := protodesc.NewFile(&fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().ByName("Kinds")
}

// kinds builds a Kinds message from protojson text, so the test reads like the JSON.
func kinds(t *testing.T, md protoreflect.MessageDescriptor, js string) proto.Message {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("build Kinds from %s: %v", js, err)
	}
	return m
}

func TestMarshalKinds(t *testing.T) {
	t.Parallel()
	md := kindsDescriptor(t)
	tests := []struct {
		name string
		in   string // protojson input
		want string // exact output
	}{
		{"empty", `{}`, `{}`},
		{"zero scalars are left out", `{"i64":"0","s":"","b":false,"color":"COLOR_UNSPECIFIED","list":[]}`, `{}`},
		{"64-bit kinds are numbers",
			`{"i64":"-9007199254740993","u64":"18446744073709551615","s64":"-5","f64":"7","sf64":"-8"}`,
			`{"i64":-9007199254740993,"u64":18446744073709551615,"s64":-5,"f64":7,"sf64":-8}`},
		{"32-bit, floats, bool, string, bytes, enum",
			`{"i32":-1,"u32":4294967295,"d":0.1,"f":1.5,"b":true,"s":"a<b>&\"\n\u0001é","by":"AAH/","color":"RED","colors":["RED",0,7]}`,
			`{"i32":-1,"u32":4294967295,"d":0.1,"f":1.5,"b":true,"s":"a<b>&\"\n\u0001é","by":"AAH/","color":"RED","colors":["RED","COLOR_UNSPECIFIED",7]}`},
		{"float specials", `{"d":"NaN","f":"-Infinity"}`, `{"d":"NaN","f":"-Infinity"}`},
		{"large and small doubles", `{"d":1e21}`, `{"d":1e+21}`},
		{"optional scalar set to zero is written", `{"optSize":"0"}`, `{"optSize":0}`},
		{"oneof member set to zero is written", `{"number":"0"}`, `{"number":0}`},
		{"oneof string", `{"name":"x"}`, `{"name":"x"}`},
		{"repeated int64", `{"list":["1","-2","3"]}`, `{"list":[1,-2,3]}`},
		{"maps sorted by key value", `{"byId":{"10":"ten","-1":"minus","2":"two"},"byBool":{"true":"1","false":"0"}}`,
			`{"byId":{"-1":"minus","2":"two","10":"ten"},"byBool":{"false":0,"true":1}}`},
		{"empty child message is written", `{"child":{}}`, `{"child":{}}`},
		{"nested child", `{"child":{"i64":"5","child":{"list":["6"]}}}`, `{"child":{"i64":5,"child":{"list":[6]}}}`},
		{"Int64Value is a number", `{"wrapped":"42"}`, `{"wrapped":42}`},
		{"Int64Value zero", `{"wrapped":"0"}`, `{"wrapped":0}`},
		{"Timestamp as RFC 3339", `{"at":"2026-03-01T12:00:00.500Z"}`, `{"at":"2026-03-01T12:00:00.500Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := kinds(t, md, tt.in)
			got, err := Marshaler{}.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal =\n %s\nwant\n %s", got, tt.want)
			}
			// protojson reads our output back to the same message.
			back := dynamicpb.NewMessage(md)
			if err := protojson.Unmarshal(got, back); err != nil {
				t.Fatalf("protojson cannot read %s: %v", got, err)
			}
			if !proto.Equal(back, m) {
				t.Errorf("round trip changed the message:\n got %v\nwant %v", back, m)
			}
		})
	}
}

func TestMarshalInvalidUTF8(t *testing.T) {
	t.Parallel()
	// A dynamic message skips the UTF-8 check a generated setter would not do either.
	m := dynamicpb.NewMessage(kindsDescriptor(t))
	m.Set(m.Descriptor().Fields().ByName("s"), protoreflect.ValueOfString("\xff"))
	if b, err := (Marshaler{}).Marshal(m); err == nil {
		t.Errorf("Marshal accepted invalid UTF-8: %s", b)
	}
}

// sdkResources has the shape a Go client would declare for hostd's Resources.
type sdkResources struct {
	HostName     string `json:"hostName"`
	CPUCores     int32  `json:"cpuCores"`
	CPUMhz       int64  `json:"cpuMhz"`
	MemoryMb     int64  `json:"memoryMb"`
	CPUUsedMhz   int64  `json:"cpuUsedMhz"`
	MemoryUsedMb int64  `json:"memoryUsedMb"`
	Datastores   []struct {
		Name          string   `json:"name"`
		Type          string   `json:"type"`
		CapacityBytes int64    `json:"capacityBytes"`
		FreeBytes     int64    `json:"freeBytes"`
		Images        []string `json:"images"`
	} `json:"datastores"`
	Networks []string `json:"networks"`
	VMCount  int32    `json:"vmCount"`
}

// sdkTask is the SDK's Task, reduced to its int64 and nested fields.
type sdkTask struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	QueuedTime  int64  `json:"queuedTime"`
	StartedTime int64  `json:"startedTime"`
	EndTime     int64  `json:"endTime"`
	Entity      struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	} `json:"entity"`
	Steps []struct {
		Operation  string `json:"operation"`
		QueuedTime int64  `json:"queuedTime"`
		Sequence   int    `json:"sequence"`
		Errors     []struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Data    map[string]string `json:"data"`
		} `json:"errors"`
	} `json:"steps"`
	ResourceProperties map[string]any `json:"resourceProperties"` // interface{} in the SDK
}

func TestMarshalDecodesIntoInt64Structs(t *testing.T) {
	t.Parallel()
	t.Run("hostd Resources", func(t *testing.T) {
		t.Parallel()
		in := &hostdv1.Resources{
			HostName: "esx-1", CpuCores: 16, CpuMhz: 2_400_000, MemoryMb: 1 << 40, CpuUsedMhz: 1, MemoryUsedMb: 3,
			Datastores: []*hostdv1.Datastore{
				{Name: "ds1", Type: "VMFS", CapacityBytes: 9_007_199_254_740_993, FreeBytes: 1 << 50, Images: []string{"images/a.vmdk"}},
				{Name: "ds2"},
			},
			Networks: []string{"VM Network"},
			VmCount:  2,
		}
		b, err := Marshaler{}.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var got sdkResources
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("encoding/json cannot decode %s: %v", b, err)
		}
		if got.MemoryMb != in.MemoryMb || got.CPUMhz != in.CpuMhz || len(got.Datastores) != 2 ||
			got.Datastores[0].CapacityBytes != in.Datastores[0].CapacityBytes || got.Datastores[0].FreeBytes != 1<<50 ||
			got.VMCount != 2 || got.Networks[0] != "VM Network" {
			t.Errorf("decoded %+v from %s", got, b)
		}
		// protojson itself would have broken this client.
		pj, _ := protojson.Marshal(in)
		if err := json.Unmarshal(pj, &got); err == nil {
			t.Error("protojson output decoded into int64 fields: the test proves nothing")
		}
	})
	t.Run("photon Task", func(t *testing.T) {
		t.Parallel()
		in := &photonv1.Task{
			Id: "t1", State: "ERROR", QueuedTime: 1_700_000_000_123, StartedTime: 1_700_000_000_200,
			Entity: &photonv1.Entity{Id: "vm1", Kind: "vm"},
			Steps: []*photonv1.Step{{Operation: "PLACE", QueuedTime: 1_700_000_000_124, Sequence: 3,
				Errors: []*photonv1.ApiError{{Code: "NotEnoughCpuResource", Message: "no host", Data: map[string]string{"z": "1", "a": "2"}}}}},
			ResourceProperties: mustStruct(t, map[string]any{"b": "2", "a": "1",
				"networkConnections": []any{map[string]any{"network": "n1", "isConnected": true}}}),
		}
		b, err := Marshaler{}.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		const want = `{"id":"t1","state":"ERROR","startedTime":1700000000200,"queuedTime":1700000000123,` +
			`"entity":{"id":"vm1","kind":"vm"},"steps":[{"operation":"PLACE","queuedTime":1700000000124,"sequence":3,` +
			`"errors":[{"code":"NotEnoughCpuResource","message":"no host","data":{"a":"2","z":"1"}}]}],` +
			`"resourceProperties":{"a":"1","b":"2","networkConnections":[{"isConnected":true,"network":"n1"}]}}`
		if string(b) != want {
			t.Errorf("Marshal =\n %s\nwant\n %s", b, want)
		}
		var got sdkTask
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		conns, _ := got.ResourceProperties["networkConnections"].([]any) // as Photon's CLI reads it
		if got.QueuedTime != in.QueuedTime || got.Steps[0].QueuedTime != 1_700_000_000_124 || got.Steps[0].Errors[0].Data["z"] != "1" ||
			len(conns) != 1 || got.ResourceProperties["a"] != "1" {
			t.Errorf("decoded %+v", got)
		}
	})
}

// TestMarshalMatchesProtojson: where there is no 64-bit integer, the output means what
// protojson's means, and protojson reads it back to an equal message.
func TestMarshalMatchesProtojson(t *testing.T) {
	t.Parallel()
	anyOpt, err := anypb.New(wrapperspb.String("v"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := structpb.NewStruct(map[string]any{"a": 1.5, "b": []any{"x", true, nil}, "c": map[string]any{"d": "e"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		m    proto.Message
	}{
		{"hostd VmInfo", &hostdv1.VmInfo{VmId: "v", Name: "n", PowerState: "poweredOn",
			Nics: []*hostdv1.NicInfo{{Id: "1", Network: "net", MacAddress: "00:50:56:00:00:01"}}, Datastore: "ds"}},
		{"typepb Type with enums, Any and nesting", &typepb.Type{
			Name: "T", Syntax: typepb.Syntax_SYNTAX_PROTO3, Oneofs: []string{"o"},
			Fields: []*typepb.Field{
				{Kind: typepb.Field_TYPE_STRING, Cardinality: typepb.Field_CARDINALITY_REPEATED, Number: 1, Name: "f", JsonName: "f", Packed: true},
				{Kind: typepb.Field_TYPE_INT64, Number: 2, Name: "g"},
			},
			Options:       []*typepb.Option{{Name: "opt", Value: anyOpt}},
			SourceContext: &sourcecontextpb.SourceContext{FileName: "x.proto"},
		}},
		{"apipb Api", &apipb.Api{Name: "A", Version: "v1", Methods: []*apipb.Method{{Name: "M", RequestStreaming: true}},
			Mixins: []*apipb.Mixin{{Name: "B", Root: "/b"}}}},
		{"Struct", st},
		{"Value", structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(2), structpb.NewNullValue()}})},
		{"Timestamp", timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC))},
		{"Duration", durationpb.New(90 * time.Second)},
		{"FieldMask", &fieldmaskpb.FieldMask{Paths: []string{"a.b_c", "d"}}},
		{"Empty message", &hostdv1.GetResourcesRequest{}},
		{"wrapped string", wrapperspb.String("s")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ours, err := Marshaler{}.Marshal(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := protojson.Marshal(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			if err := json.Unmarshal(ours, &a); err != nil {
				t.Fatalf("our output is not JSON: %s", ours)
			}
			if err := json.Unmarshal(theirs, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("ours   %s\nprotojson %s", ours, theirs)
			}
			back := tt.m.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(ours, back); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(back, tt.m) {
				t.Errorf("round trip: got %v, want %v", back, tt.m)
			}
		})
	}
}

func TestMarshalNonProto(t *testing.T) {
	t.Parallel()
	task := &photonv1.Task{Id: "t", QueuedTime: 12}
	var nilTask *photonv1.Task
	notFound := status.Convert(errs.NotFound("Vm", "v1")).Proto()
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"nil", nil, `null`},
		{"typed nil message", nilTask, `null`},
		{"stream chunk", map[string]any{"result": task}, `{"result":{"id":"t","queuedTime":12}}`},
		{"stream error chunk is an ApiError", map[string]proto.Message{"error": notFound},
			`{"error":{"code":"NotFound","message":"Vm #v1 not found","data":{"id":"v1","kind":"Vm"}}}`},
		{"slice of messages", []*photonv1.Task{task, task}, `[{"id":"t","queuedTime":12},{"id":"t","queuedTime":12}]`},
		{"sorted map", map[string]int{"b": 2, "a": 1}, `{"a":1,"b":2}`},
		{"string", "x", `"x"`},
		{"int64", int64(1) << 60, `1152921504606846976`},
		{"bytes", []byte{0, 1}, `"AAE="`},
		{"struct", struct {
			A int64 `json:"a"`
		}{3}, `{"a":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Marshaler{}.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal(%#v) = %s, want %s", tt.v, got, tt.want)
			}
		})
	}
}

func TestMarshalDeterministic(t *testing.T) {
	t.Parallel()
	props := map[string]any{}
	for _, k := range strings.Fields("q w e r t y u i o p a s d f g h j k l z x c v b n m") {
		props[k] = k
	}
	m := &photonv1.Task{Id: "t", ResourceProperties: mustStruct(t, props)}
	first, err := Marshaler{}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, _ := Marshaler{}.Marshal(proto.Clone(m))
		if !bytes.Equal(first, again) {
			t.Fatalf("output changed:\n%s\n%s", first, again)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		want    *hostdv1.CreateVmRequest
		wantErr bool
	}{
		{"int64 as number", `{"vmId":"v","memoryMb":4096}`, &hostdv1.CreateVmRequest{VmId: "v", MemoryMb: 4096}, false},
		{"int64 as string", `{"vmId":"v","memoryMb":"9007199254740993"}`, &hostdv1.CreateVmRequest{VmId: "v", MemoryMb: 9_007_199_254_740_993}, false},
		{"proto field names", `{"vm_id":"v","cpu_count":2}`, &hostdv1.CreateVmRequest{VmId: "v", CpuCount: 2}, false},
		{"unknown fields ignored", `{"vmId":"v","bogus":1,"portGroups":["a"],"deep":{"x":[null,{}]}}`, &hostdv1.CreateVmRequest{VmId: "v"}, false},
		{"wrong type", `{"memoryMb":"lots"}`, nil, true},
		{"wrong type beside an unknown field", `{"bogus":1,"cpuCount":"two"}`, nil, true},
		{"unknown field that is not JSON", `{"vmId":"v","bogus":}`, nil, true},
		{"not JSON", `{"vmId":`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got hostdv1.CreateVmRequest
			err := Marshaler{}.Unmarshal([]byte(tt.body), &got)
			var dec hostdv1.CreateVmRequest
			derr := Marshaler{}.NewDecoder(strings.NewReader(tt.body)).Decode(&dec)
			if (err != nil) != tt.wantErr || (derr != nil) != tt.wantErr {
				t.Fatalf("Unmarshal error = %v, Decode error = %v; want error %v", err, derr, tt.wantErr)
			}
			if !tt.wantErr && (!proto.Equal(&got, tt.want) || !proto.Equal(&dec, tt.want)) {
				t.Errorf("Unmarshal = %v, Decode = %v; want %v", &got, &dec, tt.want)
			}
		})
	}
}

func TestEncoder(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := Marshaler{}.NewEncoder(&buf)
	for _, v := range []any{&photonv1.Task{Id: "a", EndTime: 1}, map[string]any{"x": math.MaxInt64}} {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	if want := "{\"id\":\"a\",\"endTime\":1}\n{\"x\":9223372036854775807}\n"; buf.String() != want {
		t.Errorf("encoded %q, want %q", buf.String(), want)
	}
	if ct := (Marshaler{}).ContentType(nil); ct != "application/json" {
		t.Errorf("ContentType = %q", ct)
	}
}

func mustStruct(t *testing.T, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMarshalListItems: a list answer has its items even when empty, as Photon's
// ResourceList had; other empty lists are left out.
func TestMarshalListItems(t *testing.T) {
	cases := []struct {
		name string
		msg  proto.Message
		want string
	}{
		{"empty list", &photonv1.VmList{}, `{"items":[]}`},
		{"empty list with its link", &photonv1.VmList{NextPageLink: "/v1/x?pageLink=1"}, `{"items":[],"nextPageLink":"/v1/x?pageLink=1"}`},
		{"list with an item", &photonv1.VmList{Items: []*photonv1.Vm{{Id: "v"}}}, `{"items":[{"id":"v"}]}`},
		{"another empty list left out", &photonv1.Vm{Id: "v"}, `{"id":"v"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Marshaler{}.Marshal(tc.msg)
			if err != nil || string(got) != tc.want {
				t.Errorf("Marshal = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}
