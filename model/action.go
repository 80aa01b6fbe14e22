package model

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Action item states (问题清单 → 认领 → 整改 → 验收, DESIGN.md §6). A sent-back
// item goes from done to claimed again.
const (
	ActionOpen     = "open"
	ActionClaimed  = "claimed"
	ActionDone     = "done"
	ActionVerified = "verified"
)

// Kinds of organisation that own an action item.
const (
	OwnerFirm       = "firm"
	OwnerCommittee  = "committee"
	OwnerDepartment = "department"
	OwnerCommunity  = "community"
)

// Where an action item comes from.
const (
	SourceMeeting    = "meeting"    // a resolution of a meeting
	SourceInspection = "inspection" // a community or street inspection (日查/月考)
	SourceOrder      = "order"      // an order the community cannot close alone
)

// ActionItem is one entry of the issue list (问题清单): a thing an owner
// organisation must put right by a due date, claimed by one of its
// members, done with evidence and verified by the organiser. Its history
// rows (ActionItemEvent) are the rectification ledger (整改台账).
type ActionItem struct {
	Base
	Title  string `gorm:"size:100;not null"`
	Detail string `gorm:"size:2000"`

	OwnerKind string `gorm:"size:16;not null;index:ix_action_owner,priority:1"`
	OwnerID   int64  `gorm:"not null;index:ix_action_owner,priority:2"`

	// DueAt is the end of the due date in Beijing time: the item is overdue
	// from this instant on unless done.
	DueAt time.Time `gorm:"not null;index"`

	SourceKind string `gorm:"size:16;not null;index:ix_action_source,priority:1"`
	SourceID   int64  `gorm:"not null;default:0;index:ix_action_source,priority:2"`

	// The compound or community the item concerns; Ancestry places it.
	ScopeKind string `gorm:"size:16;not null"`
	ScopeID   int64  `gorm:"not null"`
	Ancestry

	// OrganiserID verifies the work: the meeting's organiser for items of a
	// meeting, otherwise the creator.
	OrganiserID int64 `gorm:"not null;index"`
	CreatorID   int64 `gorm:"not null;index;uniqueIndex:ux_action_idem,priority:1"`

	State     string `gorm:"size:16;not null;index"`
	Overdue   bool   `gorm:"not null;default:false;index"`
	OverdueAt *time.Time

	ClaimedBy  int64 `gorm:"not null;default:0;index"`
	ClaimedAt  *time.Time
	DoneBy     int64 `gorm:"not null;default:0"`
	DoneAt     *time.Time
	Evidence   string `gorm:"size:1000"`
	Photos     string `gorm:"size:200"` // evidence photo ids, comma-separated
	VerifiedBy int64  `gorm:"not null;default:0"`
	VerifiedAt *time.Time
	SendBacks  int `gorm:"not null;default:0"`

	// Version increases with every change.
	Version int64 `gorm:"not null;default:1"`
	// IdemKey is the creator's Idempotency-Key; unique per creator.
	IdemKey *string `gorm:"size:64;uniqueIndex:ux_action_idem,priority:2"`
}

// ActionItemEvent is one row of an action item's history. Rows are only
// ever inserted: no code path updates or deletes them.
type ActionItemEvent struct {
	ID        int64     `gorm:"primaryKey"`
	ItemID    int64     `gorm:"not null;index"`
	Action    string    `gorm:"size:16;not null"`
	ActorID   int64     `gorm:"not null"` // 0: the system (scheduler)
	Role      string    `gorm:"size:32"`
	FromState string    `gorm:"size:16"`
	ToState   string    `gorm:"size:16;not null"`
	Note      string    `gorm:"size:1000"`
	Photos    string    `gorm:"size:200"` // comma-separated photo ids
	CreatedAt time.Time `gorm:"not null"`
}

