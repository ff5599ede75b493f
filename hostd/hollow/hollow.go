package hollow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// Options size a hollow host. The defaults are those of hostdsim's simulated hosts: a
// server of the size Photon clouds ran on.
type Options struct {
	Name     string // host name; default "hollow"
	CPUCores int32  // default 32
	CPUMhz   int64  // clock of one core; default 2400
	MemoryGB int64  // default 256
	// Datastores local VMFS datastores LocalDS_0, LocalDS_1, ... of DatastoreGB each
	// (defaults 1 and 1024).
	Datastores  int
	DatastoreGB int64
	Networks    []string // default "VM Network"
	// Images are image disk paths (e.g. "images/photon-os.vmdk") put on every datastore,
	// 4 GB disks each.
	Images  []string
	Latency Latency
}

// Version is the ESXi version a hollow host registers.
const Version = "8.0.3-hollow"

// MaxKept is how much of an uploaded file a hollow host keeps; it keeps the size of all.
const MaxKept = 64 << 10

const imageKB = 4 << 20 // an image disk a hollow host starts with: 4 GB

// Host is a hollow host. It is a hostd.Backend; its other methods are what an operator
// or a guest does beside hostd (inspect.go).
type Host struct {
	o    Options
	mu   sync.Mutex
	vms  map[string]*vm // by vSphere name: a Photon VM's id
	dss  map[string]*datastore
	nets map[string]bool
	// fail are the hostd.v1 calls that fail (Fail).
	fail map[string]bool
}

var _ hostd.Backend = (*Host)(nil)

// New makes a hollow host as o says.
func New(o Options) *Host {
	o.Name = orDefault(o.Name, "hollow")
	o.CPUCores = positive(o.CPUCores, 32)
	o.CPUMhz = positive(o.CPUMhz, 2400)
	o.MemoryGB = positive(o.MemoryGB, 256)
	o.Datastores = positive(o.Datastores, 1)
	o.DatastoreGB = positive(o.DatastoreGB, 1024)
	if len(o.Networks) == 0 {
		o.Networks = []string{"VM Network"}
	}
	h := &Host{o: o, vms: map[string]*vm{}, dss: map[string]*datastore{}, nets: map[string]bool{}, fail: map[string]bool{}}
	for _, n := range o.Networks {
		h.nets[n] = true
	}
	for i := range o.Datastores {
		ds := &datastore{id: "datastore-" + randomHex(), name: fmt.Sprint("LocalDS_", i), capacity: o.DatastoreGB << 30,
			files: map[string]*file{}}
		for _, img := range o.Images {
			ds.put(img, &file{disk: true, capKB: imageKB})
		}
		h.dss[ds.name] = ds
	}
	return h
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func positive[N int | int32 | int64](n, d N) N {
	if n <= 0 {
		return d
	}
	return n
}

// Latency is how long each call to a hollow host takes: P50 alone is a fixed time; with a
// P99 above it, times are log-normal with that median and 99th percentile. Zero: none.
type Latency struct{ P50, P99 time.Duration }

// ParseLatency reads "P50" or "P50,P99" (Go durations, e.g. "2ms" or "2ms,20ms"); ""
// is no latency.
func ParseLatency(s string) (Latency, error) {
	var l Latency
	if s == "" {
		return l, nil
	}
	p50, p99, two := strings.Cut(s, ",")
	var err error
	if l.P50, err = time.ParseDuration(p50); err != nil || l.P50 < 0 {
		return l, fmt.Errorf("latency %q: want P50 or P50,P99 as durations, e.g. 2ms or 2ms,20ms", s)
	}
	if two {
		if l.P99, err = time.ParseDuration(p99); err != nil || l.P99 < l.P50 {
			return l, fmt.Errorf("latency %q: want P50,P99 with P99 at least P50, e.g. 2ms,20ms", s)
		}
	}
	return l, nil
}

func (l Latency) String() string {
	switch {
	case l.P50 <= 0:
		return "none"
	case l.P99 <= l.P50:
		return l.P50.String()
	}
	return l.P50.String() + "," + l.P99.String()
}

// z99 is the standard normal distribution's 99th percentile.
const z99 = 2.3263478740408408

// draw is one call's latency.
func (l Latency) draw() time.Duration {
	if l.P50 <= 0 {
		return 0
	}
	if l.P99 <= l.P50 {
		return l.P50
	}
	sigma := math.Log(float64(l.P99)/float64(l.P50)) / z99
	return time.Duration(float64(l.P50) * math.Exp(sigma*mrand.NormFloat64()))
}

// begin starts hostd.v1 call op: it takes the call's latency, outside the host's lock
// (calls overlap as a host's tasks do), fails it if Fail said so, and locks the host;
// the returned func unlocks it.
func (h *Host) begin(ctx context.Context, op string) (func(), error) {
	if d := h.o.Latency.draw(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	h.mu.Lock()
	if h.fail[op] {
		h.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "%s: injected fault", op)
	}
	return h.mu.Unlock, nil
}

// datastore is the datastore named name; h.mu is held.
func (h *Host) datastore(name string) (*datastore, error) {
	ds, ok := h.dss[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "datastore %q not found on this host", name)
	}
	return ds, nil
}

