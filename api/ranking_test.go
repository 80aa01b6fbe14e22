package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"redprop/model"
	"redprop/service/calendar"
	"redprop/service/demo"
)

// rankingCity is the demo city with three more firms and two more
// compounds of the street, and score rows of two quarters written as the
// scoring job writes them.
type rankingCity struct {
	*demo.City
	firms     [4]int64
	compounds [5]model.Compound
}

func (s *testServer) rankingCity() *rankingCity {
	s.t.Helper()
	rc := &rankingCity{City: s.loadDemo()}
	rc.firms[0] = rc.Firm.ID
	for i := 1; i < 4; i++ {
		f := model.Firm{Name: fmt.Sprintf("第%d物业公司", i+1), CityID: rc.CityID, DistrictID: rc.DistrictID}
		if err := s.db.Create(&f).Error; err != nil {
			s.t.Fatal(err)
		}
		rc.firms[i] = f.ID
	}
	copy(rc.compounds[:3], rc.Compounds[:])
	for i := 3; i < 5; i++ {
		cp := model.Compound{Name: fmt.Sprintf("测试小区%d", i), Ancestry: rc.Communities[1].Ancestry}
		if err := s.db.Create(&cp).Error; err != nil {
			s.t.Fatal(err)
		}
		s.db.Model(&cp).Update("compound_id", cp.ID)
		cp.CompoundID = cp.ID
		rc.compounds[i] = cp
	}
	for i := range 3 {
		rc.compounds[i].CompoundID = rc.compounds[i].ID
	}
	return rc
}

