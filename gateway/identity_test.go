package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/policy"
)

// TestIdentityEndpoints walks what a Photon client does: discover the issuer, log in
// with a password, call the API with the token, refresh it, call again; a replayed
// refresh token is refused.
func TestIdentityEndpoints(t *testing.T) {
	h := newHarness(t)
	base := "http://" + h.gw.HTTPAddr()
	if err := auth.NewUsers(h.rdb, h.s.Prefix()).Put(t.Context(), "admin", "s3cret", []string{policy.SystemAdminsGroup}); err != nil {
		t.Fatal(err)
	}
	getJSON := func(path string, out any) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(out) != nil {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
	}
	var disc struct {
		Issuer        string   `json:"issuer"`
		TokenEndpoint string   `json:"token_endpoint"`
		JWKSURI       string   `json:"jwks_uri"`
		Grants        []string `json:"grant_types_supported"`
	}
	getJSON(auth.DiscoveryPath, &disc)
	if disc.Issuer != "photon" || disc.TokenEndpoint == "" || disc.JWKSURI == "" || len(disc.Grants) != 3 {
		t.Fatalf("discovery: %+v", disc)
	}
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	getJSON(auth.JWKSPath, &jwks)
	if len(jwks.Keys) != 1 {
		t.Fatalf("jwks: %+v", jwks)
	}
	grant := func(form url.Values) (int, tokenReply) { return h.grant(t, form) }
	works := func(access string) bool {
		h.tokens["login"] = access
		_, err := h.invoke(t, "login", m("Tenants", "ListTenants"), &pb.ListTenantsRequest{})
		return err == nil
	}
	st, first := grant(url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"s3cret"},
		"scope": {"openid offline_access rs_photon_platform at_groups"}})
	if st != 200 || first.Refresh == "" || !works(first.Access) {
		t.Fatalf("password grant: %d %+v", st, first)
	}
	st, second := grant(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.Refresh}})
	if st != 200 || second.Refresh == "" || second.Refresh == first.Refresh || !works(second.Access) {
		t.Fatalf("refresh grant: %d %+v", st, second)
	}
	if st, replay := grant(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.Refresh}}); st != 400 || replay.Error != "invalid_grant" {
		t.Fatalf("replayed refresh token: %d %+v", st, replay)
	}
	if st, bad := grant(url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"nope"}}); st != 400 || bad.Error != "invalid_grant" {
		t.Fatalf("wrong password: %d %+v", st, bad)
	}
}
