package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader carries the signature of a delivery:
//
//	Photon-Signature: t=<unix seconds>,v1=<hex of HMAC-SHA256(secret, "<t>." + body)>
//
// The timestamp is signed with the body, so a receiver that also checks it is recent
// (Verify's tolerance) refuses a recorded delivery replayed later. More v1= entries may
// follow (a secret being rotated); one matching is enough.
const SignatureHeader = "Photon-Signature"

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Signature errors.
var (
	ErrNoSignature  = errors.New("no valid signature")
	ErrStaleRequest = errors.New("signature timestamp outside the tolerance")
)

// Verify checks a SignatureHeader value against body and secret: one of its v1 signatures
// must match, and, when tolerance is positive, its timestamp must be within tolerance of
// now. Receivers call it before trusting a delivery.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		ok = ok || hmac.Equal([]byte(s), []byte(want))
	}
	if !ok {
		return ErrNoSignature
	}
	if d := time.Since(time.Unix(sec, 0)); tolerance > 0 && (d > tolerance || d < -tolerance) {
		return ErrStaleRequest
	}
	return nil
}
