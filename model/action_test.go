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

func mustCreate(t *testing.T, db *gorm.DB, v any) {
	t.Helper()
	if err := db.Create(v).Error; err != nil {
		t.Fatal(err)
	}
}

func TestByIDAndNamesOf(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	users := make([]model.User, 1203)
	for i := range users {
		users[i].DisplayName = "u" + string(rune('a'+i%26))
	}
	if err := db.CreateInBatches(&users, 300).Error; err != nil {
		t.Fatal(err)
	}
	t.Run("by id", func(t *testing.T) {
		u, err := model.ByID[model.User](ctx, db, users[7].ID)
		if err != nil || u.DisplayName != users[7].DisplayName {
			t.Fatalf("user %+v, %v", u, err)
		}
		if _, err := model.ByID[model.User](ctx, db, 999999); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("missing user: %v, want ErrNotFound", err)
		}
	})
	t.Run("names over several batches", func(t *testing.T) {
		ids := []int64{0, -1, 999999}
		for _, u := range users {
			ids = append(ids, u.ID)
		}
		names, err := model.NamesOf(ctx, db, &model.User{}, "display_name", ids)
		if err != nil || len(names) != len(users) {
			t.Fatalf("%d names (%v), want %d", len(names), err, len(users))
		}
		if last := users[len(users)-1]; names[last.ID] != last.DisplayName {
			t.Fatalf("last name %q, want %q", names[last.ID], last.DisplayName)
		}
	})
}

