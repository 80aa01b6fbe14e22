package order

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
)

// statePaused is in_progress with the clock paused, for the table test.
const statePaused = "paused"

// drive makes a fresh environment order of the resident (household 0,
// grid 0, community 0, served by the firm) and takes it to state through
// the service itself.
func (e *loopEnv) drive(state string, dup int64) int64 {
	e.t.Helper()
	id := e.submit("resident", "environment").ID
	step := func(name, action string, in Input) { e.act(name, id, action, in) }
	path := map[string][]func(){
		model.StateVerified:   {func() { step("grid", ActVerify, Input{}) }},
		model.StateDispatched: {func() { step("community", ActDispatch, Input{HandlerKind: model.HandlerFirm}) }},
		model.StateAccepted:   {func() { step("manager", ActAccept, Input{}) }},
		model.StateInProgress: {
			func() { step("manager", ActAssign, Input{WorkerID: e.city.Users["worker"]}) },
			func() { step("worker", ActStart, Input{}) },
		},
		statePaused:          {func() { step("worker", ActPause, Input{Reason: "等配件"}) }},
		model.StateCompleted: {func() { step("worker", ActComplete, Input{PhotoIDs: []int64{e.photo("worker")}}) }},
		model.StateConfirmed: {func() { step("grid", ActConfirm, Input{}) }},
		model.StateClosed:    {func() { step("resident", ActRate, Input{Overall: 2}) }},
	}
	chain := []string{model.StateSubmitted, model.StateVerified, model.StateDispatched, model.StateAccepted,
		model.StateInProgress, model.StateCompleted, model.StateConfirmed, model.StateClosed}
	switch state {
	case model.StateRejected:
		step("grid", ActReject, Input{Reason: "不属实"})
		return id
	case model.StateMerged:
		step("grid", ActMerge, Input{DuplicateOf: dup})
		return id
	case model.StateCancelled:
		step("resident", ActCancel, Input{})
		return id
	case statePaused:
		for _, s := range chain[1:5] {
			for _, f := range path[s] {
				f()
			}
		}
		path[statePaused][0]()
		return id
	}
	for _, s := range chain[1:] {
		if slices.Index(chain, s) > slices.Index(chain, state) {
			break
		}
		for _, f := range path[s] {
			f()
		}
	}
	return id
}

// tableInput is a valid input for action by name, so that only role and
// state decide the outcome.
func (e *loopEnv) tableInput(action, name string, dup int64) Input {
	switch action {
	case ActReject, ActReturn, ActPause, ActRework, ActEscalate:
		return Input{Reason: "测试原因"}
	case ActMerge:
		return Input{DuplicateOf: dup}
	case ActResolve, ActProgress, ActRevisit:
		return Input{Note: "现场已处理"}
	case ActDispatch:
		return Input{HandlerKind: model.HandlerFirm}
	case ActAssign:
		return Input{WorkerID: e.city.Users["worker"]}
	case ActReassign:
		return Input{WorkerID: e.city.Users["newcomer"]}
	case ActComplete:
		if name == "system" {
			name = "worker" // the system uploads nothing; its attempt is refused anyway
		}
		return Input{PhotoIDs: []int64{e.photo(name)}}
	case ActRate:
		return Input{Overall: 2}
	}
	return Input{}
}

