package hostd_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/hostd/hollow"
	"github.com/photon-cloud/photon/shared/pki"
)

// TestMutualTLS: hostd serves only Photon services with a certificate from the platform
// CA, and a caller talks only to the host it meant, certified by the platform CA.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		ca, other := testCA(t), testCA(t)
		_, d, _ := startDaemon(t, b, hostd.Options{ID: "h1", TLS: hostTLS(t, ca, "h1")})
		cert := func(c tls.Certificate, err error) pki.Source {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return pki.Static(c)
		}
		service := cert(ca.ServiceCredentials("functions"))
		cases := []struct {
			name string
			cfg  *tls.Config
			ok   bool
		}{
			{"a service of the platform", pki.ClientTLS(ca.Pool(), service, pki.HostNamed("h1")), true},
			{"the gateway's config, any host", serviceTLS(t, ca), true},
			{"no client certificate", &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13}, false},
			{"a client certificate of another CA", pki.ClientTLS(ca.Pool(), cert(other.ServiceCredentials("functions")), nil), false},
			{"a self-signed client certificate", pki.ClientTLS(ca.Pool(), selfSigned(t), nil), false},
			{"a host's certificate, not a service's", pki.ClientTLS(ca.Pool(), cert(ca.HostCredentials("h2", "127.0.0.1")), nil), false},
			{"the client's platform CA did not sign hostd's certificate", pki.ClientTLS(other.Pool(), service, nil), false},
			{"the client meant another host", pki.ClientTLS(ca.Pool(), service, pki.HostNamed("h2")), false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := dial(t, d.Addr(), tc.cfg).GetResources(t.Context(), &hostdv1.GetResourcesRequest{})
				if tc.ok != (err == nil) {
					t.Fatalf("GetResources: %v, want ok=%v", err, tc.ok)
				}
				if !tc.ok && status.Code(err) != codes.Unavailable {
					t.Fatalf("refused with %v, want Unavailable", err)
				}
			})
		}
	})
}

// selfSigned is a client certificate that names a Photon service but is signed by its
// own key.
func selfSigned(t *testing.T) pki.Source {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "functions"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), URIs: []*url.URL{pki.ServiceURI("functions")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pki.Static(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})
}

// TestStartRequiresTLS: hostd does not serve in plaintext, nor without client
// certificates.
func TestStartRequiresTLS(t *testing.T) {
	t.Parallel()
	ca := testCA(t)
	optional := hostTLS(t, ca, "h1")
	optional.ClientAuth = tls.VerifyClientCertIfGiven
	noRoots := hostTLS(t, ca, "h1")
	noRoots.ClientCAs = nil
	u, _ := url.Parse("http://127.0.0.1:1/sdk") // never dialed
	for name, cfg := range map[string]*tls.Config{"none": nil, "client certificates optional": optional, "no client CA": noRoots} {
		if _, err := hostd.Start(t.Context(), hostd.Options{ID: "h1", URL: u, TLS: cfg}); err == nil {
			t.Errorf("%s: started", name)
		}
		if _, err := hostd.StartBackend(t.Context(), hostd.Options{ID: "h1", TLS: cfg}, hollow.New(hollow.Options{})); err == nil {
			t.Errorf("%s: started on a hollow host", name)
		}
	}
}
