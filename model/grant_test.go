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

func TestInvitationSpendAndRevoke(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	inv := model.Invitation{Code: "ABCDEFGHJKMN", Role: model.RoleVolunteer, ScopeKind: model.ScopeCommunity, ScopeID: 7,
		ExpiresAt: now.Add(time.Hour), MaxUses: 2, CreatedBy: 9}
	if err := model.Create(ctx, db, &inv); err != nil {
		t.Fatal(err)
	}
	t.Run("by code", func(t *testing.T) {
		got, err := model.InvitationByCode(ctx, db, inv.Code)
		if err != nil || got.ID != inv.ID {
			t.Fatalf("by code: %+v, %v", got, err)
		}
		if _, err := model.InvitationByCode(ctx, db, "NOPE"); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("unknown code: %v, want ErrNotFound", err)
		}
	})
	t.Run("spent up to its uses", func(t *testing.T) {
		for i, want := range []int64{1, 1, 0} {
			n, err := model.SpendInvitation(ctx, db, inv.ID, now)
			if err != nil || n != want {
				t.Fatalf("use %d: %d rows, %v; want %d", i+1, n, err, want)
			}
		}
	})
	t.Run("not when expired or revoked", func(t *testing.T) {
		other := model.Invitation{Code: "PQRSTUVWXYZ2", Role: model.RoleVolunteer, ScopeKind: model.ScopeCommunity, ScopeID: 7,
			ExpiresAt: now.Add(time.Hour), MaxUses: 5}
		if err := model.Create(ctx, db, &other); err != nil {
			t.Fatal(err)
		}
		if n, err := model.SpendInvitation(ctx, db, other.ID, now.Add(time.Hour)); err != nil || n != 0 {
			t.Fatalf("expired spend: %d rows, %v", n, err)
		}
		if n, err := model.RevokeInvitation(ctx, db, other.ID, now); err != nil || n != 1 {
			t.Fatalf("revoke: %d rows, %v", n, err)
		}
		if n, err := model.RevokeInvitation(ctx, db, other.ID, now); err != nil || n != 0 {
			t.Fatalf("second revoke: %d rows, %v; want 0", n, err)
		}
		if n, err := model.SpendInvitation(ctx, db, other.ID, now); err != nil || n != 0 {
			t.Fatalf("revoked spend: %d rows, %v", n, err)
		}
	})
	t.Run("listed by creator", func(t *testing.T) {
		p, err := model.InvitationsBy(ctx, db, 9, model.Page{Limit: 10})
		if err != nil || len(p.Items) != 1 || p.Items[0].ID != inv.ID || p.More {
			t.Fatalf("creator's invitations %+v, %v", p, err)
		}
	})
}

func TestRevokeGrantOnce(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	g := model.Grant{UserID: 1, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 7}
	if err := model.Create(ctx, db, &g); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	if n, err := model.RevokeGrant(ctx, db, g.ID, 5, now); err != nil || n != 1 {
		t.Fatalf("revoke: %d rows, %v", n, err)
	}
	if n, err := model.RevokeGrant(ctx, db, g.ID, 6, now.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("second revoke: %d rows, %v; want 0", n, err)
	}
	got, err := model.ByID[model.Grant](ctx, db, g.ID)
	if err != nil || got.RevokedBy != 5 || got.RevokedAt == nil || !got.RevokedAt.Equal(now) {
		t.Fatalf("revoked grant %+v, %v: the first revocation must stand", got, err)
	}
	if held, _ := model.Holds(ctx, db, 1, model.Seat{Role: g.Role, ScopeKind: g.ScopeKind, ScopeID: g.ScopeID}); held {
		t.Fatal("a revoked grant still holds its seat")
	}
}

func TestGrantsPageAreas(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	var users [2]int64
	for i, name := range []string{"a", "b"} {
		open := "o-" + name
		u := model.User{OpenID: &open, DisplayName: name}
		if err := model.Create(ctx, db, &u); err != nil {
			t.Fatal(err)
		}
		users[i] = u.ID
	}
	u1, u2 := users[0], users[1]
	now := time.Now()
	rows := []model.Grant{
		{UserID: u1, Role: model.RoleStreetStaff, ScopeKind: model.ScopeStreet, ScopeID: 3, Ancestry: model.Ancestry{StreetID: 3}},
		{UserID: u1, Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: 4, Ancestry: model.Ancestry{StreetID: 3, CommunityID: 4}},
		{UserID: u2, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 5, Ancestry: model.Ancestry{StreetID: 3, CommunityID: 4, GridID: 5}},
		{UserID: u2, Role: model.RoleFirmWorker, ScopeKind: model.ScopeFirm, ScopeID: 8},
		{UserID: u2, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 6, Ancestry: model.Ancestry{StreetID: 3, CommunityID: 4, GridID: 6}, RevokedAt: &now},
	}
	if err := model.Create(ctx, db, &rows); err != nil {
		t.Fatal(err)
	}
	ids := func(p model.Paged[model.GrantView]) []int64 {
		var out []int64
		for _, g := range p.Items {
			out = append(out, g.ID)
		}
		return out
	}
	r := func(i int) int64 { return rows[i].ID }
	for _, c := range []struct {
		name string
		q    model.GrantQuery
		want []int64
	}{
		{"nothing without areas", model.GrantQuery{}, nil},
		{"all live", model.GrantQuery{All: true}, []int64{r(3), r(2), r(1), r(0)}},
		{"revoked too", model.GrantQuery{All: true, IncludeRevoked: true}, []int64{r(4), r(3), r(2), r(1), r(0)}},
		{"below a street but not the street itself", model.GrantQuery{Areas: []model.GrantArea{
			{Node: model.Node{Kind: model.ScopeStreet, ID: 3}, Kinds: []string{model.ScopeStreet}, Except: true}}}, []int64{r(2), r(1)}},
		{"grids of a community only", model.GrantQuery{Areas: []model.GrantArea{
			{Node: model.Node{Kind: model.ScopeCommunity, ID: 4}, Kinds: []string{model.ScopeGrid}}}}, []int64{r(2)}},
		{"a firm's own", model.GrantQuery{Areas: []model.GrantArea{{Node: model.Node{Kind: model.ScopeFirm, ID: 8}}}}, []int64{r(3)}},
		{"filters and areas", model.GrantQuery{UserID: u1, Areas: []model.GrantArea{
			{Node: model.Node{Kind: model.ScopeStreet, ID: 3}}}}, []int64{r(1), r(0)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := model.GrantsPage(ctx, db, c.q, model.Page{Limit: 10})
			if err != nil || !slices.Equal(ids(p), c.want) {
				t.Fatalf("grants %v, %v; want %v", ids(p), err, c.want)
			}
		})
	}
	t.Run("holder names", func(t *testing.T) {
		p, err := model.GrantsPage(ctx, db, model.GrantQuery{All: true, UserID: u2}, model.Page{Limit: 1})
		if err != nil || len(p.Items) != 1 || !p.More || p.Items[0].DisplayName != "b" {
			t.Fatalf("first page %+v, %v", p, err)
		}
	})
}

// t0 is the harness clock's start, Monday 2026-11-23 10:00 in Beijing.
var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
