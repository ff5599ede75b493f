package store

import "time"

// SetClock replaces the store's clock, for the tests of what depends on time.
func (s *Store) SetClock(now func() time.Time) { s.now = now }
