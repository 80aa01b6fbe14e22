package order

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
)

func TestSubmitAutoDispatchesRepairsToTheContractedFirm(t *testing.T) {
	e := newLoopEnv(t)
	p1 := e.photo("resident")
	v := e.submit("resident", "repair.plumbing", func(in *SubmitInput) { in.PhotoIDs = []int64{p1} })
	if v.Number != "GD202611230001" {
		t.Errorf("number %q, want GD202611230001", v.Number)
	}
	if v.State != model.StateDispatched || v.HandlerKind != model.HandlerFirm || v.HandlerID != e.city.Firm.ID || v.Level != model.OrderLevelCommunity {
		t.Fatalf("auto-dispatch: %+v", v.Order)
	}
	if v.ResidentID != e.city.Users["resident"] || v.GridID != e.city.Grids[0].ID || v.BuildingID != e.city.Buildings[0].ID {
		t.Errorf("placed wrong: %+v", v.Order)
	}
	// The accept step's clock runs: 2 h wall-clock for plumbing.
	if v.StepDeadline == nil || !v.StepDeadline.Equal(e.clock.Now().Add(2*time.Hour)) {
		t.Errorf("deadline %v, want now+2h", v.StepDeadline)
	}
	evs := e.events(v.ID)
	if len(evs) != 2 || evs[0].Action != ActSubmit || evs[0].FromState != "" || evs[0].Photos != fmt.Sprint(p1) ||
		evs[1].Action != ActAutoDispatch || evs[1].FromState != model.StateSubmitted || evs[1].HandlerID != e.city.Firm.ID {
		t.Fatalf("timeline %+v", evs)
	}
	var ph model.Photo
	e.db.Take(&ph, p1)
	if ph.OrderID != v.ID {
		t.Errorf("photo not attached: %+v", ph)
	}
	if ms := e.messages("manager", v.ID); len(ms) != 1 || ms[0].Event != "order.dispatched" || ms[0].Kind != kindNewReport {
		t.Errorf("manager inbox %+v", ms)
	}
	if ms := e.messages("grid", v.ID); len(ms) != 0 {
		t.Errorf("the grid was told of an auto-dispatched repair: %+v", ms)
	}
	// The second order of the day takes the next number.
	if v2 := e.submit("resident", "repair.lift"); v2.Number != "GD202611230002" {
		t.Errorf("second number %q", v2.Number)
	}
	// Next Beijing day (16:00 UTC is midnight in Beijing) starts over.
	e.clock.Set(time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC))
	if v3 := e.submit("resident", "repair.lift"); v3.Number != "GD202611240001" {
		t.Errorf("next day's number %q", v3.Number)
	}
}

func TestSubmitWithoutFirmGoesToTheGrid(t *testing.T) {
	e := newLoopEnv(t)
	v := e.submit("resident2", "repair.walls", func(in *SubmitInput) {
		in.HouseholdID = e.city.Households[16].ID
		in.Description = "屋顶渗水，联系我 13912345678"
	})
	if v.State != model.StateSubmitted || v.Level != model.OrderLevelGrid || v.HandlerKind != "" {
		t.Fatalf("compound without a firm: %+v", v.Order)
	}
	ms := e.messages("grid3", v.ID)
	if len(ms) != 1 || ms[0].Event != "order.submitted" {
		t.Fatalf("grid3 inbox %+v", ms)
	}
	if strings.Contains(ms[0].Body, "13912345678") || strings.Contains(ms[0].Title+ms[0].Body, "林") {
		t.Errorf("message leaks the resident: %q %q", ms[0].Title, ms[0].Body)
	}
	if ms := e.messages("grid", v.ID); len(ms) != 0 {
		t.Errorf("another grid was told: %+v", ms)
	}
	// Without a grid worker the community's dispatchers hear of it.
	e.db.Model(&model.Grant{}).Where("user_id = ?", e.city.Users["grid3"]).Update("revoked_at", e.clock.Now())
	e.Forget("grid3")
	v2 := e.submit("resident2", "environment", func(in *SubmitInput) {
		in.HouseholdID, in.CompoundID = 0, e.city.Compounds[2].ID
	})
	if v2.HouseholdID != 0 || v2.BuildingID != 0 || v2.CompoundID != e.city.Compounds[2].ID || v2.GridID != e.city.Grids[2].ID {
		t.Fatalf("public place: %+v", v2.Order)
	}
	if ms := e.messages("community2", v2.ID); len(ms) != 1 {
		t.Errorf("community2 inbox %+v", ms)
	}
}