// tableAllowed is the specification the table test checks, written out
// independently of the steps table: action → state → who may.
var tableAllowed = map[string]map[string][]string{
	ActVerify:   {model.StateSubmitted: {"grid"}},
	ActReject:   {model.StateSubmitted: {"grid"}, model.StateVerified: {"grid", "community"}},
	ActMerge:    {model.StateSubmitted: {"grid"}, model.StateVerified: {"grid", "community"}},
	ActResolve:  {model.StateSubmitted: {"grid"}, model.StateVerified: {"grid", "community"}},
	ActDispatch: {model.StateVerified: {"community"}, model.StateDispatched: {"community"}},
	ActAccept:   {model.StateDispatched: {"manager"}},
	ActReturn:   {model.StateDispatched: {"manager"}, model.StateAccepted: {"manager"}},
	ActAssign:   {model.StateAccepted: {"manager"}, model.StateInProgress: {"manager"}, statePaused: {"manager"}},
	ActReassign: {model.StateAccepted: {"manager"}, model.StateInProgress: {"manager"}, statePaused: {"manager"}},
	ActStart:    {model.StateAccepted: {"manager"}},
	ActProgress: {model.StateAccepted: {"manager"}, model.StateInProgress: {"manager", "worker"}, statePaused: {"manager", "worker"}},
	ActPause: {model.StateAccepted: {"manager"}, model.StateInProgress: {"manager", "worker"},
		statePaused: {"manager", "worker"}},
	ActResume: {model.StateAccepted: {"manager"}, model.StateInProgress: {"manager", "worker"},
		statePaused: {"manager", "worker"}},
	ActComplete: {model.StateInProgress: {"manager", "worker"}, statePaused: {"manager", "worker"}},
	ActConfirm:  {model.StateCompleted: {"grid", "community"}},
	ActRework:   {model.StateCompleted: {"grid", "community"}},
	ActRate:     {model.StateConfirmed: {"resident"}},
	ActRevisit:  {model.StateClosed: {"community"}},
	ActCancel:   {model.StateSubmitted: {"resident"}, model.StateVerified: {"resident"}, model.StateDispatched: {"resident"}},
	ActUrge: {model.StateDispatched: {"community", "street", "city"}, model.StateAccepted: {"community", "street", "city"},
		model.StateInProgress: {"community", "street", "city"}, statePaused: {"community", "street", "city"}},
	// The system's moves: escalation by the level's holder or on a breach,
	// the close of an unrated order.
	ActEscalate: {model.StateSubmitted: {"grid", "system"}, model.StateVerified: {"community", "system"},
		model.StateDispatched: {"community", "system"}, model.StateAccepted: {"community", "system"},
		model.StateInProgress: {"community", "system"}, statePaused: {"community", "system"},
		model.StateCompleted: {"community", "system"}},
	ActAutoClose: {model.StateConfirmed: {"system"}},
	ActWarn: {model.StateSubmitted: {"system"}, model.StateVerified: {"system"}, model.StateDispatched: {"system"},
		model.StateAccepted: {"system"}, model.StateInProgress: {"system"}, statePaused: {"system"},
		model.StateCompleted: {"system"}},
	ActOverdue: {model.StateSubmitted: {"system"}, model.StateVerified: {"system"}, model.StateDispatched: {"system"},
		model.StateAccepted: {"system"}, model.StateInProgress: {"system"}, statePaused: {"system"},
		model.StateCompleted: {"system"}},
}

// tableMoved are the moves whose to-state depends on the from-state:
// escalation hands an order not yet accepted back to dispatch.
var tableMoved = map[string]map[string]string{
	ActEscalate: {model.StateDispatched: model.StateVerified},
}

// tableRefusal is how an action refuses a wrong state, when not with 409.
var tableRefusal = map[string]string{ActEscalate: "order_not_open"}

// tableRule are the allowed role and state pairs that a rule of the
// action itself refuses: assigning twice, reassigning nobody, pausing
// twice, resuming a running clock.
var tableRule = map[string]map[string]string{
	ActAssign:   {model.StateInProgress: "already_assigned", statePaused: "already_assigned"},
	ActReassign: {model.StateAccepted: "not_assigned"},
	ActPause:    {statePaused: "already_paused"},
	ActResume:   {model.StateAccepted: "not_paused", model.StateInProgress: "not_paused"},
	// A paused clock earns no deadline notice.
	ActWarn:    {statePaused: "state_conflict"},
	ActOverdue: {statePaused: "state_conflict"},
}

// tableLast is the last act of drive for each state, by whom. The same
// person taking the same action again, with the same input, is a repeat:
// 200 with the order as it is, nothing written (repeat.go).
var tableLast = map[string][2]string{
	model.StateVerified: {ActVerify, "grid"}, model.StateDispatched: {ActDispatch, "community"},
	model.StateAccepted: {ActAccept, "manager"}, model.StateInProgress: {ActStart, "worker"},
	statePaused: {ActPause, "worker"}, model.StateCompleted: {ActComplete, "worker"},
	model.StateConfirmed: {ActConfirm, "grid"}, model.StateClosed: {ActRate, "resident"},
	model.StateRejected: {ActReject, "grid"}, model.StateMerged: {ActMerge, "grid"},
	model.StateCancelled: {ActCancel, "resident"},
}

