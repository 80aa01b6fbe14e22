package score_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"redprop/model"
	"redprop/service"
	"redprop/service/score"
	"redprop/service/servicetest"
)

// month10 writes the hand-computed October of the grid worker "grid"
// (grid 0): three first acts on submitted orders (30, 60 and 120
// minutes), two patrol reports, two confirmations (one after an overdue
// mark) whose orders are rated 5 and 3, two emergency calls of the grid
// (one acknowledged by the worker in 2 minutes, one by the steward), and
// two rectifications of the grid reported (one revisited by the worker).
func (f *fixture) month10() {
	c := f.c
	g, steward := c.UserID("grid"), c.UserID("steward")
	r := f.repair
	// The demo's people were granted their seats long before October.
	servicetest.Must(c.T, c.DB.Model(&model.Grant{}).Where("1 = 1").Update("created_at", bj(1, 1, 9, 0)).Error)
	add := func(o int64, rows ...model.OrderEvent) {
		for i := range rows {
			rows[i].OrderID = o
		}
		servicetest.Must(c.T, c.DB.Create(&rows).Error)
	}
	act := func(action, from, role string, by int64, at time.Time) model.OrderEvent {
		return model.OrderEvent{Action: action, FromState: from, Role: role, ActorID: by, CreatedAt: at}
	}
	for i, mins := range []int{30, 60, 120} {
		created := bj(10, 5+i, 10, 0)
		o := f.order("v"+string(rune('1'+i)), 0, r, created, 0, time.Time{})
		action := "verify"
		if i == 2 {
			action = "reject"
		}
		add(o, act(action, model.StateSubmitted, model.RoleGridWorker, g, created.Add(time.Duration(mins)*time.Minute)))
	}
	for _, name := range []string{"p1", "p2"} {
		o := model.Order{Number: "GDP" + name, CategoryID: r.ID, CategoryCode: r.Code, State: model.StateVerified,
			Level: model.OrderLevelCommunity, Channel: model.ChannelPatrol, AuthorID: g, Description: name,
			Ancestry: c.Buildings[0].Ancestry}
		o.CreatedAt = bj(10, 8, 9, 0)
		servicetest.Must(c.T, c.DB.Create(&o).Error)
		f.ids[name] = o.ID
	}
	c1 := f.order("c1", 0, r, bj(10, 9, 9, 0), 5, bj(10, 11, 9, 0))
	add(c1, act("complete", "in_progress", "firm_worker", 0, bj(10, 9, 12, 0)),
		act("confirm", model.StateCompleted, model.RoleGridWorker, g, bj(10, 10, 9, 0)))
	c2 := f.order("c2", 0, r, bj(10, 9, 9, 0), 3, bj(10, 13, 9, 0))
	add(c2, act("complete", "in_progress", "firm_worker", 0, bj(10, 9, 12, 0)),
		act("overdue", model.StateCompleted, "", 0, bj(10, 11, 12, 0)),
		act("confirm", model.StateCompleted, model.RoleGridWorker, g, bj(10, 12, 9, 0)))
	call := func(name string, raised time.Time, by int64, after time.Duration) {
		o := f.order(name+"-order", 0, r, raised, 0, time.Time{})
		acked := raised.Add(after)
		ec := model.EmergencyCall{OrderID: o, CallerID: c.UserID("resident"), HouseholdID: c.Households[0].ID,
			LastAlertAt: raised, AcknowledgedAt: &acked, AcknowledgedBy: by, Ancestry: c.Buildings[0].Ancestry}
		ec.CreatedAt = raised
		servicetest.Must(c.T, c.DB.Create(&ec).Error)
		f.ids[name] = ec.ID
	}
	call("e1", bj(10, 15, 20, 0), g, 2*time.Minute)
	call("e2", bj(10, 16, 20, 0), steward, 5*time.Minute)
	for i, o := range []int64{c1, c2} {
		rep := bj(10, 18, 10, 0)
		rc := model.Rectification{OrderID: o, Round: 1, OrderNumber: "x", Rating: 2, OwnerKind: model.OwnerFirm,
			OwnerID: c.Firm.ID, FirmID: c.Firm.ID, Ancestry: c.Buildings[0].Ancestry, State: model.RectReported,
			OpenedAt: bj(10, 14, 10, 0), DueAt: bj(10, 21, 23, 59), ReportedAt: &rep}
		if i == 0 {
			rev := bj(10, 20, 10, 0)
			rc.State, rc.RevisitedAt, rc.RevisitedBy = model.RectRevisited, &rev, g
		}
		servicetest.Must(c.T, c.DB.Create(&rc).Error)
		f.ids[[]string{"rc1", "rc2"}[i]] = rc.ID
	}
}

