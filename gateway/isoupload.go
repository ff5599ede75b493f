package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// MaxISOBytes bounds an ISO upload.
const MaxISOBytes = 8 << 30

// attachISO serves POST /v1/vms/{id}/attach_iso, multipart/form-data as Photon's SDK sends
// it (VmAPI.AttachISO: the part "file"). The task (ATTACH_ISO) holds the VM from the
// start; the ISO is streamed to the VM's datastore (store.ISOPath) through its host's hostd,
// then the vm.attach_iso chain connects the CD-ROM. A failed upload ends the task in ERROR
// and frees the VM.
func (s *Server) attachISO(w http.ResponseWriter, r *http.Request) {
	serveUpload(w, r, MaxISOBytes, func(r *http.Request) (*model.Task, error) {
		return s.services.vms.attachISO(r.Context(), s.uploads, r)
	})
}

func (s *vms) attachISO(ctx context.Context, up *uploads, r *http.Request) (*model.Task, error) {
	vm, err := s.vm(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errs.Invalid("attach_iso takes multipart/form-data with the ISO in the part \"file\": %v", err)
	}
	var part io.Reader
	name := ""
	for part == nil {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errs.Invalid("the upload has no part \"file\"").WithData("field", "file")
		}
		if err != nil {
			return nil, errs.Invalid("read the upload: %v", err)
		}
		if p.FormName() == "file" {
			part, name = p, path.Base(p.FileName())
		}
	}
	if name == "" || name == "." || name == "/" {
		name = "cdrom.iso"
	}
	chain := &events.VMAttachISO
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: vm.ID, Kind: model.KindVM}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID = vm.TenantID, vm.ProjectID
	task.Properties = map[string]string{model.PropISOName: name}
	if err := s.admit(ctx, vm.TenantID, task.ID); err != nil {
		return nil, err
	}
	if _, err = store.StartTask(ctx, s.store, model.KindVM, vm.ID, task, func(v *model.VM) error {
		return hold(v, task, chain)
	}); err != nil {
		s.store.Release(context.WithoutCancel(ctx), vm.TenantID, task.ID)
		return nil, err
	}
	size, err := s.uploadISO(ctx, up, vm.ID, part)
	if err != nil {
		s.abandon(context.WithoutCancel(ctx), task, "UPLOAD_ISO", err)
		return nil, err
	}
	if task, err = s.store.UpdateTask(ctx, task.ID, func(t *model.Task) error {
		t.Properties[model.PropISOSize] = strconv.FormatInt(size, 10)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := s.startChain(ctx, chain, vm.TenantID, task); err != nil {
		return nil, err
	}
	return task, nil
}

// uploadISO streams the ISO to the VM's datastore through its host.
func (s *vms) uploadISO(ctx context.Context, up *uploads, vmID string, iso io.Reader) (int64, error) {
	res, ok, err := s.store.HostReservationOf(ctx, vmID)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, errs.New(errs.CodeStateError, "Vm #%s is on no host", vmID)
	}
	h, err := s.store.GetHost(ctx, res.HostID)
	if err != nil {
		return 0, err
	}
	_, size, err := up.stream(ctx, iso, []seed{{host: h.ID, addr: h.Address, ds: res.Datastore}}, store.ISOPath(vmID))
	if err != nil {
		return 0, err
	}
	if size == 0 {
		return 0, errs.Invalid("the ISO is empty").WithData("field", "file")
	}
	return size, nil
}

// abandon ends a task that failed before its chain started: in ERROR with the reason, its
// VM and admission given back.
func (s *vms) abandon(ctx context.Context, task *model.Task, step string, cause error) {
	e := errs.As(cause).WithData("step", step)
	_, _ = s.store.UpdateTask(ctx, task.ID, func(t *model.Task) error {
		t.State, t.EndTime = model.TaskError, s.store.Now()
		if len(t.Steps) > 0 {
			t.Steps[0].State, t.Steps[0].Errors = model.TaskError, []*errs.Error{e}
		}
		return nil
	})
	_, _ = store.Update(ctx, s.store, model.KindVM, task.Entity.ID, func(v *model.VM) error {
		if v.ActiveTask != task.ID {
			return store.ErrNoChange
		}
		v.ActiveTask = ""
		return nil
	})
	_ = s.store.Release(ctx, task.TenantID, task.ID)
	s.log.Warn("task abandoned before its chain", "task", task.ID, "step", step, "err", fmt.Sprint(cause))
}

func (s *vms) DetachIso(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	vm, err := s.vm(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if vm.ISO == nil {
		return nil, errs.New(errs.CodeStateError, "Vm #%s has no ISO attached", vm.ID)
	}
	return s.vmOp(ctx, &events.VMDetachISO, vm.ID, nil)
}
