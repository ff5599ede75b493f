package vmhost_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/functions/vmhost"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// createOnHost is CREATE_VM_ON_HOST's index in the create chain.
const createOnHost = 3

// image is an ON_DEMAND image uploaded to host-1's image datastore.
func image() *model.Image {
	return &model.Image{ID: "img-1", Name: "img-1", State: model.ImageReady, ReplicationType: model.ReplicationOnDemand,
		DiskPath: "images/img-1.vmdk", Datastores: []string{"host-1-" + steptest.ImageDS}}
}

// TestClone: the VM is made on its host from the image, copied first to the VM's
// datastore when it is not there; an image that is not open to new VMs, or is gone, is
// refused before the host is asked; a refusal fails the chain into the step's undo, a
// busy host is retried.
func TestClone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		onVMDS    bool   // the image is on the VM's datastore already
		closed    bool   // a delete of the image waits for its VMs
		imageID   string // the VM's image (default img-1)
		placed    bool
		fault     string
		err       error
		want      string
		wantCalls []string
	}{
		{name: "copies then creates", placed: true, want: steptest.Done, wantCalls: []string{"CopyImage", "CreateVm"}},
		{name: "image already there", onVMDS: true, placed: true, want: steptest.Done, wantCalls: []string{"CreateVm"}},
		{name: "image being deleted", closed: true, placed: true, want: steptest.Failed(errs.CodeInvalidEntity)},
		{name: "image gone", imageID: "img-x", placed: true, want: steptest.Failed(errs.CodeInvalidEntity)},
		{name: "VM on no host", want: steptest.Failed(errs.CodeStateError)},
		{name: "copy refused", placed: true, fault: "CopyImage", err: steptest.Refused,
			want: steptest.Failed(errs.CodeHostError), wantCalls: []string{"CopyImage"}},
		{name: "create refused", placed: true, fault: "CreateVm", err: steptest.Refused,
			want: steptest.Failed(errs.CodeHostError), wantCalls: []string{"CopyImage", "CreateVm"}},
		{name: "host busy", placed: true, fault: "CreateVm", err: steptest.Busy,
			want: steptest.Retry, wantCalls: []string{"CopyImage", "CreateVm"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			img := image()
			if tc.onVMDS {
				img.Datastores = append(img.Datastores, "host-1-"+steptest.Datastore)
			}
			e.Image(t, img, nil)
			if tc.closed {
				if _, err := e.Store.CloseImage(t.Context(), img.ID); err != nil {
					t.Fatal(err)
				}
			}
			vmImage := img.ID
			if tc.imageID != "" {
				vmImage = tc.imageID
			}
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMCreating, SourceImageID: vmImage, CPU: 2, MemoryMB: 1024}, task)
			if tc.placed {
				e.Place(t, "vm-1", h)
			}
			if tc.fault != "" {
				h.Fail(tc.fault, tc.err)
			}
			reply, err := e.Do(t, &events.VMCreate, task, createOnHost)
			if got := e.Outcome(t, &events.VMCreate, task, createOnHost, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			for _, c := range h.Calls() {
				switch r := c.Request.(type) {
				case *hostdv1.CopyImageRequest:
					if r.GetSourceDatastore() != steptest.ImageDS || r.GetTargetDatastore() != steptest.Datastore || r.GetTargetPath() != img.DiskPath {
						t.Fatalf("copy %v", r)
					}
				case *hostdv1.CreateVmRequest:
					if r.GetVmId() != "vm-1" || r.GetDatastore() != steptest.Datastore || r.GetImagePath() != img.DiskPath || r.GetCpuCount() != 2 {
						t.Fatalf("create %v", r)
					}
				}
			}
			if tc.want != steptest.Done {
				return
			}
			if h.VM("vm-1") == nil {
				t.Fatal("no VM on the host")
			}
			got, err := store.Get[model.Image](t.Context(), e.Store, model.KindImage, img.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(got.Datastores, "host-1-"+steptest.Datastore) {
				t.Fatalf("the copy is not recorded: %v", got.Datastores)
			}
			h.Forget()
			e.MustDo(t, &events.VMCreate, task, createOnHost)
			if got := h.Methods(); len(got) != 0 {
				t.Fatalf("replay called the host: %v", got)
			}
		})
	}
}

