package devcloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/functions/reconcile"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// The orphan of the API (GET /v1/infrastructure/orphans).
type orphanJSON struct {
	ID          string `json:"id"`
	HostID      string `json:"hostId"`
	Type        string `json:"type"`
	Name        string `json:"name"`
	State       string `json:"state"`
	StateReason string `json:"stateReason"`
}

// TestDriftRepair: on a simulated host changed behind Photon's back through govmomi, the
// reconciler puts a destroyed VM in ERROR with its reason (keeping its reservation until
// its delete, which succeeds and frees it) and reports a VM made beside Photon as an
// orphan, removing it under the remove policy; VMs created meanwhile, with passes every
// few milliseconds, are never reported.
func TestDriftRepair(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{reconcile.PolicyReport, reconcile.PolicyRemove} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			c, cl := cloudWith(t, 1, func(o *devcloud.Options) {
				o.Reconcile = reconcile.Options{Every: 20 * time.Millisecond, Policy: policy}
			})
			heard := recordOutbound(t, c)
			f := setup(t, cl, 20)
			hostID := c.HostIDs[0]
			var ids []string
			for _, name := range []string{"web-1", "web-2", "web-3", "web-4"} {
				tk := cl.wait(cl.create("/v1/projects/"+f.project+"/vms", vmSpec(f, name)).ID)
				if tk.State != "COMPLETED" {
					t.Fatalf("create %s: %+v", name, tk.Steps)
				}
				ids = append(ids, tk.Entity.ID)
			}
			gone := ids[0]
			vs := newVsphere(t, c.Sims[0].URL)
			vs.destroyVM(gone)
			vs.createVM("intruder")

			var got vmJSON
			waitFor(t, "the destroyed VM in ERROR", func() bool {
				cl.do("GET", "/v1/vms/"+gone, nil, &got)
				return got.State == model.VMError
			})
			if got.StateReason != model.ReasonNotOnHost {
				t.Errorf("the VM gone from its host: %+v", got)
			}
			var orphans struct{ Items []orphanJSON }
			list := func() []orphanJSON {
				orphans.Items = nil
				cl.do("GET", "/v1/infrastructure/hosts/"+hostID+"/orphans", nil, &orphans)
				return orphans.Items
			}
			intruder := func(o orphanJSON) bool { return o.Name == "intruder" }
			if policy == reconcile.PolicyRemove {
				// Reported, then removed from the host; the next pass clears the report.
				waitFor(t, "the orphan removed from the host", func() bool { return !vs.hasVM("intruder") })
				changes := func() []string {
					var out []string
					for _, e := range heard.all() {
						if e.name == "intruder" {
							out = append(out, e.typ)
						}
					}
					return out
				}
				waitFor(t, "the removed orphan's report gone", func() bool { return !slices.ContainsFunc(list(), intruder) })
				want := []string{notify.TypeOf(model.KindOrphan, "created"), notify.TypeOf(model.KindOrphan, "removing"),
					notify.TypeOf(model.KindOrphan, "deleted")}
				waitFor(t, "the orphan's events", func() bool { return slices.Equal(changes(), want) })
			} else {
				waitFor(t, "the orphan listed", func() bool { return slices.ContainsFunc(list(), intruder) })
				for _, o := range orphans.Items {
					if !intruder(o) || o.Type != model.OrphanVM || o.HostID != hostID || o.StateReason == "" || o.State != model.OrphanReported {
						t.Errorf("orphan %+v: want only the intruder VM, with its reason", o)
					}
				}
				if !vs.hasVM("intruder") {
					t.Error("the report policy removed the orphan")
				}
			}
			if h := cl.getHost(hostID); h.Reserved.Vms != int64(len(ids)) {
				t.Errorf("the host has %d VMs reserved, want %d: the VM in ERROR keeps its reservation", h.Reserved.Vms, len(ids))
			}

			if tk := cl.wait(cl.deleteVM(gone).ID); tk.State != "COMPLETED" {
				t.Fatalf("delete of the VM gone from its host: %+v", tk.Steps)
			}
			if h := cl.getHost(hostID); h.Reserved.Vms != int64(len(ids)-1) {
				t.Errorf("after the delete the host has %d VMs reserved, want %d", h.Reserved.Vms, len(ids)-1)
			}

			// What users heard: vm.error for the VM gone only, orphan reports for no VM of
			// Photon's (those made while passes ran every 20ms included).
			waitFor(t, "io.photon.vm.error", func() bool {
				return slices.Contains(heard.all(), outboundEvent{notify.TypeOf(model.KindVM, "error"), gone, "web-1"})
			})
			for _, e := range heard.all() {
				switch e.typ {
				case notify.TypeOf(model.KindVM, "error"):
					if e.subject != gone {
						t.Errorf("io.photon.vm.error for %s", e.subject)
					}
				case notify.TypeOf(model.KindOrphan, "created"):
					if e.name != "intruder" {
						t.Errorf("orphan reported: %s", e.name)
					}
				}
			}
		})
	}
}

