package dashboard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/calendar"
)

// watermark names the refresh's place in the order timeline.
const watermark = "order_events"

// Timeline actions the rollups read. They are the order loop's own
// names, repeated here so that this package need not import it.
const (
	evSubmit       = "submit"
	evCall         = "emergency_call"
	evCallAck      = "emergency_ack"
	evCallArrive   = "emergency_arrive"
	evCallResolve  = "emergency_resolve"
	evDispatch     = "dispatch"
	evAutoDispatch = "auto_dispatch"
	evAccept       = "accept"
	evReturn       = "return"
	evRework       = "rework"
	evRate         = "rate"
	evOverdue      = "overdue"
	evEscalate     = "escalate"
)

// stateCol and levelCol are the cohort counters of each state and level.
var (
	stateCol = map[string]int{
		model.StateSubmitted: model.RStSubmitted, model.StateVerified: model.RStVerified,
		model.StateDispatched: model.RStDispatched, model.StateAccepted: model.RStAccepted,
		model.StateInProgress: model.RStInProgress, model.StateCompleted: model.RStCompleted,
		model.StateConfirmed: model.RStConfirmed, model.StateClosed: model.RStClosed,
		model.StateRejected: model.RStRejected, model.StateMerged: model.RStMerged,
		model.StateCancelled: model.RStCancelled,
	}
	levelCol = map[string]int{
		model.OrderLevelGrid: model.RLvGrid, model.OrderLevelCommunity: model.RLvCommunity,
		model.OrderLevelStreet: model.RLvStreet, model.OrderLevelCity: model.RLvCity,
	}
	escalateCol = map[string]int{
		model.OrderLevelCommunity: model.REscCommunity, model.OrderLevelStreet: model.REscStreet,
		model.OrderLevelCity: model.REscCity,
	}
	// settling are the states whose first reach settles (结案) an order.
	settling = map[string]bool{model.StateCompleted: true, model.StateRejected: true, model.StateMerged: true,
		model.StateCancelled: true}
)

// histBounds are the upper bounds of the duration buckets but the last,
// which is open: 30 s, 1, 5, 15, 30 min, 1, 2, 4, 8, 12 h, 1, 2, 3, 7,
// 14 days.
var histBounds = [model.HistBuckets - 1]time.Duration{
	30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 48 * time.Hour, 72 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour,
}

// Bucket is the histogram bucket of a duration.
func Bucket(d time.Duration) int {
	for i, b := range histBounds {
		if d < b {
			return i
		}
	}
	return model.HistBuckets - 1
}

// Day is the rollup day (Beijing date as yyyymmdd) of an instant.
func Day(t time.Time) int {
	y, m, d := t.In(calendar.Beijing).Date()
	return y*10000 + int(m)*100 + d
}

// Stars reads the rating a rate row's note begins with ("评分 4 星…"),
// 0 when there is none.
func Stars(note string) int {
	var n int
	if _, err := fmt.Sscanf(note, "评分 %d 星", &n); err != nil {
		return 0
	}
	return n
}

// RefreshStats says what one refresh counted.
type RefreshStats struct {
	Events    int   // timeline rows counted
	Watermark int64 // the last row counted, after the refresh
	Rows      int   // rollup rows written (a row may count several times)
}

// errRaced is a watermark moved by someone else between its lock and its
// advance (it cannot happen under the lock; the compare-and-set is the
// guard where a database ignores the lock).
var errRaced = errors.New("dashboard refresh: the watermark moved meanwhile")

// Refresh counts the timeline rows written since the last refresh into
// the rollups, a batch per transaction, until it has caught up. Any number
// of instances may run it at once: each batch locks the watermark row,
// counts the rows after it and moves it in the same transaction (by
// compare-and-set too), so a row is counted exactly once; a refresh that
// finds the row locked by another returns at once, counting nothing.
func (s *Service) Refresh(ctx context.Context) (RefreshStats, error) {
	var st RefreshStats
	for {
		n, rows, last, full, err := s.refreshBatch(ctx)
		st.Events += n
		st.Rows += rows
		if last > 0 {
			st.Watermark = last
			s.marks.forget() // this instance answers its own refresh at once
		}
		if err != nil || !full {
			return st, err
		}
	}
}

