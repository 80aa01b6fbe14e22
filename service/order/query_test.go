package order

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

func TestPrivacyOfTheResident(t *testing.T) {
	e := newLoopEnv(t)
	res := e.city.Users["resident"]
	pic := e.upload("resident")
	id := e.submit("resident", "repair.plumbing", func(in *SubmitInput) { in.PhotoIDs = []int64{pic} }).ID // straight to the firm
	v, err := e.svc.Get(e.ctx, e.actor("manager"), id)
	if err != nil {
		t.Fatal(err)
	}
	if !v.NameMasked || v.ResidentName != "居**" || v.AuthorName != "居**" || v.ResidentPhone != "" {
		t.Fatalf("before accepting the firm sees %q/%q/%q", v.ResidentName, v.AuthorName, v.ResidentPhone)
	}
	if v.Timeline[0].ActorName != "居**" {
		t.Fatalf("timeline shows %q", v.Timeline[0].ActorName)
	}
	e.act("manager", id, ActAccept, Input{})
	v, _ = e.svc.Get(e.ctx, e.actor("manager"), id)
	if v.NameMasked || v.ResidentName != "居民杨阿姨" || v.ResidentPhone == "" {
		t.Fatalf("after accepting the firm sees %q/%q", v.ResidentName, v.ResidentPhone)
	}
	// Staff of the tree and the resident see everything; the IdemKey never.
	for _, who := range []string{"grid", "community", "street", "city", "admin", "resident"} {
		v, err := e.svc.Get(e.ctx, e.actor(who), id)
		if err != nil || v.ResidentID != res || v.ResidentName != "居民杨阿姨" || v.ResidentPhone == "" {
			t.Errorf("%s: %v %q %q", who, err, v.ResidentName, v.ResidentPhone)
		}
	}
	// Nobody else sees the order at all.
	for _, who := range []string{"resident2", "grid3", "community2", "department", "volunteer", "worker", "newcomer", "committee"} {
		if _, err := e.svc.Get(e.ctx, e.actor(who), id); service.KindOf(err) != service.KindForbidden {
			t.Errorf("%s sees the order: %v", who, err)
		}
		// Its photos look absent to them, as photos of no order do.
		if _, _, err := e.svc.OpenPhoto(e.ctx, e.actor(who), pic); service.KindOf(err) != service.KindNotFound {
			t.Errorf("%s may see its photos: %v", who, err)
		}
	}
	for _, who := range []string{"manager", "grid", "resident"} {
		p, rc, err := e.svc.OpenPhoto(e.ctx, e.actor(who), pic)
		if err != nil {
			t.Errorf("%s may not see its photos: %v", who, err)
			continue
		}
		rc.Close()
		if p.ID != pic || p.OrderID != id {
			t.Errorf("%s opened %+v", who, p)
		}
	}
	loose := e.upload("resident")
	if _, _, err := e.svc.OpenPhoto(e.ctx, e.actor("manager"), loose); service.KindOf(err) != service.KindNotFound {
		t.Errorf("another's photo of no order: %v", err)
	}
	if _, _, err := e.svc.OpenPhoto(e.ctx, e.actor("resident"), loose); err != nil {
		t.Errorf("the uploader's own photo of no order: %v", err)
	}
	// The worker sees it once assigned.
	e.act("manager", id, ActAssign, Input{WorkerID: e.city.Users["worker"]})
	if v, err := e.svc.Get(e.ctx, e.actor("worker"), id); err != nil || v.ResidentPhone == "" {
		t.Errorf("assigned worker: %v", err)
	}
}

func TestComplaintAgainstTheFirmHidesTheComplainant(t *testing.T) {
	e := newLoopEnv(t)
	id := e.submit("resident", "complaint_firm", func(in *SubmitInput) { in.Description = "物业服务态度差" }).ID
	e.act("grid", id, ActVerify, Input{})
	e.act("community", id, ActDispatch, Input{HandlerKind: model.HandlerFirm})
	for _, step := range []string{"", ActAccept} {
		if step != "" {
			e.act("manager", id, step, Input{})
		}
		v, err := e.svc.Get(e.ctx, e.actor("manager"), id)
		if err != nil {
			t.Fatal(err)
		}
		res := fmt.Sprint(e.city.Users["resident"])
		if !v.IdentityHidden || v.AuthorID != 0 || v.ResidentID != 0 || v.HouseholdID != 0 || v.BuildingID != 0 ||
			v.AuthorName != "" || v.ResidentName != "" || v.ResidentPhone != "" || v.HouseholdName != "" {
			t.Fatalf("the firm sees the complainant (%s): %+v", step, v)
		}
		for _, ev := range v.Timeline {
			if fmt.Sprint(ev.ActorID) == res || strings.Contains(ev.ActorName, "杨") {
				t.Fatalf("the timeline shows the complainant: %+v", ev)
			}
		}
	}
	t.Run("the firm's own list has the same view", func(t *testing.T) { complaintViews(t, e, id) })
}

