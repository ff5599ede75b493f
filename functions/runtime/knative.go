package runtime

import (
	"fmt"
	"strings"

	"github.com/photon-cloud/photon/events"
)

// ServiceName is the Knative Service of function fn.
func ServiceName(fn string) string { return "photon-" + fn }

// FunctionLabel is the label, with the value "function", of every function's Knative
// Service (the SinkBinding that gives them the Broker's address selects them by it).
const FunctionLabel = "photon.io/component"

// KnativeServices renders one Knative Service per function, with the autoscaling
// annotations that match ScalingFor: on a cluster Knative's autoscaler does what the
// local Autoscaler does on one machine. image is the Photon image reference, redisURL
// where the functions find Redis. Each container serves the function on $PORT
// (ServeKnative) with its probes on PathReady and PathLive.
func KnativeServices(image, redisURL string) string {
	var b strings.Builder
	for _, fn := range events.Functions() {
		s := ScalingFor(fn)
		fmt.Fprintf(&b, `---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %[10]s
  labels:
    app.kubernetes.io/part-of: photon
    %[11]s: function
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
          args: ["function", "%[1]s", "--redis", "%[12]s"]
          readinessProbe:
            httpGet:
              path: %[13]s
          livenessProbe:
            httpGet:
              path: %[14]s
`, fn, image, s.Target, s.MinScale, s.MaxScale, s.StableWindow, s.PanicWindowPercentage, s.PanicThresholdPercentage,
			s.ContainerConcurrency, ServiceName(fn), FunctionLabel, redisURL, PathReady, PathLive)
	}
	return b.String()
}
