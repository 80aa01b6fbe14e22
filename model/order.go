package model

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Order states (DESIGN.md §4).
const (
	StateSubmitted  = "submitted"
	StateVerified   = "verified"
	StateDispatched = "dispatched"
	StateAccepted   = "accepted"
	StateInProgress = "in_progress"
	StateCompleted  = "completed"
	StateConfirmed  = "confirmed"
	StateClosed     = "closed"
	StateRejected   = "rejected"
	StateMerged     = "merged"
	StateCancelled  = "cancelled"
)

// Levels of the 四议 ladder: who owns an order.
const (
	OrderLevelGrid      = "grid"
	OrderLevelCommunity = "community"
	OrderLevelStreet    = "street"
	OrderLevelCity      = "city"
)

// StateNames and LevelNames are how the console's pages and the exports
// name states and levels: what an order waits for, or how it ended. (A
// push to a resident says what happened instead: the message package's
// own words.)
var (
	StateNames = map[string]string{
		StateSubmitted: "待核实", StateVerified: "待派单", StateDispatched: "待接单", StateAccepted: "已接单",
		StateInProgress: "处理中", StateCompleted: "待验收", StateConfirmed: "待评价", StateClosed: "已办结",
		StateRejected: "已驳回", StateMerged: "已合并", StateCancelled: "已撤销",
	}
	LevelNames = map[string]string{OrderLevelGrid: "网格", OrderLevelCommunity: "社区", OrderLevelStreet: "街道",
		OrderLevelCity: "市级"}
)

// Handler kinds an order can be dispatched to.
const (
	HandlerFirm       = "firm"
	HandlerDepartment = "department"
	HandlerVolunteer  = "volunteer" // a community's volunteer team
	HandlerGrid       = "grid"      // back to the grid worker
)

// Channels an order arrives by.
const (
	ChannelSelf     = "self"      // the resident in the mini-program
	ChannelOnBehalf = "on_behalf" // a steward or grid worker for a resident
	ChannelPhone    = "phone"     // taken by phone
	ChannelPatrol   = "patrol"    // 巡查上报 by a grid worker
	ChannelCall     = "emergency" // 一键呼叫
)

// Category is a kind of order with its rules and deadlines. Minutes of 0
// mean "no deadline for that step".
type Category struct {
	Base
	Code       string `gorm:"size:40;not null;uniqueIndex"`
	Name       string `gorm:"size:40;not null"`
	ParentCode string `gorm:"size:40"`
	// Submitters is a comma list of who may submit: resident, grid_worker,
	// building_steward.
	Submitters string `gorm:"size:100;not null"`
	// AutoDispatch: "" (a dispatcher decides), firm (the compound's
	// contracted firm), department, volunteer.
	AutoDispatch string `gorm:"size:16"`
	// AutoDepartmentKind picks the department for AutoDispatch=department.
	AutoDepartmentKind string `gorm:"size:32"`
	VerifyMinutes      int    `gorm:"not null;default:0"`
	DispatchMinutes    int    `gorm:"not null;default:0"`
	AcceptMinutes      int    `gorm:"not null;default:0"`
	CompleteMinutes    int    `gorm:"not null;default:0"`
	ConfirmMinutes     int    `gorm:"not null;default:0"`
	WorkingTime        bool   `gorm:"not null;default:false"` // deadlines count working days only
	EscalateOnBreach   bool   `gorm:"not null;default:false"`
	AutoCloseHours     int    `gorm:"not null;default:72"` // unrated orders close after this
	PhotosRequired     bool   `gorm:"not null;default:false"`
	// ComplaintAgainstFirm hides the author from the firm entirely.
	ComplaintAgainstFirm bool `gorm:"not null;default:false"`
	Active               bool `gorm:"not null;default:true"`
	SortOrder            int  `gorm:"not null;default:0"`
}

