package rest

import (
	"bytes"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/photon-cloud/photon/gateway/api/photon/v1" // registers the API's messages
)

// requestTypes are the input messages of every photon.v1 method, in a fixed order.
func requestTypes(t testing.TB) []protoreflect.MessageType {
	seen := map[protoreflect.FullName]bool{}
	protoregistry.GlobalFiles.RangeFilesByPackage("photon.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			ms := f.Services().Get(i).Methods()
			for j := range ms.Len() {
				seen[ms.Get(j).Input().FullName()] = true
			}
		}
		return true
	})
	var names []protoreflect.FullName
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]protoreflect.MessageType, len(names))
	for i, n := range names {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(n)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = mt
	}
	return out
}

// FuzzDecodeRequest feeds any bytes to the REST request decoder, as the body of any
// method: it never panics, and what it accepts survives a round trip through the
// REST encoding unchanged.
//
// A longer run: go test -run '^$' -fuzz FuzzDecodeRequest -fuzztime 1m ./gateway/rest/
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"id":"x"}`, `{"spec":{"name":"vm","flavor":"small","count":3,"attachedDisks":[{"bootDisk":true}]}}`,
		`{"items":{"vm.count":{"unit":"COUNT","limit":1e308}}}`, `{"since":"9223372036854775807","pageSize":-1}`,
		`{"delta":{"principal":"a\\b","action":"ADD","role":"owner"}}`, `[{"principal":"x","roles":["viewer"]}]`,
		`{"spec":{"environment":{"k":"\u0000"}}}`, `{"metadata":{"metadata":{"":""}}}`, `nul`, `{"id":1}`,
	} {
		for i := range 8 {
			f.Add([]byte(seed), uint8(i*7))
		}
	}
	types := requestTypes(f)
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		msg := types[int(which)%len(types)].New().Interface()
		if err := (Marshaler{}).Unmarshal(body, msg); err != nil {
			return
		}
		out, err := (Marshaler{}).Marshal(msg)
		if err != nil {
			t.Fatalf("%T decoded from %q does not encode: %v", msg, body, err)
		}
		again := msg.ProtoReflect().Type().New().Interface()
		if err := (Marshaler{}).Unmarshal(out, again); err != nil {
			t.Fatalf("%T: %s does not decode back: %v", msg, out, err)
		}
		det := proto.MarshalOptions{Deterministic: true}
		a, _ := det.Marshal(msg)
		b, _ := det.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("%T changed in a round trip: %q → %s", msg, body, out)
		}
	})
}
