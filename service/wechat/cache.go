package wechat

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/cache"
)

// Cache is the SDK's cache (access tokens, tickets) over our go-redis v9
// client; the SDK's own Redis cache is built on v8. Redis shares a token
// between instances; a copy in the process keeps WeChat working while
// Redis is down (pushes, emergency alerts, text checks): a failed write
// to Redis is not an error, and a failed read falls back to the copy.
//
// The copy is also answered first for localFresh after it was stored or
// read from Redis: every push and text check asks for the token, and a
// Redis round trip each time was a tenth of a submit's work. A stable
// token (UseStableAK) is the same on every instance until it expires,
// and one WeChat turns down (40001) is deleted here and in Redis before
// the single retry, so a copy a few seconds old costs at most that retry.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string

	mu    sync.Mutex
	local map[string]localEntry
}

type localEntry struct {
	val     interface{}
	expires time.Time
	// fresh is until when the copy is answered without asking Redis.
	fresh time.Time
}

// localFresh is how long a copy is answered without asking Redis.
var localFresh = 10 * time.Second

// redisBudget bounds each Redis call, so that a frozen Redis costs a
// WeChat call a fraction of a second, not the client's read timeout while
// the SDK holds its token lock.
const redisBudget = 300 * time.Millisecond

var _ cache.ContextCache = (*Cache)(nil)

// NewCache keeps every key under prefix.
func NewCache(rdb redis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix, local: map[string]localEntry{}}
}

func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, redisBudget)
}

func (c *Cache) keep(key string, val interface{}, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ttl <= 0 {
		delete(c.local, key)
		return
	}
	now := time.Now()
	c.local[key] = localEntry{val: val, expires: now.Add(ttl), fresh: now.Add(min(localFresh, ttl))}
}

// freshCopy is the copy of key while it may be answered without Redis.
func (c *Cache) freshCopy(key string) interface{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.local[key]
	if !ok || !time.Now().Before(e.fresh) || !time.Now().Before(e.expires) {
		return nil
	}
	return e.val
}

func (c *Cache) kept(key string) interface{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.local[key]
	if !ok || !time.Now().Before(e.expires) {
		return nil
	}
	return e.val
}

// GetContext answers the stored string, or nil when the key is missing or
// Redis fails: the SDK asserts .(string) on anything non-nil and fetches a
// new token on nil.
func (c *Cache) GetContext(ctx context.Context, key string) interface{} {
	if v := c.freshCopy(key); v != nil {
		return v
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get, ttl = p.Get(ctx, c.prefix+key), p.PTTL(ctx, c.prefix+key)
		return nil
	})
	v, gerr := get.Result()
	switch {
	case errors.Is(gerr, redis.Nil):
		c.keep(key, nil, 0)
		return nil // Redis answers: no instance holds a token
	case gerr != nil || err != nil:
		return c.kept(key) // Redis is away: this process's own copy
	}
	if d := ttl.Val(); d > 0 {
		c.keep(key, v, d)
	}
	return v
}

// SetContext stores val for ttl. A ttl that is not positive (a token whose
// lifetime WeChat announced shorter than the SDK's safety margin) stores
// nothing: go-redis would keep such a key forever.
func (c *Cache) SetContext(ctx context.Context, key string, val interface{}, ttl time.Duration) error {
	// The copy is what a read from Redis would give: a string.
	switch v := val.(type) {
	case string:
		c.keep(key, v, ttl)
	case []byte:
		c.keep(key, string(v), ttl)
	default:
		c.keep(key, fmt.Sprint(v), ttl)
	}
	ctx, cancel := bounded(ctx)
	defer cancel()
	if ttl <= 0 {
		c.rdb.Del(ctx, c.prefix+key)
		return nil
	}
	// A token fetched while Redis is away is still good: the SDK must not
	// throw it away (and fail the push) because it could not be shared.
	c.rdb.Set(ctx, c.prefix+key, val, ttl)
	return nil
}

// IsExistContext reports whether key is stored.
func (c *Cache) IsExistContext(ctx context.Context, key string) bool {
	ctx, cancel := bounded(ctx)
	defer cancel()
	n, err := c.rdb.Exists(ctx, c.prefix+key).Result()
	if err != nil {
		return c.kept(key) != nil
	}
	return n > 0
}

// DeleteContext removes key.
func (c *Cache) DeleteContext(ctx context.Context, key string) error {
	c.keep(key, nil, 0)
	ctx, cancel := bounded(ctx)
	defer cancel()
	return c.rdb.Del(ctx, c.prefix+key).Err()
}

// The SDK's token code calls these, without a context.

// Get is GetContext without a context.
func (c *Cache) Get(key string) interface{} { return c.GetContext(context.Background(), key) }

// Set is SetContext without a context.
func (c *Cache) Set(key string, val interface{}, ttl time.Duration) error {
	return c.SetContext(context.Background(), key, val, ttl)
}

// IsExist is IsExistContext without a context.
func (c *Cache) IsExist(key string) bool { return c.IsExistContext(context.Background(), key) }

// Delete is DeleteContext without a context.
func (c *Cache) Delete(key string) error { return c.DeleteContext(context.Background(), key) }
