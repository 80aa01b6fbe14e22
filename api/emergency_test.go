package api

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"redprop/model"
)

// The one-key call through the router: a grid worker registers the
// resident, the resident presses the button (twice), outsiders can neither
// call nor respond, the duty officer acknowledges, the steward arrives, the
// grid worker resolves.
func TestEmergencyCallThroughTheRouter(t *testing.T) {
	f := newOrderFixture(t)
	reg := map[string]any{"user_id": f.city.Users["resident"], "kind": "elderly_alone", "note": "独居",
		"contacts": []map[string]string{{"name": "杨小明", "phone": "139-0000-1111", "relation": "儿子"}}}
	f.must(http.StatusForbidden, "POST", "/api/v1/emergency/vulnerable", f.token("grid3"), reg)
	f.must(http.StatusBadRequest, "POST", "/api/v1/emergency/vulnerable", f.token("grid"), map[string]any{"kind": "elderly_alone", "age": 80})
	v := f.must(http.StatusCreated, "POST", "/api/v1/emergency/vulnerable", f.token("grid"), reg).Body
	if v["address"] != "金日天玺1号楼1单元101" || len(v["contacts"].([]any)) != 1 {
		t.Fatalf("registration %v", v)
	}
	f.must(http.StatusConflict, "POST", "/api/v1/emergency/vulnerable", f.token("grid"), reg)
	if items := f.get("duty", "/api/v1/emergency/vulnerable")["items"].([]any); len(items) != 1 {
		t.Fatalf("duty sees %d registrations", len(items))
	}
	targets := f.get("resident", "/api/v1/emergency/targets")["items"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets %v", targets)
	}

	// The three first responders allowed new-report pushes in the
	// mini-program; the community's dispatcher did not.
	for _, name := range []string{"grid", "steward", "duty"} {
		f.token(name) // logged in: has an openid
		if err := f.db.Create(&model.SubscribeQuota{UserID: f.city.Users[name], TemplateID: "sandbox_new_report", Remaining: 5}).Error; err != nil {
			t.Fatal(err)
		}
	}
	comm := f.city.Grids[0].CommunityID
	f.must(http.StatusBadRequest, "GET", "/api/v1/emergency/unreachable", f.token("community"), nil)
	f.must(http.StatusForbidden, "GET", fmt.Sprintf("/api/v1/emergency/unreachable?community_id=%d", comm), f.token("grid"), nil)
	unreachable := f.get("community", fmt.Sprintf("/api/v1/emergency/unreachable?community_id=%d", comm))["items"].([]any)
	if len(unreachable) != 1 || orderNum(unreachable[0].(map[string]any)["user_id"]) != f.city.Users["community"] {
		t.Fatalf("unreachable %v, want the dispatcher alone", unreachable)
	}

	// No body at all: one tap.
	call := f.must(http.StatusCreated, "POST", "/api/v1/emergency/calls", f.token("resident"), nil).Body
	id := orderNum(call["id"])
	if call["status"] != "open" || call["order_level"] != "community" || call["order_state"] != "verified" || orderNum(call["alert_count"]) != 1 ||
		orderNum(call["alerts_sent"]) != 3 {
		t.Fatalf("call %v", call)
	}
	again := f.must(http.StatusOK, "POST", "/api/v1/emergency/calls", f.token("resident"), map[string]any{"note": "快来"},
		"Idempotency-Key", "tap-2").Body
	if orderNum(again["id"]) != id {
		t.Fatalf("second tap made call %v", again["id"])
	}
	r := f.must(http.StatusForbidden, "POST", "/api/v1/emergency/calls", f.token("resident2"), nil)
	if r.ErrCode() != "not_vulnerable" {
		t.Fatalf("code %s", r.ErrCode())
	}
	var alerted []int64
	f.db.Model(&model.Message{}).Where("event = ? AND order_id = ?", "emergency.call", orderNum(call["order_id"])).
		Order("user_id").Pluck("user_id", &alerted)
	want := map[int64]bool{f.city.Users["grid"]: true, f.city.Users["steward"]: true, f.city.Users["duty"]: true}
	if len(alerted) != 3 || !want[alerted[0]] || !want[alerted[1]] || !want[alerted[2]] {
		t.Fatalf("alerted %v", alerted)
	}

	path := fmt.Sprintf("/api/v1/emergency/calls/%d", id)
	if seen := f.get("steward", path); seen["caller_phone"] == "" || seen["vulnerable"].(map[string]any)["name"] != "居民杨阿姨" {
		t.Fatalf("steward sees %v", seen)
	}
	f.must(http.StatusForbidden, "GET", path, f.token("resident2"), nil)
	if open := f.get("grid", "/api/v1/emergency/calls")["items"].([]any); len(open) != 1 {
		t.Fatalf("grid sees %d open calls", len(open))
	}
	if open := f.get("grid3", "/api/v1/emergency/calls")["items"].([]any); len(open) != 0 {
		t.Fatalf("grid3 sees %d open calls", len(open))
	}

	for _, name := range []string{"resident2", "grid3", "resident"} {
		r := f.must(http.StatusForbidden, "POST", path+"/acknowledge", f.token(name), nil)
		if r.ErrCode() != "not_responder" {
			t.Fatalf("%s: %s", name, r.ErrCode())
		}
	}
	f.clock.Advance(2 * time.Minute)
	ack := f.must(http.StatusOK, "POST", path+"/acknowledge", f.token("duty"), nil).Body
	if ack["status"] != "acknowledged" || orderNum(ack["acknowledged_by"]) != f.city.Users["duty"] || ack["acknowledged_at"] == nil {
		t.Fatalf("ack %v", ack)
	}
	f.must(http.StatusConflict, "POST", path+"/acknowledge", f.token("grid"), nil)
	f.clock.Advance(5 * time.Minute)
	f.must(http.StatusOK, "POST", path+"/arrive", f.token("steward"), map[string]any{"note": "已到现场"})
	done := f.must(http.StatusOK, "POST", path+"/resolve", f.token("grid"), map[string]any{"note": "已送医"}).Body
	if done["status"] != "resolved" || done["order_state"] != "completed" || done["resolved_at"] == nil {
		t.Fatalf("resolve %v", done)
	}
	// The grid worker's own resolve again is a repeat; another responder's is refused.
	if again := f.must(http.StatusOK, "POST", path+"/resolve", f.token("grid"), map[string]any{"note": "已送医"}).Body; !reflect.DeepEqual(again, done) {
		t.Fatalf("resolve again %v, first %v", again, done)
	}
	f.must(http.StatusUnprocessableEntity, "POST", path+"/resolve", f.token("steward"), nil)
	f.must(http.StatusBadRequest, "POST", path+"/resolve", f.token("grid"), map[string]any{"reason": "x"})

	o := f.get("resident", fmt.Sprintf("/api/v1/orders/%d", orderNum(call["order_id"])))
	if o["category_code"] != "emergency" || o["channel"] != "emergency" {
		t.Fatalf("order %v", o)
	}
	f.must(http.StatusNoContent, "DELETE", fmt.Sprintf("/api/v1/emergency/vulnerable/%d", orderNum(v["id"])), f.token("grid"), nil)
	f.must(http.StatusForbidden, "POST", "/api/v1/emergency/calls", f.token("resident"), nil)
}

