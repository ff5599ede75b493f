package pki

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
)

// maxSANs bounds the names a host may ask its certificate to carry.
const maxSANs = 16

// Joiner makes join tokens and signs the certificates of the hosts that redeem them, and
// renews them.
type Joiner struct {
	ca     *CA
	rdb    redis.UniversalClient
	prefix string
}

// NewJoiner keeps join tokens in rdb under prefix and signs with ca.
func NewJoiner(ca *CA, rdb redis.UniversalClient, prefix string) *Joiner {
	return &Joiner{ca: ca, rdb: rdb, prefix: keyspace.Space(prefix, keyspace.PKI)}
}

// CA is the CA the Joiner signs with.
func (j *Joiner) CA() *CA { return j.ca }

// tokenKey is where a token's host id is kept: under the token's hash, so that what
// Redis holds cannot be redeemed.
func (j *Joiner) tokenKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return j.prefix + "pki:join:" + hex.EncodeToString(h[:])
}

// CreateJoinToken makes a token that hostID may redeem once, within ttl, for its host
// certificate.
func (j *Joiner) CreateJoinToken(ctx context.Context, hostID string, ttl time.Duration) (string, error) {
	if err := checkName("host", hostID); err != nil {
		return "", errs.Invalid("join token: %v", err)
	}
	if ttl <= 0 {
		return "", errs.Invalid("join token for host %s: the time to live must be positive", hostID)
	}
	token := rand.Text()
	if err := j.rdb.SetNX(ctx, j.tokenKey(token), hostID, ttl).Err(); err != nil {
		return "", fmt.Errorf("store a join token for host %s: %w", hostID, err)
	}
	return token, nil
}

// errBadToken is the answer to any token that cannot be redeemed: unknown, used and
// expired look alike, so a caller learns nothing about other hosts' tokens.
func errBadToken() error {
	return errs.New(errs.CodeInvalidAuthToken, "the join token is unknown, already used or expired: ask for a new one (photon hostd join-token)")
}

// Redeem spends token (once: GETDEL) and signs the key of csrDER for the host the token
// was made for. The certificate's identity is that host's, whatever the request names;
// only the request's DNS names and IP addresses are copied.
func (j *Joiner) Redeem(ctx context.Context, token string, csrDER []byte) (certPEM, caPEM []byte, err error) {
	// The request is checked before the token is spent: a malformed one leaves the token
	// for a corrected try.
	csr, err := parseCSR(csrDER)
	if err != nil {
		return nil, nil, err
	}
	if token == "" {
		return nil, nil, errBadToken()
	}
	hostID, err := j.rdb.GetDel(ctx, j.tokenKey(token)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil, errBadToken()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("redeem a join token: %w", err)
	}
	return j.issueHost(hostID, csr)
}

// Renew signs the key of csrDER for the host that peer, a verified certificate of the
// platform's, was issued to.
func (j *Joiner) Renew(peer *x509.Certificate, csrDER []byte) (certPEM, caPEM []byte, err error) {
	hostID, ok := HostID(peer)
	if !ok {
		return nil, nil, errs.New(errs.CodeAccessForbidden, "renew: %q is not a host's certificate", peer.Subject.CommonName)
	}
	csr, err := parseCSR(csrDER)
	if err != nil {
		return nil, nil, err
	}
	return j.issueHost(hostID, csr)
}

func (j *Joiner) issueHost(hostID string, csr *x509.CertificateRequest) (certPEM, caPEM []byte, err error) {
	l := hostLeaf(hostID, csr.DNSNames, csr.IPAddresses)
	l.PublicKey = csr.PublicKey
	cert, err := j.ca.Issue(l)
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", hostID, err)
	}
	return pemBlock("CERTIFICATE", cert.Raw), j.ca.PEM(), nil
}

// parseCSR reads a certificate request and checks that its key signed it.
func parseCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, errs.Invalid("the certificate request does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, errs.Invalid("the certificate request is not signed by its key: %v", err)
	}
	if n := len(csr.DNSNames) + len(csr.IPAddresses); n > maxSANs {
		return nil, errs.Invalid("the certificate request names %d addresses, more than %d", n, maxSANs)
	}
	return csr, nil
}
