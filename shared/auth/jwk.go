package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// jwk is one public key of a JSON Web Key Set: RSA (RFC 7518 §6.3), EC (§6.2) or OKP
// Ed25519 (RFC 8037). The Issuer publishes its key as one; OIDCVerifier reads an
// external issuer's keys from them.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// Signature algorithms OIDCVerifier accepts. HMAC algorithms and "none" are not among
// them: an HMAC key would be a secret shared with the issuer, which a public key set
// cannot hold, and accepting one is the classic key-confusion hole.
var (
	rsaAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecAlgs  = map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}
	edAlg   = "EdDSA"
)

// signingAlgs are all of them, for jwt.WithValidMethods.
func signingAlgs() []string {
	algs := append(slices.Clone(rsaAlgs), edAlg)
	for a := range ecAlgs {
		algs = append(algs, a)
	}
	slices.Sort(algs)
	return algs
}

// Bounds of an acceptable RSA key. RFC 7518 §3.3 asks for 2048 bits at least; the upper
// bound keeps a hostile key set from making every verification slow.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// publicKey is a verified-usable key of a key set.
type publicKey struct {
	kid string
	alg string // the alg the key set pins the key to, or ""
	key any    // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// fits reports whether a token signed with alg may be verified with k: the key's type
// (and curve) must be the algorithm's, and a key pinned to an alg serves that alg only.
func (k publicKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch key := k.key.(type) {
	case *rsa.PublicKey:
		return slices.Contains(rsaAlgs, alg)
	case *ecdsa.PublicKey:
		return ecAlgs[alg] == key.Curve
	case ed25519.PublicKey:
		return alg == edAlg
	}
	return false
}

// parseJWK checks k and returns its key. It refuses keys that are not for signatures,
// pinned to an algorithm not accepted or not of their type, of an unknown type or
// curve, too small or too large, or malformed in any way.
func parseJWK(k jwk) (publicKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return publicKey{}, fmt.Errorf("key %q is for %q, not signatures", k.Kid, k.Use)
	}
	pk := publicKey{kid: k.Kid, alg: k.Alg}
	var err error
	switch k.Kty {
	case "RSA":
		pk.key, err = rsaKey(k)
	case "EC":
		pk.key, err = ecKey(k)
	case "OKP":
		pk.key, err = edKey(k)
	default:
		err = fmt.Errorf("key type %q is not supported", k.Kty)
	}
	if err != nil {
		return publicKey{}, fmt.Errorf("key %q: %w", k.Kid, err)
	}
	if k.Alg != "" && !pk.fits(k.Alg) {
		return publicKey{}, fmt.Errorf("key %q: alg %q is not accepted for a %s key", k.Kid, k.Alg, k.Kty)
	}
	return pk, nil
}

func rsaKey(k jwk) (*rsa.PublicKey, error) {
	n, e, err := b64Pair(k.N, "n", k.E, "e")
	if err != nil {
		return nil, err
	}
	key := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
	if bits := key.N.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("RSA modulus of %d bits; want %d to %d", bits, minRSABits, maxRSABits)
	}
	if len(e) > 4 {
		return nil, errors.New("RSA exponent too large")
	}
	for _, b := range e {
		key.E = key.E<<8 | int(b)
	}
	if key.E < 3 || key.E%2 == 0 || key.E > 1<<31-1 {
		return nil, fmt.Errorf("RSA exponent %d is not an odd number from 3 to 2^31-1", key.E)
	}
	if key.N.Bit(0) == 0 {
		return nil, errors.New("RSA modulus is even")
	}
	return key, nil
}

func ecKey(k jwk) (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, fmt.Errorf("EC curve %q is not supported", k.Crv)
	}
	x, y, err := b64Pair(k.X, "x", k.Y, "y")
	if err != nil {
		return nil, err
	}
	// RFC 7518 §6.2.1.2: coordinates are exactly the curve's size, leading zeros kept.
	size := (curve.Params().BitSize + 7) / 8
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("EC coordinates of %d and %d bytes; %s wants %d", len(x), len(y), k.Crv, size)
	}
	// ParseUncompressedPublicKey refuses points off the curve and the point at infinity.
	key, err := ecdsa.ParseUncompressedPublicKey(curve, slices.Concat([]byte{4}, x, y))
	if err != nil {
		return nil, fmt.Errorf("EC point: %w", err)
	}
	return key, nil
}

func edKey(k jwk) (ed25519.PublicKey, error) {
	if k.Crv != "Ed25519" {
		return nil, fmt.Errorf("OKP curve %q is not supported", k.Crv)
	}
	x, err := b64(k.X, "x")
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("Ed25519 key of %d bytes", len(x))
	}
	return ed25519.PublicKey(x), nil
}

// b64 decodes a key member: unpadded base64url (RFC 7515 §2), and not empty.
func b64(s, member string) ([]byte, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("member %q is not base64url", member)
	}
	return b, nil
}

// b64Pair decodes two key members, a and b, named aName and bName.
func b64Pair(a, aName, b, bName string) ([]byte, []byte, error) {
	x, err := b64(a, aName)
	if err != nil {
		return nil, nil, err
	}
	y, err := b64(b, bName)
	return x, y, err
}

// parseJWKS returns the usable keys of a JSON Web Key Set. Keys it cannot use (for
// encryption, of other types, malformed) are passed over, as a set may hold keys for
// other purposes; a set with none to use is an error.
func parseJWKS(body []byte) ([]publicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}
	var keys []publicKey
	var errList []error
	for _, k := range set.Keys {
		pk, err := parseJWK(k)
		if err != nil {
			errList = append(errList, err)
			continue
		}
		keys = append(keys, pk)
	}
	switch {
	case len(set.Keys) == 0:
		return nil, errors.New("key set is empty")
	case len(keys) == 0:
		return nil, fmt.Errorf("key set has no usable signing key: %w", errors.Join(errList...))
	}
	return keys, nil
}
