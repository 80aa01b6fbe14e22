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

// callEnded is a call resolved with its order (the caller cancelled it):
// resolved without any response, for the table test.
const callEnded = "ended"

// The specification the responders' table test checks, written out apart
// from callActions. Responders of household 0: its grid worker, its
// building steward, the community's duty and dispatchers, the street.
var (
	callTableResponders = []string{"grid", "steward", "duty", "community", "street"}

	// callTableTo: action → state of the call → state after.
	callTableTo = map[string]map[string]string{
		CallAcknowledge: {model.CallOpen: model.CallAcknowledged},
		CallArrive:      {model.CallOpen: model.CallArrived, model.CallAcknowledged: model.CallArrived},
		CallResolve: {model.CallOpen: model.CallResolved, model.CallAcknowledged: model.CallResolved,
			model.CallArrived: model.CallResolved},
	}
	// callTableStamps: action → state → the times the responder's name
	// goes on ("ack", "arrive", "resolve"); the others stay as they were.
	callTableStamps = map[string]map[string][]string{
		CallAcknowledge: {model.CallOpen: {"ack"}},
		CallArrive:      {model.CallOpen: {"ack", "arrive"}, model.CallAcknowledged: {"arrive"}},
		CallResolve: {model.CallOpen: {"ack", "resolve"}, model.CallAcknowledged: {"resolve"},
			model.CallArrived: {"resolve"}},
	}
	// callTableRefused: action → state → the code a responder gets.
	callTableRefused = map[string]map[string]string{
		CallAcknowledge: {model.CallAcknowledged: "already_acknowledged", model.CallArrived: "already_acknowledged",
			model.CallResolved: "call_resolved", callEnded: "call_resolved"},
		CallArrive:  {model.CallArrived: "already_arrived", model.CallResolved: "call_resolved", callEnded: "call_resolved"},
		CallResolve: {model.CallResolved: "call_resolved", callEnded: "call_resolved"},
	}
	// callTableOrder: the order's state once the call is in a state.
	callTableOrder = map[string]string{
		model.CallOpen: model.StateVerified, model.CallAcknowledged: model.StateAccepted,
		model.CallArrived: model.StateInProgress, model.CallResolved: model.StateCompleted,
	}
	// callTableEvent: the timeline action of each responder action.
	callTableEvent = map[string]string{CallAcknowledge: "emergency_ack", CallArrive: "emergency_arrive",
		CallResolve: "emergency_resolve"}
)

// driveCall raises a fresh call of household 0 and takes it to state by
// the service itself, with the driver (a duty officer outside the roles
// under test) responding.
func (e *loopEnv) driveCall(state string) CallView {
	e.t.Helper()
	c, created, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
	if err != nil || !created {
		e.t.Fatalf("drive %s: call created=%v %v", state, created, err)
	}
	respond := func(action string) {
		e.t.Helper()
		if _, err := e.svc.RespondCall(e.ctx, e.actor("newcomer"), c.ID, action, ""); err != nil {
			e.t.Fatalf("drive %s: %s: %v", state, action, err)
		}
	}
	switch state {
	case model.CallAcknowledged:
		respond(CallAcknowledge)
	case model.CallArrived:
		respond(CallAcknowledge)
		respond(CallArrive)
	case model.CallResolved:
		respond(CallAcknowledge)
		respond(CallArrive)
		respond(CallResolve)
	case callEnded:
		e.act("resident", c.OrderID, ActCancel, Input{Reason: "误按"})
	}
	return c
}

// endDrivenCall resolves a call still open, so that the household may
// raise the next one.
func (e *loopEnv) endDrivenCall(id int64) {
	e.t.Helper()
	if e.callRow(id).ResolvedAt != nil {
		return
	}
	if _, err := e.svc.RespondCall(e.ctx, e.actor("newcomer"), id, CallResolve, ""); err != nil {
		e.t.Fatal(err)
	}
}