func TestEscalateThroughTheRouter(t *testing.T) {
	f := newOrderFixture(t)
	o := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["dispute"], "description": "楼上噪音", "household_id": f.city.Households[0].ID}).Body
	path := fmt.Sprintf("/api/v1/orders/%d/escalate", orderNum(o["id"]))
	f.must(http.StatusBadRequest, "POST", path, f.token("grid"), map[string]any{"reason": ""})
	f.must(http.StatusBadRequest, "POST", path, f.token("grid"), nil)
	f.must(http.StatusForbidden, "POST", path, f.token("community"), map[string]any{"reason": "社区"})
	got := f.must(http.StatusOK, "POST", path, f.token("grid"), map[string]any{"reason": "网格协调不了"}).Body
	if got["level"] != "community" || got["light"] == "" {
		t.Fatalf("escalated %v", got)
	}
	f.must(http.StatusOK, "POST", path, f.token("community"), map[string]any{"reason": "街道议"})
	f.must(http.StatusOK, "POST", path, f.token("street"), map[string]any{"reason": "市级议"})
	r := f.must(http.StatusUnprocessableEntity, "POST", path, f.token("city"), map[string]any{"reason": "再升"})
	if r.ErrCode() != "top_level" {
		t.Fatalf("code %s", r.ErrCode())
	}
	evs := f.timeline(orderNum(o["id"]))
	if n := len(evs); n != 4 || evs[n-1].Action != "escalate" || evs[n-1].ToLevel != "city" {
		t.Fatalf("timeline %+v", evs)
	}
}
