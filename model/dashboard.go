package model

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// HistBuckets is the number of buckets of each duration histogram of a
// rollup row (time to accept, to complete, to acknowledge a call).
const HistBuckets = 16

// Rollup counters, by index into Counts (and column, see rollupColumns).
// Flow counters count events on the day they happened; cohort counters
// (states, levels, settled) count orders on the day they were received,
// so that summed over a period they describe the orders received in it.
const (
	RReceived = iota
	RDispatched
	RAccepted
	RReturned
	RCompleted
	RConfirmed
	RReworked
	RRated
	RSatisfied
	RClosed
	ROverdue
	REscCommunity
	REscStreet
	REscCity
	RCalls
	RCallsAcked
	RStSubmitted
	RStVerified
	RStDispatched
	RStAccepted
	RStInProgress
	RStCompleted
	RStConfirmed
	RStClosed
	RStRejected
	RStMerged
	RStCancelled
	RLvGrid
	RLvCommunity
	RLvStreet
	RLvCity
	RSettled
	RSettledOnTime
	// RAccHist is the first of HistBuckets counters of the time from
	// submission to the first acceptance; RCmpHist to the first
	// completion; RAckHist from an emergency call to its first response.
	RAccHist
)

// The other histograms and the width of a row.
const (
	RCmpHist    = RAccHist + HistBuckets
	RAckHist    = RCmpHist + HistBuckets
	RollupWidth = RAckHist + HistBuckets
)

// Counts is one rollup row's counters (or a sum of rows).
type Counts [RollupWidth]int64

// Add adds o to c.
func (c *Counts) Add(o *Counts) {
	for i := range c {
		c[i] += o[i]
	}
}

// IsZero reports whether every counter is 0.
func (c *Counts) IsZero() bool { return *c == Counts{} }

// rollupColumns are the counters' columns, in Counts order.
var rollupColumns = func() []string {
	cols := []string{
		"received",
		"dispatched",
		"accepted",
		"returned",
		"completed",
		"confirmed",
		"reworked",
		"rated",
		"satisfied",
		"closed",
		"overdue",
		"esc_community",
		"esc_street",
		"esc_city",
		"calls",
		"calls_acked",
		"st_submitted",
		"st_verified",
		"st_dispatched",
		"st_accepted",
		"st_in_progress",
		"st_completed",
		"st_confirmed",
		"st_closed",
		"st_rejected",
		"st_merged",
		"st_cancelled",
		"lv_grid",
		"lv_community",
		"lv_street",
		"lv_city",
		"settled",
		"settled_on_time",
	}
	for _, h := range []string{"acc", "cmp", "ack"} {
		for i := range HistBuckets {
			cols = append(cols, fmt.Sprintf("%s_h%02d", h, i))
		}
	}
	return cols
}()

// RollupColumns lists the counters' column names in Counts order.
func RollupColumns() []string { return slices.Clone(rollupColumns) }

