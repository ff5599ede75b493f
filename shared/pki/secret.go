package pki

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// SecretKey derives a 32-byte key for purpose from the CA's private key: what Photon
// seals its secrets at rest with (a service's PKI) and signs its capabilities with (a
// service node's report token). Every process that loads the CA derives the same key,
// and nothing stores it.
func (ca *CA) SecretKey(purpose string) []byte {
	d, err := ca.key.Bytes()
	if err != nil {
		panic("pki: the CA key does not encode: " + err.Error()) // a P-256 key always does
	}
	k, err := hkdf.Key(sha256.New, d, nil, "photon "+purpose, 32)
	if err != nil {
		panic("pki: derive a secret key: " + err.Error()) // 32 bytes of SHA-256 always fit
	}
	return k
}