// Order is a 工单. Ancestry places it (compound, grid, building); Level and
// the handler say who owns it now.
type Order struct {
	Base
	Number       string `gorm:"size:20;not null;uniqueIndex"`
	CategoryID   int64  `gorm:"not null;index"`
	CategoryCode string `gorm:"size:40;not null"`
	State        string `gorm:"size:16;not null"`
	Level        string `gorm:"size:16;not null"`
	Channel      string `gorm:"size:16;not null"`
	AuthorID     int64  `gorm:"not null;index;uniqueIndex:ux_order_idem,priority:1"` // who submitted (resident or staff)
	ResidentID   int64  `gorm:"index"`                                               // for whom; 0 on patrol reports
	HouseholdID  int64  // 0: a public place of the compound
	Place        string `gorm:"size:100"`
	Description  string `gorm:"size:1000;not null"`
	Ancestry
	HandlerKind string `gorm:"size:16"`
	HandlerID   int64  `gorm:"index"`
	AssigneeID  int64  `gorm:"index"` // firm worker
	DuplicateOf int64
	// The current step's clock: when it started, its budget, its deadline.
	// Paused time moves the deadline; PausedAt is set while paused.
	StepStartedAt *time.Time
	StepDeadline  *time.Time
	PausedAt      *time.Time
	PauseReason   string `gorm:"size:200"`
	WarnedAt      *time.Time
	Overdue       bool `gorm:"not null;default:false"`
	// Breaches counts the steps that ran past their deadline; escalation
	// starts a new step but the order stays known as late.
	Breaches int `gorm:"not null;default:0"`

	// DueAt is a dispatcher's deadline for the handler to finish; it
	// overrides the category's accept and complete budgets when earlier.
	DueAt *time.Time

	// Version increases with every change; transitions compare-and-set it.
	Version        int64 `gorm:"not null;default:1"`
	RatingOverall  int
	RatingTimely   int
	RatingAttitude int
	RatingComment  string `gorm:"size:500"`
	CompletedAt    *time.Time
	ConfirmedAt    *time.Time
	ClosedAt       *time.Time
	// IdemKey is the client's Idempotency-Key; unique per author.
	IdemKey *string `gorm:"size:64;uniqueIndex:ux_order_idem,priority:2"`
	// IntakeNode is the node (community, street or city) whose
	// dispatchers have the order in their to_dispatch queue — submitted or
	// verified at that level — and 0 otherwise (IntakeNodeOf). With
	// ix_order_intake (level, intake_node) a dispatcher's queue is one
	// range in id order instead of a union of two states.
	IntakeNode int64 `gorm:"not null;default:0"`
}

// IntakeNodeOf is what Order.IntakeNode holds for o as it stands: every
// write of an order's state or level sets it (BeforeCreate, the move path).
func IntakeNodeOf(o *Order) int64 {
	if o.State != StateSubmitted && o.State != StateVerified {
		return 0
	}
	switch o.Level {
	case OrderLevelCommunity:
		return o.CommunityID
	case OrderLevelStreet:
		return o.StreetID
	case OrderLevelCity:
		return o.CityID
	}
	return 0
}

// intakeStates are the states of a dispatcher's queue (IntakeNode).
var intakeStates = []string{StateSubmitted, StateVerified}

// BeforeCreate sets the order's IntakeNode from its state and level.
func (o *Order) BeforeCreate(tx *gorm.DB) error {
	o.IntakeNode = IntakeNodeOf(o)
	return nil
}

// AfterCreate marks the author as reporting for others when they are not
// the order's resident (User.ReportedForOthers), in the order's own
// transaction, whoever creates it; the mark is a change of what the
// author's own queue holds, read by every instance (AuthChange).
func (o *Order) AfterCreate(tx *gorm.DB) error {
	if o.AuthorID == 0 || o.AuthorID == o.ResidentID {
		return nil
	}
	tx = tx.Session(&gorm.Session{NewDB: true})
	res := tx.Model(&User{}).Where("id = ? AND reported_for_others = ?", o.AuthorID, false).
		UpdateColumn("reported_for_others", true)
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	return noteAuthChange(tx, o.AuthorID)
}

