package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
)

// Paths of the endpoints Handler serves.
const (
	JoinPath  = "/v1/pki/join"
	RenewPath = "/v1/pki/renew"
)

// maxRequestBytes bounds a request body: a certificate request is well under 2 KiB.
const maxRequestBytes = 64 << 10

// CertRequest is the body of a join or renew request.
type CertRequest struct {
	Token string `json:"token,omitempty"` // the join token (join only)
	CSR   string `json:"csr"`             // a PEM CERTIFICATE REQUEST
}

// CertResponse is the answer to a join or renew request, both in PEM.
type CertResponse struct {
	Certificate string `json:"certificate"`
	CA          string `json:"ca"`
}

// Handler serves the join (JoinPath) and renew (RenewPath) endpoints; serve it with
// CA.EndpointTLS.
func Handler(j *Joiner) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(JoinPath, JoinHandler(j))
	mux.Handle(RenewPath, RenewHandler(j))
	return mux
}

// Serve serves Handler on ln over HTTPS with EndpointTLS for names, until the server
// returned is closed.
func (j *Joiner) Serve(ln net.Listener, names ...string) (*http.Server, error) {
	return j.ServeWith(ln, nil, names...)
}

// ServeWith serves as Serve does, and hands the gRPC calls (HTTP/2 with a gRPC content
// type) to rpc (a *grpc.Server), unless it is nil: the host registrar is served there, so
// that a host reaches the control plane at one address, with the certificate it renews
// there. rpc must itself require a verified host certificate: EndpointTLS lets a caller
// without one (a host joining) through.
func (j *Joiner) ServeWith(ln net.Listener, rpc http.Handler, names ...string) (*http.Server, error) {
	cfg, err := j.ca.EndpointTLS(names...)
	if err != nil {
		return nil, err
	}
	h := Handler(j)
	if rpc != nil {
		h = GRPCOr(rpc, h)
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(ln, "", "")
	return srv, nil
}

// GRPCOr hands the gRPC calls (HTTP/2 with a gRPC content type) to rpc (a *grpc.Server)
// and every other request to h: how one TLS port serves both gRPC and HTTP.
func GRPCOr(rpc, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			rpc.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// JoinHandler answers POST {"token", "csr"} with the host certificate for the token's
// host and the CA (Joiner.Redeem).
func JoinHandler(j *Joiner) http.Handler {
	return certHandler(func(r *http.Request, req CertRequest, csr []byte) ([]byte, []byte, error) {
		return j.Redeem(r.Context(), req.Token, csr)
	})
}

// RenewHandler answers POST {"csr"}, on a connection authenticated by a host's current
// certificate, with a fresh certificate for that host (Joiner.Renew).
func RenewHandler(j *Joiner) http.Handler {
	return certHandler(func(r *http.Request, _ CertRequest, csr []byte) ([]byte, []byte, error) {
		peer, err := j.verifiedPeer(r)
		if err != nil {
			return nil, nil, err
		}
		return j.Renew(peer, csr)
	})
}

// verifiedPeer is the client certificate that the TLS layer verified up to this Joiner's
// CA: a handler mounted where client certificates are not verified renews nothing.
func (j *Joiner) verifiedPeer(r *http.Request) (*x509.Certificate, error) {
	if r.TLS != nil {
		for _, chain := range r.TLS.VerifiedChains {
			if len(chain) > 1 && chain[len(chain)-1].Equal(j.ca.cert) {
				return chain[0], nil
			}
		}
	}
	return nil, errs.New(errs.CodeMissingAuthToken, "renew: present the host's current certificate, unexpired and from the platform CA")
}

func certHandler(issue func(r *http.Request, req CertRequest, csrDER []byte) (certPEM, caPEM []byte, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, errs.Invalid("use POST"))
			return
		}
		var req CertRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes)).Decode(&req); err != nil {
			status := http.StatusBadRequest
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				status = http.StatusRequestEntityTooLarge
			}
			writeJSON(w, status, errs.New(errs.CodeInvalidJSON, "the request is not a JSON certificate request: %v", err))
			return
		}
		blk, _ := pem.Decode([]byte(req.CSR))
		if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
			writeJSON(w, http.StatusBadRequest, errs.Invalid("csr: want a PEM CERTIFICATE REQUEST"))
			return
		}
		certPEM, caPEM, err := issue(r, req, blk.Bytes)
		if err != nil {
			e := errs.As(err)
			writeJSON(w, e.HTTPStatus(), e)
			return
		}
		writeJSON(w, http.StatusOK, CertResponse{Certificate: string(certPEM), CA: string(caPEM)})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Join redeems token at joinURL (the join endpoint, https) for a certificate of key,
