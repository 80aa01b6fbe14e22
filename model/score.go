package model

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Kinds of score (考核): a firm's quarterly score card and a grid
// worker's monthly score.
const (
	ScoreKindFirm       = "firm"
	ScoreKindGridWorker = "grid_worker"
)

// Component states: ok, or below the formula's minimum samples.
const (
	ComponentOK           = "ok"
	ComponentInsufficient = "insufficient"
)

// Rules for the weight of an insufficient component.
const (
	// RedistributeProportional shares it among the sufficient components
	// in proportion to their weights: the score stays out of 100.
	RedistributeProportional = "proportional"
	// RedistributeNone scores it 0: the weight is lost.
	RedistributeNone = "none"
)

// Which way a component's raw value is better.
const (
	BetterHigher = "higher"
	BetterLower  = "lower"
)

// FormulaComponent is one component of a formula. A raw value at Full
// earns the whole weight, one at Zero (or beyond) nothing, linearly in
// between. Raw values are integers whose unit the component names (basis
// points for a ratio, seconds for a time, hundredths for a rate per 100
// households or a mean).
type FormulaComponent struct {
	Name       string `json:"name"`
	Weight     int64  `json:"weight"`
	MinSamples int64  `json:"min_samples"`
	Better     string `json:"better"`
	Full       int64  `json:"full"`
	Zero       int64  `json:"zero"`
}

// ListRule is how a 红黑榜 is drawn from a period's scores: the top and
// bottom N of each group, or every score above and below thresholds.
type ListRule struct {
	Kind  string `json:"kind"`  // top_bottom | threshold
	Group string `json:"group"` // street | district | city: where firms are compared
	N     int    `json:"n"`
	// Thresholds in hundredths of a point: red at or above RedMin, black
	// below BlackMax.
	RedMin   int64 `json:"red_min"`
	BlackMax int64 `json:"black_max"`
}

// StarBand gives Stars to a yearly mean score at or above Min (hundredths
// of a point); bands are read from the most stars down.
type StarBand struct {
	Stars int   `json:"stars"`
	Min   int64 `json:"min"`
}

// FormulaSpec is the content of a formula version.
type FormulaSpec struct {
	Components   []FormulaComponent `json:"components"`
	Redistribute string             `json:"redistribute"`
	// A score is ranked only with at least RankMinSamples samples (a
	// firm's orders due, a grid worker's orders handled) and at least
	// MinComponents sufficient components.
	RankMinSamples int64      `json:"rank_min_samples"`
	MinComponents  int        `json:"min_components"`
	List           *ListRule  `json:"list,omitempty"`
	Stars          []StarBand `json:"stars,omitempty"`
}

// ScoreFormula is one version of a kind's formula (计分公式). Versions are
// only ever added: a score row names the version it was computed with.
type ScoreFormula struct {
	ID      int64  `gorm:"primaryKey"`
	Kind    string `gorm:"size:16;not null;uniqueIndex:ux_formula_version,priority:1"`
	Version int    `gorm:"not null;uniqueIndex:ux_formula_version,priority:2"`
	// EffectiveFrom is the Beijing midnight (in UTC) from which the version
	// applies: a period is scored with the newest version in effect at its
	// start, unless another is asked for.
	EffectiveFrom time.Time   `gorm:"not null"`
	Note          string      `gorm:"size:200"`
	Spec          FormulaSpec `gorm:"serializer:json;type:text;not null"`
	CreatedBy     int64       `gorm:"not null;default:0"`
	CreatedAt     time.Time   `gorm:"not null"`
}

