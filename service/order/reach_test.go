package order

import (
	"slices"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/servicetest"
)

// A duty officer with no channel (no allowance, no follow, no phone) is
// told in the inbox only; the community's staff, next in the chain, are
// alerted instead, and the count leaves him out.
func TestEmergencyGoesToTheNextResponder(t *testing.T) {
	t.Run("duty unreachable brings in the community staff", func(t *testing.T) {
		e, _ := newCallEnv(t)
		e.setPhone("duty", "")
		c, _, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
		servicetest.Must(t, err)
		if got := e.alerted("emergency.call", c.OrderID); !slices.Equal(got, []string{"community", "duty", "grid", "steward"}) {
			t.Fatalf("alerted %v, want the community staff too", got)
		}
		if n := e.callRow(c.ID).AlertsSent; n != 3 {
			t.Fatalf("alerts sent %d, want 3 (grid, steward, community; not duty)", n)
		}
		var rows []model.Outbox
		servicetest.Must(t, e.db.Where("user_id = ?", e.city.Users["duty"]).Find(&rows).Error)
		if len(rows) != 0 {
			t.Fatalf("duty got %d pushes that can only be skipped", len(rows))
		}
	})
	t.Run("a community nobody can reach brings in the street at once", func(t *testing.T) {
		e, _ := newCallEnv(t)
		for _, n := range []string{"grid", "steward", "duty", "community"} {
			e.setPhone(n, "")
		}
		c, _, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
		servicetest.Must(t, err)
		if got := e.alerted("emergency.call", c.OrderID); !slices.Contains(got, "street") {
			t.Fatalf("alerted %v, want the street", got)
		}
		if n := e.callRow(c.ID).AlertsSent; n != 1 {
			t.Fatalf("alerts sent %d, want 1 (the street)", n)
		}
	})
	t.Run("a street nobody can reach brings in the city on escalation", func(t *testing.T) {
		e, _ := newCallEnv(t)
		e.setPhone("street", "")
		c, _, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
		servicetest.Must(t, err)
		e.clock.Set(c.CreatedAt.Add(10 * time.Minute))
		e.tick()
		if got := e.alerted("emergency.escalated", c.OrderID); !slices.Equal(got, []string{"city", "street"}) {
			t.Fatalf("escalation alerted %v, want the city too", got)
		}
	})
	t.Run("repeats count only responders reached", func(t *testing.T) {
		e, _ := newCallEnv(t)
		e.setPhone("grid", "")
		c, _, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
		servicetest.Must(t, err)
		e.clock.Set(c.CreatedAt.Add(3 * time.Minute))
		if st := e.tick(); st.EmergencyAlerts != 2 {
			t.Fatalf("repeat: %+v, want 2 (steward and duty, not the grid worker)", st)
		}
	})
}

func TestUnreachableResponders(t *testing.T) {
	e, _ := newCallEnv(t)
	e.setPhone("grid", "")
	comm := e.city.Grids[0].CommunityID
	t.Run("lists the grid worker nobody can reach", func(t *testing.T) {
		rs, err := e.svc.UnreachableResponders(e.ctx, e.actor("community"), comm)
		servicetest.Must(t, err)
		if len(rs) != 1 || rs[0].UserID != e.city.Users["grid"] || len(rs[0].Grants) != 1 || rs[0].Grants[0].Role != model.RoleGridWorker {
			t.Fatalf("unreachable %+v", rs)
		}
	})
	t.Run("the street sees it too", func(t *testing.T) {
		rs, err := e.svc.UnreachableResponders(e.ctx, e.actor("street"), comm)
		servicetest.Must(t, err)
		if len(rs) != 1 {
			t.Fatalf("unreachable %+v", rs)
		}
	})
	t.Run("not for the grid worker or another community", func(t *testing.T) {
		_, err := e.svc.UnreachableResponders(e.ctx, e.actor("grid"), comm)
		wantKind(t, err, service.KindForbidden, "not_community_staff")
		_, err = e.svc.UnreachableResponders(e.ctx, e.actor("community2"), comm)
		wantKind(t, err, service.KindForbidden, "not_community_staff")
	})
	t.Run("community required", func(t *testing.T) {
		_, err := e.svc.UnreachableResponders(e.ctx, e.actor("community"), 0)
		wantKind(t, err, service.KindInvalid, "community_required")
	})
}

// submittedInCommunity2 is a walls repair in a compound without a firm:
// submitted, at the grid of grid3.
func submittedInCommunity2(e *loopEnv) View {
	return e.submit("resident2", "repair.walls", func(in *SubmitInput) { in.HouseholdID = e.city.Households[16].ID })
}

// The 80% warning goes to whoever holds the order now: once the grid
// worker has escalated a submitted order, its level's dispatchers.
func TestWarningAfterEscalationGoesToTheLevel(t *testing.T) {
	for _, level := range []string{model.OrderLevelCommunity, model.OrderLevelStreet} {
		t.Run(level, func(t *testing.T) {
			e := newLoopEnv(t)
			o := submittedInCommunity2(e)
			_, err := e.svc.Escalate(e.ctx, e.actor("grid3"), o.ID, "需要社区协调")
			servicetest.Must(t, err)
			if level == model.OrderLevelStreet { // as far as the street, as the scheduler's breaches take it
				servicetest.Must(t, e.db.Model(&model.Order{}).Where("id = ?", o.ID).Update("level", level).Error)
			}
			cur := e.load(o.ID)
			if cur.State != model.StateSubmitted || cur.StepDeadline == nil {
				t.Fatalf("order %s %v", cur.State, cur.StepDeadline)
			}
			e.clock.Set(cur.StepDeadline.Add(-time.Minute))
			if st := e.tick(); st.Warned != 1 {
				t.Fatalf("tick %+v", st)
			}
			holder := map[string]string{model.OrderLevelCommunity: "community2", model.OrderLevelStreet: "street"}[level]
			if n := e.inbox(holder, "order.warning", o.ID); n != 1 {
				t.Fatalf("%s has %d warnings", holder, n)
			}
			if n := e.inbox("grid3", "order.warning", o.ID); n != 0 {
				t.Fatalf("the grid worker was warned (%d) though the order is the %s's", n, level)
			}
		})
	}
}

// An order escalated to a level nobody holds is told to the level above.
func TestEscalationToAnEmptyLevelAlertsTheLevelAbove(t *testing.T) {
	e := newLoopEnv(t)
	o := submittedInCommunity2(e)
	servicetest.Must(t, e.db.Model(&model.Grant{}).Where("user_id = ?", e.city.Users["community2"]).
		Update("revoked_at", e.clock.Now()).Error)
	_, err := e.svc.Escalate(e.ctx, e.actor("grid3"), o.ID, "需要社区协调")
	servicetest.Must(t, err)
	if n := e.inbox("street", "order.escalated", o.ID); n != 1 {
		t.Fatalf("street told %d times, want once (community2 has no dispatcher)", n)
	}
}
