package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/auth"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

const grace = 10 * time.Second

type fixture struct {
	ctx   context.Context
	db    *gorm.DB
	rdb   redis.UniversalClient
	pre   string
	clock *service.FakeClock
	cfg   auth.Config
	svc   *auth.Service
}

func newFixture(t *testing.T, rdb redis.UniversalClient, prefix string, mod ...func(*auth.Config)) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), db: dbtest.Open(t), clock: service.NewFakeClock(servicetest.Start)}
	if rdb == nil {
		rdb, prefix = dbtest.Redis(t)
	}
	f.rdb, f.pre = rdb, prefix
	cfg := auth.Config{JWTSecret: []byte("test-secret-test-secret-test-secret"), AccessTTL: 15 * time.Minute,
		RefreshTTL: 24 * time.Hour, PerIPPerMin: 1000, PerCodePerMin: 1000, RedisPrefix: prefix, Sandbox: true,
		RefreshGrace: grace}
	for _, m := range mod {
		m(&cfg)
	}
	f.cfg = cfg
	f.svc = auth.New(f.db, rdb, wechat.NewSandbox(), f.clock, cfg)
	return f
}

// deadRedis is a client of a server that is not there.
func deadRedis(t *testing.T) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func (f *fixture) login(t *testing.T, name string) auth.Tokens {
	t.Helper()
	tok, _, err := f.svc.Login(f.ctx, "sandbox:"+name, "10.0.0.1")
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return tok
}

func (f *fixture) works(t *testing.T, tok auth.Tokens) {
	t.Helper()
	if _, err := f.svc.Authenticate(f.ctx, tok.AccessToken); err != nil {
		t.Fatalf("access token refused: %v", err)
	}
}

func (f *fixture) refused(t *testing.T, tok auth.Tokens) {
	t.Helper()
	if _, err := f.svc.Authenticate(f.ctx, tok.AccessToken); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("access token of an ended session: %v", err)
	}
	if _, err := f.svc.Refresh(f.ctx, tok.RefreshToken); !errors.Is(err, auth.ErrRefreshInvalid) {
		t.Fatalf("refresh token of an ended session: %v", err)
	}
}

// refreshAtOnce presents one refresh token from n goroutines released
// together, as a mini-program does from several requests after expiry.
func (f *fixture) refreshAtOnce(refresh string, n int) ([]auth.Tokens, []error) {
	toks, errs := make([]auth.Tokens, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			toks[i], errs[i] = f.svc.Refresh(f.ctx, refresh)
		}()
	}
	close(start)
	wg.Wait()
	return toks, errs
}

// Concurrent refreshes with one token each get a working pair — the same
// one while Redis keeps it, a pair of the same session when Redis is down
// — and the session lives on.
func TestConcurrentRefreshesAllGetAWorkingPair(t *testing.T) {
	for _, redisUp := range []bool{true, false} {
		t.Run(fmt.Sprintf("redis up %v", redisUp), func(t *testing.T) {
			var f *fixture
			if redisUp {
				f = newFixture(t, nil, "")
			} else {
				f = newFixture(t, deadRedis(t), "x:")
			}
			for trial := range 5 {
				tok := f.login(t, fmt.Sprintf("ivy%d", trial))
				toks, errs := f.refreshAtOnce(tok.RefreshToken, 5)
				for i, err := range errs {
					if err != nil {
						t.Fatalf("trial %d: refresh %d of 5 failed: %v", trial, i, err)
					}
					f.works(t, toks[i])
					if redisUp && toks[i] != toks[0] {
						t.Fatalf("trial %d: refresh %d got another pair than the first", trial, i)
					}
				}
				// Whichever answer the client kept goes on refreshing.
				next, err := f.svc.Refresh(f.ctx, toks[4].RefreshToken)
				if err != nil {
					t.Fatalf("trial %d: the next refresh: %v", trial, err)
				}
				f.works(t, next)
			}
		})
	}
}

