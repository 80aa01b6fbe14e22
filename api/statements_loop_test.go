package api

import (
	"net/http"
	"strings"
	"testing"

	"redprop/model/dbtest"
)

// Statement budgets of each step of the order loop, the auth check and
// the answer's view included (BEGIN and COMMIT not counted). Inside the
// transaction, after the order's compare-and-set, nothing is read that
// the request read before it: the category the notices name comes from
// the action's own read.
func TestStatementsPerStep(t *testing.T) {
	f := newOrderFixture(t)
	budget := map[string]int64{"verify": 8, "dispatch": 9, "accept": 8, "assign": 9, "start": 6, "complete": 11, "confirm": 8, "rate": 6}
	steps := []struct {
		who, action string
		body        any
	}{
		{"grid", "verify", map[string]any{"note": "已核实"}},
		{"community", "dispatch", map[string]any{"handler_kind": "firm"}},
		{"manager", "accept", nil},
		{"manager", "assign", map[string]any{"worker_id": f.city.Users["worker"]}},
		{"worker", "start", nil},
		{"worker", "complete", map[string]any{"note": "已清理"}},
		{"grid", "confirm", nil},
		{"resident", "rate", map[string]any{"overall": 5, "timeliness": 5, "attitude": 5, "comment": "处理及时"}},
	}
	var n *dbtest.Statements
	walk := func(check bool) {
		o := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
			"category_id": f.cats["safety_hazard"], "description": "消防通道堆放杂物", "household_id": f.city.Households[0].ID,
		}).Body
		id := orderNum(o["id"])
		for _, st := range steps {
			if !check {
				f.act(st.who, id, st.action, st.body)
				continue
			}
			n.Take()
			n.On.Store(true)
			f.act(st.who, id, st.action, st.body)
			n.On.Store(false)
			got, sql := n.Take()
			t.Logf("%s: %d statements", st.action, got)
			if got > budget[st.action] {
				t.Errorf("%s: %d statements, at most %d:\n%q", st.action, got, budget[st.action], sql)
			}
			moved := false
			for _, q := range sql {
				if strings.HasPrefix(q, "UPDATE `orders`") {
					moved = true
				}
				if moved && strings.Contains(q, "FROM `categories`") {
					t.Errorf("%s reads the category again inside its transaction:\n%q", st.action, sql)
				}
			}
			if !moved {
				t.Errorf("%s: no compare-and-set of the order among\n%q", st.action, sql)
			}
		}
	}
	// Warm up: the tokens, the grant caches, the first number block.
	walk(false)
	n = dbtest.CountStatements(t, f.db)
	walk(true)
}
