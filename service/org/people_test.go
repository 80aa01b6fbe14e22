package org_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/org"
	"redprop/service/servicetest"
)

func TestApplyApproveMakesResident(t *testing.T) {
	f := newEnv(t)
	newcomer, steward := f.actor("newcomer"), f.actor("steward")
	h := f.Households[1]

	app := must(f.svc.Apply(f.Ctx, newcomer, org.ApplyInput{HouseholdID: h.ID, Relation: model.RelationTenant, Note: " 租住两年 "}))(t)
	if app.State != model.ApplicationPending || app.BuildingID != h.BuildingID || app.CompoundID != h.CompoundID || app.Note != "租住两年" {
		t.Fatalf("application %+v", app)
	}
	_, err := f.svc.Apply(f.Ctx, newcomer, org.ApplyInput{HouseholdID: h.ID, Relation: model.RelationOwner})
	wantCode(t, err, "application_pending")

	got := must(f.svc.ApproveApplication(f.Ctx, steward, app.ID))(t)
	if got.State != model.ApplicationApproved || got.Open != nil || got.DecidedBy != steward.UserID || got.DecidedAt == nil {
		t.Fatalf("approved %+v", got)
	}
	var r model.Residency
	if err := f.DB.Where("user_id = ? AND household_id = ?", newcomer.UserID, h.ID).Take(&r).Error; err != nil {
		t.Fatalf("no residency after approval: %v", err)
	}
	if r.Relation != model.RelationTenant || r.BuildingID != h.BuildingID || r.GridID != h.GridID {
		t.Fatalf("residency %+v", r)
	}

	_, err = f.svc.RejectApplication(f.Ctx, steward, app.ID, "重复")
	e := wantCode(t, err, "application_decided")
	if d, _ := e.Detail.(map[string]string); d["state"] != model.ApplicationApproved {
		t.Fatalf("detail %v, want the current state", e.Detail)
	}
	_, err = f.svc.Apply(f.Ctx, newcomer, org.ApplyInput{HouseholdID: h.ID, Relation: model.RelationOwner})
	wantCode(t, err, "already_resident")
}