// OrderEvent is one row of an order's timeline (台账). Rows are only ever
// inserted: no code path updates or deletes them.
type OrderEvent struct {
	ID          int64     `gorm:"primaryKey"`
	OrderID     int64     `gorm:"not null;index"`
	Action      string    `gorm:"size:24;not null"`
	ActorID     int64     `gorm:"not null"` // 0: the system (scheduler)
	Role        string    `gorm:"size:32"`
	FromState   string    `gorm:"size:16"`
	ToState     string    `gorm:"size:16"`
	FromLevel   string    `gorm:"size:16"`
	ToLevel     string    `gorm:"size:16"`
	HandlerKind string    `gorm:"size:16"` // the handler after this event
	HandlerID   int64     //
	AssigneeID  int64     // the firm worker after this event
	Note        string    `gorm:"size:500"`
	Photos      string    `gorm:"size:200"` // comma-separated photo ids
	CreatedAt   time.Time `gorm:"not null"`
}

// OrderCounter hands out the daily sequence of human order numbers.
type OrderCounter struct {
	Day  string `gorm:"primaryKey;size:8"`
	Last int64  `gorm:"not null"`
}

// CategoryByCode returns the category of code, or ErrNotFound.
func CategoryByCode(ctx context.Context, db *gorm.DB, code string) (Category, error) {
	var c Category
	err := db.WithContext(ctx).Where("code = ?", code).Take(&c).Error
	return c, Translate(err)
}

// OrderHeads returns the id, number, state and level of the orders of ids.
func OrderHeads(ctx context.Context, db *gorm.DB, ids []int64) ([]Order, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var os []Order
	err := db.WithContext(ctx).Select("id", "number", "state", "level").Where("id IN ?", ids).Order("id").Find(&os).Error
	return os, Translate(err)
}

// MoveOrder is the one compare-and-set every change of an order is written
// with: UPDATE orders SET <cols>, version = version + 1 WHERE id = ? AND
// version = ?. cols holds only the columns that changed, so a writer never
// undoes a column another writer set meanwhile. It returns the rows
// affected: 0 means the row is no longer at version (or is gone), and the
// caller decides what that means.
func MoveOrder(ctx context.Context, db *gorm.DB, id, version int64, cols map[string]any) (int64, error) {
	set := maps.Clone(cols)
	if set == nil {
		set = map[string]any{}
	}
	set["version"] = gorm.Expr("version + 1")
	res := db.WithContext(ctx).Model(&Order{}).Where("id = ? AND version = ?", id, version).Updates(set)
	if res.Error != nil {
		return 0, fmt.Errorf("update order %d: %w", id, Translate(res.Error))
	}
	return res.RowsAffected, nil
}

// AppendOrderEvent inserts one timeline row (rows are never updated).
func AppendOrderEvent(ctx context.Context, tx *gorm.DB, ev *OrderEvent) error {
	if err := tx.WithContext(ctx).Create(ev).Error; err != nil {
		return fmt.Errorf("append order event: %w", Translate(err))
	}
	return nil
}

// OrderEventsOf returns the timelines of orders, oldest row first.
func OrderEventsOf(ctx context.Context, db *gorm.DB, orderIDs []int64) ([]OrderEvent, error) {
	if len(orderIDs) == 0 {
		return nil, nil
	}
	tx := db
	if len(orderIDs) == 1 {
		// An order's detail: one statement text, kept prepared. Lists of
		// many (exports) vary in length and are not.
		tx = Prepared(db)
	}
	return findEvents(tx.WithContext(ctx).Model(&OrderEvent{}).Select(eventColumns).
		Where("order_id IN ?", orderIDs).Order("id"))
}

// LastOrderEvent returns the newest timeline row of an order with action;
// found is false when there is none.
func LastOrderEvent(ctx context.Context, db *gorm.DB, orderID int64, action string) (ev OrderEvent, found bool, err error) {
	var evs []OrderEvent
	err = db.WithContext(ctx).Where("order_id = ? AND action = ?", orderID, action).Order("id DESC").Limit(1).Find(&evs).Error
	if err != nil || len(evs) == 0 {
		return ev, false, Translate(err)
	}
	return evs[0], true, nil
}

// LastOrderStep returns the newest timeline row of an order whose action
// is not one of aside; found is false when there is none.
func LastOrderStep(ctx context.Context, db *gorm.DB, orderID int64, aside []string) (ev OrderEvent, found bool, err error) {
	q := db.WithContext(ctx).Where("order_id = ?", orderID)
	if len(aside) > 0 {
		q = q.Where("action NOT IN ?", aside)
	}
	var evs []OrderEvent
	if err = q.Order("id DESC").Limit(1).Find(&evs).Error; err != nil || len(evs) == 0 {
		return ev, false, Translate(err)
	}
	return evs[0], true, nil
}

