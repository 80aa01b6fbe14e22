package model

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Dec is an exact decimal column: DECIMAL(precision, scale) on MySQL,
// TEXT on SQLite. SQLite gives a DECIMAL column numeric affinity and would
// store the value as a binary float; as text it stays the digits that
// were written. Sums are made in Go, never in SQL.
type Dec struct{ decimal.Decimal }

// NewDec wraps a decimal.
func NewDec(d decimal.Decimal) Dec { return Dec{d} }

// GormDBDataType chooses the column type per engine; precision and scale
// come from the field's tags.
func (Dec) GormDBDataType(db *gorm.DB, f *schema.Field) string {
	if db.Dialector.Name() == "mysql" {
		p, s := f.Precision, f.Scale
		if p == 0 {
			p, s = 16, 4
		}
		return fmt.Sprintf("decimal(%d,%d)", p, s)
	}
	return "text"
}

// Value writes the decimal as its digits.
func (d Dec) Value() (driver.Value, error) { return d.Decimal.String(), nil }

// Scan reads digits (MySQL answers DECIMAL as bytes, SQLite as text).
func (d *Dec) Scan(v any) error { return d.Decimal.Scan(v) }

// Disclosure sections (三公开), as a compound's board shows them.
const (
	DisclosureFirm     = "firm"
	DisclosureService  = "service"
	DisclosureFees     = "fees"
	DisclosureChannels = "channels"
	DisclosureRevenue  = "revenue"
)

// Kinds of disclosure lines.
const (
	LineFirm    = "firm"    // a fact about the firm: label and value (Detail)
	LineService = "service" // a service item: category (Label) and standard (Detail)
	LineFee     = "fee"     // a fee standard: property type, yuan per m² per month
	LineCharge  = "charge"  // parking and other charges: name, amount, unit
	LineChannel = "channel" // a complaint channel: name, contact
	LineIncome  = "income"  // public revenue income
	LineExpense = "expense" // public revenue expense
)

// Disclosure is one published version of one section of a compound's
// board: of a revenue report, one version for one period. A version is
// never edited: a correction is the next version of the same (compound,
// section, period), with its reason. Only the countersignature of a
// revenue report is written after publication, once.
type Disclosure struct {
	Base
	Section      string `gorm:"size:16;not null"`
	Period       string `gorm:"size:16;not null;default:''"` // revenue: 2026-10, 2026Q3, 2026H1 or 2026
	Version      int    `gorm:"not null"`
	SupersedesID int64  `gorm:"not null;default:0"`
	Reason       string `gorm:"size:500"` // why a correction was published
	ServiceLevel string `gorm:"size:32"`
	Note         string `gorm:"size:500"`
	FirmID       int64  `gorm:"not null;default:0;index"` // the publishing firm
	PublishedBy  int64  `gorm:"not null;uniqueIndex:ux_disclosure_idem,priority:1"`
	PublishedAt  time.Time

	// Revenue reports: yuan, to the fen.
	Opening      Dec `gorm:"precision:14;scale:2;not null"`
	IncomeTotal  Dec `gorm:"precision:14;scale:2;not null"`
	ExpenseTotal Dec `gorm:"precision:14;scale:2;not null"`
	Closing      Dec `gorm:"precision:14;scale:2;not null"`

	CountersignedBy   int64 `gorm:"not null;default:0"`
	CountersignedAt   *time.Time
	CountersignerRole string `gorm:"size:32"`
	CountersignNote   string `gorm:"size:200"`

	IdemKey *string `gorm:"size:64;uniqueIndex:ux_disclosure_idem,priority:2"`
	Ancestry
}

// DisclosureLine is one line of a version: a fee standard, an income, a
// service item … Amount is nil on lines without one.
type DisclosureLine struct {
	ID           int64  `gorm:"primaryKey"`
	DisclosureID int64  `gorm:"not null;index"`
	Position     int    `gorm:"not null"`
	Kind         string `gorm:"size:16;not null"`
	Label        string `gorm:"size:64;not null"`
	Amount       *Dec   `gorm:"precision:16;scale:4"`
	Unit         string `gorm:"size:32"`
	Basis        string `gorm:"size:200"` // legal basis of a fee
	EffectiveOn  *time.Time
	Detail       string  `gorm:"size:500"`
	Attachments  []int64 `gorm:"serializer:json;type:text"` // photo ids of receipts
}

// disclosureIndexSteps are the unique index of a version chain: two
// publishers racing for the same next version cannot both win.
func disclosureIndex(tx *gorm.DB) error {
	return createIndex(tx, &Disclosure{}, "disclosures", "ux_disclosure_version", "compound_id, section, period, version")
}

// CreateDisclosure inserts a version with its lines; ErrDuplicate when the
// version number was taken meanwhile.
func CreateDisclosure(ctx context.Context, tx *gorm.DB, d *Disclosure, lines []DisclosureLine) error {
	if err := Create(ctx, tx, d); err != nil {
		return err
	}
	if len(lines) == 0 {
		return nil
	}
	for i := range lines {
		lines[i].DisclosureID = d.ID
	}
	return CreateInBatches(ctx, tx, &lines, 200)
}

// LatestDisclosure is the newest version of a chain; found is false when
// the chain has none.
func LatestDisclosure(ctx context.Context, db *gorm.DB, compoundID int64, section, period string) (d Disclosure, found bool, err error) {
	var rows []Disclosure
	err = db.WithContext(ctx).Where("compound_id = ? AND section = ? AND period = ?", compoundID, section, period).
		Order("version DESC").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return d, false, Translate(err)
	}
	return rows[0], true, nil
}

