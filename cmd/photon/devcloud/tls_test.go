package devcloud_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/pki"
)

// TestHTTPS follows a Photon client to the dev cloud's HTTPS port: it reads
// /v1/system/auth over plain HTTP, fetches the CA certificates at /afd/vecs/ssl without
// verifying (as photon target set does), and with them alone logs in with a password and
// calls REST and gRPC.
func TestHTTPS(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	var info struct {
		Endpoint string `json:"endpoint"`
		Port     int    `json:"port"`
	}
	if st := cl.do("GET", "/v1/system/auth", nil, &info); st != 200 {
		t.Fatalf("auth info: %d", st)
	}
	base := "https://" + info.Endpoint + ":" + strconv.Itoa(info.Port)
	if base != c.HTTPSURL {
		t.Fatalf("/v1/system/auth names %s, the API is at %s", base, c.HTTPSURL)
	}

	unverified := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := unverified.Get(base + gateway.AFDCertsPath)
	if err != nil {
		t.Fatal(err)
	}
	var certs []struct {
		Encoded string `json:"encoded"`
	}
	err = json.NewDecoder(res.Body).Decode(&certs)
	res.Body.Close()
	if err != nil || len(certs) != 1 {
		t.Fatalf("%s: %v %v", gateway.AFDCertsPath, certs, err)
	}
	blk, _ := pem.Decode([]byte(certs[0].Encoded))
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || pki.Pin(ca) != c.TLS.Pin() || pki.Pin(ca) != c.CA.Pin() {
		t.Fatalf("the certificate answered is not the platform CA: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}

	res, err = hc.PostForm(base+"/openidconnect/token", url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("password grant over HTTPS: %d %v", res.StatusCode, err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if res, err = hc.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("REST over HTTPS: %v %v", res, err)
	}
	res.Body.Close()

	cc, err := grpc.NewClient(c.Gateway.HTTPSAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok.AccessToken)
	if _, err := pb.NewTenantsClient(cc).ListTenants(ctx, &pb.ListTenantsRequest{}); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
}
