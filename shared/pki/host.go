package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Host is a joined host's credentials: its key, its certificate from the platform CA and
// the CA. hostd serves with them (ServerTLS); KeepRenewed replaces the certificate
// before it expires.
type Host struct {
	id    string
	key   crypto.Signer
	ca    *x509.Certificate
	roots *x509.CertPool
	names []string // the IP addresses and DNS names to ask the certificate for
	dir   string   // where they are kept; "" in memory only
	clock Clock

	mu   sync.RWMutex
	leaf *x509.Certificate
}

func newHost(key crypto.Signer, leaf, ca *x509.Certificate, names []string, dir string, clock Clock) *Host {
	id, _ := HostID(leaf)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if names == nil {
		names = certNames(leaf)
	}
	return &Host{id: id, key: key, ca: ca, roots: roots, names: names, dir: dir, clock: orSystem(clock), leaf: leaf}
}

func certNames(c *x509.Certificate) []string {
	names := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}

// EnrollOptions say where a host keeps its credentials and how it joins.
type EnrollOptions struct {
	// JoinURL is the base URL of the join and renew endpoints (Handler), e.g.
	// https://gateway.example.com:9002.
	JoinURL string
	// Token is a join token for this host, needed only when Dir holds no unexpired
	// certificate.
	Token string
	// Pin is the platform CA's pin (CA.Pin, printed by photon join-token): joining
	// trusts the endpoint by it.
	Pin string
	// Names are the IP addresses and DNS names functions dial the host at.
	Names []string
	// Dir keeps the key, certificate and CA across restarts; "" keeps them in memory.
	Dir string
	// HTTPClient joins; default PinnedClient(Pin).
	HTTPClient *http.Client
	Clock      Clock
}

