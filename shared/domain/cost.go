package domain

import (
	"strings"

	"github.com/photon-cloud/photon/shared/errs"
)

// The quota keys a VM's cost is built from.
const (
	CostVMCount  = "vm.count"
	CostVMCPU    = "vm.cpu"
	CostVMMemory = "vm.memory"
	// CostEphemeralCapacity is the GB of a VM's ephemeral disks.
	CostEphemeralCapacity = "ephemeral-disk.capacity"
	// CostFloatingIP counts a VM's floating IP addresses (COUNT), as Photon's SDK names it.
	CostFloatingIP = "sdn.floatingip.size"
)

// UnitFactor converts a quota unit to the base unit of its kind (MB for sizes).
func UnitFactor(unit string) (float64, error) {
	switch strings.ToUpper(unit) {
	case "", "COUNT", "MB":
		return 1, nil
	case "GB":
		return 1024, nil
	case "KB":
		return 1.0 / 1024, nil
	case "B":
		return 1.0 / (1024 * 1024), nil
	}
	return 0, errs.Invalid("unknown unit %q (want COUNT, B, KB, MB or GB)", unit)
}

// Canonical expresses a quota value in the unit quota is counted in: COUNT for counts and
// GB for sizes, so a flavor's "2048 MB" and a project's "64 GB" limit compare correctly.
func Canonical(value float64, unit string) (float64, string, error) {
	k, err := UnitFactor(unit)
	if err != nil {
		return 0, "", err
	}
	switch strings.ToUpper(unit) {
	case "", "COUNT":
		return value, "COUNT", nil
	}
	return value * k / 1024, "GB", nil
}
