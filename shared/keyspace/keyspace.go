// Package keyspace is how Photon reaches Redis and lays its keys out there.
//
// Open turns one URL into a client: a single server (redis://, rediss://, unix://), a
// primary watched by Sentinel (redis+sentinel://), or a Redis Cluster
// (redis+cluster://, several seeds separated by commas). Every part of Photon takes the
// same --redis flag and hands the client it gets to the stores, which see no difference.
// The client of one server or of a Sentinel's primary batches the commands of
// concurrent callers into shared round trips (Batched).
//
// The slot plan: every key an atomic script or MULTI/EXEC touches shares a hash tag, so
// that on a cluster each such write runs on one node. A key space's keys are
// Space(prefix, group) + its own names, and the groups are:
//
//   - Store: the data model (entities, their indexes and names, tasks, quota and host
//     reservations, the outbox, the chain starts and awaits), the notifier's events
//     stream, which it appends to in one MULTI with its acknowledgement of the outbox,
//     and the functions' event streams. A task start writes its task, its entity, the
//     outbox and the starts stream in one script, and every entity write appends to the
//     one outbox, so the group is one slot. The event streams join it although no
//     script spans them and the store: a failover keeps a prefix of one primary's
//     writes, so a step's outcome and the event it emitted are kept or lost together;
//     on two primaries a failover could keep the event and lose the outcome.
//   - Auth: users, groups, refresh-token families, login codes and failure counts.
//   - PKI: the platform CA and the join tokens.
//
// docs/architecture.md ("State in Redis") has the plan per script, and what it costs:
// the store's writes are one slot's, so they scale with one primary's CPU; a cluster
// brings failover without losing acknowledged tasks (Store.WaitForReplicas).
package keyspace

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// The key groups of the slot plan: a group's keys hash to one slot.
const (
	Store = "store"
	Auth  = "auth"
	PKI   = "pki"
)

// Space is the start of every key of group under prefix: prefix + "{group}:". The braces
// are a Redis Cluster hash tag; a single server ignores them.
func Space(prefix, group string) string { return prefix + "{" + group + "}:" }

// Schemes of the URLs Open takes beside redis's own.
const (
	clusterScheme  = "+cluster"
	sentinelScheme = "+sentinel"
)

// Open connects to the Redis that url names and checks that it answers:
//
//	redis://[user:password@]host:port[/db]      one server (rediss:// for TLS, unix:// for a socket)
//	redis+cluster://[user:password@]h1:p1,h2:p2 a Redis Cluster, by any of its nodes
//	redis+sentinel://[user:password@]s1:p1,s2:p2/primary[/db]
//	                                            the primary named "primary" that Sentinels watch
//
// Query parameters set go-redis options (dial_timeout=3s, ...); poolSize, when not 0, is
// the connections kept per server. Every client speaks RESP2: Photon uses no push
// notifications, and a RESP3 client looks for them with an extra read per command.
func Open(ctx context.Context, rawURL string, poolSize int) (redis.UniversalClient, error) {
	c, err := NewClient(rawURL, poolSize)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis %s: %w", Redact(rawURL), err)
	}
	return c, nil
}

// NewClient is Open without the check that the server answers.
func NewClient(rawURL string, poolSize int) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, fmt.Errorf("redis URL %q: want scheme://host:port", Redact(rawURL))
	}
	base, kind, _ := strings.Cut(scheme, "+")
	switch "+" + kind {
	case clusterScheme:
		u, err := seeds(base, rest, false)
		if err != nil {
			return nil, err
		}
		o, err := redis.ParseClusterURL(u)
		if err != nil {
			return nil, fmt.Errorf("redis cluster URL: %w", err)
		}
		o.Protocol = 2
		if poolSize > 0 {
			o.PoolSize = poolSize
		}
		return redis.NewClusterClient(o), nil
	case sentinelScheme:
		u, err := seeds(base, rest, true)
		if err != nil {
			return nil, err
		}
		o, err := redis.ParseFailoverURL(u)
		if err != nil {
			return nil, fmt.Errorf("redis sentinel URL: %w", err)
		}
		o.Protocol = 2
		if poolSize > 0 {
			o.PoolSize = poolSize
		}
		return batched(redis.NewFailoverClient(o)), nil
	case "+":
		o, err := ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		if poolSize > 0 {
			o.PoolSize = poolSize
		}
		return batched(redis.NewClient(o)), nil
	}
	return nil, fmt.Errorf("redis URL %q: unknown scheme %q (redis, rediss, unix, redis+cluster, redis+sentinel)", Redact(rawURL), scheme)
}

