package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/loadtest"
	"github.com/photon-cloud/photon/shared/store"
)

// churn runs --churn cycles of create-and-delete churn and prints the RESULT churn line.
// rdb is the in-process cloud's Redis or, with --target, the target's (--redis).
func churn(ctx context.Context, o options, cl *loadtest.Client, api loadtest.API, fx loadtest.Fixture, rdb redis.UniversalClient, stdout io.Writer) error {
	if rdb == nil {
		return errors.New("--churn with --target needs --redis, the target's Redis, to measure it")
	}
	prefix := o.prefix
	if prefix == "" {
		prefix = store.DefaultPrefix
	}
	res, err := loadtest.Churn{Client: cl, API: api, Project: fx.Project, Cycles: o.churn, VMs: o.vms, Bulk: o.bulk,
		Concurrency: o.concurrency, Spec: fx.Spec, Redis: rdb, Prefix: prefix, Settle: o.churnSettle, For: o.churnFor, Quiet: o.churnQuiet, Out: stdout}.Do(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.ResultLine())
	return nil
}
