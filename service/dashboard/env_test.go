package dashboard_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/service/calendar"
	"redprop/service/dashboard"
	"redprop/service/message"
	"redprop/service/order"
	"redprop/service/photo"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

// env is the dashboards over the demo city with a real order loop that
// the tests drive.
type env struct {
	*servicetest.City
	t      *testing.T
	orders *order.Service
	dash   *dashboard.Service
	cats   map[string]model.Category
	vuln   bool

	mu   sync.Mutex // the pool of orders the random walk picks from
	pool []int64
}

const testLag = time.Minute

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t, order.SeedCategories)
	photos := photo.New(c.DB, photo.NewLocalStorage(t.TempDir()), c.Clock, 1<<20, 0)
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), message.Config{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{City: c, t: t, cats: map[string]model.Category{},
		orders: order.New(c.DB, c.Clock, calendar.New(c.DB, c.Clock), photos, msgs, order.Options{}),
		dash:   dashboard.New(c.DB, c.Clock, dashboard.Options{Lag: testLag, Batch: 7, Fresh: fresh})}
	cats, err := model.Categories(c.Ctx, c.DB, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, cat := range cats {
		e.cats[cat.Code] = cat
	}
	return e
}

// refresh runs the dashboards' refresh, failing the test on error.
func (e *env) refresh() dashboard.RefreshStats {
	e.t.Helper()
	st, err := e.dash.Refresh(e.Ctx)
	if err != nil {
		e.t.Fatalf("refresh: %v", err)
	}
	return st
}

// walkStep takes one random step of the order loop: a new order (a
// resident's, a grid worker's patrol report, an emergency call), an
// action on an order of the pool by whoever may take it, the clock moving
// on with a scheduler pass, or — when refresh is set — a refresh. Steps
// that the loop refuses (a wrong state, a wrong person) simply change
// nothing, as in real life.
func (e *env) walkStep(r *rand.Rand, refresh bool) {
	ctx := e.Ctx
	res := e.Households[0].ID
	pick := func() int64 {
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.pool) == 0 {
			return 0
		}
		if n := len(e.pool); r.IntN(2) == 0 {
			return e.pool[max(0, n-1-r.IntN(4))] // mostly the recent ones, so that many go the whole way
		}
		return e.pool[r.IntN(len(e.pool))]
	}
	keep := func(id int64) {
		e.mu.Lock()
		e.pool = append(e.pool, id)
		e.mu.Unlock()
	}
	p := r.IntN(100)
	switch {
	case p < 14:
		codes := []string{"environment", "dispute", "safety_hazard", "repair.plumbing", "suggestion"}
		v, _, err := e.orders.Submit(ctx, e.Actor("resident"), order.SubmitInput{CategoryID: e.cats[codes[r.IntN(len(codes))]].ID,
			Description: "楼道里堆满杂物，请处理", HouseholdID: res})
		if err == nil {
			keep(v.Order.ID)
		}
	case p < 18:
		v, _, err := e.orders.Submit(ctx, e.Actor("grid3"), order.SubmitInput{CategoryID: e.cats["dispute"].ID,
			Description: "巡查发现占道经营", CompoundID: e.Compounds[2].ID, Channel: "patrol"})
		if err == nil {
			keep(v.Order.ID)
		}
	case p < 21:
		if !e.vuln {
			if _, err := e.orders.RegisterVulnerable(ctx, e.Actor("grid"), order.VulnerableInput{
				UserID: e.Users["resident"], Kind: model.VulnerableElderlyAlone}); err != nil {
				e.t.Fatal(err)
			}
			e.vuln = true
		}
		c, created, err := e.orders.Call(ctx, e.Actor("resident"), order.CallInput{})
		if err == nil && created {
			keep(c.OrderID)
		}
		if err == nil {
			e.Clock.Advance(time.Duration(r.IntN(600)) * time.Second)
			acts := []string{order.CallAcknowledge, order.CallArrive, order.CallResolve}
			e.orders.RespondCall(ctx, e.Actor("grid"), c.ID, acts[r.IntN(3)], "")
		}
	case p < 28:
		e.Clock.Advance(time.Duration(30+r.IntN(60*48)) * time.Minute)
		if _, err := e.orders.Tick(ctx); err != nil {
			e.t.Fatal(err)
		}
	case p < 36 && refresh:
		e.refresh()
	default:
		id := pick()
		if id == 0 {
			return
		}
		e.Clock.Advance(time.Duration(r.IntN(90)) * time.Minute)
		e.act(r, id)
	}
}