// Score is one score row: a firm in a compound, street or city for a
// quarter, or a grid worker for a month, under one formula version. It
// has no timestamps: re-running a period writes the same bytes, and the
// runs table says when.
type Score struct {
	ID             int64     `gorm:"primaryKey"`
	Kind           string    `gorm:"size:16;not null;index:ix_score_period,priority:1"`
	Period         string    `gorm:"size:8;not null;index:ix_score_period,priority:2;uniqueIndex:ux_score_key,priority:2"`
	FormulaID      int64     `gorm:"not null;uniqueIndex:ux_score_key,priority:1"`
	FormulaVersion int       `gorm:"not null;index:ix_score_period,priority:3"`
	PeriodStart    time.Time `gorm:"not null"`
	PeriodEnd      time.Time `gorm:"not null"`
	// ScopeKind is compound, street or city for a firm, grid for a grid
	// worker; ScopeID the id of that node.
	ScopeKind string `gorm:"size:16;not null;uniqueIndex:ux_score_key,priority:3"`
	ScopeID   int64  `gorm:"not null;uniqueIndex:ux_score_key,priority:4"`
	FirmID    int64  `gorm:"not null;default:0;index;uniqueIndex:ux_score_key,priority:5"`
	UserID    int64  `gorm:"not null;default:0;index;uniqueIndex:ux_score_key,priority:6"`
	Ancestry
	// Points is the score in hundredths (0–10000).
	Points       int64 `gorm:"not null"`
	Samples      int64 `gorm:"not null"`
	Sufficient   int   `gorm:"not null"`
	RankEligible bool  `gorm:"not null"`
	// Ineligible says why a score is not ranked ("" when it is).
	Ineligible string `gorm:"size:100"`
}

// ScoreComponent is one component of a score row, with the figures it was
// computed from.
type ScoreComponent struct {
	ID          int64  `gorm:"primaryKey"`
	ScoreID     int64  `gorm:"not null;uniqueIndex:ux_score_component,priority:1"`
	Name        string `gorm:"size:24;not null;uniqueIndex:ux_score_component,priority:2"`
	Status      string `gorm:"size:16;not null"`
	Numerator   int64  `gorm:"not null"`
	Denominator int64  `gorm:"not null"`
	// Extra is a second figure some components show: the sum of the
	// ratings (their mean is Extra / Denominator).
	Extra      int64 `gorm:"not null;default:0"`
	Raw        int64 `gorm:"not null"`
	MinSamples int64 `gorm:"not null"`
	Weight     int64 `gorm:"not null"`
	// EffWeight is the weight after redistribution, Points the points
	// earned, both in hundredths.
	EffWeight int64 `gorm:"not null"`
	Points    int64 `gorm:"not null"`
}

// ScoreRun records one run of the scoring job.
type ScoreRun struct {
	ID             int64     `gorm:"primaryKey"`
	Kind           string    `gorm:"size:16;not null;index:ix_score_run,priority:1"`
	Period         string    `gorm:"size:8;not null;index:ix_score_run,priority:2"`
	FormulaID      int64     `gorm:"not null"`
	FormulaVersion int       `gorm:"not null"`
	RequestedBy    int64     `gorm:"not null;default:0"`
	Rows           int       `gorm:"column:row_count;not null"` // ROWS is reserved in MySQL 8
	Written        int       `gorm:"not null"`                  // rows new or changed
	StartedAt      time.Time `gorm:"not null"`
	FinishedAt     time.Time `gorm:"not null"`
}

// Formulas lists the versions of a kind, newest first.
func Formulas(ctx context.Context, db *gorm.DB, kind string) ([]ScoreFormula, error) {
	var fs []ScoreFormula
	err := db.WithContext(ctx).Where("kind = ?", kind).Order("version DESC").Find(&fs).Error
	return fs, Translate(err)
}

// FormulaVersion returns version v of kind; ErrNotFound when there is none.
func FormulaVersion(ctx context.Context, db *gorm.DB, kind string, v int) (ScoreFormula, error) {
	var f ScoreFormula
	err := db.WithContext(ctx).Where("kind = ? AND version = ?", kind, v).Take(&f).Error
	return f, Translate(err)
}

// FormulaInEffect returns the newest version of kind in effect at t;
// ErrNotFound when none is.
func FormulaInEffect(ctx context.Context, db *gorm.DB, kind string, t time.Time) (ScoreFormula, error) {
	var f ScoreFormula
	err := db.WithContext(ctx).Where("kind = ? AND effective_from <= ?", kind, t.UTC()).
		Order("effective_from DESC, version DESC").Limit(1).Take(&f).Error
	return f, Translate(err)
}

