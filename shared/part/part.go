// Package part labels goroutines with the part of Photon they work for (the profiler
// label "part"), so that a CPU profile of a process that runs several parts at once (the
// dev cloud of `photon up` and of photon-loadtest) splits its CPU by part, as separate
// processes would in production.
//
// A part labels its goroutines where they start, once: Enter around the code that starts
// them (a part's Start), or Set first thing in a goroutine of its own. A goroutine
// inherits its creator's labels, so the connections a server accepts and the goroutines
// a handler starts carry its part at no further cost; nothing is labelled per call.
package part

import (
	"context"
	"runtime/pprof"
)

// Key is the profiler label that names a goroutine's part.
const Key = "part"

// The parts. A function's part is Function(name).
const (
	Gateway    = "gateway"    // REST and gRPC serving, and the gateway's background work
	Relay      = "relay"      // the gateway's relay of chain starts to the broker
	Hostd      = "hostd"      // a host daemon (hostd), with its host backend
	HostClient = "hostclient" // the gRPC connections to hostds (their transport)
	Notifier   = "notifier"   // outbound events: derive, dispatch, deliver
	Rules      = "rules"      // the alert rules engine
	Registrar  = "registrar"  // host joins, registration and heartbeats
	Runtime    = "runtime"    // the function runtime's own work (autoscalers)
	Redis      = "redis"      // the embedded Redis (devredis), when it runs in the process
	LoadClient = "loadclient" // photon-loadtest's own API calls: not Photon
	Simulator  = "simulator"  // the simulated ESXi hosts (vcsim) and NSX Manager: not Photon
	Other      = "other"      // unlabelled: the Go runtime (GC workers), anything else
)

// Function is the part of the function named name.
func Function(name string) string { return "function:" + name }

// Context is ctx labelled with part p, to pass to Set (made once, reused).
func Context(ctx context.Context, p string) context.Context {
	return pprof.WithLabels(ctx, pprof.Labels(Key, p))
}

// Set labels the calling goroutine with the labels of ctx (made by Context): the
// goroutines it starts from then on inherit them. It costs one pointer store.
func Set(ctx context.Context) { pprof.SetGoroutineLabels(ctx) }

// Enter labels the calling goroutine with part p until restore is called, which gives it
// back the labels of ctx; the goroutines it starts meanwhile keep p. A part's Start
// begins with `defer part.Enter(ctx, part.X)()`.
func Enter(ctx context.Context, p string) (restore func()) {
	Set(Context(ctx, p))
	return func() { Set(ctx) }
}

// Of is the part named by labels (a profile sample's), Other when there is none.
func Of(labels map[string][]string) string {
	if v := labels[Key]; len(v) > 0 && v[0] != "" {
		return v[0]
	}
	return Other
}
