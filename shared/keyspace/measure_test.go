package keyspace_test

import (
	"testing"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestMeasure reads memory, keys and CPU from the test redis-server (one, or every
// primary of a cluster).
func TestMeasure(t *testing.T) {
	rdb, err := keyspace.Open(t.Context(), storetest.URL(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	key := storetest.Prefix(t) + "measure"
	if err := rdb.Set(t.Context(), key, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.Del(t.Context(), key)
	u, err := keyspace.Measure(t.Context(), rdb)
	if err != nil {
		t.Fatal(err)
	}
	if u.Keys < 1 || !u.CPU || u.UsedMemory <= 0 || u.CPUSeconds <= 0 {
		t.Fatalf("Measure = %+v", u)
	}
}
