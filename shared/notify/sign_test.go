package notify_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/notify"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"vm1","kind":"vm","state":"STARTED"}`)
	now := time.Now()
	good := notify.Sign("s3cret", now, body)
	cases := []struct {
		name      string
		secret    string
		header    string
		body      []byte
		tolerance time.Duration
		want      error
	}{
		{"valid", "s3cret", good, body, 5 * time.Minute, nil},
		{"tampered body", "s3cret", good, []byte(strings.Replace(string(body), "STARTED", "STOPPED", 1)), 5 * time.Minute, notify.ErrNoSignature},
		{"wrong secret", "other", good, body, 5 * time.Minute, notify.ErrNoSignature},
		{"tampered timestamp", "s3cret", strings.Replace(good, "t=", "t=1", 1), body, 0, notify.ErrNoSignature},
		{"old", "s3cret", notify.Sign("s3cret", now.Add(-time.Hour), body), body, 5 * time.Minute, notify.ErrStaleRequest},
		{"old, no tolerance", "s3cret", notify.Sign("s3cret", now.Add(-time.Hour), body), body, 0, nil},
		{"a rotated secret among several", "s3cret", "t=" + strings.Split(good, ",")[0][2:] + ",v1=00," + strings.Split(good, ",")[1], body, time.Minute, nil},
		{"empty", "s3cret", "", body, 0, notify.ErrNoSignature},
		{"garbage", "s3cret", "t=x,v1=y", body, 0, notify.ErrNoSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := notify.Verify(tc.secret, tc.header, tc.body, tc.tolerance); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}