// A real replay still ends the session: the rotated token presented after
// the grace window, or after the pair issued for it was itself used.
func TestReplayEndsTheSession(t *testing.T) {
	f := newFixture(t, nil, "")
	t.Run("after the grace window", func(t *testing.T) {
		tok := f.login(t, "jack")
		next, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(grace + time.Second)
		if _, err := f.svc.Refresh(f.ctx, tok.RefreshToken); !errors.Is(err, auth.ErrRefreshInvalid) {
			t.Fatalf("replay after the window: %v", err)
		}
		f.refused(t, next)
	})
	t.Run("after the new pair was used", func(t *testing.T) {
		tok := f.login(t, "kate")
		next, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		third, err := f.svc.Refresh(f.ctx, next.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Refresh(f.ctx, tok.RefreshToken); !errors.Is(err, auth.ErrRefreshInvalid) {
			t.Fatalf("replay of the grandparent within the window: %v", err)
		}
		f.refused(t, third)
	})
	t.Run("within the window it is no replay", func(t *testing.T) {
		tok := f.login(t, "lena")
		next, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(grace - time.Second)
		again, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
		if err != nil || again != next {
			t.Fatalf("second use within the window: %v (same pair %v)", err, again == next)
		}
		f.works(t, next)
	})
	t.Run("no grace configured", func(t *testing.T) {
		f := newFixture(t, nil, "", func(c *auth.Config) { c.RefreshGrace = 0 })
		tok := f.login(t, "mona")
		next, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Refresh(f.ctx, tok.RefreshToken); !errors.Is(err, auth.ErrRefreshInvalid) {
			t.Fatalf("second use without a window: %v", err)
		}
		f.refused(t, next)
	})
}

// failOnce makes the next write to table fail as a dead database would,
// after the refresh token was found and checked.
func failOnce(t *testing.T, db *gorm.DB, op, table string) *atomic.Bool {
	t.Helper()
	armed := &atomic.Bool{}
	name := fmt.Sprintf("test:fail_%s_%s_%d", op, table, time.Now().UnixNano())
	fn := func(tx *gorm.DB) {
		if tx.Statement.Table == table && armed.CompareAndSwap(true, false) {
			tx.AddError(errors.New("injected: database went away"))
		}
	}
	var err error
	switch op {
	case "create":
		err = db.Callback().Create().Before("gorm:create").Register(name, fn)
		t.Cleanup(func() { db.Callback().Create().Remove(name) })
	case "update":
		err = db.Callback().Update().Before("gorm:update").Register(name, fn)
		t.Cleanup(func() { db.Callback().Update().Remove(name) })
	}
	if err != nil {
		t.Fatal(err)
	}
	return armed
}

// A refresh that fails after its token was checked consumes nothing: the
// retry succeeds and the session goes on.
func TestFailedRefreshConsumesNothing(t *testing.T) {
	cases := []struct{ name, op, table string }{
		{"new token not stored", "create", "refresh_tokens"},
		{"session not extended", "update", "auth_sessions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// No grace: a retry that counted as a second use would end the
			// session, so only a refresh that consumed nothing passes.
			f := newFixture(t, nil, "", func(c *auth.Config) { c.RefreshGrace = 0 })
			tok := f.login(t, "nina")
			armed := failOnce(t, f.db, c.op, c.table)
			armed.Store(true)
			if _, err := f.svc.Refresh(f.ctx, tok.RefreshToken); err == nil {
				t.Fatal("the refresh with a failing database succeeded")
			}
			if armed.Load() {
				t.Fatal("the failure was not injected")
			}
			next, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
			if err != nil {
				t.Fatalf("retry once the database is back: %v", err)
			}
			f.works(t, next)
			f.works(t, tok) // the session was not ended
		})
	}
	t.Run("database closed", func(t *testing.T) {
		f := newFixture(t, nil, "", func(c *auth.Config) { c.RefreshGrace = 0 })
		tok := f.login(t, "olga")
		// A second service on a closed pool stands for the outage; the
		// tokens live in the database the first one reaches.
		closed := closedDB(t)
		svcDown := auth.New(closed, f.rdb, wechat.NewSandbox(), f.clock, auth.Config{JWTSecret: []byte("test-secret-test-secret-test-secret"),
			AccessTTL: 15 * time.Minute, RefreshTTL: 24 * time.Hour, PerIPPerMin: 1000, PerCodePerMin: 1000})
		if _, err := svcDown.Refresh(f.ctx, tok.RefreshToken); err == nil {
			t.Fatal("refresh on a closed database succeeded")
		}
		next, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
		if err != nil {
			t.Fatalf("retry once the database is back: %v", err)
		}
		f.works(t, next)
	})
}

