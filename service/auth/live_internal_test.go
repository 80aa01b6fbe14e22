package auth

import (
	"testing"
	"time"

	"redprop/model"
)

// A load that began before a change of its user was heard of may have
// read the state before the change: it is not kept.
func TestLiveCacheKeepsNoLoadOlderThanAChange(t *testing.T) {
	expires := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name   string
		change func(c *liveCache)
	}{
		{"a change read", func(c *liveCache) { c.read(time.Now(), []model.AuthChange{{ID: 9, UserID: 1}}) }},
		{"a change written here", func(c *liveCache) { c.heard(1, 9) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLiveCache()
			c.read(time.Now(), nil) // the lease
			began := c.begin()
			tc.change(c)
			c.put(began, 1, "fam", live(expires, 3))
			if _, ok := c.get(1, "fam", time.Now()); ok {
				t.Fatal("a load older than the change was kept")
			}
			c.read(time.Now(), []model.AuthChange{{ID: 9, UserID: 1}})
			c.put(c.begin(), 1, "fam", live(expires, 4))
			if v, ok := c.get(1, "fam", time.Now()); !ok || v.GrantsVersion != 4 {
				t.Fatalf("a load after the change: %d %v", v.GrantsVersion, ok)
			}
		})
	}
}

// A change written here keeps its user out of the cache until a read
// sees it (or, rolled back, for the window).
func TestLiveCacheBypassesAUserUntilItsChangeIsRead(t *testing.T) {
	c := newLiveCache()
	c.read(time.Now(), nil)
	c.put(c.begin(), 1, "fam", live(time.Now().Add(time.Hour), 3))
	c.heard(1, 9)
	c.put(c.begin(), 1, "fam", live(time.Now().Add(time.Hour), 3))
	if _, ok := c.get(1, "fam", time.Now()); ok {
		t.Fatal("kept while its change is unread")
	}
	c.read(time.Now(), []model.AuthChange{{ID: 8, UserID: 1}}) // an older change
	c.put(c.begin(), 1, "fam", live(time.Now().Add(time.Hour), 3))
	if _, ok := c.get(1, "fam", time.Now()); ok {
		t.Fatal("kept once an older change is read")
	}
	c.read(time.Now(), []model.AuthChange{{ID: 8, UserID: 1}, {ID: 9, UserID: 1}})
	c.put(c.begin(), 1, "fam", live(time.Now().Add(time.Hour), 4))
	if _, ok := c.get(1, "fam", time.Now()); !ok {
		t.Fatal("not kept once its change is read")
	}
}

// Nothing is answered past the lease, an expired session never, and a
// read after a long run of failed ones starts the cache over.
func TestLiveCacheLeaseExpiryAndRestart(t *testing.T) {
	c := newLiveCache()
	c.put(c.begin(), 1, "fam", live(time.Now().Add(time.Hour), 3))
	if _, ok := c.get(1, "fam", time.Now()); ok {
		t.Fatal("answered before any read of the changes")
	}
	c.read(time.Now(), nil)
	c.put(c.begin(), 1, "fam", live(time.Now().Add(time.Hour), 3))
	c.put(c.begin(), 1, "old", live(time.Now().Add(-time.Second), 3))
	if _, ok := c.get(1, "fam", time.Now()); !ok {
		t.Fatal("not answered under the lease")
	}
	if _, ok := c.get(1, "old", time.Now()); ok {
		t.Fatal("an expired session answered")
	}
	if _, ok := c.get(1, "fam", time.Now().Add(2*time.Hour)); ok {
		t.Fatal("a session answered past its expiry")
	}
	c.mu.Lock()
	c.lease = time.Now()
	c.mu.Unlock()
	if _, ok := c.get(1, "fam", time.Now()); ok {
		t.Fatal("answered past the lease")
	}
	// The reads failed for a quarter of the window: a change may have
	// gone unread, so what was kept goes.
	c.read(time.Now().Add(c.window/4+time.Second), nil)
	if _, ok := c.get(1, "fam", time.Now()); ok {
		t.Fatal("kept across a long run of failed reads")
	}
}

func live(expires time.Time, version int64) model.AuthCheck {
	return model.AuthCheck{Live: true, ExpiresAt: expires, GrantsVersion: version}
}

// Seats: a load begun before any change heard of is not kept, and while
// a change written here is unread no seat is answered from the cache (a
// load between the change and its commit reads the state before it).
func TestSeatCacheKeepsNoLoadAcrossAChange(t *testing.T) {
	c := newLiveCache()
	c.read(time.Now(), nil) // the lease
	key := seatKey([]model.Seat{{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 9}})
	old := []model.Grant{{UserID: 501}}
	began := c.begin()
	c.read(time.Now(), []model.AuthChange{{ID: 8, UserID: 77}})
	c.putSeats(began, key, old)
	if _, ok := c.getSeats(key); ok {
		t.Fatal("a load older than a change read was kept")
	}
	c.putSeats(c.begin(), key, old)
	if gs, ok := c.getSeats(key); !ok || len(gs) != 1 {
		t.Fatalf("a load after the change: %v %v", gs, ok)
	}
	c.heard(77, 9) // written here, not committed yet
	if _, ok := c.getSeats(key); ok {
		t.Fatal("seats answered across a change written here")
	}
	c.putSeats(c.begin(), key, old) // may have read the state before the commit
	if _, ok := c.getSeats(key); ok {
		t.Fatal("a load during an unread change of this instance was kept")
	}
	c.read(time.Now(), []model.AuthChange{{ID: 9, UserID: 77}})
	if _, ok := c.getSeats(key); ok {
		t.Fatal("seats kept from before the change once read")
	}
	c.putSeats(c.begin(), key, []model.Grant{{UserID: 502}})
	if gs, ok := c.getSeats(key); !ok || gs[0].UserID != 502 {
		t.Fatalf("a load after the change was read: %v %v", gs, ok)
	}
}