func TestSubmitWhoMayReportWhere(t *testing.T) {
	e := newLoopEnv(t)
	res := e.city.Users["resident"]
	h0, h1 := e.city.Households[0].ID, e.city.Households[1].ID
	comp0, comp2 := e.city.Compounds[0].ID, e.city.Compounds[2].ID
	env := e.cats["environment"].ID
	cases := []struct {
		who  string
		in   SubmitInput
		kind service.Kind
		code string
	}{
		{"resident", SubmitInput{HouseholdID: h1}, service.KindForbidden, "not_resident"},
		{"resident", SubmitInput{CompoundID: comp2}, service.KindForbidden, "not_resident"},
		{"resident", SubmitInput{HouseholdID: h0, CompoundID: comp0}, service.KindInvalid, "place_required"},
		{"resident", SubmitInput{}, service.KindInvalid, "place_required"},
		{"resident", SubmitInput{HouseholdID: h0, CategoryID: e.cats["emergency"].ID}, service.KindInvalid, "bad_category"},
		{"resident", SubmitInput{HouseholdID: h0, CategoryID: e.cats["repair"].ID}, service.KindInvalid, "bad_category"},
		{"resident", SubmitInput{HouseholdID: h0, Channel: model.ChannelPatrol}, service.KindForbidden, "not_patrol"},
		{"resident", SubmitInput{HouseholdID: h0, Channel: "fax"}, service.KindInvalid, "bad_channel"},
		{"resident", SubmitInput{HouseholdID: h0, ResidentID: e.city.Users["resident2"]}, service.KindInvalid, "resident_required"},
		{"resident", SubmitInput{HouseholdID: h0, PhotoIDs: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, service.KindInvalid, "bad_photos"},
		{"resident", SubmitInput{HouseholdID: h0, PhotoIDs: []int64{3, 3}}, service.KindInvalid, "bad_photos"},
		{"resident", SubmitInput{HouseholdID: h0, Description: " "}, service.KindInvalid, "bad_description"},
		{"resident", SubmitInput{HouseholdID: h0, Description: strings.Repeat("漏", 1001)}, service.KindInvalid, "bad_description"},
		{"resident", SubmitInput{HouseholdID: h0, IdemKey: "含中文"}, service.KindInvalid, "bad_idempotency_key"},
		{"grid3", SubmitInput{HouseholdID: h0, ResidentID: res, Channel: model.ChannelOnBehalf}, service.KindForbidden, "not_on_behalf"},
		{"grid", SubmitInput{HouseholdID: h1, ResidentID: res, Channel: model.ChannelPhone}, service.KindUnprocessable, "not_resident_there"},
		{"grid", SubmitInput{HouseholdID: h0, Channel: model.ChannelOnBehalf}, service.KindInvalid, "resident_required"},
		{"community", SubmitInput{HouseholdID: h0, ResidentID: res, Channel: model.ChannelOnBehalf}, service.KindForbidden, "not_on_behalf"},
		{"grid", SubmitInput{CompoundID: comp2, Channel: model.ChannelPatrol}, service.KindForbidden, "not_patrol"},
		{"steward", SubmitInput{CompoundID: comp0, Channel: model.ChannelPatrol}, service.KindForbidden, "not_patrol"},
		{"resident", SubmitInput{HouseholdID: h0, PhotoIDs: []int64{e.photo("grid")}}, service.KindUnprocessable, "photo_unavailable"},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d %s %s", i, c.who, c.code), func(t *testing.T) {
			if c.in.CategoryID == 0 {
				c.in.CategoryID = env
			}
			if c.in.Description == "" {
				c.in.Description = "楼道堆放杂物"
			}
			_, _, err := e.svc.Submit(e.ctx, e.actor(c.who), c.in)
			if err == nil {
				t.Fatal("accepted")
			}
			var se *service.Error
			if !errors.As(err, &se) || se.Kind != c.kind || se.Code != c.code {
				t.Errorf("%v, want %s", err, c.code)
			}
		})
	}
	var n int64
	e.db.Model(&model.Order{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d orders stored by refused submits", n)
	}
	t.Run("the allowed ways", func(t *testing.T) { submitTheAllowedWays(t, e) })
}

