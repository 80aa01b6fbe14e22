package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// liveCache keeps, per user, the sessions found live and the
// GrantsVersion read with them, so that a request of a known session
// costs no statement at all. It is trusted only under a lease: every
// instance reads the recent changes of grants and sessions
// (model.AuthChange) a few times a second, and may use what it keeps for
// model.AuthChangeLease from the start of its last good read. A
// revocation returns that long after its commit, so by then every
// instance has read it (and dropped the user) or stopped trusting the
// cache. The instance that writes a change hears of it before the commit
// and bypasses the cache for that user until its read sees the row.
//
// Times here are the process's monotonic clock, not the service clock:
// the lease is about how long ago this process read the changes.
type liveCache struct {
	mu sync.Mutex
	// lease is the end of the trust the last good read gave; good is
	// when that read began.
	lease, good time.Time
	// reset is when the cache last started over (the first read, or the
	// first after a long run of failed ones); loads begun before it are
	// not kept.
	reset time.Time
	users map[int64]liveUser
	// changed is when a change of the user was last heard of: a load
	// begun before it may have read the state before the change.
	changed map[int64]time.Time
	// pending are changes this instance wrote and its reads have not yet
	// seen: the user is answered from the database until they are.
	pending map[int64]pendingChange
	// seen are the change rows read, by id, with when they were first
	// read (forgotten once out of the window).
	seen map[int64]time.Time
	// window is how long a change row stays among the recent ones.
	window time.Duration
	// seats are the live grants of seats (model.Holders), by seatKey.
	// Any change of grants may change any seat: every change heard
	// drops them all (they are few, and changes rare).
	seats map[string][]model.Grant
	// seatsChanged is when a change was last heard of: a load of seats
	// begun before it is not kept.
	seatsChanged time.Time
	// fill asks the filler (run by WatchChanges) to load seats outside
	// any request's transaction.
	fill chan []model.Seat
}

type liveUser struct {
	version  int64
	reported bool                 // model.User.ReportedForOthers
	families map[string]time.Time // session family → its expiry (service clock)
}

type pendingChange struct {
	id    int64
	until time.Time
}

func newLiveCache() *liveCache {
	return &liveCache{users: map[int64]liveUser{}, changed: map[int64]time.Time{},
		pending: map[int64]pendingChange{}, seen: map[int64]time.Time{}, window: 2 * time.Minute,
		seats: map[string][]model.Grant{}, fill: make(chan []model.Seat, 64)}
}

// get returns what was kept of the user whose session family is live at
// now (the service clock); false when the cache may not answer.
func (c *liveCache) get(userID int64, family string, now time.Time) (model.AuthCheck, bool) {
	mono := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !mono.Before(c.lease) || c.bypassed(userID, mono) {
		return model.AuthCheck{}, false
	}
	u, ok := c.users[userID]
	if !ok {
		return model.AuthCheck{}, false
	}
	exp, ok := u.families[family]
	if !ok || !now.Before(exp) {
		return model.AuthCheck{}, false
	}
	return model.AuthCheck{Live: true, ExpiresAt: exp, GrantsVersion: u.version, ReportedForOthers: u.reported}, true
}

func (c *liveCache) bypassed(userID int64, mono time.Time) bool {
	p, ok := c.pending[userID]
	if ok && !mono.Before(p.until) {
		delete(c.pending, userID) // its transaction rolled back, or was never read
		return false
	}
	return ok
}

// begin marks the start of a load from the database, to be kept by put.
func (c *liveCache) begin() time.Time { return time.Now() }

// put keeps what a load begun at began found: the user's session family
// live (chk). It is not kept if a change of the user was heard of since
// began (the load may have read the state before it), or the cache
// started over since.
func (c *liveCache) put(began time.Time, userID int64, family string, chk model.AuthCheck) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if began.Before(c.reset) || !began.After(c.changed[userID]) || c.bypassed(userID, time.Now()) {
		return
	}
	u, ok := c.users[userID]
	if !ok || u.version != chk.GrantsVersion || u.reported != chk.ReportedForOthers {
		if len(c.users) >= maxCachedUsers {
			clear(c.users)
		}
		u = liveUser{version: chk.GrantsVersion, reported: chk.ReportedForOthers, families: map[string]time.Time{}}
	}
	u.families[family] = chk.ExpiresAt
	c.users[userID] = u
}

// heard is told of a change this instance is writing (before its commit).
func (c *liveCache) heard(userID, changeID int64) {
	mono := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.users, userID)
	c.changed[userID] = mono
	c.dropSeats(mono)
	if p, ok := c.pending[userID]; !ok || p.id < changeID {
		c.pending[userID] = pendingChange{id: changeID, until: mono.Add(c.window)}
	}
}

