package keyspace

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestSeeds(t *testing.T) {
	cases := []struct {
		name, base, rest string
		sentinel         bool
		want, err        string
	}{
		{"one seed", "redis", "127.0.0.1:7000", false, "redis://127.0.0.1:7000", ""},
		{"seeds", "redis", "a:1,b:2,c:3", false, "redis://a:1?addr=b%3A2&addr=c%3A3", ""},
		{"seeds, password and options", "rediss", "u:p@a:1,b:2?dial_timeout=3s", false,
			"rediss://u:p@a:1?addr=b%3A2&dial_timeout=3s", ""},
		{"a database on a cluster", "redis", "a:1/2", false, "", "has no database"},
		{"sentinel", "redis", "s1:26379,s2:26379/mymaster", true,
			"redis://s1:26379?addr=s2%3A26379&master_name=mymaster", ""},
		{"sentinel with a database", "redis", "s1:26379/mymaster/3", true,
			"redis://s1:26379/3?master_name=mymaster", ""},
		{"sentinel without a primary", "redis", "s1:26379", true, "", "name the primary"},
		{"no host", "redis", "", false, "", "no host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := seeds(tc.base, tc.rest, tc.sentinel)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("seeds(%q) = %q, %v; want an error with %q", tc.rest, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("seeds(%q) = %q, %v; want %q", tc.rest, got, err, tc.want)
			}
		})
	}
}

func TestNewClient(t *testing.T) {
	cases := []struct {
		url  string
		want string // the client's type, or an error's text
	}{
		{"redis://127.0.0.1:6379/1", "batched *redis.Client"},
		{"unix:///run/redis.sock", "batched *redis.Client"},
		{"redis+cluster://127.0.0.1:7000,127.0.0.1:7001", "*redis.ClusterClient"},
		{"redis+sentinel://127.0.0.1:26379/mymaster", "batched *redis.Client"},
		{"redis+cluster://127.0.0.1:7000?bogus=1", "redis cluster URL"},
		{"redis+raft://127.0.0.1:7000", "unknown scheme"},
		{"127.0.0.1:6379", "want scheme://host:port"},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			c, err := NewClient(tc.url, 8)
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("NewClient(%q): %v; want %q", tc.url, err, tc.want)
				}
				return
			}
			defer c.Close()
			var got string
			if b, ok := c.(Batched); ok {
				got, c = "batched ", b.Client()
			}
			switch c := c.(type) {
			case *redis.ClusterClient:
				got += "*redis.ClusterClient"
				if c.Options().Protocol != 2 || c.Options().PoolSize != 8 {
					t.Errorf("options %+v", c.Options())
				}
			case *redis.Client:
				got += "*redis.Client"
				if c.Options().Protocol != 2 || c.Options().PoolSize != 8 {
					t.Errorf("options %+v", c.Options())
				}
			}
			if got != tc.want {
				t.Fatalf("NewClient(%q) is a %s, want %s", tc.url, got, tc.want)
			}
		})
	}
}

func TestRedactAndDefaults(t *testing.T) {
	for url, want := range map[string]string{
		"redis://:secret@h:1/0":        "redis://:xxxxx@h:1/0",
		"redis+cluster://u:pw@a:1,b:2": "redis+cluster://u:xxxxx@a:1,b:2",
		"redis://h:1":                  "redis://h:1",
		"redis+sentinel://u@s:1/m":     "redis+sentinel://u@s:1/m",
	} {
		if got := Redact(url); got != want {
			t.Errorf("Redact(%q) = %q, want %q", url, got, want)
		}
	}
	for _, tc := range []struct {
		url        string
		flag, want int
	}{
		{"redis://h:1", -1, 0}, {"redis+cluster://a:1", -1, 1}, {"redis+sentinel://s:1/m", -1, 1},
		{"redis+cluster://a:1", 0, 0}, {"redis://h:1", 2, 2},
	} {
		if got := DefaultReplicas(tc.url, tc.flag); got != tc.want {
			t.Errorf("DefaultReplicas(%q, %d) = %d, want %d", tc.url, tc.flag, got, tc.want)
		}
	}
}