func complaintViews(t *testing.T, e *loopEnv, id int64) {
	p, err := e.svc.List(e.ctx, e.actor("manager"), Filter{Queue: QueueFirm}, service.Page{Limit: 10})
	if err != nil || len(p.Items) != 1 || p.Items[0].AuthorID != 0 || p.Items[0].ResidentName != "" {
		t.Fatalf("firm queue: %v %+v", err, p.Items)
	}
	// The community still knows who complained.
	if v, _ := e.svc.Get(e.ctx, e.actor("community"), id); v.ResidentName == "" || v.IdentityHidden {
		t.Fatalf("community view %+v", v)
	}
	// A dispatcher who also works for another firm somewhere still sees
	// who complained: only the firm complained about is kept in the dark.
	other := model.Firm{Name: "别家物业有限公司"}
	if err := e.db.Create(&other).Error; err != nil {
		t.Fatal(err)
	}
	e.grant("community", model.RoleFirmWorker, model.ScopeFirm, other.ID, model.Ancestry{})
	if v, _ := e.svc.Get(e.ctx, e.actor("community"), id); v.ResidentName == "" || v.IdentityHidden {
		t.Fatalf("a dispatcher with a grant of another firm: %+v", v)
	}
	// A manager who is also the building's steward (交叉任职) learns no more.
	e.grant("manager", model.RoleBuildingSteward, model.ScopeBuilding, e.city.Buildings[0].ID, e.city.Buildings[0].Ancestry)
	if v, err := e.svc.Get(e.ctx, e.actor("manager"), id); err != nil || !v.IdentityHidden || v.ResidentName != "" || v.ResidentPhone != "" {
		t.Fatalf("cross-holding manager view %+v %v", v, err)
	}
}

func TestQueuesPerRole(t *testing.T) {
	e := newLoopEnv(t)
	sub := e.submit("resident", "environment").ID
	ver := e.drive(model.StateVerified, 0)
	disp := e.drive(model.StateDispatched, 0)
	inprog := e.drive(model.StateInProgress, 0)
	done := e.drive(model.StateCompleted, 0)
	far := e.submit("resident2", "environment", func(in *SubmitInput) { in.HouseholdID = e.city.Households[16].ID }).ID
	patrol := e.submit("grid", "safety_hazard", func(in *SubmitInput) {
		in.Channel, in.HouseholdID, in.CompoundID = model.ChannelPatrol, 0, e.city.Compounds[0].ID
	}).ID
	// An order escalated to the street waits in the street's queue. An
	// edit outside the move path sets the desk it waits at too.
	e.db.Model(&model.Order{}).Where("id = ?", ver).
		Updates(map[string]any{"level": model.OrderLevelStreet, "intake_node": e.load(ver).StreetID})

	list := func(t *testing.T, who string, f Filter) []int64 {
		t.Helper()
		p, err := e.svc.List(e.ctx, e.actor(who), f, service.Page{Limit: 50})
		if err != nil {
			t.Fatalf("%s %s: %v", who, f.Queue, err)
		}
		var ids []int64
		for _, v := range p.Items {
			ids = append(ids, v.ID)
		}
		slices.Sort(ids)
		return ids
	}
	ids := func(xs ...int64) []int64 { slices.Sort(xs); return xs }
	cases := []struct {
		who  string
		f    Filter
		want []int64
	}{
		{"resident", Filter{Queue: QueueMine}, ids(sub, ver, disp, inprog, done)},
		{"resident2", Filter{Queue: QueueMine}, ids(far)},
		{"grid", Filter{Queue: QueueMine}, ids(patrol)},
		{"grid", Filter{Queue: QueueToVerify}, ids(sub)},
		{"grid3", Filter{Queue: QueueToVerify}, ids(far)},
		{"grid", Filter{Queue: QueueToConfirm}, ids(done)},
		{"community", Filter{Queue: QueueToDispatch}, ids(patrol)},
		{"street", Filter{Queue: QueueToDispatch}, ids(ver)},
		{"community2", Filter{Queue: QueueToDispatch}, nil},
		{"manager", Filter{Queue: QueueFirm}, ids(disp, inprog)},
		{"manager", Filter{Queue: QueueFirm, States: []string{model.StateDispatched}}, ids(disp)},
		{"manager", Filter{Queue: QueueFirm, States: []string{model.StateCompleted}}, ids(done)},
		{"worker", Filter{Queue: QueueAssigned}, ids(inprog)},
		{"community", Filter{Queue: QueueAll, CompoundID: e.city.Compounds[2].ID}, nil},
		{"community2", Filter{Queue: QueueAll, CompoundID: e.city.Compounds[2].ID}, ids(far)},
		{"community", Filter{Queue: QueueAll, Category: "safety_hazard"}, ids(patrol)},
		{"community2", Filter{Queue: QueueAll}, ids(far)},
		{"street", Filter{Queue: QueueAll, States: []string{model.StateInProgress}}, ids(inprog)},
		{"grid", Filter{Queue: QueueToVerify, States: []string{model.StateCompleted}}, nil},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d %s %s", i, c.who, c.f.Queue), func(t *testing.T) {
			if got := list(t, c.who, c.f); !slices.Equal(got, c.want) {
				t.Errorf("%v, want %v", got, c.want)
			}
		})
	}
	t.Run("overdue and date filters", func(t *testing.T) {
		e.db.Model(&model.Order{}).Where("id = ?", disp).Update("overdue", true)
		yes := true
		if got := list(t, "community", Filter{Queue: QueueAll, Overdue: &yes}); !slices.Equal(got, ids(disp)) {
			t.Errorf("overdue: %v", got)
		}
		later := e.clock.Now().Add(time.Hour)
		if got := list(t, "community", Filter{Queue: QueueAll, From: &later}); len(got) != 0 {
			t.Errorf("from the future: %v", got)
		}
		if got := list(t, "community", Filter{Queue: QueueAll, To: &later}); len(got) != 6 {
			t.Errorf("until later: %v", got)
		}
	})
	// A queue needs its role.
	for _, c := range []struct{ who, q string }{{"resident", QueueToVerify}, {"resident", QueueToDispatch},
		{"resident", QueueFirm}, {"manager", QueueAssigned}, {"community", QueueToConfirm}} {
		if _, err := e.svc.List(e.ctx, e.actor(c.who), Filter{Queue: c.q}, service.Page{Limit: 5}); service.KindOf(err) != service.KindForbidden {
			t.Errorf("%s %s: %v", c.who, c.q, err)
		}
	}
	if _, err := e.svc.List(e.ctx, e.actor("resident"), Filter{Queue: "nope"}, service.Page{Limit: 5}); service.KindOf(err) != service.KindInvalid {
		t.Errorf("unknown queue: %v", err)
	}
	if _, err := e.svc.List(e.ctx, e.actor("resident"), Filter{States: []string{"lost"}}, service.Page{Limit: 5}); service.KindOf(err) != service.KindInvalid {
		t.Errorf("unknown state: %v", err)
	}
}

