package org_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/org"
	"redprop/service/servicetest"
)

func TestInvitationScopeAndRoleRules(t *testing.T) {
	f := newEnv(t)
	c := f.City
	f.grant("steward2", model.RoleBuildingSteward, model.ScopeBuilding, c.Buildings[1].ID, c.Buildings[1].Ancestry)
	in := func(role, kind string, id int64) org.InvitationInput {
		return org.InvitationInput{Role: role, ScopeKind: kind, ScopeID: id, MaxUses: 1}
	}
	cases := []struct {
		who  string
		in   org.InvitationInput
		code string // "" = allowed
	}{
		{"community", in(model.RoleGridWorker, model.ScopeGrid, c.Grids[0].ID), ""},
		{"community", in(model.RoleBuildingSteward, model.ScopeBuilding, c.Buildings[2].ID), ""},
		{"community", in(model.RoleVolunteer, model.ScopeCompound, c.Compounds[1].ID), ""},
		{"community", in(model.RoleGridWorker, model.ScopeGrid, c.Grids[2].ID), "cannot_invite"},                // 光安社区
		{"community", in(model.RoleCommunityStaff, model.ScopeCommunity, c.Communities[1].ID), "cannot_invite"}, // 光安社区, and a peer role
		{"community", in(model.RoleCommunityStaff, model.ScopeCommunity, c.Communities[0].ID), "cannot_invite"}, // peers are made by the street
		{"community", in(model.RoleStreetStaff, model.ScopeStreet, c.StreetID), "cannot_invite"},
		{"community", in(model.RoleFirmManager, model.ScopeFirm, c.Firm.ID), "cannot_invite"},
		{"community2", in(model.RoleGridWorker, model.ScopeGrid, c.Grids[2].ID), ""},
		{"street", in(model.RoleCommunityStaff, model.ScopeCommunity, c.Communities[1].ID), ""},
		{"street", in(model.RoleStreetStaff, model.ScopeStreet, c.StreetID), ""},
		{"street", in(model.RoleDistrictStaff, model.ScopeDistrict, c.DistrictID), "cannot_invite"},
		{"street", in(model.RoleDepartmentStaff, model.ScopeDepartment, c.Department.ID), ""},
		{"city", in(model.RoleDistrictStaff, model.ScopeDistrict, c.DistrictID), ""},
		{"city", in(model.RoleFirmManager, model.ScopeFirm, c.Firm.ID), ""},
		{"city", in(model.RolePlatformAdmin, model.ScopePlatform, 0), "cannot_invite"},
		{"admin", in(model.RolePlatformAdmin, model.ScopePlatform, 0), ""},
		{"manager", in(model.RoleFirmWorker, model.ScopeFirm, c.Firm.ID), ""},
		{"manager", in(model.RoleFirmManager, model.ScopeFirm, c.Firm.ID), "cannot_invite"},
		{"worker", in(model.RoleFirmWorker, model.ScopeFirm, c.Firm.ID), "cannot_invite"},
		{"grid", in(model.RoleBuildingSteward, model.ScopeBuilding, c.Buildings[1].ID), ""},
		{"grid", in(model.RoleBuildingSteward, model.ScopeBuilding, c.Buildings[2].ID), "cannot_invite"}, // another grid
		{"grid", in(model.RoleGridWorker, model.ScopeGrid, c.Grids[0].ID), "cannot_invite"},
		{"steward", in(model.RoleBuildingSteward, model.ScopeBuilding, c.Buildings[0].ID), "cannot_invite"},
		{"resident", in(model.RoleVolunteer, model.ScopeCommunity, c.Communities[0].ID), "cannot_invite"},
		{"community", in(model.RoleGridWorker, model.ScopeBuilding, c.Buildings[0].ID), "role_scope_mismatch"},
		{"admin", in(model.RoleFirmManager, model.ScopeCompound, c.Compounds[0].ID), "role_scope_mismatch"},
		{"community", in("mayor", model.ScopeGrid, c.Grids[0].ID), "bad_role"},
		{"community", in(model.RoleGridWorker, "galaxy", 1), "bad_scope_kind"},
		{"community", in(model.RoleGridWorker, model.ScopeGrid, 999999), "scope_not_found"},
		// A region id of the wrong level is no scope of that kind.
		{"admin", in(model.RoleStreetStaff, model.ScopeStreet, c.Communities[0].ID), "scope_not_found"},
		{"admin", in(model.RolePlatformAdmin, model.ScopePlatform, 5), "scope_not_found"},
		{"community", org.InvitationInput{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: c.Grids[0].ID}, "bad_max_uses"},
		{"community", org.InvitationInput{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: c.Grids[0].ID, MaxUses: 1001}, "bad_max_uses"},
		{"community", org.InvitationInput{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: c.Grids[0].ID, MaxUses: 1, ExpiresIn: 91 * 24 * time.Hour}, "bad_expiry"},
		{"community", org.InvitationInput{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: c.Grids[0].ID, MaxUses: 1, ExpiresIn: time.Second}, "bad_expiry"},
	}
	for i, tc := range cases {
		name := fmt.Sprintf("%02d %s invites %s over %s %d", i, tc.who, tc.in.Role, tc.in.ScopeKind, tc.in.ScopeID)
		t.Run(name, func(t *testing.T) {
			inv, err := f.svc.CreateInvitation(f.Ctx, f.actor(tc.who), tc.in)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Code) < 10 || strings.ContainsAny(inv.Code, "01OIL") || inv.CreatedBy != c.Users[tc.who] {
				t.Fatalf("invitation %+v", inv)
			}
			if want := f.Clock.Now().Add(org.InvitationDefaultTTL); !inv.ExpiresAt.Equal(want) {
				t.Fatalf("expires %v, want %v", inv.ExpiresAt, want)
			}
		})
	}
	t.Run("one grant must carry both role and scope", func(t *testing.T) {
		// A role held over one scope and a scope held through another role
		// do not add up: the grid worker also volunteers in 光安社区.
		both := f.grant("grid", model.RoleVolunteer, model.ScopeCommunity, c.Communities[1].ID, c.Communities[1].Ancestry)
		_, err := f.svc.CreateInvitation(f.Ctx, both, in(model.RoleBuildingSteward, model.ScopeBuilding, c.Buildings[4].ID))
		wantCode(t, err, "cannot_invite")
	})
}

