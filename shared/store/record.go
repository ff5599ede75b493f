package store

import (
	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/model"
)

// encodeRecord is how the store writes a value. VMs and tasks, the records there are one
// or more of per VM, are kept compact once at rest (codec.Compact: about a quarter of
// their JSON, with their state in the header for the scripts' count of VMs by state): a
// task once it ended, a VM while no task holds it. While a chain works on them they stay
// JSON, which is cheaper to rewrite at every step: compressing every write cost a tenth
// of a burst's CPU, compressing at rest costs a write or two per VM. The rest is JSON,
// which scripts may read (a host's state) and which is small or rare. Every read goes
// through codec.Unmarshal, which takes either.
func encodeRecord(v any) ([]byte, error) {
	switch r := v.(type) {
	case *model.VM:
		if r.ActiveTask == "" {
			return codec.Compact(r, r.State)
		}
	case *model.Task:
		if r.Done() {
			return codec.Compact(r, r.State)
		}
	}
	return codec.Marshal(v)
}
