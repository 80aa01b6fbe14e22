package order

import (
	"slices"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
)

// lastRect is the newest rectification of an order.
func (e *loopEnv) lastRect(orderID int64) model.Rectification {
	e.t.Helper()
	r, found, err := model.LastRectification(e.ctx, e.db, orderID)
	if err != nil || !found {
		e.t.Fatalf("rectification of order %d: found %v, %v", orderID, found, err)
	}
	return r
}

func (e *loopEnv) rated(overall int) (int64, model.Rectification) {
	e.t.Helper()
	id := e.drive(model.StateConfirmed, 0)
	e.act("resident", id, ActRate, Input{Overall: overall, Comment: "还是漏水"})
	return id, e.lastRect(id)
}

func TestRectificationDeadlineCountsWorkingDays(t *testing.T) {
	e := newLoopEnv(t)
	e.seedCalendar()
	t.Run("a rating of 3 or more opens none", func(t *testing.T) {
		id := e.drive(model.StateConfirmed, 0)
		e.act("resident", id, ActRate, Input{Overall: 3})
		if _, found, err := model.LastRectification(e.ctx, e.db, id); err != nil || found {
			t.Fatalf("rectification for a rating of 3: %v %v", found, err)
		}
	})
	t.Run("across 国庆 and its 调休 Saturday", func(t *testing.T) {
		// Wednesday 2026-09-30 10:00 in Beijing. Five working days of 24
		// hours: the rest of Wednesday, Thursday 8 and Friday 9 October
		// (1–7 are off), Saturday 10 (a 调休 working day), Monday 12, and
		// Tuesday 13 until 10:00. A plain week would end on 7 October.
		e.clock.Set(time.Date(2026, 9, 30, 2, 0, 0, 0, time.UTC))
		id, r := e.rated(1)
		if want := time.Date(2026, 10, 13, 2, 0, 0, 0, time.UTC); !r.DueAt.Equal(want) {
			t.Fatalf("due %v, want %v", r.DueAt, want)
		}
		if r.State != model.RectOpen || r.Round != 1 || r.Rating != 1 || r.OwnerKind != model.HandlerFirm ||
			r.FirmID != e.city.Firm.ID || r.CompoundID != e.city.Compounds[0].ID || r.ResidentID != e.UserID("resident") {
			t.Fatalf("rectification %+v", r)
		}
		if ms := e.messages("manager", id); ms[len(ms)-1].Event != "order.rectify_open" {
			t.Fatalf("manager not told: %+v", ms)
		}
	})
	t.Run("the configured number of days", func(t *testing.T) {
		svc := New(e.db, e.clock, e.svc.cal, e.photos, e.svc.msgs, Options{RectifyDays: 1})
		e.clock.Set(time.Date(2026, 9, 30, 2, 0, 0, 0, time.UTC))
		id := e.drive(model.StateConfirmed, 0)
		if _, err := svc.Act(e.ctx, e.actor("resident"), id, ActRate, Input{Overall: 2}); err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2026, 10, 8, 2, 0, 0, 0, time.UTC); !e.lastRect(id).DueAt.Equal(want) {
			t.Fatalf("due %v, want %v", e.lastRect(id).DueAt, want)
		}
	})
}