func TestRedeemGrantsOnceAndCountsUses(t *testing.T) {
	f := newEnv(t)
	c := f.City
	at := f.Clock.Now().Add(48 * time.Hour)
	inv := must(f.svc.CreateInvitation(f.Ctx, f.actor("community"), org.InvitationInput{
		Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: c.Grids[1].ID, ExpiresAt: &at, MaxUses: 2, Note: "华旗绿城网格员",
	}))(t)
	if !inv.ExpiresAt.Equal(at) || inv.GridID != c.Grids[1].ID || inv.CommunityID != c.Communities[0].ID {
		t.Fatalf("invitation %+v", inv)
	}
	a, b, d := f.user("a"), f.user("b"), f.user("d")
	// People type codes in lower case and in groups.
	typed := strings.ToLower(inv.Code[:4] + "-" + inv.Code[4:8] + " " + inv.Code[8:])
	g := must(f.svc.Redeem(f.Ctx, a, typed))(t)
	if g.UserID != a.UserID || g.Role != model.RoleGridWorker || g.ScopeID != c.Grids[1].ID || g.InvitationID != inv.ID ||
		g.CreatedBy != c.Users["community"] || g.GridID != c.Grids[1].ID || g.CommunityID != c.Communities[0].ID {
		t.Fatalf("grant %+v", g)
	}
	_, err := f.svc.Redeem(f.Ctx, f.actor("a"), inv.Code)
	wantCode(t, err, "already_redeemed")
	must(f.svc.Redeem(f.Ctx, b, inv.Code))(t)
	_, err = f.svc.Redeem(f.Ctx, d, inv.Code)
	wantCode(t, err, "invitation_used_up")

	var cur model.Invitation
	f.DB.Take(&cur, inv.ID)
	var grants, redemptions int64
	f.DB.Model(&model.Grant{}).Where("invitation_id = ?", inv.ID).Count(&grants)
	f.DB.Model(&model.Redemption{}).Where("invitation_id = ?", inv.ID).Count(&redemptions)
	if cur.Uses != 2 || grants != 2 || redemptions != 2 {
		t.Fatalf("uses %d grants %d redemptions %d, want 2 each", cur.Uses, grants, redemptions)
	}

	_, err = f.svc.Redeem(f.Ctx, d, "ZZZZZZZZZZZZ")
	wantCode(t, err, "invitation_not_found")
	_, err = f.svc.Redeem(f.Ctx, d, "  ")
	wantCode(t, err, "missing_code")
}