// read applies one good read of the recent changes, begun at began.
func (c *liveCache) read(began time.Time, changes []model.AuthChange) {
	mono := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.good.IsZero() || began.Sub(c.good) > c.window/4 {
		// The first read, or the reads failed for so long that a change
		// may have left the window unread: start over.
		clear(c.users)
		clear(c.seats)
		c.reset = began
	}
	c.good = began
	for _, ch := range changes {
		if p, ok := c.pending[ch.UserID]; ok && p.id <= ch.ID {
			delete(c.pending, ch.UserID)
			c.changed[ch.UserID] = mono
			c.dropSeats(mono)
		}
		if _, ok := c.seen[ch.ID]; ok {
			continue
		}
		c.seen[ch.ID] = mono
		delete(c.users, ch.UserID)
		c.changed[ch.UserID] = mono
		c.dropSeats(mono)
	}
	for id, at := range c.seen {
		if mono.Sub(at) > 2*c.window {
			delete(c.seen, id)
		}
	}
	for u, at := range c.changed {
		if mono.Sub(at) > 2*c.window {
			delete(c.changed, u)
		}
	}
	if l := began.Add(model.AuthChangeLease); l.After(c.lease) {
		c.lease = l
	}
}

// maxCachedSeats bounds the seat cache; past it the cache starts over.
const maxCachedSeats = 10000

// seatKey names a list of seats in the seat cache.
func seatKey(seats []model.Seat) string {
	var b strings.Builder
	for _, s := range seats {
		fmt.Fprintf(&b, "%s/%s/%d;", s.Role, s.ScopeKind, s.ScopeID)
	}
	return b.String()
}

// dropSeats forgets every seat's holders at a change heard at mono.
func (c *liveCache) dropSeats(mono time.Time) {
	clear(c.seats)
	c.seatsChanged = mono
}

// getSeats returns the holders kept of the seats named key (shared: not
// to be changed); false when the cache may not answer. It answers
// nobody while a change this instance wrote is unread: that change may
// move any seat.
func (c *liveCache) getSeats(key string) ([]model.Grant, bool) {
	mono := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !mono.Before(c.lease) || c.anyPending(mono) {
		return nil, false
	}
	gs, ok := c.seats[key]
	return gs, ok
}

// anyPending reports whether a change this instance wrote is unread
// (bypassed forgets the ones that never will be).
func (c *liveCache) anyPending(mono time.Time) bool {
	for u := range c.pending {
		if c.bypassed(u, mono) {
			return true
		}
	}
	return false
}

// putSeats keeps the holders of key that a load begun at began found,
// unless a change was heard of since (the load may have read the state
// before it) or the cache started over.
func (c *liveCache) putSeats(began time.Time, key string, gs []model.Grant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if began.Before(c.reset) || !began.After(c.seatsChanged) || c.anyPending(time.Now()) {
		return
	}
	if len(c.seats) >= maxCachedSeats {
		clear(c.seats)
	}
	c.seats[key] = slices.Clip(gs)
}

// Holders is model.Holders answered, under the lease, from what this
// instance keeps: every order move asks who fills its seats. The rows
// returned are shared and must not be changed. A miss reads through db
// (the caller's transaction, as model.Holders does) and asks the filler
// to load the seats for the next caller: a read inside a transaction may
// see a snapshot older than the changes heard, and a second connection
// per request could starve the pool.
func (s *Service) Holders(ctx context.Context, db *gorm.DB, seats ...model.Seat) ([]model.Grant, error) {
	if len(seats) == 0 {
		return nil, nil
	}
	key := seatKey(seats)
	if gs, ok := s.live.getSeats(key); ok {
		return gs, nil
	}
	gs, err := model.Holders(ctx, db, seats...)
	if err == nil {
		select {
		case s.live.fill <- slices.Clone(seats):
		default: // the filler is busy or not running: a later miss asks again
		}
	}
	return gs, err
}

// fillSeats loads the seats asked for by misses, each in a statement of
// its own outside any transaction, until ctx ends.
func (s *Service) fillSeats(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case seats := <-s.live.fill:
			key := seatKey(seats)
			if _, ok := s.live.getSeats(key); ok {
				continue
			}
			began := s.live.begin()
			if gs, err := model.Holders(ctx, s.db, seats...); err == nil {
				s.live.putSeats(began, key, gs)
			}
		}
	}
}

// WatchChanges reads the recent changes of grants and sessions every
// interval until ctx ends, keeping the cache of live sessions trusted.
// Without it running (or while the database does not answer) every
// request is checked against the database.
func (s *Service) WatchChanges(ctx context.Context, interval time.Duration) {
	s.live.mu.Lock()
	s.live.window = model.AuthChangeWindow(s.db)
	s.live.mu.Unlock()
	go s.fillSeats(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		began := s.live.begin()
		changes, err := model.RecentAuthChanges(ctx, s.db)
		switch {
		case err == nil:
			s.live.read(began, changes)
			if failing {
				s.log().InfoContext(ctx, "changes of grants and sessions read again: known sessions are kept again")
			}
			failing = false
		case ctx.Err() == nil && !failing:
			// Once per run of failures, not ten times a second.
			failing = true
			service.LogPass(ctx, s.log(), "read changes of grants and sessions (every session is checked against the database until they are read again)", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