func TestApplyValidates(t *testing.T) {
	f := newEnv(t)
	a := f.actor("newcomer")
	long := make([]rune, 201)
	for i := range long {
		long[i] = '字'
	}
	cases := []struct {
		in   org.ApplyInput
		code string
	}{
		{org.ApplyInput{HouseholdID: f.Households[1].ID, Relation: "landlord"}, "bad_relation"},
		{org.ApplyInput{HouseholdID: f.Households[1].ID, Relation: model.RelationOwner, Note: string(long)}, "note_too_long"},
		{org.ApplyInput{HouseholdID: 0, Relation: model.RelationOwner}, "bad_household"},
		{org.ApplyInput{HouseholdID: 999999, Relation: model.RelationOwner}, "household_not_found"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			_, err := f.svc.Apply(f.Ctx, a, c.in)
			wantCode(t, err, c.code)
		})
	}
	// 200 runes of Chinese fit, though they are 600 bytes.
	_, err := f.svc.Apply(f.Ctx, a, org.ApplyInput{HouseholdID: f.Households[1].ID, Relation: model.RelationOwner, Note: string(long[:200])})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWhoMayDecide(t *testing.T) {
	f := newEnv(t)
	c := f.City
	f.grant("steward2", model.RoleBuildingSteward, model.ScopeBuilding, c.Buildings[1].ID, c.Buildings[1].Ancestry)
	app := must(f.svc.Apply(f.Ctx, f.actor("newcomer"), org.ApplyInput{HouseholdID: c.Households[1].ID, Relation: model.RelationOwner}))(t)

	allowed := []string{"steward", "grid", "manager", "community", "street", "city", "admin"}
	denied := []string{"steward2", "grid3", "community2", "worker", "committee", "volunteer", "duty", "department", "resident"}
	for _, name := range allowed {
		t.Run(name+" may decide", func(t *testing.T) {
			page := must(f.svc.PendingApplications(f.Ctx, f.actor(name), org.ApplicationFilter{}, service.Page{Limit: 10}))(t)
			if len(page.Items) != 1 || page.Items[0].ID != app.ID {
				t.Errorf("%s: inbox %+v, want the application", name, page.Items)
			}
			v := must(f.svc.GetApplication(f.Ctx, f.actor(name), app.ID))(t)
			if v.ApplicantName != "新住户小黄" || v.Room != "102" || v.BuildingName != "1号楼" || v.CompoundName != "金日天玺" {
				t.Errorf("%s: view %+v", name, v)
			}
		})
	}
	for _, name := range denied {
		t.Run(name+" may not", func(t *testing.T) {
			a := f.actor(name)
			_, err := f.svc.ApproveApplication(f.Ctx, a, app.ID)
			wantCode(t, err, "not_approver")
			_, err = f.svc.RejectApplication(f.Ctx, a, app.ID, "不认识")
			wantCode(t, err, "not_approver")
			_, err = f.svc.GetApplication(f.Ctx, a, app.ID)
			wantCode(t, err, "not_approver")
			page, err := f.svc.PendingApplications(f.Ctx, a, org.ApplicationFilter{}, service.Page{Limit: 10})
			if err == nil && len(page.Items) != 0 {
				t.Errorf("%s sees %+v", name, page.Items)
			}
			_, err = f.svc.PendingApplications(f.Ctx, a, org.ApplicationFilter{BuildingID: c.Buildings[0].ID}, service.Page{Limit: 10})
			if service.KindOf(err) != service.KindForbidden {
				t.Errorf("%s filtering by the building: %v, want forbidden", name, err)
			}
		})
	}
	t.Run("refusals leave it pending", func(t *testing.T) {
		var cur model.ResidencyApplication
		f.DB.Take(&cur, app.ID)
		if cur.State != model.ApplicationPending {
			t.Fatalf("state %s after refused decisions", cur.State)
		}
	})
}

func TestFirmManagerDecidesOnlyUnderLiveContract(t *testing.T) {
	f := newEnv(t)
	app := must(f.svc.Apply(f.Ctx, f.actor("newcomer"), org.ApplyInput{HouseholdID: f.Households[1].ID, Relation: model.RelationOwner}))(t)
	// 光安花园 has no contract: the manager cannot decide there.
	other := must(f.svc.Apply(f.Ctx, f.actor("newcomer"), org.ApplyInput{HouseholdID: f.Households[17].ID, Relation: model.RelationOwner}))(t)
	_, err := f.svc.ApproveApplication(f.Ctx, f.actor("manager"), other.ID)
	wantCode(t, err, "not_approver")

	end := f.Contracts[0].EndsOn // midnight UTC of the last day
	// 23:30 on the last day in Beijing is 15:30 UTC the same day: covered.
	f.Clock.Set(end.Add(15*time.Hour + 30*time.Minute))
	page := must(f.svc.PendingApplications(f.Ctx, f.actor("manager"), org.ApplicationFilter{}, service.Page{Limit: 10}))(t)
	if len(page.Items) != 1 || page.Items[0].ID != app.ID {
		t.Fatalf("last contract day: inbox %+v", page.Items)
	}
	// 00:30 the next day in Beijing is still the last day in UTC: not covered.
	f.Clock.Set(end.Add(16*time.Hour + 30*time.Minute))
	page = must(f.svc.PendingApplications(f.Ctx, f.actor("manager"), org.ApplicationFilter{}, service.Page{Limit: 10}))(t)
	if len(page.Items) != 0 {
		t.Fatalf("after the contract: inbox %+v", page.Items)
	}
	_, err = f.svc.ApproveApplication(f.Ctx, f.actor("manager"), app.ID)
	wantCode(t, err, "not_approver")

	f.Clock.Set(end.Add(-24 * time.Hour))
	if _, err := f.svc.ApproveApplication(f.Ctx, f.actor("manager"), app.ID); err != nil {
		t.Fatalf("within the contract: %v", err)
	}
}