func TestRedeemRefusesExpiredRevokedAndHeld(t *testing.T) {
	f := newEnv(t)
	c := f.City
	community := f.actor("community")
	mk := func() model.Invitation {
		return must(f.svc.CreateInvitation(f.Ctx, community, org.InvitationInput{
			Role: model.RoleVolunteer, ScopeKind: model.ScopeCommunity, ScopeID: c.Communities[0].ID, ExpiresIn: time.Hour, MaxUses: 5,
		}))(t)
	}
	expired, revoked, held := mk(), mk(), mk()
	u := f.user("u")

	var err error
	t.Run("revoked", func(t *testing.T) {
		must(f.svc.RevokeInvitation(f.Ctx, community, revoked.ID))(t)
		_, err = f.svc.RevokeInvitation(f.Ctx, community, revoked.ID)
		wantCode(t, err, "invitation_already_revoked")
		_, err = f.svc.RevokeInvitation(f.Ctx, f.actor("community2"), expired.ID)
		wantCode(t, err, "cannot_revoke_invitation")
		_, err = f.svc.Redeem(f.Ctx, u, revoked.Code)
		wantCode(t, err, "invitation_revoked")
	})

	t.Run("already held", func(t *testing.T) {
		must(f.svc.Redeem(f.Ctx, u, held.Code))(t)
		_, err = f.svc.Redeem(f.Ctx, f.actor("u"), mk().Code)
		wantCode(t, err, "already_granted")
	})

	t.Run("expired", func(t *testing.T) {
		f.Clock.Advance(time.Hour)
		_, err = f.svc.Redeem(f.Ctx, f.user("v"), expired.Code)
		wantCode(t, err, "invitation_expired")

		var cur model.Invitation
		f.DB.Take(&cur, expired.ID)
		if cur.Uses != 0 {
			t.Fatalf("refused redemptions used the code: uses %d", cur.Uses)
		}
		mine := must(f.svc.MyInvitations(f.Ctx, community, service.Page{Limit: 2}))(t)
		if len(mine.Items) != 2 || !mine.More {
			t.Fatalf("my invitations %+v", mine)
		}
		if s := f.svc.InvitationState(cur); s != "expired" {
			t.Fatalf("state %s", s)
		}
	})
}

// Many users racing for the last use of a code: exactly one gets a grant.
// The guarded increment needs real row locks: MariaDB only.
func TestConcurrentRedeemOfSingleUseCode(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB (REDPROP_TEST_MYSQL_DSN): SQLite serialises on one connection")
	}
	f := newEnv(t)
	c := f.City
	for round := 0; round < 5; round++ {
		inv := must(f.svc.CreateInvitation(f.Ctx, f.actor("community"), org.InvitationInput{
			Role: model.RoleVolunteer, ScopeKind: model.ScopeCommunity, ScopeID: c.Communities[0].ID, MaxUses: 1,
		}))(t)
		actors := make([]*service.Actor, 8)
		for i := range actors {
			actors[i] = f.user(fmt.Sprintf("racer%d_%d", round, i))
		}
		errs := make([]error, len(actors))
		var wg sync.WaitGroup
		for i := range actors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.svc.Redeem(f.Ctx, actors[i], inv.Code)
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			wantCode(t, err, "invitation_used_up")
		}
		var cur model.Invitation
		f.DB.Take(&cur, inv.ID)
		var grants, redemptions int64
		f.DB.Model(&model.Grant{}).Where("invitation_id = ?", inv.ID).Count(&grants)
		f.DB.Model(&model.Redemption{}).Where("invitation_id = ?", inv.ID).Count(&redemptions)
		if wins != 1 || cur.Uses != 1 || grants != 1 || redemptions != 1 {
			t.Fatalf("round %d: %d winners, uses %d, grants %d, redemptions %d", round, wins, cur.Uses, grants, redemptions)
		}
	}
}