// ReserveOrderNumbers reserves the next n numbers of day (YYYYMMDD) in a
// short transaction of its own and returns the last of them: the caller
// owns last-n+1 … last. The counter row is locked only for that
// transaction, never across an order's, so submits do not queue on it;
// a number reserved and then not used is a gap, never a duplicate. It must
// not be called inside another transaction (SQLite has one connection).
func ReserveOrderNumbers(ctx context.Context, db *gorm.DB, day string, n int64) (int64, error) {
	if n < 1 {
		n = 1
	}
	var last int64
	// The first reservations of a day race to create its row: MySQL may
	// pick one as a deadlock victim, which simply runs again.
	err := InTxRetry(ctx, db, 3, func(tx *gorm.DB) error {
		tx = tx.WithContext(ctx)
		err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "day"}},
			DoUpdates: clause.Assignments(map[string]any{"last": gorm.Expr("? + ?", clause.Column{Name: "last"}, n)}),
		}).Create(&OrderCounter{Day: day, Last: n}).Error
		if err != nil {
			return fmt.Errorf("bump order counter: %w", Translate(err))
		}
		if err := tx.Model(&OrderCounter{}).Where("day = ?", day).Select("last").Scan(&last).Error; err != nil {
			return fmt.Errorf("read order counter: %w", Translate(err))
		}
		return nil
	})
	return last, err
}

// OrderScope is one part of the orders a viewer's queue holds; a query
// ORs its scopes. Exactly one of its shapes is used:
//   - All: every order (at Level, when set);
//   - Person: the orders a user submitted or is the resident of;
//   - TreeKind and TreeID: the orders in that part of the tree (at Level,
//     when set);
//   - HandlerKind and HandlerIDs: the orders those organisations handle
//     (only those assigned to Assignee, when set).
type OrderScope struct {
	All    bool
	Level  string
	Person int64
	// OwnReportsOnly says Person has not reported for others
	// (User.ReportedForOthers is false): their orders are those they are
	// the resident of.
	OwnReportsOnly bool
	TreeKind       string
	TreeID         int64
	HandlerKind    string
	HandlerIDs     []int64
	Assignee       int64
}

// OrderQuery selects one page of orders, newest first.
type OrderQuery struct {
	Scopes []OrderScope
	// States holds sets of states; an order must be in each of them.
	States     [][]string
	Category   string // a code; also matches its sub-kinds (code.…)
	CompoundID int64
	GridID     int64
	Level      string     // the order's current level
	Overdue    *bool      // late at any step (overdue now, or breached before)
	From, To   *time.Time // created in [From, To)
	Before     int64      // ids below this (a cursor); 0 from the newest
	Limit      int        // a page: required
}

// TreeColumn names the orders column holding a tree scope kind's id, ""
// for a kind outside the tree.
func TreeColumn(kind string) string {
	switch kind {
	case ScopeCity, ScopeDistrict, ScopeStreet, ScopeCommunity, ScopeCompound, ScopeGrid, ScopeBuilding:
		return kind + "_id"
	}
	return ""
}

