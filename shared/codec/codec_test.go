package codec_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
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

// TestCompact: a compact record reads back as the value its JSON reads back as, keeps its
// state readable, is much smaller than its JSON, and what one read returned stays intact
// when the next read reuses the buffer.
func TestCompact(t *testing.T) {
	for name, v := range records() {
		t.Run(name, func(t *testing.T) {
			js, err := codec.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			c, err := codec.Compact(v, "STARTED")
			if err != nil {
				t.Fatal(err)
			}
			if !codec.IsCompact(c) || codec.IsCompact(js) {
				t.Fatalf("IsCompact: compact %v, JSON %v", codec.IsCompact(c), codec.IsCompact(js))
			}
			if st, ok := codec.State(c); !ok || st != "STARTED" {
				t.Fatalf("State = %q, %v", st, ok)
			}
			if _, ok := codec.State(js); ok {
				t.Fatal("State of JSON reported one")
			}
			want := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := json.Unmarshal(js, want); err != nil {
				t.Fatal(err)
			}
			got := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := codec.Unmarshal(c, got); err != nil {
				t.Fatal(err)
			}
			// Another read reuses the buffer the first decompressed into.
			for range 3 {
				other := reflect.New(reflect.TypeOf(v).Elem()).Interface()
				if err := codec.Unmarshal(c, other); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("compact read %+v, JSON %+v", got, want)
			}
			back, release, err := codec.JSON(c)
			if err != nil {
				t.Fatal(err)
			}
			if string(back) != string(js) {
				t.Fatalf("JSON of the compact record\n%s\nwant\n%s", back, js)
			}
			release()
			t.Logf("%s: JSON %d bytes, compact %d", name, len(js), len(c))
		})
	}
}

// TestCompactSize: typical records of the VM chains take a fraction of their JSON.
func TestCompactSize(t *testing.T) {
	vm := &model.VM{ID: "66d6a49d-439d-4d4d-a520-3d8c10fde034", Name: "web-690", TenantID: "0e928226-2c5a-469e-98d1-7022980375ad",
		ProjectID: "9eb1b073-35ab-4633-944e-8ccf73edd4c7", FlavorID: "7df82555-1de8-4ffc-806d-a6ed7f78fed5", Flavor: "tiny",
		SourceImageID: "d504771f-ec7a-4d3b-8ae5-57562bd8c40d", CPU: 1, MemoryMB: 32, State: model.VMStarted,
		Disks: []model.Disk{{ID: "4febc180-277d-4aa2-868c-013b1e04de08", Name: "boot", Kind: "ephemeral-disk", Flavor: "disk", FlavorID: "2f4f9799-b2f6-4468-9b83-accf88b25547", Boot: true, State: "ATTACHED"},
			{ID: "240cca6b-5b91-4e56-bd15-01d09844fcb1", Name: "data", Kind: "ephemeral-disk", Flavor: "disk", FlavorID: "2f4f9799-b2f6-4468-9b83-accf88b25547", CapacityGB: 1, State: "ATTACHED"}},
		Nics:    []model.Nic{{ID: "nic-0", Network: "VM Network", MAC: "00:50:56:38:17:0d"}},
		Cost:    []model.QuotaLineItem{{Key: "ephemeral-disk", Value: 2, Unit: "COUNT"}, {Key: "vm.count", Value: 1, Unit: "COUNT"}, {Key: "vm.memory", Value: 0.03125, Unit: "GB"}},
		PowerOn: true, HostID: "01b1992c-7760-4086-9b4c-178502747e03", Datastore: "LocalDS_0", CreatedAt: 1796390277179}
	task := &model.Task{ID: "2f44eb0b-9138-48ff-b3be-9c1b6bf4455e", Operation: "CREATE_VM", State: model.TaskCompleted,
		Entity: model.Entity{ID: vm.ID, Kind: model.KindVM}, TenantID: vm.TenantID, ProjectID: vm.ProjectID,
		Caller: model.Caller{Subject: "admin", Groups: []string{`photon\Administrators`}}, QueuedTime: 1796390277198, StartedTime: 1796390277216, EndTime: 1796390277653}
	for i, op := range []string{"AUTHORIZE", "RESERVE_QUOTA", "PLACE_VM", "CREATE_VM_ON_HOST", "ATTACH_DISKS", "CONNECT_NETWORKS", "START_VM"} {
		task.Steps = append(task.Steps, model.Step{Operation: op, State: model.TaskCompleted, Sequence: i, QueuedTime: 1796390277198,
			StartedTime: 1796390277216 + int64(60*i), EndTime: 1796390277263 + int64(61*i)})
	}
	for _, tc := range []struct {
		name  string
		v     any
		state string
		max   int
	}{{"vm", vm, vm.State, 360}, {"task", task, task.State, 240}} {
		js, _ := codec.Marshal(tc.v)
		c, err := codec.Compact(tc.v, tc.state)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: JSON %d bytes, compact %d", tc.name, len(js), len(c))
		if len(c) > tc.max {
			t.Errorf("%s: compact %d bytes (JSON %d), want at most %d", tc.name, len(c), len(js), tc.max)
		}
	}
}

// TestCompactErrors: a damaged compact record is an error, never a wrong value.
func TestCompactErrors(t *testing.T) {
	good, err := codec.Compact(records()["vm"], "STARTED")
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"no header end": {0, 'S', 'T'},
		"no frame":      []byte("\x00STARTED\x00"),
		"truncated":     good[:len(good)-5],
		"not zstd":      []byte("\x00STARTED\x00{\"id\":\"a\"}"),
	} {
		var v model.VM
		if err := codec.Unmarshal(in, &v); err == nil {
			t.Errorf("%s: read %+v, want an error", name, v)
		}
	}
	if _, err := codec.Compact(records()["vm"], "A\x00B"); err == nil {
		t.Error("a state with a NUL byte was taken")
	}
}

// TestDictionaryUnchanged: records written with dictionary 1 must stay readable, so it
// never changes; a new dictionary takes the next ID.
func TestDictionaryUnchanged(t *testing.T) {
	dict, err := os.ReadFile("dict1.txt") // embedded as dictionary 1
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(dict)
	if got := hex.EncodeToString(sum[:]); got != "bfa40f78ef8017ac9a474138d5b3d902624daf8998cf688f680b451c792e8775" {
		t.Fatalf("dictionary 1 changed (sha256 %s): records written with it would no longer read", got)
	}
}

func BenchmarkCompactVM(b *testing.B) {
	v := records()["vm"]
	c, err := codec.Compact(v, "STARTED")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Compact(v, "STARTED"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var vm model.VM
			if err := codec.Unmarshal(c, &vm); err != nil {
				b.Fatal(err)
			}
		}
	})
}
