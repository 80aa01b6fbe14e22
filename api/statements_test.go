package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
)

// Statement budgets of the busiest requests, the auth check included
// (BEGIN and COMMIT not counted). A list costs the same whatever the
// number of its rows: a per-row lookup creeping back fails here. With
// the changes of grants and sessions read, as a server does, a known
// session costs no statement.
func TestStatementsPerRequest(t *testing.T) {
	t.Run("sessions checked", func(t *testing.T) {
		statementsPerRequest(t, false, map[string]int64{"submit": 7, "detail": 3, "list": 2})
	})
	t.Run("sessions kept under the lease", func(t *testing.T) {
		statementsPerRequest(t, true, map[string]int64{"submit": 5, "detail": 2, "list": 1})
	})
}

func statementsPerRequest(t *testing.T, watch bool, budget map[string]int64) {
	f := newOrderFixture(t)
	if watch {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		go f.deps.Auth.WatchChanges(ctx, model.AuthChangeLease/5)
	}
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
	n.Except = "auth_changes"
	if watch {
		// Until the first read of the changes, sessions are checked.
		deadline := time.Now().Add(10 * model.AuthChangeLease)
		for {
			n.Take()
			n.On.Store(true)
			f.get("resident", "/api/v1/orders?queue=mine")
			f.get("grid", "/api/v1/orders?queue=to_verify")
			n.On.Store(false)
			if got, _ := n.Take(); got == 2*budget["list"] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("sessions still checked against the database")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// Seats kept before the first read are dropped by it; a miss has
		// the filler load them in the background (its statement would
		// count in what follows): wait until a submit finds them kept.
		for {
			n.Take()
			n.On.Store(true)
			submit()
			n.On.Store(false)
			if got, _ := n.Take(); got <= budget["submit"] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the seats of a submit never kept")
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
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
		check(t, "submit", got, sql, budget["submit"])
	})
	t.Run("detail", func(t *testing.T) {
		got, sql := count(func() { f.get("resident", fmt.Sprintf("/api/v1/orders/%d", id)) })
		check(t, "detail", got, sql, budget["detail"])
	})
	for _, l := range []struct{ who, path string }{
		{"resident", "/api/v1/orders?queue=mine"},
		{"grid", "/api/v1/orders?queue=to_verify"},
	} {
		t.Run("list "+l.path, func(t *testing.T) {
			few, sql := count(func() { f.get(l.who, l.path) })
			check(t, l.path, few, sql, budget["list"])
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
