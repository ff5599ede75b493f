package hostd

import (
	"context"
	"reflect"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/soap"

	"github.com/photon-cloud/photon/metrics"
)

var vsphereDuration = metrics.NewHistogram(&metrics.VSphereDuration)

// timedRoundTripper measures each vSphere API call hostd makes (metrics.VSphereDuration)
// by its method, the name of the request body's type without "Body"
// (methods.CreateVM_TaskBody: CreateVM_Task). A task's call is measured to its answer,
// the task's start; the waits for its end are calls of their own (WaitForUpdatesEx).
type timedRoundTripper struct{ next soap.RoundTripper }

func (t timedRoundTripper) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	start := time.Now()
	err := t.next.RoundTrip(ctx, req, res)
	outcome := "ok"
	switch {
	case err == nil:
	case soap.IsSoapFault(err) || soap.IsVimFault(err):
		outcome = "fault"
	default:
		outcome = "error"
	}
	vsphereDuration.Since(ctx, start, vsphereMethod(req), outcome)
	return err
}

// vsphereMethod names a request body's vSphere method.
func vsphereMethod(req soap.HasFault) string {
	t := reflect.TypeOf(req)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return strings.TrimSuffix(t.Name(), "Body")
}
