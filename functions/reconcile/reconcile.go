package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Policies for the orphan VMs a pass confirms.
const (
	PolicyReport = "report" // record them for administrators; leave them on the host
	PolicyRemove = "remove" // record them, then delete them from the host
)

// Options tune the reconciler.
type Options struct {
	// Every is the period of the timer that asks for a pass over every host; 0 is
	// DefaultEvery, below 0 no timer (passes only on registrations and requests).
	Every time.Duration
	// Policy is PolicyReport (the default) or PolicyRemove.
	Policy string
	// VMsPerSecond bounds how fast the timer's passes compare VMs with their records:
	// when the fleet holds more VMs than Every × VMsPerSecond, a round over every host
	// takes as many periods as that needs, and each period asks for passes over the next
	// share of the hosts. 0 is DefaultVMsPerSecond; below 0, no bound.
	VMsPerSecond int
	Log          *slog.Logger
}

// DefaultEvery is the timer's default period.
const DefaultEvery = 30 * time.Second

// DefaultVMsPerSecond is the default bound of the passes' rate: a pass costs about 17 µs
// of Photon's CPU per VM, hostd's side included (BenchmarkPass), and Redis's reads
// besides, so the timer's passes take about 4% of a core at most, and a fleet of a
// million VMs is gone over every 500 s.
const DefaultVMsPerSecond = 2000

// CheckPolicy refuses an unknown policy.
func CheckPolicy(p string) error {
	if p != "" && p != PolicyReport && p != PolicyRemove {
		return fmt.Errorf("reconcile policy %q: want %s or %s", p, PolicyReport, PolicyRemove)
	}
	return nil
}

// Function is the reconciler.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
	o     Options
}

