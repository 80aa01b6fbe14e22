package api

import (
	"fmt"
	"net/http"
	"testing"

	"redprop/model/dbtest"
)

// Statement budgets of the busiest requests, the auth check included
// (BEGIN and COMMIT not counted). A list costs the same whatever the
// number of its rows: a per-row lookup creeping back fails here.
func TestStatementsPerRequest(t *testing.T) {
	f := newOrderFixture(t)
	seq := 0
	submit := func() int64 {
		t.Helper()
		seq++
		i := seq
		r := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
			"category_id": f.cats["environment"], "description": fmt.Sprintf("楼道灯坏了 %d", i),
			"household_id": f.city.Households[0].ID,
		}, "Idempotency-Key", fmt.Sprintf("stmt-%d", i))
		return orderNum(r.Body["id"])
	}
	// Warm up: the tokens, the grant caches, the first number block.
	id := submit()
	f.get("grid", "/api/v1/orders?queue=to_verify")
	f.get("resident", "/api/v1/orders?queue=mine")

	n := dbtest.CountStatements(t, f.db)
	count := func(do func()) (int64, []string) {
		n.Take()
		n.On.Store(true)
		do()
		n.On.Store(false)
		return n.Take()
	}
	check := func(t *testing.T, what string, got int64, sql []string, max int64) {
		t.Helper()
		t.Logf("%s: %d statements", what, got)
		if got > max {
			t.Fatalf("%s: %d statements, at most %d:\n%q", what, got, max, sql)
		}
	}
	t.Run("submit", func(t *testing.T) {
		got, sql := count(func() { submit() })
		check(t, "submit", got, sql, 8)
	})
	t.Run("detail", func(t *testing.T) {
		got, sql := count(func() { f.get("resident", fmt.Sprintf("/api/v1/orders/%d", id)) })
		check(t, "detail", got, sql, 3)
	})
	for _, l := range []struct{ who, path string }{
		{"resident", "/api/v1/orders?queue=mine"},
		{"grid", "/api/v1/orders?queue=to_verify"},
	} {
		t.Run("list "+l.path, func(t *testing.T) {
			few, sql := count(func() { f.get(l.who, l.path) })
			check(t, l.path, few, sql, 2)
			for range 6 {
				submit()
			}
			many, sql := count(func() {
				if items := f.get(l.who, l.path)["items"].([]any); len(items) < 6 {
					t.Fatalf("%d items", len(items))
				}
			})
			if many != few {
				t.Fatalf("%d statements for a list of many, %d for a few: a per-row query\n%q", many, few, sql)
			}
		})
	}
}