type vmJSON struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	StateReason string `json:"stateReason"`
}

type outboundEvent struct{ typ, subject, name string }

// outbound records the outbound events the notifier derives (notify.EventsStream) as they
// come: the notifier trims what its groups acknowledged, so a read after the fact may
// miss an event a slow test waits for.
type outbound struct {
	mu     sync.Mutex
	events []outboundEvent
}

// recordOutbound reads c's outbound events from the first until the test ends.
func recordOutbound(t *testing.T, c *devcloud.Cloud) *outbound {
	t.Helper()
	rdb, stream, o := storetest.Client(t), notify.EventsStream(c.Store.Prefix()), &outbound{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		last := "0"
		for {
			res, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, last}, Block: 200 * time.Millisecond}).Result()
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, redis.Nil):
				continue
			case err != nil:
				t.Errorf("read %s: %v", stream, err)
				return
			}
			for _, m := range res[0].Messages {
				last = m.ID
				raw, _ := m.Values["ce"].(string)
				var e cloudevents.Event
				if err := json.Unmarshal([]byte(raw), &e); err != nil {
					t.Errorf("outbound event %s: %v", m.ID, err)
					continue
				}
				var d notify.Data
				_ = e.DataAs(&d)
				o.mu.Lock()
				o.events = append(o.events, outboundEvent{typ: e.Type(), subject: e.Subject(), name: d.Name})
				o.mu.Unlock()
			}
		}
	}()
	return o
}

// all is every event recorded so far, in stream order.
func (o *outbound) all() []outboundEvent {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.events)
}

// destroyVM destroys the VM named name on the host behind Photon's back.
func (v *vsphere) destroyVM(name string) {
	v.t.Helper()
	vm, err := v.f.VirtualMachine(v.t.Context(), name)
	if err != nil {
		v.t.Fatal(err)
	}
	if task, err := vm.PowerOff(v.t.Context()); err == nil {
		_ = task.Wait(v.t.Context())
	}
	task, err := vm.Destroy(v.t.Context())
	if err == nil {
		err = task.Wait(v.t.Context())
	}
	if err != nil {
		v.t.Fatal(err)
	}
}

// createVM creates a VM named name on the host beside Photon.
func (v *vsphere) createVM(name string) {
	v.t.Helper()
	ctx := v.t.Context()
	folders, err := v.dc.Folders(ctx)
	if err != nil {
		v.t.Fatal(err)
	}
	pool, err := v.f.DefaultResourcePool(ctx)
	if err != nil {
		v.t.Fatal(err)
	}
	dss, err := v.f.DatastoreList(ctx, "*")
	if err != nil || len(dss) == 0 {
		v.t.Fatalf("datastores: %v", err)
	}
	task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{Name: name, GuestId: "otherGuest64", NumCPUs: 1,
		MemoryMB: 16, Files: &types.VirtualMachineFileInfo{VmPathName: "[" + dss[0].Name() + "]"}}, pool, nil)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		v.t.Fatal(err)
	}
}

func (v *vsphere) hasVM(name string) bool {
	_, err := v.f.VirtualMachine(v.t.Context(), name)
	return err == nil
}
