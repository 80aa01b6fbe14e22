package dashboard_test

import (
	"errors"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/dashboard"
	"redprop/service/order"
	"redprop/service/servicetest"
)

// TestCachedAnswersFollowTheRollups reads the same dashboards again and
// again from two instances while orders move on: every answer read after
// a refresh counts what it rolled up — on the refreshing instance at
// once, on the other once its reading of the watermark is Options.Fresh
// old — and the scope check still refuses whoever may not see the scope.
func TestCachedAnswersFollowTheRollups(t *testing.T) {
	e := newEnv(t)
	e.walk(11, 150, true)
	e.Clock.Advance(2 * testLag)
	e.refresh()
	other := dashboard.New(e.DB, e.Clock, dashboard.Options{Lag: testLag, Batch: 7, Fresh: fresh})
	start := servicetest.Start.In(calendar.Beijing).Format(time.DateOnly)
	// A period ending well after the clock: every order of the test falls in it.
	end := e.Clock.Now().In(calendar.Beijing).AddDate(0, 0, 30).Format(time.DateOnly)
	q := dashboard.Query{ScopeKind: model.ScopeStreet, ScopeID: e.StreetID, From: start, To: end}
	street := e.Actor("street")

	type reading struct {
		received, submitted, verified, children, trend int64
	}
	read := func(d *dashboard.Service) reading {
		t.Helper()
		g, err := d.Get(e.Ctx, street, q)
		servicetest.Must(t, err)
		dr, err := d.Children(e.Ctx, street, q, "")
		servicetest.Must(t, err)
		tr, err := d.Trend(e.Ctx, street, q, "week")
		servicetest.Must(t, err)
		r := reading{received: g.Figures.Received, submitted: g.Figures.ByState[model.StateSubmitted],
			verified: g.Figures.ByState[model.StateVerified]}
		for _, c := range dr.Children {
			r.children += c.Figures.Received
		}
		for _, p := range tr.Points {
			r.trend += p.Figures.Received
		}
		return r
	}
	// Read twice on each instance: the second answer comes from the cache.
	before := read(e.dash)
	if again := read(e.dash); again != before {
		t.Fatalf("the same instance answered %+v, then %+v", before, again)
	}
	if r := read(other); r != before {
		t.Fatalf("the other instance answered %+v, the first %+v", r, before)
	}
	read(other)
	if before.received == 0 || before.children != before.received || before.trend != before.received {
		t.Fatalf("figures before: %+v", before)
	}

	// A new order, rolled up by the first instance: both answer it.
	v, _, err := e.orders.Submit(e.Ctx, e.Actor("resident"), order.SubmitInput{CategoryID: e.cats["environment"].ID,
		Description: "楼道里堆满杂物，请处理", HouseholdID: e.Households[0].ID})
	servicetest.Must(t, err)
	if r := read(other); r != before {
		t.Fatalf("before the refresh the answer moved: %+v, was %+v", r, before)
	}
	e.refresh()
	submitted := reading{received: before.received + 1, submitted: before.submitted + 1, verified: before.verified,
		children: before.children + 1, trend: before.trend + 1}
	if r := read(e.dash); r != submitted {
		t.Errorf("the refreshing instance after a submission: %+v, want %+v", r, submitted)
	}
	if r := read(other); r != before {
		t.Errorf("the other instance within Fresh of its reading: %+v, want %+v", r, before)
	}
	e.Clock.Advance(fresh)
	if r := read(other); r != submitted {
		t.Errorf("the other instance after a submission: %+v, want %+v", r, submitted)
	}

	// A transition, rolled up by the second instance: both answer it.
	_, err = e.orders.Act(e.Ctx, e.Actor("grid"), v.Order.ID, order.ActVerify, order.Input{})
	servicetest.Must(t, err)
	if _, err := other.Refresh(e.Ctx); err != nil {
		t.Fatal(err)
	}
	verified := submitted
	verified.submitted, verified.verified = submitted.submitted-1, submitted.verified+1
	if r := read(other); r != verified {
		t.Errorf("the refreshing instance after a verification: %+v, want %+v", r, verified)
	}
	e.Clock.Advance(fresh)
	if r := read(e.dash); r != verified {
		t.Errorf("the first instance after a verification: %+v, want %+v", r, verified)
	}

	// A cached answer is still refused to someone whose grants do not
	// cover the scope.
	for _, who := range []string{"resident", "manager"} {
		_, err := e.dash.Get(e.Ctx, e.Actor(who), q)
		var se *service.Error
		if !errors.As(err, &se) || se.Code != "out_of_scope" {
			t.Errorf("%s read the street's cached dashboard: %v", who, err)
		}
	}
}

// fresh is the tests' Options.Fresh.
const fresh = 2 * time.Second

// TestRepeatedDashboardCostsNoStatement: a dashboard, a drill-down and a
// trend asked again within Options.Fresh are answered without a
// statement; past it the watermark, the scope, its children and the
// overdue counts are read again (and a newly overdue order is counted), the sums only if
// the watermark moved.
func TestRepeatedDashboardCostsNoStatement(t *testing.T) {
	e := newEnv(t)
	e.walk(5, 60, true)
	e.Clock.Advance(2 * testLag)
	e.refresh()
	q := dashboard.Query{ScopeKind: model.ScopeStreet, ScopeID: e.StreetID}
	street := e.Actor("street")
	ask := func() (over int64) {
		t.Helper()
		g, err := e.dash.Get(e.Ctx, street, q)
		servicetest.Must(t, err)
		_, err = e.dash.Children(e.Ctx, street, q, "")
		servicetest.Must(t, err)
		_, err = e.dash.Trend(e.Ctx, street, q, "day")
		servicetest.Must(t, err)
		return g.OverdueNow
	}
	over := ask()
	st := dbtest.CountStatements(t, e.DB)
	st.On.Store(true)
	ask()
	if n, sql := st.Take(); n != 0 {
		t.Fatalf("asked again at once: %d statements, want 0: %v", n, sql)
	}
	// An open order overdue meanwhile, counted once the readings age.
	var o model.Order
	servicetest.Must(t, e.DB.Where("state IN ? AND overdue = ?", []string{model.StateSubmitted, model.StateVerified,
		model.StateDispatched, model.StateAccepted, model.StateInProgress}, false).Order("id").First(&o).Error)
	servicetest.Must(t, e.DB.Model(&model.Order{}).Where("id = ?", o.ID).Update("overdue", true).Error)
	if got := ask(); got != over {
		t.Fatalf("overdue within Fresh: %d, want the reading %d", got, over)
	}
	e.Clock.Advance(fresh)
	st.Take()
	if got := ask(); got != over+1 {
		t.Fatalf("overdue after Fresh: %d, want %d", got, over+1)
	}
	// The scope, the watermark, the child scopes, and one overdue count
	// each for the dashboard and the drill-down; no sums (the watermark
	// did not move).
	if n, sql := st.Take(); n != 5 {
		t.Fatalf("after Fresh: %d statements, want 5: %v", n, sql)
	}
}
