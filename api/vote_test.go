package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"redprop/model"
)

func voteNum(v any) int64 {
	n, _ := v.(float64)
	return int64(n)
}

// chinese reports whether an error envelope's message is in Chinese.
func chinese(r response) bool {
	e, _ := r.Body["error"].(map[string]any)
	msg, _ := e["message"].(string)
	for _, c := range msg {
		if unicode.Is(unicode.Han, c) {
			return true
		}
	}
	return false
}

// A vote of compound 0 from creation to result, through the router: nine
// households of 100 m², six owners take part (exactly 2/3 of area and
// heads), four of them agree. With one more centi-m² on a household that
// does not vote, participation falls short of 2/3.
func TestVoteFromOpeningToResultThroughTheRouter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		extra    int64 // centi-m² added to the household that does not vote
		outcome  string
		quorum   bool
		winner   any
		votedSum string
	}{
		{"exactly two thirds take part", 0, model.OutcomePassed, true, float64(0), "600.00"},
		{"one centi-m² short of two thirds", 1, model.OutcomeNoQuorum, false, nil, "600.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			city := s.loadDemo()
			comp := city.Compounds[0]
			// A ninth household in building 1; every household 100 m².
			extra := model.Household{Unit: "1", Room: "301", AreaCentiM2: 10000, Ancestry: city.Buildings[0].Ancestry}
			if err := s.db.Create(&extra).Error; err != nil {
				t.Fatal(err)
			}
			if err := s.db.Model(&model.Household{}).Where("compound_id = ?", comp.ID).Update("area_centi_m2", 10000).Error; err != nil {
				t.Fatal(err)
			}
			if err := s.db.Model(&model.Household{}).Where("id = ?", extra.ID).Update("area_centi_m2", 10000+tc.extra).Error; err != nil {
				t.Fatal(err)
			}
			// Owners of households 1..5 beside the demo resident (household 0).
			owners := []string{"resident"}
			for i := 1; i <= 5; i++ {
				name := fmt.Sprintf("owner%d", i)
				s.login(name)
				h := city.Households[i]
				if err := s.db.Create(&model.Residency{UserID: s.userID(name), HouseholdID: h.ID, Relation: model.RelationOwner, Ancestry: h.Ancestry}).Error; err != nil {
					t.Fatal(err)
				}
				owners = append(owners, name)
			}
			committee, resident, outsider := s.login("committee"), s.login("resident"), s.login("community2")

			now := s.clock.Now()
			body := map[string]any{
				"compound_id": comp.ID, "question": "是否同意使用公共收益维修小区北门道闸", "matter": "ordinary",
				"opens_at": now.Add(24 * time.Hour).Format(time.RFC3339), "closes_at": now.Add(8 * 24 * time.Hour).Format(time.RFC3339),
			}
			r := s.must(http.StatusCreated, "POST", "/api/v1/votes", committee, body, "Idempotency-Key", "vote-gate-1")
			id := voteNum(r.Body["id"])
			if r.Body["state"] != "draft" || r.Body["organiser_role"] != "committee_member" || r.Body["can_organise"] != true {
				t.Fatalf("draft %s", r.Raw)
			}
			again := s.must(http.StatusOK, "POST", "/api/v1/votes", committee, body, "Idempotency-Key", "vote-gate-1")
			if voteNum(again.Body["id"]) != id {
				t.Fatalf("idempotent create gave %v", again.Body["id"])
			}
			path := fmt.Sprintf("/api/v1/votes/%d", id)
			if r := s.must(http.StatusNotFound, "GET", path, resident, nil); r.ErrCode() != "vote_not_found" {
				t.Fatalf("resident sees the draft: %s", r.Raw)
			}
			if r := s.must(http.StatusNotFound, "POST", path+"/open", resident, nil); r.ErrCode() != "vote_not_found" {
				t.Fatalf("resident opens: %s", r.Raw)
			}

			// The committee opens it ahead of time; every owner is told.
			r = s.must(http.StatusOK, "POST", path+"/open", committee, nil)
			p := r.Body["participation"].(map[string]any)
			if r.Body["state"] != "open" || p["total_heads"] != float64(9) || p["total_households"] != float64(9) ||
				p["total_area_centi_m2"] != float64(90000+tc.extra) || p["ballots"] != float64(0) {
				t.Fatalf("opened %s", r.Raw)
			}
			inbox := s.must(http.StatusOK, "GET", "/api/v1/me/messages", resident, nil).Body["items"].([]any)
			if len(inbox) != 1 || !strings.HasPrefix(inbox[0].(map[string]any)["title"].(string), "业主表决") {
				t.Fatalf("resident's inbox %v", inbox)
			}
			if r := s.must(http.StatusConflict, "POST", path+"/open", committee, nil); r.ErrCode() != "vote_not_draft" {
				t.Fatalf("second open %s", r.Raw)
			}

			// Six households vote: four 同意, one 反对, one 弃权.
			for i, name := range owners {
				choice := 0
				switch i {
				case 4:
					choice = 1
				case 5:
					choice = 2
				}
				r := s.must(http.StatusCreated, "POST", path+"/ballots", s.login(name),
					map[string]any{"household_id": city.Households[i].ID, "choice": choice})
				mine := r.Body["my_households"].([]any)
				if len(mine) != 1 || mine[0].(map[string]any)["choice"] != float64(choice) {
					t.Fatalf("%s after voting: %s", name, r.Raw)
				}
				if _, ok := r.Body["participation"]; ok {
					t.Fatalf("an owner sees the running participation: %s", r.Raw)
				}
			}
			// A ballot is final.
			r = s.must(http.StatusConflict, "POST", path+"/ballots", resident, map[string]any{"household_id": city.Households[0].ID, "choice": 1})
			if r.ErrCode() != "already_voted" || !strings.Contains(string(r.Raw), "不可更改") {
				t.Fatalf("second ballot %s", r.Raw)
			}
			// The committee follows the count, not the choices.
			r = s.must(http.StatusOK, "GET", path, committee, nil)
			p = r.Body["participation"].(map[string]any)
			if p["ballots"] != float64(6) || p["voted_heads"] != float64(6) || p["voted_area"] != tc.votedSum || p["quorum"] != tc.quorum {
				t.Fatalf("running participation %v", p)
			}
			if _, ok := r.Body["result"]; ok {
				t.Fatalf("result while open: %s", r.Raw)
			}
			if r := s.must(http.StatusForbidden, "GET", path, outsider, nil); r.ErrCode() != "out_of_scope" {
				t.Fatalf("outsider %s", r.Raw)
			}

			// The scheduler closes it at its time and freezes the result.
			s.clock.Set(s.clock.Now().Add(8*24*time.Hour + time.Minute))
			if st, err := s.deps.Vote.Tick(context.Background()); err != nil || st.Closed != 1 {
				t.Fatalf("tick %+v %v", st, err)
			}
			committee, resident = s.login("committee"), s.login("resident") // the old tokens expired
			r = s.must(http.StatusOK, "GET", path, resident, nil)
			res := r.Body["result"].(map[string]any)
			if r.Body["state"] != "closed" || res["outcome"] != tc.outcome || res["winner"] != tc.winner {
				t.Fatalf("result %s", r.Raw)
			}
			yes := res["choices"].([]any)[0].(map[string]any)
			if yes["label"] != "同意" || yes["ballots"] != float64(4) || yes["area"] != "400.00" || yes["heads"] != float64(4) {
				t.Fatalf("同意 %v", yes)
			}
			if r := s.must(http.StatusConflict, "POST", path+"/ballots", s.login("owner1"),
				map[string]any{"household_id": city.Households[1].ID, "choice": 0}); r.ErrCode() != "vote_closed" {
				t.Fatalf("ballot after closing %s", r.Raw)
			}
			if r := s.must(http.StatusForbidden, "GET", path+"/ballots", committee, nil); r.ErrCode() != "secret_ballot" {
				t.Fatalf("secret ballots %s", r.Raw)
			}
			list := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/votes?compound_id=%d&state=closed", comp.ID), resident, nil)
			if items := list.Body["items"].([]any); len(items) != 1 {
				t.Fatalf("resident's list %s", list.Raw)
			}
		})
	}
}

