package place

import (
	"context"

	"github.com/photon-cloud/photon/metrics"
)

// Fleet is what the index holds of the whole fleet: hosts by state, and capacity against
// what Photon reserved (Redis's counters as last read, without this instance's
// placements in flight). Datastores count per host, as placement weighs them: a
// datastore several hosts mount counts once per host, with the space reserved through each.
type Fleet struct {
	Hosts                        map[string]int
	CPUs, CPUsReserved           int64
	MemoryMB, MemoryUsedMB       int64
	DatastoreMB, DatastoreUsedMB int64
}

// Fleet sums the index: a walk of the hosts in memory, no Redis call. ok is false
// before the index is first loaded.
func (x *Index) Fleet() (f Fleet, ok bool) {
	if !x.loaded.Load() {
		return f, false
	}
	f.Hosts = map[string]int{}
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, e := range x.entries {
		if e == nil {
			continue
		}
		f.Hosts[e.cand.Host.State]++
		f.CPUs += e.truth.CPUTotal
		f.CPUsReserved += e.truth.CPUUsed
		f.MemoryMB += e.truth.MemTotal
		f.MemoryUsedMB += e.truth.MemUsed
		for _, d := range e.truth.Datastores {
			f.DatastoreMB += d.Total
			f.DatastoreUsedMB += d.Used
		}
	}
	return f, true
}

const mb = 1 << 20

// observe reports the fleet's gauges at each scrape, from the index, until stop.
func (f *Function) observe() (stop func()) {
	return metrics.Observe(func(_ context.Context, o metrics.Observer) {
		fl, ok := f.index.Fleet()
		if !ok {
			return
		}
		for state, n := range fl.Hosts {
			o.Gauge(&metrics.Hosts, float64(n), state)
		}
		o.Gauge(&metrics.FleetCPUs, float64(fl.CPUs), "capacity")
		o.Gauge(&metrics.FleetCPUs, float64(fl.CPUsReserved), "reserved")
		o.Gauge(&metrics.FleetMemory, float64(fl.MemoryMB*mb), "capacity")
		o.Gauge(&metrics.FleetMemory, float64(fl.MemoryUsedMB*mb), "reserved")
		o.Gauge(&metrics.FleetDatastore, float64(fl.DatastoreMB*mb), "capacity")
		o.Gauge(&metrics.FleetDatastore, float64(fl.DatastoreUsedMB*mb), "reserved")
	}, &metrics.Hosts, &metrics.FleetCPUs, &metrics.FleetMemory, &metrics.FleetDatastore)
}
