package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"redprop/service/auth"
	"redprop/service/order"
	"redprop/service/org"
	"redprop/service/wechat"
)

// Two server instances share the database, each with its own grant
// cache: once a grant is revoked on one, the holder's very next request
// on either is refused.
func TestRevokedGrantRefusedOnBothInstances(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	deps := s.deps
	deps.Auth = auth.New(s.db, s.rdb, wechat.NewSandbox(), s.clock, auth.Config{
		JWTSecret: []byte("test-secret-test-secret-test-secret"), AccessTTL: 15 * time.Minute,
		RefreshTTL: 24 * time.Hour, PerIPPerMin: 1000, PerCodePerMin: 1000, RedisPrefix: s.prefix, Sandbox: true,
	})
	deps.Org = org.New(s.db, s.clock, nil)
	deps.Order = order.New(s.db, s.clock, deps.Calendar, deps.Photo, deps.Message, order.Options{})
	other := *s
	other.router = NewRouter(deps)

	grid, community := s.login("grid"), s.login("community")
	queue := "/api/v1/orders?queue=to_verify"
	// Both instances have the grid worker's grants cached.
	s.must(http.StatusOK, "GET", queue, grid, nil)
	other.must(http.StatusOK, "GET", queue, grid, nil)
	s.must(http.StatusOK, "GET", queue, grid, nil)
	other.must(http.StatusOK, "GET", queue, grid, nil)

	grants := peopleItems(t, s.must(http.StatusOK, "GET", "/api/v1/grants?role=grid_worker", community, nil))
	if len(grants) != 1 {
		t.Fatalf("grid workers %v", grants)
	}
	s.must(http.StatusOK, "POST", fmt.Sprintf("/api/v1/grants/%d/revoke", peopleNum(grants[0]["id"])), community, nil)
	t.Run("the other instance refuses the very next request", func(t *testing.T) {
		other.must(http.StatusForbidden, "GET", queue, grid, nil)
	})
	t.Run("the revoking instance refuses it too", func(t *testing.T) {
		s.must(http.StatusForbidden, "GET", queue, grid, nil)
	})
}
