// Package idem keeps the answers of create requests by their
// Idempotency-Key in Redis, so that a client that retries a request it got
// no answer to (a phone on a weak signal) receives the first answer
// instead of creating the thing twice. Capabilities whose create must hold
// even when Redis forgets (orders, emergency calls) keep the key in their
// own rows as well.
package idem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

const pending = "pending:"

var (
	// ErrInFlight: the first request with this key has not answered yet.
	ErrInFlight = service.Conflict("idempotency_in_flight", "相同 Idempotency-Key 的请求正在处理，请稍后重试")
	// ErrReused: the key was used for a different request.
	ErrReused = service.Unprocessable("idempotency_key_reused", "该 Idempotency-Key 已用于另一个请求，请换一个")
)

func (s *Store) key(userID int64, key string) string {
	return fmt.Sprintf("%s%d:%s", s.prefix, userID, key)
}

// Claim is the first request's hold on a key: only its holder may record
// the answer or free the key, so a request that outlived its lease cannot
// overwrite or free the entry of the request that took the key after it.
type Claim struct {
	key   string
	owner string // the pending value: token and fingerprint
}

// Begin claims key for the user's request with fingerprint. It returns the
// stored answer when the same request already finished, or a claim when
// this request is the first and must call Finish or Abort.
func (s *Store) Begin(ctx context.Context, userID int64, key, fingerprint string) (*Answer, *Claim, error) {
	k := s.key(userID, key)
	var tok [8]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, nil, err
	}
	c := &Claim{key: k, owner: pending + hex.EncodeToString(tok[:]) + ":" + fingerprint}
	for range 3 {
		ok, err := s.rdb.SetNX(ctx, k, c.owner, s.Lease).Result()
		if err != nil {
			return nil, nil, ErrUnavailable.Wrap(err)
		}
		if ok {
			return nil, c, nil
		}
		raw, err := s.rdb.Get(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			continue // freed or expired in between: try again
		}
		if err != nil {
			return nil, nil, ErrUnavailable.Wrap(err)
		}
		if rest, ok := strings.CutPrefix(raw, pending); ok {
			if _, fp, _ := strings.Cut(rest, ":"); fp != fingerprint {
				return nil, nil, ErrReused
			}
			return nil, nil, ErrInFlight
		}
		var a Answer
		if json.Unmarshal([]byte(raw), &a) != nil || a.Fingerprint != fingerprint {
			return nil, nil, ErrReused
		}
		return &a, nil, nil
	}
	return nil, nil, ErrInFlight
}

// ErrUnavailable: Redis could not be reached, so the key can be neither
// claimed nor looked up.
var ErrUnavailable = service.Unavailable("redis_unavailable", "服务暂不可用，请稍后重试")

// ifOwner runs SET (with a TTL) or DEL on a key only while it still holds
// the claim's pending value.
var ifOwner = redis.NewScript(`
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == "" then return redis.call("DEL", KEYS[1]) end
redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3])
return 1`)

// Finish stores the answer of the first request, if its claim still holds.
func (s *Store) Finish(ctx context.Context, c *Claim, a Answer) error {
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return ifOwner.Run(ctx, s.rdb, []string{c.key}, c.owner, string(raw), s.TTL.Milliseconds()).Err()
}

// Abort frees the key after a request that created nothing (a refusal),
// so that a corrected retry with the same key goes through.
func (s *Store) Abort(ctx context.Context, c *Claim) error {
	return ifOwner.Run(ctx, s.rdb, []string{c.key}, c.owner, "", 0).Err()
}
