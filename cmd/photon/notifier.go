package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/shared/notify"
)

func notifierCmd() *cobra.Command {
	var p partFlags
	var o notify.Options
	var sinks sinkFlags
	var mf metricsFlag
	cmd := &cobra.Command{
		Use:   "notifier",
		Short: "Publish every state change as a CloudEvent and deliver it to subscriptions' sinks",
		Long: `Runs the outbound events service (shared/notify): it derives the events of docs/events.md
from the store's outbox into the events:out stream, and POSTs each to the HTTP sinks of the
subscriptions that match it, signed, retried, dead-lettered when a sink refuses it. Sinks
must be https at public addresses, checked at every connection, unless they are in a
network of --sink-allow-cidr (give the gateway the same). Run one or more: each takes the host name as its consumer name (or --consumer), with a suffix (-2,
-3...) while another live instance holds it. A restarted instance takes its name back and
resumes what it left unacknowledged at once; what a dead instance held is taken over by a
live one within seconds (consumers heartbeat every second).`,
		Example: `  photon notifier --redis redis://127.0.0.1:6379`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, rdb, closeFn, err := p.open(ctx, "photon-notifier")
			if err != nil {
				return err
			}
			defer closeFn()
			stopMetrics, err := mf.serve("notifier")
			if err != nil {
				return err
			}
			defer stopMetrics()
			o.Logger = logger(p.logLevel)
			if o.Sinks, err = sinks.policy(); err != nil {
				return err
			}
			sv, err := notify.Start(ctx, rdb, s.Prefix(), s, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stdout, "notifier: delivering", notify.EventsStream(s.Prefix()))
			<-ctx.Done()
			closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return sv.Close(closeCtx)
		},
	}
	p.add(cmd)
	mf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Consumer, "consumer", "", "this instance's name in the consumer groups, stable across restarts (default: the host name)")
	f.DurationVar(&o.ClaimIdle, "claim-idle", time.Minute, "take over what a live instance gave back unacknowledged after this long")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "bound of one delivery attempt")
	f.IntVar(&o.Attempts, "attempts", 6, "delivery attempts before an event is dead-lettered")
	f.DurationVar(&o.Backoff, "backoff", time.Second, "wait before the first retry, doubled for each next one")
	f.DurationVar(&o.MaxBackoff, "max-backoff", time.Minute, "longest wait between retries")
	f.IntVar(&o.QueueSize, "queue", 1000, "events queued per subscription at most")
	f.DurationVar(&o.EventsMaxAge, "events-max-age", notify.DefaultEventsMaxAge, "keep an outbound event some consumer group of events:out has not read this long at most (what every group read goes at once; below 0: no bound by age)")
	sinks.add(cmd, nil)
	f.DurationVar(&o.Stall, "stall", 2*time.Second, "a subscription whose delivery runs longer is stalled: events its full queue cannot take are dead-lettered")
	return cmd
}