var tableTo = map[string]string{
	ActVerify: model.StateVerified, ActReject: model.StateRejected, ActMerge: model.StateMerged,
	ActResolve: model.StateCompleted, ActDispatch: model.StateDispatched, ActAccept: model.StateAccepted,
	ActReturn: model.StateVerified, ActStart: model.StateInProgress, ActComplete: model.StateCompleted,
	ActConfirm: model.StateConfirmed, ActRework: model.StateInProgress, ActRate: model.StateClosed,
	ActRevisit: model.StateClosed, ActCancel: model.StateCancelled, ActAutoClose: model.StateClosed,
}

// tableDo takes action on the order as role through the entry the action
// has: Act for the endpoints, Escalate for escalation, and the steps
// table itself for the system (the scheduler's way in) and for a person
// trying a move only the system makes.
func (e *loopEnv) tableDo(role string, id int64, action string, in Input) (model.Order, error) {
	if role == "system" {
		return e.svc.take(e.ctx, system(), id, action, in)
	}
	a := e.actor(role)
	switch steps[action].entry {
	case "":
		v, err := e.svc.Act(e.ctx, a, id, action, in)
		return v.Order, err
	case "escalate":
		v, err := e.svc.Escalate(e.ctx, a, id, in.Reason)
		return v.Order, err
	}
	return e.svc.take(e.ctx, person(a), id, action, in)
}

// Every (state, action, role): the allowed ones succeed; all others are
// 403 or 409 and change neither the order, its timeline nor any inbox.
func TestTransitionTable(t *testing.T) {
	e := newLoopEnv(t)
	e.grant("newcomer", model.RoleFirmWorker, model.ScopeFirm, e.city.Firm.ID, model.Ancestry{CityID: e.city.CityID})
	dup := e.submit("resident", "environment").ID
	roles := []string{"resident", "resident2", "grid", "grid3", "steward", "community", "community2", "street",
		"city", "manager", "worker", "newcomer", "department", "volunteer", "admin", "duty", "committee", "system"}
	actions := slices.Sorted(maps.Keys(steps))
	states := []string{model.StateSubmitted, model.StateVerified, model.StateDispatched, model.StateAccepted,
		model.StateInProgress, statePaused, model.StateCompleted, model.StateConfirmed, model.StateClosed,
		model.StateRejected, model.StateMerged, model.StateCancelled}
	if len(tableAllowed) != len(steps) {
		t.Fatalf("the table covers %d actions, the service has %d", len(tableAllowed), len(steps))
	}
	for _, state := range states {
		shared := e.drive(state, dup)
		for _, action := range actions {
			t.Run(state+"/"+action, func(t *testing.T) {
				before, evs := e.load(shared), len(e.events(shared))
				var msgs int64
				e.db.Model(&model.Message{}).Where("order_id = ?", shared).Count(&msgs)
				for _, role := range roles {
					allowed := slices.Contains(tableAllowed[action][state], role)
					in := e.tableInput(action, role, dup)
					if tableLast[state] == [2]string{action, role} {
						// The repeat writes nothing: the checks below on
						// the shared order hold for it too.
						if v, err := e.tableDo(role, shared, action, in); err != nil || v.Version != before.Version {
							t.Errorf("%s %s by %s again: v%d %v, want the order as it is (v%d)", state, action, role,
								v.Version, err, before.Version)
						}
						continue
					}
					if !allowed {
						_, err := e.tableDo(role, shared, action, in)
						k := service.KindOf(err)
						var se *service.Error
						if k != service.KindForbidden && k != service.KindConflict &&
							!(errors.As(err, &se) && se.Code == tableRefusal[action] && se.Code != "") {
							t.Errorf("%s %s by %s: %v, want 403 or 409", state, action, role, err)
						}
						continue
					}
					id := e.drive(state, dup)
					prevEvents := len(e.events(id))
					v, err := e.tableDo(role, id, action, in)
					if code, ok := tableRule[action][state]; ok {
						var se *service.Error
						if !errors.As(err, &se) || se.Code != code {
							t.Errorf("%s %s by %s: %v, want %s", state, action, role, err, code)
						}
						continue
					}
					if err != nil {
						t.Errorf("%s %s by %s: %v", state, action, role, err)
						continue
					}
					want := tableTo[action]
					if to, ok := tableMoved[action][state]; ok {
						want = to
					}
					if want == "" {
						want = e.load(id).State // unchanged by the action
						if state != statePaused && state != want {
							t.Errorf("%s %s by %s moved the order to %s", state, action, role, want)
						}
					}
					if v.State != want {
						t.Errorf("%s %s by %s: state %s, want %s", state, action, role, v.State, want)
					}
					after := e.events(id)
					if len(after) != prevEvents+1 || after[len(after)-1].Action != action || after[len(after)-1].Role == "" {
						t.Errorf("%s %s by %s: timeline %d → %d, last %+v", state, action, role, prevEvents, len(after), after[len(after)-1])
					}
				}
				if after := e.load(shared); !reflect.DeepEqual(after, before) {
					t.Errorf("%s %s: refused actions changed the order:\n%+v\n%+v", state, action, before, after)
				}
				if n := len(e.events(shared)); n != evs {
					t.Errorf("%s %s: refused actions wrote %d events", state, action, n-evs)
				}
				var msgs2 int64
				e.db.Model(&model.Message{}).Where("order_id = ?", shared).Count(&msgs2)
				if msgs2 != msgs {
					t.Errorf("%s %s: refused actions wrote %d messages", state, action, msgs2-msgs)
				}
			})
		}
	}
}

