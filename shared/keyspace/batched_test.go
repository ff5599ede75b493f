package keyspace_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestDoneContext pins what Batched's comment says: a command whose context ended
// before the call still runs on a batched client, where the plain client refuses it. A
// change in go-redis that makes the two agree shows here.
func TestDoneContext(t *testing.T) {
	url := storetest.SingleURL(t)
	script := redis.NewScript(`return redis.call('SET', KEYS[1], ARGV[1])`)
	for _, tc := range []struct {
		name    string
		open    func() (redis.UniversalClient, error)
		wantRun bool
	}{
		{"batched", func() (redis.UniversalClient, error) { return keyspace.NewClient(url, 0) }, true},
		{"plain", func() (redis.UniversalClient, error) {
			c, err := keyspace.NewClient(url, 0)
			if err != nil {
				return nil, err
			}
			return c.(keyspace.Batched).Client(), nil
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.open()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			key := storetest.Prefix(t) + "k"
			if err := script.Load(t.Context(), c).Err(); err != nil {
				t.Fatal(err)
			}
			done, cancel := context.WithCancel(t.Context())
			cancel()
			setErr := c.Set(done, key+":set", "v", 0).Err()
			evalErr := script.Run(done, c, []string{key + ":eval"}, "v").Err()
			n, err := c.Exists(t.Context(), key+":set", key+":eval").Result()
			if err != nil {
				t.Fatal(err)
			}
			if ran := n == 2; ran != tc.wantRun || (setErr == nil) != tc.wantRun || (evalErr == nil) != tc.wantRun {
				t.Fatalf("on a done context: %d of 2 commands ran (SET: %v, script: %v); want all ran %v",
					n, setErr, evalErr, tc.wantRun)
			}
			c.Del(t.Context(), key+":set", key+":eval")
		})
	}
}
