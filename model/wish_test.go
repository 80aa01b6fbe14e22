package model_test

import (
	"context"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
)

func TestWishStore(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	newWish := func(state string) model.Wish {
		t.Helper()
		w := model.Wish{Title: "灯泡", State: state, AuthorID: 1, ResidentID: 1, HouseholdID: 1, Channel: "self", Version: 1,
			Ancestry: model.Ancestry{CityID: 1, CommunityID: 4, CompoundID: 5}}
		if err := model.Create(ctx, db, &w); err != nil {
			t.Fatal(err)
		}
		return w
	}

	t.Run("compare-and-set writes zero values it is told to, once", func(t *testing.T) {
		w := newWish(model.WishClaimed)
		w.ClaimerID, w.ClaimerRole, w.ClaimedAt = 9, model.RoleVolunteer, &now
		if n, err := model.UpdateWish(ctx, db, &w, 1, now, "claimer_id", "claimer_role", "claimed_at"); err != nil || n != 1 {
			t.Fatalf("claim: %d %v", n, err)
		}
		next := w
		next.State, next.ClaimerID, next.ClaimerRole, next.ClaimedAt, next.Title = model.WishOpen, 0, "", nil, "not written"
		if n, err := model.UpdateWish(ctx, db, &next, w.Version, now, "state", "claimer_id", "claimer_role", "claimed_at"); err != nil || n != 1 {
			t.Fatalf("release: %d %v", n, err)
		}
		stale := w
		stale.State = model.WishFulfilled
		stale.FulfilPhotos = []int64{3, 4}
		if n, err := model.UpdateWish(ctx, db, &stale, w.Version, now, "state", "fulfil_photos"); err != nil || n != 0 {
			t.Fatalf("stale write: %d %v", n, err)
		}
		got, err := model.ByID[model.Wish](ctx, db, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != model.WishOpen || got.ClaimerID != 0 || got.ClaimedAt != nil || got.Title != "灯泡" || got.Version != 3 ||
			len(got.FulfilPhotos) != 0 {
			t.Fatalf("stored %+v", got)
		}
	})

	t.Run("photo ids are stored as JSON", func(t *testing.T) {
		w := newWish(model.WishClaimed)
		w.State, w.FulfilPhotos = model.WishFulfilled, []int64{3, 4}
		if n, err := model.UpdateWish(ctx, db, &w, 1, now, "state", "fulfil_photos"); err != nil || n != 1 {
			t.Fatalf("fulfil: %d %v", n, err)
		}
		var raw string
		if err := db.Model(&model.Wish{}).Where("id = ?", w.ID).Pluck("fulfil_photos", &raw).Error; err != nil || raw != "[3,4]" {
			t.Fatalf("stored %q %v", raw, err)
		}
	})

	t.Run("only an open wish is withdrawn by a late verdict", func(t *testing.T) {
		open, claimed := newWish(model.WishOpen), newWish(model.WishClaimed)
		for _, c := range []struct {
			w    model.Wish
			rows int64
			want string
		}{{open, 1, model.WishWithdrawn}, {claimed, 0, model.WishClaimed}} {
			if err := model.FlagWish(ctx, db, c.w.ID, now); err != nil {
				t.Fatal(err)
			}
			n, err := model.WithdrawOpenWish(ctx, db, c.w.ID, now)
			if err != nil || n != c.rows {
				t.Fatalf("withdraw %s: %d rows %v", c.w.State, n, err)
			}
			got, _ := model.ByID[model.Wish](ctx, db, c.w.ID)
			if !got.Flagged || got.State != c.want {
				t.Fatalf("%s wish after a risky verdict: %+v", c.w.State, got)
			}
		}
	})
}

func TestHouseholdPlaces(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	c := model.Compound{Name: "金日天玺"}
	if err := db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	b := model.Building{Name: "1号楼", Ancestry: model.Ancestry{CompoundID: c.ID}}
	if err := db.Create(&b).Error; err != nil {
		t.Fatal(err)
	}
	hs := []model.Household{
		{Unit: "1", Room: "101", AreaCentiM2: 8000, Ancestry: model.Ancestry{CompoundID: c.ID, BuildingID: b.ID}},
		{Room: "102", AreaCentiM2: 9000, Ancestry: model.Ancestry{CompoundID: c.ID, BuildingID: b.ID + 100}},
	}
	if err := db.Create(&hs).Error; err != nil {
		t.Fatal(err)
	}
	got, err := model.HouseholdPlaces(ctx, db, []int64{hs[0].ID, hs[1].ID, 999999})
	if err != nil || len(got) != 2 {
		t.Fatalf("places %+v %v", got, err)
	}
	if p := got[hs[0].ID]; p.CompoundName != "金日天玺" || p.BuildingName != "1号楼" || p.Room != "101" || p.AreaCentiM2 != 8000 {
		t.Fatalf("first %+v", p)
	}
	// A household whose building is gone still has its place, unnamed.
	if p := got[hs[1].ID]; p.CompoundName != "金日天玺" || p.BuildingName != "" || p.Room != "102" {
		t.Fatalf("second %+v", p)
	}
}