func TestTransitionConflictCarriesTheCurrentState(t *testing.T) {
	e := newLoopEnv(t)
	// Another manager of the firm: the one who accepted would repeat his act.
	e.grant("newcomer", model.RoleFirmManager, model.ScopeFirm, e.city.Firm.ID, model.Ancestry{CityID: e.city.CityID})
	id := e.drive(model.StateAccepted, 0)
	_, err := e.svc.Act(e.ctx, e.actor("newcomer"), id, ActAccept, Input{})
	var se *service.Error
	if !errors.As(err, &se) || se.Kind != service.KindConflict {
		t.Fatalf("accept twice: %v", err)
	}
	d, _ := se.Detail.(map[string]any)
	o := e.load(id)
	if d["state"] != model.StateAccepted || d["version"] != o.Version {
		t.Fatalf("detail %v, order at %s v%d", se.Detail, o.State, o.Version)
	}
}

// Two managers accept at once; a confirm races a rework. Exactly one wins;
// the loser gets 409 and the row, its version and its timeline are
// exactly what the winner left.
func TestTransitionRaces(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("races need MariaDB: SQLite serialises every writer on one connection")
	}
	e := newLoopEnv(t)
	e.grant("newcomer", model.RoleFirmManager, model.ScopeFirm, e.city.Firm.ID, model.Ancestry{CityID: e.city.CityID})
	type result struct {
		v   View
		err error
	}
	race := func(a, b func() result) (rs [2]result) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, f := range []func() result{a, b} {
			wg.Add(1)
			go func(i int, f func() result) {
				defer wg.Done()
				<-start
				rs[i] = f()
			}(i, f)
		}
		close(start)
		wg.Wait()
		return rs
	}
	do := func(name string, id int64, action string, in Input) func() result {
		a := e.actor(name)
		return func() result {
			v, err := e.svc.Act(e.ctx, a, id, action, in)
			return result{v, err}
		}
	}
	// check finds the one winner and compares the row with what it saw.
	check := func(t *testing.T, id int64, before model.Order, evs int, rs [2]result, actions [2]string) {
		t.Helper()
		oneWinner(t, "race", [2]error{rs[0].err, rs[1].err})
		w := 0
		if rs[0].err != nil {
			w = 1
		}
		o, won := e.load(id), rs[w].v
		if o.Version != before.Version+1 || o.Version != won.Version || o.State != won.State {
			t.Fatalf("row at v%d %s, winner left v%d %s (from v%d)", o.Version, o.State, won.Version, won.State, before.Version)
		}
		var se *service.Error
		// Whether the loser read the order before the winner wrote it (and
		// lost the compare-and-set) or after (and found the wrong state),
		// it is told of the order as the winner left it.
		if !errors.As(rs[1-w].err, &se) {
			t.Fatalf("loser: %v", rs[1-w].err)
		}
		if d, _ := se.Detail.(map[string]any); d["version"] != o.Version || d["state"] != o.State {
			t.Fatalf("loser told of %v, the row is at v%d %s", se.Detail, o.Version, o.State)
		}
		after := e.events(id)
		if len(after) != evs+1 || after[evs].Action != actions[w] {
			t.Fatalf("timeline %d → %d rows, last %+v, winner %s", evs, len(after), after[len(after)-1], actions[w])
		}
	}
	for round := 0; round < 5; round++ {
		t.Run(fmt.Sprintf("accept/accept %d", round), func(t *testing.T) {
			id := e.drive(model.StateDispatched, 0)
			before, evs := e.load(id), len(e.events(id))
			rs := race(do("manager", id, ActAccept, Input{}), do("newcomer", id, ActAccept, Input{}))
			check(t, id, before, evs, rs, [2]string{ActAccept, ActAccept})
		})
		t.Run(fmt.Sprintf("confirm/rework %d", round), func(t *testing.T) {
			id := e.drive(model.StateCompleted, 0)
			before, evs := e.load(id), len(e.events(id))
			rs := race(do("grid", id, ActConfirm, Input{}), do("community", id, ActRework, Input{Reason: "没修好"}))
			check(t, id, before, evs, rs, [2]string{ActConfirm, ActRework})
			want := model.StateConfirmed
			if rs[0].err != nil {
				want = model.StateInProgress
			}
			if o := e.load(id); o.State != want {
				t.Fatalf("state %s, want %s", o.State, want)
			}
		})
	}
}

