package dashboard_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service/dashboard"
)

// bruteForce counts, from every order and every timeline row, what the
// rollups should hold, without the refresh's batches and watermark: the
// cohort of states and levels from the orders' current columns, the rest
// from each order's whole timeline.
func bruteForce(t *testing.T, e *env) map[model.RollupKey]model.Counts {
	t.Helper()
	var orders []model.Order
	if err := e.DB.Order("id").Find(&orders).Error; err != nil {
		t.Fatal(err)
	}
	var evs []model.OrderEvent
	if err := e.DB.Order("id").Find(&evs).Error; err != nil {
		t.Fatal(err)
	}
	byOrder := map[int64][]model.OrderEvent{}
	for _, ev := range evs {
		byOrder[ev.OrderID] = append(byOrder[ev.OrderID], ev)
	}
	out := map[model.RollupKey]model.Counts{}
	put := func(kind string, id, parent int64, day int, cat int64, col int) {
		k := model.RollupKey{ScopeKind: kind, ScopeID: id, Grain: model.GrainDay, Day: day, CategoryID: cat, ParentID: parent}
		c := out[k]
		c[col]++
		out[k] = c
	}
	states := []string{model.StateSubmitted, model.StateVerified, model.StateDispatched, model.StateAccepted,
		model.StateInProgress, model.StateCompleted, model.StateConfirmed, model.StateClosed, model.StateRejected,
		model.StateMerged, model.StateCancelled}
	levels := []string{model.OrderLevelGrid, model.OrderLevelCommunity, model.OrderLevelStreet, model.OrderLevelCity}
	for _, o := range orders {
		a := o.Ancestry
		type sc struct {
			kind       string
			id, parent int64
		}
		var tree []sc
		for _, s := range []sc{{"grid", a.GridID, a.CommunityID}, {"community", a.CommunityID, a.StreetID},
			{"street", a.StreetID, a.DistrictID}, {"district", a.DistrictID, a.CityID}, {"city", a.CityID, 0}} {
			if s.id != 0 {
				tree = append(tree, s)
			}
		}
		both := func(day int, col int, firm int64) {
			for _, s := range tree {
				put(s.kind, s.id, s.parent, day, o.CategoryID, col)
			}
			if firm != 0 && col != model.RReceived && col != model.RCalls {
				put("firm", firm, 0, day, o.CategoryID, col)
			}
		}
		cday := dashboard.Day(o.CreatedAt)
		both(cday, model.RStSubmitted+slices.Index(states, o.State), 0)
		both(cday, model.RLvGrid+slices.Index(levels, o.Level), 0)
		var accepted, completed, acked, settled, late bool
		var firmBefore int64
		for _, ev := range byOrder[o.ID] {
			day := dashboard.Day(ev.CreatedAt)
			firm := int64(0)
			if ev.HandlerKind == "firm" {
				firm = ev.HandlerID
			}
			if ev.Action == "return" {
				firm = firmBefore
			}
			since := ev.CreatedAt.Sub(o.CreatedAt)
			created := ev.Action == "submit" || ev.Action == "emergency_call"
			changed := created || ev.FromState != ev.ToState
			count := map[string]int{"submit": model.RReceived, "emergency_call": model.RReceived, "dispatch": model.RDispatched,
				"auto_dispatch": model.RDispatched, "accept": model.RAccepted, "return": model.RReturned,
				"rework": model.RReworked, "rate": model.RRated, "overdue": model.ROverdue}
			if col, ok := count[ev.Action]; ok {
				both(day, col, firm)
			}
			switch ev.Action {
			case "emergency_call":
				both(day, model.RCalls, firm)
			case "rate":
				if dashboard.Stars(ev.Note) >= 4 {
					both(day, model.RSatisfied, firm)
				}
			case "escalate":
				both(day, map[string]int{"community": model.REscCommunity, "street": model.REscStreet, "city": model.REscCity}[ev.ToLevel], firm)
			case "accept":
				if !accepted {
					accepted = true
					both(day, model.RAccHist+dashboard.Bucket(since), firm)
				}
			case "emergency_ack", "emergency_arrive", "emergency_resolve":
				if !acked {
					acked = true
					both(day, model.RCallsAcked, firm)
					both(day, model.RAckHist+dashboard.Bucket(since), firm)
				}
			}
			if changed && ev.ToState == "completed" {
				both(day, model.RCompleted, firm)
				if !completed {
					completed = true
					both(day, model.RCmpHist+dashboard.Bucket(since), firm)
				}
			}
			if changed && !created && ev.ToState == "confirmed" {
				both(day, model.RConfirmed, firm)
			}
			if changed && !created && ev.ToState == "closed" {
				both(day, model.RClosed, firm)
			}
			if changed && !settled && slices.Contains([]string{"completed", "rejected", "merged", "cancelled"}, ev.ToState) {
				settled = true
				both(cday, model.RSettled, 0)
				if !late {
					both(cday, model.RSettledOnTime, 0)
				}
			}
			if ev.Action == "overdue" {
				late = true
			}
			if ev.HandlerKind == "firm" {
				firmBefore = ev.HandlerID
			} else if ev.HandlerKind != "" {
				firmBefore = 0
			}
		}
	}
	return out
}