// ListOrders runs q. Scopes of a kind outside the tree select nothing;
// no scope at all selects nothing either.
//
// An OR over scopes on different columns defeats every index: the
// database would read each matching row of the history and sort them
// before the limit. So the query is split into parts of equalities only
// (a scope, a level, a state), each matching one of the composite indexes
// of migration 5 and so read newest first straight off the index, at most
// one page per part; the parts run as one UNION ALL statement and their
// pages merge here by id. The first Limit ids of the merge are the first
// Limit ids of the OR: a row of the answer is among the first Limit of
// every part that holds it.
func ListOrders(ctx context.Context, db *gorm.DB, q OrderQuery) ([]Order, error) {
	if q.Limit <= 0 {
		return nil, errors.New("model: a list of orders needs a limit")
	}
	states, ok := stateSet(q.States)
	if !ok {
		return nil, nil // the state sets have nothing in common
	}
	parts, split := orderParts(q.Scopes, states)
	if len(parts) == 0 {
		return nil, nil
	}
	if !split {
		return listOrdersOr(ctx, db, q)
	}
	if len(parts) == 1 {
		return findOrders(partQuery(Prepared(db).WithContext(ctx), q, parts[0]).Select(orderColumns))
	}
	// The parts yield ids off their indexes alone; the first Limit of
	// their merge are joined to their rows, so that one page of rows is
	// read and sent, not a page per part.
	sel := make([]string, len(parts))
	subs := make([]any, len(parts))
	for i, p := range parts {
		sel[i] = fmt.Sprintf("SELECT id FROM (?) AS p%d", i)
		subs[i] = partQuery(db, q, p).Select("id")
	}
	stmt := "SELECT " + orderColumnsOfO + " FROM (SELECT DISTINCT id FROM (" + strings.Join(sel, " UNION ALL ") +
		") AS u ORDER BY id DESC LIMIT ?) AS t JOIN orders o ON o.id = t.id"
	rows, err := findOrders(Prepared(db).WithContext(ctx).Raw(stmt, append(subs, q.Limit)...))
	if err != nil {
		return nil, err
	}
	seen := make(map[int64]bool, len(rows))
	out := rows[:0]
	for _, o := range rows {
		if !seen[o.ID] {
			seen[o.ID] = true
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Order) int { return cmp.Compare(b.ID, a.ID) })
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// orderPart is one part of a queue: equalities an index serves in id
// order (a state among them; states holds the part's remaining states,
// nil for any).
type orderPart struct {
	where  string
	args   []any
	states []string
	// index is the one serving the part. MySQL is told to use it: left
	// to statistics, the optimizer at times intersects single-column
	// indexes instead and sorts the result.
	index string
}

// orderLevels and orderStates are every level and state an order can be
// in: a part without a level or a state is read once per value, so that
// its index yields it in id order.
var (
	orderLevels = []string{OrderLevelGrid, OrderLevelCommunity, OrderLevelStreet, OrderLevelCity}
	orderStates = []string{StateSubmitted, StateVerified, StateDispatched, StateAccepted, StateInProgress,
		StateCompleted, StateConfirmed, StateClosed, StateRejected, StateMerged, StateCancelled}
)

// maxOrderParts bounds the statement: an actor with very many grants is
// served by the single OR query instead.
const maxOrderParts = 96

// stateSet is the intersection of the state sets, nil for no set; false
// when it is empty.
func stateSet(sets [][]string) ([]string, bool) {
	if len(sets) == 0 {
		return nil, true
	}
	var out []string
	for _, st := range sets[0] {
		in := !slices.Contains(out, st)
		for _, other := range sets[1:] {
			in = in && slices.Contains(other, st)
		}
		if in {
			out = append(out, st)
		}
	}
	return out, len(out) > 0
}

// orderParts splits scopes into parts; false when there are too many (or
// a state outside the known ones), for the OR query.
func orderParts(scopes []OrderScope, states []string) ([]orderPart, bool) {
	var parts []orderPart
	seen := map[string]bool{}
	add := func(p orderPart) {
		key := fmt.Sprint(p.where, p.args)
		if !seen[key] {
			seen[key] = true
			parts = append(parts, p)
		}
	}
	for _, st := range states {
		if !slices.Contains(orderStates, st) {
			return []orderPart{{}}, false
		}
	}
	// tree adds the parts of col = id (the whole city for col ""): by
	// level and state on the (col, level, state) index, or on col's own
	// index (col, id) when neither narrows it.
	tree := func(col string, id int64, level string) {
		eq, args := "", []any{}
		if col != "" {
			eq, args = col+" = ? AND ", []any{id}
		}
		if level == "" && states == nil {
			if col == "" {
				add(orderPart{where: "1 = 1"})
			} else {
				add(orderPart{where: col + " = ?", args: args, index: "idx_orders_" + col})
			}
			return
		}
		levels, sts := orderLevels, orderStates
		if level != "" {
			levels = []string{level}
		}
		if states != nil {
			sts = states
		}
		// Levels above the grid are named as the tree's kinds.
		if level != "" && level != OrderLevelGrid && col == TreeColumn(level) && states != nil && subset(states, intakeStates) {
			// A dispatcher's queue: the orders waiting at their desk, one
			// range of ix_order_intake whatever the two states.
			var only []string
			if len(states) < len(intakeStates) {
				only = states
			}
			add(orderPart{where: "level = ? AND intake_node = ?", args: []any{level, id}, states: only, index: "ix_order_intake"})
			return
		}
		if col == "grid_id" && level == "" {
			// A grid worker's queues are by state at any level (an
			// unverified report climbs on and stays theirs to verify):
			// one part per state, not one per level too.
			for _, st := range sts {
				add(orderPart{where: "grid_id = ? AND state = ?", args: []any{id, st}, index: "ix_order_grid_state"})
			}
			return
		}
		index := "ix_order_level_queue"
		if col != "" {
			index = "ix_order_" + strings.TrimSuffix(col, "_id") + "_queue"
		}
		for _, l := range levels {
			for _, st := range sts {
				add(orderPart{where: eq + "level = ? AND state = ?", args: append(slices.Clip(args), l, st), index: index})
			}
		}
	}
	for _, sc := range scopes {
		switch {
		case sc.All:
			tree("", 0, sc.Level)
		case sc.Person != 0:
			// One person's orders are few: their own indexes, states checked
			// on the rows.
			if !sc.OwnReportsOnly {
				add(orderPart{where: "author_id = ?", args: []any{sc.Person}, states: states, index: "idx_orders_author_id"})
			}
			add(orderPart{where: "resident_id = ?", args: []any{sc.Person}, states: states, index: "idx_orders_resident_id"})
		case sc.TreeKind != "":
			if col := TreeColumn(sc.TreeKind); col != "" {
				tree(col, sc.TreeID, sc.Level)
			}
		case sc.HandlerKind != "" && sc.Assignee != 0:
			// By assignee (and state) on its index, the firm checked on the rows.
			if states == nil {
				add(orderPart{where: "assignee_id = ? AND handler_kind = ? AND handler_id IN ?",
					args: []any{sc.Assignee, sc.HandlerKind, sc.HandlerIDs}, index: "idx_orders_assignee_id"})
			}
			for _, st := range states {
				add(orderPart{where: "assignee_id = ? AND state = ? AND handler_kind = ? AND handler_id IN ?",
					args: []any{sc.Assignee, st, sc.HandlerKind, sc.HandlerIDs}, index: "ix_order_assignee_queue"})
			}
		case sc.HandlerKind != "":
			sts := orderStates
			if states != nil {
				sts = states
			}
			for _, id := range sc.HandlerIDs {
				for _, st := range sts {
					add(orderPart{where: "handler_kind = ? AND handler_id = ? AND state = ?", args: []any{sc.HandlerKind, id, st}, index: "ix_order_handler_queue"})
				}
			}
		}
	}
	return parts, len(parts) <= maxOrderParts
}

// subset reports whether every one of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// partQuery is the query of one part with q's filters, newest first.
func partQuery(db *gorm.DB, q OrderQuery, p orderPart) *gorm.DB {
	tx := withIndex(db.Model(&Order{}), p.index).Where(p.where, p.args...)
	if p.states != nil {
		tx = tx.Where("state IN ?", p.states)
	}
	return orderFilters(tx, q).Order("id DESC").Limit(q.Limit)
}

// orderFilters adds q's filters other than scopes and states.
func orderFilters(tx *gorm.DB, q OrderQuery) *gorm.DB {
	if q.Category != "" {
		tx = tx.Where("(category_code = ? OR category_code LIKE ?)", q.Category, likeEscape(q.Category)+".%")
	}
	if q.CompoundID != 0 {
		tx = tx.Where("compound_id = ?", q.CompoundID)
	}
	if q.GridID != 0 {
		tx = tx.Where("grid_id = ?", q.GridID)
	}
	if q.Level != "" {
		tx = tx.Where("level = ?", q.Level)
	}
	if q.Overdue != nil {
		// Late at any step, also when escalation has started a new one.
		if *q.Overdue {
			tx = tx.Where("(overdue = ? OR breaches > 0)", true)
		} else {
			tx = tx.Where("overdue = ? AND breaches = 0", false)
		}
	}
	if q.From != nil {
		tx = tx.Where("created_at >= ?", q.From.UTC())
	}
	if q.To != nil {
		tx = tx.Where("created_at < ?", q.To.UTC())
	}
	if q.Before > 0 {
		tx = tx.Where("id < ?", q.Before)
	}
	return tx
}

// listOrdersOr runs q as one query ORing its scopes: right, but it reads
// every matching row before the limit. ListOrders falls back to it for an
// actor whose grants would make too many parts.
func listOrdersOr(ctx context.Context, db *gorm.DB, q OrderQuery) ([]Order, error) {
	tx, ok := orderOrQuery(ctx, db, q)
	if !ok {
		return nil, nil
	}
	return findOrders(tx.Select(orderColumns).Order("id DESC").Limit(q.Limit))
}

// orderOrQuery is q as one query ORing its scopes, with its states and
// filters; false when no scope selects anything.
func orderOrQuery(ctx context.Context, db *gorm.DB, q OrderQuery) (*gorm.DB, bool) {
	var parts []string
	var args []any
	add := func(sql string, a ...any) {
		parts = append(parts, sql)
		args = append(args, a...)
	}
	for _, sc := range q.Scopes {
		level, levelArg := "", []any{}
		if sc.Level != "" {
			level, levelArg = "level = ? AND ", []any{sc.Level}
		}
		switch {
		case sc.All && sc.Level == "":
			add("1 = 1")
		case sc.All:
			add("level = ?", sc.Level)
		case sc.Person != 0 && sc.OwnReportsOnly:
			add("resident_id = ?", sc.Person)
		case sc.Person != 0:
			add("author_id = ? OR resident_id = ?", sc.Person, sc.Person)
		case sc.TreeKind != "":
			if col := TreeColumn(sc.TreeKind); col != "" {
				add(level+col+" = ?", append(levelArg, sc.TreeID)...)
			}
		case sc.HandlerKind != "" && sc.Assignee != 0:
			add("assignee_id = ? AND handler_kind = ? AND handler_id IN ?", sc.Assignee, sc.HandlerKind, sc.HandlerIDs)
		case sc.HandlerKind != "":
			add("handler_kind = ? AND handler_id IN ?", sc.HandlerKind, sc.HandlerIDs)
		}
	}
	if len(parts) == 0 {
		return nil, false
	}
	tx := db.WithContext(ctx).Model(&Order{}).Where("("+strings.Join(parts, ") OR (")+")", args...)
	for _, states := range q.States {
		tx = tx.Where("state IN ?", states)
	}
	return orderFilters(tx, q), true
}

// withIndex reads orders by the named index on MySQL, where the plan
// would otherwise flip with statistics; SQLite picks it by itself.
func withIndex(tx *gorm.DB, index string) *gorm.DB {
	if index == "" || !IsMySQL(tx) {
		return tx
	}
	return tx.Table("orders FORCE INDEX (" + index + ")")
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// DueOrders returns, by ascending id after the id after, up to limit
// orders in one of states whose running step's deadline has passed at now
// and that are not yet marked overdue.
func DueOrders(ctx context.Context, db *gorm.DB, states []string, now time.Time, after int64, limit int) ([]Order, error) {
	var rows []Order
	err := withIndex(db.WithContext(ctx).Model(&Order{}), "ix_order_deadline").
		Where("state IN ? AND overdue = ? AND paused_at IS NULL AND step_deadline IS NOT NULL AND step_deadline <= ?",
			states, false, now).
		Where("id > ?", after).Order("id").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// DeadlineCursor is where a pass in deadline order stands: after the
// order ID whose step deadline is At. The zero value is the start.
type DeadlineCursor struct {
	At time.Time
	ID int64
}

// WarnableOrders returns, by ascending deadline and id after the cursor,
// up to limit running, unwarned, not overdue orders in one of states
// whose deadline lies in (now, horizon]. Each page is a range of
// ix_order_warn that starts where the last one ended.
func WarnableOrders(ctx context.Context, db *gorm.DB, states []string, now, horizon time.Time, after DeadlineCursor, limit int) ([]Order, error) {
	tx := withIndex(db.WithContext(ctx).Model(&Order{}), "ix_order_warn").
		Where("overdue = ? AND warned_at IS NULL AND step_deadline > ? AND step_deadline <= ?", false, now, horizon).
		Where("state IN ? AND paused_at IS NULL", states)
	if after.ID > 0 {
		tx = tx.Where("step_deadline >= ? AND (step_deadline > ? OR id > ?)", after.At, after.At, after.ID)
	}
	var rows []Order
	err := tx.Order("step_deadline, id").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// UnratedOrders returns, by ascending id after the id after, up to limit
// confirmed, unrated orders of the categories confirmed at or before
// cutoff.
func UnratedOrders(ctx context.Context, db *gorm.DB, categoryIDs []int64, cutoff time.Time, after int64, limit int) ([]Order, error) {
	var rows []Order
	err := db.WithContext(ctx).
		Where("category_id IN ? AND state = ? AND rating_overall = 0 AND confirmed_at IS NOT NULL AND confirmed_at <= ?",
			categoryIDs, StateConfirmed, cutoff).
		Where("id > ?", after).Order("id").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// Categories lists the order categories by sort order (active ones only,
// unless inactive ones are asked for too).
func Categories(ctx context.Context, db *gorm.DB, includeInactive bool) ([]Category, error) {
	q := db.WithContext(ctx).Order("sort_order, id")
	if !includeInactive {
		q = q.Where("active = ?", true)
	}
	var cats []Category
	err := q.Find(&cats).Error
	return cats, Translate(err)
}

// SaveCategory writes every column of c but its id, code and creation time.
func SaveCategory(ctx context.Context, tx *gorm.DB, c *Category) error {
	return Translate(tx.WithContext(ctx).Select("*").Omit("id", "created_at", "code").Save(c).Error)
}

// InsertMissingCategories inserts the categories whose code is not there
// yet and leaves the others as they are.
func InsertMissingCategories(ctx context.Context, db *gorm.DB, cats []Category) error {
	err := db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "code"}}, DoNothing: true}).
		Create(&cats).Error
	return Translate(err)
}

// ContractedFirm is the firm whose contract covers the compound on day
// (midnight UTC of a Beijing date, as contracts store it); 0 when none.
func ContractedFirm(ctx context.Context, db *gorm.DB, compoundID int64, day time.Time) (int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Contract{}).
		Where("compound_id = ? AND starts_on <= ? AND ends_on >= ?", compoundID, day, day).
		Order("starts_on DESC, id DESC").Limit(1).Pluck("firm_id", &ids).Error
	if err != nil || len(ids) == 0 {
		return 0, Translate(err)
	}
	return ids[0], nil
}

