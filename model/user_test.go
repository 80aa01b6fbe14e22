package model_test

import (
	"errors"
	"testing"

	"redprop/model"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

func TestUserAndResidencyQueries(t *testing.T) {
	c := servicetest.New(t)
	resident := c.UserID("resident")
	home := c.Households[0]
	t.Run("user by openid", func(t *testing.T) {
		u, err := model.UserByOpenID(c.Ctx, c.DB, wechat.SandboxOpenID("resident"))
		if err != nil || u.ID != resident {
			t.Fatalf("user %+v, %v; want %d", u, err, resident)
		}
		if _, err := model.UserByOpenID(c.Ctx, c.DB, "nobody"); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("unknown openid: %v, want ErrNotFound", err)
		}
	})
	t.Run("homes and residents", func(t *testing.T) {
		homes, err := model.HomesOf(c.Ctx, c.DB, resident)
		if err != nil || len(homes) != 1 || homes[0].HouseholdID != home.ID || homes[0].Room != home.Room ||
			homes[0].CompoundName != c.Compounds[0].Name || homes[0].AreaCentiM2 != home.AreaCentiM2 {
			t.Fatalf("homes %+v, %v", homes, err)
		}
		in, err := model.LivesIn(c.Ctx, c.DB, resident, home.ID)
		if err != nil || !in {
			t.Fatalf("resident of their home: %v, %v", in, err)
		}
		if in, _ := model.LivesIn(c.Ctx, c.DB, resident, c.Households[1].ID); in {
			t.Fatal("resident of the neighbour's home")
		}
		rs, err := model.ResidentsOf(c.Ctx, c.DB, home.ID)
		if err != nil || len(rs) != 1 || rs[0].UserID != resident || rs[0].DisplayName != "居民杨阿姨" {
			t.Fatalf("residents %+v, %v", rs, err)
		}
	})
	t.Run("a residency is deleted once", func(t *testing.T) {
		rs, _ := model.ResidentsOf(c.Ctx, c.DB, home.ID)
		for _, want := range []int64{1, 0} {
			if n, err := model.DeleteResidency(c.Ctx, c.DB, rs[0].ID); err != nil || n != want {
				t.Fatalf("delete: %d rows, %v; want %d", n, err, want)
			}
		}
	})
	t.Run("applications by reach", func(t *testing.T) {
		open := int8(1)
		newcomer := c.UserID("newcomer")
		apps := []model.ResidencyApplication{
			{UserID: newcomer, HouseholdID: c.Households[1].ID, Relation: model.RelationOwner, State: model.ApplicationPending, Open: &open, Ancestry: c.Households[1].Ancestry},
			{UserID: newcomer, HouseholdID: c.Households[16].ID, Relation: model.RelationOwner, State: model.ApplicationPending, Open: &open, Ancestry: c.Households[16].Ancestry},
		}
		servicetest.Must(t, model.Create(c.Ctx, c.DB, &apps))
		grid0 := model.Reach{Nodes: []model.Node{{Kind: model.ScopeGrid, ID: c.Grids[0].ID}}}
		p, err := model.ApplicationsPage(c.Ctx, c.DB, model.ApplicationQuery{State: model.ApplicationPending, Reach: &grid0}, model.Page{Limit: 10})
		if err != nil || len(p.Items) != 1 || p.Items[0].ID != apps[0].ID || p.Items[0].ApplicantName != "新住户小黄" {
			t.Fatalf("grid 0's inbox %+v, %v", p, err)
		}
		mine, err := model.ApplicationsPage(c.Ctx, c.DB, model.ApplicationQuery{UserID: newcomer}, model.Page{Limit: 10})
		if err != nil || len(mine.Items) != 2 || mine.Items[0].ID != apps[1].ID {
			t.Fatalf("own applications %+v, %v", mine, err)
		}
		pending, err := model.PendingApplicationsOf(c.Ctx, c.DB, newcomer)
		if err != nil || len(pending) != 2 {
			t.Fatalf("pending %+v, %v", pending, err)
		}
		servicetest.Must(t, model.CloseApplication(c.Ctx, c.DB, apps[0].ID, model.ApplicationRejected, "不认识", 1, c.Clock.Now()))
		state, err := model.LockApplicationState(c.Ctx, c.DB, apps[0].ID)
		if err != nil || state != model.ApplicationRejected {
			t.Fatalf("state %q, %v", state, err)
		}
		v, err := model.ApplicationViewByID(c.Ctx, c.DB, apps[0].ID)
		if err != nil || v.Open != nil || v.Reason != "不认识" || v.DecidedAt == nil {
			t.Fatalf("closed application %+v, %v", v, err)
		}
		if pending, _ := model.PendingApplicationsOf(c.Ctx, c.DB, newcomer); len(pending) != 1 {
			t.Fatalf("pending after closing one: %d", len(pending))
		}
	})
}