// stored is the rollup table without rows that sum to nothing.
func stored(t *testing.T, e *env) map[model.RollupKey]model.Counts {
	t.Helper()
	rows, err := model.AllRollups(e.Ctx, e.DB)
	if err != nil {
		t.Fatal(err)
	}
	months := map[model.RollupKey]model.Counts{}
	for k, c := range rows {
		if k.Grain == model.GrainMonth {
			months[k] = c
			delete(rows, k)
		}
	}
	// Every month row is the sum of its days.
	sums := map[model.RollupKey]model.Counts{}
	for k, c := range rows {
		m := k
		m.Grain, m.Day = model.GrainMonth, model.MonthOf(k.Day)
		s := sums[m]
		s.Add(&c)
		sums[m] = s
	}
	for k, c := range months {
		if sums[k] != c {
			t.Fatalf("month row %+v is not the sum of its days", k)
		}
	}
	if len(months) != len(sums) {
		t.Fatalf("%d month rows for %d months with days", len(months), len(sums))
	}
	for k, c := range rows {
		if c.IsZero() {
			delete(rows, k)
		}
	}
	return rows
}

// sameRollups fails the test with the first differences between the
// rollups and the brute-force count.
func sameRollups(t *testing.T, e *env) {
	t.Helper()
	want, got := bruteForce(t, e), stored(t, e)
	cols := model.RollupColumns()
	var diffs []string
	for k, w := range want {
		g := got[k]
		for i := range w {
			if w[i] != g[i] {
				diffs = append(diffs, fmt.Sprintf("%s %d day %d cat %d: %s = %d, want %d", k.ScopeKind, k.ScopeID, k.Day, k.CategoryID, cols[i], g[i], w[i]))
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected row %+v: %v", k, got[k]))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("%d differences:\n%s", len(diffs), strings.Join(diffs[:min(len(diffs), 25)], "\n"))
	}
	if len(want) == 0 {
		t.Fatal("nothing counted")
	}
}

// TestRollupEqualsBruteForce drives the order loop at random — submits,
// patrol reports, emergency calls, verify, dispatch, accept, return,
// complete, rework, confirm, rate, revisit, escalate, the scheduler's
// overdue marks and escalations — with refreshes between the moves, and
// checks the rollups against a count of everything from scratch.
func TestRollupEqualsBruteForce(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			e := newEnv(t)
			e.walk(seed, 400, true)
			e.Clock.Advance(2 * testLag) // past every hole in the ids
			e.refresh()
			sameRollups(t, e)
			// Every kind of move happened at least once.
			var total model.Counts
			for k, c := range stored(t, e) {
				if k.ScopeKind == model.ScopeCity {
					total.Add(&c)
				}
			}
			cols := model.RollupColumns()
			for _, col := range []int{model.RReceived, model.RDispatched, model.RAccepted, model.RCompleted, model.RConfirmed,
				model.RRated, model.ROverdue, model.RCalls, model.RCallsAcked, model.RSettled} {
				if total[col] == 0 {
					t.Errorf("the walk never made %s", cols[col])
				}
			}
			// A refresh with nothing new counts nothing.
			if st := e.refresh(); st.Events != 0 {
				t.Errorf("second refresh counted %d rows", st.Events)
			}
			sameRollups(t, e)
		})
	}
}