// closedDB is a database handle whose pool has been closed.
func closedDB(t *testing.T) *gorm.DB {
	db, err := model.Open("", fmt.Sprintf("file:closed%d?mode=memory&cache=shared", time.Now().UnixNano()), nil)
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.Close()
	return db
}

// With Redis unreachable, sessions work from the database alone: access
// tokens are accepted, refresh rotates, logout ends the session for good,
// and logins are still limited, counted in the process.
func TestSessionsWithoutRedis(t *testing.T) {
	f := newFixture(t, deadRedis(t), "x:", func(c *auth.Config) { c.PerCodePerMin = 2 })
	tok := f.login(t, "paul")
	start := time.Now()
	f.works(t, tok)
	next, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh without Redis: %v", err)
	}
	f.works(t, next)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a dead Redis slowed the requests: %s", d)
	}
	if err := f.svc.Logout(f.ctx, next.AccessToken, ""); err != nil {
		t.Fatalf("logout without Redis: %v", err)
	}
	f.refused(t, next)
	if _, err := f.svc.Authenticate(f.ctx, tok.AccessToken); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("the session's first access token after logout: %v", err)
	}
	t.Run("login limit counted in process", func(t *testing.T) {
		f.login(t, "paul")
		_, _, err := f.svc.Login(f.ctx, "sandbox:paul", "10.0.0.1")
		servicetest.WantErr(t, err, service.KindRateLimited, "too_many_logins")
	})
}

