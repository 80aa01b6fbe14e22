package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/service/auth"
	"redprop/service/wechat"
)

// withAuth rebuilds the router with an auth service of other settings.
func (s *testServer) withAuth(mod func(*auth.Config)) {
	cfg := auth.Config{
		JWTSecret: []byte("test-secret-test-secret-test-secret"), AccessTTL: 15 * time.Minute,
		RefreshTTL: 24 * time.Hour, PerIPPerMin: 1000, PerCodePerMin: 1000, RedisPrefix: s.prefix, Sandbox: true,
	}
	mod(&cfg)
	s.deps.Auth = auth.New(s.db, s.rdb, wechat.NewSandbox(), s.clock, cfg)
	s.router = NewRouter(s.deps)
}

func TestLoginMeRefreshLogout(t *testing.T) {
	s := newTestServer(t)
	r := s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:alice"})
	access := r.Body["access_token"].(string)
	refresh := r.Body["refresh_token"].(string)
	if !strings.HasSuffix(r.Body["access_expires_at"].(string), "+08:00") {
		t.Fatalf("times must be served in +08:00: %v", r.Body["access_expires_at"])
	}
	me := s.must(http.StatusOK, "GET", "/api/v1/me", access, nil)
	user := me.Body["user"].(map[string]any)
	if user["phone_bound"] != false || len(me.Body["households"].([]any)) != 0 {
		t.Fatalf("fresh user: %s", me.Raw)
	}
	// The same code name logs in the same user.
	again := s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:alice"})
	if again.Body["user"].(map[string]any)["id"] != user["id"] {
		t.Fatalf("second login made another user")
	}

	rot := s.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
	newRefresh := rot.Body["refresh_token"].(string)
	if newRefresh == refresh {
		t.Fatal("refresh token did not rotate")
	}
	// Reusing the rotated token fails and revokes the whole family.
	if r := s.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}); r.Status != http.StatusUnauthorized {
		t.Fatalf("reused refresh token: %d", r.Status)
	}
	if r := s.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": newRefresh}); r.Status != http.StatusUnauthorized {
		t.Fatalf("family member after reuse: %d, want 401", r.Status)
	}

	tok := s.login("bob")
	s.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", tok, nil)
	if r := s.do("GET", "/api/v1/me", tok, nil); r.Status != http.StatusUnauthorized || r.ErrCode() != "token_invalid" {
		t.Fatalf("token after logout: %d %s", r.Status, r.Raw)
	}
}

func TestAccessTokenExpires(t *testing.T) {
	s := newTestServer(t)
	tok := s.login("carol")
	s.clock.Advance(16 * time.Minute)
	if r := s.do("GET", "/api/v1/me", tok, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("expired token: %d", r.Status)
	}
	if r := s.do("GET", "/api/v1/me", "", nil); r.Status != http.StatusUnauthorized || r.ErrCode() != "unauthenticated" {
		t.Fatalf("no token: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/api/v1/me", "not-a-jwt", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("garbage token: %d", r.Status)
	}
}

func TestLoginBadInput(t *testing.T) {
	s := newTestServer(t)
	cases := []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty body", "", 400, "empty_body"},
		{"malformed", `{"code":`, 400, "bad_request"},
		{"unknown field", `{"code":"sandbox:x","openid":"forged"}`, 400, "bad_request"},
		{"missing code", `{}`, 400, "missing_code"},
		{"not a sandbox code", `{"code":"081abc"}`, 400, "wechat_bad_code"},
		{"empty sandbox name", `{"code":"sandbox:"}`, 400, "wechat_bad_code"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do("POST", "/api/v1/auth/login", "", c.body)
			if r.Status != c.status || r.ErrCode() != c.code {
				t.Fatalf("status %d code %q, want %d %q: %s", r.Status, r.ErrCode(), c.status, c.code, r.Raw)
			}
			msg := r.Body["error"].(map[string]any)["message"].(string)
			if msg == "" || r.Body["request_id"] == "" {
				t.Fatalf("envelope incomplete: %s", r.Raw)
			}
		})
	}
	var n int64
	s.db.Table("users").Count(&n)
	if n != 0 {
		t.Fatalf("bad logins created %d users", n)
	}
}

func TestSandboxCodesRefusedWithRealAppID(t *testing.T) {
	s := newTestServer(t)
	s.withAuth(func(c *auth.Config) { c.Sandbox = false })
	r := s.do("POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:mallory"})
	if r.Status != http.StatusBadRequest || r.ErrCode() != "sandbox_disabled" {
		t.Fatalf("sandbox code with a real AppID: %d %s", r.Status, r.Raw)
	}
}