type queryCountKey struct{}

// countQueries counts the statements run with the returned context.
func countQueries(t *testing.T, db *gorm.DB) (context.Context, *atomic.Int64) {
	t.Helper()
	n := &atomic.Int64{}
	name := fmt.Sprintf("test:count_%p", n)
	count := func(tx *gorm.DB) {
		if c, ok := tx.Statement.Context.Value(queryCountKey{}).(*atomic.Int64); ok && c == n {
			c.Add(1)
		}
	}
	if err := db.Callback().Query().After("gorm:query").Register(name, count); err != nil {
		t.Fatal(err)
	}
	if err := db.Callback().Row().After("gorm:row").Register(name, count); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Callback().Query().Remove(name)
		db.Callback().Row().Remove(name)
	})
	return context.WithValue(context.Background(), queryCountKey{}, n), n
}

// A page of orders costs the same few queries however many it holds.
func TestListCostsConstantQueries(t *testing.T) {
	e := newLoopEnv(t)
	cost := func(n int) int64 {
		ctx, c := countQueries(t, e.db)
		p, err := e.svc.List(ctx, e.actor("community"), Filter{Queue: QueueAll}, service.Page{Limit: n})
		if err != nil || len(p.Items) != n {
			t.Fatalf("list %d: %v (%d items)", n, err, len(p.Items))
		}
		return c.Load()
	}
	for i := 0; i < 10; i++ {
		e.drive(model.StateInProgress, 0)
		e.submit("grid", "environment", func(in *SubmitInput) {
			in.Channel, in.ResidentID = model.ChannelOnBehalf, e.city.Users["resident"]
		})
	}
	ten, twenty := cost(10), cost(20)
	if twenty != ten || twenty > 10 {
		t.Fatalf("10 orders: %d queries, 20 orders: %d", ten, twenty)
	}
	// The detail of an order is constant too, whatever its timeline.
	ctx, c := countQueries(t, e.db)
	id := e.drive(model.StateClosed, 0)
	c.Store(0)
	if _, err := e.svc.Get(ctx, e.actor("community"), id); err != nil {
		t.Fatal(err)
	}
	if c.Load() > 11 {
		t.Fatalf("detail: %d queries", c.Load())
	}
}

