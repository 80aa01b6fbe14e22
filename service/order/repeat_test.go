package order

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
)

// outcome is what a second attempt is expected to get.
type outcome struct {
	repeat bool   // 200 with the order as it is, nothing written
	own    bool   // taken as its own act: 200 and one more timeline row
	code   string // refused with this code ("" with refused: any 403 or 409)
	refuse bool
}

var (
	wantRepeat  = outcome{repeat: true}
	wantOwn     = outcome{own: true}
	wantRefused = outcome{refuse: true}
)

func wantCode(code string) outcome { return outcome{refuse: true, code: code} }

// repeatCase is one action of the table: from which state, by whom, with
// what; then what the same person's repeat, another person's same request
// and the same person's request with another target get.
type repeatCase struct {
	action  string
	state   string
	by      string
	in      func(e *loopEnv) Input
	again   outcome // the same request by the same person
	other   string
	byOther outcome
	changed func(e *loopEnv) Input // nil: the action has no target to change
	change  outcome
}

func repeatCases(dup, dup2 int64) []repeatCase {
	none := func(*loopEnv) Input { return Input{} }
	with := func(in Input) func(*loopEnv) Input { return func(*loopEnv) Input { return in } }
	due := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	later := due.Add(24 * time.Hour)
	return []repeatCase{
		{action: ActVerify, state: model.StateSubmitted, by: "grid", in: none, again: wantRepeat,
			other: "community", byOther: wantRefused},
		// A reason is no target: the same act in other words is still the same act.
		{action: ActReject, state: model.StateSubmitted, by: "grid", in: with(Input{Reason: "不属实"}), again: wantRepeat,
			other: "community", byOther: wantRefused, changed: with(Input{Reason: "重复上报"}), change: wantRepeat},
		{action: ActMerge, state: model.StateSubmitted, by: "grid", in: with(Input{DuplicateOf: dup}), again: wantRepeat,
			other: "community", byOther: wantRefused, changed: with(Input{DuplicateOf: dup2}), change: wantRefused},
		{action: ActResolve, state: model.StateSubmitted, by: "grid", in: with(Input{Note: "已清理"}), again: wantRepeat,
			other: "community", byOther: wantRefused},
		// Another dispatcher, another handler or another due date re-dispatches.
		{action: ActDispatch, state: model.StateVerified, by: "community",
			in: with(Input{HandlerKind: model.HandlerFirm, Deadline: &due}), again: wantRepeat,
			other: "duty", byOther: wantOwn,
			changed: with(Input{HandlerKind: model.HandlerFirm, Deadline: &later}), change: wantOwn},
		{action: ActAccept, state: model.StateDispatched, by: "manager", in: none, again: wantRepeat,
			other: "committee", byOther: wantRefused},
		// The firm no longer sees a returned order; its own retry still gets its answer.
		{action: ActReturn, state: model.StateDispatched, by: "manager", in: with(Input{Reason: "不属于物业服务范围"}),
			again: wantRepeat, other: "committee", byOther: wantRefused},
		{action: ActAssign, state: model.StateAccepted, by: "manager",
			in: func(e *loopEnv) Input { return Input{WorkerID: e.city.Users["worker"]} }, again: wantRepeat,
			other: "committee", byOther: wantCode("already_assigned"),
			changed: func(e *loopEnv) Input { return Input{WorkerID: e.city.Users["newcomer"]} }, change: wantCode("already_assigned")},
		// Reassigning to another worker is a new act.
		{action: ActReassign, state: model.StateInProgress, by: "manager",
			in: func(e *loopEnv) Input { return Input{WorkerID: e.city.Users["newcomer"]} }, again: wantRepeat,
			other: "committee", byOther: wantCode("same_worker"),
			changed: func(e *loopEnv) Input { return Input{WorkerID: e.city.Users["worker"]} }, change: wantOwn},
		{action: ActStart, state: model.StateAccepted, by: "manager", in: none, again: wantRepeat,
			other: "committee", byOther: wantRefused},
		// A progress note is its own target: another text is another note.
		{action: ActProgress, state: model.StateAccepted, by: "manager", in: with(Input{Note: "已联系业主"}), again: wantRepeat,
			other: "committee", byOther: wantOwn, changed: with(Input{Note: "明早上门"}), change: wantOwn},
		{action: ActPause, state: model.StateInProgress, by: "worker", in: with(Input{Reason: "等配件"}), again: wantRepeat,
			other: "manager", byOther: wantCode("already_paused"), changed: with(Input{Reason: "业主不在家"}), change: wantRepeat},
		{action: ActResume, state: statePaused, by: "worker", in: none, again: wantRepeat,
			other: "manager", byOther: wantCode("not_paused")},
		{action: ActComplete, state: model.StateInProgress, by: "worker",
			in: func(e *loopEnv) Input { return Input{PhotoIDs: []int64{e.photo("worker")}} }, again: wantRepeat,
			other: "manager", byOther: wantRefused},
		{action: ActConfirm, state: model.StateCompleted, by: "grid", in: none, again: wantRepeat,
			other: "community", byOther: wantRefused},
		{action: ActRework, state: model.StateCompleted, by: "grid", in: with(Input{Reason: "还在漏"}), again: wantRepeat,
			other: "community", byOther: wantRefused},
		{action: ActRate, state: model.StateConfirmed, by: "resident", in: with(Input{Overall: 2, Comment: "太慢"}), again: wantRepeat,
			other: "resident2", byOther: wantRefused, changed: with(Input{Overall: 5}), change: wantRefused},
		// Reopening after a 回访 that did not is a new act; so is another staff member's 回访.
		{action: ActRevisit, state: model.StateClosed, by: "community", in: with(Input{Note: "已电话回访居民"}), again: wantRepeat,
			other: "duty", byOther: wantOwn, changed: with(Input{Note: "已电话回访居民", Reopen: true}), change: wantOwn},
		{action: ActCancel, state: model.StateSubmitted, by: "resident", in: none, again: wantRepeat,
			other: "resident2", byOther: wantRefused},
		// 督办 keeps its own rule: none again within 10 minutes, by anyone.
		{action: ActUrge, state: model.StateDispatched, by: "street", in: none, again: wantCode("urged_recently"),
			other: "city", byOther: wantCode("urged_recently")},
		// The grid worker no longer holds the community level: a repeat.
		// The community does, and escalates again from there.
		{action: ActEscalate, state: model.StateSubmitted, by: "grid", in: with(Input{Reason: "需社区协调"}), again: wantRepeat,
			other: "community", byOther: wantOwn},
	}
}