func submitTheAllowedWays(t *testing.T, e *loopEnv) {
	res := e.city.Users["resident"]
	comp0 := e.city.Compounds[0].ID
	onBehalf := e.submit("steward", "environment", func(in *SubmitInput) {
		in.ResidentID, in.Channel = res, model.ChannelOnBehalf
	})
	if onBehalf.AuthorID != e.city.Users["steward"] || onBehalf.ResidentID != res || onBehalf.State != model.StateSubmitted {
		t.Errorf("steward on behalf: %+v", onBehalf.Order)
	}
	if evs := e.events(onBehalf.ID); evs[0].Role != model.RoleBuildingSteward {
		t.Errorf("role %q", evs[0].Role)
	}
	byPhone := e.submit("grid", "environment", func(in *SubmitInput) {
		in.ResidentID, in.Channel, in.HouseholdID, in.CompoundID = res, model.ChannelPhone, 0, comp0
	})
	if byPhone.BuildingID != 0 || byPhone.GridID != e.city.Grids[0].ID || byPhone.Channel != model.ChannelPhone {
		t.Errorf("by phone: %+v", byPhone.Order)
	}
	patrol := e.submit("grid", "safety_hazard", func(in *SubmitInput) {
		in.Channel, in.HouseholdID, in.CompoundID = model.ChannelPatrol, 0, comp0
	})
	if patrol.State != model.StateVerified || patrol.Level != model.OrderLevelCommunity || patrol.ResidentID != 0 {
		t.Errorf("patrol: %+v", patrol.Order)
	}
	if ms := e.messages("grid", patrol.ID); len(ms) != 1 || ms[0].Event != "order.patrol" {
		t.Errorf("patrol inbox %+v", ms)
	}
	// A wish goes straight to the community's volunteers.
	wish := e.submit("resident", "wish")
	if wish.State != model.StateDispatched || wish.HandlerKind != model.HandlerVolunteer || wish.HandlerID != e.city.Communities[0].ID {
		t.Errorf("wish: %+v", wish.Order)
	}
	if ms := e.messages("volunteer", wish.ID); len(ms) != 1 {
		t.Errorf("volunteer inbox %+v", ms)
	}
}

func TestSubmitIdempotencyKey(t *testing.T) {
	e := newLoopEnv(t)
	a := e.actor("resident")
	in := SubmitInput{CategoryID: e.cats["environment"].ID, Description: "路灯不亮", HouseholdID: e.city.Households[0].ID, IdemKey: "tap-1"}
	first, created, err := e.svc.Submit(e.ctx, a, in)
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	again, created, err := e.svc.Submit(e.ctx, a, in)
	if err != nil || created || again.ID != first.ID || again.Number != first.Number {
		t.Fatalf("repeat: created=%v id=%d/%d err=%v", created, again.ID, first.ID, err)
	}
	// The key belongs to its author: another user's same key is theirs.
	other, created, err := e.svc.Submit(e.ctx, e.actor("grid"), SubmitInput{CategoryID: in.CategoryID, Description: "巡查",
		CompoundID: e.city.Compounds[0].ID, Channel: model.ChannelPatrol, IdemKey: "tap-1"})
	if err != nil || !created || other.ID == first.ID {
		t.Fatalf("other author: %v %v", created, err)
	}

	t.Run("concurrent double taps: exactly one order per key", func(t *testing.T) { submitDoubleTaps(t, e, a, in) })
}