// act tries one random action on an order, by each person who might take
// it in turn, until one is allowed.
func (e *env) act(r *rand.Rand, id int64) {
	type try struct {
		action string
		who    []string
		in     func(name string) order.Input
	}
	reason := func(string) order.Input { return order.Input{Reason: "现场核实需要处理"} }
	none := func(string) order.Input { return order.Input{} }
	tries := []try{
		{order.ActVerify, []string{"grid", "grid3", "community"}, none},
		{order.ActReject, []string{"grid", "community2"}, reason},
		{order.ActResolve, []string{"grid", "grid3"}, func(string) order.Input { return order.Input{Note: "现场已处理"} }},
		{order.ActDispatch, []string{"community", "community2"}, func(name string) order.Input {
			if name == "community" && r.IntN(3) > 0 {
				return order.Input{HandlerKind: model.HandlerFirm}
			}
			return order.Input{HandlerKind: model.HandlerGrid}
		}},
		{order.ActAccept, []string{"manager", "grid", "grid3"}, none},
		{order.ActReturn, []string{"manager", "grid3"}, reason},
		{order.ActAssign, []string{"manager"}, func(string) order.Input { return order.Input{WorkerID: e.Users["worker"]} }},
		{order.ActStart, []string{"worker", "manager", "grid", "grid3"}, none},
		{order.ActComplete, []string{"worker", "manager", "grid", "grid3"}, func(name string) order.Input {
			return order.Input{PhotoIDs: []int64{e.Photo(name)}}
		}},
		{order.ActConfirm, []string{"grid", "grid3", "community2"}, none},
		{order.ActRework, []string{"grid", "community2"}, reason},
		{order.ActRate, []string{"resident", "grid3"}, func(string) order.Input { return order.Input{Overall: 1 + r.IntN(5)} }},
		{order.ActCancel, []string{"resident", "grid3"}, reason},
		{order.ActRevisit, []string{"community"}, func(string) order.Input {
			return order.Input{Note: "回访居民", Reopen: r.IntN(2) == 0}
		}},
		{order.ActUrge, []string{"street"}, none},
		{order.ActEscalate, []string{"grid", "grid3", "community", "community2", "street"}, reason},
	}
	// Mostly an action the order's state allows, at times any.
	var o model.Order
	if err := e.DB.Take(&o, id).Error; err != nil {
		e.t.Fatal(err)
	}
	fits := map[string][]string{
		model.StateSubmitted:  {order.ActVerify, order.ActVerify, order.ActReject, order.ActResolve, order.ActCancel, order.ActEscalate},
		model.StateVerified:   {order.ActDispatch, order.ActDispatch, order.ActDispatch, order.ActReject, order.ActResolve, order.ActCancel, order.ActEscalate},
		model.StateDispatched: {order.ActAccept, order.ActAccept, order.ActAccept, order.ActReturn, order.ActUrge, order.ActEscalate, order.ActCancel},
		model.StateAccepted:   {order.ActAssign, order.ActStart, order.ActStart, order.ActReturn, order.ActUrge, order.ActEscalate},
		model.StateInProgress: {order.ActComplete, order.ActComplete, order.ActUrge, order.ActEscalate},
		model.StateCompleted:  {order.ActConfirm, order.ActConfirm, order.ActRework, order.ActEscalate},
		model.StateConfirmed:  {order.ActRate},
		model.StateClosed:     {order.ActRevisit},
	}
	t := tries[r.IntN(len(tries))]
	if cand := fits[o.State]; len(cand) > 0 && r.IntN(5) > 0 {
		want := cand[r.IntN(len(cand))]
		for _, tr := range tries {
			if tr.action == want {
				t = tr
			}
		}
	}
	for _, name := range t.who {
		var err error
		if t.action == order.ActEscalate {
			_, err = e.orders.Escalate(e.Ctx, e.Actor(name), id, "需上级协调")
		} else {
			_, err = e.orders.Act(e.Ctx, e.Actor(name), id, t.action, t.in(name))
		}
		if err == nil {
			return
		}
	}
}

// walk takes n random steps.
func (e *env) walk(seed uint64, n int, refresh bool) {
	r := rand.New(rand.NewPCG(seed, 7))
	for range n {
		e.walkStep(r, refresh)
	}
}

var _ = context.Background
