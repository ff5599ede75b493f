package domain

import (
	"net/netip"
	"strings"

	"github.com/photon-cloud/photon/shared/errs"
)

// Bounds on CIDRs: a router's address space, and a subnet (whose address table the IPAM
// script searches, so it stays at most a /16).
const (
	MinRouterBits = 8
	MinSubnetBits = 16
	MaxSubnetBits = 30
)

// Network is the IPv4 network a CIDR names, in canonical form, with a prefix length in
// [minBits, maxBits]. Host bits are dropped, as Photon did: "10.0.0.5/24" is the network
// 10.0.0.0/24. Every refusal is InvalidEntity naming field.
func Network(field, v string, minBits, maxBits int) (string, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(v))
	switch {
	case strings.TrimSpace(v) == "":
		return "", errs.Invalid("%s is required", field).WithData("field", field)
	case err != nil || !p.Addr().Is4():
		return "", errs.Invalid("%s %q is not an IPv4 CIDR", field, v).WithData("field", field)
	case p.Bits() < minBits || p.Bits() > maxBits:
		return "", errs.Invalid("%s %q: the prefix length must be between /%d and /%d", field, v, minBits, maxBits).WithData("field", field)
	}
	return p.Masked().String(), nil
}