// AddFormula inserts the next version of f.Kind (f.Version is set here)
// inside tx: the newest row is locked first, so two additions at once get
// two versions, or one of them ErrDuplicate.
func AddFormula(ctx context.Context, tx *gorm.DB, f *ScoreFormula) error {
	var last []int
	err := ForUpdate(tx.WithContext(ctx).Model(&ScoreFormula{})).Where("kind = ?", f.Kind).
		Order("version DESC").Limit(1).Pluck("version", &last).Error
	if err != nil {
		return Translate(err)
	}
	f.Version = 1
	if len(last) > 0 {
		f.Version = last[0] + 1
	}
	return Create(ctx, tx, f)
}

// ScoreQuery selects score rows of one period.
type ScoreQuery struct {
	Kind      string
	Period    string
	FormulaID int64
	ScopeKind string // compound, street, city, grid; "" for every kind
	// Under narrows to rows in the subtree of these places (none: no
	// narrowing); a place of kind firm keeps that firm's rows.
	Under []Place
	// Within narrows further to the subtree of one place (an AND with
	// Under).
	Within *Place
	FirmID int64
	UserID int64
}

func (q ScoreQuery) where(db *gorm.DB) *gorm.DB {
	tx := db.Model(&Score{}).Where("kind = ? AND period = ? AND formula_id = ?", q.Kind, q.Period, q.FormulaID)
	if q.ScopeKind != "" {
		tx = tx.Where("scope_kind = ?", q.ScopeKind)
	}
	if q.FirmID != 0 {
		tx = tx.Where("firm_id = ?", q.FirmID)
	}
	if q.UserID != 0 {
		tx = tx.Where("user_id = ?", q.UserID)
	}
	if q.Within != nil {
		tx = whereInTree(tx, []Place{*q.Within})
	}
	if len(q.Under) > 0 {
		var tree []Place
		var firms []int64
		for _, p := range q.Under {
			if p.Kind == ScopeFirm {
				firms = append(firms, p.ID)
			} else {
				tree = append(tree, p)
			}
		}
		switch {
		case len(firms) > 0 && len(tree) > 0:
			sub := whereInTree(db.Model(&Score{}).Select("id"), tree)
			tx = tx.Where("(firm_id IN ? OR id IN (?))", firms, sub)
		case len(firms) > 0:
			tx = tx.Where("firm_id IN ?", firms)
		default:
			tx = whereInTree(tx, tree)
		}
	}
	return tx
}

// Scores returns every row q selects, by id.
func Scores(ctx context.Context, db *gorm.DB, q ScoreQuery) ([]Score, error) {
	var rows []Score
	err := q.where(db.WithContext(ctx)).Order("id").Find(&rows).Error
	return rows, Translate(err)
}

// ScorePage returns one page of the rows q selects, newest id first.
func ScorePage(ctx context.Context, db *gorm.DB, q ScoreQuery, p Page) (Paged[Score], error) {
	return KeysetPage[Score](ctx, q.where(db), "id", p)
}

// ComponentsOf returns the components of score rows, by score and id.
func ComponentsOf(ctx context.Context, db *gorm.DB, scoreIDs []int64) ([]ScoreComponent, error) {
	if len(scoreIDs) == 0 {
		return nil, nil
	}
	var rows []ScoreComponent
	err := db.WithContext(ctx).Where("score_id IN ?", scoreIDs).Order("score_id, id").Find(&rows).Error
	return rows, Translate(err)
}

// LatestScoreFormula is the formula of the newest run of a kind's period;
// found is false when the period has not been scored.
func LatestScoreRun(ctx context.Context, db *gorm.DB, kind, period string) (r ScoreRun, found bool, err error) {
	var rows []ScoreRun
	err = db.WithContext(ctx).Where("kind = ? AND period = ?", kind, period).Order("id DESC").Limit(1).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return r, false, Translate(err)
	}
	return rows[0], true, nil
}

// ScoreKey is the identity of a score row within its formula and period.
type ScoreKey struct {
	ScopeKind string
	ScopeID   int64
	FirmID    int64
	UserID    int64
}

// Key returns the row's identity.
func (s Score) Key() ScoreKey {
	return ScoreKey{ScopeKind: s.ScopeKind, ScopeID: s.ScopeID, FirmID: s.FirmID, UserID: s.UserID}
}

// ScoredRow is a computed row with its components, to be written.
type ScoredRow struct {
	Score      Score
	Components []ScoreComponent
}