// outboxOf counts an order's inbox messages and pushes per user.
func (e *loopEnv) outboxOf(id int64) map[string]int64 {
	e.t.Helper()
	var ms []model.Message
	var obs []model.Outbox
	if err := e.db.Where("order_id = ?", id).Find(&ms).Error; err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.Where("order_id = ?", id).Find(&obs).Error; err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, m := range ms {
		out[fmt.Sprintf("inbox:%d", m.UserID)]++
	}
	for _, o := range obs {
		out[fmt.Sprintf("push:%d", o.UserID)]++
	}
	return out
}

func (e *loopEnv) repeatEnv() (dup, dup2 int64) {
	// A second dispatcher of community 0, a second manager of the firm, a
	// second worker to reassign to.
	anc := e.city.Communities[0].Ancestry
	e.grant("duty", model.RoleCommunityStaff, model.ScopeCommunity, e.city.Communities[0].ID, anc)
	e.grant("committee", model.RoleFirmManager, model.ScopeFirm, e.city.Firm.ID, model.Ancestry{CityID: e.city.CityID})
	e.grant("newcomer", model.RoleFirmWorker, model.ScopeFirm, e.city.Firm.ID, model.Ancestry{CityID: e.city.CityID})
	return e.submit("resident", "environment").ID, e.submit("resident", "environment").ID
}

