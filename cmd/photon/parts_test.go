package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestDatastoreTags(t *testing.T) {
	cases := []struct {
		flags []string
		want  map[string][]string
		err   bool
	}{
		{nil, map[string][]string{}, false},
		{[]string{"LocalDS_0=SSD, GOLD", "nfs-1=SLOW"}, map[string][]string{"LocalDS_0": {"SSD", "GOLD"}, "nfs-1": {"SLOW"}}, false},
		{[]string{"a=x", "a=y"}, map[string][]string{"a": {"x", "y"}}, false},
		{[]string{"SSD"}, nil, true},
		{[]string{"=SSD"}, nil, true},
	}
	for _, tc := range cases {
		got, err := datastoreTags(tc.flags)
		if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("datastoreTags(%q) = %v, %v; want %v", tc.flags, got, err, tc.want)
		}
	}
}

// TestHostdHasNoRedisFlag: hostd reaches the control plane through the registrar only;
// making a join token is an administrator's act on the control plane's Redis.
func TestHostdHasNoRedisFlag(t *testing.T) {
	cases := []struct {
		name      string
		cmd       *cobra.Command
		wantRedis bool
	}{
		{"photon hostd", hostdCmd(), false},
		{"photon hostd join-token", joinTokenCmd(), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cmd.Flags().Lookup("redis") != nil; got != tc.wantRedis {
				t.Errorf("--redis: %v, want %v", got, tc.wantRedis)
			}
			help := tc.cmd.Long + tc.cmd.Example + tc.cmd.UsageString()
			if got := strings.Contains(help, "--redis"); got != tc.wantRedis {
				t.Errorf("--help mentions --redis: %v, want %v", got, tc.wantRedis)
			}
		})
	}
}

// TestHostdSimHelp: photon hostd --sim says that it loses its simulated host on restart,
// and --sim-listen serves that host's SDK at a known address.
func TestHostdSimHelp(t *testing.T) {
	cmd := hostdCmd()
	for _, flag := range []string{"sim", "sim-listen"} {
		if cmd.Flags().Lookup(flag) == nil {
			t.Errorf("no --%s", flag)
		}
	}
	help := cmd.Long + cmd.UsageString()
	for _, want := range []string{"are lost,", "--sim-listen"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help does not say %q", want)
		}
	}
}
