// Package vmedit applies the changes to a VM's record that need no host: its metadata
// (SET_METADATA) and its tags (ADD_TAG), as the task's properties carry them.
//
// Consumes: io.photon.vm.set_metadata.authorized, io.photon.vm.add_tag.authorized.
// Emits: io.photon.vm.set_metadata.metadata.set, io.photon.vm.add_tag.tag.added.
// Undoes: nothing (the change is the last step and is made in one write). Idempotency:
// setting the same metadata or adding a tag the VM has changes nothing.
package vmedit

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the vmedit step.
type Function struct{ store *store.Store }

// New returns the vmedit function.
func New(s *store.Store) *Function { return &Function{store: s} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "vmedit" }

// Do applies the task's change to the VM.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	var apply func(v *model.VM) error
	switch c.Operation() {
	case domain.OpSetMetadata:
		var md map[string]string
		if err := json.Unmarshal([]byte(c.Task.Properties[model.PropMetadata]), &md); err != nil {
			return errs.Invalid("metadata: %v", err)
		}
		apply = func(v *model.VM) error {
			if maps.Equal(v.Metadata, md) {
				return store.ErrNoChange
			}
			v.Metadata = md
			return nil
		}
	case domain.OpAddTag:
		tag := c.Task.Properties[model.PropTag]
		apply = func(v *model.VM) error {
			if slices.Contains(v.Tags, tag) {
				return store.ErrNoChange
			}
			v.Tags = append(v.Tags, tag)
			return nil
		}
	default:
		return errs.Invalid("vmedit cannot run %s", c.Operation())
	}
	_, err := store.Update(ctx, f.store, model.KindVM, c.Data.EntityID, apply)
	return err
}

// Undo has nothing to undo.
func (f *Function) Undo(context.Context, *runtime.Call) error { return nil }