// TestRefreshConcurrent runs two refreshes in a loop, as two instances
// would, while the order loop moves: no row is counted twice or missed.
func TestRefreshConcurrent(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var total [2]int
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st, err := e.dash.Refresh(e.Ctx)
				if err != nil {
					t.Errorf("refresh %d: %v", i, err)
					return
				}
				total[i] += st.Events
			}
		}()
	}
	e.walk(11, 200, false)
	close(stop)
	wg.Wait()
	e.Clock.Advance(2 * testLag)
	e.refresh()
	sameRollups(t, e)
	if dbtest.MySQL() && (total[0] == 0 || total[1] == 0) {
		t.Logf("one refresher counted nothing: %v", total)
	}
}

// TestRefreshWaitsForHoles: a hole in the timeline ids younger than the
// lag stops the refresh before it; once older, the refresh passes it.
func TestRefreshWaitsForHoles(t *testing.T) {
	e := newEnv(t)
	e.walk(5, 40, false)
	e.Clock.Advance(2 * testLag)
	first := e.refresh()
	// A row numbered after a hole, as a transaction still running leaves.
	var last model.OrderEvent
	if err := e.DB.Order("id DESC").First(&last).Error; err != nil {
		t.Fatal(err)
	}
	late := last
	late.ID = last.ID + 5
	late.CreatedAt = e.Clock.Now()
	late.Action, late.FromState, late.FromLevel = "progress", late.ToState, late.ToLevel
	if err := e.DB.Create(&late).Error; err != nil {
		t.Fatal(err)
	}
	if st := e.refresh(); st.Events != 0 || first.Watermark != last.ID {
		t.Fatalf("refresh passed a fresh hole: %+v (watermark was %d, last %d)", st, first.Watermark, last.ID)
	}
	e.Clock.Advance(testLag + 1)
	if st := e.refresh(); st.Events != 1 || st.Watermark != late.ID {
		t.Fatalf("refresh after the lag: %+v", st)
	}
	sameRollups(t, e)
}

// TestRefreshSkipsALockedWatermark: while another instance holds the
// watermark, a refresh counts nothing and returns at once instead of
// waiting on the lock (MariaDB: SQLite has one connection).
func TestRefreshSkipsALockedWatermark(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("needs two connections")
	}
	e := newEnv(t)
	e.refresh() // the watermark row exists, as after any first refresh
	e.walk(9, 30, false)
	e.Clock.Advance(2 * testLag)
	tx := e.DB.Begin()
	defer tx.Rollback()
	if _, locked, err := model.LockWatermark(e.Ctx, tx, "order_events"); err != nil || !locked {
		t.Fatalf("lock: %v %v", locked, err)
	}
	if st := e.refresh(); st.Events != 0 {
		t.Fatalf("counted %d rows under another's lock", st.Events)
	}
	tx.Rollback()
	if st := e.refresh(); st.Events == 0 {
		t.Fatal("nothing counted once the lock was released")
	}
	sameRollups(t, e)
}

// The desk an order waits at for dispatch (Order.IntakeNode, the key of
// a dispatcher's queue) follows every move of the random walk, the
// scheduler's escalations included.
func TestIntakeNodeFollowsEveryMove(t *testing.T) {
	e := newEnv(t)
	e.walk(4, 300, false)
	var os []model.Order
	if err := e.DB.Find(&os).Error; err != nil {
		t.Fatal(err)
	}
	waiting := 0
	for _, o := range os {
		if want := model.IntakeNodeOf(&o); o.IntakeNode != want {
			t.Errorf("order %d %s at %s: intake_node %d, want %d", o.ID, o.State, o.Level, o.IntakeNode, want)
		}
		if o.IntakeNode != 0 {
			waiting++
		}
	}
	if waiting == 0 || waiting == len(os) {
		t.Fatalf("%d of %d orders waiting for dispatch: the walk proves nothing", waiting, len(os))
	}
}