// refreshBatch counts one batch; full says another may follow at once.
func (s *Service) refreshBatch(ctx context.Context) (n, rows int, last int64, full bool, err error) {
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		from, locked, err := model.LockWatermark(ctx, tx, watermark)
		if err != nil || !locked {
			return err // not locked: another instance is counting
		}
		last = from
		evs, err := model.EventsAfter(ctx, tx, from, s.opts.Batch)
		if err != nil {
			return err
		}
		full = len(evs) == s.opts.Batch
		// Stop before a hole in the ids younger than the lag: the row it
		// stands for may still commit.
		settled := now.Add(-s.opts.Lag)
		prev := from
		for i, ev := range evs {
			if ev.ID != prev+1 && !ev.CreatedAt.Before(settled) {
				evs, full = evs[:i], false
				break
			}
			prev = ev.ID
		}
		if len(evs) == 0 {
			return nil
		}
		to := evs[len(evs)-1].ID
		counts, err := s.count(ctx, tx, from, evs)
		if err != nil {
			return err
		}
		if err := model.AddRollups(ctx, tx, counts); err != nil {
			return err
		}
		ok, err := model.AdvanceWatermark(ctx, tx, watermark, from, to, now)
		if err != nil {
			return err
		}
		if !ok {
			return errRaced
		}
		n, rows, last = len(evs), len(counts), to
		return nil
	})
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("dashboard refresh: %w", err)
	}
	return n, rows, last, full, nil
}

// count works out what the timeline rows evs (all after from) add to the
// rollups. Each row is read in the light of its order's earlier rows (is
// it the first acceptance, the first completion, was the order overdue
// before it settled), so the rows up to from of the orders begun before
// are read too.
func (s *Service) count(ctx context.Context, tx *gorm.DB, from int64, evs []model.OrderEvent) (map[model.RollupKey]*model.Counts, error) {
	var ids, older []int64
	byOrder := map[int64][]model.OrderEvent{}
	for _, ev := range evs {
		if _, ok := byOrder[ev.OrderID]; !ok {
			ids = append(ids, ev.OrderID)
			// An order whose first row here is not its creation has rows
			// before the batch: its history is read too.
			if ev.Action != evSubmit && ev.Action != evCall {
				older = append(older, ev.OrderID)
			}
		}
		byOrder[ev.OrderID] = append(byOrder[ev.OrderID], ev)
	}
	orders, err := model.RollupOrders(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*model.Order, len(orders))
	for i := range orders {
		byID[orders[i].ID] = &orders[i]
	}
	history, err := model.TimelinesUpTo(ctx, tx, older, from)
	if err != nil {
		return nil, err
	}
	before := map[int64][]model.OrderEvent{}
	for _, ev := range history {
		before[ev.OrderID] = append(before[ev.OrderID], ev)
	}
	out := map[model.RollupKey]*model.Counts{}
	for _, id := range ids {
		o := byID[id]
		if o == nil {
			continue // not possible: timeline rows are never written without their order
		}
		w := NewWalk(*o)
		for _, ev := range before[id] {
			w.Step(ev, false, out)
		}
		for _, ev := range byOrder[id] {
			w.Step(ev, true, out)
		}
	}
	return out, nil
}

// Walk follows one order's timeline from its first row and says what each
// row adds to the rollups. It is the one definition of every counter:
// the refresh uses it on the rows of a batch, with the earlier rows of
// the same orders as their history.
type Walk struct {
	order                                      model.Order
	settled, overdue, accepted, completed, ack bool
	lastFirm                                   int64
}

// NewWalk starts the walk of an order's timeline.
func NewWalk(o model.Order) *Walk { return &Walk{order: o} }

