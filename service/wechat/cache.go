package wechat

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/cache"
)

// Cache is the SDK's cache (access tokens, tickets) over our go-redis v9
// client; the SDK's own Redis cache is built on v8.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ cache.ContextCache = (*Cache)(nil)

// NewCache keeps every key under prefix.
func NewCache(rdb redis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix}
}

// GetContext answers the stored string, or nil when the key is missing or
// Redis fails: the SDK asserts .(string) on anything non-nil and fetches a
// new token on nil.
func (c *Cache) GetContext(ctx context.Context, key string) interface{} {
	v, err := c.rdb.Get(ctx, c.prefix+key).Result()
	if err != nil {
		return nil
	}
	return v
}

// SetContext stores val for ttl. A ttl that is not positive (a token whose
// lifetime WeChat announced shorter than the SDK's safety margin) stores
// nothing: go-redis would keep such a key forever.
func (c *Cache) SetContext(ctx context.Context, key string, val interface{}, ttl time.Duration) error {
	if ttl <= 0 {
		return c.rdb.Del(ctx, c.prefix+key).Err()
	}
	return c.rdb.Set(ctx, c.prefix+key, val, ttl).Err()
}

// IsExistContext reports whether key is stored.
func (c *Cache) IsExistContext(ctx context.Context, key string) bool {
	n, err := c.rdb.Exists(ctx, c.prefix+key).Result()
	return err == nil && n > 0
}

// DeleteContext removes key.
func (c *Cache) DeleteContext(ctx context.Context, key string) error {
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
