package hostdsim

import (
	"fmt"
	"sync"
	"testing"

	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
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