// valid for names (the IP addresses and DNS names the host is dialed at). hc must verify
// the endpoint: PinnedClient before the host has the CA. It returns the certificate and
// the platform's roots.
func Join(ctx context.Context, joinURL, token string, key crypto.Signer, hc *http.Client, names ...string) (tls.Certificate, *x509.CertPool, error) {
	leaf, ca, err := requestCert(ctx, hc, joinURL, CertRequest{Token: token}, key, names, nil)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("join at %s: %w", joinURL, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// requestCert asks endpoint to sign key for names, and checks the answer: a host
// certificate of key from the CA returned, which must be the CA that signed the
// endpoint's own certificate, and one of roots unless roots is nil.
func requestCert(ctx context.Context, hc *http.Client, endpoint string, req CertRequest, key crypto.Signer, names []string,
	roots *x509.CertPool) (leaf, ca *x509.Certificate, err error) {
	if u, err := url.Parse(endpoint); err != nil || u.Scheme != "https" {
		return nil, nil, fmt.Errorf("endpoint %q: want an https URL (the request carries a secret)", endpoint)
	}
	dns, ips := splitNames(names)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "photon-hostd"}, DNSNames: dns, IPAddresses: ips}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make a certificate request: %w", err)
	}
	req.CSR = string(pemBlock("CERTIFICATE REQUEST", csr))
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRequestBytes))
	if err != nil {
		return nil, nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errs.Error
		if json.Unmarshal(raw, &e) == nil && e.Code != "" {
			return nil, nil, &e
		}
		return nil, nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	var out CertResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, nil, fmt.Errorf("read the answer: %w", err)
	}
	if leaf, ca, err = checkIssued([]byte(out.Certificate), []byte(out.CA), key, roots); err != nil {
		return nil, nil, err
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return nil, nil, errors.New("the answer came without TLS")
	}
	if err := resp.TLS.PeerCertificates[0].CheckSignatureFrom(ca); err != nil {
		return nil, nil, fmt.Errorf("the CA returned did not sign the endpoint's certificate: %w", err)
	}
	return leaf, ca, nil
}

// checkIssued parses an issued host certificate and its CA and checks that the CA
// signed it (and is one of roots, when given) for key.
func checkIssued(certPEM, caPEM []byte, key crypto.Signer, roots *x509.CertPool) (leaf, ca *x509.Certificate, err error) {
	if ca, err = parsePEMCert(caPEM); err != nil {
		return nil, nil, fmt.Errorf("the CA: %w", err)
	}
	if leaf, err = parsePEMCert(certPEM); err != nil {
		return nil, nil, fmt.Errorf("the certificate: %w", err)
	}
	if !ca.IsCA {
		return nil, nil, errors.New("the CA returned is not a CA")
	}
	if roots == nil {
		roots = x509.NewCertPool()
		roots.AddCert(ca)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: leaf.NotBefore.Add(backdate),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, nil, fmt.Errorf("the certificate is not from the platform CA: %w", err)
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, nil, errors.New("the certificate is not of this host's key")
	}
	if _, ok := HostID(leaf); !ok {
		return nil, nil, errors.New("the certificate names no host")
	}
	return leaf, ca, nil
}

func parsePEMCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("want a PEM CERTIFICATE")
	}
	return x509.ParseCertificate(blk.Bytes)
}