// DashRollup is one (scope, day, category) row of the dashboards'
// counters, kept by the dashboard refresh from the order timeline. Day is
// the Beijing date as yyyymmdd; ParentID is the scope's parent in the
// tree (0 for the city and for firms), so that a drill-down reads the
// children of one scope by one index range.
//
// Every count is kept twice: in its day's row (Grain "d") and in its
// month's (Grain "m", Day the month's first day), so that a long period
// sums its whole months from one row each and only its ragged ends from
// day rows: a year of a city is some 70 rows per category, not 365.
type DashRollup struct {
	ScopeKind     string `gorm:"primaryKey;size:16;index:ix_dash_rollup_parent,priority:1"`
	ScopeID       int64  `gorm:"primaryKey;autoIncrement:false"`
	Grain         string `gorm:"primaryKey;size:1;index:ix_dash_rollup_parent,priority:3"`
	Day           int    `gorm:"primaryKey;autoIncrement:false;index:ix_dash_rollup_parent,priority:4"`
	CategoryID    int64  `gorm:"primaryKey;autoIncrement:false"`
	ParentID      int64  `gorm:"not null;default:0;index:ix_dash_rollup_parent,priority:2"`
	Received      int64  `gorm:"column:received;not null;default:0"`
	Dispatched    int64  `gorm:"column:dispatched;not null;default:0"`
	Accepted      int64  `gorm:"column:accepted;not null;default:0"`
	Returned      int64  `gorm:"column:returned;not null;default:0"`
	Completed     int64  `gorm:"column:completed;not null;default:0"`
	Confirmed     int64  `gorm:"column:confirmed;not null;default:0"`
	Reworked      int64  `gorm:"column:reworked;not null;default:0"`
	Rated         int64  `gorm:"column:rated;not null;default:0"`
	Satisfied     int64  `gorm:"column:satisfied;not null;default:0"`
	Closed        int64  `gorm:"column:closed;not null;default:0"`
	Overdue       int64  `gorm:"column:overdue;not null;default:0"`
	EscCommunity  int64  `gorm:"column:esc_community;not null;default:0"`
	EscStreet     int64  `gorm:"column:esc_street;not null;default:0"`
	EscCity       int64  `gorm:"column:esc_city;not null;default:0"`
	Calls         int64  `gorm:"column:calls;not null;default:0"`
	CallsAcked    int64  `gorm:"column:calls_acked;not null;default:0"`
	StSubmitted   int64  `gorm:"column:st_submitted;not null;default:0"`
	StVerified    int64  `gorm:"column:st_verified;not null;default:0"`
	StDispatched  int64  `gorm:"column:st_dispatched;not null;default:0"`
	StAccepted    int64  `gorm:"column:st_accepted;not null;default:0"`
	StInProgress  int64  `gorm:"column:st_in_progress;not null;default:0"`
	StCompleted   int64  `gorm:"column:st_completed;not null;default:0"`
	StConfirmed   int64  `gorm:"column:st_confirmed;not null;default:0"`
	StClosed      int64  `gorm:"column:st_closed;not null;default:0"`
	StRejected    int64  `gorm:"column:st_rejected;not null;default:0"`
	StMerged      int64  `gorm:"column:st_merged;not null;default:0"`
	StCancelled   int64  `gorm:"column:st_cancelled;not null;default:0"`
	LvGrid        int64  `gorm:"column:lv_grid;not null;default:0"`
	LvCommunity   int64  `gorm:"column:lv_community;not null;default:0"`
	LvStreet      int64  `gorm:"column:lv_street;not null;default:0"`
	LvCity        int64  `gorm:"column:lv_city;not null;default:0"`
	Settled       int64  `gorm:"column:settled;not null;default:0"`
	SettledOnTime int64  `gorm:"column:settled_on_time;not null;default:0"`
	AccH00        int64  `gorm:"column:acc_h00;not null;default:0"`
	AccH01        int64  `gorm:"column:acc_h01;not null;default:0"`
	AccH02        int64  `gorm:"column:acc_h02;not null;default:0"`
	AccH03        int64  `gorm:"column:acc_h03;not null;default:0"`
	AccH04        int64  `gorm:"column:acc_h04;not null;default:0"`
	AccH05        int64  `gorm:"column:acc_h05;not null;default:0"`
	AccH06        int64  `gorm:"column:acc_h06;not null;default:0"`
	AccH07        int64  `gorm:"column:acc_h07;not null;default:0"`
	AccH08        int64  `gorm:"column:acc_h08;not null;default:0"`
	AccH09        int64  `gorm:"column:acc_h09;not null;default:0"`
	AccH10        int64  `gorm:"column:acc_h10;not null;default:0"`
	AccH11        int64  `gorm:"column:acc_h11;not null;default:0"`
	AccH12        int64  `gorm:"column:acc_h12;not null;default:0"`
	AccH13        int64  `gorm:"column:acc_h13;not null;default:0"`
	AccH14        int64  `gorm:"column:acc_h14;not null;default:0"`
	AccH15        int64  `gorm:"column:acc_h15;not null;default:0"`
	CmpH00        int64  `gorm:"column:cmp_h00;not null;default:0"`
	CmpH01        int64  `gorm:"column:cmp_h01;not null;default:0"`
	CmpH02        int64  `gorm:"column:cmp_h02;not null;default:0"`
	CmpH03        int64  `gorm:"column:cmp_h03;not null;default:0"`
	CmpH04        int64  `gorm:"column:cmp_h04;not null;default:0"`
	CmpH05        int64  `gorm:"column:cmp_h05;not null;default:0"`
	CmpH06        int64  `gorm:"column:cmp_h06;not null;default:0"`
	CmpH07        int64  `gorm:"column:cmp_h07;not null;default:0"`
	CmpH08        int64  `gorm:"column:cmp_h08;not null;default:0"`
	CmpH09        int64  `gorm:"column:cmp_h09;not null;default:0"`
	CmpH10        int64  `gorm:"column:cmp_h10;not null;default:0"`
	CmpH11        int64  `gorm:"column:cmp_h11;not null;default:0"`
	CmpH12        int64  `gorm:"column:cmp_h12;not null;default:0"`
	CmpH13        int64  `gorm:"column:cmp_h13;not null;default:0"`
	CmpH14        int64  `gorm:"column:cmp_h14;not null;default:0"`
	CmpH15        int64  `gorm:"column:cmp_h15;not null;default:0"`
	AckH00        int64  `gorm:"column:ack_h00;not null;default:0"`
	AckH01        int64  `gorm:"column:ack_h01;not null;default:0"`
	AckH02        int64  `gorm:"column:ack_h02;not null;default:0"`
	AckH03        int64  `gorm:"column:ack_h03;not null;default:0"`
	AckH04        int64  `gorm:"column:ack_h04;not null;default:0"`
	AckH05        int64  `gorm:"column:ack_h05;not null;default:0"`
	AckH06        int64  `gorm:"column:ack_h06;not null;default:0"`
	AckH07        int64  `gorm:"column:ack_h07;not null;default:0"`
	AckH08        int64  `gorm:"column:ack_h08;not null;default:0"`
	AckH09        int64  `gorm:"column:ack_h09;not null;default:0"`
	AckH10        int64  `gorm:"column:ack_h10;not null;default:0"`
	AckH11        int64  `gorm:"column:ack_h11;not null;default:0"`
	AckH12        int64  `gorm:"column:ack_h12;not null;default:0"`
	AckH13        int64  `gorm:"column:ack_h13;not null;default:0"`
	AckH14        int64  `gorm:"column:ack_h14;not null;default:0"`
	AckH15        int64  `gorm:"column:ack_h15;not null;default:0"`
}