// Batched is the client NewClient returns for one server or a Sentinel's primary: the
// commands that concurrent callers send at once go to Redis in one write, and their
// replies come back in one read (go-redis's autopipelining, its blocking face: each call
// still waits for its own reply, in order per caller). A round trip of its own per
// command cost more CPU, in system calls on both sides, than anything Photon does with
// the command's result. Blocking reads (XREADGROUP ... BLOCK, WAIT), WATCH transactions
// and explicit pipelines run on connections of their own, as before. A command runs
// even when its caller's context had ended before the call (the plain client refuses
// it): code that must take on no new work once its context ends checks the context
// itself, as the gateway's provisioning takeover does.
//
// A cluster client is not batched: each node would need its own batches, and the
// scans and failover handling here work on the cluster client itself.
type Batched struct {
	*redis.AutoPipeliner
	client *redis.Client
}

func batched(c *redis.Client) redis.UniversalClient {
	ap, err := c.AutoPipeline()
	if err != nil {
		return c // only for options the defaults never set
	}
	return Batched{AutoPipeliner: ap, client: c}
}

// Client is the client the batches go through, for what only it has (its options).
func (b Batched) Client() *redis.Client { return b.client }

// Close closes the client, its batching and its connections.
func (b Batched) Close() error { return b.client.Close() }

// ParseURL reads a single server's URL into client options, speaking RESP2.
func ParseURL(rawURL string) (*redis.Options, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opt.Protocol = 2
	return opt, nil
}

// seeds rewrites "[userinfo@]h1:p1,h2:p2[/path][?query]" into the form of go-redis's
// cluster and failover parsers: the first address as host and the others as addr
// parameters. With sentinel, the path's first element is the primary's name
// (master_name) and the second, if any, the database.
func seeds(base, rest string, sentinel bool) (string, error) {
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	path := ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest, path = rest[:i], strings.Trim(rest[i:], "/")
	}
	user := ""
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		user, rest = rest[:i+1], rest[i+1:]
	}
	hosts := strings.Split(rest, ",")
	if rest == "" || hosts[0] == "" {
		return "", fmt.Errorf("redis URL: no host")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("redis URL query: %w", err)
	}
	for _, h := range hosts[1:] {
		if h != "" {
			q.Add("addr", h)
		}
	}
	db := ""
	if sentinel {
		name, rest, _ := strings.Cut(path, "/")
		if name == "" {
			return "", fmt.Errorf("redis sentinel URL: name the primary: redis+sentinel://host:port/<primary>")
		}
		q.Set("master_name", name)
		if rest != "" {
			db = "/" + rest
		}
	} else if path != "" {
		return "", fmt.Errorf("redis cluster URL: a cluster has no database (%q)", path)
	}
	u := base + "://" + user + hosts[0] + db
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u, nil
}

// Redact hides a URL's password, for messages.
func Redact(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	at := strings.LastIndexByte(strings.SplitN(rest, "/", 2)[0], '@')
	if at < 0 {
		return rawURL
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return rawURL
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// ForEachPrimary runs fn on every primary that holds keys: each node of a cluster, or the
// one server. Scans and whole-keyspace reads go through it, since a cluster node's SCAN
// sees only its own slots.
func ForEachPrimary(ctx context.Context, rdb redis.UniversalClient, fn func(context.Context, redis.UniversalClient) error) error {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return fn(ctx, n) })
	}
	return fn(ctx, rdb)
}

// Scan calls fn with every key matching match (of type typ, when not empty) on every
// primary.
func Scan(ctx context.Context, rdb redis.UniversalClient, match, typ string, fn func(key string) error) error {
	return ForEachPrimary(ctx, rdb, func(ctx context.Context, n redis.UniversalClient) error {
		var it *redis.ScanIterator
		if typ != "" {
			it = n.ScanType(ctx, 0, match, 1000, typ).Iterator()
		} else {
			it = n.Scan(ctx, 0, match, 1000).Iterator()
		}
		for it.Next(ctx) {
			if err := fn(it.Val()); err != nil {
				return err
			}
		}
		return it.Err()
	})
}

// Primary is the client of the primary that holds key: the node of a cluster that owns
// key's slot, or rdb itself. A command that must run on the connection of an earlier
// write, such as WAIT, goes there in one pipeline with the write.
func Primary(ctx context.Context, rdb redis.UniversalClient, key string) (redis.UniversalClient, error) {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.MasterForKey(ctx, key)
	}
	return rdb, nil
}

