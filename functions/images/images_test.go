package images_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/images"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

const disk = "images/img-1.vmdk"

// uploaded writes img-1 as an upload leaves it on host-1's and host-2's image
// datastores (reported there), held by task.
func uploaded(t *testing.T, e *steptest.Env, replication, state string, task *model.Task) {
	t.Helper()
	e.Image(t, &model.Image{ID: "img-1", Name: "img-1", State: state, ReplicationType: replication, DiskPath: disk,
		Datastores: []string{"host-1-" + steptest.ImageDS, "host-2-" + steptest.ImageDS}}, task)
	for _, h := range []string{"host-1", "host-2"} {
		e.Report(t, h, steptest.ImageDS, disk)
	}
}

func getImage(t *testing.T, e *steptest.Env, id string) *model.Image {
	t.Helper()
	im, err := store.Get[model.Image](t.Context(), e.Store, model.KindImage, id)
	if err != nil {
		t.Fatal(err)
	}
	return im
}

// reportCopies has each host report an image copy once it is made, as its next
// heartbeat would.
func reportCopies(t *testing.T, e *steptest.Env, hs ...*steptest.Host) {
	for _, h := range hs {
		h.After("CopyImage", func(req proto.Message) {
			r := req.(*hostdv1.CopyImageRequest)
			if _, err := e.Store.UpdateHost(t.Context(), h.ID, func(host *model.Host) error {
				for i := range host.Datastores {
					if host.Datastores[i].Name == r.GetTargetDatastore() {
						host.Datastores[i].Images = append(host.Datastores[i].Images, r.GetTargetPath())
					}
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestReplicate: an EAGER image is copied to every datastore of each host that holds it
// and becomes READY once the hosts report it there; an ON_DEMAND image asks no host
// anything. A refused copy leaves the image ERROR; a busy host is retried with the image
// still CREATING.
func TestReplicate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		replication string
		err         error
		want        string
		wantCopies  int
		wantState   string
		wantTargets int
	}{
		{"on demand", model.ReplicationOnDemand, nil, steptest.Done, 0, model.ImageReady, 4},
		{"eager", model.ReplicationEager, nil, steptest.Done, 2, model.ImageReady, 4},
		{"copy refused", model.ReplicationEager, steptest.Refused, steptest.Failed(errs.CodeHostError), 2, model.ImageError, 0},
		{"host busy", model.ReplicationEager, steptest.Busy, steptest.Retry, 2, model.ImageCreating, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h1, h2 := e.AddHost(t, "host-1"), e.AddHost(t, "host-2")
			task := e.NewTask(&events.ImageCreate, "img-1", steptest.Root, nil)
			uploaded(t, e, tc.replication, model.ImageCreating, task)
			reportCopies(t, e, h1, h2)
			for _, h := range []*steptest.Host{h1, h2} {
				h.Fail("CopyImage", tc.err)
			}
			reply, err := e.Do(t, &events.ImageCreate, task, 1)
			if got := e.Outcome(t, &events.ImageCreate, task, 1, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			var copies int
			for _, h := range []*steptest.Host{h1, h2} {
				for _, c := range h.Calls() {
					r, ok := c.Request.(*hostdv1.CopyImageRequest)
					if !ok || r.GetSourceDatastore() != steptest.ImageDS || r.GetTargetDatastore() != steptest.Datastore {
						t.Fatalf("host %s: call %s %v", h.ID, c.Method, c.Request)
					}
					copies++
				}
			}
			if copies != tc.wantCopies {
				t.Fatalf("%d copies, want %d", copies, tc.wantCopies)
			}
			im := getImage(t, e, "img-1")
			if im.State != tc.wantState || im.ReplicationTargets != tc.wantTargets {
				t.Fatalf("image %s with %d targets, want %s with %d", im.State, im.ReplicationTargets, tc.wantState, tc.wantTargets)
			}
			if tc.want == steptest.Done {
				h1.Forget()
				h2.Forget()
				e.MustDo(t, &events.ImageCreate, task, 1)
				if got := append(h1.Methods(), h2.Methods()...); len(got) != 0 {
					t.Fatalf("replay called the hosts: %v", got)
				}
			}
		})
	}
}

// TestDeleteFiles: the image's disk is deleted from every datastore of every host that
// holds it and the image ends DELETED; a disk the image does not own (registered by path)
// is never deleted; a refusal leaves the image ERROR for the delete to be tried again.
func TestDeleteFiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		path      string
		err       error
		want      string
		wantCalls int
		wantState string
	}{
		{"deletes", disk, nil, steptest.Done, 2, model.ImageDeleted},
		{"a disk it does not own", "shared/base.vmdk", nil, steptest.Done, 0, model.ImageDeleted},
		{"host refuses", disk, steptest.Refused, steptest.Failed(errs.CodeHostError), 2, model.ImageError},
		{"host busy", disk, steptest.Busy, steptest.Retry, 2, model.ImageCreating},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h1, h2 := e.AddHost(t, "host-1"), e.AddHost(t, "host-2")
			task := e.NewTask(&events.ImageDelete, "img-1", steptest.Root, nil)
			e.Image(t, &model.Image{ID: "img-1", Name: "img-1", State: model.ImageCreating, DiskPath: tc.path,
				Datastores: []string{"host-1-" + steptest.ImageDS, "host-2-" + steptest.ImageDS}}, task)
			for _, h := range []*steptest.Host{h1, h2} {
				h.Fail("DeleteFile", tc.err)
			}
			reply, err := e.Do(t, &events.ImageDelete, task, 1)
			if got := e.Outcome(t, &events.ImageDelete, task, 1, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			var calls int
			for _, h := range []*steptest.Host{h1, h2} {
				for _, c := range h.Calls() {
					r, ok := c.Request.(*hostdv1.DeleteFileRequest)
					if !ok || r.GetDatastore() != steptest.ImageDS || r.GetPath() != tc.path {
						t.Fatalf("host %s: call %s %v", h.ID, c.Method, c.Request)
					}
					calls++
				}
			}
			if calls != tc.wantCalls {
				t.Fatalf("%d deletes, want %d", calls, tc.wantCalls)
			}
			if got := getImage(t, e, "img-1").State; got != tc.wantState {
				t.Fatalf("image %s, want %s", got, tc.wantState)
			}
		})
	}
}

// TestCapture: a VM's boot disk is written as the new image's disk on the VM's datastore,
// which the image records as its one seeded datastore; a refusal fails the task, leaving
// the image ERROR and the VM released.
func TestCapture(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		err       error
		want      string
		wantDS    []string
		wantState string
	}{
		{"captures", nil, steptest.Done, []string{"host-1-" + steptest.Datastore}, model.ImageCreating},
		{"host refuses", steptest.Refused, steptest.Failed(errs.CodeHostError), nil, model.ImageError},
		{"host busy", steptest.Busy, steptest.Retry, nil, model.ImageCreating},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(&events.VMCreateImage, "vm-1", steptest.Root, map[string]string{images.PropImageID: "img-2"})
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStopped}, task)
			e.Place(t, "vm-1", h)
			e.Image(t, &model.Image{ID: "img-2", Name: "img-2", State: model.ImageCreating, DiskPath: "images/img-2.vmdk", SourceVMID: "vm-1"}, task)
			h.Fail("CreateImageFromVm", tc.err)
			reply, err := e.Do(t, &events.VMCreateImage, task, 1)
			if got := e.Outcome(t, &events.VMCreateImage, task, 1, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			calls := h.Calls()
			if len(calls) != 1 || calls[0].Method != "CreateImageFromVm" {
				t.Fatalf("host calls %v", h.Methods())
			}
			if r := calls[0].Request.(*hostdv1.CreateImageFromVmRequest); r.GetVmId() != "vm-1" || r.GetDatastore() != steptest.Datastore ||
				r.GetTargetPath() != "images/img-2.vmdk" {
				t.Fatalf("capture %v", r)
			}
			im := getImage(t, e, "img-2")
			if !slices.Equal(im.Datastores, tc.wantDS) || im.State != tc.wantState {
				t.Fatalf("image %s on %v, want %s on %v", im.State, im.Datastores, tc.wantState, tc.wantDS)
			}
			if held := e.GetVM(t, "vm-1").ActiveTask != ""; held != (tc.want != steptest.Failed(errs.CodeHostError)) {
				t.Fatalf("VM held %v after %s", held, tc.want)
			}
		})
	}
}
