package codec_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/model"
)

// records are values of the kinds the store keeps, with what tells encoders apart: HTML
// and control characters, non-ASCII text, fractions, large integers, maps (written in key
// order), empty and nil slices, omitted fields, bytes.
func records() map[string]any {
	return map[string]any{
		"vm": &model.VM{ID: "8c615fb5-7579-40de-a05d-209b4fa23c46", Name: "web <1> & \"two\"\t\u00e9\u2028", TenantID: "t1", ProjectID: "p1",
			CPU: 1, MemoryMB: 32, State: model.VMStarted, HostID: "h1", CreatedAt: 1796381196355,
			Disks: []model.Disk{{ID: "d1", Name: "boot", Kind: "ephemeral-disk", CapacityGB: 0, Boot: true}},
			Cost:  []model.QuotaLineItem{{Key: "vm.memory", Value: 0.03125, Unit: "GB"}, {Key: "vm.cpu", Value: 1e21, Unit: "COUNT"}}},
		"task": &model.Task{ID: "t", Operation: "CREATE_VM", State: model.TaskQueued, Entity: model.Entity{ID: "v", Kind: model.KindVM},
			Caller: model.Caller{Subject: "admin", Groups: []string{`photon\Administrators`}}, QueuedTime: 1,
			Steps:      []model.Step{{Operation: "AUTHORIZE", State: "QUEUED"}},
			Properties: map[string]string{"z": "1", "a": "2", "m": "<3>"}, ParkedUndo: []byte{0, 1, 2, 255}},
		"host":  &model.Host{ID: "h", Address: "10.0.0.1:8835", Tags: []string{}, Usage: model.HostUsage{VMPower: map[string]string{"b": "on", "a": "off"}}},
		"empty": &model.VM{},
	}
}

// TestSameAsEncodingJSON: the codec writes the bytes encoding/json writes, and reads back
// the value encoding/json reads, from its own bytes and from encoding/json's with fields
// this version does not know.
func TestSameAsEncodingJSON(t *testing.T) {
	for name, v := range records() {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := codec.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("codec wrote\n%s\nencoding/json\n%s", got, want)
			}
			var generic map[string]any
			if err := json.Unmarshal(want, &generic); err != nil {
				t.Fatal(err)
			}
			generic["fieldOfALaterVersion"] = map[string]any{"x": []any{1, "y", nil}}
			withUnknown, err := json.Marshal(generic)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range [][]byte{want, withUnknown} {
				a, b := reflect.New(reflect.TypeOf(v).Elem()).Interface(), reflect.New(reflect.TypeOf(v).Elem()).Interface()
				if err := json.Unmarshal(in, a); err != nil {
					t.Fatal(err)
				}
				if err := codec.Unmarshal(in, b); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("from %s codec read %+v, encoding/json %+v", in, b, a)
				}
			}
		})
	}
}

// TestErrors: what encoding/json refuses, the codec refuses.
func TestErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"id":1}`, `{"cpu":"1"}`, `[]`, `{"id":"a"} x`, `{"disks":{}}`} {
		var a, b model.VM
		errA, errB := json.Unmarshal([]byte(in), &a), codec.Unmarshal([]byte(in), &b)
		if (errA == nil) != (errB == nil) {
			t.Errorf("%q: codec %v, encoding/json %v", in, errB, errA)
		}
	}
}

func BenchmarkUnmarshalVM(b *testing.B) {
	raw, err := json.Marshal(records()["vm"])
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		fn   func([]byte, any) error
	}{{"encoding-json", json.Unmarshal}, {"codec", codec.Unmarshal}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var v model.VM
				if err := bc.fn(raw, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