func TestOrgAndResidentQueries(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	street := model.Region{Level: model.LevelStreet, Name: "街道", Ancestry: model.Ancestry{CityID: 1, DistrictID: 2}}
	mustCreate(t, db, &street)
	community := model.Region{Level: model.LevelCommunity, Name: "社区", Ancestry: model.Ancestry{CityID: 1, DistrictID: 2, StreetID: street.ID}}
	mustCreate(t, db, &community)
	anc := model.Ancestry{CityID: 1, DistrictID: 2, StreetID: street.ID, CommunityID: community.ID, CompoundID: 50}
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	mustCreate(t, db, &[]model.Contract{
		{FirmID: 1, StartsOn: day(1), EndsOn: day(20), Ancestry: anc},
		{FirmID: 2, StartsOn: day(1), EndsOn: day(30), Ancestry: anc},
		{FirmID: 3, StartsOn: day(1), EndsOn: day(30), Ancestry: model.Ancestry{CityID: 1, CompoundID: 51}},
	})
	mustCreate(t, db, &[]model.Residency{
		{UserID: 10, HouseholdID: 1, Relation: model.RelationOwner, Ancestry: anc},
		{UserID: 11, HouseholdID: 2, Relation: model.RelationOwner, Ancestry: anc},
		{UserID: 10, HouseholdID: 3, Relation: model.RelationOwner, Ancestry: anc},
		{UserID: 12, HouseholdID: 4, Relation: model.RelationOwner, Ancestry: model.Ancestry{CompoundID: 51}},
	})

	t.Run("region at a level", func(t *testing.T) {
		if r, err := model.TakeRegion(ctx, db, community.ID, model.LevelCommunity); err != nil || r.ID != community.ID {
			t.Fatalf("community: %+v, %v", r, err)
		}
		if _, err := model.TakeRegion(ctx, db, street.ID, model.LevelCommunity); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("a street read as a community: %v", err)
		}
	})
	t.Run("firms serving a place", func(t *testing.T) {
		firms := []int64{1, 2, 3, 4}
		for _, c := range []struct {
			place model.Place
			on    *time.Time
			want  []int64
		}{
			{model.Place{Kind: model.ScopeStreet, ID: street.ID}, nil, []int64{1, 2}},
			{model.Place{Kind: model.ScopeCompound, ID: 50}, ptrTime(day(25)), []int64{2}},
			{model.Place{Kind: model.ScopeCommunity, ID: community.ID}, ptrTime(day(20)), []int64{1, 2}},
			{model.Place{Kind: model.ScopeCompound, ID: 51}, nil, []int64{3}},
			{model.Place{Kind: model.ScopeFirm, ID: 1}, nil, nil},
		} {
			got, err := model.FirmsServing(ctx, db, firms, c.place, c.on)
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("%+v on %v: %v (%v), want %v", c.place, c.on, got, err, c.want)
			}
		}
	})
	t.Run("residents", func(t *testing.T) {
		got, err := model.ResidentsIn(ctx, db, []int64{10, 11, 12, 13}, model.Place{Kind: model.ScopeCompound, ID: 50})
		if err != nil || !slices.Equal(got, []int64{10, 11}) {
			t.Fatalf("residents of 50: %v, %v", got, err)
		}
		var seen []int64
		var after int64
		for {
			page, err := model.ResidenciesAfter(ctx, db, 50, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				seen = append(seen, r.UserID)
			}
			if len(page) < 2 {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(seen, []int64{10, 11, 10}) {
			t.Fatalf("residencies of 50 in pages: %v", seen)
		}
	})
	t.Run("own photos", func(t *testing.T) {
		mine := model.Photo{Key: "k1", UploaderID: 10, Mime: "image/png", Size: 1, SHA256: "x"}
		theirs := model.Photo{Key: "k2", UploaderID: 11, Mime: "image/png", Size: 1, SHA256: "x"}
		mustCreate(t, db, &mine)
		mustCreate(t, db, &theirs)
		got, err := model.OwnPhotoIDs(ctx, db, 10, []int64{mine.ID, theirs.ID, 999999})
		if err != nil || !slices.Equal(got, []int64{mine.ID}) {
			t.Fatalf("own photos %v, %v", got, err)
		}
	})
}

func ptrTime(t time.Time) *time.Time { return &t }

func TestGrantPages(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Now()
	seat := model.Seat{Role: model.RoleCommittee, ScopeKind: model.ScopeCompound, ScopeID: 5}
	rows := []model.Grant{
		{UserID: 1, Role: seat.Role, ScopeKind: seat.ScopeKind, ScopeID: 5},
		{UserID: 2, Role: seat.Role, ScopeKind: seat.ScopeKind, ScopeID: 5, RevokedAt: &now},
		{UserID: 3, Role: seat.Role, ScopeKind: seat.ScopeKind, ScopeID: 6},
		{UserID: 4, Role: seat.Role, ScopeKind: seat.ScopeKind, ScopeID: 5},
		{UserID: 5, Role: seat.Role, ScopeKind: seat.ScopeKind, ScopeID: 5},
		{UserID: 6, Role: model.RoleBuildingSteward, ScopeKind: model.ScopeBuilding, ScopeID: 70, Ancestry: model.Ancestry{GridID: 9}},
		{UserID: 7, Role: model.RoleBuildingSteward, ScopeKind: model.ScopeBuilding, ScopeID: 71, Ancestry: model.Ancestry{GridID: 9}, RevokedAt: &now},
		{UserID: 8, Role: model.RoleBuildingSteward, ScopeKind: model.ScopeBuilding, ScopeID: 72, Ancestry: model.Ancestry{GridID: 8}},
		{UserID: 9, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 9, Ancestry: model.Ancestry{GridID: 9}},
	}
	mustCreate(t, db, &rows)
	users := func(gs []model.Grant) []int64 {
		var out []int64
		for _, g := range gs {
			out = append(out, g.UserID)
		}
		return out
	}
	t.Run("holders in keyset pages", func(t *testing.T) {
		first, err := model.HoldersAfter(ctx, db, seat, 0, 2)
		if err != nil || !slices.Equal(users(first), []int64{1, 4}) {
			t.Fatalf("first page %v, %v", users(first), err)
		}
		rest, err := model.HoldersAfter(ctx, db, seat, first[1].ID, 2)
		if err != nil || !slices.Equal(users(rest), []int64{5}) {
			t.Fatalf("second page %v, %v", users(rest), err)
		}
	})
	t.Run("stewards of a grid", func(t *testing.T) {
		gs, err := model.GridHoldersAfter(ctx, db, model.RoleBuildingSteward, model.ScopeBuilding, 9, 0, 10)
		if err != nil || !slices.Equal(users(gs), []int64{6}) {
			t.Fatalf("stewards of grid 9: %v, %v", users(gs), err)
		}
	})
}

func TestActionItemStore(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	committee := model.Committee{Kind: "owners", Name: "业委会", Ancestry: model.Ancestry{CityID: 1, StreetID: 3, CommunityID: 4, CompoundID: 5}}
	mustCreate(t, db, &committee)
	item := func(owner string, ownerID int64, anc model.Ancestry, due time.Time) *model.ActionItem {
		it := &model.ActionItem{Title: "t", OwnerKind: owner, OwnerID: ownerID, DueAt: due, SourceKind: model.SourceInspection,
			ScopeKind: model.ScopeCompound, ScopeID: anc.CompoundID, Ancestry: anc, OrganiserID: 1, CreatorID: 1,
			State: model.ActionOpen, Version: 1}
		if err := model.Create(ctx, db, it); err != nil {
			t.Fatal(err)
		}
		return it
	}
	here := model.Ancestry{CityID: 1, StreetID: 3, CommunityID: 4, CompoundID: 5}
	there := model.Ancestry{CityID: 1, StreetID: 3, CommunityID: 6, CompoundID: 7}
	a := item(model.OwnerFirm, 20, here, now.Add(-time.Hour))
	b := item(model.OwnerCommittee, committee.ID, here, now.Add(time.Hour))
	c := item(model.OwnerDepartment, 30, there, now.Add(-time.Hour))

	t.Run("a creator's key is unique", func(t *testing.T) {
		key := "k"
		x := &model.ActionItem{Title: "t", OwnerKind: model.OwnerFirm, OwnerID: 20, DueAt: now, SourceKind: model.SourceInspection,
			ScopeKind: model.ScopeCompound, ScopeID: 5, Ancestry: here, CreatorID: 9, State: model.ActionOpen, IdemKey: &key}
		if err := model.Create(ctx, db, x); err != nil {
			t.Fatal(err)
		}
		y := *x
		y.ID = 0
		if err := model.Create(ctx, db, &y); !errors.Is(err, model.ErrDuplicate) {
			t.Fatalf("the same key twice: %v, want ErrDuplicate", err)
		}
		if err := db.Delete(&model.ActionItem{}, x.ID).Error; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("reach", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			reach model.ActionReach
			want  []int64
		}{
			{"everything", model.ActionReach{All: true}, []int64{c.ID, b.ID, a.ID}},
			{"a street", model.ActionReach{Places: []model.Place{{Kind: model.ScopeStreet, ID: 3}}}, []int64{c.ID, b.ID, a.ID}},
			{"a community", model.ActionReach{Places: []model.Place{{Kind: model.ScopeCommunity, ID: 6}}}, []int64{c.ID}},
			{"an owner", model.ActionReach{Owners: []model.ActionOwner{{Kind: model.OwnerFirm, ID: 20}}}, []int64{a.ID}},
			{"committees of a compound", model.ActionReach{CommitteesIn: []model.Place{{Kind: model.ScopeCompound, ID: 5}}}, []int64{b.ID}},
			{"a scope outside the tree", model.ActionReach{Places: []model.Place{{Kind: model.ScopeFirm, ID: 20}}}, nil},
			{"nothing", model.ActionReach{}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := model.ActionItemIDs(ctx, db, model.ActionItemQuery{Reach: tc.reach}, 10)
				if err != nil || !slices.Equal(got, tc.want) {
					t.Fatalf("%v (%v), want %v", got, err, tc.want)
				}
			})
		}
		page, err := model.ActionItemPage(ctx, db, model.ActionItemQuery{Reach: model.ActionReach{All: true}}, c.ID, 1)
		if err != nil || len(page) != 1 || page[0].ID != b.ID {
			t.Fatalf("page below %d: %+v, %v", c.ID, page, err)
		}
	})
	t.Run("due items", func(t *testing.T) {
		ids, err := model.DueActionItemIDs(ctx, db, []string{model.ActionOpen, model.ActionClaimed}, now, 0, 10)
		if err != nil || !slices.Equal(ids, []int64{a.ID, c.ID}) {
			t.Fatalf("due %v, %v", ids, err)
		}
		ids, err = model.DueActionItemIDs(ctx, db, []string{model.ActionOpen}, now, a.ID, 10)
		if err != nil || !slices.Equal(ids, []int64{c.ID}) {
			t.Fatalf("due after %d: %v, %v", a.ID, ids, err)
		}
	})
	t.Run("update compares the version and writes what changed", func(t *testing.T) {
		next := *a
		next.State, next.ClaimedBy, next.ClaimedAt = model.ActionClaimed, 42, &now
		if n, err := model.UpdateActionItem(ctx, db, a, &next, now); err != nil || n != 1 {
			t.Fatalf("update: %d rows, %v", n, err)
		}
		got, err := model.ByID[model.ActionItem](ctx, db, a.ID)
		if err != nil || got.State != model.ActionClaimed || got.ClaimedBy != 42 || got.Version != a.Version+1 || got.Title != a.Title {
			t.Fatalf("after update %+v, %v", got, err)
		}
		// a is stale now: its version was taken.
		if n, err := model.UpdateActionItem(ctx, db, a, &next, now); err != nil || n != 0 {
			t.Fatalf("stale update: %d rows, %v", n, err)
		}
	})
	t.Run("history", func(t *testing.T) {
		if _, found, err := model.LastActionEvent(ctx, db, a.ID, "done"); err != nil || found {
			t.Fatalf("no done row yet: found %v, %v", found, err)
		}
		for _, act := range []string{"create", "done", "done"} {
			ev := model.ActionItemEvent{ItemID: a.ID, Action: act, ActorID: int64(len(act)), ToState: model.ActionOpen, CreatedAt: now}
			if err := model.AppendActionEvent(ctx, db, &ev); err != nil {
				t.Fatal(err)
			}
		}
		last, found, err := model.LastActionEvent(ctx, db, a.ID, "done")
		if err != nil || !found || last.Action != "done" {
			t.Fatalf("last done %+v %v %v", last, found, err)
		}
		all, err := model.ActionEvents(ctx, db, []int64{a.ID, b.ID}, "")
		if err != nil || len(all) != 3 || all[0].Action != "create" {
			t.Fatalf("history %+v, %v", all, err)
		}
		done, err := model.ActionEvents(ctx, db, []int64{a.ID}, "done")
		if err != nil || len(done) != 2 || done[0].ID > done[1].ID {
			t.Fatalf("done rows %+v, %v", done, err)
		}
	})
}