func submitDoubleTaps(t *testing.T, e *loopEnv, a *service.Actor, in SubmitInput) {
	const taps = 6
	in.IdemKey = "tap-2"
	ids := make([]int64, taps)
	var createdN int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < taps; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			v, c, err := e.svc.Submit(e.ctx, a, in)
			if err != nil {
				t.Errorf("tap %d: %v", i, err)
				return
			}
			mu.Lock()
			ids[i] = v.ID
			if c {
				createdN++
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if createdN != 1 {
		t.Errorf("%d taps created an order, want 1", createdN)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("taps answered different orders: %v", ids)
		}
	}
	var n int64
	e.db.Model(&model.Order{}).Where("author_id = ?", a.UserID).Count(&n)
	if n != 2 {
		t.Fatalf("%d orders of the resident, want 2", n)
	}
}

// Numbers stay unique when many submits race (MariaDB: real concurrency).
func TestSubmitNumbersUniqueUnderConcurrency(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB: SQLite serialises every writer on one connection")
	}
	e := newLoopEnv(t)
	a := e.actor("resident")
	const n = 12
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := e.svc.Submit(e.ctx, a, SubmitInput{CategoryID: e.cats["environment"].ID, Description: "并发",
				HouseholdID: e.city.Households[0].ID, IdemKey: fmt.Sprintf("k%d", i)})
			if err != nil {
				t.Errorf("submit %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	var nums []string
	e.db.Model(&model.Order{}).Order("number").Pluck("number", &nums)
	if len(nums) != n || nums[0] != "GD202611230001" || nums[n-1] != fmt.Sprintf("GD2026112300%02d", n) {
		t.Fatalf("numbers %v", nums)
	}
}

// The day's counter row is not locked while an order's transaction runs:
// a submit held open inside its transaction (after its order row is
// written) does not stop another submit from completing (MariaDB).
func TestSubmitDoesNotHoldCounterAcrossTransaction(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("row locks need MariaDB: SQLite serialises every writer on one connection")
	}
	e := newLoopEnv(t)
	// One number per reservation: every submit goes to the counter row.
	e.svc.numbers = newNumbers(e.db, 1)
	a := e.actor("resident")
	in := SubmitInput{CategoryID: e.cats["environment"].ID, Description: "楼道灯坏了", HouseholdID: e.city.Households[0].ID}

	var held atomic.Bool
	inside, release := make(chan struct{}), make(chan struct{})
	err := e.db.Callback().Create().After("gorm:create").Register("test:hold_first_order", func(d *gorm.DB) {
		if d.Statement.Table == "orders" && held.CompareAndSwap(false, true) {
			close(inside)
			<-release
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan View, 1)
	go func() {
		v, _, err := e.svc.Submit(e.ctx, a, in)
		if err != nil {
			t.Errorf("held submit: %v", err)
		}
		first <- v
	}()
	<-inside
	done := make(chan View, 1)
	go func() {
		v, _, err := e.svc.Submit(e.ctx, a, in)
		if err != nil {
			t.Errorf("second submit: %v", err)
		}
		done <- v
	}()
	var second View
	select {
	case second = <-done:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("a submit waited on another submit's open transaction")
	}
	close(release)
	v := <-first
	if v.Number == "" || second.Number == "" || v.Number == second.Number {
		t.Fatalf("numbers %q and %q", v.Number, second.Number)
	}
}