// The loser of the compare-and-set, on either engine: a move prepared on a
// copy the winner has since changed gets 409 with the winner's state and
// version, and the row, its timeline and the inboxes stay exactly as the
// winner left them.
func TestMoveLoserChangesNothing(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateDispatched, 0)
	stale := e.load(id)
	c, err := e.svc.prepare(e.ctx, e.db, person(e.actor("manager")), stale, ActAccept, Input{}, e.cats["environment"], nil, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.act("manager", id, ActReturn, Input{Reason: "不属于物业服务范围"})
	won, evs := e.load(id), len(e.events(id))
	var msgs int64
	e.db.Model(&model.Message{}).Where("order_id = ?", id).Count(&msgs)

	err = model.InTx(e.ctx, e.db, func(tx *gorm.DB) error { return e.svc.commit(e.ctx, tx, c) })
	var se *service.Error
	if !errors.As(err, &se) || se.Code != "state_conflict" {
		t.Fatalf("stale accept: %v", err)
	}
	if d, _ := se.Detail.(map[string]any); d["state"] != model.StateVerified || d["version"] != won.Version {
		t.Fatalf("conflict detail %v, the winner left %s v%d", se.Detail, won.State, won.Version)
	}
	if cur := e.load(id); !reflect.DeepEqual(cur, won) {
		t.Fatalf("the loser changed the row:\n%+v\n%+v", won, cur)
	}
	if n := len(e.events(id)); n != evs {
		t.Fatalf("the loser wrote %d timeline rows", n-evs)
	}
	var msgs2 int64
	e.db.Model(&model.Message{}).Where("order_id = ?", id).Count(&msgs2)
	if msgs2 != msgs {
		t.Fatalf("the loser wrote %d messages", msgs2-msgs)
	}
}

func oneWinner(t *testing.T, what string, errs [2]error) {
	t.Helper()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if service.KindOf(err) != service.KindConflict {
			t.Fatalf("%s: loser got %v, want 409", what, err)
		}
	}
	if won != 1 {
		t.Fatalf("%s: %d winners (%v)", what, won, errs)
	}
}

func TestPauseMovesTheDeadlineInWorkingTime(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateAccepted, 0) // environment: 1 working day to complete
	o := e.load(id)
	// Accepted Monday 10:00 Beijing: due Tuesday 10:00.
	if want := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC); !o.StepDeadline.Equal(want) {
		t.Fatalf("deadline %v, want %v", o.StepDeadline, want)
	}
	e.clock.Advance(2 * time.Hour) // Monday 12:00: 22 working hours left
	e.act("manager", id, ActPause, Input{Reason: "业主不在家"})
	if o := e.load(id); o.PausedAt == nil || o.PauseReason != "业主不在家" {
		t.Fatalf("not paused: %+v", o)
	}
	e.clock.Advance(4 * 24 * time.Hour) // Friday 12:00
	e.act("manager", id, ActResume, Input{})
	o = e.load(id)
	// 12 h of Friday, the weekend off, 10 h of Monday.
	if want := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC); o.PausedAt != nil || !o.StepDeadline.Equal(want) {
		t.Fatalf("after resume: paused %v deadline %v, want %v", o.PausedAt, o.StepDeadline, want)
	}
	if o.StepStartedAt == nil || !o.StepStartedAt.Before(*o.StepDeadline) {
		t.Fatalf("step start %v", o.StepStartedAt)
	}
	evs := e.events(id)
	if last := evs[len(evs)-1]; last.Action != ActResume || last.Role != model.RoleFirmManager {
		t.Fatalf("last event %+v", last)
	}
}

