package vmrules

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// vmFlavor reads the vm flavor named name and the size it gives a VM.
func vmFlavor(ctx context.Context, s *store.Store, name string) (f *model.Flavor, cpu int32, memMB int64, err error) {
	f, err = s.FlavorByName(ctx, model.FlavorVM, name)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, 0, 0, errs.Invalid("vm flavor %q not found", name).WithData("field", "flavor")
	}
	if err != nil {
		return nil, 0, 0, err
	}
	cpu, memMB, err = Size(f)
	return f, cpu, memMB, err
}

// Resize checks that vm may take the vm flavor named name (one other than its own) and
// returns the resize: the new size and cost (Resized).
func Resize(ctx context.Context, s *store.Store, vm *model.VM, name string) (store.Resize, error) {
	flavor, cpu, mem, err := vmFlavor(ctx, s, name)
	if err != nil {
		return store.Resize{}, err
	}
	if flavor.ID == vm.FlavorID {
		return store.Resize{}, errs.Invalid("Vm #%s has flavor %s already", vm.ID, name).WithData("field", "flavor")
	}
	old, err := store.Get[model.Flavor](ctx, s, model.KindFlavor, vm.FlavorID)
	if err != nil {
		return store.Resize{}, err
	}
	return store.Resize{FlavorID: flavor.ID, Flavor: flavor.Name, CPU: cpu, MemoryMB: mem, Cost: Resized(vm.Cost, old, flavor)}, nil
}
