package keyspace_test

import (
	"testing"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestMigrate: the keys of the layout before hash tags move to their group's space, a
// key whose new name exists already stays, keys of another prefix are left alone, and a
// second run does nothing.
func TestMigrate(t *testing.T) {
	storetest.SingleURL(t) // the earlier layout never ran on a cluster
	ctx := t.Context()
	rdb := storetest.Client(t)
	prefix, other := storetest.Prefix(t), storetest.Prefix(t)
	cases := []struct{ old, moved string }{
		{"vm:1", "{store}:vm:1"},
		{"idx:tasks:e1", "{store}:idx:tasks:e1"},
		{"stream:place", "{store}:stream:place"},
		{"events:out", "{store}:events:out"},
		{"subnetports:{s1}", "{store}:subnetports:{s1}"},
		{"user:admin", "{auth}:user:admin"},
		{"users", "{auth}:users"},
		{"group:admins", "{auth}:group:admins"},
		{"auth:key", "{auth}:auth:key"},
		{"pki:ca", "{pki}:pki:ca"},
	}
	for _, tc := range cases {
		if err := rdb.Set(ctx, prefix+tc.old, tc.old, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A key written under the new layout already: the old one stays beside it.
	rdb.Set(ctx, prefix+"vm:2", "old", 0)
	rdb.Set(ctx, keyspace.Space(prefix, keyspace.Store)+"vm:2", "new", 0)
	rdb.Set(ctx, other+"vm:3", "other", 0)

	moved, kept, err := keyspace.Migrate(ctx, rdb, prefix)
	if err != nil || moved != len(cases) || kept != 1 {
		t.Fatalf("Migrate = %d moved, %d kept, %v; want %d, 1", moved, kept, err, len(cases))
	}
	for _, tc := range cases {
		if v, err := rdb.Get(ctx, prefix+tc.moved).Result(); err != nil || v != tc.old {
			t.Errorf("%s after the move: %q, %v", tc.moved, v, err)
		}
		if n, _ := rdb.Exists(ctx, prefix+tc.old).Result(); n != 0 {
			t.Errorf("%s still there", tc.old)
		}
	}
	if v, _ := rdb.Get(ctx, keyspace.Space(prefix, keyspace.Store)+"vm:2").Result(); v != "new" {
		t.Errorf("the newer vm:2 was overwritten: %q", v)
	}
	if v, _ := rdb.Get(ctx, other+"vm:3").Result(); v != "other" {
		t.Errorf("another prefix's key moved: %q", v)
	}
	rdb.Set(ctx, prefix+"vm:4", "late", 0)
	if moved, kept, err := keyspace.Migrate(ctx, rdb, prefix); moved != 0 || kept != 0 || err != nil {
		t.Fatalf("a second run: %d moved, %d kept, %v", moved, kept, err)
	}
}