// LatestDisclosures returns the newest version of each chain of a
// compound among the sections and periods given, in one statement, keyed
// by section + "\x00" + period (id, section, period and version only).
func LatestDisclosures(ctx context.Context, db *gorm.DB, compoundID int64, sections, periods []string) (map[string]Disclosure, error) {
	out := map[string]Disclosure{}
	if len(sections) == 0 {
		return out, nil
	}
	var rows []Disclosure
	err := db.WithContext(ctx).Select("id", "section", "period", "version").
		Where("compound_id = ? AND section IN ? AND period IN ?", compoundID, sections, periods).Find(&rows).Error
	if err != nil {
		return nil, Translate(err)
	}
	for _, r := range rows {
		key := r.Section + "\x00" + r.Period
		if l, ok := out[key]; !ok || r.Version > l.Version {
			out[key] = r
		}
	}
	return out, nil
}

// DisclosureChain lists every version of a chain, oldest first.
func DisclosureChain(ctx context.Context, db *gorm.DB, compoundID int64, section, period string) ([]Disclosure, error) {
	var rows []Disclosure
	err := db.WithContext(ctx).Where("compound_id = ? AND section = ? AND period = ?", compoundID, section, period).
		Order("version").Find(&rows).Error
	return rows, Translate(err)
}

// DisclosureLinesOf maps version ids to their lines, in position order.
func DisclosureLinesOf(ctx context.Context, db *gorm.DB, ids []int64) (map[int64][]DisclosureLine, error) {
	out := map[int64][]DisclosureLine{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []DisclosureLine
	if err := db.WithContext(ctx).Where("disclosure_id IN ?", ids).Order("disclosure_id, position").Find(&rows).Error; err != nil {
		return nil, Translate(err)
	}
	for _, l := range rows {
		out[l.DisclosureID] = append(out[l.DisclosureID], l)
	}
	return out, nil
}

// currentOnly keeps the versions no later version of their chain follows.
const currentOnly = `NOT EXISTS (SELECT 1 FROM disclosures n WHERE n.compound_id = disclosures.compound_id
	AND n.section = disclosures.section AND n.period = disclosures.period AND n.version > disclosures.version)`

// DisclosureFilter picks versions of one compound: only current ones
// unless History, of one section and period when set.
type DisclosureFilter struct {
	CompoundID int64
	Section    string
	Period     string
	History    bool
}

// DisclosuresPage lists versions, newest first.
func DisclosuresPage(ctx context.Context, db *gorm.DB, f DisclosureFilter, p Page) (Paged[Disclosure], error) {
	q := db.Model(&Disclosure{}).Where("compound_id = ?", f.CompoundID)
	if f.Section != "" {
		q = q.Where("section = ?", f.Section)
	}
	if f.Period != "" {
		q = q.Where("period = ?", f.Period)
	}
	if !f.History {
		q = q.Where(currentOnly)
	}
	return KeysetPage[Disclosure](ctx, q, "id", p)
}

// CurrentDisclosures are the current versions of the sections other than
// revenue, and of the newest revenue period, of a compound.
func CurrentDisclosures(ctx context.Context, db *gorm.DB, compoundID int64) ([]Disclosure, error) {
	var rows []Disclosure
	err := db.WithContext(ctx).Where("compound_id = ? AND section <> ?", compoundID, DisclosureRevenue).
		Where(currentOnly).Order("id").Find(&rows).Error
	if err != nil {
		return nil, Translate(err)
	}
	var rev []Disclosure
	err = db.WithContext(ctx).Where("compound_id = ? AND section = ?", compoundID, DisclosureRevenue).
		Where(currentOnly).Order("period DESC").Limit(1).Find(&rev).Error
	return append(rows, rev...), Translate(err)
}

// Countersign records the countersignature of a version if it has none
// yet and is still the newest of its chain; it returns the rows changed
// (0: signed before, or corrected meanwhile).
func Countersign(ctx context.Context, tx *gorm.DB, id, by int64, role, note string, at time.Time) (int64, error) {
	res := tx.WithContext(ctx).Model(&Disclosure{}).Where("id = ? AND countersigned_at IS NULL", id).Where(currentOnly).
		UpdateColumns(map[string]any{"countersigned_by": by, "countersigned_at": at, "countersigner_role": role,
			"countersign_note": note})
	return res.RowsAffected, Translate(res.Error)
}

// LiveContract is the contract under which a firm serves a compound on
// day, with the firm; found is false when there is none.
func LiveContract(ctx context.Context, db *gorm.DB, compoundID int64, day time.Time) (k Contract, f Firm, found bool, err error) {
	var ks []Contract
	err = db.WithContext(ctx).Where("compound_id = ? AND starts_on <= ? AND ends_on >= ?", compoundID, day, day).
		Order("starts_on DESC").Limit(1).Find(&ks).Error
	if err != nil || len(ks) == 0 {
		return k, f, false, Translate(err)
	}
	f, err = ByID[Firm](ctx, db, ks[0].FirmID)
	return ks[0], f, err == nil, err
}

// CompoundMeets reports whether a compound has a building in one of grids
// or among buildings: a grid worker's or a steward's part of it.
func CompoundMeets(ctx context.Context, db *gorm.DB, compoundID int64, grids, buildings []int64) (bool, error) {
	if len(grids) == 0 && len(buildings) == 0 {
		return false, nil
	}
	q := db.WithContext(ctx).Model(&Building{}).Where("compound_id = ?", compoundID)
	switch {
	case len(grids) > 0 && len(buildings) > 0:
		q = q.Where("grid_id IN ? OR id IN ?", grids, buildings)
	case len(grids) > 0:
		q = q.Where("grid_id IN ?", grids)
	default:
		q = q.Where("id IN ?", buildings)
	}
	var n int64
	err := q.Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}