func TestLoginRateLimitedPerCodeAndPerIP(t *testing.T) {
	s := newTestServer(t)
	s.withAuth(func(c *auth.Config) { c.PerCodePerMin = 2; c.PerIPPerMin = 4 })
	for i := 0; i < 2; i++ {
		s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:dave"})
	}
	r := s.do("POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:dave"})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("third login with one code: %d Retry-After=%q", r.Status, r.Header.Get("Retry-After"))
	}
	// Another code from the same IP still passes until the IP's limit.
	s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:erin"})
	r = s.do("POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:frank"})
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("fifth login from one IP: %d", r.Status)
	}
	// A new window lets them in again.
	s.clock.Advance(time.Minute)
	s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:frank"})
}

func TestBindPhoneAndName(t *testing.T) {
	s := newTestServer(t)
	tok := s.login("gina")
	r := s.must(http.StatusOK, "PUT", "/api/v1/me/phone", tok, map[string]string{"code": "sandbox:13912345678"})
	if r.Body["phone"] != "13912345678" || r.Body["phone_bound"] != true {
		t.Fatalf("phone: %s", r.Raw)
	}
	if r := s.do("PUT", "/api/v1/me/phone", tok, map[string]string{"code": "sandbox:abc"}); r.Status != http.StatusBadRequest {
		t.Fatalf("bad phone code: %d", r.Status)
	}
	r = s.must(http.StatusOK, "PUT", "/api/v1/me/name", tok, map[string]string{"display_name": "李四"})
	if r.Body["display_name"] != "李四" {
		t.Fatalf("name: %s", r.Raw)
	}
	if r := s.do("PUT", "/api/v1/me/name", tok, map[string]string{"display_name": strings.Repeat("长", 33)}); r.Status != http.StatusBadRequest {
		t.Fatalf("long name: %d", r.Status)
	}
}

func TestMeListsHouseholdsAndGrants(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	me := s.must(http.StatusOK, "GET", "/api/v1/me", s.login("resident"), nil)
	hs := me.Body["households"].([]any)
	if len(hs) != 1 {
		t.Fatalf("households: %s", me.Raw)
	}
	h := hs[0].(map[string]any)
	if h["compound_name"] != city.Compounds[0].Name || h["room"] != "101" || h["relation"] != "owner" || h["area_m2"] != "92.60" {
		t.Fatalf("household: %v", h)
	}
	me = s.must(http.StatusOK, "GET", "/api/v1/me", s.login("grid"), nil)
	gs := me.Body["grants"].([]any)
	if len(gs) != 1 || gs[0].(map[string]any)["role"] != "grid_worker" {
		t.Fatalf("grants: %s", me.Raw)
	}
}

func TestHTTPEnvelopeForUnknownRoutesPanicsAndBigBodies(t *testing.T) {
	s := newTestServer(t)
	t.Run("unknown route", func(t *testing.T) {
		if r := s.do("GET", "/api/v1/nope", "", nil); r.Status != 404 || r.ErrCode() != "route_not_found" {
			t.Fatalf("unknown route: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("wrong method", func(t *testing.T) {
		r := s.do("GET", "/api/v1/auth/login", "", nil)
		if r.Status != http.StatusMethodNotAllowed || r.ErrCode() != "method_not_allowed" || r.Body["request_id"] == "" {
			t.Fatalf("wrong method: %d %s", r.Status, r.Raw)
		}
		if got := r.Header.Get("Allow"); got != "POST" {
			t.Fatalf("Allow: %q, want POST", got)
		}
		r = s.do("DELETE", "/api/v1/orders", "", nil)
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("DELETE /orders: %d Allow %q", r.Status, r.Header.Get("Allow"))
		}
	})
	s.router.GET("/boom", func(c *gin.Context) { panic("secret detail") })
	t.Run("panic", func(t *testing.T) {
		r := s.do("GET", "/boom", "", nil)
		if r.Status != 500 || r.ErrCode() != "internal" || strings.Contains(string(r.Raw), "secret") || strings.Contains(string(r.Raw), "goroutine") {
			t.Fatalf("panic: %d %s", r.Status, r.Raw)
		}
	})
	t.Run("big body", func(t *testing.T) {
		big := `{"code":"` + strings.Repeat("x", 2<<20) + `"}`
		if r := s.do("POST", "/api/v1/auth/login", "", big); r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("big body: %d", r.Status)
		}
	})
	s.must(200, "GET", "/healthz", "", nil)
	s.must(200, "GET", "/readyz", "", nil)
}