func (e *loopEnv) orderMessages(orderID int64) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.Model(&model.Message{}).Where("order_id = ?", orderID).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// Every (state, action, role) of the responders' state machine: the
// allowed cells move the call and its order and stamp the responder; the
// others are refused with their code and change neither the call, its
// order, its timeline nor any inbox.
func TestCallRespondTable(t *testing.T) {
	e, _ := newCallEnv(t)
	e.grant("newcomer", model.RoleCommunityDuty, model.ScopeCommunity, e.city.Communities[0].ID, e.city.Communities[0].Ancestry)
	roles := []string{"resident", "resident2", "grid", "grid3", "steward", "community", "community2", "street",
		"city", "manager", "worker", "department", "volunteer", "admin", "duty", "committee"}
	states := []string{model.CallOpen, model.CallAcknowledged, model.CallArrived, model.CallResolved, callEnded}
	if len(callActions) != len(callTableTo) {
		t.Fatalf("the specification covers %d actions, the service has %d", len(callTableTo), len(callActions))
	}
	for action, ca := range callActions {
		if ca.event != callTableEvent[action] {
			t.Errorf("%s writes %s to the timeline, want %s", action, ca.event, callTableEvent[action])
		}
	}
	actions := []string{CallAcknowledge, CallArrive, CallResolve}
	for _, state := range states {
		for _, action := range actions {
			t.Run(state+"/"+action, func(t *testing.T) {
				to, allowed := callTableTo[action][state]
				shared := e.driveCall(state)
				before, order, evs, msgs := e.callRow(shared.ID), e.load(shared.OrderID), len(e.events(shared.OrderID)), e.orderMessages(shared.OrderID)
				for _, role := range roles {
					responder := slices.Contains(callTableResponders, role)
					if responder && allowed {
						continue
					}
					want := "not_responder"
					if responder {
						want = callTableRefused[action][state]
					}
					_, err := e.svc.RespondCall(e.ctx, e.actor(role), shared.ID, action, "")
					var se *service.Error
					if !errors.As(err, &se) || se.Code != want {
						t.Errorf("%s: %v, want %s", role, err, want)
					}
				}
				if after := e.callRow(shared.ID); !reflect.DeepEqual(after, before) {
					t.Errorf("refused actions changed the call:\n%+v\n%+v", before, after)
				}
				if after := e.load(shared.OrderID); !reflect.DeepEqual(after, order) {
					t.Errorf("refused actions changed the order:\n%+v\n%+v", order, after)
				}
				if n := len(e.events(shared.OrderID)); n != evs {
					t.Errorf("refused actions wrote %d events", n-evs)
				}
				if n := e.orderMessages(shared.OrderID); n != msgs {
					t.Errorf("refused actions wrote %d messages", n-msgs)
				}
				e.endDrivenCall(shared.ID)
				if !allowed {
					return
				}
				for _, role := range callTableResponders {
					c := e.driveCall(state)
					prev := e.callRow(c.ID)
					prevEvents := len(e.events(c.OrderID))
					e.clock.Advance(time.Second)
					v, err := e.svc.RespondCall(e.ctx, e.actor(role), c.ID, action, "")
					if err != nil {
						t.Errorf("%s: %v", role, err)
						e.endDrivenCall(c.ID)
						continue
					}
					row := e.callRow(c.ID)
					if row.State() != to || v.Status() != to {
						t.Errorf("%s: call %s (view %s), want %s", role, row.State(), v.Status(), to)
					}
					stamps := callTableStamps[action][state]
					me, now := e.city.Users[role], e.clock.Now()
					for _, col := range []struct {
						name       string
						by, prevBy int64
						at, prevAt *time.Time
					}{
						{"ack", row.AcknowledgedBy, prev.AcknowledgedBy, row.AcknowledgedAt, prev.AcknowledgedAt},
						{"arrive", row.ArrivedBy, prev.ArrivedBy, row.ArrivedAt, prev.ArrivedAt},
						{"resolve", row.ResolvedBy, prev.ResolvedBy, row.ResolvedAt, prev.ResolvedAt},
					} {
						if slices.Contains(stamps, col.name) {
							if col.by != me || col.at == nil || !col.at.Equal(now) {
								t.Errorf("%s: %s by %d at %v, want %d at %v", role, col.name, col.by, col.at, me, now)
							}
						} else if col.by != col.prevBy || !sameTime(col.at, col.prevAt) {
							t.Errorf("%s: %s changed to %d at %v", role, col.name, col.by, col.at)
						}
					}
					if (row.OpenHousehold == nil) != (to == model.CallResolved) {
						t.Errorf("%s: open household %v with the call %s", role, row.OpenHousehold, to)
					}
					if o := e.load(c.OrderID); o.State != callTableOrder[to] {
						t.Errorf("%s: order %s, want %s", role, o.State, callTableOrder[to])
					}
					after := e.events(c.OrderID)
					last := after[len(after)-1]
					if len(after) != prevEvents+1 || last.Action != callTableEvent[action] || last.ActorID != me || last.Role == "" {
						t.Errorf("%s: timeline %d → %d, last %+v", role, prevEvents, len(after), last)
					}
					e.endDrivenCall(c.ID)
				}
			})
		}
	}
	t.Run("unknown action", func(t *testing.T) {
		c := e.driveCall(model.CallOpen)
		_, err := e.svc.RespondCall(e.ctx, e.actor("grid"), c.ID, "dance", "")
		var se *service.Error
		if !errors.As(err, &se) || se.Code != "bad_action" {
			t.Errorf("unknown action: %v, want bad_action", err)
		}
		e.endDrivenCall(c.ID)
	})
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Responders pressing at once: of two acknowledgements one wins and the
// other hears who took the call; an arrival racing an acknowledgement
// succeeds either way, decided again from the state the other left.
// MariaDB only.
func TestCallRespondRaces(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("races need MariaDB: SQLite serialises every writer on one connection")
	}
	e, _ := newCallEnv(t)
	e.grant("newcomer", model.RoleCommunityDuty, model.ScopeCommunity, e.city.Communities[0].ID, e.city.Communities[0].Ancestry)
	race := func(id int64, a, b [2]string) (errs [2]error) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, who := range [][2]string{a, b} {
			actor := e.actor(who[0])
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = e.svc.RespondCall(e.ctx, actor, id, who[1], "")
			}()
		}
		close(start)
		wg.Wait()
		return errs
	}
	for round := range 5 {
		t.Run(fmt.Sprintf("two acknowledgements %d", round), func(t *testing.T) {
			c := e.driveCall(model.CallOpen)
			errs := race(c.ID, [2]string{"grid", CallAcknowledge}, [2]string{"steward", CallAcknowledge})
			var se *service.Error
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("both or neither won: %v", errs)
			}
			lost := errs[0]
			if lost == nil {
				lost = errs[1]
			}
			if !errors.As(lost, &se) || se.Code != "already_acknowledged" {
				t.Fatalf("loser: %v", lost)
			}
			if evs := e.countEvents(c.OrderID, evCallAck); evs != 1 {
				t.Fatalf("%d acknowledgements in the timeline", evs)
			}
			e.endDrivenCall(c.ID)
		})
		t.Run(fmt.Sprintf("acknowledgement and arrival %d", round), func(t *testing.T) {
			c := e.driveCall(model.CallOpen)
			errs := race(c.ID, [2]string{"grid", CallAcknowledge}, [2]string{"steward", CallArrive})
			if errs[1] != nil {
				t.Fatalf("arrival: %v", errs[1])
			}
			row := e.callRow(c.ID)
			if row.State() != model.CallArrived || row.ArrivedBy != e.city.Users["steward"] || row.AcknowledgedAt == nil {
				t.Fatalf("call %+v", row)
			}
			if errs[0] == nil && row.AcknowledgedBy != e.city.Users["grid"] {
				t.Fatalf("grid acknowledged, the call says %d", row.AcknowledgedBy)
			}
			if o := e.load(c.OrderID); o.State != model.StateInProgress {
				t.Fatalf("order %s", o.State)
			}
			e.endDrivenCall(c.ID)
		})
	}
}

