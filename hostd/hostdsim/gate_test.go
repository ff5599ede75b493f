package hostdsim

import (
	"fmt"
	"sync"
	"testing"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// TestCreateWhileRead: VMs created while another session reads every VM's name and power
// state, as hostd's heartbeat usage does, are each read whole or not at all (under -race,
// the reads and vcsim's creation goroutine never meet), and all get created.
func TestCreateWhileRead(t *testing.T) {
	t.Parallel()
	s, err := StartWith(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const creates = 4
	for _, tc := range []struct {
		name    string
		readers int
	}{{"one reader", 1}, {"two readers", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			v, r := newVsphere(t, s), newVsphere(t, s)
			ctx := t.Context()
			vw, err := view.NewManager(r.c.Client).CreateContainerView(ctx, r.c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			var wg, reading sync.WaitGroup
			reading.Add(tc.readers)
			for range tc.readers {
				wg.Go(func() {
					first := true
					for {
						select {
						case <-done:
							return
						default:
						}
						var vms []mo.VirtualMachine
						if err := vw.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "runtime.powerState"}, &vms); err != nil {
							t.Error(err)
							return
						}
						for _, vm := range vms {
							if vm.Name == "" {
								t.Errorf("VM %s read without its name", vm.Self.Value)
							}
						}
						if first {
							first = false
							reading.Done()
						}
					}
				})
			}
			reading.Wait() // the creates start with every reader reading
			for j := range creates {
				v.mustCreate(t, fmt.Sprintf("%s-%d", tc.name, j), nil)
			}
			close(done)
			wg.Wait()
			var vms []mo.VirtualMachine
			if err := vw.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, vm := range vms {
				if len(vm.Name) > len(tc.name) && vm.Name[:len(tc.name)] == tc.name {
					n++
				}
			}
			if n != creates {
				t.Fatalf("%d of %d VMs created", n, creates)
			}
		})
	}
}

// TestFilterWhileDestroy: a client that gives up on a collector while its CreateFilter is
// still on the wire (a wait cancelled, then its deferred Destroy) sends the two at once.
// vcsim's collectors take no lock of their own for their filter list; under -race the gate
// keeps the two apart, and the collector is gone after its Destroy either way.
func TestFilterWhileDestroy(t *testing.T) {
	t.Parallel()
	s, err := StartWith(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c := newVsphere(t, s).c.Client
	ctx := t.Context()
	spec := types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{Obj: c.ServiceContent.RootFolder}},
		PropSet:   []types.PropertySpec{{Type: "Folder", PathSet: []string{"name"}}},
	}
	for _, first := range []string{"create filter", "destroy"} {
		t.Run(first+" sent first", func(t *testing.T) {
			for range 200 {
				pc, err := property.DefaultCollector(c).Create(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ref := pc.Reference() // Destroy clears it
				var wg sync.WaitGroup
				create := func() { _, _ = methods.CreateFilter(ctx, c, &types.CreateFilter{This: ref, Spec: spec}) }
				destroy := func() {
					if err := pc.Destroy(ctx); err != nil {
						t.Error(err)
					}
				}
				if first == "destroy" {
					create, destroy = destroy, create
				}
				wg.Go(create)
				wg.Go(destroy)
				wg.Wait()
				if _, err := methods.CreateFilter(ctx, c, &types.CreateFilter{This: ref, Spec: spec}); err == nil {
					t.Fatalf("collector %s still takes filters after its Destroy", ref.Value)
				}
			}
		})
	}
}
