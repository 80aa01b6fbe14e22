package api

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"redprop/model"
)

// A dispatch sent twice (a phone retrying on a bad network): both answers
// are 200 with the same body, one timeline row, one push to the firm.
// Another firm or due date is a new dispatch.
func TestRepeatedActionThroughTheRouter(t *testing.T) {
	f := newOrderFixture(t)
	r := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["environment"], "description": "楼道灯坏了，晚上看不见",
		"household_id": f.city.Households[0].ID,
	})
	id := orderNum(r.Body["id"])
	f.act("grid", id, "verify", nil)
	pushes := func() int64 {
		var n int64
		f.db.Model(&model.Outbox{}).Where("order_id = ?", id).Count(&n)
		return n
	}
	body := map[string]any{"handler_kind": "firm", "deadline": "2026-11-25T18:00:00+08:00", "note": "请尽快"}
	first := f.act("community", id, "dispatch", body)
	rows, sent := len(f.timeline(id)), pushes()
	again := f.act("community", id, "dispatch", body)
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("the repeat answered\n%v\nthe first\n%v", again, first)
	}
	if len(f.timeline(id)) != rows || pushes() != sent {
		t.Fatalf("the repeat wrote %d timeline rows and %d pushes", len(f.timeline(id))-rows, pushes()-sent)
	}
	// The same request as a bare accept twice by the manager, too.
	f.act("manager", id, "accept", nil)
	rows = len(f.timeline(id))
	if o := f.act("manager", id, "accept", nil); o["state"] != model.StateAccepted || len(f.timeline(id)) != rows {
		t.Fatalf("accept again: %v, %d rows", o["state"], len(f.timeline(id))-rows)
	}
	// Another person is refused as before.
	r = f.do("POST", fmt.Sprintf("/api/v1/orders/%d/accept", id), f.token("community"), nil)
	if r.Status != http.StatusForbidden && r.Status != http.StatusConflict {
		t.Fatalf("accept by the community: %d %s", r.Status, r.Raw)
	}
}