// DashWatermark is how far the refresh has read the order timeline: every
// event with an id up to LastID is counted in the rollups, none above.
type DashWatermark struct {
	Name      string `gorm:"primaryKey;size:32"`
	LastID    int64  `gorm:"not null;default:0"`
	UpdatedAt time.Time
}

// Grains of rollup rows.
const (
	GrainDay   = "d"
	GrainMonth = "m"
)

// MonthOf is the month row's day of a day (yyyymm01).
func MonthOf(day int) int { return day/100*100 + 1 }

// RollupKey names one rollup row.
type RollupKey struct {
	ScopeKind  string
	ScopeID    int64
	Grain      string
	Day        int
	CategoryID int64
	ParentID   int64
}

// LockWatermark reads the watermark name inside tx, creating it at 0, and
// holds its row until tx ends; locked is false, and nothing is held, when
// another transaction holds it (another instance is refreshing: this one
// skips its turn rather than wait on the lock).
func LockWatermark(ctx context.Context, tx *gorm.DB, name string) (last int64, locked bool, err error) {
	tx = tx.WithContext(ctx)
	take := func(skip bool) ([]DashWatermark, error) {
		q := tx
		if skip && IsMySQL(tx) {
			q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		} else {
			q = ForUpdate(q)
		}
		var ws []DashWatermark
		err := q.Where("name = ?", name).Limit(1).Find(&ws).Error
		return ws, Translate(err)
	}
	ws, err := take(true)
	if err != nil || len(ws) == 1 {
		if err != nil {
			return 0, false, fmt.Errorf("lock watermark: %w", err)
		}
		return ws[0].LastID, true, nil
	}
	// Not read: either held by another transaction, or not there yet.
	var n int64
	if err := tx.Model(&DashWatermark{}).Where("name = ?", name).Count(&n).Error; err != nil {
		return 0, false, fmt.Errorf("read watermark: %w", Translate(err))
	}
	if n > 0 {
		return 0, false, nil
	}
	err = tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&DashWatermark{Name: name, UpdatedAt: time.Now().UTC()}).Error
	if err != nil {
		return 0, false, fmt.Errorf("create watermark: %w", Translate(err))
	}
	if ws, err = take(false); err != nil || len(ws) == 0 {
		return 0, false, fmt.Errorf("lock watermark: %w", err)
	}
	return ws[0].LastID, true, nil
}

