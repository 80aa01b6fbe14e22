package order

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/calendar"
)

// cst builds a Beijing wall-clock time.
func cst(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, calendar.Beijing).UTC()
}

// seedCalendar loads the shipped 2026 holidays: on MariaDB dbtest empties
// every table, the migrated calendar too.
func (e *loopEnv) seedCalendar() {
	e.t.Helper()
	if err := model.SeedCalendar(e.ctx, e.db); err != nil {
		e.t.Fatal(err)
	}
}

// tick runs one scheduler pass, failing the test on error.
func (e *loopEnv) tick() TickStats {
	e.t.Helper()
	st, err := e.svc.Tick(e.ctx)
	if err != nil {
		e.t.Fatalf("tick: %v", err)
	}
	return st
}

// setCategory changes one category for the test.
func (e *loopEnv) setCategory(code string, cols map[string]any) {
	e.t.Helper()
	if err := e.db.Model(&model.Category{}).Where("code = ?", code).Updates(cols).Error; err != nil {
		e.t.Fatal(err)
	}
}

// countEvents counts the timeline rows of an order with action.
func (e *loopEnv) countEvents(orderID int64, action string) int {
	e.t.Helper()
	n := 0
	for _, ev := range e.events(orderID) {
		if ev.Action == action {
			n++
		}
	}
	return n
}

func (e *loopEnv) inbox(name, event string, orderID int64) int {
	e.t.Helper()
	n := 0
	for _, m := range e.messages(name, orderID) {
		if m.Event == event {
			n++
		}
	}
	return n
}

