package model

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Kinds of inspection (日查 / 月考 / 季评).
const (
	InspectionDaily     = "daily"
	InspectionMonthly   = "monthly"
	InspectionQuarterly = "quarterly"
)

// Sections of a checklist, in the order a sheet lists them.
const (
	SectionEnvironment = "environment"      // 环境卫生
	SectionSecurity    = "order_security"   // 秩序安防
	SectionFacilities  = "facilities"       // 设施设备
	SectionGreenery    = "greenery"         // 绿化养护
	SectionFireSafety  = "fire_safety"      // 消防安全
	SectionService     = "service_attitude" // 服务态度
	SectionParty       = "party_building"   // 党建引领
)

// Rules of a checklist item: how a failed item deducts.
const (
	RuleWhole   = "whole"   // a failure deducts all the item's points
	RulePartial = "partial" // a failure deducts 1 to all of the item's points
)

// Results of one item of an inspection.
const (
	ResultPass   = "pass"
	ResultDeduct = "deduct"
	ResultNA     = "na" // not applicable: the item counts neither way
)

// ScopeAll is the scope of the built-in default checklist, in force
// wherever no city or street has one of its own.
const ScopeAll = "all"

// Checklist is a named inspection sheet (检查表) kept as configuration by a
// city or a street (or the built-in default). Its content lives in
// versions: a new version never changes an old one, and an inspection
// records the version it used.
type Checklist struct {
	Base
	Name      string `gorm:"size:60;not null"`
	ScopeKind string `gorm:"size:16;not null;index:ix_checklist_scope,priority:1"`
	ScopeID   int64  `gorm:"not null;default:0;index:ix_checklist_scope,priority:2"`
	CityID    int64  `gorm:"not null;default:0;index"`
	StreetID  int64  `gorm:"not null;default:0;index"`
	// Latest is the number of the newest version, the one new inspections use.
	Latest    int   `gorm:"not null;default:0"`
	LatestID  int64 `gorm:"not null;default:0"`
	CreatorID int64 `gorm:"not null;default:0"`
	Active    bool  `gorm:"not null;default:true"`
}

// ChecklistVersion is one immutable edition of a checklist.
type ChecklistVersion struct {
	ID          int64     `gorm:"primaryKey"`
	ChecklistID int64     `gorm:"not null;uniqueIndex:ux_checklist_version,priority:1"`
	Number      int       `gorm:"not null;uniqueIndex:ux_checklist_version,priority:2"`
	Note        string    `gorm:"size:200"`
	TotalPoints int       `gorm:"not null"`
	CreatorID   int64     `gorm:"not null;default:0"`
	CreatedAt   time.Time `gorm:"not null"`
}

// ChecklistItem is one line of a checklist version: what is checked, how
// many points it carries and how a failure deducts them.
type ChecklistItem struct {
	ID        int64  `gorm:"primaryKey"`
	VersionID int64  `gorm:"not null;index"`
	Section   string `gorm:"size:24;not null"`
	Title     string `gorm:"size:100;not null"`
	Standard  string `gorm:"size:500"` // the pass standard, as the sheet words it
	Points    int    `gorm:"not null"`
	Rule      string `gorm:"size:16;not null"`
	SortOrder int    `gorm:"not null;default:0"`
}

// Inspection is one visit of community or street staff to a compound,
// judging the service of the firm that serves it against a checklist
// version. Earned and Possible are over the applicable items; Score is
// Earned normalised to 100 (Scored is false when no item applied).
type Inspection struct {
	Base
	Kind               string `gorm:"size:16;not null;index"`
	ChecklistID        int64  `gorm:"not null;index"`
	ChecklistVersionID int64  `gorm:"not null"`
	ChecklistNumber    int    `gorm:"not null"`
	FirmID             int64  `gorm:"not null;index:ix_inspection_firm,priority:1"`
	Ancestry
	InspectorID   int64     `gorm:"not null;index;uniqueIndex:ux_inspection_idem,priority:1"`
	InspectorRole string    `gorm:"size:32;not null"`
	InspectedAt   time.Time `gorm:"not null;index:ix_inspection_firm,priority:2"`
	Notes         string    `gorm:"size:1000"`
	Photos        string    `gorm:"size:200"` // photo ids, comma-separated
	Earned        int       `gorm:"not null"`
	Possible      int       `gorm:"not null"`
	Score         float64   `gorm:"not null"`
	Scored        bool      `gorm:"not null"`
	Failed        int       `gorm:"not null"` // items with a deduction
	// IdemKey is the inspector's Idempotency-Key; unique per inspector.
	IdemKey *string `gorm:"size:64;uniqueIndex:ux_inspection_idem,priority:2"`
}