// Wrong input answers 4xx with the Chinese envelope; who may not gets 403.
func TestVoteRefusalsThroughTheRouter(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	committee, community, community2 := s.login("committee"), s.login("community"), s.login("community2")
	now := s.clock.Now()
	good := func() map[string]any {
		return map[string]any{"compound_id": city.Compounds[0].ID, "question": "增设电动车充电桩",
			"opens_at": now.Add(time.Hour).Format(time.RFC3339), "closes_at": now.Add(72 * time.Hour).Format(time.RFC3339)}
	}
	cases := []struct {
		name   string
		token  string
		mod    func(map[string]any)
		status int
		code   string
	}{
		{"unknown field", committee, func(b map[string]any) { b["kind"] = "special" }, 400, "bad_request"},
		{"bad time", committee, func(b map[string]any) { b["opens_at"] = "明天上午" }, 400, "bad_times"},
		{"closes before it opens", committee, func(b map[string]any) { b["closes_at"] = now.Format(time.RFC3339) }, 400, "bad_times"},
		{"one choice", committee, func(b map[string]any) { b["choices"] = []string{"甲"} }, 400, "bad_choices"},
		{"eleven choices", committee, func(b map[string]any) {
			b["choices"] = strings.Split("一,二,三,四,五,六,七,八,九,十,十一", ",")
		}, 400, "bad_choices"},
		{"unknown matter", committee, func(b map[string]any) { b["matter"] = "special" }, 400, "bad_matter"},
		{"no compound", committee, func(b map[string]any) { b["compound_id"] = 987654 }, 404, "compound_not_found"},
		{"community staff where a committee exists", community, func(map[string]any) {}, 403, "not_organiser"},
		{"another community's staff", community2, func(b map[string]any) { b["compound_id"] = city.Compounds[1].ID }, 403, "not_organiser"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			tc.mod(b)
			r := s.do("POST", "/api/v1/votes", tc.token, b)
			if r.Status != tc.status || r.ErrCode() != tc.code || !chinese(r) {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
		})
	}
	// Community staff run the votes of compound 1, which has no committee.
	r := s.must(http.StatusCreated, "POST", "/api/v1/votes", community, map[string]any{
		"compound_id": city.Compounds[1].ID, "question": "选聘新物业服务企业", "matter": "change_firm",
		"choices": []string{"红心物业", "安居物业"}, "open_ballot": true,
		"opens_at": now.Add(time.Hour).Format(time.RFC3339), "closes_at": now.Add(72 * time.Hour).Format(time.RFC3339),
	})
	path := fmt.Sprintf("/api/v1/votes/%d", voteNum(r.Body["id"]))
	if r.Body["organiser_role"] != "community_staff" || r.Body["special"] != false {
		t.Fatalf("community vote %s", r.Raw)
	}
	if r := s.do("GET", path, community2, nil); r.Status != 403 || !chinese(r) {
		t.Fatalf("community2 sees it: %s", r.Raw)
	}
	for _, bad := range []struct {
		body any
		code string
	}{
		{map[string]any{"household_id": city.Households[8].ID}, "bad_choice"},
		{map[string]any{"choice": 0}, "bad_household"},
		{`{"household_id": "八号"}`, "bad_request"},
	} {
		if r := s.do("POST", path+"/ballots", community, bad.body); r.Status != 400 || r.ErrCode() != bad.code || !chinese(r) {
			t.Errorf("ballot %v: %s", bad.body, r.Raw)
		}
	}
	if r := s.do("POST", path+"/ballots", community, map[string]any{"household_id": city.Households[8].ID, "choice": 0}); r.Status != 403 || r.ErrCode() != "not_owner" {
		t.Errorf("a non-owner votes: %s", r.Raw)
	}
	if r := s.do("GET", "/api/v1/votes?state=maybe", community, nil); r.Status != 400 || r.ErrCode() != "bad_state" {
		t.Errorf("bad state filter: %s", r.Raw)
	}
	if r := s.do("GET", path+"/ballots", community, nil); r.Status != 422 || r.ErrCode() != "vote_not_closed" {
		t.Errorf("ballots of a draft: %s", r.Raw)
	}
	r = s.must(http.StatusOK, "POST", path+"/cancel", community, nil)
	if r.Body["state"] != "cancelled" {
		t.Fatalf("cancel %s", r.Raw)
	}
	if r := s.do("POST", path+"/cancel", community, nil); r.Status != 409 || r.ErrCode() != "vote_not_draft" {
		t.Errorf("second cancel %s", r.Raw)
	}
}