func TestRejectWithdrawAndApplyAgain(t *testing.T) {
	f := newEnv(t)
	newcomer, grid := f.actor("newcomer"), f.actor("grid")
	in := org.ApplyInput{HouseholdID: f.Households[2].ID, Relation: model.RelationFamily}
	app := must(f.svc.Apply(f.Ctx, newcomer, in))(t)
	var err error
	var app2 model.ResidencyApplication
	t.Run("rejected with a reason", func(t *testing.T) {
		_, err = f.svc.RejectApplication(f.Ctx, grid, app.ID, "  ")
		wantCode(t, err, "reason_required")
		got := must(f.svc.RejectApplication(f.Ctx, grid, app.ID, "该户业主不认识申请人"))(t)
		if got.State != model.ApplicationRejected || got.Reason != "该户业主不认识申请人" || got.Open != nil {
			t.Fatalf("rejected %+v", got)
		}
	})
	t.Run("withdrawn by the applicant only", func(t *testing.T) {
		// A decided application no longer blocks a new one.
		app2 = must(f.svc.Apply(f.Ctx, newcomer, in))(t)
		_, err = f.svc.WithdrawApplication(f.Ctx, grid, app2.ID)
		wantCode(t, err, "not_applicant")
		got := must(f.svc.WithdrawApplication(f.Ctx, newcomer, app2.ID))(t)
		if got.State != model.ApplicationWithdrawn {
			t.Fatalf("withdrawn %+v", got)
		}
		_, err = f.svc.WithdrawApplication(f.Ctx, newcomer, app2.ID)
		wantCode(t, err, "application_decided")
		_, err = f.svc.ApproveApplication(f.Ctx, grid, app2.ID)
		wantCode(t, err, "application_decided")
		_, err = f.svc.ApproveApplication(f.Ctx, grid, 999999)
		wantCode(t, err, "application_not_found")
	})
	t.Run("nobody moved in", func(t *testing.T) {
		var n int64
		f.DB.Model(&model.Residency{}).Where("user_id = ?", newcomer.UserID).Count(&n)
		if n != 0 {
			t.Fatalf("%d residencies after reject and withdraw", n)
		}
		mine := must(f.svc.MyApplications(f.Ctx, newcomer, service.Page{Limit: 10}))(t)
		if len(mine.Items) != 2 || mine.Items[0].ID != app2.ID || mine.Items[1].ID != app.ID {
			t.Fatalf("my applications %+v", mine.Items)
		}
	})
}

