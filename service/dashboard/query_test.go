package dashboard_test

import (
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/dashboard"
	"redprop/service/servicetest"
)

// sumOf adds up the brute-force rows of one scope over days [from, to].
func sumOf(rows map[model.RollupKey]model.Counts, kind string, id int64, from, to int) model.Counts {
	var c model.Counts
	for k, r := range rows {
		if k.ScopeKind == kind && k.ScopeID == id && k.Day >= from && k.Day <= to {
			c.Add(&r)
		}
	}
	return c
}

func TestDashboardFigures(t *testing.T) {
	e := newEnv(t)
	e.walk(3, 400, true)
	e.Clock.Advance(2 * testLag)
	e.refresh()
	want := bruteForce(t, e)
	now := e.Clock.Now().In(calendar.Beijing)
	start := servicetest.Start.In(calendar.Beijing)
	q := dashboard.Query{ScopeKind: model.ScopeStreet, ScopeID: e.StreetID, From: start.Format(time.DateOnly), To: now.Format(time.DateOnly)}
	from, to := dashboard.Day(start), dashboard.Day(now)
	street := e.Actor("street")

	t.Run("a street's figures are the sum of its rows", func(t *testing.T) {
		d, err := e.dash.Get(e.Ctx, street, q)
		servicetest.Must(t, err)
		c := sumOf(want, model.ScopeStreet, e.StreetID, from, to)
		f := d.Figures
		if f.Received != c[model.RReceived] || f.Completed != c[model.RCompleted] || f.Confirmed != c[model.RConfirmed] ||
			f.Closure != (dashboard.Rate{Numerator: c[model.RSettled], Denominator: c[model.RReceived]}) ||
			f.Satisfaction != (dashboard.Rate{Numerator: c[model.RSatisfied], Denominator: c[model.RRated]}) ||
			f.Calls != c[model.RCalls] || f.Escalations[model.OrderLevelStreet] != c[model.REscStreet] {
			t.Fatalf("figures %+v, want counters %v", f, c)
		}
		// Orders by state are where they stand now, from the orders table.
		var orders []model.Order
		servicetest.Must(t, e.DB.Where("street_id = ?", e.StreetID).Find(&orders).Error)
		byState := map[string]int64{}
		for _, o := range orders {
			byState[o.State]++
		}
		for st, n := range f.ByState {
			if byState[st] != n {
				t.Errorf("state %s: %d, orders table has %d", st, n, byState[st])
			}
		}
		if f.Received != int64(len(orders)) || f.Received == 0 {
			t.Errorf("received %d, orders %d", f.Received, len(orders))
		}
		if f.TimeToAccept.Samples > 0 && (f.TimeToAccept.Median == nil || f.TimeToAccept.P90.Estimate < f.TimeToAccept.Median.Estimate) {
			t.Errorf("time to accept %+v", f.TimeToAccept)
		}
		var overdue int64
		servicetest.Must(t, e.DB.Model(&model.Order{}).Where("street_id = ? AND overdue = ? AND state IN ?", e.StreetID, true,
			[]string{"submitted", "verified", "dispatched", "accepted", "in_progress", "completed"}).Count(&overdue).Error)
		if d.OverdueNow != overdue {
			t.Errorf("overdue now %d, want %d", d.OverdueNow, overdue)
		}
		if len(d.ByCategory) < 2 {
			t.Errorf("by category: %+v", d.ByCategory)
		}
	})

	t.Run("drill-down lists both communities, ranked, summing to the street", func(t *testing.T) {
		dr, err := e.dash.Children(e.Ctx, street, q, "received")
		servicetest.Must(t, err)
		if len(dr.Children) != 2 {
			t.Fatalf("children %+v", dr.Children)
		}
		var sum int64
		for i, c := range dr.Children {
			sum += c.Figures.Received
			if c.Scope.Kind != model.ScopeCommunity || c.Rank != i+1 {
				t.Errorf("child %d: %+v", i, c.Scope)
			}
			if n := sumOf(want, model.ScopeCommunity, c.Scope.ID, from, to)[model.RReceived]; n != c.Figures.Received {
				t.Errorf("community %d received %d, want %d", c.Scope.ID, c.Figures.Received, n)
			}
		}
		if dr.Children[0].Figures.Received < dr.Children[1].Figures.Received {
			t.Error("not ranked by received")
		}
		if sum != sumOf(want, model.ScopeStreet, e.StreetID, from, to)[model.RReceived] {
			t.Errorf("children received %d", sum)
		}
		_, err = e.dash.Children(e.Ctx, street, q, "bogus")
		servicetest.WantErr(t, err, service.KindInvalid, "bad_rank")
	})

	t.Run("trend per day and per week add up to the period", func(t *testing.T) {
		for _, iv := range []string{"day", "week"} {
			tr, err := e.dash.Trend(e.Ctx, street, q, iv)
			servicetest.Must(t, err)
			var sum int64
			for i, p := range tr.Points {
				sum += p.Figures.Received
				if i > 0 && !p.From.Equal(tr.Points[i-1].To.AddDate(0, 0, 1)) {
					t.Errorf("%s: point %d starts %v after %v", iv, i, p.From, tr.Points[i-1].To)
				}
				if iv == "week" && i > 0 && p.From.Weekday() != time.Monday {
					t.Errorf("week %d starts on %v", i, p.From.Weekday())
				}
			}
			if sum != sumOf(want, model.ScopeStreet, e.StreetID, from, to)[model.RReceived] {
				t.Errorf("%s: trend received %d", iv, sum)
			}
			if iv == "day" && len(tr.Points) != int(tr.Period.To.Sub(tr.Period.From).Hours()/24)+1 {
				t.Errorf("days %d", len(tr.Points))
			}
		}
		_, err := e.dash.Trend(e.Ctx, street, q, "month")
		servicetest.WantErr(t, err, service.KindInvalid, "bad_interval")
	})

	t.Run("a firm's managers see its figures", func(t *testing.T) {
		fq := q
		fq.ScopeKind, fq.ScopeID = model.ScopeFirm, e.Firm.ID
		d, err := e.dash.Get(e.Ctx, e.Actor("manager"), fq)
		servicetest.Must(t, err)
		c := sumOf(want, model.ScopeFirm, e.Firm.ID, from, to)
		if d.Figures.Accepted != c[model.RAccepted] || d.Figures.ByState != nil {
			t.Errorf("firm figures %+v", d.Figures)
		}
	})

	t.Run("scopes are checked", func(t *testing.T) {
		comm0 := dashboard.Query{ScopeKind: model.ScopeCommunity, ScopeID: e.Communities[0].ID}
		_, err := e.dash.Get(e.Ctx, e.Actor("community2"), comm0)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.dash.Get(e.Ctx, e.Actor("grid"), comm0)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.dash.Get(e.Ctx, e.Actor("manager"), comm0)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.dash.Get(e.Ctx, e.Actor("community"), dashboard.Query{ScopeKind: model.ScopeFirm, ScopeID: e.Firm.ID})
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.dash.Get(e.Ctx, street, dashboard.Query{ScopeKind: model.ScopeCommunity, ScopeID: 999999})
		servicetest.WantErr(t, err, service.KindNotFound, "scope_not_found")
		_, err = e.dash.Get(e.Ctx, street, dashboard.Query{ScopeKind: "compound", ScopeID: 1})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_scope")
		_, err = e.dash.Get(e.Ctx, street, dashboard.Query{ScopeKind: model.ScopeStreet, ScopeID: e.StreetID, From: "2026-13-01"})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_date")
		_, err = e.dash.Get(e.Ctx, street, dashboard.Query{ScopeKind: model.ScopeStreet, ScopeID: e.StreetID, From: "2026-12-01", To: "2026-11-01"})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_period")
		_, err = e.dash.Get(e.Ctx, street, dashboard.Query{ScopeKind: model.ScopeStreet, ScopeID: e.StreetID, Category: "nope"})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_category")
		// The grid worker sees their own grid; the community its grids.
		_, err = e.dash.Get(e.Ctx, e.Actor("grid"), dashboard.Query{ScopeKind: model.ScopeGrid, ScopeID: e.Grids[0].ID})
		servicetest.Must(t, err)
		_, err = e.dash.Children(e.Ctx, e.Actor("community"), comm0, "")
		servicetest.Must(t, err)
		_, err = e.dash.Children(e.Ctx, e.Actor("grid"), dashboard.Query{ScopeKind: model.ScopeGrid, ScopeID: e.Grids[0].ID}, "")
		servicetest.WantErr(t, err, service.KindUnprocessable, "no_children")
	})

	t.Run("a category narrows every figure", func(t *testing.T) {
		cq := q
		cq.Category = "repair"
		d, err := e.dash.Get(e.Ctx, street, cq)
		servicetest.Must(t, err)
		var n int64
		servicetest.Must(t, e.DB.Model(&model.Order{}).Where("street_id = ? AND category_code LIKE ?", e.StreetID, "repair%").Count(&n).Error)
		if d.Figures.Received != n {
			t.Errorf("repair received %d, orders %d", d.Figures.Received, n)
		}
	})
}

func TestQuantile(t *testing.T) {
	var c model.Counts
	// 10 acceptances: 5 within 30 s–1 min, 4 within 1–2 h, 1 after 14 days.
	c[model.RAccHist+1] = 5
	c[model.RAccHist+6] = 4
	c[model.RAccHist+15] = 1
	d := dashboard.FiguresOf(&c).TimeToAccept
	if d.Samples != 10 || d.Median.Lower != 30*time.Second || d.Median.Upper != time.Minute {
		t.Fatalf("median %+v", d.Median)
	}
	if d.P90.Lower != time.Hour || d.P90.Upper != 2*time.Hour || d.P90.Estimate <= time.Hour {
		t.Fatalf("p90 %+v", d.P90)
	}
	if d.Median.Estimate < 30*time.Second || d.Median.Estimate >= time.Minute {
		t.Fatalf("median estimate %v", d.Median.Estimate)
	}
	if got := dashboard.FiguresOf(&model.Counts{}).TimeToAccept; got.Median != nil || got.Samples != 0 {
		t.Fatalf("empty %+v", got)
	}
}