func (e *loopEnv) lightOf(o model.Order) string {
	e.t.Helper()
	l, err := e.svc.LightOf(e.ctx, o, e.cats[o.CategoryCode], e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// A lift repair goes to the firm at once; its 30 wall-clock minutes to
// accept yield a warning at 24 minutes (once) and overdue at 30.
func TestTickWarnsAt80PercentOnceThenMarksOverdue(t *testing.T) {
	e := newLoopEnv(t)
	e.setCategory("repair.lift", map[string]any{"escalate_on_breach": false})
	o := e.submit("resident", "repair.lift", func(in *SubmitInput) { in.PhotoIDs = []int64{e.photo("resident")} })
	if o.State != model.StateDispatched || o.StepDeadline == nil || !o.StepDeadline.Equal(e.clock.Now().Add(30*time.Minute)) {
		t.Fatalf("state %s deadline %v, want dispatched with 30 minutes to accept", o.State, o.StepDeadline)
	}
	if l := e.lightOf(e.load(o.ID)); l != LightGreen {
		t.Fatalf("light %q at start", l)
	}
	e.clock.Advance(23 * time.Minute)
	if st := e.tick(); st.Warned != 0 || st.Overdue != 0 {
		t.Fatalf("at 23 minutes: %+v", st)
	}
	e.clock.Advance(time.Minute)
	if st := e.tick(); st.Warned != 1 || st.Overdue != 0 {
		t.Fatalf("at 24 minutes: %+v, want one warning", st)
	}
	cur := e.load(o.ID)
	if cur.WarnedAt == nil || e.lightOf(cur) != LightYellow {
		t.Fatalf("warned_at %v light %q", cur.WarnedAt, e.lightOf(cur))
	}
	// The holder of a dispatched order is the firm: its manager is warned.
	if n := e.inbox("manager", "order.warning", o.ID); n != 1 {
		t.Fatalf("manager has %d warnings", n)
	}
	e.clock.Advance(5 * time.Minute)
	if st := e.tick(); st.Warned != 0 {
		t.Fatalf("warned twice: %+v", st)
	}
	e.clock.Advance(time.Minute)
	if st := e.tick(); st.Overdue != 1 || st.Escalated != 0 {
		t.Fatalf("at 30 minutes: %+v, want overdue without escalation", st)
	}
	cur = e.load(o.ID)
	if !cur.Overdue || cur.Level != model.OrderLevelCommunity || e.lightOf(cur) != LightRed {
		t.Fatalf("overdue %v level %s light %q", cur.Overdue, cur.Level, e.lightOf(cur))
	}
	if n := e.inbox("community", "order.overdue", o.ID); n != 1 {
		t.Fatalf("community dispatcher told %d times of the overdue order", n)
	}
	e.clock.Advance(time.Hour)
	if st := e.tick(); st != (TickStats{}) {
		t.Fatalf("second tick did %+v", st)
	}
	if e.countEvents(o.ID, evOverdue) != 1 || e.countEvents(o.ID, evWarning) != 1 {
		t.Fatalf("timeline %+v", e.events(o.ID))
	}
}

// Paused orders are neither warned nor marked overdue.
func TestTickSkipsPausedOrders(t *testing.T) {
	e := newLoopEnv(t)
	o := e.submit("resident", "repair.lift", func(in *SubmitInput) { in.PhotoIDs = []int64{e.photo("resident")} })
	e.act("manager", o.ID, ActAccept, Input{})
	e.act("manager", o.ID, ActPause, Input{Reason: "等待配件"})
	e.clock.Advance(48 * time.Hour)
	if st := e.tick(); st != (TickStats{}) {
		t.Fatalf("paused order touched: %+v", st)
	}
	if cur := e.load(o.ID); cur.Overdue || cur.WarnedAt != nil || cur.Level != model.OrderLevelCommunity {
		t.Fatalf("paused order changed: %+v", cur)
	}
}

// An unverified report in a compound without a firm climbs the whole
// ladder, one level per breach, and stops at the city.
func TestTickEscalatesOneLevelPerBreachUpToTheCity(t *testing.T) {
	e := newLoopEnv(t)
	o := e.submit("resident2", "repair.lift", func(in *SubmitInput) {
		in.HouseholdID = e.city.Households[16].ID
		in.PhotoIDs = []int64{e.photo("resident2")}
	})
	if o.State != model.StateSubmitted || o.Level != model.OrderLevelGrid {
		t.Fatalf("state %s level %s", o.State, o.Level)
	}
	want := []string{model.OrderLevelCommunity, model.OrderLevelStreet, model.OrderLevelCity}
	for i, level := range want {
		e.clock.Advance(2*time.Hour - time.Minute)
		if st := e.tick(); st.Escalated != 0 {
			t.Fatalf("escalated before the deadline: %+v", st)
		}
		e.clock.Advance(time.Minute)
		st := e.tick()
		if st.Overdue != 1 || st.Escalated != 1 {
			t.Fatalf("breach %d: %+v", i+1, st)
		}
		if st := e.tick(); st != (TickStats{}) {
			t.Fatalf("repeated tick did %+v", st)
		}
		cur := e.load(o.ID)
		if cur.Level != level || cur.Overdue || cur.StepDeadline == nil ||
			!cur.StepDeadline.Equal(e.clock.Now().Add(2*time.Hour)) || cur.Breaches != i+1 {
			t.Fatalf("after breach %d: level %s overdue %v deadline %v breaches %d", i+1, cur.Level, cur.Overdue, cur.StepDeadline, cur.Breaches)
		}
		// The new level's step is fresh, but the order stays known as late.
		late := true
		p, err := e.svc.List(e.ctx, e.actor("admin"), Filter{Queue: QueueAll, Overdue: &late}, service.Page{Limit: 10})
		if err != nil || len(p.Items) != 1 || p.Items[0].ID != o.ID {
			t.Fatalf("overdue filter after breach %d: %v %d items", i+1, err, len(p.Items))
		}
	}
	if e.inbox("street", "order.escalated", o.ID) != 1 || e.inbox("city", "order.escalated", o.ID) != 1 ||
		e.inbox("community2", "order.escalated", o.ID) != 1 {
		t.Fatal("each new level's dispatchers are told once")
	}
	// At the top the breach only marks it overdue.
	e.clock.Advance(2 * time.Hour)
	if st := e.tick(); st.Overdue != 1 || st.Escalated != 0 {
		t.Fatalf("at the city: %+v", st)
	}
	cur := e.load(o.ID)
	if cur.Level != model.OrderLevelCity || !cur.Overdue {
		t.Fatalf("level %s overdue %v", cur.Level, cur.Overdue)
	}
	if n := e.countEvents(o.ID, evEscalate); n != 3 {
		t.Fatalf("%d escalate events, want 3", n)
	}
	for _, ev := range e.events(o.ID) {
		if ev.Action == evEscalate && (ev.ActorID != 0 || ev.Role != roleSystem || ev.FromLevel == ev.ToLevel) {
			t.Fatalf("escalate event %+v", ev)
		}
	}
}

// A firm that does not accept in time loses the order: the new level's
// dispatchers get it back to dispatch.
func TestTickEscalationTakesAnUnacceptedOrderFromTheFirm(t *testing.T) {
	e := newLoopEnv(t)
	o := e.submit("resident", "repair.lift", func(in *SubmitInput) { in.PhotoIDs = []int64{e.photo("resident")} })
	e.clock.Advance(30 * time.Minute)
	if st := e.tick(); st.Escalated != 1 {
		t.Fatalf("%+v", st)
	}
	cur := e.load(o.ID)
	if cur.State != model.StateVerified || cur.Level != model.OrderLevelStreet || cur.HandlerKind != "" || cur.HandlerID != 0 {
		t.Fatalf("state %s level %s handler %s/%d", cur.State, cur.Level, cur.HandlerKind, cur.HandlerID)
	}
	if cur.StepDeadline == nil || !cur.StepDeadline.Equal(e.clock.Now().Add(4*time.Hour)) {
		t.Fatalf("deadline %v, want the dispatch budget from now", cur.StepDeadline)
	}
	// The street dispatches it now.
	v := e.act("street", o.ID, ActDispatch, Input{HandlerKind: model.HandlerDepartment, HandlerID: e.city.Department.ID})
	if v.State != model.StateDispatched {
		t.Fatalf("state %s", v.State)
	}
}

// A plumbing repair has two working days to complete. Accepted on the eve
// of the National Day holiday it is not late during the holiday; the
// deadline falls on the second working day after it.
func TestDeadlinesAcrossTheNationalDayHoliday(t *testing.T) {
	e := newLoopEnv(t)
	e.clock.Set(cst(2026, 9, 30, 10, 0))
	e.seedCalendar()
	o := e.submit("resident", "repair.plumbing", func(in *SubmitInput) { in.PhotoIDs = []int64{e.photo("resident")} })
	e.act("manager", o.ID, ActAccept, Input{})
	// 14 hours left of 30 September, 1–7 October off, 8 October whole,
	// then 10 hours of 9 October.
	want := cst(2026, 10, 9, 10, 0)
	if cur := e.load(o.ID); cur.StepDeadline == nil || !cur.StepDeadline.Equal(want) {
		t.Fatalf("deadline %v, want %v", cur.StepDeadline, want)
	}
	e.clock.Set(cst(2026, 10, 6, 12, 0))
	if st := e.tick(); st.Overdue != 0 || st.Warned != 0 {
		t.Fatalf("during the holiday: %+v", st)
	}
	if l := e.lightOf(e.load(o.ID)); l != LightGreen {
		t.Fatalf("light during the holiday %q", l)
	}
	e.clock.Set(cst(2026, 10, 9, 9, 59))
	if st := e.tick(); st.Overdue != 0 || st.Warned != 1 {
		t.Fatalf("a minute before: %+v", st)
	}
	e.clock.Set(want)
	if st := e.tick(); st.Overdue != 1 {
		t.Fatalf("at the deadline: %+v", st)
	}
}

// Saturday 10 October 2026 is a make-up working day (调休): two working
// days from Friday morning end on Monday, not Tuesday.
func TestDeadlinesCountTheMakeUpWorkingSaturday(t *testing.T) {
	e := newLoopEnv(t)
	e.clock.Set(cst(2026, 10, 9, 10, 0))
	e.seedCalendar()
	o := e.submit("resident", "repair.plumbing", func(in *SubmitInput) { in.PhotoIDs = []int64{e.photo("resident")} })
	e.act("manager", o.ID, ActAccept, Input{})
	want := cst(2026, 10, 12, 10, 0)
	if cur := e.load(o.ID); cur.StepDeadline == nil || !cur.StepDeadline.Equal(want) {
		t.Fatalf("deadline %v, want %v", cur.StepDeadline, want)
	}
	e.clock.Set(cst(2026, 10, 12, 9, 0))
	if st := e.tick(); st.Overdue != 0 {
		t.Fatalf("Monday 9:00: %+v", st)
	}
	e.clock.Set(cst(2026, 10, 12, 10, 0))
	if st := e.tick(); st.Overdue != 1 {
		t.Fatalf("Monday 10:00: %+v", st)
	}
}

// Confirmed orders nobody rates close after the category's hours.
func TestTickAutoClosesUnratedOrders(t *testing.T) {
	e := newLoopEnv(t)
	o := e.submit("resident", "repair.lift", func(in *SubmitInput) { in.PhotoIDs = []int64{e.photo("resident")} })
	e.act("manager", o.ID, ActAccept, Input{})
	e.act("manager", o.ID, ActStart, Input{})
	e.act("manager", o.ID, ActComplete, Input{PhotoIDs: []int64{e.photo("manager")}})
	e.act("grid", o.ID, ActConfirm, Input{})
	e.clock.Advance(72*time.Hour - time.Minute)
	if st := e.tick(); st.AutoClosed != 0 {
		t.Fatalf("closed early: %+v", st)
	}
	e.clock.Advance(time.Minute)
	if st := e.tick(); st.AutoClosed != 1 {
		t.Fatalf("%+v", st)
	}
	cur := e.load(o.ID)
	if cur.State != model.StateClosed || cur.ClosedAt == nil || e.countEvents(o.ID, evAutoClose) != 1 {
		t.Fatalf("state %s closed_at %v", cur.State, cur.ClosedAt)
	}
	if st := e.tick(); st.AutoClosed != 0 {
		t.Fatalf("closed twice: %+v", st)
	}
}

// Manual escalation: by the holders of the current level only, with a
// reason, one level at a time, not past the city.
func TestEscalateByHand(t *testing.T) {
	e := newLoopEnv(t)
	o := e.submit("resident", "dispute", func(in *SubmitInput) {})
	if o.Level != model.OrderLevelGrid {
		t.Fatalf("level %s", o.Level)
	}
	t.Run("a reason, and the holders of the level only", func(t *testing.T) {
		_, err := e.svc.Escalate(e.ctx, e.actor("grid"), o.ID, "  ")
		wantKind(t, err, service.KindInvalid, "reason_required")
		_, err = e.svc.Escalate(e.ctx, e.actor("community"), o.ID, "社区来办")
		wantKind(t, err, service.KindForbidden, "not_level_holder")
		_, err = e.svc.Escalate(e.ctx, e.actor("grid3"), o.ID, "别的网格")
		wantKind(t, err, service.KindForbidden, "")
		_, err = e.svc.Escalate(e.ctx, e.actor("resident"), o.ID, "我要升级")
		wantKind(t, err, service.KindForbidden, "")
	})
	t.Run("one level at a time, not past the city", func(t *testing.T) {
		v, err := e.svc.Escalate(e.ctx, e.actor("grid"), o.ID, "涉及多户，网格协调不了")
		if err != nil {
			t.Fatal(err)
		}
		if v.Level != model.OrderLevelCommunity || v.State != model.StateSubmitted {
			t.Fatalf("level %s state %s", v.Level, v.State)
		}
		// The grid worker's second attempt repeats his own escalation: the
		// order as it is, nothing written.
		rows := len(e.events(o.ID))
		if v, err = e.svc.Escalate(e.ctx, e.actor("grid"), o.ID, "再升"); err != nil || v.Level != model.OrderLevelCommunity ||
			len(e.events(o.ID)) != rows {
			t.Fatalf("escalate again: %v %s, %d rows", err, v.Level, len(e.events(o.ID))-rows)
		}
		if v, err = e.svc.Escalate(e.ctx, e.actor("community"), o.ID, "需要街道协调执法"); err != nil || v.Level != model.OrderLevelStreet {
			t.Fatalf("%v %s", err, v.Level)
		}
		// Once the community has acted, the grid worker no longer holds the order's level.
		_, err = e.svc.Escalate(e.ctx, e.actor("grid"), o.ID, "再升")
		wantKind(t, err, service.KindForbidden, "not_level_holder")
		if v, err = e.svc.Escalate(e.ctx, e.actor("street"), o.ID, "特事市级议"); err != nil || v.Level != model.OrderLevelCity {
			t.Fatalf("%v %s", err, v.Level)
		}
		_, err = e.svc.Escalate(e.ctx, e.actor("city"), o.ID, "没有更高了")
		wantKind(t, err, service.KindUnprocessable, "top_level")
	})
	t.Run("the timeline names who and why; the new level is told", func(t *testing.T) {
		evs := e.events(o.ID)
		last := evs[len(evs)-1]
		if last.Action != evEscalate || last.ActorID != e.city.Users["street"] || last.Role != model.RoleStreetStaff ||
			last.FromLevel != model.OrderLevelStreet || last.ToLevel != model.OrderLevelCity || last.Note != "特事市级议" {
			t.Fatalf("last event %+v", last)
		}
		if e.inbox("city", "order.escalated", o.ID) != 1 {
			t.Fatal("city staff not told")
		}
	})
}

func TestEscalateClosedOrderIsRefused(t *testing.T) {
	e := newLoopEnv(t)
	o := e.submit("resident", "dispute")
	e.act("resident", o.ID, ActCancel, Input{})
	_, err := e.svc.Escalate(e.ctx, e.actor("grid"), o.ID, "已取消")
	wantKind(t, err, service.KindUnprocessable, "order_not_open")
}

// A stale copy loses the compare-and-set: the move happens once, and the
// loser gets the 409 with the winner's state and version.
func TestRaiseLosesToAConcurrentChange(t *testing.T) {
	e := newLoopEnv(t)
	o := e.submit("resident", "dispute")
	stale := e.load(o.ID)
	if _, err := e.svc.Escalate(e.ctx, e.actor("grid"), o.ID, "第一次"); err != nil {
		t.Fatal(err)
	}
	won := e.load(o.ID)
	cal, err := e.svc.calendar(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.prepare(e.ctx, e.db, system(), stale, ActEscalate, Input{}, e.cats["dispute"], cal, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	err = model.InTx(e.ctx, e.db, func(tx *gorm.DB) error { return e.svc.commit(e.ctx, tx, c) })
	var se *service.Error
	if !errors.As(err, &se) || se.Code != "state_conflict" {
		t.Fatalf("stale raise: %v", err)
	}
	if d, _ := se.Detail.(map[string]any); d["version"] != won.Version || d["state"] != won.State {
		t.Fatalf("conflict detail %v, the winner left v%d %s", se.Detail, won.Version, won.State)
	}
	if cur := e.load(o.ID); !reflect.DeepEqual(cur, won) || e.countEvents(o.ID, evEscalate) != 1 {
		t.Fatalf("level %s, %d escalations", cur.Level, e.countEvents(o.ID, evEscalate))
	}
}

// Two community dispatchers escalating at once: one wins; the other gets
// 409 (lost the compare-and-set) or 403 (the order already left their
// level). MariaDB only: SQLite serialises every writer.
func TestEscalateByHandRaceOnce(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB: SQLite serialises every writer on one connection")
	}
	e := newLoopEnv(t)
	comm := e.city.Communities[0]
	e.grant("duty", model.RoleCommunityStaff, model.ScopeCommunity, comm.ID, comm.Ancestry)
	o := e.submit("resident", "dispute")
	e.act("grid", o.ID, ActVerify, Input{})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, name := range []string{"community", "duty"} {
		wg.Add(1)
		go func(i int, a *service.Actor) {
			defer wg.Done()
			_, errs[i] = e.svc.Escalate(e.ctx, a, o.ID, "同时升级")
		}(i, e.actor(name))
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch k := service.KindOf(err); {
		case err == nil:
			wins++
		case k != service.KindConflict && k != service.KindForbidden:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if wins != 1 || e.countEvents(o.ID, evEscalate) != 1 || e.load(o.ID).Level != model.OrderLevelStreet {
		t.Fatalf("wins %d, errors %v", wins, errs)
	}
}

// Two scheduler instances over one database (two Service values, as two
// server processes would have) tick at the same time: every order is
// marked overdue and escalated exactly once. MariaDB only.
func TestTwoSchedulersEscalateEachOrderOnce(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB: SQLite serialises every writer on one connection")
	}
	e := newLoopEnv(t)
	const n = 15
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = e.submit("resident", "repair.lift", func(in *SubmitInput) { in.PhotoIDs = []int64{e.photo("resident")} }).ID
	}
	other := New(e.db, e.clock, calendar.New(e.db, e.clock), nil, e.svc.msgs, Options{})
	for round := 0; round < 3; round++ {
		e.clock.Advance(30 * time.Minute)
		var wg sync.WaitGroup
		for _, svc := range []*Service{e.svc, other, e.svc, other} {
			wg.Add(1)
			go func(svc *Service) {
				defer wg.Done()
				if _, err := svc.Tick(e.ctx); err != nil {
					t.Errorf("tick: %v", err)
				}
			}(svc)
		}
		wg.Wait()
	}
	// Round 1 breaches the accept step (community → street); the dispatch
	// step of the street lasts 4 hours, so rounds 2 and 3 do nothing.
	for _, id := range ids {
		if got := e.countEvents(id, evEscalate); got != 1 {
			t.Fatalf("order %d escalated %d times", id, got)
		}
		if got := e.countEvents(id, evOverdue); got != 1 {
			t.Fatalf("order %d marked overdue %d times", id, got)
		}
		if got := e.inbox("street", "order.escalated", id); got != 1 {
			t.Fatalf("street told %d times about order %d", got, id)
		}
		if cur := e.load(id); cur.Level != model.OrderLevelStreet {
			t.Fatalf("order %d at %s", id, cur.Level)
		}
	}
}

// The light counts working time, and paused time not at all.
func TestLight(t *testing.T) {
	var days []calendar.Day
	for _, d := range model.DefaultCalendarDays(2026) {
		days = append(days, calendar.Day{Date: d.Date, Kind: d.Kind, Name: d.Name})
	}
	cal := calendar.NewCalendar(days)
	start := cst(2026, 9, 30, 10, 0)
	deadline := cal.AddWorking(start, 48*time.Hour)
	o := model.Order{StepStartedAt: &start, StepDeadline: &deadline}
	s := &Service{}
	cases := []struct {
		name string
		o    model.Order
		cal  *calendar.Calendar
		at   time.Time
		want string
	}{
		{"no deadline", model.Order{}, cal, start, ""},
		{"holiday counts nothing", o, cal, cst(2026, 10, 7, 23, 0), LightGreen},
		{"38.4 working hours is 80%", o, cal, cst(2026, 10, 9, 0, 24), LightYellow},
		{"just under 80%", o, cal, cst(2026, 10, 9, 0, 23), LightGreen},
		{"at the deadline", o, cal, deadline, LightRed},
		{"wall clock: 8 days into a 9-day span", o, nil, cst(2026, 10, 8, 10, 0), LightYellow},
		{"paused before 80% stays green", withPause(o, cst(2026, 10, 8, 12, 0)), cal, cst(2026, 10, 20, 0, 0), LightGreen},
		{"flagged overdue", withOverdue(o), cal, start, LightRed},
	}
	for _, c := range cases {
		if got := s.Light(c.o, c.cal, c.at); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func withPause(o model.Order, at time.Time) model.Order {
	o.PausedAt = &at
	return o
}

func withOverdue(o model.Order) model.Order {
	o.Overdue = true
	return o
}

// A pause moves the deadline; it does not earn the step a second warning
// or a second overdue notice.
func TestPauseAndResumeDoNotRepeatNotices(t *testing.T) {
	e := newLoopEnv(t)
	e.setCategory("environment", map[string]any{"complete_minutes": 100, "working_time": false, "escalate_on_breach": false})
	id := e.drive(model.StateInProgress, 0)
	e.clock.Advance(85 * time.Minute)
	e.tick() // the 80% warning
	e.act("worker", id, ActPause, Input{Reason: "等配件"})
	e.clock.Advance(time.Hour)
	e.act("worker", id, ActResume, Input{})
	e.clock.Advance(10 * time.Minute)
	e.tick()
	if n := e.countEvents(id, evWarning); n != 1 {
		t.Fatalf("%d warnings", n)
	}
	e.clock.Advance(10 * time.Minute) // past the moved deadline
	e.tick()
	e.act("worker", id, ActPause, Input{Reason: "业主不在家"})
	e.clock.Advance(time.Hour)
	e.act("worker", id, ActResume, Input{})
	e.clock.Advance(time.Minute)
	e.tick()
	if n := e.countEvents(id, evOverdue); n != 1 {
		t.Fatalf("%d overdue marks", n)
	}
	if n := e.inbox("community", "order.overdue", id); n > 1 {
		t.Fatalf("the community was told %d times", n)
	}
}

// An order that climbed to the street because the grid did not act is the
// street's: the grid worker can no longer reject or resolve it.
func TestGridCannotActBehindTheStreet(t *testing.T) {
	e := newLoopEnv(t)
	id := e.submit("resident", "environment").ID
	if _, err := e.svc.Escalate(e.ctx, e.actor("grid"), id, "网格协调不了"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Escalate(e.ctx, e.actor("community"), id, "社区无法协调"); err != nil {
		t.Fatal(err)
	}
	if o := e.load(id); o.Level != model.OrderLevelStreet {
		t.Fatalf("level %s", o.Level)
	}
	for _, act := range []string{ActReject, ActResolve} {
		_, err := e.svc.Act(e.ctx, e.actor("grid"), id, act, Input{Reason: "不属实", Note: "已处理"})
		if service.KindOf(err) != service.KindForbidden {
			t.Fatalf("grid %s at the street: %v", act, err)
		}
	}
}
