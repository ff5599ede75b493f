package gateway

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/metadata"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
)

// IdempotencyHeader names the request header (gRPC metadata "idempotency-key") with which
// a client makes a mutating call safe to retry: a second call with the same key, by the
// same caller, within IdempotencyTTL answers with the Task of the first and does nothing.
const (
	IdempotencyHeader = "Idempotency-Key"
	IdempotencyTTL    = 24 * time.Hour
)

func idempotencyKey(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("idempotency-key"); len(v) > 0 {
		return v[0]
	}
	return ""
}

type taskIDKey struct{}

// taskHookKey names a function in the context that learns the id of the task the call
// creates, before it is written (rules record how deep the task is in their firing).
type taskHookKey struct{}

// taskID is the id of the task a call creates: chosen in advance by idempotent, or new.
func taskID(ctx context.Context) string {
	id, ok := ctx.Value(taskIDKey{}).(string)
	if !ok {
		id = newID()
	}
	if hook, ok := ctx.Value(taskHookKey{}).(func(string)); ok {
		hook(id)
	}
	return id
}

// idempotent runs call once per idempotency key. The key is claimed with the id
// of the task the call will create before the call runs, so concurrent retries agree on
// one task; a call that fails gives its key back, so a corrected retry can run.
func (c *core) idempotent(ctx context.Context, call func(context.Context) (*pb.Task, error)) (*pb.Task, error) {
	key := idempotencyKey(ctx)
	if key == "" {
		return call(ctx)
	}
	if len(key) > 255 {
		return nil, errs.Invalid("%s is longer than 255 characters", IdempotencyHeader)
	}
	idem, who, id := c.store.Idempotency(), caller(ctx).Subject, newID()
	won, err := idem.Claim(ctx, who, key, id, IdempotencyTTL)
	if err != nil {
		return nil, err
	}
	if !won {
		return c.earlier(ctx, who, key)
	}
	task, err := call(context.WithValue(ctx, taskIDKey{}, id))
	if err != nil {
		// Give the key back, unless it has moved on meanwhile.
		if rerr := idem.Release(context.WithoutCancel(ctx), who, key, id); rerr != nil {
			c.log.Warn("release idempotency key", "err", rerr)
		}
		return nil, err
	}
	return task, nil
}

// earlier answers a retry with the task of the first call, waiting briefly for that call
// to write it if it is still running.
func (c *core) earlier(ctx context.Context, who, key string) (*pb.Task, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		id, ok, err := c.store.Idempotency().Task(ctx, who, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errs.New(errs.CodeConcurrentTask, "the first call with this %s failed; retry it", IdempotencyHeader)
		}
		t, err := c.store.GetTask(ctx, id)
		if err == nil {
			return taskPB(t), nil
		}
		if !errors.Is(err, errs.ErrNotFound) || time.Now().After(deadline) {
			return nil, errs.New(errs.CodeConcurrentTask, "a call with this %s is still running", IdempotencyHeader)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond): // the first call is between claiming the key and writing its task
		}
	}
}
