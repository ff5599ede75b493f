package main

import (
	"reflect"
	"testing"
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