// Enroll returns the host's credentials: those kept in Dir while unexpired (renewed at
// once if they are not valid for Names), else new ones from redeeming Token.
func Enroll(ctx context.Context, o EnrollOptions) (*Host, error) {
	clock := orSystem(o.Clock)
	if o.Dir != "" {
		h, err := LoadHost(o.Dir)
		switch {
		case err == nil && clock.Now().Before(h.NotAfter()):
			h.clock = clock
			if len(o.Names) > 0 && !slices.Equal(sortedNames(certNames(h.leaf)), sortedNames(o.Names)) {
				h.names = o.Names
				if err := h.Renew(ctx, o.JoinURL); err != nil {
					return nil, fmt.Errorf("the host's names changed to %v: %w", o.Names, err)
				}
			}
			return h, nil
		case err == nil && o.Token == "":
			return nil, fmt.Errorf("the certificate of host %s in %s expired on %s: a new join token is needed",
				h.ID(), o.Dir, h.NotAfter().Format(time.RFC3339))
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	if o.Token == "" {
		return nil, fmt.Errorf("no host certificate in %q: a join token is needed", o.Dir)
	}
	if o.Pin == "" && o.HTTPClient == nil {
		return nil, errors.New("joining needs the platform CA's pin")
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = PinnedClient(o.Pin)
		defer hc.CloseIdleConnections()
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the host key: %w", err)
	}
	leaf, ca, err := requestCert(ctx, hc, endpoint(o.JoinURL, JoinPath), CertRequest{Token: o.Token}, key, o.Names, nil)
	if err != nil {
		return nil, fmt.Errorf("join at %s: %w", o.JoinURL, err)
	}
	if o.Pin != "" && Pin(ca) != o.Pin {
		return nil, fmt.Errorf("join at %s: the CA returned is %s, not the pinned %s", o.JoinURL, Pin(ca), o.Pin)
	}
	h := newHost(key, leaf, ca, o.Names, o.Dir, clock)
	if o.Dir != "" {
		if err := h.Save(o.Dir); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func sortedNames(n []string) []string {
	n = slices.Clone(n)
	slices.Sort(n)
	return slices.Compact(n)
}

func endpoint(base, path string) string { return strings.TrimSuffix(base, "/") + path }

// ID is the host's id, as its certificate names it.
func (h *Host) ID() string { return h.id }

// NotAfter is when the current certificate expires.
func (h *Host) NotAfter() time.Time {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.leaf.NotAfter
}

// Certificate is the current certificate with the host's key (a Source).
func (h *Host) Certificate() (*tls.Certificate, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return &tls.Certificate{Certificate: [][]byte{h.leaf.Raw}, PrivateKey: h.key, Leaf: h.leaf}, nil
}

// Roots holds the platform CA.
func (h *Host) Roots() *x509.CertPool { return h.roots }

// ServerTLS is hostd's server config: the host's current certificate, and a client
// certificate of a Photon service from the platform CA required of every caller.
func (h *Host) ServerTLS() *tls.Config { return ServerTLS(h.roots, h.Certificate, Services()) }

// EndpointClientTLS is the config with which the host calls the platform at its join
// endpoint (renewals, the registrar): the host's current certificate, and the endpoint's
// certificate from the platform CA required of the server.
func (h *Host) EndpointClientTLS() *tls.Config {
	return ClientTLS(h.roots, h.Certificate, kindPeer(kindService, endpointName))
}

// Renew asks the renew endpoint under joinURL, authenticated by the current certificate,
// for a fresh one, and keeps it (in Dir too).
func (h *Host) Renew(ctx context.Context, joinURL string) error {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = h.EndpointClientTLS()
	defer t.CloseIdleConnections()
	hc := &http.Client{Transport: t, Timeout: time.Minute}
	leaf, _, err := requestCert(ctx, hc, endpoint(joinURL, RenewPath), CertRequest{}, h.key, h.names, h.roots)
	if err == nil {
		if id, _ := HostID(leaf); id != h.id {
			err = fmt.Errorf("the renewed certificate is host %s's", id)
		}
	}
	if err != nil {
		return fmt.Errorf("renew the certificate of host %s: %w", h.id, err)
	}
	h.mu.Lock()
	h.leaf = leaf
	h.mu.Unlock()
	if h.dir != "" {
		return h.Save(h.dir)
	}
	return nil
}

// KeepRenewed renews the certificate each time it has lived two thirds of its life,
// retrying failures after a minute, doubling up to an hour, until ctx ends.
func (h *Host) KeepRenewed(ctx context.Context, joinURL string, log *slog.Logger) {
	failures := 0
	for {
		h.mu.RLock()
		wait := renewAt(h.leaf).Sub(h.clock.Now())
		h.mu.RUnlock()
		if failures > 0 {
			wait = min(time.Minute<<min(failures-1, 6), time.Hour)
		}
		select {
		case <-ctx.Done():
			return
		case <-h.clock.After(wait):
		}
		if err := h.Renew(ctx, joinURL); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			log.Warn("renew the host certificate", "host", h.id, "expires", h.NotAfter(), "err", err)
			continue
		}
		failures = 0
		log.Info("renewed the host certificate", "host", h.id, "expires", h.NotAfter())
	}
}

// The files a host's credentials are kept in.
const (
	hostKeyFile  = "host.key"
	hostCertFile = "host.crt"
	caFile       = "ca.crt"
)

// Save writes the key (mode 0600), the certificate and the CA into dir, each file
// replaced whole.
func (h *Host) Save(dir string) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(h.key)
	if err != nil {
		return fmt.Errorf("save the host key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save the host credentials: %w", err)
	}
	h.mu.RLock()
	leaf := h.leaf
	h.mu.RUnlock()
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{hostKeyFile, pemBlock("PRIVATE KEY", keyDER), 0o600},
		{caFile, pemBlock("CERTIFICATE", h.ca.Raw), 0o644},
		{hostCertFile, pemBlock("CERTIFICATE", leaf.Raw), 0o644},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("save the host credentials: %w", err)
		}
	}
	return nil
}

// writeFile replaces name with data through a temporary file and a rename, so a reader
// never sees half of it.
func writeFile(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// LoadHost reads the credentials Save wrote into dir. An error wraps fs.ErrNotExist when
// dir holds none.
func LoadHost(dir string) (*Host, error) {
	var pems [3][]byte
	for i, name := range []string{hostKeyFile, hostCertFile, caFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("load the host credentials: %w", err)
		}
		pems[i] = b
	}
	blk, _ := pem.Decode(pems[0])
	if blk == nil {
		return nil, fmt.Errorf("load the host credentials: %s holds no PEM key", filepath.Join(dir, hostKeyFile))
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load the host key: %w", err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load the host key: a %T cannot sign", k)
	}
	leaf, ca, err := checkIssued(pems[1], pems[2], key, nil)
	if err != nil {
		return nil, fmt.Errorf("load the host credentials from %s: %w", dir, err)
	}
	return newHost(key, leaf, ca, nil, dir, nil), nil
}
