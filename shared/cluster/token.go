package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// NodeToken is node vm of service id's report token: an HMAC under key (Photon's secret
// key for it), so that the node's phone-home URL carries it, the endpoint checks it
// without storing it, and no node can report for another.
func NodeToken(key []byte, serviceID, vmID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(serviceID + "/" + vmID))
	return hex.EncodeToString(m.Sum(nil))
}

// ValidNodeToken reports whether token is node vm of service id's.
func ValidNodeToken(key []byte, serviceID, vmID, token string) bool {
	return hmac.Equal([]byte(NodeToken(key, serviceID, vmID)), []byte(token))
}
