package api

import (
	"fmt"
	"net/http"
	"testing"

	"redprop/model"
)

// firstItem finds an item of a checklist response by title.
func checklistItemID(t *testing.T, cl map[string]any, title string) int64 {
	t.Helper()
	for _, raw := range cl["items"].([]any) {
		it := raw.(map[string]any)
		if it["title"] == title {
			return orderNum(it["id"])
		}
	}
	t.Fatalf("no item %s", title)
	return 0
}

func TestInspectionThroughTheRouter(t *testing.T) {
	f := newOrderFixture(t)
	comp := f.city.Compounds[0].ID
	inForce := f.get("community", fmt.Sprintf("/api/v1/checklists?compound_id=%d", comp))["items"].([]any)
	if len(inForce) != 1 || inForce[0].(map[string]any)["scope_kind"] != "all" {
		t.Fatalf("in force %v", inForce)
	}
	clID := orderNum(inForce[0].(map[string]any)["id"])
	cl := f.get("manager", fmt.Sprintf("/api/v1/checklists/%d", clID))
	clean := checklistItemID(t, cl, "楼道及公共区域保洁")
	fire := checklistItemID(t, cl, "消防通道畅通")
	photo := f.upload("community")
	body := map[string]any{
		"compound_id": comp, "kind": "daily", "default_result": "pass", "notes": "日常巡查", "photo_ids": []int64{photo},
		"items": []map[string]any{
			{"item_id": clean, "result": "deduct", "deduct": 2, "note": "楼道积尘",
				"raise": map[string]any{"kind": "order", "due_date": "2026-11-26"}},
			{"item_id": fire, "result": "deduct", "raise": map[string]any{"kind": "action", "due_date": "2026-11-30"}},
		},
	}
	r := f.must(http.StatusCreated, "POST", "/api/v1/inspections", f.token("community"), body, "Idempotency-Key", "daily-1")
	ins := r.Body
	id := orderNum(ins["id"])
	if ins["score"] != 92.0 || ins["failed"] != 2.0 || ins["checklist_version"] != 1.0 || ins["inspected_at"] != "2026-11-23T10:00:00+08:00" {
		t.Fatalf("inspection %v", ins)
	}
	var orderID, actionID, failedItem int64
	for _, raw := range ins["items"].([]any) {
		it := raw.(map[string]any)
		if n := orderNum(it["order_id"]); n != 0 {
			orderID, failedItem = n, orderNum(it["id"])
		}
		if n := orderNum(it["action_item_id"]); n != 0 {
			actionID = n
		}
	}
	t.Run("the failed item's order is the firm's to take up", func(t *testing.T) {
		o := f.get("manager", fmt.Sprintf("/api/v1/orders/%d", orderID))
		if o["state"] != model.StateDispatched || o["channel"] != model.ChannelInspection || orderNum(o["handler_id"]) != f.city.Firm.ID ||
			orderNum(o["inspection_id"]) != id || orderNum(o["inspection_item_id"]) != failedItem {
			t.Fatalf("raised order %v", o)
		}
		f.act("manager", orderID, "accept", nil)
		a := f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/action-items/%d", actionID), f.token("manager"), nil).Body
		if a["source_kind"] != "inspection" || orderNum(a["source_id"]) != id {
			t.Fatalf("action item %v", a)
		}
	})
	t.Run("a retry is the first inspection", func(t *testing.T) {
		// Replayed from Redis (201 again) or found by the key kept on the row (200).
		again := f.do("POST", "/api/v1/inspections", f.token("community"), body, "Idempotency-Key", "daily-1")
		if (again.Status != http.StatusCreated && again.Status != http.StatusOK) || orderNum(again.Body["id"]) != id {
			t.Fatalf("retry %d %v", again.Status, again.Body)
		}
		var n int64
		f.db.Model(&model.Inspection{}).Count(&n)
		if n != 1 {
			t.Fatalf("%d inspections after a retry", n)
		}
	})
	t.Run("the firm reads and answers; outsiders are refused", func(t *testing.T) {
		list := f.get("manager", "/api/v1/inspections")["items"].([]any)
		if len(list) != 1 || len(list[0].(map[string]any)["items"].([]any)) != 0 {
			t.Fatalf("firm list %v", list)
		}
		if l := f.get("community2", "/api/v1/inspections")["items"].([]any); len(l) != 0 {
			t.Fatalf("another community sees %v", l)
		}
		path := fmt.Sprintf("/api/v1/inspections/%d", id)
		for _, name := range []string{"community2", "resident", "worker"} {
			if r := f.do("GET", path, f.token(name), nil); r.Status != http.StatusForbidden {
				t.Fatalf("%s reads an inspection: %d", name, r.Status)
			}
		}
		answer := fmt.Sprintf("/api/v1/inspections/%d/items/%d/answer", id, failedItem)
		if r := f.do("POST", answer, f.token("community"), map[string]any{"answer": "x"}); r.Status != http.StatusForbidden {
			t.Fatalf("community answers: %d", r.Status)
		}
		a := f.must(http.StatusOK, "POST", answer, f.token("manager"), map[string]any{"answer": "已重新保洁"}).Body
		found := false
		for _, raw := range a["items"].([]any) {
			if it := raw.(map[string]any); orderNum(it["id"]) == failedItem {
				found = it["answer"] == "已重新保洁" && it["answered_at"] != nil
			}
		}
		if !found {
			t.Fatalf("answer not shown: %v", a["items"])
		}
		if r := f.do("POST", answer, f.token("manager"), map[string]any{"answer": "再改"}); r.Status != http.StatusConflict || r.ErrCode() != "already_answered" {
			t.Fatalf("second answer %d %s", r.Status, r.Raw)
		}
		f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/inspections/%d/photos/%d", id, photo), f.token("manager"), nil)
		f.must(http.StatusForbidden, "GET", fmt.Sprintf("/api/v1/inspections/%d/photos/%d", id, photo), f.token("community2"), nil)
	})
	t.Run("bad input is 4xx", func(t *testing.T) {
		cases := []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"community", map[string]any{"compound_id": comp, "kind": "weekly", "default_result": "pass"}, 400, "bad_kind"},
			{"community", map[string]any{"compound_id": comp, "kind": "daily"}, 400, "items_incomplete"},
			{"community", map[string]any{"compound_id": comp, "kind": "daily", "default_result": "pass",
				"items": []map[string]any{{"item_id": clean, "result": "deduct", "deduct": 99}}}, 400, "bad_deduct"},
			{"community", map[string]any{"compound_id": comp, "kind": "daily", "default_result": "pass", "inspected_at": "yesterday"}, 400, "bad_inspected_at"},
			{"community", map[string]any{"compound_id": comp, "kind": "daily", "surprise": 1}, 400, "bad_json"},
			{"community2", map[string]any{"compound_id": f.city.Compounds[2].ID, "kind": "daily", "default_result": "pass"}, 422, "no_firm"},
			{"grid", map[string]any{"compound_id": comp, "kind": "daily", "default_result": "pass"}, 403, "inspect_forbidden"},
		}
		for _, c := range cases {
			r := f.do("POST", "/api/v1/inspections", f.token(c.name), c.body)
			if r.Status != c.status || (c.code != "bad_json" && r.ErrCode() != c.code) {
				t.Errorf("%v: %d %s", c.body, r.Status, r.Raw)
			}
		}
		for _, p := range []string{"/api/v1/inspections/abc", "/api/v1/inspections?kind=weekly", "/api/v1/checklists/0",
			"/api/v1/checklists/1?version=x", "/api/v1/inspections?compound_id=-1"} {
			if r := f.do("GET", p, f.token("community"), nil); r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d", p, r.Status)
			}
		}
		if r := f.do("GET", "/api/v1/inspections/999999", f.token("community"), nil); r.Status != http.StatusNotFound {
			t.Errorf("missing inspection: %d", r.Status)
		}
	})
	t.Run("a street's own checklist, versioned", func(t *testing.T) {
		items := []map[string]any{{"section": "environment", "title": "楼道保洁", "points": 50, "rule": "partial"},
			{"section": "fire_safety", "title": "消防通道", "points": 50, "rule": "whole"}}
		req := map[string]any{"name": "文昌路街道检查表", "scope_kind": "street", "scope_id": f.city.StreetID, "items": items}
		f.must(http.StatusForbidden, "POST", "/api/v1/checklists", f.token("community"), req)
		cl := f.must(http.StatusCreated, "POST", "/api/v1/checklists", f.token("street"), req, "Idempotency-Key", "sheet-1").Body
		cid := orderNum(cl["id"])
		// A retry with the same key is the first checklist, not a second one.
		again := f.must(http.StatusCreated, "POST", "/api/v1/checklists", f.token("street"), req, "Idempotency-Key", "sheet-1")
		if orderNum(again.Body["id"]) != cid || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("a retried checklist: %s", again.Raw)
		}
		vpath := fmt.Sprintf("/api/v1/checklists/%d/versions", cid)
		vbody := map[string]any{"note": "分值调整", "items": items[:1]}
		v2 := f.must(http.StatusCreated, "POST", vpath, f.token("street"), vbody, "Idempotency-Key", "sheet-1-v2").Body
		// A retried version is replayed; the later checks see two versions.
		f.must(http.StatusCreated, "POST", vpath, f.token("street"), vbody, "Idempotency-Key", "sheet-1-v2")
		if v2["latest"] != 2.0 || len(v2["items"].([]any)) != 1 || len(v2["versions"].([]any)) != 2 {
			t.Fatalf("version 2 %v", v2)
		}
		v1 := f.get("community", fmt.Sprintf("/api/v1/checklists/%d?version=1", cid))
		if len(v1["items"].([]any)) != 2 {
			t.Fatalf("version 1 changed: %v", v1)
		}
		r := f.do("POST", fmt.Sprintf("/api/v1/checklists/%d/versions", cid), f.token("street"),
			map[string]any{"items": []map[string]any{{"section": "roof", "title": "x", "points": 1, "rule": "whole"}}})
		if r.Status != http.StatusBadRequest || r.ErrCode() != "bad_section" {
			t.Fatalf("bad section %d %s", r.Status, r.Raw)
		}
		inForce := f.get("community", fmt.Sprintf("/api/v1/checklists?compound_id=%d", comp))["items"].([]any)
		if len(inForce) != 2 || orderNum(inForce[0].(map[string]any)["id"]) != cid {
			t.Fatalf("in force %v", inForce)
		}
		if l := f.get("manager", "/api/v1/checklists")["items"].([]any); len(l) != 2 {
			t.Fatalf("checklists the firm reads %v", l)
		}
	})
}