// check compares an attempt's answer with what the case expects, given
// the order, its timeline and its messages before the attempt.
func (e *loopEnv) checkAgain(t *testing.T, what string, id int64, want outcome, first View, v model.Order, err error,
	before model.Order, rows int, box map[string]int64) {
	t.Helper()
	after, rowsAfter, boxAfter := e.load(id), len(e.events(id)), e.outboxOf(id)
	switch {
	case want.repeat:
		if err != nil {
			t.Fatalf("%s: %v, want 200 with the order as it is", what, err)
		}
		if !reflect.DeepEqual(v, first.Order) {
			t.Errorf("%s answered\n%+v\nthe first attempt answered\n%+v", what, v, first.Order)
		}
	case want.own:
		if err != nil {
			t.Fatalf("%s: %v, want its own act", what, err)
		}
		if rowsAfter != rows+1 {
			t.Fatalf("%s: timeline %d → %d rows, want one more", what, rows, rowsAfter)
		}
		return
	case want.refuse:
		var se *service.Error
		if want.code != "" && (!errors.As(err, &se) || se.Code != want.code) {
			t.Fatalf("%s: %v, want %s", what, err, want.code)
		}
		if k := service.KindOf(err); want.code == "" && k != service.KindForbidden && k != service.KindConflict {
			t.Fatalf("%s: %v, want 403 or 409", what, err)
		}
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("%s changed the order (deadline %v → %v):\n%+v\n%+v", what, before.StepDeadline, after.StepDeadline, before, after)
	}
	if rowsAfter != rows {
		t.Errorf("%s: timeline %d → %d rows", what, rows, rowsAfter)
	}
	if !reflect.DeepEqual(boxAfter, box) {
		t.Errorf("%s: messages and pushes per user %v → %v", what, box, boxAfter)
	}
}

// Every action, taken and then sent again by the same person with the
// same input (a phone retrying): 200 with the same order, one timeline
// row, one message and push per recipient, the deadline where it was.
// Another person's same request, and the same person's with another
// target, are refused or taken as their own act, as before.
func TestRepeatedActions(t *testing.T) {
	e := newLoopEnv(t)
	dup, dup2 := e.repeatEnv()
	cases := repeatCases(dup, dup2)
	var covered []string
	for _, rc := range cases {
		covered = append(covered, rc.action)
	}
	for _, a := range append(Actions(), ActEscalate) {
		if !slices.Contains(covered, a) {
			t.Fatalf("no repeat case for %s", a)
		}
	}
	for _, rc := range cases {
		t.Run(rc.action, func(t *testing.T) {
			id := e.drive(rc.state, dup)
			rows := len(e.events(id))
			first, err := e.tableDo(rc.by, id, rc.action, rc.in(e))
			if err != nil {
				t.Fatalf("first %s by %s: %v", rc.action, rc.by, err)
			}
			firstView := View{Order: first}
			if got := len(e.events(id)); got != rows+1 {
				t.Fatalf("first %s wrote %d timeline rows", rc.action, got-rows)
			}
			// Time passes between the attempts: a second write would
			// move the step's clock.
			e.clock.Advance(time.Minute)
			try := func(what, by string, in Input, want outcome) {
				before, n, box := e.load(id), len(e.events(id)), e.outboxOf(id)
				v, err := e.tableDo(by, id, rc.action, in)
				e.checkAgain(t, what, id, want, firstView, v, err, before, n, box)
			}
			try("the same request again", rc.by, rc.in(e), rc.again)
			if rc.again.repeat {
				// And a third time, from the api's point of view: Act's view.
				if rc.action != ActEscalate {
					v, err := e.svc.Act(e.ctx, e.actor(rc.by), id, rc.action, rc.in(e))
					if err != nil || v.Version != first.Version || v.State != first.State {
						t.Fatalf("third attempt: %+v %v", v.Order, err)
					}
				}
			}
			try("another person", rc.other, rc.in(e), rc.byOther)
			if rc.changed != nil {
				try("the same person with another target", rc.by, rc.changed(e), rc.change)
			}
		})
	}
}

