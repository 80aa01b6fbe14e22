// Package idem keeps the answers of create requests by their
// Idempotency-Key in Redis, so that a client that retries a request it got
// no answer to (a phone on a weak signal) receives the first answer
// instead of creating the thing twice. Capabilities whose create must hold
// even when Redis forgets (orders, emergency calls) keep the key in their
// own rows as well.
package idem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"redprop/service"
)

// Answer is a stored response.
type Answer struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        []byte `json:"body"`
	// Fingerprint names the request the answer belongs to (method, path
	// and a hash of the body): the same key with another request is an
	// error, not a replay.
	Fingerprint string `json:"fingerprint"`
}

// Store keeps answers for TTL and marks a key taken for Lease while its
// first request runs.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	TTL    time.Duration
	Lease  time.Duration
}

// New returns a store writing keys under prefix.
func New(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix + "idem:", TTL: 24 * time.Hour, Lease: time.Minute}
}

const pending = "pending"

var (
	// ErrInFlight: the first request with this key has not answered yet.
	ErrInFlight = service.Conflict("idempotency_in_flight", "相同 Idempotency-Key 的请求正在处理，请稍后重试")
	// ErrReused: the key was used for a different request.
	ErrReused = service.Unprocessable("idempotency_key_reused", "该 Idempotency-Key 已用于另一个请求，请换一个")
)

func (s *Store) key(userID int64, key string) string {
	return fmt.Sprintf("%s%d:%s", s.prefix, userID, key)
}

// Begin claims key for the user's request with fingerprint. It returns the
// stored answer when the same request already finished, or claimed=true
// when this request is the first and must call Finish or Abort.
func (s *Store) Begin(ctx context.Context, userID int64, key, fingerprint string) (prev *Answer, claimed bool, err error) {
	k := s.key(userID, key)
	ok, err := s.rdb.SetNX(ctx, k, pending+":"+fingerprint, s.Lease).Result()
	if err != nil {
		return nil, false, service.Unavailable("redis_unavailable", "服务暂不可用，请稍后重试").Wrap(err)
	}
	if ok {
		return nil, true, nil
	}
	raw, err := s.rdb.Get(ctx, k).Result()
	if errors.Is(err, redis.Nil) {
		// Aborted or expired in between: try once more.
		return s.Begin(ctx, userID, key, fingerprint)
	}
	if err != nil {
		return nil, false, service.Unavailable("redis_unavailable", "服务暂不可用，请稍后重试").Wrap(err)
	}
	if raw == pending+":"+fingerprint {
		return nil, false, ErrInFlight
	}
	var a Answer
	if json.Unmarshal([]byte(raw), &a) != nil || a.Fingerprint != fingerprint {
		return nil, false, ErrReused
	}
	return &a, false, nil
}

// Finish stores the answer of the first request.
func (s *Store) Finish(ctx context.Context, userID int64, key string, a Answer) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, s.key(userID, key), raw, s.TTL).Err()
}

// Abort frees the key after a request that created nothing (a refusal),
// so that a corrected retry with the same key goes through.
func (s *Store) Abort(ctx context.Context, userID int64, key string) error {
	return s.rdb.Del(ctx, s.key(userID, key)).Err()
}