// scores writes a quarter's firm × compound rows under formula version 1
// and the run that names it: points per (firm, compound), -1 for a row
// with too few samples.
func (s *testServer) scores(rc *rankingCity, period string, points map[[2]int]int64) {
	s.t.Helper()
	f, err := model.FormulaVersion(s.t.Context(), s.db, model.ScoreKindFirm, 1)
	if err != nil {
		s.t.Fatal(err)
	}
	var rows []model.ScoredRow
	for fc, p := range points {
		cp := rc.compounds[fc[1]]
		sc := model.Score{Kind: model.ScoreKindFirm, Period: period, FormulaID: f.ID, FormulaVersion: 1, ScopeKind: model.ScopeCompound,
			ScopeID: cp.ID, FirmID: rc.firms[fc[0]], Ancestry: cp.Ancestry, Points: p, Samples: 40, Sufficient: 8, RankEligible: true,
			PeriodStart: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
		if p < 0 {
			sc.Points, sc.Samples, sc.RankEligible, sc.Ineligible = 9900, 2, false, "样本不足：2 件，少于 10 件"
		}
		rows = append(rows, model.ScoredRow{Score: sc, Components: []model.ScoreComponent{
			{Name: model.CompSatisfaction, Status: model.ComponentOK, Numerator: 30, Denominator: 40, Raw: 7500, MinSamples: 5, Weight: 25, EffWeight: 2500, Points: sc.Points / 4},
		}})
	}
	if _, err := model.WriteScores(s.t.Context(), s.db, model.ScoreKindFirm, period, f.ID, rows); err != nil {
		s.t.Fatal(err)
	}
	now := s.clock.Now()
	if err := s.db.Create(&model.ScoreRun{Kind: model.ScoreKindFirm, Period: period, FormulaID: f.ID, FormulaVersion: 1,
		Rows: len(rows), Written: len(rows), StartedAt: now, FinishedAt: now}).Error; err != nil {
		s.t.Fatal(err)
	}
}

func findLine(t *testing.T, r response, firm, compound int64) map[string]any {
	t.Helper()
	for _, it := range r.Body["lines"].([]any) {
		l := it.(map[string]any)
		if voteNum(l["firm_id"]) == firm && voteNum(l["compound_id"]) == compound {
			return l
		}
	}
	t.Fatalf("no line of firm %d at compound %d: %s", firm, compound, r.Raw)
	return nil
}

// A quarter's 红黑榜 from the score cards to an appeal's correction,
// through the router: the draft by the formula's rule with the excluded
// listed, a removal with its reason, the immutable publication and who is
// told, the firm manager's own lines, an appeal and its exchange, the
// corrected version superseding the first, the flag of two black
// quarters and the owners' vote drafted from it.
func TestRankingThroughTheRouter(t *testing.T) {
	s := newTestServer(t)
	rc := s.rankingCity()
	// Q1 and Q2: the demo firm is last at 金日天玺 (C0) both times.
	s.scores(rc, "2026Q1", map[[2]int]int64{{1, 1}: 9000, {2, 2}: 8700, {3, 3}: 8100, {1, 4}: 8500, {0, 0}: 5500})
	s.scores(rc, "2026Q2", map[[2]int]int64{{1, 1}: 9250, {2, 2}: 8800, {3, 3}: 8000, {1, 4}: 7000, {0, 0}: 6000, {0, 1}: -1})
	street, manager, committee := s.login("street"), s.login("manager"), s.login("committee")
	community, resident := s.login("community"), s.login("resident")
	draft := func(period string) map[string]any {
		return map[string]any{"kind": "list", "scope_kind": "street", "scope_id": rc.StreetID, "period": period}
	}

	// Refusals before anything is drafted.
	for _, tc := range []struct {
		name   string
		token  string
		body   any
		status int
		code   string
	}{
		{"community staff", community, draft("2026Q2"), 403, "out_of_scope"},
		{"a month is no quarter", street, map[string]any{"kind": "list", "scope_kind": "street", "scope_id": rc.StreetID, "period": "2026-05"}, 400, "bad_period"},
		{"a community is no publishing level", street, map[string]any{"kind": "list", "scope_kind": "community", "scope_id": rc.Communities[0].ID, "period": "2026Q2"}, 400, "bad_scope"},
		{"the quarter is not over", street, draft("2026Q4"), 422, "period_not_closed"},
		{"not scored", street, draft("2025Q4"), 422, "no_scores"},
		{"unknown field", street, map[string]any{"kind": "list", "scope_kind": "street", "scope_id": rc.StreetID, "period": "2026Q2", "n": 3}, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("POST", "/api/v1/rankings", tc.token, tc.body)
			if r.Status != tc.status || r.ErrCode() != tc.code || !chinese(r) {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
		})
	}

	q1 := s.must(http.StatusCreated, "POST", "/api/v1/rankings", street, draft("2026Q1"))
	q1Path := fmt.Sprintf("/api/v1/rankings/%d", voteNum(q1.Body["id"]))
	s.must(http.StatusOK, "POST", q1Path+"/publish", street, nil)

	r := s.must(http.StatusCreated, "POST", "/api/v1/rankings", street, draft("2026Q2"))
	path := fmt.Sprintf("/api/v1/rankings/%d", voteNum(r.Body["id"]))
	if r.Body["state"] != "draft" || r.Body["version"] != 1.0 || r.Body["title"] != "2026年第2季度物业服务红黑榜" || len(r.Body["lines"].([]any)) != 6 {
		t.Fatalf("draft %s", r.Raw)
	}
	// The default formula: the best and worst 3 of the street, 5 ranked
	// here, so at most 2 each.
	for _, w := range []struct {
		firm, compound int
		placement      string
		rank           float64
	}{{1, 1, "red", 1}, {2, 2, "red", 2}, {3, 3, "none", 3}, {1, 4, "black", 4}, {0, 0, "black", 5}, {0, 1, "excluded", 0}} {
		l := findLine(t, r, rc.firms[w.firm], rc.compounds[w.compound].ID)
		if l["placement"] != w.placement || l["rank"] != w.rank {
			t.Errorf("F%d at C%d: %v rank %v, want %s %v", w.firm+1, w.compound, l["placement"], l["rank"], w.placement, w.rank)
		}
	}
	if ex := findLine(t, r, rc.firms[0], rc.compounds[1].ID); ex["reason"] != "样本不足：2 件，少于 10 件，不参加排名" {
		t.Fatalf("excluded %v", ex)
	}
	if g := s.do("GET", path, manager, nil); g.Status != 404 || g.ErrCode() != "ranking_not_found" {
		t.Fatalf("manager reads the draft: %s", g.Raw)
	}
	if g := s.do("GET", "/api/v1/rankings", resident, nil); g.Status != 403 || !chinese(g) {
		t.Fatalf("resident lists rankings: %s", g.Raw)
	}

	// Review: a red line removed with its reason.
	red2 := findLine(t, r, rc.firms[2], rc.compounds[2].ID)
	removePath := fmt.Sprintf("%s/lines/%d/remove", path, voteNum(red2["id"]))
	if e := s.do("POST", removePath, street, map[string]any{"reason": ""}); e.Status != 400 || e.ErrCode() != "bad_reason" || !chinese(e) {
		t.Fatalf("removal without a reason %s", e.Raw)
	}
	r = s.must(http.StatusOK, "POST", removePath, street, map[string]any{"reason": "该项目本季度发生消防安全事故"})
	if l := findLine(t, r, rc.firms[2], rc.compounds[2].ID); l["placement"] != "removed" || l["reason"] != "该项目本季度发生消防安全事故" {
		t.Fatalf("removed %v", l)
	}

	// Publication: immutable.
	r = s.must(http.StatusOK, "POST", path+"/publish", street, nil)
	if r.Body["state"] != "published" || r.Body["appeals_until"] != "2026-12-01T00:00:00+08:00" {
		t.Fatalf("published %s", r.Raw)
	}
	for _, e := range []response{s.do("POST", path+"/publish", street, nil), s.do("POST", removePath, street, map[string]any{"reason": "发布后再改"}),
		s.do("DELETE", path, street, nil)} {
		if e.Status != 409 || e.ErrCode() != "ranking_published" || !chinese(e) {
			t.Fatalf("after publication %s", e.Raw)
		}
	}
	inbox := s.must(http.StatusOK, "GET", "/api/v1/me/messages", manager, nil).Body["items"].([]any)
	if len(inbox) != 2 || inbox[0].(map[string]any)["title"] != "2026年第2季度物业服务红黑榜已公布" {
		t.Fatalf("manager's inbox %v", inbox)
	}
	// The resident reads the public result of 金日天玺 only.
	if pub := s.must(http.StatusOK, "GET", path, resident, nil); len(pub.Body["lines"].([]any)) != 1 || pub.Body["firm_view"] != true {
		t.Fatalf("resident's view %s", pub.Raw)
	}
	told := s.must(http.StatusOK, "GET", "/api/v1/me/messages", resident, nil).Body["items"].([]any)
	if len(told) != 2 || !strings.Contains(told[0].(map[string]any)["body"].(string), "列入黑榜（得分 60.00）") {
		t.Fatalf("resident's inbox %v", told)
	}

	// The firm manager sees its own lines only.
	mine := s.must(http.StatusOK, "GET", path, manager, nil)
	if mine.Body["firm_view"] != true || len(mine.Body["lines"].([]any)) != 2 {
		t.Fatalf("manager's view %s", mine.Raw)
	}

	// The flag of two black quarters, the talk, the vote drafted.
	flags := s.must(http.StatusOK, "GET", "/api/v1/ranking-flags", committee, nil).Body["items"].([]any)
	if len(flags) != 1 || flags[0].(map[string]any)["compound_id"] != float64(rc.compounds[0].ID) || flags[0].(map[string]any)["state"] != "open" {
		t.Fatalf("flags %v", flags)
	}
	flagPath := fmt.Sprintf("/api/v1/ranking-flags/%d", voteNum(flags[0].(map[string]any)["id"]))
	if e := s.do("POST", flagPath+"/talk", committee, map[string]any{"note": "约谈"}); e.Status != 403 || e.ErrCode() != "not_street_staff" {
		t.Fatalf("committee talks %s", e.Raw)
	}
	s.must(http.StatusOK, "POST", flagPath+"/talk", street, map[string]any{"note": "已约谈项目经理，限期整改"})
	opens := s.clock.Now().Add(48 * time.Hour).In(calendar.Beijing).Format(time.RFC3339)
	closes := s.clock.Now().Add(20 * 24 * time.Hour).In(calendar.Beijing).Format(time.RFC3339)
	fv := s.must(http.StatusCreated, "POST", flagPath+"/vote", committee, map[string]any{"opens_at": opens, "closes_at": closes})
	v := fv.Body["vote"].(map[string]any)
	if v["state"] != "draft" || v["matter"] != "change_firm" || fv.Body["flag"].(map[string]any)["vote_id"] != v["id"] {
		t.Fatalf("vote from the flag %s", fv.Raw)
	}
	if e := s.do("POST", flagPath+"/vote", committee, map[string]any{"opens_at": opens, "closes_at": closes}); e.Status != 409 || e.ErrCode() != "flag_vote_drafted" {
		t.Fatalf("second vote %s", e.Raw)
	}

	// An appeal of the black entry, its exchange, its correction.
	black := findLine(t, mine, rc.firms[0], rc.compounds[0].ID)
	body := map[string]any{"ranking_id": voteNum(r.Body["id"]), "line_id": voteNum(black["id"]), "target": "entry",
		"text":      "本季度投诉中有 6 件为同一事项的重复投诉",
		"photo_ids": []int64{voteNum(s.uploadPhoto(http.StatusCreated, manager, "ledger.png", "image/png", photoPNG(t)).Body["id"])}}
	a := s.must(http.StatusCreated, "POST", "/api/v1/appeals", manager, body, "Idempotency-Key", "appeal-c0")
	if again := s.must(http.StatusOK, "POST", "/api/v1/appeals", manager, body, "Idempotency-Key", "appeal-c0"); again.Body["id"] != a.Body["id"] {
		t.Fatalf("double tap %s", again.Raw)
	}
	if a.Body["state"] != "pending" || a.Body["due_at"] != "2026-12-08T00:00:00+08:00" || len(a.Body["events"].([]any)) != 1 {
		t.Fatalf("appeal %s", a.Raw)
	}
	appealPath := fmt.Sprintf("/api/v1/appeals/%d", voteNum(a.Body["id"]))
	if e := s.do("GET", appealPath, community, nil); e.Status != 403 || !chinese(e) {
		t.Fatalf("community reads the appeal %s", e.Raw)
	}
	photoPath := fmt.Sprintf("%s/photos/%d", appealPath, voteNum(a.Body["photo_ids"].([]any)[0]))
	if img := s.must(http.StatusOK, "GET", photoPath, street, nil); !strings.HasPrefix(img.Header.Get("Content-Type"), "image/png") {
		t.Fatalf("the reviewer reads the photo: %v", img.Header)
	}
	if e := s.do("GET", photoPath, community, nil); e.Status != 403 {
		t.Fatalf("community reads the photo: %d", e.Status)
	}
	if e := s.do("GET", appealPath+"/photos/999999", street, nil); e.Status != 404 || e.ErrCode() != "photo_not_found" {
		t.Fatalf("a photo of no appeal: %s", e.Raw)
	}
	s.must(http.StatusOK, "POST", appealPath+"/notes", street, map[string]any{"text": "请提供重复投诉的工单号"})
	s.must(http.StatusOK, "POST", appealPath+"/notes", manager, map[string]any{"text": "GD202605010001 至 GD202605010006"})
	if e := s.do("POST", appealPath+"/decide", manager, map[string]any{"outcome": "corrected", "text": "我来裁决"}); e.Status != 403 || !chinese(e) {
		t.Fatalf("manager decides %s", e.Raw)
	}
	d := s.must(http.StatusOK, "POST", appealPath+"/decide", street, map[string]any{"outcome": "corrected", "text": "重复投诉合并计算后不再居末位，移出黑榜"})
	if d.Body["state"] != "corrected" || len(d.Body["events"].([]any)) != 4 {
		t.Fatalf("decided %s", d.Raw)
	}
	if e := s.do("POST", appealPath+"/decide", street, map[string]any{"outcome": "upheld", "text": "改主意"}); e.Status != 409 || e.ErrCode() != "appeal_decided" {
		t.Fatalf("decided twice %s", e.Raw)
	}
	v2 := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/rankings/%d", voteNum(d.Body["correction_id"])), street, nil)
	v1 := s.must(http.StatusOK, "GET", path, street, nil)
	if v2.Body["state"] != "published" || v2.Body["version"] != 2.0 || v1.Body["state"] != "superseded" || v1.Body["superseded_by"] != v2.Body["id"] {
		t.Fatalf("versions: v1 %v, v2 %v", v1.Body["state"], v2.Body["state"])
	}
	if l := findLine(t, v2, rc.firms[0], rc.compounds[0].ID); l["placement"] != "removed" {
		t.Fatalf("corrected line %v", l)
	}
	if l := findLine(t, v1, rc.firms[0], rc.compounds[0].ID); l["placement"] != "black" {
		t.Fatalf("the first version changed %v", l)
	}
	if f := s.must(http.StatusOK, "GET", flagPath, street, nil); f.Body["state"] != "withdrawn" {
		t.Fatalf("flag after the correction %s", f.Raw)
	}
	// Lists: the manager's own appeals; versions for the street.
	if items := s.must(http.StatusOK, "GET", "/api/v1/appeals", manager, nil).Body["items"].([]any); len(items) != 1 {
		t.Fatalf("manager's appeals %v", items)
	}
	if items := s.must(http.StatusOK, "GET", "/api/v1/rankings?period=2026Q2", street, nil).Body["items"].([]any); len(items) != 2 {
		t.Fatalf("versions of 2026Q2 %v", items)
	}

	// After the window (five working days from Monday 23 November: the
	// end of Monday 30 November) an appeal is refused in Chinese.
	s.clock.Set(time.Date(2026, 12, 1, 0, 30, 0, 0, calendar.Beijing))
	manager = s.login("manager")
	other := findLine(t, v2, rc.firms[0], rc.compounds[1].ID)
	e := s.do("POST", "/api/v1/appeals", manager, map[string]any{"ranking_id": voteNum(v2.Body["id"]), "line_id": voteNum(other["id"]),
		"target": "component", "component": "satisfaction", "text": "满意率漏计回访记录"})
	if e.Status != 422 || e.ErrCode() != "appeal_window_closed" || !strings.Contains(e.Body["error"].(map[string]any)["message"].(string), "申诉期已过") {
		t.Fatalf("late appeal %s", e.Raw)
	}
	if items := s.must(http.StatusOK, "GET", "/api/v1/appeals?overdue=true", s.login("street"), nil).Body["items"].([]any); len(items) != 0 {
		t.Fatalf("overdue %v", items)
	}
}
