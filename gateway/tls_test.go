package gateway_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/policy"
)

// withHTTPS serves the harness's gateway over TLS too, with a certificate from ca.
func withHTTPS(t testing.TB, ca *pki.CA) func(*gateway.Options) {
	tl, err := gateway.PlatformTLS(ca, gateway.ServingNames("127.0.0.1:0", "")...)
	if err != nil {
		t.Fatal(err)
	}
	return func(o *gateway.Options) { o.HTTPSAddr, o.TLS = "127.0.0.1:0", tl }
}

func httpsClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots}
	return &http.Client{Transport: t, Timeout: 10 * time.Second}
}

// TestHTTPS: REST, the token endpoint, Lightwave's certificate endpoint and gRPC all
// answer on the HTTPS port to a client that trusts the platform CA, and none to one that
// trusts another CA; GET /v1/system/auth names the HTTPS port.
func TestHTTPS(t *testing.T) {
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withHTTPS(t, ca))
	if err := auth.NewUsers(h.rdb, h.s.Prefix()).Put(t.Context(), "admin", "pw", []string{policy.SystemAdminsGroup}); err != nil {
		t.Fatal(err)
	}
	base := "https://" + h.gw.HTTPSAddr()

	cases := []struct {
		name string
		call func(ctx context.Context, roots *x509.CertPool) error
	}{
		{"REST", func(ctx context.Context, roots *x509.CertPool) error {
			return getJSON(ctx, httpsClient(roots), base+"/v1/tenants", h.tokens[sys], &pb.TenantList{})
		}},
		{"token endpoint", func(ctx context.Context, roots *x509.CertPool) error {
			res, err := httpsClient(roots).PostForm(base+auth.TokenPath, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"pw"}})
			if err != nil {
				return err
			}
			defer res.Body.Close()
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != http.StatusOK || tok.AccessToken == "" {
				return fmt.Errorf("%d, token %q: %v", res.StatusCode, tok.AccessToken, err)
			}
			return getJSON(ctx, httpsClient(roots), base+"/v1/tenants", tok.AccessToken, &pb.TenantList{})
		}},
		{"Lightwave's certificates", func(ctx context.Context, roots *x509.CertPool) error {
			var certs []struct{ Encoded string }
			if err := getJSON(ctx, httpsClient(roots), base+gateway.AFDCertsPath, "", &certs); err != nil {
				return err
			}
			if len(certs) != 1 {
				return fmt.Errorf("%d certificates", len(certs))
			}
			blk, _ := pem.Decode([]byte(certs[0].Encoded))
			if blk == nil || !slices.Equal(blk.Bytes, ca.Certificate().Raw) {
				return fmt.Errorf("the certificate answered is not the platform CA's: %q", certs[0].Encoded)
			}
			return nil
		}},
		{"gRPC", func(ctx context.Context, roots *x509.CertPool) error {
			cc, err := grpc.NewClient(h.gw.HTTPSAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots})))
			if err != nil {
				return err
			}
			defer cc.Close()
			_, err = pb.NewTenantsClient(cc).ListTenants(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+h.tokens[sys]), &pb.ListTenantsRequest{})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(t.Context(), ca.Pool()); err != nil {
				t.Errorf("trusting the platform CA: %v", err)
			}
			if err := tc.call(t.Context(), other.Pool()); err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("trusting another CA: %v, want a certificate error", err)
			}
		})
	}

	_, httpsPort, _ := net.SplitHostPort(h.gw.HTTPSAddr())
	for _, u := range []string{"http://" + h.gw.HTTPAddr(), base} {
		var info struct {
			Enabled  bool
			Endpoint string
			Port     int
		}
		if err := getJSON(t.Context(), httpsClient(ca.Pool()), u+"/v1/system/auth", "", &info); err != nil {
			t.Fatal(err)
		}
		if strconv.Itoa(info.Port) != httpsPort || info.Endpoint != "127.0.0.1" || !info.Enabled {
			t.Errorf("%s/v1/system/auth: %+v, want 127.0.0.1 and the HTTPS port %s", u, info, httpsPort)
		}
	}
}