// mustVM is VM id; h.mu is held.
func (h *Host) mustVM(id string) (*vm, error) {
	v, ok := h.vms[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "VM %s not found on this host", id)
	}
	return v, nil
}

func (h *Host) GetResources(ctx context.Context) (*hostdv1.Resources, error) {
	unlock, err := h.begin(ctx, "GetResources")
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := &hostdv1.Resources{HostName: h.o.Name, CpuCores: h.o.CPUCores, CpuMhz: h.o.CPUMhz * int64(h.o.CPUCores),
		MemoryMb: h.o.MemoryGB << 10, VmCount: int32(len(h.vms)), VmPowers: make([]*hostdv1.VmPower, 0, len(h.vms))}
	for _, v := range h.vms {
		out.VmPowers = append(out.VmPowers, &hostdv1.VmPower{VmId: v.name, PowerState: v.power.String()})
		if v.power == poweredOn {
			out.CpuUsedMhz += int64(v.cpus) * h.o.CPUMhz / 10
			out.MemoryUsedMb += int64(v.memMB)
		}
	}
	for _, name := range sortedKeys(h.dss) {
		ds := h.dss[name]
		out.Datastores = append(out.Datastores, &hostdv1.Datastore{Id: ds.id, Name: ds.name, Type: "VMFS",
			CapacityBytes: ds.capacity, FreeBytes: max(ds.capacity-ds.used, 0), Images: ds.images()})
	}
	out.Networks = sortedKeys(h.nets)
	return out, nil
}

func (h *Host) ListInventory(ctx context.Context) (*hostdv1.Inventory, error) {
	unlock, err := h.begin(ctx, "ListInventory")
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := &hostdv1.Inventory{ReadAt: time.Now().UnixMilli(), Vms: make([]*hostdv1.InventoryVm, 0, len(h.vms))}
	for _, v := range h.vms {
		out.Vms = append(out.Vms, &hostdv1.InventoryVm{VsphereName: v.name, Photon: v.photon, Vm: v.report()})
	}
	for _, name := range sortedKeys(h.dss) {
		ds := h.dss[name]
		for _, p := range sortedKeys(ds.files) {
			if isPersistent(p) {
				out.DiskFiles = append(out.DiskFiles, ds.path(p))
			}
		}
	}
	return out, nil
}

// Ping answers: the hollow host is in this process.
func (h *Host) Ping(context.Context) error { return nil }

func (h *Host) Version() string { return Version }

// Close keeps the host as it is: a hostd started on it again finds what it left.
func (h *Host) Close(context.Context) error { return nil }