// UpdateActionItem writes the columns next changes of prev, with the
// version bumped, if the row is still at prev's version. It returns the
// rows affected: 0 when the item moved meanwhile.
func UpdateActionItem(ctx context.Context, tx *gorm.DB, prev, next *ActionItem, now time.Time) (int64, error) {
	cols := map[string]any{"state": next.State, "version": prev.Version + 1, "updated_at": now}
	num := func(col string, x, y int64) {
		if x != y {
			cols[col] = y
		}
	}
	str := func(col, x, y string) {
		if x != y {
			cols[col] = y
		}
	}
	tm := func(col string, x, y *time.Time) {
		if (x == nil) != (y == nil) || (x != nil && !x.Equal(*y)) {
			cols[col] = y
		}
	}
	num("claimed_by", prev.ClaimedBy, next.ClaimedBy)
	tm("claimed_at", prev.ClaimedAt, next.ClaimedAt)
	num("done_by", prev.DoneBy, next.DoneBy)
	tm("done_at", prev.DoneAt, next.DoneAt)
	str("evidence", prev.Evidence, next.Evidence)
	str("photos", prev.Photos, next.Photos)
	num("verified_by", prev.VerifiedBy, next.VerifiedBy)
	tm("verified_at", prev.VerifiedAt, next.VerifiedAt)
	num("send_backs", int64(prev.SendBacks), int64(next.SendBacks))
	if prev.Overdue != next.Overdue {
		cols["overdue"] = next.Overdue
	}
	tm("overdue_at", prev.OverdueAt, next.OverdueAt)
	res := tx.WithContext(ctx).Model(&ActionItem{}).Where("id = ? AND version = ?", prev.ID, prev.Version).Updates(cols)
	return res.RowsAffected, Translate(res.Error)
}

// AppendActionEvent inserts one history row (no query updates or deletes
// them).
func AppendActionEvent(ctx context.Context, tx *gorm.DB, ev *ActionItemEvent) error {
	return Translate(tx.WithContext(ctx).Create(ev).Error)
}

// ActionEvents returns the history rows of items, oldest first; with
// action set, only the rows of that action.
func ActionEvents(ctx context.Context, db *gorm.DB, itemIDs []int64, action string) ([]ActionItemEvent, error) {
	if len(itemIDs) == 0 {
		return nil, nil
	}
	q := db.WithContext(ctx).Where("item_id IN ?", itemIDs)
	if action != "" {
		q = q.Where("action = ?", action)
	}
	var evs []ActionItemEvent
	err := q.Order("id").Find(&evs).Error
	return evs, Translate(err)
}

// LastActionEvent is the latest history row of action on an item; found
// is false when there is none.
func LastActionEvent(ctx context.Context, db *gorm.DB, itemID int64, action string) (ev ActionItemEvent, found bool, err error) {
	res := db.WithContext(ctx).Where("item_id = ? AND action = ?", itemID, action).Order("id DESC").Limit(1).Find(&ev)
	return ev, res.RowsAffected > 0, Translate(res.Error)
}

// LastActionItemStep is the latest history row of an item whose action is
// not one of aside; found is false when there is none.
func LastActionItemStep(ctx context.Context, db *gorm.DB, itemID int64, aside []string) (ev ActionItemEvent, found bool, err error) {
	q := db.WithContext(ctx).Where("item_id = ?", itemID)
	if len(aside) > 0 {
		q = q.Where("action NOT IN ?", aside)
	}
	res := q.Order("id DESC").Limit(1).Find(&ev)
	return ev, res.RowsAffected > 0, Translate(res.Error)
}

// DueActionItemIDs is a keyset page of the items in one of states, not
// yet marked overdue, due by now: up to limit ids above after, ascending.
func DueActionItemIDs(ctx context.Context, db *gorm.DB, states []string, now time.Time, after int64, limit int) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&ActionItem{}).
		Where("state IN ? AND overdue = ? AND due_at <= ? AND id > ?", states, false, now, after).
		Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, Translate(err)
}

// ActionReach is the part of the items one reader may see: those in any
// of Places, owned by any of Owners, or owned by the committee of a
// compound in any of CommitteesIn. All is every item.
type ActionReach struct {
	All          bool
	Places       []Place
	Owners       []ActionOwner
	CommitteesIn []Place
}

// ActionOwner names an owner organisation of items.
type ActionOwner struct {
	Kind string
	ID   int64
}

// Empty reports whether the reach holds no item at all.
func (r ActionReach) Empty() bool {
	return !r.All && len(r.Places) == 0 && len(r.Owners) == 0 && len(r.CommitteesIn) == 0
}