func TestPendingApplicationsPageAndFilter(t *testing.T) {
	f := newEnv(t)
	c := f.City
	newcomer := f.actor("newcomer")
	var ids []int64
	// Households 1–3 are in building 0, 4–5 in building 1 (same grid).
	for _, h := range []int{1, 2, 3, 4, 5} {
		app := must(f.svc.Apply(f.Ctx, newcomer, org.ApplyInput{HouseholdID: c.Households[h].ID, Relation: model.RelationOwner}))(t)
		ids = append(ids, app.ID)
	}
	grid := f.actor("grid")
	t.Run("pages newest first", func(t *testing.T) {
		p1 := must(f.svc.PendingApplications(f.Ctx, grid, org.ApplicationFilter{}, service.Page{Limit: 3}))(t)
		if len(p1.Items) != 3 || !p1.More || p1.Items[0].ID != ids[4] {
			t.Fatalf("page 1 %+v more=%v", p1.Items, p1.More)
		}
		p2 := must(f.svc.PendingApplications(f.Ctx, grid, org.ApplicationFilter{}, service.Page{After: p1.Items[2].ID, Limit: 3}))(t)
		if len(p2.Items) != 2 || p2.More || p2.Items[1].ID != ids[0] {
			t.Fatalf("page 2 %+v more=%v", p2.Items, p2.More)
		}
	})
	t.Run("filtered by building and grid", func(t *testing.T) {
		steward := must(f.svc.PendingApplications(f.Ctx, f.actor("steward"), org.ApplicationFilter{}, service.Page{Limit: 10}))(t)
		if len(steward.Items) != 3 {
			t.Fatalf("steward of building 0 sees %d, want 3", len(steward.Items))
		}
		b1 := must(f.svc.PendingApplications(f.Ctx, grid, org.ApplicationFilter{BuildingID: c.Buildings[1].ID}, service.Page{Limit: 10}))(t)
		if len(b1.Items) != 2 {
			t.Fatalf("building 1 filter: %d", len(b1.Items))
		}
		g0 := must(f.svc.PendingApplications(f.Ctx, f.actor("community"), org.ApplicationFilter{GridID: c.Grids[0].ID}, service.Page{Limit: 10}))(t)
		if len(g0.Items) != 5 {
			t.Fatalf("grid filter: %d", len(g0.Items))
		}
	})
	t.Run("filters outside the scope are refused", func(t *testing.T) {
		_, err := f.svc.PendingApplications(f.Ctx, f.actor("steward"), org.ApplicationFilter{BuildingID: c.Buildings[1].ID}, service.Page{Limit: 10})
		wantCode(t, err, "out_of_scope")
		_, err = f.svc.PendingApplications(f.Ctx, f.actor("community2"), org.ApplicationFilter{GridID: c.Grids[0].ID}, service.Page{Limit: 10})
		wantCode(t, err, "out_of_scope")
		_, err = f.svc.PendingApplications(f.Ctx, grid, org.ApplicationFilter{BuildingID: 999999}, service.Page{Limit: 10})
		wantCode(t, err, "building_not_found")
		_, err = f.svc.PendingApplications(f.Ctx, newcomer, org.ApplicationFilter{}, service.Page{Limit: 10})
		wantCode(t, err, "not_approver")
	})
}

func TestResidentsAndRemoval(t *testing.T) {
	f := newEnv(t)
	c := f.City
	f.grant("steward2", model.RoleBuildingSteward, model.ScopeBuilding, c.Buildings[1].ID, c.Buildings[1].Ancestry)
	list := must(f.svc.HouseholdResidents(f.Ctx, f.actor("steward"), c.Households[0].ID))(t)
	if len(list) != 1 || list[0].UserID != c.Users["resident"] || list[0].DisplayName != "居民杨阿姨" {
		t.Fatalf("residents %+v", list)
	}
	var err error
	t.Run("residents are read by deciders only", func(t *testing.T) {
		_, err = f.svc.HouseholdResidents(f.Ctx, f.actor("steward2"), c.Households[0].ID)
		wantCode(t, err, "not_approver")
		_, err = f.svc.HouseholdResidents(f.Ctx, f.actor("steward"), 999999)
		wantCode(t, err, "household_not_found")
	})

	t.Run("a decider removes a resident", func(t *testing.T) {
		err = f.svc.RemoveResidency(f.Ctx, f.actor("steward2"), list[0].ID)
		wantCode(t, err, "residency_forbidden")
		err = f.svc.RemoveResidency(f.Ctx, f.actor("newcomer"), list[0].ID)
		wantCode(t, err, "residency_forbidden")
		if err := f.svc.RemoveResidency(f.Ctx, f.actor("steward"), list[0].ID); err != nil {
			t.Fatal(err)
		}
		err = f.svc.RemoveResidency(f.Ctx, f.actor("steward"), list[0].ID)
		wantCode(t, err, "residency_not_found")
	})

	t.Run("a resident leaves by themself", func(t *testing.T) {
		// The resident of 光安花园 leaves by themself.
		var r model.Residency
		f.DB.Where("user_id = ?", c.Users["resident2"]).Take(&r)
		if err := f.svc.RemoveResidency(f.Ctx, f.actor("resident2"), r.ID); err != nil {
			t.Fatal(err)
		}
		var n int64
		f.DB.Model(&model.Residency{}).Count(&n)
		if n != 0 {
			t.Fatalf("%d residencies left", n)
		}
	})
}

