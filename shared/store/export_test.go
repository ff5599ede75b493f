package store

import "github.com/redis/go-redis/v9"

// Key and Redis let the tests of package store_test read what the store wrote; they
// exist only in the test binary, so no other package builds keys in the store's space.

func (s *Store) Key(parts ...string) string { return s.key(parts...) }

func (s *Store) Redis() redis.UniversalClient { return s.rdb }