// Usage is what the primaries hold and have spent: the bytes used (INFO memory's
// used_memory), the keys, and the CPU seconds used since each started (INFO cpu's
// used_cpu_user plus used_cpu_sys), summed over a cluster's primaries. CPU is false when
// a server does not report its CPU (the embedded Redis).
type Usage struct {
	UsedMemory int64
	Keys       int64
	CPUSeconds float64
	CPU        bool
}

// Measure sums the usage of every primary.
func Measure(ctx context.Context, rdb redis.UniversalClient) (Usage, error) {
	u := Usage{CPU: true}
	var mu sync.Mutex
	err := ForEachPrimary(ctx, rdb, func(ctx context.Context, n redis.UniversalClient) error {
		info, err := n.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		// Its own call: INFO of several sections is Redis 7's, and the embedded Redis
		// has no cpu section.
		if cpu, err := n.Info(ctx, "cpu").Result(); err == nil {
			info += "\n" + cpu
		}
		keys, err := n.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		var used int64
		var cpu float64
		var cpuFields int
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			switch k {
			case "used_memory":
				used, _ = strconv.ParseInt(v, 10, 64)
			case "used_cpu_user", "used_cpu_sys":
				f, err := strconv.ParseFloat(v, 64)
				if err == nil {
					cpu += f
					cpuFields++
				}
			}
		}
		mu.Lock()
		defer mu.Unlock()
		u.UsedMemory += used
		u.Keys += keys
		u.CPUSeconds += cpu
		u.CPU = u.CPU && cpuFields == 2
		return nil
	})
	return u, err
}

// DefaultReplicas is how many replicas a write that starts a task waits for when the
// --redis-wait-replicas flag is left at its default (-1): one for a cluster or a
// Sentinel-watched primary, whose replicas take over from a failed primary, and none
// for one server.
func DefaultReplicas(rawURL string, flag int) int {
	if flag >= 0 {
		return flag
	}
	scheme, _, _ := strings.Cut(rawURL, "://")
	if strings.HasSuffix(scheme, clusterScheme) || strings.HasSuffix(scheme, sentinelScheme) {
		return 1
	}
	return 0
}

// migratedMarker is set once the keys of an earlier layout were moved (Migrate).
const migratedMarker = "keyspace:tagged"

// Migrate moves the keys an earlier Photon wrote under prefix, before its keys carried
// hash tags ("photon:vm:<id>"), to their group's space ("photon:{store}:vm:<id>"), and
// returns how many it moved and how many it left because the new key exists already.
// Every part that opens Redis runs it before it reads: a rename is atomic and the first
// part to make it wins, so parts starting together are safe, and a marker key ends
// the work after the first complete pass. Stop every part of the earlier version
// before starting the new one. A cluster is left alone: no earlier Photon ran on one.
func Migrate(ctx context.Context, rdb redis.UniversalClient, prefix string) (moved, kept int, err error) {
	if _, ok := rdb.(*redis.ClusterClient); ok {
		return 0, 0, nil
	}
	marker := Space(prefix, Store) + migratedMarker
	if n, err := rdb.Exists(ctx, marker).Result(); err != nil || n == 1 {
		return 0, 0, err
	}
	err = Scan(ctx, rdb, GlobEscape(prefix)+"*", "", func(key string) error {
		rest := strings.TrimPrefix(key, prefix)
		if strings.HasPrefix(rest, "{") {
			return nil
		}
		ok, err := rdb.RenameNX(ctx, key, Space(prefix, groupOf(rest))+rest).Result()
		switch {
		case err != nil && strings.Contains(err.Error(), "no such key"): // another part moved it
		case err != nil:
			return fmt.Errorf("move %s: %w", key, err)
		case ok:
			moved++
		default:
			kept++
		}
		return nil
	})
	if err != nil {
		return moved, kept, err
	}
	return moved, kept, rdb.Set(ctx, marker, "1", 0).Err()
}

// groupOf is the group of a key of the earlier layout, named after the prefix.
func groupOf(rest string) string {
	switch {
	case rest == "users", rest == "groups", strings.HasPrefix(rest, "user:"), strings.HasPrefix(rest, "group:"),
		strings.HasPrefix(rest, "auth:"):
		return Auth
	case strings.HasPrefix(rest, "pki:"):
		return PKI
	}
	return Store
}

// GlobEscape quotes the characters SCAN's MATCH pattern gives a meaning to.
func GlobEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}