// ActionItemQuery selects items: those of Reach, narrowed by every field
// that is set.
type ActionItemQuery struct {
	Reach       ActionReach
	States      []string
	OwnerKind   string
	OwnerID     int64
	Overdue     *bool
	SourceKind  string
	SourceID    int64
	StreetID    int64
	CommunityID int64
	CompoundID  int64
	From, To    *time.Time // created in [From, To)
}

func (q ActionItemQuery) where(db *gorm.DB) *gorm.DB {
	db = db.Model(&ActionItem{})
	if !q.Reach.All {
		var conds []string
		var args []any
		for _, p := range q.Reach.Places {
			if col := AncestryColumn(p.Kind); col != "" {
				conds, args = append(conds, col+" = ?"), append(args, p.ID)
			}
		}
		for _, o := range q.Reach.Owners {
			conds, args = append(conds, "(owner_kind = ? AND owner_id = ?)"), append(args, o.Kind, o.ID)
		}
		for _, p := range q.Reach.CommitteesIn {
			if col := AncestryColumn(p.Kind); col != "" {
				conds = append(conds, "(owner_kind = ? AND owner_id IN (SELECT id FROM committees WHERE "+col+" = ?))")
				args = append(args, OwnerCommittee, p.ID)
			}
		}
		if len(conds) == 0 {
			conds = []string{"1 = 0"}
		}
		db = db.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	if len(q.States) > 0 {
		db = db.Where("state IN ?", q.States)
	}
	eq := func(col string, v any, set bool) {
		if set {
			db = db.Where(col+" = ?", v)
		}
	}
	eq("owner_kind", q.OwnerKind, q.OwnerKind != "")
	eq("owner_id", q.OwnerID, q.OwnerID > 0)
	if q.Overdue != nil {
		eq("overdue", *q.Overdue, true)
	}
	eq("source_kind", q.SourceKind, q.SourceKind != "")
	eq("source_id", q.SourceID, q.SourceID > 0)
	eq("street_id", q.StreetID, q.StreetID > 0)
	eq("community_id", q.CommunityID, q.CommunityID > 0)
	eq("compound_id", q.CompoundID, q.CompoundID > 0)
	if q.From != nil {
		db = db.Where("created_at >= ?", q.From.UTC())
	}
	if q.To != nil {
		db = db.Where("created_at < ?", q.To.UTC())
	}
	return db
}

// actionStates are every state an item can be in: a part without a state
// filter is read once per state, so that its index yields it in id order.
var actionStates = []string{ActionOpen, ActionClaimed, ActionDone, ActionVerified}

// maxActionCommittees is the most committees whose items a page reads as
// parts of their own; a reach over more (committee grants of a whole
// street) is read by the OR query.
const maxActionCommittees = 8

// actionPart is one part of a page: an equality and a state that one of
// the indexes of migration 61 serves in id order.
type actionPart struct {
	where string
	args  []any
	index string
}

// actionParts splits q's reach into parts (each reach condition × each
// state asked for). ok is false when the reach cannot be split.
func actionParts(ctx context.Context, db *gorm.DB, q ActionItemQuery) (parts []actionPart, ok bool, err error) {
	states := q.States
	if len(states) == 0 {
		states = actionStates
	}
	type cond struct {
		where string
		args  []any
		index string
	}
	var conds []cond
	if q.Reach.All {
		conds = append(conds, cond{"1 = 1", nil, "idx_action_items_state"})
	}
	for _, p := range q.Reach.Places {
		switch p.Kind {
		case LevelCity, LevelDistrict, LevelStreet, LevelCommunity, ScopeCompound:
			col := AncestryColumn(p.Kind)
			conds = append(conds, cond{col + " = ?", []any{p.ID}, "ix_action_" + p.Kind + "_state"})
		default:
			return nil, false, nil
		}
	}
	for _, o := range q.Reach.Owners {
		conds = append(conds, cond{"owner_kind = ? AND owner_id = ?", []any{o.Kind, o.ID}, "ix_action_owner_state"})
	}
	if len(q.Reach.CommitteesIn) > 0 {
		ids, err := committeesIn(ctx, db, q.Reach.CommitteesIn, maxActionCommittees+1)
		if err != nil {
			return nil, false, err
		}
		if len(ids) > maxActionCommittees {
			return nil, false, nil
		}
		for _, id := range ids {
			conds = append(conds, cond{"owner_kind = ? AND owner_id = ?", []any{OwnerCommittee, id}, "ix_action_owner_state"})
		}
	}
	for _, c := range conds {
		for _, st := range states {
			parts = append(parts, actionPart{where: c.where + " AND state = ?", args: append(slices.Clone(c.args), st), index: c.index})
		}
	}
	return parts, true, nil
}

// committeesIn are the ids of up to limit committees of compounds in any
// of places.
func committeesIn(ctx context.Context, db *gorm.DB, places []Place, limit int) ([]int64, error) {
	var conds []string
	var args []any
	for _, p := range places {
		if col := AncestryColumn(p.Kind); col != "" {
			conds, args = append(conds, col+" = ?"), append(args, p.ID)
		}
	}
	if len(conds) == 0 {
		return nil, nil
	}
	var ids []int64
	err := db.WithContext(ctx).Model(&Committee{}).Where(strings.Join(conds, " OR "), args...).Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, Translate(err)
}

// ActionItemPage is a page of the items q selects, newest first: up to
// limit items with an id below before (0: from the newest).
//
// The reach is split into parts (a place, an owner or a committee, each
// with one state), each served in id order by an index of migration 61
// and read newest first up to one page; the parts run as one UNION ALL
// and merge here by id, as the order queues do (ListOrders). Filters
// other than the state are applied within each part.
func ActionItemPage(ctx context.Context, db *gorm.DB, q ActionItemQuery, before int64, limit int) ([]ActionItem, error) {
	parts, ok, err := actionParts(ctx, db, q)
	if err != nil {
		return nil, fmt.Errorf("list action items: %w", err)
	}
	if !ok || len(parts) == 0 || len(parts) > 64 {
		return actionItemPageOr(ctx, db, q, before, limit)
	}
	// The state is in every part; the rest of the filters apply as they are.
	rest := q
	rest.Reach, rest.States = ActionReach{All: true}, nil
	sub := func(p actionPart) *gorm.DB {
		tx := db
		if IsMySQL(db) {
			tx = tx.Table("action_items FORCE INDEX (" + p.index + ")")
		}
		tx = rest.where(tx).Where(p.where, p.args...)
		if before > 0 {
			tx = tx.Where("id < ?", before)
		}
		return tx.Order("id DESC").Limit(limit)
	}
	var rows []ActionItem
	if len(parts) == 1 {
		err = sub(parts[0]).WithContext(ctx).Find(&rows).Error
	} else {
		sel := make([]string, len(parts))
		subs := make([]any, len(parts))
		for i, p := range parts {
			sel[i] = fmt.Sprintf("SELECT * FROM (?) AS p%d", i)
			subs[i] = sub(p)
		}
		err = db.WithContext(ctx).Raw(strings.Join(sel, " UNION ALL "), subs...).Find(&rows).Error
	}
	if err != nil {
		return nil, fmt.Errorf("list action items: %w", Translate(err))
	}
	seen := make(map[int64]bool, len(rows))
	out := rows[:0]
	for _, it := range rows {
		if !seen[it.ID] {
			seen[it.ID] = true
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b ActionItem) int { return cmp.Compare(b.ID, a.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// actionItemPageOr is the page read as one OR over the reach: for reaches
// the parts do not cover.
func actionItemPageOr(ctx context.Context, db *gorm.DB, q ActionItemQuery, before int64, limit int) ([]ActionItem, error) {
	tx := q.where(db.WithContext(ctx))
	if before > 0 {
		tx = tx.Where("id < ?", before)
	}
	var rows []ActionItem
	if err := tx.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list action items: %w", Translate(err))
	}
	return rows, nil
}

// ActionItemIDs returns the ids of up to limit items q selects, newest
// first.
func ActionItemIDs(ctx context.Context, db *gorm.DB, q ActionItemQuery, limit int) ([]int64, error) {
	var ids []int64
	err := q.where(db.WithContext(ctx)).Order("id DESC").Limit(limit).Pluck("id", &ids).Error
	return ids, Translate(err)
}

// ActionItemsByID reads the items of ids, newest first.
func ActionItemsByID(ctx context.Context, db *gorm.DB, ids []int64) ([]ActionItem, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var items []ActionItem
	err := db.WithContext(ctx).Where("id IN ?", ids).Order("id DESC").Find(&items).Error
	return items, Translate(err)
}
