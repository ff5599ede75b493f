package hostd_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

func TestDefaultDatastoreTags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ    string
		shared bool
		want   []string
	}{
		{"VMFS", false, []string{hostd.TagLocalVMFS}},
		{"VMFS", true, []string{hostd.TagSharedVMFS}},
		{"NFS", true, []string{hostd.TagNFS}},
		{"NFS41", true, []string{hostd.TagNFS}},
		{"vsan", true, []string{hostd.TagVSAN}},
		{"OTHER", false, nil},
	}
	for _, tc := range cases {
		if got := hostd.DefaultDatastoreTags(tc.typ, tc.shared); !slices.Equal(got, tc.want) {
			t.Errorf("DefaultDatastoreTags(%s, %v) = %v, want %v", tc.typ, tc.shared, got, tc.want)
		}
	}
}

// TestDatastoreReport: hostd reports each datastore's vSphere id (qualified with the host
// id for a local datastore when asked) and the tags it was given by name, at registration
// and in heartbeats.
func TestDatastoreReport(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		_, _, reg := startDaemon(t, b, hostd.Options{ID: "h7", TLS: hostTLS(t, testCA(t), "h7"), QualifyLocalDatastores: true,
			DatastoreTags: map[string][]string{"LocalDS_0": {"SSD", "SSD"}}})
		reg.mu.Lock()
		dss := reg.host.Datastores
		reg.mu.Unlock()
		check := func(when string, dss []*hostdv1.HostDatastore) {
			t.Helper()
			if len(dss) != 1 {
				t.Fatalf("%s: datastores %+v", when, dss)
			}
			ds := dss[0]
			// The tags of its type (none for vcsim's OTHER, LOCAL_VMFS for the hollow
			// host's), then the one it was given, once.
			want := append(hostd.DefaultDatastoreTags(ds.GetType(), false), "SSD")
			if !strings.HasPrefix(ds.GetId(), "datastore-") || !strings.HasSuffix(ds.GetId(), "@h7") || !slices.Equal(ds.GetTags(), want) {
				t.Fatalf("%s: datastore %v, want a qualified vSphere id and the tags %v", when, ds, want)
			}
		}
		check("registration", dss)
		select {
		case u := <-reg.heartbeats:
			check("heartbeat", u.GetDatastores())
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat")
		}
	})
}