// One user double-tapping a multi-use code: one grant, one use.
func TestConcurrentRedeemBySameUser(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB (REDPROP_TEST_MYSQL_DSN): SQLite serialises on one connection")
	}
	f := newEnv(t)
	inv := must(f.svc.CreateInvitation(f.Ctx, f.actor("community"), org.InvitationInput{
		Role: model.RoleVolunteer, ScopeKind: model.ScopeCommunity, ScopeID: f.Communities[0].ID, MaxUses: 10,
	}))(t)
	u := f.user("tapper")
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Redeem(f.Ctx, u, inv.Code)
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else if service.KindOf(err) != service.KindConflict {
			t.Fatalf("double tap: %v, want a conflict", err)
		}
	}
	var cur model.Invitation
	f.DB.Take(&cur, inv.ID)
	if wins != 1 || cur.Uses != 1 {
		t.Fatalf("%d winners, uses %d", wins, cur.Uses)
	}
}

func TestListAndRevokeGrants(t *testing.T) {
	f := newEnv(t)
	c := f.City
	community, community2 := f.actor("community"), f.actor("community2")
	gridGrant := f.actor("grid").Grants[0]

	seen := func(t *testing.T, a *service.Actor) map[string]bool {
		page := must(f.svc.ListGrants(f.Ctx, a, org.GrantFilter{}, service.Page{Limit: 100}))(t)
		out := map[string]bool{}
		for _, g := range page.Items {
			for name, id := range c.Users {
				if id == g.UserID {
					out[name] = true
				}
			}
		}
		return out
	}
	var err error
	t.Run("each sees the grants they could have made", func(t *testing.T) {
		s := seen(t, community)
		for _, name := range []string{"community", "duty", "grid", "steward", "committee", "volunteer"} {
			if !s[name] {
				t.Errorf("community staff does not see %s's grant", name)
			}
		}
		// The demo's street grant carries community 0 in its ancestry; the
		// community still must not see its superior.
		for _, name := range []string{"grid3", "community2", "street", "city", "admin", "manager"} {
			if s[name] {
				t.Errorf("community staff sees %s's grant", name)
			}
		}
		if s := seen(t, f.actor("manager")); !s["worker"] || !s["manager"] || len(s) != 2 {
			t.Errorf("firm manager sees %v", s)
		}
		if s := seen(t, f.actor("admin")); len(s) != 14 {
			t.Errorf("admin sees %d holders, want all 14", len(s))
		}
	})
	t.Run("filters", func(t *testing.T) {
		_, err = f.svc.ListGrants(f.Ctx, f.actor("worker"), org.GrantFilter{}, service.Page{Limit: 10})
		wantCode(t, err, "cannot_list_grants")
		_, err = f.svc.ListGrants(f.Ctx, community, org.GrantFilter{Role: "king"}, service.Page{Limit: 10})
		wantCode(t, err, "bad_role")
		byRole := must(f.svc.ListGrants(f.Ctx, community, org.GrantFilter{Role: model.RoleGridWorker}, service.Page{Limit: 10}))(t)
		if len(byRole.Items) != 1 || byRole.Items[0].ID != gridGrant.ID || byRole.Items[0].DisplayName != "网格员刘姐" {
			t.Fatalf("grid workers of the community %+v", byRole.Items)
		}
	})

	t.Run("revoking", func(t *testing.T) {
		_, err = f.svc.RevokeGrant(f.Ctx, community2, gridGrant.ID)
		wantCode(t, err, "cannot_revoke_grant")
		_, err = f.svc.RevokeGrant(f.Ctx, f.actor("grid"), gridGrant.ID)
		wantCode(t, err, "cannot_revoke_own")
		_, err = f.svc.RevokeGrant(f.Ctx, community, f.actor("street").Grants[0].ID)
		wantCode(t, err, "cannot_revoke_grant")
		g := must(f.svc.RevokeGrant(f.Ctx, community, gridGrant.ID))(t)
		if g.RevokedAt == nil || g.RevokedBy != community.UserID {
			t.Fatalf("revoked %+v", g)
		}
		_, err = f.svc.RevokeGrant(f.Ctx, community, gridGrant.ID)
		wantCode(t, err, "grant_already_revoked")
		if len(f.actor("grid").Grants) != 0 {
			t.Fatal("revoked grant is still live")
		}
		// The revoked grid worker can no longer decide anything.
		_, err = f.svc.PendingApplications(f.Ctx, f.actor("grid"), org.ApplicationFilter{}, service.Page{Limit: 10})
		wantCode(t, err, "not_approver")
		all := must(f.svc.ListGrants(f.Ctx, community, org.GrantFilter{Role: model.RoleGridWorker, IncludeRevoked: true}, service.Page{Limit: 10}))(t)
		if len(all.Items) != 1 || all.Items[0].RevokedAt == nil {
			t.Fatalf("revoked grants listed %+v", all.Items)
		}
	})
}

