package domain

import (
	"errors"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
)

func TestNetwork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" for a refusal
	}{
		{"10.0.0.0/24", "10.0.0.0/24"},
		{"10.0.0.5/24", "10.0.0.0/24"}, // host bits set: Photon used the network
		{" 192.168.7.200/16 ", "192.168.0.0/16"},
		{"172.16.3.4/30", "172.16.3.4/30"},
		{"", ""},
		{"10.0.0.0", ""},
		{"10.0.0.0/8", ""}, // wider than a subnet may be
		{"10.0.0.0/31", ""},
		{"fd00::/64", ""},
		{"not a cidr", ""},
	}
	for _, tt := range tests {
		got, err := Network("privateIpCidr", tt.in, MinSubnetBits, MaxSubnetBits)
		if got != tt.want {
			t.Errorf("Network(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		var e *errs.Error
		if tt.want == "" && (!errors.As(err, &e) || e.Code != errs.CodeInvalidEntity || e.Data["field"] != "privateIpCidr") {
			t.Errorf("Network(%q): error %v, want InvalidEntity on privateIpCidr", tt.in, err)
		}
	}
}
