package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestContradictoryAffinities: a VM create whose affinities cannot all hold (a host
// outside the asked zone, a disk on another datastore than the one asked) answers 400
// InvalidEntity over REST and gRPC, single and bulk, and writes nothing: no VM, no task.
func TestContradictoryAffinities(t *testing.T) {
	h := newHarness(t)
	w := h.world(t)
	ctx := t.Context()
	// The disk's chain does not run here: put it on the host's datastore, as disks would.
	if _, err := store.Update(ctx, h.s, model.KindDisk, w.disk, func(d *model.PersistentDisk) error {
		d.HostID, d.Datastore, d.DatastoreID, d.State = w.host, w.datastore, w.datastore, model.DiskDetached
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before, err := h.s.ListVMs(ctx, w.p1, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	rest := newRESTClient(h)
	cases := []struct {
		name       string
		affinities []*pb.LocalitySpec
		want       string
	}{
		{"a host outside the asked zone", []*pb.LocalitySpec{{Kind: "host", Id: w.host}, {Kind: "availabilityZone", Id: w.zone}},
			"is not in availability zone"},
		{"a disk on another datastore", []*pb.LocalitySpec{{Kind: "disk", Id: w.disk}, {Kind: "datastore", Id: "elsewhere"}},
			"name two different datastores"},
	}
	for _, tc := range cases {
		for _, count := range []int32{0, 3} {
			spec := vmSpec(w)
			spec.Name, spec.Affinities, spec.Count = "contradiction", tc.affinities, count
			req := &pb.CreateVmRequest{ProjectId: w.p1, Spec: spec}
			t.Run(fmt.Sprintf("%s/count %d/grpc", tc.name, count), func(t *testing.T) {
				_, err := h.invoke(t, sys, m("Vms", "CreateVm"), req)
				if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.want) {
					t.Fatalf("got %v, want InvalidArgument %q", err, tc.want)
				}
			})
			t.Run(fmt.Sprintf("%s/count %d/rest", tc.name, count), func(t *testing.T) {
				out, err := rest.call(t, sys, m("Vms", "CreateVm"), req)
				if err == nil || !strings.HasPrefix(status.Convert(err).Message(), "400 ") ||
					!strings.Contains(string(out), `"InvalidEntity"`) || !strings.Contains(string(out), tc.want) {
					t.Fatalf("got %v %s, want 400 InvalidEntity %q", err, out, tc.want)
				}
			})
		}
	}
	after, err := h.s.ListVMs(ctx, w.p1, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Items) != len(before.Items) {
		t.Fatalf("refused creates wrote VMs: %d before, %d after", len(before.Items), len(after.Items))
	}
	tasks, err := h.s.ListTasks(ctx, w.p1, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks.Items {
		if task.Operation == "CREATE_VMS" {
			t.Fatalf("a refused bulk create wrote its parent task %+v", task)
		}
	}
}