func TestListPagesByCursor(t *testing.T) {
	e := newLoopEnv(t)
	var want []int64
	for i := 0; i < 5; i++ {
		want = append([]int64{e.submit("resident", "environment").ID}, want...)
	}
	var got []int64
	p := service.Page{Limit: 2}
	for {
		page, err := e.svc.List(e.ctx, e.actor("resident"), Filter{Queue: QueueMine}, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Items {
			got = append(got, v.ID)
		}
		if !page.More {
			break
		}
		p.After = page.Items[len(page.Items)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
}

// A deadline counted over a year without a loaded calendar says so, and
// stops saying so once the year is loaded.
func TestDeadlineOverAMissingYearIsShown(t *testing.T) {
	e := newLoopEnv(t)
	// Thursday 31 December 2026, 10:00 in Beijing; 2027 is not loaded.
	e.clock.Set(time.Date(2026, 12, 31, 2, 0, 0, 0, time.UTC))
	get := func(id int64) View {
		t.Helper()
		v, err := e.svc.Get(e.ctx, e.actor("grid"), id)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("working days into 2027", func(t *testing.T) {
		v := e.submit("resident", "suggestion") // verify within one working day: 1 January
		if v.StepDeadline == nil || v.StepDeadline.In(calendar.Beijing).Year() != 2027 {
			t.Fatalf("deadline %v", v.StepDeadline)
		}
		if !get(v.ID).CalendarMissing {
			t.Fatal("a deadline counted over 2027 without its calendar is not flagged")
		}
	})
	t.Run("wall-clock hours", func(t *testing.T) {
		v := e.submit("resident", "repair.lift") // hours, not working days
		if get(v.ID).CalendarMissing {
			t.Fatal("a wall-clock deadline flagged")
		}
	})
	t.Run("after loading 2027", func(t *testing.T) {
		cal := calendar.New(e.db, e.clock)
		if err := cal.SetYear(e.ctx, e.actor("admin"), 2027,
			[]calendar.Day{{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦"}}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(10 * time.Minute) // past the order service's calendar cache
		v := e.submit("resident", "suggestion")
		if got := get(v.ID); got.CalendarMissing {
			t.Fatalf("flagged with 2027 loaded: deadline %v", got.StepDeadline)
		}
	})
}

// A firm sees the resident's name and phone on an order it accepted while
// its contract with the compound runs, and for the grace after it ends;
// then the order shows the masked name, as before acceptance.
func TestFirmSeesIdentitiesOnlyWhileContracted(t *testing.T) {
	e := newLoopEnv(t)
	const grace = 30 * 24 * time.Hour
	svc := New(e.db, e.clock, nil, e.photos, nil, Options{FirmContractGrace: grace})
	id := e.submit("resident", "repair.plumbing").ID // straight to the firm
	e.act("manager", id, ActAccept, Input{})
	e.act("manager", id, ActAssign, Input{WorkerID: e.city.Users["worker"]})
	o := e.load(id)
	y, m, d := e.clock.Now().In(calendar.Beijing).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	endContract := func(daysAgo int) {
		t.Helper()
		err := e.db.Model(&model.Contract{}).Where("firm_id = ? AND compound_id = ?", o.HandlerID, o.CompoundID).
			Update("ends_on", today.AddDate(0, 0, -daysAgo)).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	see := func(who string) View {
		t.Helper()
		v, err := svc.Get(e.ctx, e.actor(who), id)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		return v
	}
	for _, tc := range []struct {
		name    string
		daysAgo int // the contract ended this many days ago (negative: it runs)
		visible bool
	}{
		{"contract runs", -100, true},
		{"ends today", 0, true},
		{"ended within the grace", 30, true},
		{"ended beyond the grace", 31, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endContract(tc.daysAgo)
			for _, who := range []string{"manager", "worker"} {
				v := see(who)
				if got := v.ResidentPhone != "" && v.ResidentName == "居民杨阿姨" && !v.NameMasked; got != tc.visible {
					t.Errorf("%s sees %q/%q (masked %v), want visible %v", who, v.ResidentName, v.ResidentPhone, v.NameMasked, tc.visible)
				}
				if !tc.visible && v.ResidentName != "居**" {
					t.Errorf("%s sees %q", who, v.ResidentName)
				}
			}
			// Staff of the tree and the resident are not bound by contracts.
			for _, who := range []string{"grid", "resident"} {
				if v := see(who); v.ResidentPhone == "" {
					t.Errorf("%s lost the phone", who)
				}
			}
		})
	}
	t.Run("the list masks the same way", func(t *testing.T) {
		p, err := svc.List(e.ctx, e.actor("manager"), Filter{Queue: QueueAll}, service.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.Items {
			if v.ID == id && (v.ResidentPhone != "" || !v.NameMasked) {
				t.Fatalf("list shows %q/%q", v.ResidentName, v.ResidentPhone)
			}
		}
	})
}
