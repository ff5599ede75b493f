package notify_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/store"
)

func rec(t *testing.T, v any) []byte {
	t.Helper()
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDerive(t *testing.T) {
	t.Parallel()
	vm := func(state, task string) *store.VM {
		return &store.VM{ID: "vm1", Name: "web", TenantID: "t1", ProjectID: "p1", State: state, ActiveTask: task}
	}
	host := func(state, reason string, cpu int64) *store.Host {
		return &store.Host{ID: "h1", Name: "esx", State: state, StateReason: reason, Usage: store.HostUsage{CPUUsedMhz: cpu}}
	}
	task := func(state string) *store.Task {
		tk := &store.Task{ID: "task1", Operation: "STOP_VM", State: state, Entity: store.Entity{ID: "vm1", Kind: store.KindVM}, TenantID: "t1", ProjectID: "p1"}
		if state == store.TaskError {
			tk.Steps = []store.Step{{Operation: "poweroff", State: store.TaskError, Errors: []*errs.Error{errs.New(errs.CodeInternal, "boom")}}}
		}
		return tk
	}
	disk := func(state string, vms ...string) *store.PersistentDisk {
		return &store.PersistentDisk{ID: "d1", Name: "data", TenantID: "t1", ProjectID: "p1", State: state, VMs: vms}
	}
	cases := []struct {
		name     string
		kind, op string
		old, new any
		want     []string
		check    func(t *testing.T, d notify.Data, ext map[string]any)
	}{
		{"vm created", store.KindVM, store.OutboxCreate, nil, vm(store.VMCreating, "tc"), []string{"io.photon.vm.created"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.Name != "web" || d.State != store.VMCreating || ext["tenantid"] != "t1" || ext["projectid"] != "p1" || ext["taskid"] != "tc" {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"vm started", store.KindVM, store.OutboxUpdate, vm(store.VMCreating, "tc"), vm(store.VMStarted, ""), []string{"io.photon.vm.started"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.PreviousState != store.VMCreating || d.State != store.VMStarted || ext["taskid"] != "tc" {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"vm stopped", store.KindVM, store.OutboxUpdate, vm(store.VMStarted, "t2"), vm(store.VMStopped, "t2"), []string{"io.photon.vm.stopped"}, nil},
		{"vm suspended", store.KindVM, store.OutboxUpdate, vm(store.VMStarted, ""), vm(store.VMSuspended, ""), []string{"io.photon.vm.suspended"}, nil},
		{"vm error", store.KindVM, store.OutboxUpdate, vm(store.VMCreating, ""), vm(store.VMError, ""), []string{"io.photon.vm.error"}, nil},
		{"vm held by a task: no state change", store.KindVM, store.OutboxUpdate, vm(store.VMStarted, ""), vm(store.VMStarted, "t3"), nil, nil},
		{"vm deleted", store.KindVM, store.OutboxDelete, vm(store.VMDeleting, "t4"), nil, []string{"io.photon.vm.deleted"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.ProjectID != "p1" || ext["taskid"] != "t4" {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"task created completed", store.KindTask, store.OutboxCreate, nil, task(store.TaskCompleted), []string{"io.photon.task.completed"}, nil},
		{"task queued", store.KindTask, store.OutboxCreate, nil, task(store.TaskQueued), nil, nil},
		{"task started", store.KindTask, store.OutboxUpdate, task(store.TaskQueued), task(store.TaskStarted), nil, nil},
		{"task step progress", store.KindTask, store.OutboxUpdate, task(store.TaskStarted), task(store.TaskStarted), nil, nil},
		{"task completed", store.KindTask, store.OutboxUpdate, task(store.TaskStarted), task(store.TaskCompleted), []string{"io.photon.task.completed"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.Operation != "STOP_VM" || d.Entity == nil || d.Entity.ID != "vm1" || ext["taskid"] != "task1" || d.PreviousState != store.TaskStarted {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"task failed", store.KindTask, store.OutboxUpdate, task(store.TaskStarted), task(store.TaskError), []string{"io.photon.task.failed"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.Error == nil || d.Error.Message != "boom" {
					t.Errorf("data %+v", d)
				}
			}},
		{"quota set", store.KindTask, store.OutboxCreate, nil, &store.Task{ID: "tq", Operation: "SET_QUOTA", State: store.TaskCompleted,
			Entity: store.Entity{ID: "t1", Kind: store.KindTenant}, TenantID: "t1"}, []string{"io.photon.task.completed", "io.photon.quota.changed"}, nil},
		{"host joins", store.KindHost, store.OutboxCreate, nil, host(store.HostReady, "", 0), []string{"io.photon.host.created"}, nil},
		{"host heartbeat lost", store.KindHost, store.OutboxUpdate, host(store.HostReady, "", 1), host(store.HostError, store.ReasonMissedHeartbeats, 1), []string{"io.photon.host.error"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.StateReason != store.ReasonMissedHeartbeats {
					t.Errorf("data %+v", d)
				}
			}},
		{"host maintenance", store.KindHost, store.OutboxUpdate, host(store.HostReady, "", 1), host(store.HostMaintenance, "", 1), []string{"io.photon.host.maintenance"}, nil},
		{"host back", store.KindHost, store.OutboxUpdate, host(store.HostMaintenance, "", 1), host(store.HostReady, "", 1), []string{"io.photon.host.ready"}, nil},
		{"host usage only", store.KindHost, store.OutboxUpdate, host(store.HostReady, "", 1), host(store.HostReady, "", 2), nil, nil},
		{"disk attached", store.KindDisk, store.OutboxUpdate, disk(store.DiskDetached), disk(store.DiskAttached, "vm1"), []string{"io.photon.disk.attached"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.VMID != "vm1" {
					t.Errorf("data %+v", d)
				}
			}},
		{"disk detached", store.KindDisk, store.OutboxUpdate, disk(store.DiskAttached, "vm1"), disk(store.DiskDetached), []string{"io.photon.disk.detached"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.VMID != "vm1" {
					t.Errorf("data %+v", d)
				}
			}},
		{"disk created", store.KindDisk, store.OutboxCreate, nil, disk(store.DiskDetached), []string{"io.photon.disk.created"}, nil},
		{"tenant created", store.KindTenant, store.OutboxCreate, nil, &store.Tenant{ID: "t1", Name: "acme"}, []string{"io.photon.tenant.created"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.TenantID != "t1" || ext["tenantid"] != "t1" {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"project deleted", store.KindProject, store.OutboxDelete, &store.Project{ID: "p1", TenantID: "t1"}, nil, []string{"io.photon.project.deleted"}, nil},
		{"image ready", store.KindImage, store.OutboxUpdate, &store.Image{ID: "i1", State: store.ImageCreating}, &store.Image{ID: "i1", State: store.ImageReady}, []string{"io.photon.image.ready"}, nil},
		{"image deleted", store.KindImage, store.OutboxUpdate, &store.Image{ID: "i1", State: store.ImagePendingDelete}, &store.Image{ID: "i1", State: store.ImageDeleted}, []string{"io.photon.image.deleted"}, nil},
		{"router created", store.KindRouter, store.OutboxCreate, nil, &store.Router{ID: "r1", State: store.NetCreating}, []string{"io.photon.router.created"}, nil},
		{"subnet ready", store.KindSubnet, store.OutboxUpdate, &store.Subnet{ID: "s1", State: store.NetCreating}, &store.Subnet{ID: "s1", State: store.NetReady}, []string{"io.photon.subnet.ready"}, nil},
		{"zone deleted", store.KindZone, store.OutboxDelete, &store.Zone{ID: "z1", State: store.ZoneReady}, nil, []string{"io.photon.zone.deleted"}, nil},
		{"flavor created", store.KindFlavor, store.OutboxCreate, nil, &store.Flavor{ID: "f1", Name: "small"}, []string{"io.photon.flavor.created"}, nil},
	}
	catalogue := map[string]bool{}
	for _, et := range notify.Catalogue() {
		catalogue[et.Type] = true
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := notify.Change{ID: "1700000000000-3", Kind: tc.kind, Op: tc.op, EntityID: "x", Old: rec(t, tc.old), New: rec(t, tc.new)}
			var id string
			for _, v := range []any{tc.new, tc.old} {
				if b := rec(t, v); b != nil && id == "" {
					var r struct{ ID string }
					_ = json.Unmarshal(b, &r)
					id = r.ID
				}
			}
			c.EntityID = id
			evs, err := notify.Derive(c)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range evs {
				got = append(got, e.Type())
				if !catalogue[e.Type()] {
					t.Errorf("%s is not in the catalogue", e.Type())
				}
				if e.Subject() == "" || e.Source() != notify.Source || e.Time().UnixMilli() != 1700000000000 {
					t.Errorf("event attributes: %v", e)
				}
				if err := e.Validate(); err != nil {
					t.Error(err)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("types %q, want %q", got, tc.want)
			}
			again, _ := notify.Derive(c)
			for i := range evs {
				if again[i].ID() != evs[i].ID() {
					t.Fatalf("deriving again gave id %s, then %s", evs[i].ID(), again[i].ID())
				}
			}
			if tc.check != nil && len(evs) > 0 {
				var d notify.Data
				if err := json.Unmarshal(evs[0].Data(), &d); err != nil {
					t.Fatal(err)
				}
				tc.check(t, d, evs[0].Extensions())
			}
		})
	}
}
