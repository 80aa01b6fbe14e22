package api

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"redprop/model"
	"redprop/service/score"
)

// walk takes an order of the resident in compound 0 through the whole
// loop, each step by the person whose job it is, and rates it.
func (f *orderFixture) walk(desc string, rating int) int64 {
	f.t.Helper()
	o := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["environment"], "description": desc, "household_id": f.city.Households[0].ID,
	}).Body
	id := orderNum(o["id"])
	f.act("grid", id, "verify", map[string]any{"note": "已核实"})
	f.act("community", id, "dispatch", map[string]any{"handler_kind": "firm"})
	f.act("manager", id, "accept", nil)
	f.act("manager", id, "assign", map[string]any{"worker_id": f.city.Users["worker"]})
	f.act("worker", id, "start", map[string]any{})
	f.act("worker", id, "complete", map[string]any{"note": "已处理", "photo_ids": []int64{f.upload("worker")}})
	f.act("grid", id, "confirm", map[string]any{})
	f.act("resident", id, "rate", map[string]any{"overall": rating})
	return id
}

func TestScoresThroughTheRouter(t *testing.T) {
	f := newOrderFixture(t)
	ids := []int64{f.walk("楼道灯坏了", 5), f.walk("垃圾没清运", 2), f.walk("绿化带缺水", 4)}
	// step runs a scenario with the fixture failing through it.
	step := func(name string, fn func(t *testing.T)) {
		t.Helper()
		ok := t.Run(name, func(t *testing.T) {
			parent := f.t
			f.t = t
			defer func() { f.t = parent }()
			fn(t)
		})
		if !ok {
			t.FailNow()
		}
	}
	post := func(name string, want int, path string, body any) response {
		t.Helper()
		return f.must(want, "POST", path, f.token(name), body)
	}

	step("an open quarter is refused; bad input is 400; only staff may run", func(t *testing.T) {
		r := post("street", http.StatusUnprocessableEntity, "/api/v1/score-runs", map[string]any{"kind": "firm", "period": "2026Q4"})
		if r.ErrCode() != "period_not_closed" {
			t.Fatalf("open quarter: %s", r.Raw)
		}
		if r := post("street", http.StatusBadRequest, "/api/v1/score-runs", map[string]any{"kind": "firm", "period": "2026-11"}); r.ErrCode() != "bad_period" {
			t.Fatalf("month for firms: %s", r.Raw)
		}
		post("street", http.StatusBadRequest, "/api/v1/score-runs", map[string]any{"kind": "shop", "period": "2026Q3"})
		if r := post("street", http.StatusBadRequest, "/api/v1/score-runs", map[string]any{"kind": "firm", "period": "2026Q3", "formula_version": -1}); r.ErrCode() != "bad_formula_version" {
			t.Fatalf("negative formula version: %s", r.Raw)
		}
		post("community", http.StatusForbidden, "/api/v1/score-runs", map[string]any{"kind": "firm", "period": "2026Q3"})
		post("manager", http.StatusForbidden, "/api/v1/score-runs", map[string]any{"kind": "firm", "period": "2026Q3"})
		f.must(http.StatusNotFound, "GET", "/api/v1/scores?kind=firm&period=2026Q4", f.token("street"), nil)
	})

	f.clock.Set(time.Date(2027, 1, 5, 2, 0, 0, 0, time.UTC))
	f.tokens = map[string]string{} // the access tokens expired meanwhile
	var compoundRow map[string]any
	step("the quarter scored and explained", func(t *testing.T) {
		r := post("street", http.StatusCreated, "/api/v1/score-runs", map[string]any{"kind": "firm", "period": "2026Q4"})
		if orderNum(r.Body["rows"]) != 4 || orderNum(r.Body["written"]) != 4 || orderNum(r.Body["formula_version"]) != 1 {
			t.Fatalf("run %v, want 4 rows (compounds 0 and 1, street, city) under version 1", r.Body)
		}
		list := f.get("community", fmt.Sprintf("/api/v1/scores?kind=firm&period=2026Q4&scope_kind=compound&under_kind=compound&under_id=%d",
			f.city.Compounds[0].ID))["items"].([]any)
		if len(list) != 1 {
			t.Fatalf("compound rows %v", list)
		}
		compoundRow = list[0].(map[string]any)
		comps := map[string]map[string]any{}
		for _, c := range compoundRow["components"].([]any) {
			m := c.(map[string]any)
			comps[m["name"].(string)] = m
		}
		for name, w := range map[string][2]int64{"satisfaction": {2, 3}, "completion": {3, 3}, "on_time": {3, 3},
			"response": {3, 3}, "rework": {0, 3}} {
			if c := comps[name]; orderNum(c["numerator"]) != w[0] || orderNum(c["denominator"]) != w[1] {
				t.Errorf("%s: %v/%v, want %d/%d", name, c["numerator"], c["denominator"], w[0], w[1])
			}
		}
		if comps["satisfaction"]["value"] != "66.66%" || comps["satisfaction"]["status"] != "insufficient" ||
			compoundRow["rank_eligible"] != false {
			t.Errorf("three ratings are below the default minimum of five, three orders below ten: %v", compoundRow)
		}
		id := orderNum(compoundRow["id"])
		ev := f.get("manager", fmt.Sprintf("/api/v1/scores/%d/components/satisfaction/evidence?limit=2", id))
		items := ev["items"].([]any)
		if ev["source"] != "order" || len(items) != 2 || orderNum(items[0].(map[string]any)["id"]) != ids[2] || ev["next_cursor"] == "" {
			t.Fatalf("evidence page 1 %v", ev)
		}
		ev = f.get("manager", fmt.Sprintf("/api/v1/scores/%d/components/satisfaction/evidence?limit=2&cursor=%s", id, ev["next_cursor"]))
		items = ev["items"].([]any)
		if len(items) != 1 || orderNum(items[0].(map[string]any)["id"]) != ids[0] || items[0].(map[string]any)["counted"] != true {
			t.Fatalf("evidence page 2 %v", ev)
		}
		f.must(http.StatusNotFound, "GET", fmt.Sprintf("/api/v1/scores/%d/components/nonsense/evidence", id), f.token("manager"), nil)
	})

	step("scopes", func(t *testing.T) {
		id := orderNum(compoundRow["id"])
		f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/scores/%d", id), f.token("manager"), nil)
		f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/scores/%d", id), f.token("city"), nil)
		f.must(http.StatusForbidden, "GET", fmt.Sprintf("/api/v1/scores/%d", id), f.token("community2"), nil)
		f.must(http.StatusForbidden, "GET", fmt.Sprintf("/api/v1/scores/%d", id), f.token("resident"), nil)
		f.must(http.StatusNotFound, "GET", "/api/v1/scores/999999", f.token("city"), nil)
		if list := f.get("community2", "/api/v1/scores?kind=firm&period=2026Q4")["items"].([]any); len(list) != 0 {
			t.Errorf("another community's staff see %v", list)
		}
		f.must(http.StatusForbidden, "GET", "/api/v1/scores?kind=firm&period=2026Q4", f.token("resident"), nil)
		if list := f.get("community2", fmt.Sprintf("/api/v1/scores?kind=firm&period=2026Q4&under_kind=community&under_id=%d",
			f.city.Communities[0].ID))["items"].([]any); len(list) != 0 {
			t.Errorf("a filter on another community shows %v", list)
		}
		if list := f.get("manager", "/api/v1/scores?kind=firm&period=2026Q4")["items"].([]any); len(list) != 4 {
			t.Errorf("the firm's manager sees %d rows, want its 4", len(list))
		}
	})

	step("re-run is identical; a new formula version is a new set", func(t *testing.T) {
		r := post("city", http.StatusCreated, "/api/v1/score-runs", map[string]any{"kind": "firm", "period": "2026Q4"})
		if orderNum(r.Body["written"]) != 0 {
			t.Fatalf("re-run wrote %v", r.Body)
		}
		spec := map[string]any{
			"components": []map[string]any{
				{"name": "satisfaction", "weight": 60, "min_samples": 3, "better": "higher", "full": 10000, "zero": 0},
				{"name": "completion", "weight": 40, "min_samples": 3, "better": "higher", "full": 10000, "zero": 0},
			},
			"redistribute": "proportional", "rank_min_samples": 3, "min_components": 2,
		}
		post("street", http.StatusForbidden, "/api/v1/score-formulas", map[string]any{"kind": "firm", "effective_from": "2026-10-01", "spec": spec})
		bad := map[string]any{"components": []map[string]any{{"name": "satisfaction", "weight": 50, "min_samples": 3,
			"better": "higher", "full": 10000, "zero": 0}}, "redistribute": "proportional", "rank_min_samples": 3, "min_components": 1}
		if r := f.do("POST", "/api/v1/score-formulas", f.token("city"), map[string]any{"kind": "firm", "effective_from": "2026-10-01", "spec": bad}); r.Status != http.StatusBadRequest || r.ErrCode() != "bad_formula" {
			t.Fatalf("weights of 50: %d %s", r.Status, r.Raw)
		}
		// A figure left out is refused, never read as 0.
		for _, missing := range []map[string]any{
			{"components": []map[string]any{{"name": "satisfaction", "weight": 100, "better": "higher", "full": 10000, "zero": 0}},
				"redistribute": "proportional", "rank_min_samples": 3, "min_components": 1},
			{"components": []map[string]any{{"name": "satisfaction", "weight": 100, "min_samples": 3, "better": "higher", "full": 10000, "zero": 0}},
				"redistribute": "proportional", "rank_min_samples": 3},
		} {
			if r := f.do("POST", "/api/v1/score-formulas", f.token("city"), map[string]any{"kind": "firm", "effective_from": "2026-10-01", "spec": missing}); r.Status != http.StatusBadRequest || r.ErrCode() != "bad_formula" || !chinese(r) {
				t.Fatalf("a formula without a required figure: %d %s", r.Status, r.Raw)
			}
		}
		fm := post("city", http.StatusCreated, "/api/v1/score-formulas", map[string]any{"kind": "firm", "effective_from": "2026-10-01",
			"note": "试行", "spec": spec}).Body
		if orderNum(fm["version"]) != 2 {
			t.Fatalf("formula %v", fm)
		}
		r = post("street", http.StatusCreated, "/api/v1/score-runs", map[string]any{"kind": "firm", "period": "2026Q4"})
		if orderNum(r.Body["formula_version"]) != 2 || orderNum(r.Body["written"]) != 4 {
			t.Fatalf("run under the new version %v", r.Body)
		}
		// 60·(2/3) + 40·1 = 80.00 (rounded down per component: 39.99 + 40.00).
		v2 := f.get("community", fmt.Sprintf("/api/v1/scores?kind=firm&period=2026Q4&scope_kind=compound&under_kind=compound&under_id=%d",
			f.city.Compounds[0].ID))["items"].([]any)[0].(map[string]any)
		if v2["score"] != "79.99" || v2["rank_eligible"] != true || orderNum(v2["formula_version"]) != 2 {
			t.Errorf("version 2 row %v", v2)
		}
		old := f.get("community", fmt.Sprintf("/api/v1/scores/%d", orderNum(compoundRow["id"])))
		if old["score"] != compoundRow["score"] || orderNum(old["formula_version"]) != 1 {
			t.Errorf("version 1 row changed: %v, was %v", old, compoundRow)
		}
		formulas := f.get("resident", "/api/v1/score-formulas?kind=firm")["items"].([]any)
		if len(formulas) != 2 {
			t.Errorf("formulas %v", formulas)
		}
	})

	step("the grid worker's month, exported for pay", func(t *testing.T) {
		// The grants are dated by the wall clock; the workers held their
		// grids all November.
		if err := f.db.Model(&model.Grant{}).Where("1 = 1").Update("created_at", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Error; err != nil {
			t.Fatal(err)
		}
		r := post("street", http.StatusCreated, "/api/v1/score-runs", map[string]any{"kind": "grid_worker", "period": "2026-11"})
		if orderNum(r.Body["rows"]) != 2 {
			t.Fatalf("grid run %v", r.Body)
		}
		mine := f.get("grid", "/api/v1/scores?kind=grid_worker&period=2026-11")["items"].([]any)
		if len(mine) != 1 {
			t.Fatalf("the grid worker sees %v", mine)
		}
		comps := map[string]map[string]any{}
		for _, c := range mine[0].(map[string]any)["components"].([]any) {
			m := c.(map[string]any)
			comps[m["name"].(string)] = m
		}
		if orderNum(comps["verify_time"]["denominator"]) != 3 || orderNum(comps["confirm_ontime"]["numerator"]) != 3 ||
			orderNum(comps["ratings"]["numerator"]) != 2 || orderNum(comps["ratings"]["denominator"]) != 3 {
			t.Errorf("grid components %v", comps)
		}
		f.must(http.StatusForbidden, "GET", fmt.Sprintf("/api/v1/scores/export?period=2026-11&community_id=%d", f.city.Communities[0].ID),
			f.token("community2"), nil)
		f.must(http.StatusBadRequest, "GET", "/api/v1/scores/export?period=2026-11", f.token("community"), nil)
		x := f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/scores/export?period=2026-11&community_id=%d", f.city.Communities[0].ID),
			f.token("community"), nil)
		if x.Header.Get("Content-Type") != xlsxMime {
			t.Fatalf("content type %q", x.Header.Get("Content-Type"))
		}
		book, err := excelize.OpenReader(bytes.NewReader(x.Raw))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := book.GetRows(score.GridSheet)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 4 || rows[1][1] != "1" || rows[3][0] != "网格员刘姐" || len(rows[3]) != 11 {
			t.Fatalf("sheet %q", rows)
		}
	})
}