func TestCommandLineAdmin(t *testing.T) {
	f := newEnv(t)
	var err error
	var inv model.Invitation
	var g model.Grant
	t.Run("the first admin invitation", func(t *testing.T) {
		inv = must(f.svc.CreateFirstAdmin(f.Ctx, "运维小王", 0))(t)
		if inv.Role != model.RolePlatformAdmin || inv.ScopeKind != model.ScopePlatform || inv.MaxUses != 1 || !strings.Contains(inv.Note, "运维小王") {
			t.Fatalf("invitation %+v", inv)
		}
		if !inv.ExpiresAt.Equal(f.Clock.Now().Add(24 * time.Hour)) {
			t.Fatalf("expires %v", inv.ExpiresAt)
		}
		_, err = f.svc.CreateFirstAdmin(f.Ctx, "x", -time.Hour)
		wantCode(t, err, "bad_ttl")
	})

	t.Run("redeemed once", func(t *testing.T) {
		boss := f.user("boss")
		g = must(f.svc.Redeem(f.Ctx, boss, inv.Code))(t)
		if g.Role != model.RolePlatformAdmin || !f.actor("boss").IsAdmin() {
			t.Fatalf("grant %+v", g)
		}
		_, err = f.svc.Redeem(f.Ctx, f.user("second"), inv.Code)
		wantCode(t, err, "invitation_used_up")
	})

	t.Run("listed and revoked without an actor", func(t *testing.T) {
		list := must(f.svc.AdminListGrants(f.Ctx, org.GrantFilter{Role: model.RolePlatformAdmin}, service.Page{Limit: 10}))(t)
		if len(list.Items) != 2 {
			t.Fatalf("admins %+v", list.Items)
		}
		r := must(f.svc.AdminRevokeGrant(f.Ctx, g.ID))(t)
		if r.RevokedAt == nil || r.RevokedBy != 0 {
			t.Fatalf("revoked %+v", r)
		}
		_, err = f.svc.AdminRevokeGrant(f.Ctx, g.ID)
		wantCode(t, err, "grant_already_revoked")
		_, err = f.svc.AdminRevokeGrant(f.Ctx, 999999)
		wantCode(t, err, "grant_not_found")
	})
}

// Two codes for the same role and scope redeemed at once by one person
// give one grant.
func TestConcurrentRedeemOfTwoCodesForOneGrant(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB (REDPROP_TEST_MYSQL_DSN): SQLite serialises on one connection")
	}
	f := newEnv(t)
	for round := range 5 {
		var codes []string
		for range 2 {
			inv := must(f.svc.CreateInvitation(f.Ctx, f.actor("community"), org.InvitationInput{
				Role: model.RoleVolunteer, ScopeKind: model.ScopeCommunity, ScopeID: f.Communities[0].ID, MaxUses: 1,
			}))(t)
			codes = append(codes, inv.Code)
		}
		u := f.user(fmt.Sprintf("twice%d", round))
		var wg sync.WaitGroup
		for _, code := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.svc.Redeem(f.Ctx, u, code)
			}()
		}
		wg.Wait()
		live, err := model.LiveGrants(f.Ctx, f.DB, u.UserID)
		servicetest.Must(t, err)
		n := 0
		for _, g := range live {
			if g.Role == model.RoleVolunteer {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d live grants", round, n)
		}
	}
}