// Step reads the next row of the timeline; when count is set it adds what
// the row means to out, otherwise it only learns from it.
func (w *Walk) Step(ev model.OrderEvent, count bool, out map[model.RollupKey]*model.Counts) {
	o := &w.order
	var flow, cohort model.Counts
	creation := ev.Action == evSubmit || ev.Action == evCall
	firm := int64(0)
	if ev.HandlerKind == model.HandlerFirm {
		firm = ev.HandlerID
	} else if ev.Action == evReturn {
		firm = w.lastFirm // the firm that gave it back
	}
	switch ev.Action {
	case evSubmit:
		flow[model.RReceived]++
	case evCall:
		flow[model.RReceived]++
		flow[model.RCalls]++
	case evDispatch, evAutoDispatch:
		flow[model.RDispatched]++
	case evAccept:
		flow[model.RAccepted]++
		if !w.accepted {
			w.accepted = true
			flow[model.RAccHist+Bucket(ev.CreatedAt.Sub(o.CreatedAt))]++
		}
	case evReturn:
		flow[model.RReturned]++
	case evRework:
		flow[model.RReworked]++
	case evRate:
		flow[model.RRated]++
		if Stars(ev.Note) >= 4 {
			flow[model.RSatisfied]++
		}
	case evOverdue:
		flow[model.ROverdue]++
	case evEscalate:
		if c, ok := escalateCol[ev.ToLevel]; ok {
			flow[c]++
		}
	case evCallAck, evCallArrive, evCallResolve:
		if !w.ack {
			w.ack = true
			flow[model.RCallsAcked]++
			flow[model.RAckHist+Bucket(ev.CreatedAt.Sub(o.CreatedAt))]++
		}
	}
	moved := ev.FromState != ev.ToState && ev.FromState != "" && ev.ToState != ""
	if ev.ToState == model.StateCompleted && (creation || moved) {
		flow[model.RCompleted]++
		if !w.completed {
			w.completed = true
			flow[model.RCmpHist+Bucket(ev.CreatedAt.Sub(o.CreatedAt))]++
		}
	}
	if ev.ToState == model.StateConfirmed && moved {
		flow[model.RConfirmed]++
	}
	if ev.ToState == model.StateClosed && moved {
		flow[model.RClosed]++
	}
	// Cohort: where the order stands now, counted on its day of receipt.
	if creation {
		if c, ok := stateCol[ev.ToState]; ok {
			cohort[c]++
		}
		if c, ok := levelCol[ev.ToLevel]; ok {
			cohort[c]++
		}
	} else {
		if moved {
			cohort[stateCol[ev.FromState]]--
			cohort[stateCol[ev.ToState]]++
		}
		if ev.FromLevel != ev.ToLevel && ev.FromLevel != "" && ev.ToLevel != "" {
			cohort[levelCol[ev.FromLevel]]--
			cohort[levelCol[ev.ToLevel]]++
		}
	}
	if settling[ev.ToState] && !w.settled && (creation || moved) {
		w.settled = true
		cohort[model.RSettled]++
		if !w.overdue {
			cohort[model.RSettledOnTime]++
		}
	}
	if ev.Action == evOverdue {
		w.overdue = true
	}
	if ev.HandlerKind == model.HandlerFirm {
		w.lastFirm = ev.HandlerID
	} else if ev.HandlerKind != "" {
		w.lastFirm = 0
	}
	if !count {
		return
	}
	eday, cday := Day(ev.CreatedAt), Day(o.CreatedAt)
	for _, sc := range treeScopes(o.Ancestry) {
		if !flow.IsZero() {
			add(out, model.RollupKey{ScopeKind: sc.kind, ScopeID: sc.id, Day: eday, CategoryID: o.CategoryID, ParentID: sc.parent}, &flow)
		}
		if !cohort.IsZero() {
			add(out, model.RollupKey{ScopeKind: sc.kind, ScopeID: sc.id, Day: cday, CategoryID: o.CategoryID, ParentID: sc.parent}, &cohort)
		}
	}
	// A firm's rows count what it was sent and did, on the day it did it;
	// the orders' states are the tree's (a firm holds an order only for a
	// while).
	if firm != 0 && !flow.IsZero() {
		flow[model.RReceived], flow[model.RCalls] = 0, 0
		if !flow.IsZero() {
			add(out, model.RollupKey{ScopeKind: model.ScopeFirm, ScopeID: firm, Day: eday, CategoryID: o.CategoryID}, &flow)
		}
	}
}

// add adds c to the day row of k and to its month's row.
func add(out map[model.RollupKey]*model.Counts, k model.RollupKey, c *model.Counts) {
	k.Grain = model.GrainDay
	m := k
	m.Grain, m.Day = model.GrainMonth, model.MonthOf(k.Day)
	for _, key := range []model.RollupKey{k, m} {
		row := out[key]
		if row == nil {
			row = new(model.Counts)
			out[key] = row
		}
		row.Add(c)
	}
}

// treeScope is one scope an order counts in, with its parent.
type treeScope struct {
	kind       string
	id, parent int64
}

// treeScopes are the scopes of the tree an order lies in, from its grid
// up to its city.
func treeScopes(a model.Ancestry) []treeScope {
	all := []treeScope{
		{model.ScopeGrid, a.GridID, a.CommunityID},
		{model.ScopeCommunity, a.CommunityID, a.StreetID},
		{model.ScopeStreet, a.StreetID, a.DistrictID},
		{model.ScopeDistrict, a.DistrictID, a.CityID},
		{model.ScopeCity, a.CityID, 0},
	}
	out := all[:0]
	for _, s := range all {
		if s.id != 0 {
			out = append(out, s)
		}
	}
	return out
}
