package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service/auth"
	"redprop/service/wechat"
)

// With the changes of grants and sessions read (WatchChanges), a request
// of a known session costs no statement; a revocation still holds on
// every instance from the moment it returns, and an instance that stops
// reading the changes goes back to asking the database.
// watchEvery is how often the instances of a pair read the changes: as
// often as the server does, so that a revocation that did not wait out
// the lease would be seen stale on the other instance.
var watchEvery = model.AuthChangeLease / 5

// pair is the fixture's instance and another over the same database, both
// reading the changes. The other is told of no change: it learns of them
// only by reading them, as one in another process does.
type pair struct {
	f         *fixture
	other     *auth.Service
	ctx       context.Context
	stopOther context.CancelFunc
	n         *dbtest.Statements
}

func newPair(t *testing.T, f *fixture) *pair {
	ctx, stop := context.WithCancel(f.ctx)
	t.Cleanup(stop)
	p := &pair{f: f, other: auth.NewUnwatched(f.db, f.rdb, wechat.NewSandbox(), f.clock, f.cfg), ctx: ctx,
		n: dbtest.CountStatements(t, f.db)}
	p.n.Except = "auth_changes" // the reads of the changes run on their own
	go f.svc.WatchChanges(ctx, watchEvery)
	p.startOther()
	return p
}

// startOther has the other instance read the changes (again).
func (p *pair) startOther() {
	var ctx context.Context
	ctx, p.stopOther = context.WithCancel(p.ctx)
	go p.other.WatchChanges(ctx, watchEvery)
}

// statements runs do and returns the statements it sent.
func (p *pair) statements(do func()) []string {
	p.n.Take()
	p.n.On.Store(true)
	do()
	p.n.On.Store(false)
	_, sql := p.n.Take()
	return sql
}

// eventually waits (ten leases at most) for every instance to answer want
// from what it keeps, without a statement; answer is one instance's.
func (p *pair) eventually(t *testing.T, instances []*auth.Service, want string, answer func(*auth.Service) string) {
	t.Helper()
	deadline := time.Now().Add(10 * model.AuthChangeLease)
	for i, s := range instances {
		for {
			var got string
			sql := p.statements(func() { got = answer(s) })
			if got == want && len(sql) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d: %s, want %s, from the cache (statements %q)", i+1, got, want, sql)
			}
			time.Sleep(watchEvery)
		}
	}
}

func TestLiveSessionsKeptUnderALease(t *testing.T) {
	f := newFixture(t, nil, "")
	p := newPair(t, f)
	other := p.other
	tok, user, err := f.svc.Login(f.ctx, "sandbox:grid", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	statements := p.statements
	roles := func(t *testing.T, s *auth.Service) string {
		t.Helper()
		a, err := s.Authenticate(f.ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		var out []string
		for _, g := range a.Grants {
			out = append(out, g.Role)
		}
		return fmt.Sprint(out)
	}
	instances := []*auth.Service{f.svc, other}
	eventually := func(t *testing.T, want string) {
		t.Helper()
		p.eventually(t, instances, want, func(s *auth.Service) string { return roles(t, s) })
	}
	t.Run("a known session costs no statement", func(t *testing.T) {
		eventually(t, "[]")
	})
	var worker model.Grant
	t.Run("a new grant acts at once where it was given, within a lease elsewhere", func(t *testing.T) {
		worker = model.Grant{UserID: user.ID, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 7}
		if err := model.Create(f.ctx, f.db, &worker); err != nil {
			t.Fatal(err)
		}
		if got := roles(t, f.svc); got != "[grid_worker]" {
			t.Fatalf("the giving instance: %s", got)
		}
		eventually(t, "[grid_worker]")
	})
	t.Run("a revoked grant is refused everywhere once the revocation returns", func(t *testing.T) {
		if n, err := model.RevokeGrant(f.ctx, f.db, worker.ID, 1, f.clock.Now()); err != nil || n != 1 {
			t.Fatalf("revoke: %d %v", n, err)
		}
		for i, s := range instances {
			if got := roles(t, s); got != "[]" {
				t.Fatalf("instance %d right after the revocation: %s", i+1, got)
			}
		}
		eventually(t, "[]")
	})
	t.Run("an instance that stops reading the changes asks the database", func(t *testing.T) {
		p.stopOther()
		time.Sleep(2 * model.AuthChangeLease)
		if sql := statements(func() { roles(t, other) }); len(sql) == 0 {
			t.Fatal("answered from the cache past its lease")
		}
		g := model.Grant{UserID: user.ID, Role: model.RoleVolunteer, ScopeKind: model.ScopeGrid, ScopeID: 7}
		if err := model.Create(f.ctx, f.db, &g); err != nil {
			t.Fatal(err)
		}
		if got := roles(t, other); got != "[volunteer]" {
			t.Fatalf("past its lease: %s", got)
		}
		if _, err := model.RevokeGrant(f.ctx, f.db, g.ID, 1, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if got := roles(t, other); got != "[]" {
			t.Fatalf("past its lease, after the revocation: %s", got)
		}
		instances = instances[:1]
	})
	t.Run("a session ended is refused everywhere once the logout returns", func(t *testing.T) {
		p.startOther()
		instances = []*auth.Service{f.svc, other}
		eventually(t, "[]")
		if err := f.svc.Logout(f.ctx, tok.AccessToken, ""); err != nil {
			t.Fatal(err)
		}
		for i, s := range instances {
			if _, err := s.Authenticate(f.ctx, tok.AccessToken); !errors.Is(err, auth.ErrTokenInvalid) {
				t.Fatalf("instance %d: logged-out token: %v", i+1, err)
			}
		}
	})
}

// An access token verified once is kept by its exact text, but only
// while its times allow it: past its expiry it is refused as before, and
// a token changed by a single character is verified afresh (and fails).
func TestVerifiedTokensKeptWhileValid(t *testing.T) {
	f := newFixture(t, nil, "")
	tok := f.login(t, "resident")
	f.works(t, tok)
	f.works(t, tok) // from the kept claims
	b := []byte(tok.AccessToken)
	i := len(b) - 5
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	if _, err := f.svc.Authenticate(f.ctx, string(b)); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("a tampered token: %v", err)
	}
	f.clock.Advance(f.cfg.AccessTTL + time.Second)
	if _, err := f.svc.Authenticate(f.ctx, tok.AccessToken); !errors.Is(err, auth.ErrTokenInvalid) {
		t.Fatalf("an expired token kept: %v", err)
	}
}

// A database that stops answering is logged once by the reader of the
// changes, not at every read.
func TestChangeReaderLogsARunOfFailuresOnce(t *testing.T) {
	f := newFixture(t, nil, "")
	var buf safeBuffer
	cfg := f.cfg
	cfg.Log = slog.New(slog.NewJSONHandler(&buf, nil))
	// A database of its own (the tests' may be shared), closed at once.
	db, err := model.Open("", "file:closed-reader?mode=memory", nil)
	if err != nil {
		t.Fatal(err)
	}
	svc := auth.New(db, f.rdb, wechat.NewSandbox(), f.clock, cfg)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithTimeout(f.ctx, 300*time.Millisecond)
	defer stop()
	svc.WatchChanges(ctx, 10*time.Millisecond) // some thirty failed reads
	if n := strings.Count(buf.String(), `"level":"ERROR"`); n != 1 {
		t.Fatalf("%d error lines for one run of failures, want 1:\n%s", n, buf.String())
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