func TestRectificationFlow(t *testing.T) {
	e := newLoopEnv(t)
	e.seedCalendar()
	id, r := e.rated(2)
	t.Run("only the handler reports, with a real text", func(t *testing.T) {
		_, err := e.svc.ReportRectification(e.ctx, e.actor("community"), r.ID, "已处理", nil)
		wantKind(t, err, service.KindForbidden, "rectify_forbidden")
		_, err = e.svc.ReportRectification(e.ctx, e.actor("resident2"), r.ID, "已处理", nil)
		wantKind(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.svc.ReportRectification(e.ctx, e.actor("manager"), r.ID, "  ", nil)
		wantKind(t, err, service.KindInvalid, "bad_report")
		_, err = e.svc.ReportRectification(e.ctx, e.actor("manager"), r.ID, "已更换阀门", []int64{e.photo("worker")})
		wantKind(t, err, service.KindUnprocessable, "photo_unavailable")
		v, err := e.svc.ReportRectification(e.ctx, e.actor("manager"), r.ID, "已更换阀门并试水", []int64{e.photo("manager")})
		if err != nil || v.State != model.RectReported || v.ReportedAt == nil || v.Late || len(v.PhotoIDs) != 1 {
			t.Fatalf("report: %+v %v", v, err)
		}
		// A retry of the same report is answered as it is; another text is 409.
		if again, err := e.svc.ReportRectification(e.ctx, e.actor("manager"), r.ID, "已更换阀门并试水", nil); err != nil || again.Version != v.Version {
			t.Fatalf("retry: %+v %v", again, err)
		}
		_, err = e.svc.ReportRectification(e.ctx, e.actor("manager"), r.ID, "另一种说法", nil)
		wantKind(t, err, service.KindConflict, "rectification_state")
		if ms := e.messages("community", id); ms[len(ms)-1].Event != "order.rectify_reported" {
			t.Fatalf("community not asked to revisit: %+v", ms)
		}
	})
	t.Run("the resident cannot answer before the revisit", func(t *testing.T) {
		_, err := e.svc.AnswerRectification(e.ctx, e.actor("resident"), r.ID, true, "")
		wantKind(t, err, service.KindConflict, "rectification_state")
	})
	t.Run("the community's revisit is the order's own 回访 and needs a real note", func(t *testing.T) {
		_, err := e.svc.Act(e.ctx, e.actor("manager"), id, ActRevisit, Input{Note: "已回访居民，确认修好"})
		wantKind(t, err, service.KindForbidden, "action_forbidden")
		_, err = e.svc.Act(e.ctx, e.actor("community"), id, ActRevisit, Input{Note: "好"})
		wantKind(t, err, service.KindInvalid, "note_required")
		v := e.act("community", id, ActRevisit, Input{Note: "电话回访杨阿姨，阀门已换"})
		if v.State != model.StateClosed {
			t.Fatalf("a revisit without reopen keeps the order closed: %s", v.State)
		}
		got := e.lastRect(id)
		if got.State != model.RectRevisited || got.RevisitedBy != e.UserID("community") || got.RevisitNote != "电话回访杨阿姨，阀门已换" {
			t.Fatalf("revisit: %+v", got)
		}
		if ms := e.messages("resident", id); ms[len(ms)-1].Event != "order.rectify_revisited" {
			t.Fatalf("resident not told: %+v", ms)
		}
	})
	t.Run("the resident confirms; nobody else may", func(t *testing.T) {
		_, err := e.svc.AnswerRectification(e.ctx, e.actor("community"), r.ID, true, "")
		wantKind(t, err, service.KindForbidden, "rectify_forbidden")
		v, err := e.svc.AnswerRectification(e.ctx, e.actor("resident"), r.ID, true, "修好了，谢谢")
		if err != nil || v.State != model.RectConfirmed || v.ClosedAt == nil {
			t.Fatalf("confirm: %+v %v", v, err)
		}
		if again, err := e.svc.AnswerRectification(e.ctx, e.actor("resident"), r.ID, true, ""); err != nil || again.State != model.RectConfirmed {
			t.Fatalf("a retried confirm: %+v %v", again, err)
		}
		_, err = e.svc.AnswerRectification(e.ctx, e.actor("resident"), r.ID, false, "又漏了")
		wantKind(t, err, service.KindConflict, "rectification_state")
		if o := e.load(id); o.State != model.StateClosed {
			t.Fatalf("order after confirm: %s", o.State)
		}
		evs := e.events(id)
		if last := evs[len(evs)-1]; last.Action != ActRectifyConfirm || last.ActorID != e.UserID("resident") {
			t.Fatalf("timeline %+v", last)
		}
	})
}

func TestRectificationNotFixedReopensAsRework(t *testing.T) {
	e := newLoopEnv(t)
	e.seedCalendar()
	id, r := e.rated(1)
	// The community may revisit before the firm reports: the firm is late all the same.
	e.act("community", id, ActRevisit, Input{Note: "上门回访，仍在渗水"})
	t.Run("not fixed needs a reason", func(t *testing.T) {
		_, err := e.svc.AnswerRectification(e.ctx, e.actor("resident"), r.ID, false, " ")
		wantKind(t, err, service.KindInvalid, "note_required")
	})
	t.Run("the order goes back to the firm as rework", func(t *testing.T) {
		v, err := e.svc.AnswerRectification(e.ctx, e.actor("resident"), r.ID, false, "墙角还在渗水")
		if err != nil || v.State != model.RectReopened {
			t.Fatalf("not fixed: %+v %v", v, err)
		}
		o := e.load(id)
		if o.State != model.StateInProgress || o.HandlerKind != model.HandlerFirm || o.HandlerID != e.city.Firm.ID ||
			o.AssigneeID != e.UserID("worker") || o.RatingOverall != 0 || o.ClosedAt != nil || o.StepDeadline == nil {
			t.Fatalf("reopened order %+v", o)
		}
		evs := e.events(id)
		last := evs[len(evs)-1]
		if last.Action != ActRectifyReopen || last.FromState != model.StateClosed || last.ToState != model.StateInProgress {
			t.Fatalf("timeline %+v", last)
		}
		if ms := e.messages("manager", id); ms[len(ms)-1].Event != "order.rectify_rework" {
			t.Fatalf("firm not told: %+v", ms)
		}
	})
	t.Run("a new low rating opens the next round", func(t *testing.T) {
		e.act("worker", id, ActComplete, Input{PhotoIDs: []int64{e.photo("worker")}})
		e.act("grid", id, ActConfirm, Input{})
		e.act("resident", id, ActRate, Input{Overall: 2})
		if next := e.lastRect(id); next.Round != 2 || next.State != model.RectOpen {
			t.Fatalf("next round %+v", next)
		}
	})
}

func TestRectificationQueueAndCounts(t *testing.T) {
	e := newLoopEnv(t)
	e.seedCalendar()
	start := e.clock.Now()
	onTime, rOnTime := e.rated(2)
	_, rLate := e.rated(1)
	_, rUnhandled := e.rated(2)
	if _, err := e.svc.ReportRectification(e.ctx, e.actor("manager"), rOnTime.ID, "已修复", nil); err != nil {
		t.Fatal(err)
	}
	e.act("community", onTime, ActRevisit, Input{Note: "电话回访，居民认可"})
	// Ten days on: the second is reported late, the third never.
	e.clock.Advance(10 * 24 * time.Hour)
	if _, err := e.svc.ReportRectification(e.ctx, e.actor("manager"), rLate.ID, "已修复（迟）", nil); err != nil {
		t.Fatal(err)
	}
	ids := func(name string, f RectFilter) []int64 {
		t.Helper()
		p, err := e.svc.Rectifications(e.ctx, e.actor(name), f, service.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, v := range p.Items {
			out = append(out, v.ID)
		}
		return out
	}
	t.Run("the community's queue: late and waiting for the revisit", func(t *testing.T) {
		if got, want := ids("community", RectFilter{Queue: true}), []int64{rUnhandled.ID, rLate.ID}; !slices.Equal(got, want) {
			t.Fatalf("queue %v, want %v", got, want)
		}
		if got := ids("community", RectFilter{Late: true}); !slices.Equal(got, []int64{rUnhandled.ID, rLate.ID}) {
			t.Fatalf("late %v", got)
		}
		if got := ids("community2", RectFilter{Queue: true}); len(got) != 0 {
			t.Fatalf("another community's queue %v", got)
		}
		if got := ids("resident2", RectFilter{}); len(got) != 0 {
			t.Fatalf("another resident sees %v", got)
		}
		if got := ids("manager", RectFilter{}); len(got) != 3 {
			t.Fatalf("the firm sees %v", got)
		}
		_, err := e.svc.Rectification(e.ctx, e.actor("community2"), rLate.ID)
		wantKind(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.svc.Rectifications(e.ctx, e.actor("community"), RectFilter{States: []string{"lost"}}, service.Page{})
		wantKind(t, err, service.KindInvalid, "bad_state")
	})
	t.Run("counted per firm × compound × period", func(t *testing.T) {
		from, to := start.Add(-time.Hour), start.Add(30*24*time.Hour)
		got, err := model.CountRectifications(e.ctx, e.db, e.city.Firm.ID, e.city.Compounds[0].ID, from, to, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got != (model.RectTally{Due: 3, Late: 2, Open: 1}) {
			t.Fatalf("tally %+v", got)
		}
		late, err := model.LateRectificationIDs(e.ctx, e.db, e.city.Firm.ID, 0, from, to, e.clock.Now(), 0, 10)
		if err != nil || !slices.Equal(late, []int64{rLate.ID, rUnhandled.ID}) {
			t.Fatalf("late ids %v %v", late, err)
		}
		// Judged at the start, nothing was late yet; another compound has none.
		if got, _ := model.CountRectifications(e.ctx, e.db, e.city.Firm.ID, 0, from, to, start); got.Late != 0 || got.Due != 3 {
			t.Fatalf("at the start %+v", got)
		}
		if got, _ := model.CountRectifications(e.ctx, e.db, e.city.Firm.ID, e.city.Compounds[1].ID, from, to, e.clock.Now()); got.Due != 0 {
			t.Fatalf("compound 1 %+v", got)
		}
		all, err := model.RectificationTallies(e.ctx, e.db, from, to, e.clock.Now())
		key := model.FirmCompound{FirmID: e.city.Firm.ID, CompoundID: e.city.Compounds[0].ID}
		if err != nil || len(all) != 1 || all[key] != (model.RectTally{Due: 3, Late: 2, Open: 1}) {
			t.Fatalf("tallies %+v %v", all, err)
		}
	})
}

// Confirming and saying "not fixed" at once: one answer wins, the other
// gets 409, and the order moved at most once.
func TestRectificationAnswersRace(t *testing.T) {
	e := newLoopEnv(t)
	e.seedCalendar()
	id, r := e.rated(1)
	e.act("community", id, ActRevisit, Input{Note: "电话回访，居民说法不一"})
	errs := make(chan error, 2)
	for _, fixed := range []bool{true, false} {
		go func(fixed bool) {
			_, err := e.svc.AnswerRectification(e.ctx, e.actor("resident"), r.ID, fixed, "答复")
			errs <- err
		}(fixed)
	}
	var lost int
	for range 2 {
		if err := <-errs; err != nil {
			wantKind(t, err, service.KindConflict, "")
			lost++
		}
	}
	got := e.lastRect(id)
	o := e.load(id)
	switch {
	case lost != 1:
		t.Fatalf("%d answers lost, want 1", lost)
	case got.State == model.RectConfirmed && o.State != model.StateClosed,
		got.State == model.RectReopened && o.State != model.StateInProgress,
		got.State != model.RectConfirmed && got.State != model.RectReopened:
		t.Fatalf("rectification %s, order %s", got.State, o.State)
	}
}