func TestGridWorkerMonth(t *testing.T) {
	f := newFixture(t)
	c := f.c
	f.month10()
	svc := score.New(c.DB, c.Clock, score.Options{})
	res, err := svc.RunPeriod(c.Ctx, c.Actor("street"), model.ScoreKindGridWorker, "2026-10", 0)
	servicetest.Must(t, err)
	if res.Run.Rows != 2 {
		t.Fatalf("%d rows, want the two grid workers of the demo", res.Run.Rows)
	}
	var v score.View
	c.Step(t, "each component's numerator and denominator", func(t *testing.T) {
		page, _, err := svc.List(c.Ctx, c.Actor("community"), score.Query{Kind: model.ScoreKindGridWorker, Period: "2026-10"},
			service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) != 1 || page.Items[0].UserID != c.UserID("grid") {
			t.Fatalf("community staff see %+v, want the one grid worker of their community", page.Items)
		}
		v = page.Items[0]
		got := componentsByName(v.Components)
		for name, w := range map[string]want{
			model.CompVerifyTime:   {3600, 3}, // median of 1800, 3600, 7200 s over 3 acts
			model.CompPatrol:       {2, 0},
			model.CompConfirmTime:  {1, 2},
			model.CompCallAck:      {1, 2},
			model.CompCallAckTime:  {120, 1},
			model.CompRatings:      {1, 2},
			model.CompRectFollowed: {1, 2},
		} {
			if g := got[name]; g.Numerator != w.num || g.Denominator != w.den {
				t.Errorf("%s: %d/%d, want %d/%d", name, g.Numerator, g.Denominator, w.num, w.den)
			}
		}
		if g := got[model.CompRatings]; g.Extra != 8 {
			t.Errorf("ratings sum %d, want 8", g.Extra)
		}
		if v.Samples != 5 || !v.RankEligible {
			t.Errorf("samples %d eligible %v (%s), want 5 and ranked", v.Samples, v.RankEligible, v.Ineligible)
		}
		ev, err := svc.Explain(c.Ctx, c.Actor("community"), v.ID, model.CompConfirmTime, "", service.Page{})
		servicetest.Must(t, err)
		wantIDs(t, "confirmations", evidenceIDs(ev), f.ids["c2"], f.ids["c1"])
		if ev.Page.Items[0].Counted || !ev.Page.Items[1].Counted {
			t.Errorf("c2 was late, c1 in time: %+v", ev.Page.Items)
		}
		ev, err = svc.Explain(c.Ctx, c.Actor("community"), v.ID, model.CompCallAck, "", service.Page{})
		servicetest.Must(t, err)
		wantIDs(t, "calls", evidenceIDs(ev), f.ids["e2"], f.ids["e1"])
	})
	c.Step(t, "a grid worker sees their own score only", func(t *testing.T) {
		page, _, err := svc.List(c.Ctx, c.Actor("grid3"), score.Query{Kind: model.ScoreKindGridWorker, Period: "2026-10"},
			service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) != 1 || page.Items[0].UserID != c.UserID("grid3") || page.Items[0].RankEligible {
			t.Fatalf("grid3 sees %+v, want only their own unranked row", page.Items)
		}
		_, err = svc.Get(c.Ctx, c.Actor("grid3"), v.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "score_forbidden")
	})
	c.Step(t, "the month exported for pay", func(t *testing.T) {
		_, err := svc.ExportGrid(c.Ctx, c.Actor("community2"), "2026-10", c.Communities[0].ID)
		servicetest.WantErr(t, err, service.KindForbidden, "score_export_forbidden")
		wb, err := svc.ExportGrid(c.Ctx, c.Actor("community"), "2026-10", c.Communities[0].ID)
		servicetest.Must(t, err)
		defer wb.Close()
		var buf bytes.Buffer
		_, err = wb.WriteTo(&buf)
		servicetest.Must(t, err)
		x, err := excelize.OpenReader(&buf)
		servicetest.Must(t, err)
		rows, err := x.GetRows(score.GridSheet)
		servicetest.Must(t, err)
		if len(rows) != 4 || rows[1][0] != "计分公式版本" || rows[1][1] != "1" {
			t.Fatalf("sheet rows %q, want title, formula version 1, header, one grid worker", rows)
		}
		if rows[2][4] != "核实用时中位数（权重20）" || rows[3][0] != "网格员刘姐" || rows[3][2] != score.Hundredths(v.Points) {
			t.Errorf("header %q, row %q", rows[2], rows[3])
		}
		if len(rows[3]) != 4+7 {
			t.Errorf("row has %d columns, want 4 and one per component", len(rows[3]))
		}
		detail, err := x.GetRows(score.DetailSheet)
		servicetest.Must(t, err)
		if len(detail) != 1+7 || detail[1][3] != "3600" || detail[1][4] != "3" {
			t.Errorf("detail %q", detail)
		}
	})
}