// TestDestroy: the create's undo and the delete chain's DELETE_VM_ON_HOST destroy the VM
// on its host and release its image; the other VM of the image is left. When the VM was
// the last user of an image waiting to be deleted, the image's disk goes from every
// datastore and the image ends DELETED.
func TestDestroy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		delete    bool // the delete chain, not the create's undo
		others    bool // vm-0 uses the image too
		closed    bool
		wantCalls []string
		wantState string
		wantUsers int64
	}{
		{name: "undo", others: true, wantCalls: []string{"DeleteVm"}, wantState: model.ImageReady, wantUsers: 1},
		{name: "delete", delete: true, others: true, wantCalls: []string{"DeleteVm"}, wantState: model.ImageReady, wantUsers: 1},
		{name: "last VM of an image being deleted", delete: true, closed: true,
			wantCalls: []string{"DeleteVm", "DeleteFile", "DeleteFile"}, wantState: model.ImageDeleted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			img := image()
			e.Image(t, img, nil)
			if tc.others {
				e.VM(t, &model.VM{ID: "vm-0", Name: "vm-0", State: model.VMStarted, SourceImageID: img.ID}, nil)
				if ok, _, err := e.Store.UseImage(t.Context(), img.ID, "vm-0"); !ok || err != nil {
					t.Fatalf("use image: %v %v", ok, err)
				}
				h.PutVM("vm-0", "poweredOn")
			}
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMCreating, SourceImageID: img.ID}, task)
			e.Place(t, "vm-1", h)
			e.MustDo(t, &events.VMCreate, task, createOnHost)
			if tc.closed {
				if _, err := e.Store.CloseImage(t.Context(), img.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := store.Update(t.Context(), e.Store, model.KindImage, img.ID, func(im *model.Image) error {
					im.State = model.ImagePendingDelete
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			h.Forget()
			if tc.delete {
				del := e.NewTask(&events.VMDelete, "vm-1", steptest.Root, nil)
				if err := e.Store.Apply(t.Context(), e.Store.AddTask(new(store.Batch), del)); err != nil {
					t.Fatal(err)
				}
				e.MustDo(t, &events.VMDelete, del, 2)
			} else {
				for range 2 { // the second is a replay
					if _, err := e.Undo(t, &events.VMCreate, task, createOnHost, errs.New(errs.CodeHostError, "later step failed")); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			if h.VM("vm-1") != nil {
				t.Fatal("vm-1 is still on the host")
			}
			if tc.others && h.VM("vm-0") == nil {
				t.Fatal("vm-0 was destroyed")
			}
			got, err := store.Get[model.Image](t.Context(), e.Store, model.KindImage, img.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.wantState {
				t.Fatalf("image %s, want %s", got.State, tc.wantState)
			}
			if tc.wantState != model.ImageDeleted {
				// Closing the image counts the VMs that still use it.
				if users, err := e.Store.CloseImage(t.Context(), img.ID); err != nil || users != tc.wantUsers {
					t.Fatalf("image users %d (%v), want %d", users, err, tc.wantUsers)
				}
			}
		})
	}
}

// guestSource is a GuestInfoSource that answers info (or err) and records the VMs it was
// asked about.
type guestSource struct {
	info  map[string]string
	err   error
	mu    sync.Mutex
	asked []string
}

func (g *guestSource) GuestInfo(_ context.Context, vm *model.VM) (map[string]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, vm.ID+"/"+vm.ServiceID)
	return g.info, g.err
}

// TestGuestInfo: a VM that is a node of a service is created with the guestinfo its
// source gives, asked for afresh at every try; any other VM, or a node without a source,
// is created without; a source that fails holds the create back (retried, or failed when
// the failure is permanent) before the host is asked.
func TestGuestInfo(t *testing.T) {
	t.Parallel()
	userdata := map[string]string{"guestinfo.userdata": "I2Nsb3VkLWNvbmZpZwo=", "guestinfo.userdata.encoding": "base64"}
	cases := []struct {
		name      string
		service   string
		noSource  bool
		err       error
		want      string
		wantAsked []string
		wantGuest map[string]string
		wantCalls []string
	}{
		{name: "node of a service", service: "svc-1", want: steptest.Done, wantAsked: []string{"vm-1/svc-1"},
			wantGuest: userdata, wantCalls: []string{"CopyImage", "CreateVm"}},
		{name: "not a node", want: steptest.Done, wantCalls: []string{"CopyImage", "CreateVm"}},
		{name: "no source", service: "svc-1", noSource: true, want: steptest.Done, wantCalls: []string{"CopyImage", "CreateVm"}},
		{name: "source unavailable", service: "svc-1", err: errors.New("service store unreachable"), want: steptest.Retry,
			wantAsked: []string{"vm-1/svc-1"}},
		{name: "source refuses", service: "svc-1", err: errs.New(errs.CodeInvalidEntity, "service svc-1 is gone"),
			want: steptest.Failed(errs.CodeInvalidEntity), wantAsked: []string{"vm-1/svc-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			src := &guestSource{info: userdata, err: tc.err}
			e.Replace(t, func(hosts *hostclient.Pool) runtime.Function {
				if tc.noSource {
					return vmhost.New(e.Store, hosts, nil)
				}
				return vmhost.New(e.Store, hosts, src)
			})
			h := e.AddHost(t, "host-1")
			img := image()
			e.Image(t, img, nil)
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMCreating, SourceImageID: img.ID, CPU: 1, MemoryMB: 512,
				ServiceID: tc.service}, task)
			e.Place(t, "vm-1", h)
			reply, err := e.Do(t, &events.VMCreate, task, createOnHost)
			if got := e.Outcome(t, &events.VMCreate, task, createOnHost, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			if !slices.Equal(src.asked, tc.wantAsked) {
				t.Fatalf("the source was asked about %v, want %v", src.asked, tc.wantAsked)
			}
			for _, c := range h.Calls() {
				if r, ok := c.Request.(*hostdv1.CreateVmRequest); ok && !maps.Equal(r.GetGuestInfo(), tc.wantGuest) {
					t.Fatalf("create carried guest info %v, want %v", r.GetGuestInfo(), tc.wantGuest)
				}
			}
			if tc.want != steptest.Done {
				return
			}
			// The VM record keeps none of it.
			if vm := e.GetVM(t, "vm-1"); vm.ServiceID != tc.service || vm.Metadata != nil || vm.Environment != nil {
				t.Fatalf("the VM record changed: %+v", vm)
			}
		})
	}
}