// driveToConfirmed submits an order of the resident and takes it through
// the router to confirmed.
func (f *orderFixture) driveToConfirmed() int64 {
	f.t.Helper()
	r := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["environment"], "description": "楼道堆满杂物", "household_id": f.city.Households[0].ID})
	id := orderNum(r.Body["id"])
	f.act("grid", id, "verify", nil)
	f.act("community", id, "dispatch", map[string]any{"handler_kind": "firm"})
	f.act("manager", id, "accept", nil)
	f.act("manager", id, "assign", map[string]any{"worker_id": f.city.Users["worker"]})
	f.act("worker", id, "start", map[string]any{})
	f.act("worker", id, "complete", map[string]any{"photo_ids": []int64{f.upload("worker")}})
	f.act("grid", id, "confirm", nil)
	return id
}

func (f *orderFixture) rectOf(name string, orderID int64) map[string]any {
	f.t.Helper()
	items := f.get(name, fmt.Sprintf("/api/v1/rectifications?order_id=%d", orderID))["items"].([]any)
	if len(items) == 0 {
		f.t.Fatalf("no rectification of order %d for %s", orderID, name)
	}
	return items[0].(map[string]any)
}

func TestRectificationThroughTheRouter(t *testing.T) {
	f := newOrderFixture(t)
	t.Run("open, report, revisit, confirm", func(t *testing.T) {
		id := f.driveToConfirmed()
		f.act("resident", id, "rate", map[string]any{"overall": 1, "comment": "杂物没清干净"})
		rect := f.rectOf("manager", id)
		rid := orderNum(rect["id"])
		// Five working days from Monday 10:00: Monday 30 November 10:00.
		if rect["state"] != model.RectOpen || rect["due_at"] != "2026-11-30T10:00:00+08:00" || rect["late"] != false ||
			rect["owner_name"] != f.city.Firm.Name {
			t.Fatalf("opened %v", rect)
		}
		base := fmt.Sprintf("/api/v1/rectifications/%d", rid)
		f.must(http.StatusForbidden, "GET", base, f.token("resident2"), nil)
		f.must(http.StatusForbidden, "POST", base+"/report", f.token("grid"), map[string]any{"report": "x"})
		if r := f.do("POST", base+"/report", f.token("manager"), map[string]any{}); r.Status != 400 || r.ErrCode() != "bad_report" {
			t.Fatalf("empty report %d %s", r.Status, r.Raw)
		}
		rep := f.must(http.StatusOK, "POST", base+"/report", f.token("manager"), map[string]any{"report": "已全部清运"}).Body
		if rep["state"] != model.RectReported || rep["reported_at"] == nil {
			t.Fatalf("reported %v", rep)
		}
		queue := f.get("community", "/api/v1/rectifications?queue=true")["items"].([]any)
		if len(queue) != 1 || orderNum(queue[0].(map[string]any)["id"]) != rid {
			t.Fatalf("queue %v", queue)
		}
		if q := f.get("community2", "/api/v1/rectifications?queue=true")["items"].([]any); len(q) != 0 {
			t.Fatalf("another community's queue %v", q)
		}
		f.must(http.StatusConflict, "POST", base+"/confirm", f.token("resident"), map[string]any{})
		if r := f.do("POST", fmt.Sprintf("/api/v1/orders/%d/revisit", id), f.token("community"), map[string]any{"note": "好"}); r.Status != 400 {
			t.Fatalf("a token revisit note: %d %s", r.Status, r.Raw)
		}
		f.act("community", id, "revisit", map[string]any{"note": "电话回访居民，杂物已清"})
		if got := f.get("resident", base); got["state"] != model.RectRevisited || got["revisit_note"] != "电话回访居民，杂物已清" {
			t.Fatalf("revisited %v", got)
		}
		f.must(http.StatusForbidden, "POST", base+"/confirm", f.token("manager"), map[string]any{})
		done := f.must(http.StatusOK, "POST", base+"/confirm", f.token("resident"), map[string]any{"note": "满意"}).Body
		if done["state"] != model.RectConfirmed || done["closed_at"] == nil {
			t.Fatalf("confirmed %v", done)
		}
		if o := f.get("resident", fmt.Sprintf("/api/v1/orders/%d", id)); o["state"] != model.StateClosed {
			t.Fatalf("order %v", o["state"])
		}
	})
	t.Run("still not fixed reopens the order as rework", func(t *testing.T) {
		id := f.driveToConfirmed()
		f.act("resident", id, "rate", map[string]any{"overall": 2})
		rid := orderNum(f.rectOf("resident", id)["id"])
		f.act("community", id, "revisit", map[string]any{"note": "上门查看，仍有杂物"})
		base := fmt.Sprintf("/api/v1/rectifications/%d", rid)
		if r := f.do("POST", base+"/not-fixed", f.token("resident"), map[string]any{}); r.Status != 400 || r.ErrCode() != "note_required" {
			t.Fatalf("not fixed without a note %d %s", r.Status, r.Raw)
		}
		got := f.must(http.StatusOK, "POST", base+"/not-fixed", f.token("resident"), map[string]any{"note": "楼道还是堵着"}).Body
		if got["state"] != model.RectReopened {
			t.Fatalf("not fixed %v", got)
		}
		o := f.get("manager", fmt.Sprintf("/api/v1/orders/%d", id))
		if o["state"] != model.StateInProgress || orderNum(o["handler_id"]) != f.city.Firm.ID {
			t.Fatalf("reopened order %v", o)
		}
		tl := f.timeline(id)
		if last := tl[len(tl)-1]; last.Action != "rectify_reopen" || last.FromState != model.StateClosed {
			t.Fatalf("timeline %+v", last)
		}
		// The worker finishes the rework through the ordinary loop.
		f.act("worker", id, "complete", map[string]any{"photo_ids": []int64{f.upload("worker")}})
	})
	t.Run("bad queries", func(t *testing.T) {
		for _, p := range []string{"/api/v1/rectifications?state=lost", "/api/v1/rectifications?queue=yes",
			"/api/v1/rectifications?order_id=x", "/api/v1/rectifications/0"} {
			if r := f.do("GET", p, f.token("community"), nil); r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d", p, r.Status)
			}
		}
		f.must(http.StatusNotFound, "GET", "/api/v1/rectifications/999999", f.token("community"), nil)
	})
}