func TestPauseMovesTheDeadlineInWallClockTime(t *testing.T) {
	e := newLoopEnv(t)
	id := e.submit("grid", "safety_hazard", func(in *SubmitInput) {
		in.Channel, in.HouseholdID, in.CompoundID = model.ChannelPatrol, 0, e.city.Compounds[0].ID
	}).ID
	e.act("community", id, ActDispatch, Input{HandlerKind: model.HandlerFirm})
	e.act("manager", id, ActAccept, Input{})
	before := e.load(id)
	e.act("manager", id, ActPause, Input{Reason: "等配件"})
	e.clock.Advance(5 * time.Hour)
	e.act("manager", id, ActResume, Input{})
	after := e.load(id)
	if d := after.StepDeadline.Sub(*before.StepDeadline); d != 5*time.Hour {
		t.Fatalf("deadline moved by %v, want 5h", d)
	}
	if d := after.StepStartedAt.Sub(*before.StepStartedAt); d != 5*time.Hour {
		t.Fatalf("step start moved by %v, want 5h", d)
	}
}

func TestDispatchRules(t *testing.T) {
	e := newLoopEnv(t)
	// Compound 2 has no firm: dispatching it to the firm is refused.
	far := e.submit("resident2", "environment", func(in *SubmitInput) { in.HouseholdID = e.city.Households[16].ID }).ID
	e.act("grid3", far, ActVerify, Input{})
	_, err := e.svc.Act(e.ctx, e.actor("community2"), far, ActDispatch, Input{HandlerKind: model.HandlerFirm})
	wantKind(t, err, service.KindUnprocessable, "firm_not_contracted")
	_, err = e.svc.Act(e.ctx, e.actor("community2"), far, ActDispatch, Input{HandlerKind: model.HandlerGrid, HandlerID: e.city.Grids[0].ID})
	wantKind(t, err, service.KindUnprocessable, "grid_out_of_community")
	_, err = e.svc.Act(e.ctx, e.actor("community2"), far, ActDispatch, Input{HandlerKind: "police"})
	wantKind(t, err, service.KindInvalid, "bad_handler")
	past := e.clock.Now().Add(-time.Hour)
	_, err = e.svc.Act(e.ctx, e.actor("community2"), far, ActDispatch, Input{HandlerKind: model.HandlerDepartment,
		HandlerID: e.city.Department.ID, Deadline: &past})
	wantKind(t, err, service.KindInvalid, "bad_deadline")
	// The street's department, with a due date earlier than the accept budget.
	due := e.clock.Now().Add(90 * time.Minute)
	v := e.act("community2", far, ActDispatch, Input{HandlerKind: model.HandlerDepartment, HandlerID: e.city.Department.ID, Deadline: &due})
	if v.HandlerKind != model.HandlerDepartment || v.StepDeadline == nil || !v.StepDeadline.Equal(due) || v.HandlerName != e.city.Department.Name {
		t.Fatalf("department dispatch: %+v", v.Order)
	}
	if ms := e.messages("department", far); len(ms) != 1 || ms[0].Event != "order.dispatched" {
		t.Fatalf("department inbox %+v", ms)
	}
	// The department accepts; its due date bounds the complete step too.
	v = e.act("department", far, ActAccept, Input{})
	if !v.StepDeadline.Equal(due) {
		t.Fatalf("accepted deadline %v, want the due date %v", v.StepDeadline, due)
	}
	// Redirecting an auto-dispatched repair before it is accepted.
	id := e.submit("resident", "repair.plumbing").ID
	v = e.act("community", id, ActDispatch, Input{HandlerKind: model.HandlerVolunteer})
	if v.HandlerKind != model.HandlerVolunteer || v.HandlerID != e.city.Communities[0].ID {
		t.Fatalf("redirect: %+v", v.Order)
	}
	if _, err := e.svc.Act(e.ctx, e.actor("manager"), id, ActAccept, Input{}); service.KindOf(err) != service.KindForbidden {
		t.Fatalf("the firm accepted a redirected order: %v", err)
	}
	e.act("volunteer", id, ActAccept, Input{})
	v, _ = e.svc.Get(e.ctx, e.actor("community"), id)
	// The chain: the firm, the volunteer team, and the volunteer who took it up.
	if len(v.Handlers) != 3 || v.Handlers[0].HandlerKind != model.HandlerFirm || v.Handlers[1].HandlerKind != model.HandlerVolunteer ||
		v.Handlers[1].ActorID != e.city.Users["community"] || v.Handlers[2].AssigneeID != e.city.Users["volunteer"] {
		t.Fatalf("chain of handlers %+v", v.Handlers)
	}
	// Only that volunteer learns who asked; the rest of the team sees a masked name.
	e.grant("newcomer", model.RoleVolunteer, model.ScopeCommunity, e.city.Communities[0].ID, e.city.Communities[0].Ancestry)
	if v, err := e.svc.Get(e.ctx, e.actor("newcomer"), id); err != nil || !v.NameMasked || v.ResidentPhone != "" {
		t.Fatalf("another volunteer's view %+v %v", v, err)
	}
	if v, _ := e.svc.Get(e.ctx, e.actor("volunteer"), id); v.NameMasked || v.ResidentPhone == "" {
		t.Fatalf("the accepting volunteer's view %+v", v)
	}
}

