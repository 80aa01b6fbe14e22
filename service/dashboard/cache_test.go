package dashboard_test

import (
	"errors"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/dashboard"
	"redprop/service/order"
	"redprop/service/servicetest"
)

// TestCachedAnswersFollowTheRollups reads the same dashboards again and
// again from two instances while orders move on: every answer read after
// a refresh — by either instance — counts what it rolled up, and the
// scope check still refuses whoever may not see the scope.
func TestCachedAnswersFollowTheRollups(t *testing.T) {
	e := newEnv(t)
	e.walk(11, 150, true)
	e.Clock.Advance(2 * testLag)
	e.refresh()
	other := dashboard.New(e.DB, e.Clock, dashboard.Options{Lag: testLag, Batch: 7})
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