// WriteScores brings the stored rows of a formula's period to rows inside
// tx: a row whose figures are unchanged is left as it is (same id, same
// bytes), a changed one is updated in place with its components, a new one
// inserted, and a stored row the computation no longer yields is deleted.
// It returns how many rows it inserted or changed.
func WriteScores(ctx context.Context, tx *gorm.DB, kind, period string, formulaID int64, rows []ScoredRow) (int, error) {
	tx = tx.WithContext(ctx)
	old, err := Scores(ctx, tx, ScoreQuery{Kind: kind, Period: period, FormulaID: formulaID})
	if err != nil {
		return 0, err
	}
	byKey := make(map[ScoreKey]Score, len(old))
	ids := make([]int64, 0, len(old))
	for _, s := range old {
		byKey[s.Key()] = s
		ids = append(ids, s.ID)
	}
	comps := map[int64][]ScoreComponent{}
	for start := 0; start < len(ids); start += 1000 {
		cs, err := ComponentsOf(ctx, tx, ids[start:min(start+1000, len(ids))])
		if err != nil {
			return 0, err
		}
		for _, c := range cs {
			comps[c.ScoreID] = append(comps[c.ScoreID], c)
		}
	}
	written := 0
	var fresh []ScoredRow
	for _, r := range rows {
		prev, ok := byKey[r.Score.Key()]
		if !ok {
			fresh = append(fresh, r)
			continue
		}
		delete(byKey, r.Score.Key())
		r.Score.ID = prev.ID
		if sameScore(prev, r.Score) && sameComponents(comps[prev.ID], r.Components) {
			continue
		}
		written++
		if err := tx.Select("*").Save(&r.Score).Error; err != nil {
			return 0, fmt.Errorf("update score %d: %w", prev.ID, Translate(err))
		}
		if err := tx.Where("score_id = ?", prev.ID).Delete(&ScoreComponent{}).Error; err != nil {
			return 0, Translate(err)
		}
		if err := insertComponents(tx, prev.ID, r.Components); err != nil {
			return 0, err
		}
	}
	for _, gone := range byKey {
		if err := tx.Where("score_id = ?", gone.ID).Delete(&ScoreComponent{}).Error; err != nil {
			return 0, Translate(err)
		}
		if err := tx.Delete(&Score{}, gone.ID).Error; err != nil {
			return 0, Translate(err)
		}
		written++
	}
	for start := 0; start < len(fresh); start += 200 {
		batch := fresh[start:min(start+200, len(fresh))]
		scores := make([]Score, len(batch))
		for i := range batch {
			scores[i] = batch[i].Score
		}
		if err := tx.Create(&scores).Error; err != nil {
			return 0, fmt.Errorf("insert scores: %w", Translate(err))
		}
		var cs []ScoreComponent
		for i := range batch {
			for _, c := range batch[i].Components {
				c.ScoreID = scores[i].ID
				cs = append(cs, c)
			}
		}
		if len(cs) > 0 {
			if err := tx.CreateInBatches(&cs, 500).Error; err != nil {
				return 0, fmt.Errorf("insert score components: %w", Translate(err))
			}
		}
		written += len(batch)
	}
	return written, nil
}

func insertComponents(tx *gorm.DB, scoreID int64, cs []ScoreComponent) error {
	if len(cs) == 0 {
		return nil
	}
	rows := make([]ScoreComponent, len(cs))
	for i, c := range cs {
		c.ID, c.ScoreID = 0, scoreID
		rows[i] = c
	}
	return Translate(tx.Clauses(clause.OnConflict{DoNothing: false}).Create(&rows).Error)
}

// sameScore compares two rows but their ids (times compared as instants).
func sameScore(a, b Score) bool {
	a.ID, b.ID = 0, 0
	if !a.PeriodStart.Equal(b.PeriodStart) || !a.PeriodEnd.Equal(b.PeriodEnd) {
		return false
	}
	a.PeriodStart, b.PeriodStart, a.PeriodEnd, b.PeriodEnd = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}

func sameComponents(a, b []ScoreComponent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.ID, x.ScoreID, y.ID, y.ScoreID = 0, 0, 0, 0
		if x != y {
			return false
		}
	}
	return true
}