// InspectionItem is the result of one checklist item in one inspection.
// The item's wording and points are copied from the version used. A
// failed item may have raised an order or an action item (the link is
// kept here, and those rows name the inspection); the firm's manager may
// answer it once in writing.
type InspectionItem struct {
	ID              int64  `gorm:"primaryKey"`
	InspectionID    int64  `gorm:"not null;uniqueIndex:ux_inspection_item,priority:1"`
	ChecklistItemID int64  `gorm:"not null;uniqueIndex:ux_inspection_item,priority:2"`
	Section         string `gorm:"size:24;not null"`
	Title           string `gorm:"size:100;not null"`
	Points          int    `gorm:"not null"`
	Rule            string `gorm:"size:16;not null"`
	SortOrder       int    `gorm:"not null;default:0"`
	Result          string `gorm:"size:8;not null"`
	Deduct          int    `gorm:"not null;default:0"`
	Note            string `gorm:"size:500"`
	Photos          string `gorm:"size:200"`
	OrderID         int64  `gorm:"not null;default:0;index"`
	ActionItemID    int64  `gorm:"not null;default:0;index"`
	Answer          string `gorm:"size:1000"`
	AnsweredBy      int64  `gorm:"not null;default:0"`
	AnsweredAt      *time.Time
}

// ChecklistsFor lists the active checklists in force at a place: the
// street's, the city's and the built-in defaults, nearest first, newest
// first within a scope.
func ChecklistsFor(ctx context.Context, db *gorm.DB, cityID, streetID int64) ([]Checklist, error) {
	var rows []Checklist
	err := db.WithContext(ctx).Where("active = ? AND latest > 0", true).
		Where("(scope_kind = ? AND scope_id = ?) OR (scope_kind = ? AND scope_id = ?) OR scope_kind = ?",
			ScopeStreet, streetID, ScopeCity, cityID, ScopeAll).
		Order("id DESC").Find(&rows).Error
	if err != nil {
		return nil, Translate(err)
	}
	rank := func(c Checklist) int {
		switch c.ScopeKind {
		case ScopeStreet:
			return 0
		case ScopeCity:
			return 1
		}
		return 2
	}
	out := make([]Checklist, 0, len(rows))
	for r := 0; r <= 2; r++ {
		for _, c := range rows {
			if rank(c) == r {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// ChecklistFilter selects checklists: those of the scopes in Scopes (kind
// and id; ScopeAll with id 0 for the defaults), or All.
type ChecklistFilter struct {
	All    bool
	Scopes []Place
}

// ChecklistsPage is a keyset page of checklists f selects, newest first.
func ChecklistsPage(ctx context.Context, db *gorm.DB, f ChecklistFilter, p Page) (Paged[Checklist], error) {
	q := db.Model(&Checklist{})
	if !f.All {
		conds, args := []string{}, []any{}
		for _, s := range f.Scopes {
			switch s.Kind {
			case ScopeCity:
				conds, args = append(conds, "city_id = ?"), append(args, s.ID)
			case ScopeStreet:
				conds, args = append(conds, "street_id = ?"), append(args, s.ID)
			case ScopeAll:
				conds, args = append(conds, "scope_kind = ?"), append(args, ScopeAll)
			}
		}
		if len(conds) == 0 {
			conds = []string{"1 = 0"}
		}
		q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	return KeysetPage[Checklist](ctx, q, "id", p)
}

// ChecklistVersionOf loads version number of a checklist (ErrNotFound).
func ChecklistVersionOf(ctx context.Context, db *gorm.DB, checklistID int64, number int) (ChecklistVersion, error) {
	var v ChecklistVersion
	err := db.WithContext(ctx).Where("checklist_id = ? AND number = ?", checklistID, number).Take(&v).Error
	return v, Translate(err)
}

// ChecklistVersions lists every version of a checklist, newest first.
func ChecklistVersions(ctx context.Context, db *gorm.DB, checklistID int64) ([]ChecklistVersion, error) {
	var vs []ChecklistVersion
	err := db.WithContext(ctx).Where("checklist_id = ?", checklistID).Order("number DESC").Find(&vs).Error
	return vs, Translate(err)
}

// ChecklistItemsOf lists the items of a version in sheet order.
func ChecklistItemsOf(ctx context.Context, db *gorm.DB, versionID int64) ([]ChecklistItem, error) {
	var items []ChecklistItem
	err := db.WithContext(ctx).Where("version_id = ?", versionID).Order("sort_order, id").Find(&items).Error
	return items, Translate(err)
}

// AdvanceChecklist moves a checklist's latest version from prev to next
// (a compare-and-set: 0 rows when another version was added meanwhile).
func AdvanceChecklist(ctx context.Context, tx *gorm.DB, id int64, prev, next int, nextID int64, now time.Time) (int64, error) {
	res := tx.WithContext(ctx).Model(&Checklist{}).Where("id = ? AND latest = ?", id, prev).
		Updates(map[string]any{"latest": next, "latest_id": nextID, "updated_at": now})
	return res.RowsAffected, Translate(res.Error)
}

// InspectionReach is the part of the inspections one reader may see:
// those in any of Places (tree scopes) or of any of Firms. All is every
// inspection.
type InspectionReach struct {
	All    bool
	Places []Place
	Firms  []int64
}

// Empty reports whether the reach holds nothing.
func (r InspectionReach) Empty() bool { return !r.All && len(r.Places) == 0 && len(r.Firms) == 0 }

// InspectionQuery selects inspections of Reach, narrowed by every field
// that is set.
type InspectionQuery struct {
	Reach       InspectionReach
	Kind        string
	FirmID      int64
	CommunityID int64
	CompoundID  int64
	From, To    *time.Time // inspected in [From, To)
}

func (q InspectionQuery) where(db *gorm.DB) *gorm.DB {
	db = db.Model(&Inspection{})
	if !q.Reach.All {
		var conds []string
		var args []any
		for _, p := range q.Reach.Places {
			if col := AncestryColumn(p.Kind); col != "" {
				conds, args = append(conds, col+" = ?"), append(args, p.ID)
			}
		}
		if len(q.Reach.Firms) > 0 {
			conds, args = append(conds, "firm_id IN ?"), append(args, q.Reach.Firms)
		}
		if len(conds) == 0 {
			conds = []string{"1 = 0"}
		}
		db = db.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	if q.Kind != "" {
		db = db.Where("kind = ?", q.Kind)
	}
	if q.FirmID > 0 {
		db = db.Where("firm_id = ?", q.FirmID)
	}
	if q.CommunityID > 0 {
		db = db.Where("community_id = ?", q.CommunityID)
	}
	if q.CompoundID > 0 {
		db = db.Where("compound_id = ?", q.CompoundID)
	}
	if q.From != nil {
		db = db.Where("inspected_at >= ?", q.From.UTC())
	}
	if q.To != nil {
		db = db.Where("inspected_at < ?", q.To.UTC())
	}
	return db
}

// InspectionsPage is a keyset page of the inspections q selects, newest first.
func InspectionsPage(ctx context.Context, db *gorm.DB, q InspectionQuery, p Page) (Paged[Inspection], error) {
	return KeysetPage[Inspection](ctx, q.where(db), "id", p)
}

// InspectionItemsOf lists the items of inspections, in sheet order per
// inspection.
func InspectionItemsOf(ctx context.Context, db *gorm.DB, inspectionIDs []int64) ([]InspectionItem, error) {
	if len(inspectionIDs) == 0 {
		return nil, nil
	}
	var items []InspectionItem
	err := db.WithContext(ctx).Where("inspection_id IN ?", inspectionIDs).
		Order("inspection_id, sort_order, id").Find(&items).Error
	return items, Translate(err)
}

// InspectionItemOfOrder is the inspection item that raised an order;
// found is false when none did.
func InspectionItemOfOrder(ctx context.Context, db *gorm.DB, orderID int64) (it InspectionItem, found bool, err error) {
	res := db.WithContext(ctx).Where("order_id = ?", orderID).Limit(1).Find(&it)
	return it, res.RowsAffected > 0, Translate(res.Error)
}

// AnswerInspectionItem writes the firm's answer to an item not answered
// yet; 0 rows when it was answered meanwhile.
func AnswerInspectionItem(ctx context.Context, tx *gorm.DB, id int64, text string, by int64, at time.Time) (int64, error) {
	res := tx.WithContext(ctx).Model(&InspectionItem{}).Where("id = ? AND answered_by = 0", id).
		Updates(map[string]any{"answer": text, "answered_by": by, "answered_at": at})
	return res.RowsAffected, Translate(res.Error)
}

// InspectionScore is one inspection as a score reads it.
type InspectionScore struct {
	ID          int64
	FirmID      int64
	CompoundID  int64
	InspectedAt time.Time
	Score       float64
}

// InspectionScores lists the scored inspections of a firm in a compound
// (0: every compound) inspected in [from, to), oldest first: what the
// score card averages.
func InspectionScores(ctx context.Context, db *gorm.DB, firmID, compoundID int64, from, to time.Time) ([]InspectionScore, error) {
	q := db.WithContext(ctx).Model(&Inspection{}).
		Where("firm_id = ? AND scored = ? AND inspected_at >= ? AND inspected_at < ?", firmID, true, from.UTC(), to.UTC())
	if compoundID > 0 {
		q = q.Where("compound_id = ?", compoundID)
	}
	var rows []InspectionScore
	err := q.Select("id", "firm_id", "compound_id", "inspected_at", "score").Order("id").Scan(&rows).Error
	return rows, Translate(err)
}
