package model_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
)

// newCall inserts an open call of household hid, raised at t0, with an
// order id of its own.
func newCall(t *testing.T, db *gorm.DB, hid int64, anc model.Ancestry) model.EmergencyCall {
	t.Helper()
	var orders int64
	if err := db.Model(&model.EmergencyCall{}).Count(&orders).Error; err != nil {
		t.Fatal(err)
	}
	c := model.EmergencyCall{OrderID: 1000 + orders, CallerID: 1, VulnerableID: 1, HouseholdID: hid,
		OpenHousehold: &hid, AlertCount: 1, LastAlertAt: t0, Ancestry: anc}
	c.CreatedAt, c.UpdatedAt = t0, t0
	if err := model.Create(context.Background(), db, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func callIDs(cs []model.EmergencyCall) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// MarkCall's condition for each state and State agree: a call moves from
// the state State reads, and from no other.
func TestMarkCallMovesFromItsStateOnly(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	states := []string{model.CallOpen, model.CallAcknowledged, model.CallArrived, model.CallResolved}
	reach := map[string]model.CallMarks{
		model.CallAcknowledged: {Acknowledged: true},
		model.CallArrived:      {Acknowledged: true, Arrived: true},
		model.CallResolved:     {Acknowledged: true, Arrived: true, Resolved: true},
	}
	for i, state := range states {
		t.Run(state, func(t *testing.T) {
			c := newCall(t, db, int64(10+i), model.Ancestry{})
			if state != model.CallOpen {
				if n, err := model.MarkCall(ctx, db, c.ID, model.CallOpen, reach[state], 7, t0); err != nil || n != 1 {
					t.Fatalf("to %s: %d rows, %v", state, n, err)
				}
			}
			cur, err := model.ByID[model.EmergencyCall](ctx, db, c.ID)
			if err != nil || cur.State() != state {
				t.Fatalf("state %s (%v), want %s", cur.State(), err, state)
			}
			for _, from := range states {
				n, err := model.MarkCall(ctx, db, c.ID, from, model.CallMarks{}, 8, t0.Add(time.Minute))
				if err != nil || (n == 1) != (from == state) {
					t.Errorf("from %s: %d rows, %v", from, n, err)
				}
			}
		})
	}
	if _, err := model.MarkCall(ctx, db, 1, "lost", model.CallMarks{}, 1, t0); err == nil {
		t.Error("an unknown state was accepted")
	}
}

// Resolving a call, by a responder or with its order, frees its household
// for the next one; while open, a second call is a duplicate.
func TestResolvedCallFreesItsHousehold(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	c := newCall(t, db, 5, model.Ancestry{})
	hid := int64(5)
	dup := model.EmergencyCall{OrderID: 999, CallerID: 1, VulnerableID: 1, HouseholdID: hid, OpenHousehold: &hid, LastAlertAt: t0}
	if err := model.Create(ctx, db, &dup); !errors.Is(err, model.ErrDuplicate) {
		t.Fatalf("second open call: %v, want ErrDuplicate", err)
	}
	t.Run("by a responder", func(t *testing.T) {
		if n, err := model.MarkCall(ctx, db, c.ID, model.CallOpen, model.CallMarks{Resolved: true}, 3, t0); err != nil || n != 1 {
			t.Fatalf("resolve: %d, %v", n, err)
		}
		cur, _ := model.ByID[model.EmergencyCall](ctx, db, c.ID)
		if cur.OpenHousehold != nil || cur.ResolvedBy != 3 || cur.AcknowledgedAt != nil {
			t.Fatalf("resolved call %+v", cur)
		}
		if open, err := model.OpenCallsOf(ctx, db, hid); err != nil || len(open) != 0 {
			t.Fatalf("open calls %v, %v", open, err)
		}
	})
	t.Run("with its order", func(t *testing.T) {
		next := newCall(t, db, hid, model.Ancestry{})
		other := newCall(t, db, 6, model.Ancestry{})
		if err := model.EndOrderCall(ctx, db, next.OrderID, 4, t0); err != nil {
			t.Fatal(err)
		}
		cur, _ := model.ByID[model.EmergencyCall](ctx, db, next.ID)
		if cur.State() != model.CallResolved || cur.OpenHousehold != nil || cur.ResolvedBy != 4 {
			t.Fatalf("ended call %+v", cur)
		}
		if open, err := model.OpenCallsOf(ctx, db, hid, 6); err != nil || !slices.Equal(callIDs(open), []int64{other.ID}) {
			t.Fatalf("open calls %v, %v; want the other household's only", callIDs(open), err)
		}
		if _, err := model.ByID[model.EmergencyCall](ctx, db, other.ID+100); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("missing call: %v", err)
		}
	})
}

// The clock's queries and compare-and-sets see unanswered calls only.
func TestCallClock(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	var cs []model.EmergencyCall
	for i := range 4 {
		cs = append(cs, newCall(t, db, int64(20+i), model.Ancestry{}))
	}
	if n, err := model.MarkCall(ctx, db, cs[3].ID, model.CallOpen, model.CallMarks{Acknowledged: true}, 1, t0); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	later := t0.Add(10 * time.Minute)
	t.Run("calls to repeat, page by page", func(t *testing.T) {
		got, err := model.CallsToRepeat(ctx, db, t0, 0, 2)
		if err != nil || !slices.Equal(callIDs(got), callIDs(cs[:2])) {
			t.Fatalf("first page %v, %v", callIDs(got), err)
		}
		got, err = model.CallsToRepeat(ctx, db, t0, cs[1].ID, 2)
		if err != nil || !slices.Equal(callIDs(got), []int64{cs[2].ID}) {
			t.Fatalf("second page %v, %v; the answered call must not be there", callIDs(got), err)
		}
		if got, _ := model.CallsToRepeat(ctx, db, t0.Add(-time.Second), 0, 10); len(got) != 0 {
			t.Fatalf("alerted after the cut: %v", callIDs(got))
		}
	})
	t.Run("one repeat per count", func(t *testing.T) {
		if n, err := model.CountCallAlert(ctx, db, cs[0].ID, 1, later); err != nil || n != 1 {
			t.Fatalf("first: %d, %v", n, err)
		}
		if n, _ := model.CountCallAlert(ctx, db, cs[0].ID, 1, later); n != 0 {
			t.Fatal("the same count repeated twice")
		}
		if n, _ := model.CountCallAlert(ctx, db, cs[3].ID, 1, later); n != 0 {
			t.Fatal("an answered call repeated")
		}
		cur, _ := model.ByID[model.EmergencyCall](ctx, db, cs[0].ID)
		if cur.AlertCount != 2 || !cur.LastAlertAt.Equal(later) {
			t.Fatalf("after the repeat %+v", cur)
		}
	})
	t.Run("to the street once", func(t *testing.T) {
		got, err := model.CallsToEscalate(ctx, db, t0, 0, 10)
		if err != nil || !slices.Equal(callIDs(got), callIDs(cs[:3])) {
			t.Fatalf("to escalate %v, %v", callIDs(got), err)
		}
		if n, err := model.EscalateCall(ctx, db, cs[0].ID, later); err != nil || n != 1 {
			t.Fatalf("escalate: %d, %v", n, err)
		}
		if n, _ := model.EscalateCall(ctx, db, cs[0].ID, later); n != 0 {
			t.Fatal("escalated twice")
		}
		if n, _ := model.EscalateCall(ctx, db, cs[3].ID, later); n != 0 {
			t.Fatal("an answered call escalated")
		}
		if got, _ := model.CallsToEscalate(ctx, db, t0, 0, 10); !slices.Equal(callIDs(got), callIDs(cs[1:3])) {
			t.Fatalf("after escalation %v", callIDs(got))
		}
	})
}

// Lists within tree scopes: a grid, a community, the platform; a scope
// outside the tree or none at all sees nothing.
func TestEmergencyListsInPlaces(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	one := int8(1)
	anc := func(grid int64) model.Ancestry { return model.Ancestry{CityID: 1, CommunityID: 4, GridID: grid} }
	var vs []model.Vulnerable
	for i, grid := range []int64{1, 1, 2} {
		v := model.Vulnerable{UserID: int64(i + 1), HouseholdID: int64(i + 1), Kind: model.VulnerableOther, Active: &one,
			RegisteredBy: 9, Ancestry: anc(grid)}
		if err := model.Create(ctx, db, &v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	again := model.Vulnerable{UserID: 1, HouseholdID: 1, Kind: model.VulnerableOther, Active: &one, RegisteredBy: 9}
	if err := model.Create(ctx, db, &again); !errors.Is(err, model.ErrDuplicate) {
		t.Fatalf("registered twice: %v", err)
	}
	calls := []model.EmergencyCall{newCall(t, db, 1, anc(1)), newCall(t, db, 3, anc(2))}
	vulnIDs := func(vs []model.Vulnerable) []int64 {
		ids := make([]int64, len(vs))
		for i, v := range vs {
			ids[i] = v.ID
		}
		return ids
	}
	for _, c := range []struct {
		name   string
		scopes []model.Place
		vulns  []int64
		calls  []int64
	}{
		{"grid", []model.Place{{Kind: model.ScopeGrid, ID: 1}}, []int64{vs[1].ID, vs[0].ID}, []int64{calls[0].ID}},
		{"two grids", []model.Place{{Kind: model.ScopeGrid, ID: 1}, {Kind: model.ScopeGrid, ID: 2}},
			[]int64{vs[2].ID, vs[1].ID, vs[0].ID}, []int64{calls[1].ID, calls[0].ID}},
		{"community", []model.Place{{Kind: model.ScopeCommunity, ID: 4}}, []int64{vs[2].ID, vs[1].ID, vs[0].ID},
			[]int64{calls[1].ID, calls[0].ID}},
		{"platform", []model.Place{{Kind: model.ScopePlatform}}, []int64{vs[2].ID, vs[1].ID, vs[0].ID},
			[]int64{calls[1].ID, calls[0].ID}},
		{"another community", []model.Place{{Kind: model.ScopeCommunity, ID: 5}}, nil, nil},
		{"a firm", []model.Place{{Kind: model.ScopeFirm, ID: 1}}, nil, nil},
		{"none", nil, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := model.LiveVulnerablesIn(ctx, db, c.scopes, 0, 0, 10)
			if err != nil || !slices.Equal(vulnIDs(got), c.vulns) {
				t.Errorf("registrations %v, %v; want %v", vulnIDs(got), err, c.vulns)
			}
			cs, err := model.OpenCallsIn(ctx, db, c.scopes, 0, 10)
			if err != nil || !slices.Equal(callIDs(cs), c.calls) {
				t.Errorf("calls %v, %v; want %v", callIDs(cs), err, c.calls)
			}
		})
	}
	community := []model.Place{{Kind: model.ScopeCommunity, ID: 4}}
	t.Run("one grid, page by page", func(t *testing.T) {
		got, _ := model.LiveVulnerablesIn(ctx, db, community, 1, 0, 1)
		if !slices.Equal(vulnIDs(got), []int64{vs[1].ID}) {
			t.Fatalf("first page %v", vulnIDs(got))
		}
		got, _ = model.LiveVulnerablesIn(ctx, db, community, 1, vs[1].ID, 1)
		if !slices.Equal(vulnIDs(got), []int64{vs[0].ID}) {
			t.Fatalf("second page %v", vulnIDs(got))
		}
	})
	t.Run("removed registrations leave the list", func(t *testing.T) {
		if n, err := model.RemoveVulnerable(ctx, db, vs[0].ID, 9, t0); err != nil || n != 1 {
			t.Fatalf("remove: %d, %v", n, err)
		}
		if n, _ := model.RemoveVulnerable(ctx, db, vs[0].ID, 9, t0); n != 0 {
			t.Fatal("removed twice")
		}
		if _, err := model.LiveVulnerable(ctx, db, vs[0].ID); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("removed registration: %v", err)
		}
		if got, _ := model.LiveVulnerablesIn(ctx, db, community, 1, 0, 10); !slices.Equal(vulnIDs(got), []int64{vs[1].ID}) {
			t.Fatalf("after removal %v", vulnIDs(got))
		}
		if got, _ := model.AllByID[model.Vulnerable](ctx, db, []int64{vs[0].ID}); len(got) != 1 {
			t.Fatal("the removed row is gone")
		}
	})
}

// A user may call for their own registration and for those of the
// households they live in.
func TestCallableVulnerables(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	one := int8(1)
	var vs []model.Vulnerable
	for _, v := range []model.Vulnerable{
		{UserID: 1, HouseholdID: 10}, // user 1's own, in a household they do not live in
		{UserID: 0, HouseholdID: 20}, // a child of household 20, where user 1 lives
		{UserID: 2, HouseholdID: 30}, // somebody else's
	} {
		v.Kind, v.Active, v.RegisteredBy = model.VulnerableOther, &one, 9
		if err := model.Create(ctx, db, &v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	if err := db.Create(&model.Residency{UserID: 1, HouseholdID: 20, Relation: model.RelationFamily}).Error; err != nil {
		t.Fatal(err)
	}
	ids := func(vs []model.Vulnerable) (out []int64) {
		for _, v := range vs {
			out = append(out, v.ID)
		}
		return out
	}
	got, err := model.CallableVulnerables(ctx, db, 1, 0)
	if err != nil || !slices.Equal(ids(got), []int64{vs[0].ID, vs[1].ID}) {
		t.Fatalf("user 1 may call for %v (%v)", ids(got), err)
	}
	if got, _ := model.CallableVulnerables(ctx, db, 1, 20); !slices.Equal(ids(got), []int64{vs[1].ID}) {
		t.Fatalf("for household 20: %v", ids(got))
	}
	if ok, err := model.IsVulnerableUser(ctx, db, vs[0].ID, 1); err != nil || !ok {
		t.Fatalf("registration of user 1: %v %v", ok, err)
	}
	if ok, _ := model.IsVulnerableUser(ctx, db, vs[1].ID, 1); ok {
		t.Fatal("the child's registration is not user 1's")
	}
	if _, err := model.RemoveVulnerable(ctx, db, vs[1].ID, 9, t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := model.CallableVulnerables(ctx, db, 1, 20); len(got) != 0 {
		t.Fatalf("a removed registration is callable: %v", ids(got))
	}
}
