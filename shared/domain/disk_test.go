package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
)

// TestDiskMayStart walks every verb on a persistent disk against every state.
func TestDiskMayStart(t *testing.T) {
	states := []string{domain.DiskCreating, domain.DiskDetached, domain.DiskAttached, domain.DiskDeleting, domain.DiskError}
	cases := []struct {
		chain domain.ChainID
		op    domain.Op
		from  []string
	}{
		{domain.DiskDelete, domain.OpDeleteDisk, []string{domain.DiskDetached, domain.DiskError}},
		{domain.VMAttachDisk, domain.OpAttachDisk, []string{domain.DiskDetached}},
		{domain.VMDetachDisk, domain.OpDetachDisk, []string{domain.DiskAttached}},
	}
	for _, tc := range cases {
		for _, state := range states {
			t.Run(fmt.Sprintf("%s from %s", tc.chain, state), func(t *testing.T) {
				allowed := slices.Contains(tc.from, state)
				err := domain.DiskMayStart("d-1", state, "", tc.chain, tc.op)
				var e *errs.Error
				if allowed != (err == nil) || (err != nil && (!errors.As(err, &e) || e.Code != errs.CodeStateError)) {
					t.Fatalf("allowed %v, got %v", allowed, err)
				}
				err = domain.DiskMayStart("d-1", state, "task-0", tc.chain, tc.op)
				if !errors.As(err, &e) || e.Code != errs.CodeConcurrentTask {
					t.Fatalf("held disk: %v", err)
				}
			})
		}
	}
}
