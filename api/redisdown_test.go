package api

import (
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"redprop/service/auth"
	"redprop/service/idem"
	"redprop/service/wechat"
)

// With Redis unreachable, people log in and act, logout holds, and the
// Idempotency-Key endpoints answer as documented: 503 where only Redis
// could keep one copy, the request itself where a duplicate is harmless
// or the row keeps the key.
func TestRedisDown(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	s.deps.Idem = idem.New(dead, s.prefix)
	s.deps.Auth = auth.New(s.db, dead, wechat.NewSandbox(), s.clock, auth.Config{
		JWTSecret: []byte("test-secret-test-secret-test-secret"), AccessTTL: 15 * time.Minute, RefreshTTL: 24 * time.Hour,
		PerIPPerMin: 1000, PerCodePerMin: 1000, RedisPrefix: s.prefix, Sandbox: true, RefreshGrace: 10 * time.Second,
	})
	s.router = NewRouter(s.deps)
	admin, resident := s.login("admin"), s.login("resident")
	region := map[string]any{"level": "community", "parent_id": city.StreetID, "name": "新社区"}

	t.Run("a key only Redis can keep is refused", func(t *testing.T) {
		r := s.do("POST", "/api/v1/regions", admin, region, "Idempotency-Key", "k1")
		if r.Status != http.StatusServiceUnavailable || r.ErrCode() != "redis_unavailable" {
			t.Fatalf("create with a key: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("without a key the create goes through", func(t *testing.T) {
		s.must(http.StatusCreated, "POST", "/api/v1/regions", admin, region)
	})
	t.Run("a photo with a key goes through", func(t *testing.T) {
		body, ct := multipartBody(t, "file", "a.jpg", "image/jpeg", photoJPEG(t, 0))
		s.must(http.StatusCreated, "POST", "/api/v1/photos", resident, body, "Content-Type", ct, "Idempotency-Key", "p1")
	})
	t.Run("logout holds", func(t *testing.T) {
		s.must(http.StatusOK, "GET", "/api/v1/me", resident, nil)
		s.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", resident, nil)
		if r := s.do("GET", "/api/v1/me", resident, nil); r.Status != http.StatusUnauthorized || r.ErrCode() != "token_invalid" {
			t.Fatalf("token after logout: %d %s", r.Status, r.Raw)
		}
	})
}
