package iso_test

import (
	"slices"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestISO: an attach connects the CD-ROM to the ISO uploaded on the VM's datastore and
// records it; a detach disconnects it, deletes the file and forgets it. A detach the host
// answers with a state error (no ISO left: a replay after the host acted) still deletes
// the file.
func TestISO(t *testing.T) {
	t.Parallel()
	attached := &model.ISO{Name: "boot.iso", Size: 1024}
	cases := []struct {
		name      string
		chain     *events.Chain
		before    *model.ISO
		fault     string
		err       error
		want      string
		wantCalls []string
		wantISO   *model.ISO
	}{
		{name: "attach", chain: &events.VMAttachISO, want: steptest.Done, wantCalls: []string{"AttachIso"}, wantISO: attached},
		{name: "attach refused", chain: &events.VMAttachISO, fault: "AttachIso", err: steptest.Refused,
			want: steptest.Failed(errs.CodeHostError), wantCalls: []string{"AttachIso"}},
		{name: "attach on a busy host", chain: &events.VMAttachISO, fault: "AttachIso", err: steptest.Busy,
			want: steptest.Retry, wantCalls: []string{"AttachIso"}},
		{name: "detach", chain: &events.VMDetachISO, before: attached, want: steptest.Done,
			wantCalls: []string{"DetachIso", "DeleteFile"}},
		{name: "detach of a VM with no ISO left", chain: &events.VMDetachISO, before: attached, fault: "DetachIso", err: steptest.Refused,
			want: steptest.Done, wantCalls: []string{"DetachIso", "DeleteFile"}},
		{name: "delete refused", chain: &events.VMDetachISO, before: attached, fault: "DeleteFile", err: steptest.Refused,
			want: steptest.Failed(errs.CodeHostError), wantCalls: []string{"DetachIso", "DeleteFile"}, wantISO: attached},
		{name: "detach on a busy host", chain: &events.VMDetachISO, before: attached, fault: "DetachIso", err: steptest.Busy,
			want: steptest.Retry, wantCalls: []string{"DetachIso"}, wantISO: attached},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(tc.chain, "vm-1", steptest.Root, map[string]string{model.PropISOName: "boot.iso", model.PropISOSize: "1024"})
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStopped, ISO: tc.before}, task)
			e.Place(t, "vm-1", h)
			if tc.fault != "" {
				h.Fail(tc.fault, tc.err)
			}
			reply, err := e.Do(t, tc.chain, task, 1)
			if got := e.Outcome(t, tc.chain, task, 1, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			for _, c := range h.Calls() {
				switch r := c.Request.(type) {
				case *hostdv1.AttachIsoRequest:
					if r.GetDatastore() != steptest.Datastore || r.GetPath() != store.ISOPath("vm-1") {
						t.Fatalf("attached %s/%s", r.GetDatastore(), r.GetPath())
					}
				case *hostdv1.DeleteFileRequest:
					if r.GetDatastore() != steptest.Datastore || r.GetPath() != store.ISOPath("vm-1") {
						t.Fatalf("deleted %s/%s", r.GetDatastore(), r.GetPath())
					}
				}
			}
			got := e.GetVM(t, "vm-1").ISO
			if (got == nil) != (tc.wantISO == nil) || (got != nil && *got != *tc.wantISO) {
				t.Fatalf("VM ISO %+v, want %+v", got, tc.wantISO)
			}
			if tc.want == steptest.Done {
				h.Forget()
				e.MustDo(t, tc.chain, task, 1)
				if got := h.Methods(); len(got) != 0 {
					t.Fatalf("replay called the host: %v", got)
				}
			}
		})
	}
}