// New returns the reconciler on s, calling hosts through hosts.
func New(s *store.Store, hosts *hostclient.Pool, o Options) *Function {
	if o.Every == 0 {
		o.Every = DefaultEvery
	}
	if o.Policy == "" {
		o.Policy = PolicyReport
	}
	if o.VMsPerSecond == 0 {
		o.VMsPerSecond = DefaultVMsPerSecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Function{store: s, hosts: hosts, o: o}
}

// Name implements runtime.Function.
func (f *Function) Name() string { return "reconcile" }

var errNoStep = errs.Permanent(errors.New("reconcile runs no chain step"))

// Do implements runtime.Function: the reconciler takes signals only.
func (f *Function) Do(context.Context, *runtime.Call) error { return errNoStep }

// Undo implements runtime.Function: the reconciler takes signals only.
func (f *Function) Undo(context.Context, *runtime.Call) error { return errNoStep }

// Signal runs a pass over the host the event names (runtime.Signaled).
func (f *Function) Signal(ctx context.Context, s events.Signal, e cloudevents.Event) error {
	if s.Type != events.HostReconcile.Type || e.Subject() == "" {
		return errs.Permanent(fmt.Errorf("reconcile takes no %s about %q", e.Type(), e.Subject()))
	}
	_, err := f.Pass(ctx, e.Subject())
	return err
}

// Background asks for a pass over every host each period, until ctx ends.
func (f *Function) Background(ctx context.Context) {
	if f.o.Every < 0 {
		return
	}
	t := time.NewTicker(f.o.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := f.RequestAll(ctx); err != nil && ctx.Err() == nil {
			f.o.Log.Warn("reconcile: request passes", "err", err)
		}
	}
}

// RequestAll asks for a pass over every host with a hostd, or over the next share of
// them when the fleet is too large for one period (Options.VMsPerSecond), unless another
// replica did in this period.
func (f *Function) RequestAll(ctx context.Context) error {
	won, err := f.store.TakeTick(ctx, "reconcile", f.o.Every*9/10)
	if err != nil || !won {
		return err
	}
	hosts, err := f.store.ListHosts(ctx)
	if err != nil {
		return err
	}
	var ids []string
	for _, h := range hosts {
		if h.State != model.HostCreating && h.State != model.HostError {
			ids = append(ids, h.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	states, err := f.store.VMStates(ctx)
	if err != nil {
		return err
	}
	var vms int64
	for _, n := range states {
		vms += n
	}
	if n := perPeriod(len(ids), vms, f.o.Every, f.o.VMsPerSecond); n < len(ids) {
		end, err := f.store.TickCursor(ctx, "reconcile", int64(n))
		if err != nil {
			return err
		}
		ids = share(ids, int(end%int64(len(ids))), n)
	}
	return f.store.AppendSignals(ctx, events.EncodeSignals("photon/function/reconcile", events.HostReconcile, ids...)...)
}

// perPeriod is how many of hosts one period's passes go over so that, with vms VMs on
// them, the passes compare at most perSecond VMs a second on average (every host when
// perSecond < 0).
func perPeriod(hosts int, vms int64, every time.Duration, perSecond int) int {
	budget := int64(float64(perSecond) * every.Seconds())
	if perSecond < 0 || vms <= budget || hosts == 0 {
		return hosts
	}
	rounds := (vms + budget - 1) / max(budget, 1)
	return max(1, int((int64(hosts)+rounds-1)/rounds))
}

// share is the n ids that end before index end of ids, read as a ring.
func share(ids []string, end, n int) []string {
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, ids[((end-n+i)%len(ids)+len(ids))%len(ids)])
	}
	return out
}

// passTimeout bounds a pass. passHold is how long the host of a pass whose process died
// stays held: the hold is renewed while the pass lives (store.HoldDriftPass), so a
// reconciler killed mid-pass delays the host's next pass by at most passHold.
const (
	passTimeout = 2 * time.Minute
	passHold    = 10 * time.Second
)

// Pass compares host's inventory with the records and acts on what it and the passes
// before it found. A pass already under way on the host makes this one a no-op.
func (f *Function) Pass(ctx context.Context, host string) (store.DriftResult, error) {
	release, ok, err := f.store.HoldDriftPass(ctx, host, passHold)
	if err != nil || !ok {
		return store.DriftResult{}, err
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	h, err := f.hosts.For(ctx, host)
	if errors.Is(err, errs.ErrNotFound) {
		return store.DriftResult{}, nil // the host is gone
	}
	if err != nil {
		return store.DriftResult{}, err
	}
	inv, err := h.ListInventory(ctx, &hostdv1.ListInventoryRequest{})
	if err != nil {
		return store.DriftResult{}, hostclient.Err("list inventory on host "+host, err)
	}
	recs, err := f.records(ctx, host, inv)
	if err != nil {
		return store.DriftResult{}, err
	}
	res, err := f.store.ApplyDrift(ctx, Compare(host, inv, recs))
	if err != nil {
		return res, err
	}
	f.report(host, res)
	if f.o.Policy == PolicyRemove {
		err = f.remove(ctx, h, host, res.Orphans)
	}
	return res, err
}

// records reads what Photon records about the host and the objects its inventory names.
func (f *Function) records(ctx context.Context, host string, inv *hostdv1.Inventory) (Records, error) {
	var r Records
	var err error
	if r.VMs, err = f.store.VMsOnHost(ctx, host); err != nil {
		return r, err
	}
	if r.Disks, err = f.store.DisksOnHost(ctx, host); err != nil {
		return r, err
	}
	placed := map[string]bool{}
	for _, vm := range r.VMs {
		placed[vm.ID] = true
	}
	var others []string
	for _, iv := range inv.GetVms() {
		if id := iv.GetVm().GetVmId(); !placed[id] {
			others = append(others, id)
		}
	}
	claimed, err := f.store.VMsByID(ctx, others)
	if err != nil {
		return r, err
	}
	r.Claimed = map[string]*model.VM{}
	for _, vm := range claimed {
		r.Claimed[vm.ID] = vm
	}
	ids := make([]string, 0, len(inv.GetDiskFiles()))
	for _, file := range inv.GetDiskFiles() {
		ids = append(ids, DiskID(file))
	}
	disks, err := f.store.DisksByID(ctx, ids)
	if err != nil {
		return r, err
	}
	r.DiskIDs = map[string]bool{}
	for _, d := range disks {
		r.DiskIDs[d.ID] = true
	}
	return r, nil
}

func (f *Function) report(host string, res store.DriftResult) {
	for _, id := range res.ErroredVMs {
		f.o.Log.Warn("reconcile: VM gone from its host", "host", host, "vm", id)
	}
	for _, id := range res.ErroredDisks {
		f.o.Log.Warn("reconcile: persistent disk's file gone", "host", host, "disk", id)
	}
	for _, o := range res.Reported {
		f.o.Log.Warn("reconcile: orphan on host", "host", host, "type", o.Type, "name", o.Name, "reason", o.StateReason)
	}
}

// remove deletes the orphan VMs from the host, each after its record says once more that
// Photon does not place it there and no task is making it.
func (f *Function) remove(ctx context.Context, h hostdv1.HostClient, host string, orphans []*model.Orphan) error {
	for _, o := range orphans {
		if o.Type != model.OrphanVM {
			continue
		}
		if id := o.VMID; id != "" {
			vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, id)
			if err != nil && !errors.Is(err, errs.ErrNotFound) {
				return err
			}
			if err == nil && (vm.HostID == host || vm.ActiveTask != "") {
				continue
			}
		}
		if err := f.store.OrphanRemoving(ctx, o.ID); err != nil {
			return err
		}
		if _, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: o.Name}); err != nil {
			return hostclient.Err(fmt.Sprintf("remove orphan VM %s from host %s", o.Name, host), err)
		}
		f.o.Log.Warn("reconcile: orphan VM removed", "host", host, "name", o.Name)
	}
	return nil
}