// A repeat is the person's own last act: once someone else has acted
// since, the same request is what it was before this rule (here: a
// second dispatch to the same firm re-dispatches after the firm returned
// the order).
func TestRepeatOnlyOfTheLastStep(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateVerified, 0)
	in := Input{HandlerKind: model.HandlerFirm}
	e.act("community", id, ActDispatch, in)
	e.act("manager", id, ActReturn, Input{Reason: "不属于物业服务范围"})
	rows := len(e.events(id))
	if v := e.act("community", id, ActDispatch, in); v.State != model.StateDispatched || len(e.events(id)) != rows+1 {
		t.Fatalf("dispatch after a return: %s, %d rows", v.State, len(e.events(id))-rows)
	}
	// The scheduler's warning stands aside: a retry after it is still a repeat.
	id = e.drive(model.StateVerified, 0)
	e.act("community", id, ActDispatch, in)
	o := e.load(id)
	c, err := e.svc.take(e.ctx, system(), id, ActWarn, Input{})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	rows = len(e.events(id))
	v := e.act("community", id, ActDispatch, in)
	if len(e.events(id)) != rows || v.Version != c.Version || !v.StepDeadline.Equal(*o.StepDeadline) {
		t.Fatalf("dispatch again after the warning: v%d (warned at v%d), deadline %v → %v, %d rows",
			v.Version, c.Version, o.StepDeadline, v.StepDeadline, len(e.events(id))-rows)
	}
}

// Two copies of one request at once (a phone's retry overtaking the
// first): one timeline row, one push per recipient, and both answered 200
// with the same order.
func TestRepeatRaces(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("races need MariaDB: SQLite serialises every writer on one connection")
	}
	e := newLoopEnv(t)
	dup, dup2 := e.repeatEnv()
	for _, rc := range repeatCases(dup, dup2) {
		if !rc.again.repeat || rc.action == ActEscalate {
			continue
		}
		t.Run(rc.action, func(t *testing.T) {
			id := e.drive(rc.state, dup)
			rows := len(e.events(id))
			in := rc.in(e)
			var wg sync.WaitGroup
			var vs [2]View
			var errs [2]error
			start := make(chan struct{})
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					vs[i], errs[i] = e.svc.Act(e.ctx, e.actor(rc.by), id, rc.action, in)
				}()
			}
			close(start)
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("answers %v, %v; want 200 twice", errs[0], errs[1])
			}
			if got := len(e.events(id)); got != rows+1 {
				t.Fatalf("%d timeline rows, want 1", got-rows)
			}
			o := e.load(id)
			if vs[0].Version != o.Version || vs[1].Version != o.Version {
				t.Fatalf("answered v%d and v%d, the order is at v%d", vs[0].Version, vs[1].Version, o.Version)
			}
			var dups int64
			e.db.Raw("SELECT COUNT(*) FROM (SELECT user_id, event FROM outboxes WHERE order_id = ? GROUP BY user_id, event HAVING COUNT(*) > 1) d", id).Scan(&dups)
			if dups != 0 {
				t.Fatalf("%d pushes sent twice", dups)
			}
		})
	}
}

// A repeat still needs sight of the order, except of a 退单, which takes
// it away: a person whose grant was revoked since reads nothing by
// repeating their act.
func TestRepeatNeedsSight(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateSubmitted, 0)
	e.act("grid", id, ActVerify, Input{})
	now := e.clock.Now()
	if err := e.db.Model(&model.Grant{}).Where("user_id = ?", e.city.Users["grid"]).Update("revoked_at", &now).Error; err != nil {
		t.Fatal(err)
	}
	e.Forget("grid")
	_, err := e.svc.Act(e.ctx, e.actor("grid"), id, ActVerify, Input{})
	wantKind(t, err, service.KindForbidden, "out_of_scope")
}

// A manager whose grant was revoked after returning an order learns
// nothing from sending the return again: it is no repeat for him.
func TestRepeatOfAReturnNeedsTheRoleStill(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateVerified, 0)
	e.act("community", id, ActDispatch, Input{HandlerKind: model.HandlerFirm})
	in := Input{Reason: "不属于物业服务范围"}
	e.act("manager", id, ActReturn, in)
	t.Run("still a manager: a repeat", func(t *testing.T) {
		if _, err := e.svc.Act(e.ctx, e.actor("manager"), id, ActReturn, in); err != nil {
			t.Fatalf("repeat by the manager: %v", err)
		}
	})
	t.Run("revoked: refused", func(t *testing.T) {
		revoked := &service.Actor{UserID: e.city.Users["manager"]}
		v, err := e.svc.Act(e.ctx, revoked, id, ActReturn, in)
		if err == nil {
			t.Fatalf("a revoked manager got the order back: state %s", v.State)
		}
	})
}
