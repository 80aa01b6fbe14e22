package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"
	"unicode"

	"redprop/model"
)

// peopleItems returns the "items" of a list answer.
func peopleItems(t *testing.T, r response) []map[string]any {
	t.Helper()
	raw, ok := r.Body["items"].([]any)
	if !ok {
		t.Fatalf("no items in %s", r.Raw)
	}
	out := make([]map[string]any, len(raw))
	for i, it := range raw {
		out[i] = it.(map[string]any)
	}
	return out
}

// peopleChinese fails unless the error message is there and in Chinese.
func peopleChinese(t *testing.T, r response) {
	t.Helper()
	e, _ := r.Body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	for _, c := range msg {
		if unicode.Is(unicode.Han, c) {
			return
		}
	}
	t.Fatalf("error message %q is not Chinese", msg)
}

func peopleNum(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// The README walk-through: a newcomer applies to join 金日天玺 1号楼 102,
// the building steward approves, and the household shows in GET /me.
// Stewards of other buildings, other grids' workers and other communities'
// staff can neither decide nor see the application.
func TestResidencyWalkThrough(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	h := city.Households[1]
	s.grant("steward2", model.RoleBuildingSteward, model.ScopeBuilding, city.Buildings[1].ID, city.Buildings[1].Ancestry)
	newcomer, steward := s.login("newcomer"), s.login("steward")

	r := s.must(http.StatusCreated, "POST", "/api/v1/applications", newcomer,
		map[string]any{"household_id": h.ID, "relation": "tenant", "note": "刚搬来，租住 102"})
	appID := peopleNum(r.Body["id"])
	if r.Body["state"] != "pending" || peopleNum(r.Body["building_id"]) != city.Buildings[0].ID {
		t.Fatalf("application %s", r.Raw)
	}
	r = s.must(http.StatusConflict, "POST", "/api/v1/applications", newcomer, map[string]any{"household_id": h.ID, "relation": "owner"})
	if r.ErrCode() != "application_pending" {
		t.Fatalf("second application: %s", r.Raw)
	}
	peopleChinese(t, r)
	me := s.must(http.StatusOK, "GET", "/api/v1/me", newcomer, nil)
	if apps := me.Body["applications"].([]any); len(apps) != 1 || len(me.Body["households"].([]any)) != 0 {
		t.Fatalf("me before approval %s", me.Raw)
	}

	path := fmt.Sprintf("/api/v1/applications/%d", appID)
	for _, name := range []string{"steward2", "grid3", "community2"} {
		tok := s.login(name)
		r := s.must(http.StatusForbidden, "POST", path+"/approve", tok, nil)
		peopleChinese(t, r)
		s.must(http.StatusForbidden, "POST", path+"/reject", tok, map[string]string{"reason": "不认识"})
		s.must(http.StatusForbidden, "GET", path, tok, nil)
		list := s.must(http.StatusOK, "GET", "/api/v1/applications", tok, nil)
		if items := peopleItems(t, list); len(items) != 0 {
			t.Fatalf("%s lists %s", name, list.Raw)
		}
		s.must(http.StatusForbidden, "GET", fmt.Sprintf("/api/v1/applications?building_id=%d", city.Buildings[0].ID), tok, nil)
		s.must(http.StatusForbidden, "GET", fmt.Sprintf("/api/v1/households/%d/residents", h.ID), tok, nil)
	}
	// A resident without any role has no inbox at all.
	s.must(http.StatusForbidden, "GET", "/api/v1/applications", s.login("resident"), nil)

	list := s.must(http.StatusOK, "GET", "/api/v1/applications", steward, nil)
	items := peopleItems(t, list)
	if len(items) != 1 || peopleNum(items[0]["id"]) != appID || items[0]["applicant_name"] != "新住户小黄" || items[0]["room"] != "102" || list.Body["next_cursor"] != "" {
		t.Fatalf("steward's inbox %s", list.Raw)
	}
	r = s.must(http.StatusOK, "POST", path+"/approve", steward, nil)
	if r.Body["state"] != "approved" || r.Body["decided_at"] == nil {
		t.Fatalf("approved %s", r.Raw)
	}
	r = s.must(http.StatusConflict, "POST", path+"/reject", steward, map[string]string{"reason": "再点一次"})
	if detail, _ := r.Body["error"].(map[string]any)["detail"].(map[string]any); r.ErrCode() != "application_decided" || detail["state"] != "approved" {
		t.Fatalf("second decision %s", r.Raw)
	}

	me = s.must(http.StatusOK, "GET", "/api/v1/me", newcomer, nil)
	homes := me.Body["households"].([]any)
	if len(homes) != 1 {
		t.Fatalf("me after approval %s", me.Raw)
	}
	home := homes[0].(map[string]any)
	if peopleNum(home["household_id"]) != h.ID || home["compound_name"] != "金日天玺" || home["building_name"] != "1号楼" || home["room"] != "102" || home["relation"] != "tenant" {
		t.Fatalf("household %v", home)
	}
	mine := peopleItems(t, s.must(http.StatusOK, "GET", "/api/v1/me/applications", newcomer, nil))
	if len(mine) != 1 || mine[0]["state"] != "approved" {
		t.Fatalf("my applications %v", mine)
	}

	res := peopleItems(t, s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/households/%d/residents", h.ID), steward, nil))
	if len(res) != 1 || res[0]["display_name"] != "新住户小黄" || res[0]["phone"] != nil {
		t.Fatalf("residents %v", res)
	}
	// The newcomer moves out.
	s.must(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/v1/residencies/%d", peopleNum(res[0]["residency_id"])), newcomer, nil)
	me = s.must(http.StatusOK, "GET", "/api/v1/me", newcomer, nil)
	if len(me.Body["households"].([]any)) != 0 {
		t.Fatalf("still a resident: %s", me.Raw)
	}
}

func TestApplicationInputErrors(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	tok := s.login("newcomer")
	cases := []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{"household_id": city.Households[1].ID, "relation": "boss"}, 400, "bad_relation"},
		{map[string]any{"household_id": city.Households[1].ID, "relation": "owner", "extra": 1}, 400, "bad_request"},
		{map[string]any{"household_id": "one", "relation": "owner"}, 400, "bad_request"},
		{map[string]any{"household_id": 987654, "relation": "owner"}, 404, "household_not_found"},
		{nil, 400, "empty_body"},
	}
	for _, c := range cases {
		r := s.must(c.status, "POST", "/api/v1/applications", tok, c.body)
		if r.ErrCode() != c.code {
			t.Fatalf("%v: %s, want %s", c.body, r.Raw, c.code)
		}
		peopleChinese(t, r)
	}
	app := s.must(http.StatusCreated, "POST", "/api/v1/applications", tok, map[string]any{"household_id": city.Households[2].ID, "relation": "family"})
	path := fmt.Sprintf("/api/v1/applications/%d", peopleNum(app.Body["id"]))
	grid := s.login("grid")
	if r := s.must(http.StatusBadRequest, "POST", path+"/reject", grid, map[string]string{}); r.ErrCode() != "reason_required" {
		t.Fatalf("reject without reason %s", r.Raw)
	}
	s.must(http.StatusForbidden, "POST", path+"/withdraw", grid, nil)
	s.must(http.StatusBadRequest, "POST", path+"/approve", grid, `{"why":"x"}`)
	s.must(http.StatusBadRequest, "POST", "/api/v1/applications/abc/approve", grid, nil)
	s.must(http.StatusNotFound, "POST", "/api/v1/applications/999999/approve", grid, nil)
	s.must(http.StatusBadRequest, "GET", "/api/v1/applications?building_id=x", grid, nil)
	s.must(http.StatusBadRequest, "GET", "/api/v1/applications?limit=0", grid, nil)
	r := s.must(http.StatusOK, "POST", path+"/withdraw", tok, nil)
	if r.Body["state"] != "withdrawn" {
		t.Fatalf("withdrawn %s", r.Raw)
	}
	s.must(http.StatusUnauthorized, "GET", "/api/v1/me/applications", "", nil)
}

func TestInvitationsOverHTTP(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	community := s.login("community")
	invite := func(tok string, body map[string]any) response {
		return s.do("POST", "/api/v1/invitations", tok, body)
	}

	r := invite(community, map[string]any{"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[2].ID})
	if r.Status != http.StatusForbidden || r.ErrCode() != "cannot_invite" {
		t.Fatalf("双语社区 inviting into 光安社区: %s", r.Raw)
	}
	peopleChinese(t, r)
	r = invite(s.login("worker"), map[string]any{"role": "firm_worker", "scope_kind": "firm", "scope_id": city.Firm.ID})
	if r.Status != http.StatusForbidden {
		t.Fatalf("firm worker inviting: %s", r.Raw)
	}
	r = invite(community, map[string]any{"role": "grid_worker", "scope_kind": "building", "scope_id": city.Buildings[0].ID})
	if r.Status != http.StatusUnprocessableEntity || r.ErrCode() != "role_scope_mismatch" {
		t.Fatalf("mismatch: %s", r.Raw)
	}
	for _, bad := range []map[string]any{
		{"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[0].ID, "expires_in": -5},
		{"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[0].ID, "expires_in": int64(1) << 62},
		{"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[0].ID, "expires_at": "tomorrow"},
		{"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[0].ID, "expires_in": 3600, "expires_at": "2026-11-24T10:00:00+08:00"},
		{"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[0].ID, "max_uses": 0},
		{"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[0].ID, "max_uses": 1001},
		{"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[0].ID, "uses": 3},
	} {
		if r := invite(community, bad); r.Status != http.StatusBadRequest {
			t.Fatalf("%v: %s", bad, r.Raw)
		}
	}

	r = s.must(http.StatusCreated, "POST", "/api/v1/invitations", community, map[string]any{
		"role": "grid_worker", "scope_kind": "grid", "scope_id": city.Grids[0].ID, "expires_at": "2026-11-30T18:00:00+08:00", "note": "新网格员",
	})
	code, _ := r.Body["code"].(string)
	if len(code) < 10 || r.Body["state"] != "active" || peopleNum(r.Body["max_uses"]) != 1 || r.Body["expires_at"] != "2026-11-30T18:00:00+08:00" {
		t.Fatalf("invitation %s", r.Raw)
	}
	newbie := s.login("newbie")
	g := s.must(http.StatusCreated, "POST", "/api/v1/invitations/redeem", newbie, map[string]string{"code": code})
	if g.Body["role"] != "grid_worker" || peopleNum(g.Body["scope_id"]) != city.Grids[0].ID {
		t.Fatalf("grant %s", g.Raw)
	}
	me := s.must(http.StatusOK, "GET", "/api/v1/me", newbie, nil)
	if grants := me.Body["grants"].([]any); len(grants) != 1 {
		t.Fatalf("me after redeeming %s", me.Raw)
	}
	// The new grid worker can now see the grid's inbox.
	s.must(http.StatusOK, "GET", "/api/v1/applications", newbie, nil)

	if r := s.must(http.StatusConflict, "POST", "/api/v1/invitations/redeem", newbie, map[string]string{"code": code}); r.ErrCode() != "already_redeemed" {
		t.Fatalf("same user twice: %s", r.Raw)
	}
	r = s.must(http.StatusConflict, "POST", "/api/v1/invitations/redeem", s.login("other"), map[string]string{"code": code})
	if r.ErrCode() != "invitation_used_up" {
		t.Fatalf("used up: %s", r.Raw)
	}
	peopleChinese(t, r)
	r = s.must(http.StatusNotFound, "POST", "/api/v1/invitations/redeem", newbie, map[string]string{"code": "NOPE-NOPE-NOPE"})
	peopleChinese(t, r)

	short := s.must(http.StatusCreated, "POST", "/api/v1/invitations", community, map[string]any{
		"role": "volunteer", "scope_kind": "community", "scope_id": city.Communities[0].ID, "expires_in": 120, "max_uses": 50,
	})
	revoked := s.must(http.StatusCreated, "POST", "/api/v1/invitations", community, map[string]any{
		"role": "volunteer", "scope_kind": "compound", "scope_id": city.Compounds[0].ID,
	})
	s.must(http.StatusForbidden, "POST", fmt.Sprintf("/api/v1/invitations/%d/revoke", peopleNum(revoked.Body["id"])), s.login("community2"), nil)
	rv := s.must(http.StatusOK, "POST", fmt.Sprintf("/api/v1/invitations/%d/revoke", peopleNum(revoked.Body["id"])), community, nil)
	if rv.Body["state"] != "revoked" || rv.Body["revoked_at"] == nil {
		t.Fatalf("revoked %s", rv.Raw)
	}
	s.must(http.StatusConflict, "POST", fmt.Sprintf("/api/v1/invitations/%d/revoke", peopleNum(revoked.Body["id"])), community, nil)
	r = s.must(http.StatusUnprocessableEntity, "POST", "/api/v1/invitations/redeem", s.login("late"), map[string]any{"code": revoked.Body["code"]})
	if r.ErrCode() != "invitation_revoked" {
		t.Fatalf("revoked code: %s", r.Raw)
	}
	s.clock.Advance(121 * time.Second)
	r = s.must(http.StatusUnprocessableEntity, "POST", "/api/v1/invitations/redeem", s.login("late"), map[string]any{"code": short.Body["code"]})
	if r.ErrCode() != "invitation_expired" {
		t.Fatalf("expired code: %s", r.Raw)
	}
	peopleChinese(t, r)

	list := s.must(http.StatusOK, "GET", "/api/v1/invitations?limit=2", community, nil)
	items := peopleItems(t, list)
	if len(items) != 2 || items[0]["state"] != "revoked" || items[1]["state"] != "expired" || list.Body["next_cursor"] == "" {
		t.Fatalf("my invitations %s", list.Raw)
	}
	next := peopleItems(t, s.must(http.StatusOK, "GET", "/api/v1/invitations?limit=2&cursor="+list.Body["next_cursor"].(string), community, nil))
	if len(next) != 1 || next[0]["state"] != "used_up" {
		t.Fatalf("second page %v", next)
	}
}

func TestGrantsOverHTTP(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	community, admin := s.login("community"), s.login("admin")
	gridID := s.userID("grid")

	grants := peopleItems(t, s.must(http.StatusOK, "GET", "/api/v1/grants?role=grid_worker", community, nil))
	if len(grants) != 1 || peopleNum(grants[0]["user_id"]) != gridID || grants[0]["display_name"] != "网格员刘姐" {
		t.Fatalf("community's grid workers %v", grants)
	}
	grantID := peopleNum(grants[0]["id"])
	s.must(http.StatusForbidden, "GET", "/api/v1/grants", s.login("resident"), nil)
	s.must(http.StatusBadRequest, "GET", "/api/v1/grants?include_revoked=yes", community, nil)
	other := peopleItems(t, s.must(http.StatusOK, "GET", "/api/v1/grants?role=grid_worker", s.login("community2"), nil))
	if len(other) != 1 || peopleNum(other[0]["scope_id"]) != city.Grids[2].ID {
		t.Fatalf("光安社区's grid workers %v", other)
	}

	path := fmt.Sprintf("/api/v1/grants/%d/revoke", grantID)
	s.must(http.StatusForbidden, "POST", path, s.login("community2"), nil)
	s.must(http.StatusUnprocessableEntity, "POST", path, s.login("grid"), nil)
	r := s.must(http.StatusOK, "POST", path, community, nil)
	if r.Body["revoked_at"] == nil {
		t.Fatalf("revoked %s", r.Raw)
	}
	s.must(http.StatusConflict, "POST", path, admin, nil)
	me := s.must(http.StatusOK, "GET", "/api/v1/me", s.login("grid"), nil)
	if len(me.Body["grants"].([]any)) != 0 {
		t.Fatalf("grid worker keeps a revoked grant: %s", me.Raw)
	}
	all := peopleItems(t, s.must(http.StatusOK, "GET", "/api/v1/grants?role=grid_worker&include_revoked=true", admin, nil))
	if len(all) != 2 {
		t.Fatalf("admin sees %d grid worker grants, want 2 (one revoked)", len(all))
	}
}
