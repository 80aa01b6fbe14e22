package model_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
)

func TestGrantQueriesSeeOnlyLiveGrants(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Now()
	rows := []model.Grant{
		{UserID: 1, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 7},
		{UserID: 2, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 7, RevokedAt: &now},
		{UserID: 3, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 8},
		{UserID: 1, Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: 7},
		{UserID: 4, Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: 7},
	}
	if err := db.Create(&rows).Error; err != nil {
		t.Fatal(err)
	}
	grid7 := model.Seat{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 7}
	staff7 := model.Seat{Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: 7}

	t.Run("live grants of a user", func(t *testing.T) {
		gs, err := model.LiveGrants(ctx, db, 2)
		if err != nil || len(gs) != 0 {
			t.Fatalf("revoked holder has %v, %v", gs, err)
		}
		gs, err = model.LiveGrantsOf(ctx, db, []int64{1, 2, 3})
		if err != nil || len(gs) != 3 {
			t.Fatalf("users 1–3 hold %d live grants (%v), want 3", len(gs), err)
		}
	})
	t.Run("holders of seats", func(t *testing.T) {
		gs, err := model.Holders(ctx, db, grid7)
		if err != nil || len(gs) != 1 || gs[0].UserID != 1 {
			t.Fatalf("grid 7 holders %v, %v; want user 1 only", gs, err)
		}
		ids, err := model.HolderIDs(ctx, db, grid7, staff7)
		if err != nil || !slices.Equal(ids, []int64{1, 4}) {
			t.Fatalf("holder ids %v, %v; want [1 4]", ids, err)
		}
	})
	t.Run("holds", func(t *testing.T) {
		for _, c := range []struct {
			user int64
			seat model.Seat
			want bool
		}{{1, grid7, true}, {2, grid7, false}, {3, grid7, false}, {4, staff7, true}} {
			got, err := model.Holds(ctx, db, c.user, c.seat)
			if err != nil || got != c.want {
				t.Errorf("user %d holds %v: %v, %v; want %v", c.user, c.seat, got, err, c.want)
			}
		}
	})
}

func TestStorageErrorsAreTranslated(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	t.Run("not found", func(t *testing.T) {
		var g model.Grant
		_, found, err := model.ByIdemKey[model.Order](ctx, db, "author_id", 1, "k")
		if found || err != nil {
			t.Fatalf("missing key: found %v, err %v", found, err)
		}
		err = model.InTx(ctx, db, func(tx *gorm.DB) error { return tx.Take(&g, 999).Error })
		if !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("missing row: %v, want ErrNotFound", err)
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		open := "o-dup"
		u := model.User{OpenID: &open}
		if err := db.Create(&u).Error; err != nil {
			t.Fatal(err)
		}
		err := model.InTx(ctx, db, func(tx *gorm.DB) error { return tx.Create(&model.User{OpenID: &open}).Error })
		if !errors.Is(err, model.ErrDuplicate) {
			t.Fatalf("second open id: %v, want ErrDuplicate", err)
		}
	})
	t.Run("other errors pass through", func(t *testing.T) {
		mine := errors.New("mine")
		if err := model.InTx(ctx, db, func(*gorm.DB) error { return mine }); err != mine {
			t.Fatalf("closure error came back as %v", err)
		}
	})
}
