package order

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

// newCallEnv is the loop environment with the resident of household 0
// (compound 0, building 0, grid 0) registered as an elderly person living
// alone; alerts repeat every 3 minutes and go to the street after 10.
func newCallEnv(t *testing.T) (*loopEnv, VulnerableView) {
	t.Helper()
	e := newLoopEnv(t)
	e.svc.opts = Options{EmergencyRepeat: 3 * time.Minute, EmergencyEscalateAfter: 10 * time.Minute}
	e.smsForAll()
	v, err := e.svc.RegisterVulnerable(e.ctx, e.actor("grid"), VulnerableInput{
		UserID: e.city.Users["resident"], Kind: model.VulnerableElderlyAlone, Note: "腿脚不便",
		Contacts: []model.EmergencyContact{{Name: "杨小明", Phone: "13900001111", Relation: "儿子"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e, v
}

// smsForAll makes every demo person reachable by text (recorded by the
// sandbox), unless a test takes his phone away (nobody has a WeChat
// allowance or follows the service account).
func (e *loopEnv) smsForAll() {
	e.t.Helper()
	msgs, err := message.New(e.db, e.clock, wechat.NewSandbox(), message.Config{Sandbox: true,
		SMSEnabled: true, SMSTemplate: message.SMSTemplate{Code: "SMS_ALERT"}, EmergencyReserve: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc.msgs = msgs
	for name, id := range e.city.Users {
		e.setPhone(name, fmt.Sprintf("139%08d", id))
	}
}

func (e *loopEnv) setPhone(name, phone string) {
	e.t.Helper()
	if err := e.db.Model(&model.User{}).Where("id = ?", e.city.Users[name]).Update("phone", phone).Error; err != nil {
		e.t.Fatalf("phone of %s: %v", name, err)
	}
}

// alerted lists the demo names with an inbox message of event about the
// order.
func (e *loopEnv) alerted(event string, orderID int64) []string {
	e.t.Helper()
	var ms []model.Message
	if err := e.db.Where("event = ? AND order_id = ?", event, orderID).Find(&ms).Error; err != nil {
		e.t.Fatal(err)
	}
	byID := map[int64]string{}
	for name, id := range e.city.Users {
		byID[id] = name
	}
	var names []string
	for _, m := range ms {
		if m.Kind != kindNewReport {
			e.t.Fatalf("alert kind %q", m.Kind)
		}
		names = append(names, byID[m.UserID])
	}
	slices.Sort(names)
	return names
}

func (e *loopEnv) callRow(id int64) model.EmergencyCall {
	e.t.Helper()
	var c model.EmergencyCall
	if err := e.db.Take(&c, id).Error; err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestRegisterVulnerable(t *testing.T) {
	e, v := newCallEnv(t)
	h0 := e.city.Households[0]
	grid := e.actor("grid")
	t.Run("a user is registered in their household", func(t *testing.T) {
		if v.HouseholdID != h0.ID || v.GridID != e.city.Grids[0].ID || v.BuildingID != h0.BuildingID ||
			v.Name != "居民杨阿姨" || v.Address() != "金日天玺1号楼1单元101" || len(v.Contacts) != 1 {
			t.Fatalf("registration %+v", v)
		}
	})
	t.Run("twice is a conflict", func(t *testing.T) {
		_, err := e.svc.RegisterVulnerable(e.ctx, grid, VulnerableInput{UserID: e.city.Users["resident"], Kind: model.VulnerableElderlyAlone})
		servicetest.WantErr(t, err, service.KindConflict, "already_registered")
	})
	var child VulnerableView
	t.Run("someone without the mini-program needs a household and a name", func(t *testing.T) {
		_, err := e.svc.RegisterVulnerable(e.ctx, grid, VulnerableInput{HouseholdID: e.city.Households[1].ID, Kind: model.VulnerableLeftBehindChild})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_name")
		child, err = e.svc.RegisterVulnerable(e.ctx, grid, VulnerableInput{HouseholdID: e.city.Households[1].ID,
			Name: "小宇", Kind: model.VulnerableLeftBehindChild})
		servicetest.Must(t, err)
	})
	for _, c := range []struct {
		name string
		in   VulnerableInput
		kind service.Kind
		code string
	}{
		{"bad kind", VulnerableInput{HouseholdID: h0.ID, Name: "甲", Kind: "rich"}, service.KindInvalid, "bad_kind"},
		{"nobody", VulnerableInput{Kind: model.VulnerableOther}, service.KindInvalid, "person_required"},
		{"bad phone", VulnerableInput{HouseholdID: h0.ID, Name: "甲", Kind: model.VulnerableOther,
			Contacts: []model.EmergencyContact{{Name: "乙", Phone: "call me"}}}, service.KindInvalid, "bad_contacts"},
		{"user elsewhere", VulnerableInput{UserID: e.city.Users["resident"], HouseholdID: e.city.Households[1].ID,
			Kind: model.VulnerableOther}, service.KindUnprocessable, "not_resident_there"},
		{"no such user", VulnerableInput{UserID: 1 << 40, Kind: model.VulnerableOther}, service.KindNotFound, "user_not_found"},
		{"no such household", VulnerableInput{HouseholdID: 1 << 40, Name: "甲", Kind: model.VulnerableOther},
			service.KindNotFound, "household_not_found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.RegisterVulnerable(e.ctx, grid, c.in)
			servicetest.WantErr(t, err, c.kind, c.code)
		})
	}
	t.Run("only the grid's own worker registers", func(t *testing.T) {
		for _, name := range []string{"grid3", "community", "steward", "resident"} {
			_, err := e.svc.RegisterVulnerable(e.ctx, e.actor(name), VulnerableInput{HouseholdID: h0.ID, Name: "甲", Kind: model.VulnerableOther})
			servicetest.WantErr(t, err, service.KindForbidden, "")
		}
	})
	t.Run("the register is read in scope", func(t *testing.T) {
		page, err := e.svc.Vulnerables(e.ctx, e.actor("community"), 0, service.Page{Limit: 10})
		if err != nil || len(page.Items) != 2 || page.Items[0].ID != child.ID {
			t.Fatalf("community list %v %+v", err, page)
		}
		if page, _ := e.svc.Vulnerables(e.ctx, e.actor("grid3"), 0, service.Page{Limit: 10}); len(page.Items) != 0 {
			t.Fatalf("grid3 sees %d", len(page.Items))
		}
		_, err = e.svc.Vulnerables(e.ctx, e.actor("grid3"), e.city.Grids[0].ID, service.Page{Limit: 10})
		servicetest.WantErr(t, err, service.KindForbidden, "")
		_, err = e.svc.Vulnerables(e.ctx, e.actor("resident"), 0, service.Page{Limit: 10})
		servicetest.WantErr(t, err, service.KindForbidden, "")
	})
	t.Run("the register pages newest first", func(t *testing.T) {
		first, err := e.svc.Vulnerables(e.ctx, grid, e.city.Grids[0].ID, service.Page{Limit: 1})
		if err != nil || len(first.Items) != 1 || !first.More || first.Items[0].ID != child.ID {
			t.Fatalf("first page %v %+v", err, first)
		}
		next, err := e.svc.Vulnerables(e.ctx, grid, e.city.Grids[0].ID, service.Page{After: child.ID, Limit: 1})
		if err != nil || len(next.Items) != 1 || next.More || next.Items[0].ID != v.ID {
			t.Fatalf("second page %v %+v", err, next)
		}
	})
	t.Run("removal", func(t *testing.T) {
		servicetest.WantErr(t, e.svc.RemoveVulnerable(e.ctx, e.actor("grid3"), child.ID), service.KindForbidden, "")
		servicetest.Must(t, e.svc.RemoveVulnerable(e.ctx, grid, child.ID))
		servicetest.WantErr(t, e.svc.RemoveVulnerable(e.ctx, grid, child.ID), service.KindNotFound, "")
		if page, _ := e.svc.Vulnerables(e.ctx, grid, e.city.Grids[0].ID, service.Page{Limit: 10}); len(page.Items) != 1 {
			t.Fatalf("after removal %d", len(page.Items))
		}
	})
	t.Run("registered again after removal", func(t *testing.T) {
		_, err := e.svc.RegisterVulnerable(e.ctx, grid, VulnerableInput{HouseholdID: e.city.Households[1].ID,
			Name: "小宇", Kind: model.VulnerableLeftBehindChild})
		servicetest.Must(t, err)
	})
}

func TestEmergencyCallAlertsGridStewardAndDuty(t *testing.T) {
	e, _ := newCallEnv(t)
	c, created, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{Note: "摔倒了"})
	if err != nil || !created {
		t.Fatalf("call: created %v err %v", created, err)
	}
	t.Run("the call is an emergency order at the community", func(t *testing.T) {
		o := e.load(c.OrderID)
		if o.CategoryCode != emergencyCategory || o.State != model.StateVerified || o.Level != model.OrderLevelCommunity ||
			o.Channel != model.ChannelCall || o.GridID != e.city.Grids[0].ID || o.BuildingID != e.city.Buildings[0].ID ||
			o.StepDeadline != nil {
			t.Fatalf("order %+v", o)
		}
		if evs := e.events(o.ID); len(evs) != 1 || evs[0].Action != evCall || evs[0].ActorID != e.city.Users["resident"] {
			t.Fatalf("timeline %+v", evs)
		}
		if c.AlertCount != 1 || c.Status() != "open" || c.CallerPhone == "" {
			t.Fatalf("view %+v", c)
		}
	})
	t.Run("grid worker, steward and duty are alerted", func(t *testing.T) {
		if got := e.alerted("emergency.call", c.OrderID); !slices.Equal(got, []string{"duty", "grid", "steward"}) {
			t.Fatalf("alerted %v, want grid worker, steward and duty", got)
		}
	})
	t.Run("a second press finds the open call", func(t *testing.T) {
		again, created, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
		if err != nil || created || again.ID != c.ID {
			t.Fatalf("second press: %v %v %d", err, created, again.ID)
		}
		var n int64
		e.db.Model(&model.Order{}).Where("category_code = ?", emergencyCategory).Count(&n)
		if n != 1 {
			t.Fatalf("%d emergency orders", n)
		}
	})
	t.Run("the button shows the open call", func(t *testing.T) {
		ts, err := e.svc.CallTargets(e.ctx, e.actor("resident"))
		if err != nil || len(ts) != 1 || ts[0].OpenCallID != c.ID || ts[0].HouseholdID != e.city.Households[0].ID {
			t.Fatalf("targets %v %+v", err, ts)
		}
		if ts, err := e.svc.CallTargets(e.ctx, e.actor("resident2")); err != nil || len(ts) != 0 {
			t.Fatalf("resident2 may call for %+v (%v)", ts, err)
		}
	})
}

// Anyone living in the household may call for its vulnerable person;
// nobody else may.
func TestEmergencyCallWho(t *testing.T) {
	e, _ := newCallEnv(t)
	h0 := e.city.Households[0]
	if err := e.db.Create(&model.Residency{UserID: e.city.Users["newcomer"], HouseholdID: h0.ID,
		Relation: model.RelationFamily, Ancestry: h0.Ancestry}).Error; err != nil {
		t.Fatal(err)
	}
	var c CallView
	t.Run("a family member calls", func(t *testing.T) {
		var created bool
		var err error
		c, created, err = e.svc.Call(e.ctx, e.actor("newcomer"), CallInput{})
		if err != nil || !created || c.CallerID != e.city.Users["newcomer"] || c.Vulnerable.UserID != e.city.Users["resident"] {
			t.Fatalf("family call: %v %+v", err, c)
		}
	})
	t.Run("nobody else calls", func(t *testing.T) {
		for _, name := range []string{"resident2", "grid", "community"} {
			_, _, err := e.svc.Call(e.ctx, e.actor(name), CallInput{})
			servicetest.WantErr(t, err, service.KindForbidden, "not_vulnerable")
		}
	})
	t.Run("naming another household does not help", func(t *testing.T) {
		_, _, err := e.svc.Call(e.ctx, e.actor("resident2"), CallInput{HouseholdID: h0.ID})
		servicetest.WantErr(t, err, service.KindForbidden, "not_vulnerable")
	})
	t.Run("who sees the call", func(t *testing.T) {
		_, err := e.svc.EmergencyCall(e.ctx, e.actor("resident2"), c.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		for _, name := range []string{"resident", "newcomer", "grid", "street", "admin"} {
			v, err := e.svc.EmergencyCall(e.ctx, e.actor(name), c.ID)
			if err != nil {
				t.Fatalf("%s does not see the call: %v", name, err)
			}
			if v.CallerPhone == "" && name != "resident" {
				t.Errorf("%s cannot phone the caller", name)
			}
		}
		_, err = e.svc.EmergencyCall(e.ctx, e.actor("grid"), c.ID+1000)
		servicetest.WantErr(t, err, service.KindNotFound, "call_not_found")
	})
}

// Alerts repeat every 3 minutes until acknowledged; after 10 minutes
// without anyone the call goes to the street, once.
func TestEmergencyAlertsRepeatAndEscalate(t *testing.T) {
	e, _ := newCallEnv(t)
	c, _, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("not before 3 minutes", func(t *testing.T) {
		e.clock.Advance(2 * time.Minute)
		if st := e.tick(); st.EmergencyAlerts != 0 {
			t.Fatalf("repeated early: %+v", st)
		}
	})
	t.Run("every 3 minutes", func(t *testing.T) {
		for i := 2; i <= 4; i++ { // at 3, 6 and 9 minutes (the first tick is at 2)
			e.clock.Set(c.CreatedAt.Add(time.Duration(3*(i-1)) * time.Minute))
			if st := e.tick(); st.EmergencyAlerts != 3 || st.EmergencyEscalated != 0 { // grid, steward, duty
				t.Fatalf("alert %d: %+v", i, st)
			}
			if got := e.callRow(c.ID).AlertCount; got != i {
				t.Fatalf("alert count %d, want %d", got, i)
			}
		}
		if got := e.alerted("emergency.repeat", c.OrderID); len(got) != 9 {
			t.Fatalf("repeat alerts %v, want three each", got)
		}
	})
	var o model.Order
	t.Run("to the street at 10 minutes", func(t *testing.T) {
		e.clock.Set(c.CreatedAt.Add(10 * time.Minute))
		if st := e.tick(); st.EmergencyEscalated != 1 || st.EmergencyAlerts != 0 {
			t.Fatalf("at 10 minutes: %+v", st)
		}
		if got := e.alerted("emergency.escalated", c.OrderID); !slices.Equal(got, []string{"street"}) {
			t.Fatalf("escalation alerted %v", got)
		}
		o = e.load(c.OrderID)
		if o.Level != model.OrderLevelStreet || e.countEvents(o.ID, evEscalate) != 1 {
			t.Fatalf("level %s", o.Level)
		}
	})
	t.Run("once at the street, the repeats reach the street too", func(t *testing.T) {
		e.clock.Set(c.CreatedAt.Add(12 * time.Minute))
		st := e.tick()
		if st.EmergencyEscalated != 0 || st.EmergencyAlerts != 4 || st.Escalated != 0 { // and the street
			t.Fatalf("at 12 minutes: %+v", st)
		}
		if got := e.inbox("street", "emergency.repeat", o.ID); got != 1 {
			t.Fatalf("street repeats %d", got)
		}
		if e.countEvents(o.ID, evEscalate) != 1 {
			t.Fatal("escalated twice")
		}
	})
	t.Run("an acknowledgement stops the alerts", func(t *testing.T) {
		v, err := e.svc.RespondCall(e.ctx, e.actor("steward"), c.ID, CallAcknowledge, "")
		if err != nil {
			t.Fatal(err)
		}
		if v.AcknowledgedBy != e.city.Users["steward"] || v.AcknowledgedAt == nil || !v.AcknowledgedAt.Equal(e.clock.Now()) {
			t.Fatalf("ack %+v", v.EmergencyCall)
		}
		before := e.callRow(c.ID).AlertCount
		e.clock.Advance(30 * time.Minute)
		if st := e.tick(); st.EmergencyAlerts != 0 || st.EmergencyEscalated != 0 {
			t.Fatalf("after ack: %+v", st)
		}
		if e.callRow(c.ID).AlertCount != before {
			t.Fatal("alerts went on after the acknowledgement")
		}
	})
}

// A community with nobody on duty: its dispatchers are alerted instead.
func TestEmergencyAlertFallsBackToDispatchers(t *testing.T) {
	e := newLoopEnv(t)
	e.smsForAll()
	if _, err := e.svc.RegisterVulnerable(e.ctx, e.actor("grid3"), VulnerableInput{UserID: e.city.Users["resident2"],
		Kind: model.VulnerableDisabled}); err != nil {
		t.Fatal(err)
	}
	c, _, err := e.svc.Call(e.ctx, e.actor("resident2"), CallInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.alerted("emergency.call", c.OrderID); !slices.Equal(got, []string{"community2", "grid3"}) {
		t.Fatalf("alerted %v", got)
	}
}

func TestEmergencyRespond(t *testing.T) {
	e, _ := newCallEnv(t)
	c, _, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("not responders", func(t *testing.T) {
		// Residents, another grid's worker, another community, the firm.
		for _, name := range []string{"resident", "resident2", "grid3", "community2", "manager"} {
			_, err := e.svc.RespondCall(e.ctx, e.actor(name), c.ID, CallAcknowledge, "")
			servicetest.WantErr(t, err, service.KindForbidden, "not_responder")
		}
	})
	t.Run("acknowledging hands the order to the grid", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		v, err := e.svc.RespondCall(e.ctx, e.actor("grid"), c.ID, CallAcknowledge, "")
		if err != nil {
			t.Fatal(err)
		}
		o := e.load(c.OrderID)
		if v.Status() != "acknowledged" || o.State != model.StateAccepted || o.HandlerKind != model.HandlerGrid ||
			o.HandlerID != o.GridID || o.StepDeadline == nil {
			t.Fatalf("after ack: %s, order %s %s/%d", v.Status(), o.State, o.HandlerKind, o.HandlerID)
		}
	})
	t.Run("a second acknowledgement says who took it", func(t *testing.T) {
		_, err := e.svc.RespondCall(e.ctx, e.actor("duty"), c.ID, CallAcknowledge, "")
		servicetest.WantErr(t, err, service.KindConflict, "already_acknowledged")
		var se *service.Error
		if errors.As(err, &se) {
			if d, _ := se.Detail.(map[string]any); d["acknowledged_by"] != e.city.Users["grid"] {
				t.Fatalf("detail %v", se.Detail)
			}
		}
	})
	t.Run("arriving starts the work", func(t *testing.T) {
		e.clock.Advance(4 * time.Minute)
		v, err := e.svc.RespondCall(e.ctx, e.actor("steward"), c.ID, CallArrive, "")
		if err != nil {
			t.Fatal(err)
		}
		if v.ArrivedBy != e.city.Users["steward"] || e.load(c.OrderID).State != model.StateInProgress {
			t.Fatalf("arrive %+v", v.EmergencyCall)
		}
	})
	t.Run("resolving completes the order", func(t *testing.T) {
		e.clock.Advance(20 * time.Minute)
		v, err := e.svc.RespondCall(e.ctx, e.actor("duty"), c.ID, CallResolve, "已送医，家属陪同")
		if err != nil {
			t.Fatal(err)
		}
		o := e.load(c.OrderID)
		if v.Status() != "resolved" || v.ResolvedBy != e.city.Users["duty"] || o.State != model.StateCompleted || o.CompletedAt == nil {
			t.Fatalf("resolve: %s, order %s", v.Status(), o.State)
		}
		if v.AcknowledgedAt.Sub(v.CreatedAt) != time.Minute || v.ArrivedAt.Sub(v.CreatedAt) != 5*time.Minute ||
			v.ResolvedAt.Sub(v.CreatedAt) != 25*time.Minute {
			t.Fatalf("times %v %v %v %v", v.CreatedAt, v.AcknowledgedAt, v.ArrivedAt, v.ResolvedAt)
		}
		var actions []string
		for _, ev := range e.events(o.ID) {
			actions = append(actions, ev.Action)
		}
		if !slices.Equal(actions, []string{evCall, evCallAck, evCallArrive, evCallResolve}) {
			t.Fatalf("timeline %v", actions)
		}
	})
	t.Run("a resolved call takes no more actions", func(t *testing.T) {
		_, err := e.svc.RespondCall(e.ctx, e.actor("grid"), c.ID, CallResolve, "")
		servicetest.WantErr(t, err, service.KindUnprocessable, "call_resolved")
	})
	t.Run("the grid worker confirms it like any order", func(t *testing.T) {
		e.act("grid", c.OrderID, ActConfirm, Input{})
	})
	t.Run("a new press raises a new call", func(t *testing.T) {
		c2, created, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
		if err != nil || !created || c2.ID == c.ID {
			t.Fatalf("new call %v %v", err, created)
		}
	})
}

func TestOpenCallsInScope(t *testing.T) {
	e, _ := newCallEnv(t)
	c, _, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"grid": 1, "steward": 1, "duty": 1, "community": 1, "street": 1, "admin": 1,
		"grid3": 0, "community2": 0} {
		t.Run(name, func(t *testing.T) {
			page, err := e.svc.OpenCalls(e.ctx, e.actor(name), service.Page{Limit: 10})
			if err != nil || len(page.Items) != want {
				t.Errorf("%v, %d calls, want %d", err, len(page.Items), want)
			}
		})
	}
	t.Run("residents may not list calls", func(t *testing.T) {
		_, err := e.svc.OpenCalls(e.ctx, e.actor("resident"), service.Page{Limit: 10})
		servicetest.WantErr(t, err, service.KindForbidden, "not_responder")
	})
	t.Run("a resolved call leaves the list", func(t *testing.T) {
		if _, err := e.svc.RespondCall(e.ctx, e.actor("grid"), c.ID, CallResolve, ""); err != nil {
			t.Fatal(err)
		}
		if page, _ := e.svc.OpenCalls(e.ctx, e.actor("grid"), service.Page{Limit: 10}); len(page.Items) != 0 {
			t.Fatalf("resolved call still listed")
		}
	})
}

// Two family members pressing at the same moment raise one call, and two
// schedulers repeat each alert once. MariaDB only.
func TestEmergencyConcurrency(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB: SQLite serialises every writer on one connection")
	}
	e, _ := newCallEnv(t)
	h0 := e.city.Households[0]
	if err := e.db.Create(&model.Residency{UserID: e.city.Users["newcomer"], HouseholdID: h0.ID,
		Relation: model.RelationFamily, Ancestry: h0.Ancestry}).Error; err != nil {
		t.Fatal(err)
	}
	// No subtests: the env's helpers fail through the test that made it,
	// which would hide the error if they ran inside a subtest.
	var wg sync.WaitGroup
	ids := make([]int64, 4)
	// Four presses raise one call.
	for i, name := range []string{"resident", "newcomer", "resident", "newcomer"} {
		wg.Add(1)
		go func(i int, a *service.Actor) {
			defer wg.Done()
			c, _, err := e.svc.Call(e.ctx, a, CallInput{})
			if err != nil {
				t.Errorf("call: %v", err)
			}
			ids[i] = c.ID
		}(i, e.actor(name))
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("four presses raised calls %v, want one", ids)
		}
	}
	// Two schedulers repeat the alert once.
	other := New(e.db, e.clock, nil, nil, e.svc.msgs, e.svc.opts)
	e.clock.Advance(3 * time.Minute)
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
	if got := e.callRow(ids[0]).AlertCount; got != 2 {
		t.Fatalf("two schedulers: alert count %d, want 2", got)
	}
	if got := e.alerted("emergency.repeat", e.callRow(ids[0]).OrderID); len(got) != 3 {
		t.Fatalf("two schedulers: repeat alerts %v, want 3", got)
	}
}

// A call whose order ends through the ordinary endpoints — the caller
// cancels a press by mistake, a responder resolves it on the spot — stops
// alerting, never goes to the street, and the household may call again.
func TestCallEndsWithItsOrder(t *testing.T) {
	for _, tc := range []struct {
		who, action string
		in          Input
	}{
		{"resident", ActCancel, Input{Reason: "误按"}},
		{"grid", ActResolve, Input{Note: "已上门，老人无恙"}},
	} {
		t.Run(tc.action, func(t *testing.T) {
			e, _ := newCallEnv(t)
			c, _, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
			if err != nil {
				t.Fatal(err)
			}
			e.act(tc.who, c.OrderID, tc.action, tc.in)
			if row := e.callRow(c.ID); row.ResolvedAt == nil || row.OpenHousehold != nil {
				t.Fatalf("call after %s: %+v", tc.action, row)
			}
			e.clock.Set(c.CreatedAt.Add(12 * time.Minute))
			if st := e.tick(); st.EmergencyAlerts != 0 || st.EmergencyEscalated != 0 {
				t.Fatalf("after %s: %+v", tc.action, st)
			}
			again, created, err := e.svc.Call(e.ctx, e.actor("resident"), CallInput{})
			if err != nil || !created || again.ID == c.ID {
				t.Fatalf("a new press: %+v created=%v %v", again, created, err)
			}
		})
	}
}