// Logout holds however Redis fares, and the other sessions of the person
// go on.
func TestLogoutEndsOnlyItsSession(t *testing.T) {
	f := newFixture(t, nil, "")
	a, b := f.login(t, "quin"), f.login(t, "quin")
	next, err := f.svc.Refresh(f.ctx, a.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(f.ctx, a.AccessToken, ""); err != nil {
		t.Fatal(err)
	}
	f.refused(t, next)
	f.works(t, b)
	// Logging out with a refresh token ends that token's session too.
	c := f.login(t, "quin")
	if err := f.svc.Logout(f.ctx, b.AccessToken, c.RefreshToken); err != nil {
		t.Fatal(err)
	}
	f.refused(t, b)
	f.refused(t, c)
}

func TestPurgeDeletesExpiredSessions(t *testing.T) {
	f := newFixture(t, nil, "")
	old := f.login(t, "rosa")
	f.clock.Advance(23 * time.Hour)
	live := f.login(t, "rosa")
	f.clock.Advance(2 * time.Hour)
	n, err := f.svc.Purge(f.ctx)
	if err != nil || n != 2 {
		t.Fatalf("purge: %d rows, %v; want the expired session and its token", n, err)
	}
	if _, err := f.svc.Refresh(f.ctx, live.RefreshToken); err != nil {
		t.Fatalf("the live session after the purge: %v", err)
	}
	if _, err := f.svc.Refresh(f.ctx, old.RefreshToken); !errors.Is(err, auth.ErrRefreshInvalid) {
		t.Fatalf("purged refresh token: %v", err)
	}
}

// The pair kept for the grace window is sealed: what Redis holds gives
// nobody a token of the session.
func TestGraceEntryHoldsNoTokenInClear(t *testing.T) {
	f := newFixture(t, nil, "")
	tok := f.login(t, "sara")
	next, err := f.svc.Refresh(f.ctx, tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := f.rdb.Keys(f.ctx, f.pre+"auth:grace:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("grace entries: %v %v", keys, err)
	}
	raw, err := f.rdb.Get(f.ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{next.RefreshToken, next.AccessToken, tok.RefreshToken} {
		if strings.Contains(raw, secret) {
			t.Fatal("the grace entry holds a token in clear")
		}
	}
	if again, err := f.svc.Refresh(f.ctx, tok.RefreshToken); err != nil || again != next {
		t.Fatalf("second use: %v (same pair %v)", err, again == next)
	}
}

// Grants are cached across requests, but a grant created or revoked acts
// (or stops acting) from the very next request, on this instance and on
// another sharing the database; a cached request costs one statement.
func TestGrantCacheNeverLetsARevokedGrantAct(t *testing.T) {
	f := newFixture(t, nil, "")
	// A second server instance: its own cache, the same database.
	other := auth.New(f.db, f.rdb, wechat.NewSandbox(), f.clock, f.cfg)
	tok, user, err := f.svc.Login(f.ctx, "sandbox:grid", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	roles := func(t *testing.T, s *auth.Service) []string {
		t.Helper()
		a, err := s.Authenticate(f.ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		out := []string{}
		for _, g := range a.Grants {
			out = append(out, g.Role)
		}
		return out
	}
	both := func(t *testing.T, want string) {
		t.Helper()
		for i, s := range []*auth.Service{f.svc, other} {
			if got := fmt.Sprint(roles(t, s)); got != want {
				t.Fatalf("instance %d: roles %s, want %s", i+1, got, want)
			}
		}
	}
	both(t, "[]") // cached empty on both
	grant := func(t *testing.T, role string) model.Grant {
		t.Helper()
		g := model.Grant{UserID: user.ID, Role: role, ScopeKind: model.ScopeGrid, ScopeID: 7}
		if err := model.Create(f.ctx, f.db, &g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	var worker model.Grant
	t.Run("a new grant acts at once", func(t *testing.T) {
		worker = grant(t, model.RoleGridWorker)
		both(t, "[grid_worker]")
		grant(t, model.RoleVolunteer)
		both(t, "[grid_worker volunteer]")
	})
	t.Run("a cached request checks session and grants in one statement", func(t *testing.T) {
		n := dbtest.CountStatements(t, f.db)
		n.On.Store(true)
		roles(t, f.svc)
		if got, sql := n.Take(); got != 1 {
			t.Fatalf("%d statements for a cached request, want 1: %q", got, sql)
		}
		n.On.Store(false)
	})
	t.Run("a revoked grant is refused on the very next request, on both instances", func(t *testing.T) {
		if n, err := model.RevokeGrant(f.ctx, f.db, worker.ID, 1, f.clock.Now()); err != nil || n != 1 {
			t.Fatalf("revoke: %d %v", n, err)
		}
		both(t, "[volunteer]")
	})
	t.Run("a revoke inside a caller's transaction holds once it commits", func(t *testing.T) {
		v := grant(t, model.RoleBuildingSteward)
		both(t, "[volunteer building_steward]")
		err := model.InTx(f.ctx, f.db, func(tx *gorm.DB) error {
			_, err := model.RevokeGrant(f.ctx, tx, v.ID, 1, f.clock.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		both(t, "[volunteer]")
	})
	t.Run("the session is still checked", func(t *testing.T) {
		if err := f.svc.Logout(f.ctx, tok.AccessToken, tok.RefreshToken); err != nil {
			t.Fatal(err)
		}
		for i, s := range []*auth.Service{f.svc, other} {
			if _, err := s.Authenticate(f.ctx, tok.AccessToken); !errors.Is(err, auth.ErrTokenInvalid) {
				t.Fatalf("instance %d: logged-out token: %v", i+1, err)
			}
		}
	})
}