// Approvals and rejections racing on several applications at once: on
// each application exactly one decision wins, and the residency exists only
// if approval won. Needs real row locks: MariaDB only.
func TestConcurrentDecisionsOneWins(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB (REDPROP_TEST_MYSQL_DSN): SQLite serialises on one connection")
	}
	f := newEnv(t)
	community, grid := f.actor("community"), f.actor("grid")
	for round := 0; round < 5; round++ {
		var apps []model.ResidencyApplication
		for _, h := range []int{1, 2, 3, 5, 6} {
			applicant := f.user(fmt.Sprintf("applicant%d_%d", round, h))
			apps = append(apps, must(f.svc.Apply(f.Ctx, applicant, org.ApplyInput{HouseholdID: f.Households[h].ID, Relation: model.RelationOwner}))(t))
		}
		var wg sync.WaitGroup
		errs := make([][]error, len(apps))
		for k, app := range apps {
			errs[k] = make([]error, 4)
			for i := range errs[k] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i%2 == 0 {
						_, errs[k][i] = f.svc.ApproveApplication(f.Ctx, community, app.ID)
					} else {
						_, errs[k][i] = f.svc.RejectApplication(f.Ctx, grid, app.ID, "并发")
					}
				}()
			}
		}
		wg.Wait()
		for k, app := range apps {
			wins := 0
			for _, err := range errs[k] {
				if err == nil {
					wins++
				} else if service.KindOf(err) != service.KindConflict {
					t.Fatalf("loser got %v, want a conflict", err)
				}
			}
			var cur model.ResidencyApplication
			f.DB.Take(&cur, app.ID)
			var n int64
			f.DB.Model(&model.Residency{}).Where("user_id = ?", app.UserID).Count(&n)
			want := int64(0)
			if cur.State == model.ApplicationApproved {
				want = 1
			}
			if wins != 1 || n != want {
				t.Fatalf("round %d: %d winners, state %s, %d residencies", round, wins, cur.State, n)
			}
		}
	}
}

// A steward, grid worker or firm manager cannot make themselves a
// resident (an owner votes): someone else decides their application.
func TestNobodyDecidesTheirOwnApplication(t *testing.T) {
	f := newEnv(t)
	for _, name := range []string{"steward", "grid", "manager"} {
		a := f.actor(name)
		h := f.Households[1]
		app := must(f.svc.Apply(f.Ctx, a, org.ApplyInput{HouseholdID: h.ID, Relation: model.RelationOwner}))(t)
		_, err := f.svc.ApproveApplication(f.Ctx, a, app.ID)
		wantCode(t, err, "own_application")
		must(f.svc.WithdrawApplication(f.Ctx, a, app.ID))(t)
	}
}

// An invitation speaks for its creator: after their grant is revoked the
// spare code grants nothing, to them or to anyone else.
func TestInvitationDiesWithItsCreatorsGrant(t *testing.T) {
	f := newEnv(t)
	c := f.City
	street := f.actor("street")
	inv := must(f.svc.CreateInvitation(f.Ctx, street, org.InvitationInput{
		Role: model.RoleStreetStaff, ScopeKind: model.ScopeStreet, ScopeID: c.StreetID, MaxUses: 10}))(t)
	for _, g := range street.Grants {
		_, err := model.RevokeGrant(f.Ctx, f.DB, g.ID, 0, f.Clock.Now())
		servicetest.Must(t, err)
	}
	_, err := f.svc.Redeem(f.Ctx, f.actor("street"), inv.Code)
	wantCode(t, err, "invitation_stale")
	_, err = f.svc.Redeem(f.Ctx, f.user("accomplice"), inv.Code)
	wantCode(t, err, "invitation_stale")
	live, err := model.LiveGrantsOf(f.Ctx, f.DB, []int64{street.UserID, f.Users["accomplice"]})
	servicetest.Must(t, err)
	if n := len(live); n != 0 {
		t.Fatalf("%d live grants after redeeming a stale code", n)
	}
}
