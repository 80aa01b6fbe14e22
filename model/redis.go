package model

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// OpenRedis connects to addr, or starts an in-process Redis when addr is
// empty. The returned stop function closes the client (and the embedded
// server).
func OpenRedis(ctx context.Context, addr, password string, db int) (redis.UniversalClient, func(), error) {
	var embedded *miniredis.Miniredis
	if addr == "" {
		embedded = miniredis.NewMiniRedis()
		if err := embedded.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("start in-process redis: %w", err)
		}
		addr = embedded.Addr()
	}
	// miniredis never ages keys by itself; age them with the wall clock so
	// TTLs behave as on a real server.
	done := make(chan struct{})
	if embedded != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					embedded.FastForward(time.Second)
				}
			}
		}()
	}
	// Callers bound their calls with context deadlines (auth, idempotency
	// keys), so that a frozen Redis costs a request a fraction of a second
	// instead of the 3 s read timeout.
	client := redis.NewClient(&redis.Options{Addr: addr, Password: password, DB: db, ContextTimeoutEnabled: true})
	stop := func() {
		close(done)
		client.Close()
		if embedded != nil {
			embedded.Close()
		}
	}
	if err := client.Ping(ctx).Err(); err != nil {
		if embedded != nil {
			stop()
			return nil, nil, fmt.Errorf("redis %s: %w", addr, err)
		}
		// A configured Redis that is down at start is the degraded mode
		// the service runs in anyway (sessions and orders need only the
		// database): the client is kept, and reconnects when Redis is back.
		return client, stop, fmt.Errorf("%w: redis %s: %v", ErrRedisUnreachable, addr, err)
	}
	return client, stop, nil
}

// ErrRedisUnreachable comes with a working client from OpenRedis when the
// configured Redis did not answer at start.
var ErrRedisUnreachable = errors.New("redis unreachable at start")