// Watermark reads the watermark name (0 when there is none yet).
func Watermark(ctx context.Context, db *gorm.DB, name string) (DashWatermark, error) {
	var ws []DashWatermark
	err := db.WithContext(ctx).Where("name = ?", name).Limit(1).Find(&ws).Error
	if err != nil || len(ws) == 0 {
		return DashWatermark{Name: name}, Translate(err)
	}
	return ws[0], nil
}

// AdvanceWatermark moves the watermark from from to to, as a
// compare-and-set: false when another writer moved it meanwhile (the
// caller's transaction must then roll back what it counted).
func AdvanceWatermark(ctx context.Context, tx *gorm.DB, name string, from, to int64, now time.Time) (bool, error) {
	res := tx.WithContext(ctx).Model(&DashWatermark{}).Where("name = ? AND last_id = ?", name, from).
		Updates(map[string]any{"last_id": to, "updated_at": now})
	if res.Error != nil {
		return false, fmt.Errorf("advance watermark: %w", Translate(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// EventsAfter returns up to limit timeline rows with ids above after, by
// id, with the columns the rollups read.
func EventsAfter(ctx context.Context, db *gorm.DB, after int64, limit int) ([]OrderEvent, error) {
	var evs []OrderEvent
	err := db.WithContext(ctx).Select("id", "order_id", "action", "from_state", "to_state", "from_level", "to_level",
		"handler_kind", "handler_id", "note", "created_at").
		Where("id > ?", after).Order("id").Limit(limit).Find(&evs).Error
	return evs, Translate(err)
}

// TimelinesUpTo returns the timeline rows of orders with ids up to maxID,
// by order and id, without notes and photos.
func TimelinesUpTo(ctx context.Context, db *gorm.DB, orderIDs []int64, maxID int64) ([]OrderEvent, error) {
	if len(orderIDs) == 0 {
		return nil, nil
	}
	var evs []OrderEvent
	err := db.WithContext(ctx).Select("id", "order_id", "action", "from_state", "to_state", "from_level", "to_level",
		"handler_kind", "handler_id", "note", "created_at").
		Where("order_id IN ? AND id <= ?", orderIDs, maxID).Order("order_id, id").Find(&evs).Error
	return evs, Translate(err)
}

// RollupOrders returns the orders of ids with what places them: category,
// ancestry, channel and when they were received.
func RollupOrders(ctx context.Context, db *gorm.DB, ids []int64) ([]Order, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var os []Order
	err := db.WithContext(ctx).Select("id", "category_id", "channel", "created_at", "city_id", "district_id", "street_id",
		"community_id", "compound_id", "grid_id").Where("id IN ?", ids).Find(&os).Error
	return os, Translate(err)
}

// rollupBatch is the rows per multi-row upsert (87 placeholders a row;
// SQLite takes 32,766).
const rollupBatch = 200

// AddRollups adds the counts of rows to the rollup table inside tx,
// creating rows that are not there yet.
func AddRollups(ctx context.Context, tx *gorm.DB, rows map[RollupKey]*Counts) error {
	keys := make([]RollupKey, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	// A fixed order: two writers never lock the same rows in opposite orders.
	slices.SortFunc(keys, func(a, b RollupKey) int {
		if c := strings.Compare(a.ScopeKind, b.ScopeKind); c != 0 {
			return c
		}
		if a.ScopeID != b.ScopeID {
			return cmpInt(a.ScopeID, b.ScopeID)
		}
		if c := strings.Compare(a.Grain, b.Grain); c != 0 {
			return c
		}
		if a.Day != b.Day {
			return cmpInt(int64(a.Day), int64(b.Day))
		}
		return cmpInt(a.CategoryID, b.CategoryID)
	})
	head := "INSERT INTO dash_rollups (scope_kind, scope_id, grain, day, category_id, parent_id, " + strings.Join(rollupColumns, ", ") + ") VALUES "
	one := "(?, ?, ?, ?, ?, ?" + strings.Repeat(", ?", RollupWidth) + ")"
	sets := make([]string, len(rollupColumns))
	for i, c := range rollupColumns {
		if IsMySQL(tx) {
			sets[i] = fmt.Sprintf("%s = %s + VALUES(%s)", c, c, c)
		} else {
			sets[i] = fmt.Sprintf("%s = %s + excluded.%s", c, c, c)
		}
	}
	tail := " ON CONFLICT (scope_kind, scope_id, grain, day, category_id) DO UPDATE SET " + strings.Join(sets, ", ")
	if IsMySQL(tx) {
		tail = " ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
	}
	for start := 0; start < len(keys); start += rollupBatch {
		part := keys[start:min(start+rollupBatch, len(keys))]
		vals := make([]string, len(part))
		args := make([]any, 0, len(part)*(RollupWidth+6))
		for i, k := range part {
			vals[i] = one
			args = append(args, k.ScopeKind, k.ScopeID, k.Grain, k.Day, k.CategoryID, k.ParentID)
			for _, n := range rows[k] {
				args = append(args, n)
			}
		}
		if err := tx.WithContext(ctx).Exec(head+strings.Join(vals, ", ")+tail, args...).Error; err != nil {
			return fmt.Errorf("add rollups: %w", Translate(err))
		}
	}
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// RollupQuery selects rollup rows to sum: those of one scope (ScopeID) or
// of the children of one (ParentID, with ScopeKind the children's kind),
// on days in [FromDay, ToDay], of Categories when set; GroupBy is "",
// "category_id", "day" or "scope_id".
type RollupQuery struct {
	ScopeKind  string
	ScopeID    int64
	ParentID   int64
	Children   bool
	FromDay    int
	ToDay      int
	Categories []int64
	GroupBy    string
}

// RollupSum is the sum of the rows of one group (Key is the group's
// category, day or scope id; 0 without grouping).
type RollupSum struct {
	Key    int64
	Counts Counts
}

// SumRollups sums the counters of q's rows per group, by group key. It
// reads one range of the primary key (or of ix_dash_rollup_parent for
// children) and never the orders.
func SumRollups(ctx context.Context, db *gorm.DB, q RollupQuery) ([]RollupSum, error) {
	sums := make([]string, len(rollupColumns))
	for i, c := range rollupColumns {
		sums[i] = "COALESCE(SUM(" + c + "), 0)"
	}
	key := "0"
	switch q.GroupBy {
	case "category_id", "day", "scope_id":
		key = q.GroupBy
	case "":
	default:
		return nil, fmt.Errorf("sum rollups: bad group %q", q.GroupBy)
	}
	tx := db.WithContext(ctx).Table("dash_rollups").Select(key+" AS k, "+strings.Join(sums, ", ")).
		Where("scope_kind = ?", q.ScopeKind)
	if q.Children {
		tx = tx.Where("parent_id = ?", q.ParentID)
	} else {
		tx = tx.Where("scope_id = ?", q.ScopeID)
	}
	if q.GroupBy == "day" {
		tx = tx.Where("grain = ? AND day BETWEEN ? AND ?", GrainDay, q.FromDay, q.ToDay)
	} else {
		where, args := dayRanges(q.FromDay, q.ToDay)
		tx = tx.Where(where, args...)
	}
	if len(q.Categories) > 0 {
		tx = tx.Where("category_id IN ?", q.Categories)
	}
	if key != "0" {
		tx = tx.Group(key)
		if IsMySQL(tx) {
			tx = tx.Order(clause.Expr{SQL: "NULL"}) // the groups in any order: no sort
		}
	}
	rows, err := tx.Rows()
	if err != nil {
		return nil, Translate(err)
	}
	defer rows.Close()
	var out []RollupSum
	for rows.Next() {
		var s RollupSum
		dest := make([]any, 0, RollupWidth+1)
		dest = append(dest, &s.Key)
		for i := range s.Counts {
			dest = append(dest, &s.Counts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, Translate(err)
		}
		out = append(out, s)
	}
	return out, Translate(rows.Err())
}

// dayRanges selects the days from–to (yyyymmdd, both included): the
// months wholly inside from their month rows, the days before and after
// them from day rows.
func dayRanges(from, to int) (string, []any) {
	date := func(d int) time.Time { return time.Date(d/10000, time.Month(d/100%100), d%100, 0, 0, 0, 0, time.UTC) }
	day := func(t time.Time) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }
	f, t := date(from), date(to)
	// The whole months run from m1 (from itself when it is a 1st, else
	// the next 1st) to just before mEnd (the 1st after to when to is the
	// last day of its month, else the 1st of to's month).
	m1 := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, time.UTC)
	if f.Day() != 1 {
		m1 = m1.AddDate(0, 1, 0)
	}
	mEnd := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	if t.AddDate(0, 0, 1).Day() == 1 {
		mEnd = mEnd.AddDate(0, 1, 0)
	}
	if !m1.Before(mEnd) {
		return "grain = ? AND day BETWEEN ? AND ?", []any{GrainDay, from, to}
	}
	var parts []string
	var args []any
	if f.Before(m1) {
		parts = append(parts, "(grain = ? AND day BETWEEN ? AND ?)")
		args = append(args, GrainDay, from, day(m1.AddDate(0, 0, -1)))
	}
	parts = append(parts, "(grain = ? AND day BETWEEN ? AND ?)")
	args = append(args, GrainMonth, day(m1), day(mEnd.AddDate(0, -1, 0)))
	if !t.Before(mEnd) {
		parts = append(parts, "(grain = ? AND day BETWEEN ? AND ?)")
		args = append(args, GrainDay, day(mEnd), to)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// AllRollups returns every rollup row (tests compare them with a count
// of their own).
func AllRollups(ctx context.Context, db *gorm.DB) (map[RollupKey]Counts, error) {
	rows, err := db.WithContext(ctx).Table("dash_rollups").
		Select("scope_kind, scope_id, grain, day, category_id, parent_id, " + strings.Join(rollupColumns, ", ")).Rows()
	if err != nil {
		return nil, Translate(err)
	}
	defer rows.Close()
	out := map[RollupKey]Counts{}
	for rows.Next() {
		var k RollupKey
		var c Counts
		dest := []any{&k.ScopeKind, &k.ScopeID, &k.Grain, &k.Day, &k.CategoryID, &k.ParentID}
		for i := range c {
			dest = append(dest, &c[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, Translate(err)
		}
		out[k] = c
	}
	return out, Translate(rows.Err())
}

// OverdueScope places the open orders counted as overdue now: those of a
// tree column (city_id, street_id …) equal to ID, or those a firm
// handles; By names a column to count them per value of ("" for one
// total).
type OverdueScope struct {
	Column     string
	ID         int64
	Firm       bool
	By         string
	Categories []int64 // of these categories only, when set
}

// OverdueNow counts the orders in states that are overdue now, per value
// of s.By (key 0 without it). It reads the deadline index (state,
// overdue, …): the open, overdue orders, never the closed history.
func OverdueNow(ctx context.Context, db *gorm.DB, s OverdueScope, states []string) (map[int64]int64, error) {
	key := "0"
	if s.By != "" {
		if TreeColumn(strings.TrimSuffix(s.By, "_id")) == "" {
			return nil, fmt.Errorf("overdue now: bad column %q", s.By)
		}
		key = s.By
	}
	tx := withIndex(db.WithContext(ctx).Model(&Order{}), "ix_order_deadline").
		Select(key+" AS k, COUNT(*) AS n").Where("state IN ? AND overdue = ?", states, true)
	switch {
	case s.Firm:
		tx = tx.Where("handler_kind = ? AND handler_id = ?", HandlerFirm, s.ID)
	case s.Column != "":
		if TreeColumn(strings.TrimSuffix(s.Column, "_id")) == "" {
			return nil, fmt.Errorf("overdue now: bad column %q", s.Column)
		}
		tx = tx.Where(s.Column+" = ?", s.ID)
	}
	if len(s.Categories) > 0 {
		tx = tx.Where("category_id IN ?", s.Categories)
	}
	if key != "0" {
		tx = tx.Group(key)
	}
	var rows []struct{ K, N int64 }
	if err := tx.Scan(&rows).Error; err != nil {
		return nil, Translate(err)
	}
	out := map[int64]int64{}
	for _, r := range rows {
		out[r.K] += r.N
	}
	return out, nil
}

// ScopeNode is a scope of the dashboards with its name.
type ScopeNode struct {
	ID   int64
	Name string
}

// ChildScopes lists the scopes of kind (district, street, community,
// grid) directly under parent, by id.
func ChildScopes(ctx context.Context, db *gorm.DB, kind string, parent int64) ([]ScopeNode, error) {
	var out []ScopeNode
	q := db.WithContext(ctx)
	switch kind {
	case ScopeDistrict, ScopeStreet, ScopeCommunity:
		q = q.Model(&Region{}).Where("level = ? AND parent_id = ?", kind, parent)
	case ScopeGrid:
		q = q.Model(&Grid{}).Where("community_id = ?", parent)
	default:
		return nil, fmt.Errorf("child scopes: bad kind %q", kind)
	}
	err := q.Select("id", "name").Order("id").Scan(&out).Error
	return out, Translate(err)
}

// ScopeName is the name of a dashboard scope (a region, grid or firm);
// ErrNotFound when there is none.
func ScopeName(ctx context.Context, db *gorm.DB, kind string, id int64) (string, error) {
	var names []string
	q := db.WithContext(ctx)
	switch kind {
	case ScopeCity, ScopeDistrict, ScopeStreet, ScopeCommunity:
		q = q.Model(&Region{}).Where("level = ? AND id = ?", kind, id)
	case ScopeGrid:
		q = q.Model(&Grid{}).Where("id = ?", id)
	case ScopeFirm:
		q = q.Model(&Firm{}).Where("id = ?", id)
	default:
		return "", fmt.Errorf("scope name: bad kind %q", kind)
	}
	if err := q.Limit(1).Pluck("name", &names).Error; err != nil {
		return "", Translate(err)
	}
	if len(names) == 0 {
		return "", ErrNotFound
	}
	return names[0], nil
}

// CountOrders counts the orders q selects (its Before and Limit aside),
// for an export's progress: one query ORing the scopes, which reads every
// matching row's index entry.
func CountOrders(ctx context.Context, db *gorm.DB, q OrderQuery) (int64, error) {
	if _, ok := stateSet(q.States); !ok {
		return 0, nil
	}
	q.Before, q.Limit = 0, 0
	tx, ok := orderOrQuery(ctx, db, q)
	if !ok {
		return 0, nil
	}
	var n int64
	err := tx.Count(&n).Error
	return n, Translate(err)
}

// ScopeOf loads a dashboard scope (a region of that level, a grid or a
// firm) in one read: its name and place in the tree; ErrNotFound when
// there is none.
func ScopeOf(ctx context.Context, db *gorm.DB, kind string, id int64) (string, Ancestry, error) {
	q := db.WithContext(ctx)
	switch kind {
	case ScopeCity, ScopeDistrict, ScopeStreet, ScopeCommunity:
		var r Region
		err := q.Where("level = ?", kind).Take(&r, id).Error
		return r.Name, r.Ancestry, Translate(err)
	case ScopeGrid:
		g, err := ByID[Grid](ctx, db, id)
		return g.Name, g.Ancestry, err
	case ScopeFirm:
		f, err := ByID[Firm](ctx, db, id)
		return f.Name, Ancestry{CityID: f.CityID, DistrictID: f.DistrictID}, err
	}
	return "", Ancestry{}, fmt.Errorf("scope of: bad kind %q", kind)
}
