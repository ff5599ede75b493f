package store_test

import (
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestHoldDriftPass: a pass holds its host past the hold's ttl for as long as it runs,
// another pass is refused meanwhile, and the host is free once it is released.
func TestHoldDriftPass(t *testing.T) {
	s := storetest.New(t)
	const ttl = 150 * time.Millisecond
	release, ok, err := s.HoldDriftPass(t.Context(), "h1", ttl)
	if err != nil || !ok {
		t.Fatalf("first hold: %v %v", ok, err)
	}
	for start := time.Now(); time.Since(start) < 4*ttl; {
		if _, ok, err := s.HoldDriftPass(t.Context(), "h1", ttl); err != nil || ok {
			t.Fatalf("a second pass took the held host after %v: %v %v", time.Since(start), ok, err)
		}
	}
	other, ok, err := s.HoldDriftPass(t.Context(), "h2", ttl)
	if err != nil || !ok {
		t.Fatalf("another host: %v %v", ok, err)
	}
	other()
	release()
	again, ok, err := s.HoldDriftPass(t.Context(), "h1", ttl)
	if err != nil || !ok {
		t.Fatalf("after release: %v %v", ok, err)
	}
	again()
}