// The router writes its lines through Deps.Log only: a 500, a panic and
// a failed readiness check each leave a line at error or warn level with
// the request id, and the access lines are info.
func TestRouterLogsThroughItsLogger(t *testing.T) {
	s := newTestServer(t)
	var buf syncBuffer
	d := s.deps
	d.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	notReady := true
	d.Ready = func(context.Context) error {
		if notReady {
			return errors.New("database: gone")
		}
		return nil
	}
	s.router = NewRouter(d)
	s.router.GET("/boom", func(c *gin.Context) { panic("secret detail") })
	s.router.GET("/broken", func(c *gin.Context) { fail(c, errors.New("disk on fire")) })

	want := map[string]string{"/boom": "panic", "/broken": "internal error", "/readyz": "not ready"}
	for path, msg := range want {
		t.Run(path, func(t *testing.T) {
			before := len(buf.Lines())
			r := s.do("GET", path, "", nil, "X-Request-Id", "req-"+path[1:])
			if r.Status/100 != 5 {
				t.Fatalf("%s: %d %s", path, r.Status, r.Raw)
			}
			lines := buf.Lines()[before:]
			if len(lines) != 1 {
				t.Fatalf("%s logged %d lines at warn and above, want 1: %q", path, len(lines), lines)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatalf("not JSON: %q", lines[0])
			}
			if line["msg"] != msg || line["request_id"] != "req-"+path[1:] {
				t.Fatalf("%s logged %v, want msg %q with its request id", path, line, msg)
			}
		})
	}
}

// syncBuffer collects log lines written from the handlers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Lines returns the complete lines written so far.
func (s *syncBuffer) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.FieldsFunc(s.b.String(), func(r rune) bool { return r == '\n' })
}

// X-Forwarded-For names the client only when the peer is a trusted proxy:
// rotating it does not escape the limit per IP.
func TestForwardedForDoesNotEscapeTheLimitPerIP(t *testing.T) {
	s := newTestServer(t)
	s.withAuth(func(c *auth.Config) { c.PerIPPerMin = 2 })
	codes := 0
	login := func(xff string) int {
		codes++
		return s.do("POST", "/api/v1/auth/login", "", map[string]string{"code": fmt.Sprintf("sandbox:u%d", codes)},
			"X-Forwarded-For", xff).Status
	}
	for i := range 2 {
		if st := login(fmt.Sprintf("10.1.0.%d", i)); st != http.StatusOK {
			t.Fatalf("login %d: %d", i, st)
		}
	}
	if st := login("10.1.0.9"); st != http.StatusTooManyRequests {
		t.Fatalf("a third login with a new X-Forwarded-For: %d", st)
	}
	// Behind a trusted proxy (httptest's peer is 192.0.2.1) the header counts.
	s.deps.TrustedProxies = []string{"192.0.2.0/24"}
	s.router = NewRouter(s.deps)
	if st := login("10.1.0.10"); st != http.StatusOK {
		t.Fatalf("a client behind the trusted proxy: %d", st)
	}
}

// Logging out ends the session even when the client lost its refresh
// token: the access token names its family.
func TestLogoutWithoutRefreshTokenEndsTheSession(t *testing.T) {
	s := newTestServer(t)
	r := s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:hank"})
	access, refresh := r.Body["access_token"].(string), r.Body["refresh_token"].(string)
	s.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", access, nil)
	if r := s.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}); r.Status != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %d %s", r.Status, r.Raw)
	}
}

// Two refreshes with one token at once (a mini-program refreshing from
// several requests after expiry) both get a working pair over HTTP, and
// the session lives on; without a grace window the second is a replay.
func TestConcurrentRefreshWithOneToken(t *testing.T) {
	for _, grace := range []time.Duration{10 * time.Second, 0} {
		t.Run(fmt.Sprintf("grace %s", grace), func(t *testing.T) {
			s := newTestServer(t)
			s.withAuth(func(c *auth.Config) { c.RefreshGrace = grace })
			for round := range 5 {
				r := s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": fmt.Sprintf("sandbox:ivy%d", round)})
				refresh := r.Body["refresh_token"].(string)
				var wg sync.WaitGroup
				got := make([]response, 2)
				for i := range got {
					wg.Add(1)
					go func() {
						defer wg.Done()
						got[i] = s.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
					}()
				}
				wg.Wait()
				if grace == 0 {
					if got[0].Status == http.StatusOK && got[1].Status == http.StatusOK {
						t.Fatalf("round %d: both refreshes won without a grace window", round)
					}
					continue
				}
				for i, g := range got {
					if g.Status != http.StatusOK {
						t.Fatalf("round %d: refresh %d: %d %s", round, i, g.Status, g.Raw)
					}
					s.must(http.StatusOK, "GET", "/api/v1/me", g.Body["access_token"].(string), nil)
				}
				s.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": got[1].Body["refresh_token"].(string)})
			}
		})
	}
}

// Logging out ends every access token of the session, not only the one
// that logged out.
func TestLogoutEndsTheSessionsOtherAccessTokens(t *testing.T) {
	s := newTestServer(t)
	r := s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:jill"})
	first := r.Body["access_token"].(string)
	r = s.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": r.Body["refresh_token"].(string)})
	second := r.Body["access_token"].(string)
	s.must(http.StatusOK, "GET", "/api/v1/me", second, nil)
	s.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", first, nil)
	if r := s.do("GET", "/api/v1/me", second, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("the session's other token after logout: %d", r.Status)
	}
	// Another session of the same person goes on.
	other := s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:jill"}).Body["access_token"].(string)
	s.must(http.StatusOK, "GET", "/api/v1/me", other, nil)
}