func TestReturnMergeResolveReworkRevisit(t *testing.T) {
	e := newLoopEnv(t)
	t.Run("return: back to verified for the community, the firm lets go", func(t *testing.T) {
		id := e.drive(model.StateDispatched, 0)
		_, err := e.svc.Act(e.ctx, e.actor("manager"), id, ActReturn, Input{})
		wantKind(t, err, service.KindInvalid, "reason_required")
		v := e.act("manager", id, ActReturn, Input{Reason: "不属于物业服务范围"})
		if v.State != model.StateVerified || v.HandlerKind != "" || v.Level != model.OrderLevelCommunity {
			t.Fatalf("return: %+v", v.Order)
		}
		if ms := e.messages("community", id); len(ms) == 0 || ms[len(ms)-1].Event != "order.returned" {
			t.Fatalf("community inbox %+v", ms)
		}
		if _, err := e.svc.Get(e.ctx, e.actor("manager"), id); service.KindOf(err) != service.KindForbidden {
			t.Fatalf("the firm still sees a returned order: %v", err)
		}
	})
	t.Run("merge: only into an open order of the same compound", func(t *testing.T) {
		target := e.submit("resident", "environment").ID
		closed := e.drive(model.StateClosed, 0)
		far := e.submit("resident2", "environment", func(in *SubmitInput) { in.HouseholdID = e.city.Households[16].ID }).ID
		dup := e.submit("resident", "environment").ID
		for _, bad := range []int64{dup, closed, far, 999999} {
			_, err := e.svc.Act(e.ctx, e.actor("grid"), dup, ActMerge, Input{DuplicateOf: bad})
			wantKind(t, err, service.KindUnprocessable, "bad_duplicate")
		}
		v := e.act("grid", dup, ActMerge, Input{DuplicateOf: target})
		if v.State != model.StateMerged || v.DuplicateOf != target {
			t.Fatalf("merge: %+v", v.Order)
		}
		if ms := e.messages("resident", dup); len(ms) != 1 || ms[0].Event != "order.merged" || ms[0].Kind != kindProgress {
			t.Fatalf("author not told of the merge: %+v", ms)
		}
	})
	t.Run("resolve on the spot, then rework: no handler, so back to dispatch", func(t *testing.T) {
		id := e.submit("resident", "environment").ID
		_, err := e.svc.Act(e.ctx, e.actor("grid"), id, ActResolve, Input{})
		wantKind(t, err, service.KindInvalid, "note_required")
		v := e.act("grid", id, ActResolve, Input{Note: "已清理楼道", PhotoIDs: []int64{e.photo("grid")}})
		if v.State != model.StateCompleted || v.CompletedAt == nil {
			t.Fatalf("resolve: %+v", v.Order)
		}
		v = e.act("grid", id, ActRework, Input{Reason: "仍有杂物"})
		if v.State != model.StateVerified || v.Level != model.OrderLevelCommunity || v.CompletedAt != nil {
			t.Fatalf("rework of a resolved order: %+v", v.Order)
		}
	})
	t.Run("rework goes back to the same handler and worker", func(t *testing.T) {
		id := e.drive(model.StateCompleted, 0)
		// The manager: the worker's own second complete would be a repeat.
		_, err := e.svc.Act(e.ctx, e.actor("manager"), id, ActComplete, Input{})
		wantKind(t, err, service.KindConflict, "state_conflict")
		v := e.act("grid", id, ActRework, Input{Reason: "还在漏"})
		if v.State != model.StateInProgress || v.AssigneeID != e.city.Users["worker"] || v.HandlerID != e.city.Firm.ID {
			t.Fatalf("rework: %+v", v.Order)
		}
		_, err = e.svc.Act(e.ctx, e.actor("worker"), id, ActComplete, Input{})
		wantKind(t, err, service.KindUnprocessable, "photos_required")
	})
	t.Run("revisit: only after a low rating; reopening sends it back to the handler as rework", func(t *testing.T) {
		good := e.drive(model.StateConfirmed, 0)
		e.act("resident", good, ActRate, Input{Overall: 5, Timeliness: 4, Attitude: 5, Comment: "很满意"})
		_, err := e.svc.Act(e.ctx, e.actor("community"), good, ActRevisit, Input{Note: "回访", Reopen: true})
		wantKind(t, err, service.KindUnprocessable, "revisit_not_needed")
		bad := e.drive(model.StateClosed, 0)
		v := e.act("community", bad, ActRevisit, Input{Note: "居民反映仍未修好", Reopen: true})
		if v.State != model.StateInProgress || v.RatingOverall != 0 || v.HandlerKind != model.HandlerFirm ||
			v.HandlerID != e.city.Firm.ID || v.ClosedAt != nil || v.StepDeadline == nil {
			t.Fatalf("reopen: %+v", v.Order)
		}
		if ms := e.messages("community", bad); len(ms) == 0 || ms[len(ms)-1].Event != "order.reopened" {
			t.Fatalf("community inbox %+v", ms)
		}
		if ms := e.messages("manager", bad); len(ms) == 0 || ms[len(ms)-1].Event != "order.rectify_rework" {
			t.Fatalf("manager inbox %+v", ms)
		}
	})
	t.Run("rating input", func(t *testing.T) {
		id := e.drive(model.StateConfirmed, 0)
		for _, in := range []Input{{Overall: 0}, {Overall: 6}, {Overall: 3, Attitude: 7}} {
			_, err := e.svc.Act(e.ctx, e.actor("resident"), id, ActRate, in)
			wantKind(t, err, service.KindInvalid, "bad_rating")
		}
		_, err := e.svc.Act(e.ctx, e.actor("resident"), id, ActRate, Input{Overall: 3, Comment: string(make([]rune, 501))})
		wantKind(t, err, service.KindInvalid, "bad_comment")
	})
}

func TestNotificationsAlongTheLoop(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateClosed, 0)
	events := func(name string) []string {
		var out []string
		for _, m := range e.messages(name, id) {
			out = append(out, m.Kind+":"+m.Event)
		}
		return out
	}
	want := map[string][]string{
		"grid":      {"new_report:order.submitted", "new_report:order.to_confirm"},
		"community": {"new_report:order.verified"},
		// The rating of 2 opens a rectification the firm owes.
		"manager":  {"new_report:order.dispatched", "new_report:order.rectify_open"},
		"worker":   {"new_report:order.assigned"},
		"resident": {"progress:order.accepted", "progress:order.completed", "rating:order.confirmed"},
		"grid3":    nil, "community2": nil, "street": nil, "resident2": nil,
	}
	for name, w := range want {
		if got := events(name); !slices.Equal(got, w) {
			t.Errorf("%s inbox %v, want %v", name, got, w)
		}
	}
}