func getJSON(ctx context.Context, c *http.Client, u, token string, out any) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(r)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", u, res.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// TestGRPCProbes: server reflection lists Photon's services and the health service
// answers, both without a token, on the plain and the TLS port; the other methods still
// need one.
func TestGRPCProbes(t *testing.T) {
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, withHTTPS(t, ca))
	tlsConn, err := grpc.NewClient(h.gw.HTTPSAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool()})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tlsConn.Close() })
	for name, cc := range map[string]*grpc.ClientConn{"plain": h.cc, "TLS": tlsConn} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
				t.Fatal(err)
			}
			res, err := st.Recv()
			if err != nil {
				t.Fatalf("reflection: %v", err)
			}
			st.CloseSend()
			var services []string
			for _, s := range res.GetListServicesResponse().GetService() {
				services = append(services, s.GetName())
			}
			for _, want := range []string{"photon.v1.Tenants", "photon.v1.Vms", "photon.v1.Subscriptions", "grpc.health.v1.Health"} {
				if !slices.Contains(services, want) {
					t.Errorf("reflection lists %v, without %s", services, want)
				}
			}
			for _, svc := range []string{"", "photon.v1.Vms"} {
				hc, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
				if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
					t.Errorf("health of %q: %v %v", svc, hc, err)
				}
			}
			if _, err := pb.NewTenantsClient(cc).ListTenants(ctx, &pb.ListTenantsRequest{}); err == nil {
				t.Error("ListTenants without a token answered")
			}
		})
	}
}

// TestFileTLS: an operator's certificate is served, and clients trust it by the CA
// certificates its file carries, or by the certificate itself when it carries none.
// With a public URL, /v1/system/auth names its host and port.
func TestFileTLS(t *testing.T) {
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	src, err := ca.ServerCertificate("api", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := src()
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(kp.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		chain [][]byte
		root  *x509.Certificate
	}{
		{"with its CA", kp.Certificate, ca.Certificate()},
		{"alone", kp.Certificate[:1], kp.Leaf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certFile := filepath.Join(t.TempDir(), "cert.pem")
			var b []byte
			for _, der := range tc.chain {
				b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
			}
			if err := os.WriteFile(certFile, b, 0o644); err != nil {
				t.Fatal(err)
			}
			tl, err := gateway.NewTLS(nil, certFile, keyFile, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if len(tl.Roots) != 1 || !tl.Roots[0].Equal(tc.root) || tl.Pin() != pki.Pin(tc.root) {
				t.Fatalf("roots %v, want %s", tl.Roots, tc.root.Subject)
			}
			h := newHarness(t, func(o *gateway.Options) {
				o.HTTPSAddr, o.TLS, o.PublicURL = "127.0.0.1:0", tl, "https://photon.example.com:8443/"
			})
			var info struct {
				Endpoint string
				Port     int
			}
			if err := getJSON(t.Context(), httpsClient(tl.Pool()), "https://"+h.gw.HTTPSAddr()+"/v1/system/auth", "", &info); err != nil {
				t.Fatal(err)
			}
			if info.Endpoint != "photon.example.com" || info.Port != 8443 {
				t.Fatalf("auth info %+v, want the public URL's host and port", info)
			}
		})
	}
}

func TestServingNames(t *testing.T) {
	host, _ := os.Hostname()
	for _, tc := range []struct {
		addr, public string
		want         []string
	}{
		{"127.0.0.1:9443", "", nil},
		{"0.0.0.0:9443", "", nil},
		{"10.0.0.5:9443", "https://photon.example.com", []string{"10.0.0.5", "photon.example.com"}},
	} {
		got := gateway.ServingNames(tc.addr, tc.public)
		for _, n := range append([]string{"127.0.0.1", "::1", "localhost", host}, tc.want...) {
			if !slices.Contains(got, n) {
				t.Errorf("ServingNames(%q, %q) = %v, without %s", tc.addr, tc.public, got, n)
			}
		}
		if slices.Contains(got, "0.0.0.0") {
			t.Errorf("ServingNames(%q) names the wildcard: %v", tc.addr, got)
		}
	}
}
