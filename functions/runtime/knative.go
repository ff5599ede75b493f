package runtime

import (
	"fmt"
	"strings"

	"github.com/photon-cloud/photon/events"
)

// KnativeServices renders one Knative Service per function, with the autoscaling
// annotations that match ScalingFor: on a cluster Knative's autoscaler does what the
// local Autoscaler does on one machine. image is the Photon image reference.
func KnativeServices(image string) string {
	var b strings.Builder
	b.WriteString("# Generated from functions/runtime (ScalingFor) by `PHOTON_UPDATE=1 go test ./functions/runtime/`.\n")
	b.WriteString("# One Knative Service per function; the Broker, Triggers and Redis are described in infra/README.md.\n")
	for _, fn := range events.Functions() {
		s := ScalingFor(fn)
		fmt.Fprintf(&b, `---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: photon-%[1]s
  labels:
    app.kubernetes.io/part-of: photon
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/class: kpa.autoscaling.knative.dev
        autoscaling.knative.dev/metric: concurrency
        autoscaling.knative.dev/target: "%[3]g"
        autoscaling.knative.dev/min-scale: "%[4]d"
        autoscaling.knative.dev/max-scale: "%[5]d"
        autoscaling.knative.dev/window: "%[6]s"
        autoscaling.knative.dev/panic-window-percentage: "%[7]g"
        autoscaling.knative.dev/panic-threshold-percentage: "%[8]g"
    spec:
      containerConcurrency: %[9]d
      containers:
        - image: %[2]s
          args: ["function", "%[1]s"]
`, fn, image, s.Target, s.MinScale, s.MaxScale, s.StableWindow, s.PanicWindowPercentage, s.PanicThresholdPercentage, s.ContainerConcurrency)
	}
	return b.String()
}