// The same responder pressing again (a retry on a bad network) gets the
// call as it is and writes nothing; another responder is still refused
// with who took the step.
func TestCallRespondRepeated(t *testing.T) {
	e, _ := newCallEnv(t)
	e.grant("newcomer", model.RoleCommunityDuty, model.ScopeCommunity, e.city.Communities[0].ID, e.city.Communities[0].Ancestry)
	for _, tc := range []struct {
		from, action, other string
		detail              string
	}{
		{model.CallOpen, CallAcknowledge, "already_acknowledged", "acknowledged_by"},
		{model.CallAcknowledged, CallArrive, "already_arrived", "arrived_by"},
		{model.CallArrived, CallResolve, "call_resolved", ""},
	} {
		t.Run(tc.action, func(t *testing.T) {
			c := e.driveCall(tc.from)
			first, err := e.svc.RespondCall(e.ctx, e.actor("grid"), c.ID, tc.action, "到了")
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
			row, order, evs, msgs := e.callRow(c.ID), e.load(c.OrderID), len(e.events(c.OrderID)), e.orderMessages(c.OrderID)
			again, err := e.svc.RespondCall(e.ctx, e.actor("grid"), c.ID, tc.action, "到了")
			if err != nil {
				t.Fatalf("the same responder again: %v, want 200", err)
			}
			if !reflect.DeepEqual(again, first) {
				t.Errorf("answered\n%+v\nfirst\n%+v", again, first)
			}
			_, err = e.svc.RespondCall(e.ctx, e.actor("steward"), c.ID, tc.action, "")
			var se *service.Error
			if !errors.As(err, &se) || se.Code != tc.other {
				t.Fatalf("another responder: %v, want %s", err, tc.other)
			}
			if d, _ := se.Detail.(map[string]any); tc.detail != "" && d[tc.detail] != e.city.Users["grid"] {
				t.Errorf("detail %v", se.Detail)
			}
			if !reflect.DeepEqual(e.callRow(c.ID), row) || !reflect.DeepEqual(e.load(c.OrderID), order) {
				t.Error("the repeat changed the call or its order")
			}
			if n, m := len(e.events(c.OrderID)), e.orderMessages(c.OrderID); n != evs || m != msgs {
				t.Errorf("the repeat wrote %d timeline rows and %d messages", n-evs, m-msgs)
			}
			e.endDrivenCall(c.ID)
		})
	}
	t.Run("two identical presses at once", func(t *testing.T) {
		if !dbtest.MySQL() {
			t.Skip("races need MariaDB")
		}
		for range 5 {
			c := e.driveCall(model.CallOpen)
			var wg sync.WaitGroup
			var errs [2]error
			start := make(chan struct{})
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = e.svc.RespondCall(e.ctx, e.actor("grid"), c.ID, CallAcknowledge, "")
				}()
			}
			close(start)
			wg.Wait()
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("answers %v", errs)
			}
			if n := e.countEvents(c.OrderID, evCallAck); n != 1 {
				t.Fatalf("%d acknowledgements in the timeline", n)
			}
			e.endDrivenCall(c.ID)
		}
	})
}
