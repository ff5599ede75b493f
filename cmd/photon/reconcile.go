package main

import (
	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/functions/reconcile"
)

// reconcileFlags are the reconciler's options, on every command that runs it.
type reconcileFlags struct{ reconcile.Options }

func (r *reconcileFlags) add(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&r.Every, "reconcile-every", reconcile.DefaultEvery,
		"how often the reconciler compares every host's inventory with the records (below 0: only when a host registers)")
	cmd.Flags().StringVar(&r.Policy, "reconcile-policy", reconcile.PolicyReport,
		"what the reconciler does with a VM on a host that Photon does not know: report (list it under /v1/infrastructure/orphans) or remove (list it, then delete it from the host)")
	cmd.Flags().IntVar(&r.VMsPerSecond, "reconcile-vms-per-second", reconcile.DefaultVMsPerSecond,
		"at most this many VMs a second compared by the timer's passes: a larger fleet is gone over in several periods, a share of the hosts each (below 0: no bound)")
}

// options checks the flags and answers the reconciler's options.
func (r *reconcileFlags) options() (reconcile.Options, error) {
	return r.Options, reconcile.CheckPolicy(r.Policy)
}