// DepartmentsOfKind lists the departments of kind in a city.
func DepartmentsOfKind(ctx context.Context, db *gorm.DB, kind string, cityID int64) ([]Department, error) {
	var ds []Department
	err := db.WithContext(ctx).Where("kind = ? AND city_id = ?", kind, cityID).Find(&ds).Error
	return ds, Translate(err)
}

// BuildingsOfCompound lists a compound's buildings by id.
func BuildingsOfCompound(ctx context.Context, db *gorm.DB, compoundID int64) ([]Building, error) {
	var bs []Building
	err := db.WithContext(ctx).Where("compound_id = ?", compoundID).Order("id").Find(&bs).Error
	return bs, Translate(err)
}

// ResidencyIn returns the user's first residency in the household, or,
// with householdID 0, in the compound; found is false when there is none.
func ResidencyIn(ctx context.Context, db *gorm.DB, userID, householdID, compoundID int64) (r Residency, found bool, err error) {
	q := db.WithContext(ctx).Where("user_id = ?", userID)
	if householdID != 0 {
		q = q.Where("household_id = ?", householdID)
	} else {
		q = q.Where("compound_id = ?", compoundID)
	}
	err = Translate(q.Order("id").Take(&r).Error)
	if errors.Is(err, ErrNotFound) {
		return r, false, nil
	}
	return r, err == nil, err
}
