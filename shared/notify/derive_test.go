package notify_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
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
	vm := func(state, task string) *model.VM {
		return &model.VM{ID: "vm1", Name: "web", TenantID: "t1", ProjectID: "p1", State: state, ActiveTask: task}
	}
	host := func(state, reason string, cpu int64) *model.Host {
		return &model.Host{ID: "h1", Name: "esx", State: state, StateReason: reason, Usage: model.HostUsage{CPUUsedMhz: cpu}}
	}
	task := func(state string) *model.Task {
		tk := &model.Task{ID: "task1", Operation: "STOP_VM", State: state, Entity: model.Entity{ID: "vm1", Kind: model.KindVM}, TenantID: "t1", ProjectID: "p1"}
		if state == model.TaskError {
			tk.Steps = []model.Step{{Operation: "poweroff", State: model.TaskError, Errors: []*errs.Error{errs.New(errs.CodeInternal, "boom")}}}
		}
		return tk
	}
	disk := func(state string, vms ...string) *model.PersistentDisk {
		return &model.PersistentDisk{ID: "d1", Name: "data", TenantID: "t1", ProjectID: "p1", State: state, VMs: vms}
	}
	cases := []struct {
		name     string
		kind, op string
		old, new any
		want     []string
		check    func(t *testing.T, d notify.Data, ext map[string]any)
	}{
		{"vm created", model.KindVM, store.OutboxCreate, nil, vm(model.VMCreating, "tc"), []string{"io.photon.vm.created"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.Name != "web" || d.State != model.VMCreating || ext["tenantid"] != "t1" || ext["projectid"] != "p1" || ext["taskid"] != "tc" {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"vm started", model.KindVM, store.OutboxUpdate, vm(model.VMCreating, "tc"), vm(model.VMStarted, ""), []string{"io.photon.vm.started"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.PreviousState != model.VMCreating || d.State != model.VMStarted || ext["taskid"] != "tc" {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"vm stopped", model.KindVM, store.OutboxUpdate, vm(model.VMStarted, "t2"), vm(model.VMStopped, "t2"), []string{"io.photon.vm.stopped"}, nil},
		{"vm suspended", model.KindVM, store.OutboxUpdate, vm(model.VMStarted, ""), vm(model.VMSuspended, ""), []string{"io.photon.vm.suspended"}, nil},
		{"vm error", model.KindVM, store.OutboxUpdate, vm(model.VMCreating, ""), vm(model.VMError, ""), []string{"io.photon.vm.error"}, nil},
		{"vm held by a task: no state change", model.KindVM, store.OutboxUpdate, vm(model.VMStarted, ""), vm(model.VMStarted, "t3"), nil, nil},
		{"vm deleted", model.KindVM, store.OutboxDelete, vm(model.VMDeleting, "t4"), nil, []string{"io.photon.vm.deleted"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.ProjectID != "p1" || ext["taskid"] != "t4" {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"task created completed", model.KindTask, store.OutboxCreate, nil, task(model.TaskCompleted), []string{"io.photon.task.completed"}, nil},
		{"task queued", model.KindTask, store.OutboxCreate, nil, task(model.TaskQueued), nil, nil},
		{"task started", model.KindTask, store.OutboxUpdate, task(model.TaskQueued), task(model.TaskStarted), nil, nil},
		{"task step progress", model.KindTask, store.OutboxUpdate, task(model.TaskStarted), task(model.TaskStarted), nil, nil},
		{"task completed", model.KindTask, store.OutboxUpdate, task(model.TaskStarted), task(model.TaskCompleted), []string{"io.photon.task.completed"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.Operation != "STOP_VM" || d.Entity == nil || d.Entity.ID != "vm1" || ext["taskid"] != "task1" || d.PreviousState != model.TaskStarted {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"task failed", model.KindTask, store.OutboxUpdate, task(model.TaskStarted), task(model.TaskError), []string{"io.photon.task.failed"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.Error == nil || d.Error.Message != "boom" {
					t.Errorf("data %+v", d)
				}
			}},
		{"quota set", model.KindTask, store.OutboxCreate, nil, &model.Task{ID: "tq", Operation: "SET_QUOTA", State: model.TaskCompleted,
			Entity: model.Entity{ID: "t1", Kind: model.KindTenant}, TenantID: "t1"}, []string{"io.photon.task.completed", "io.photon.quota.changed"}, nil},
		{"host joins", model.KindHost, store.OutboxCreate, nil, host(model.HostReady, "", 0), []string{"io.photon.host.created"}, nil},
		{"host heartbeat lost", model.KindHost, store.OutboxUpdate, host(model.HostReady, "", 1), host(model.HostError, model.ReasonMissedHeartbeats, 1), []string{"io.photon.host.error"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.StateReason != model.ReasonMissedHeartbeats {
					t.Errorf("data %+v", d)
				}
			}},
		{"host maintenance", model.KindHost, store.OutboxUpdate, host(model.HostReady, "", 1), host(model.HostMaintenance, "", 1), []string{"io.photon.host.maintenance"}, nil},
		{"host back", model.KindHost, store.OutboxUpdate, host(model.HostMaintenance, "", 1), host(model.HostReady, "", 1), []string{"io.photon.host.ready"}, nil},
		{"host usage only", model.KindHost, store.OutboxUpdate, host(model.HostReady, "", 1), host(model.HostReady, "", 2), nil, nil},
		{"disk attached", model.KindDisk, store.OutboxUpdate, disk(model.DiskDetached), disk(model.DiskAttached, "vm1"), []string{"io.photon.disk.attached"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.VMID != "vm1" {
					t.Errorf("data %+v", d)
				}
			}},
		{"disk detached", model.KindDisk, store.OutboxUpdate, disk(model.DiskAttached, "vm1"), disk(model.DiskDetached), []string{"io.photon.disk.detached"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.VMID != "vm1" {
					t.Errorf("data %+v", d)
				}
			}},
		{"disk created", model.KindDisk, store.OutboxCreate, nil, disk(model.DiskDetached), []string{"io.photon.disk.created"}, nil},
		{"tenant created", model.KindTenant, store.OutboxCreate, nil, &model.Tenant{ID: "t1", Name: "acme"}, []string{"io.photon.tenant.created"},
			func(t *testing.T, d notify.Data, ext map[string]any) {
				if d.TenantID != "t1" || ext["tenantid"] != "t1" {
					t.Errorf("data %+v ext %v", d, ext)
				}
			}},
		{"project deleted", model.KindProject, store.OutboxDelete, &model.Project{ID: "p1", TenantID: "t1"}, nil, []string{"io.photon.project.deleted"}, nil},
		{"image ready", model.KindImage, store.OutboxUpdate, &model.Image{ID: "i1", State: model.ImageCreating}, &model.Image{ID: "i1", State: model.ImageReady}, []string{"io.photon.image.ready"}, nil},
		{"image deleted", model.KindImage, store.OutboxUpdate, &model.Image{ID: "i1", State: model.ImagePendingDelete}, &model.Image{ID: "i1", State: model.ImageDeleted}, []string{"io.photon.image.deleted"}, nil},
		{"router created", model.KindRouter, store.OutboxCreate, nil, &model.Router{ID: "r1", State: model.NetCreating}, []string{"io.photon.router.created"}, nil},
		{"subnet ready", model.KindSubnet, store.OutboxUpdate, &model.Subnet{ID: "s1", State: model.NetCreating}, &model.Subnet{ID: "s1", State: model.NetReady}, []string{"io.photon.subnet.ready"}, nil},
		{"zone deleted", model.KindZone, store.OutboxDelete, &model.Zone{ID: "z1", State: model.ZoneReady}, nil, []string{"io.photon.zone.deleted"}, nil},
		{"flavor created", model.KindFlavor, store.OutboxCreate, nil, &model.Flavor{ID: "f1", Name: "small"}, []string{"io.photon.flavor.created"}, nil},
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
