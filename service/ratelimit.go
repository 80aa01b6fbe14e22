package service

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limiter counts events in fixed windows in Redis, shared by every
// instance. Windows come from the clock, not from key TTLs, so a fake clock
// drives it in tests.
type Limiter struct {
	Redis  redis.UniversalClient
	Prefix string
	Clock  Clock
}

// Allow counts one event for key and reports whether it is within limit per
// window; when not, it also returns how long until the window ends.
func (l Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	now := l.Clock.Now()
	slot := now.UnixNano() / int64(window)
	k := l.Prefix + "rl:" + key + ":" + strconv.FormatInt(slot, 10)
	pipe := l.Redis.TxPipeline()
	incr := pipe.Incr(ctx, k)
	pipe.Expire(ctx, k, 2*window)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, 0, Unavailable("redis_down", "服务繁忙，请稍后再试").Wrap(err)
	}
	if incr.Val() > int64(limit) {
		end := time.Unix(0, (slot+1)*int64(window))
		return false, end.Sub(now), nil
	}
	return true, 0, nil
}
