package model_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
)

// watchChanges records the users of the changes db's watchers are told
// of; the func returns them so far.
func watchChanges(t *testing.T, db *gorm.DB) func() []int64 {
	t.Helper()
	var mu sync.Mutex
	var told []int64
	if err := model.WatchAuthChanges(db, func(userID, _ int64) {
		mu.Lock()
		told = append(told, userID)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	return func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(told)
	}
}

// Every change of what a user may do is written with it and told to the
// watchers before the commit: a grant given or revoked, a session ended.
// A revocation returns a lease after its commit; nothing else waits.
func TestAuthChangesAreWrittenAndTold(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	toldOf := watchChanges(t, db)
	users := func(t *testing.T) []int64 {
		t.Helper()
		cs, err := model.RecentAuthChanges(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, c := range cs {
			out = append(out, c.UserID)
		}
		return out
	}
	want := func(t *testing.T, what string, ids ...int64) {
		t.Helper()
		got, told := users(t), toldOf()
		if len(got) != len(ids) || len(told) != len(ids) {
			t.Fatalf("%s: written %v, told %v, want %v", what, got, told, ids)
		}
		for i := range ids {
			if got[i] != ids[i] || told[i] != ids[i] {
				t.Fatalf("%s: written %v, told %v, want %v", what, got, told, ids)
			}
		}
	}
	g := model.Grant{UserID: 5, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 7}
	start := time.Now()
	if err := model.Create(ctx, db, &g); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= model.AuthChangeLease {
		t.Fatalf("a grant given waited %v", d)
	}
	want(t, "given", 5)

	start = time.Now()
	if n, err := model.RevokeGrant(ctx, db, g.ID, 1, time.Now()); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	if d := time.Since(start); d < model.AuthChangeLease {
		t.Fatalf("a revocation returned after %v, before the lease", d)
	}
	want(t, "revoked", 5, 5)
	if n, err := model.RevokeGrant(ctx, db, g.ID, 1, time.Now()); err != nil || n != 0 {
		t.Fatalf("revoke again: %d %v", n, err)
	}
	want(t, "revoked again (no change)", 5, 5)

	sess := model.AuthSession{Family: "fam1", UserID: 6, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.Create(&sess).Error; err != nil {
		t.Fatal(err)
	}
	if err := model.RevokeSession(ctx, db, "fam1", "logout", time.Now()); err != nil {
		t.Fatal(err)
	}
	want(t, "session ended", 5, 5, 6)
	if err := model.RevokeSession(ctx, db, "fam1", "logout", time.Now()); err != nil {
		t.Fatal(err)
	}
	want(t, "session ended again (no change)", 5, 5, 6)

	// A rolled-back change is told (the watcher bypasses the user for a
	// while) but never written.
	boom := errors.New("boom")
	err := model.InTx(ctx, db, func(tx *gorm.DB) error {
		if err := tx.Create(&model.Grant{UserID: 7, Role: model.RoleVolunteer, ScopeKind: model.ScopeGrid, ScopeID: 7}).Error; err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := users(t); len(got) != 3 {
		t.Fatalf("rolled back but written: %v", got)
	}
	if told := toldOf(); len(told) != 4 || told[3] != 7 {
		t.Fatalf("told %v", told)
	}

	// Old changes leave the window, then the table.
	old := time.Now().UTC().Add(-3 * model.AuthChangeWindow(db))
	if err := db.Create(&model.AuthChange{UserID: 8, ChangedAt: old}).Error; err != nil {
		t.Fatal(err)
	}
	if got := users(t); len(got) != 3 {
		t.Fatalf("an old change among the recent ones: %v", got)
	}
	if n, err := model.PurgeAuthChanges(ctx, db); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
}
