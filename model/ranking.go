package model

import (
	"context"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Ranking kinds: the 红黑榜 of a quarter, the 星级 of a year.
const (
	RankingList  = "list"
	RankingStars = "stars"
)

// Ranking states: a draft is reviewed and published; a published version
// is never edited, only superseded by a newer one (a correction).
const (
	RankingDraft      = "draft"
	RankingPublished  = "published"
	RankingSuperseded = "superseded"
)

// Placements of a ranking line.
const (
	PlacementRed      = "red"      // 红榜
	PlacementBlack    = "black"    // 黑榜
	PlacementNone     = "none"     // ranked, on neither list
	PlacementExcluded = "excluded" // too few samples: never ranked
	PlacementRemoved  = "removed"  // taken off by the reviewer, with a reason
	PlacementRated    = "rated"    // a star line with its stars
)

// Ranking is one version of a 红黑榜 (or 星级) of a scope (street,
// district, city) and a period (2026Q3, or 2026 for stars). Versions of
// one (kind, scope, period) count from 1; DraftKey and LiveKey are set
// only while the version is the draft, resp. the published one, so that
// unique indexes keep one of each (NULLs do not collide).
type Ranking struct {
	Base
	Kind      string  `gorm:"size:8;not null;uniqueIndex:ux_ranking_version,priority:1"`
	ScopeKind string  `gorm:"size:16;not null;uniqueIndex:ux_ranking_version,priority:2"`
	ScopeID   int64   `gorm:"not null;uniqueIndex:ux_ranking_version,priority:3"`
	Period    string  `gorm:"size:8;not null;uniqueIndex:ux_ranking_version,priority:4"`
	Version   int     `gorm:"not null;uniqueIndex:ux_ranking_version,priority:5"`
	State     string  `gorm:"size:16;not null;index"`
	DraftKey  *string `gorm:"size:64;uniqueIndex"`
	LiveKey   *string `gorm:"size:64;uniqueIndex"`
	// Supersedes is the published version this one replaces (0 for the
	// first); SupersededBy the one that replaced it.
	Supersedes   int64 `gorm:"not null;default:0"`
	SupersededBy int64 `gorm:"not null;default:0"`
	// Reason says why a version after the first was made; AppealID names
	// the appeal whose decision made it.
	Reason   string `gorm:"size:500"`
	AppealID int64  `gorm:"not null;default:0"`
	// The formula the scores were computed by, and its rule as applied.
	FormulaVersion int64  `gorm:"not null;default:0"`
	Rule           string `gorm:"type:text"`
	CreatedBy      int64  `gorm:"not null"`
	PublishedBy    int64  `gorm:"not null;default:0"`
	PublishedAt    *time.Time
	// AppealsUntil ends the appeal window: N working days after publication.
	AppealsUntil *time.Time
	Ancestry
}

// RankingLine is one firm at one compound (one firm, for stars) in a
// ranking version: its score, rank and placement. Lines are written with
// their version and, once it is published, never change.
type RankingLine struct {
	Base
	RankingID  int64 `gorm:"not null;uniqueIndex:ux_ranking_line,priority:1"`
	FirmID     int64 `gorm:"not null;uniqueIndex:ux_ranking_line,priority:2;index"`
	CompoundID int64 `gorm:"not null;uniqueIndex:ux_ranking_line,priority:3"`
	ScoreID    int64 `gorm:"not null;default:0"` // the score row behind it (0 for stars)
	// ScoreCenti is the score × 100 (0–10000); CorrectedFrom the score
	// before a decided appeal corrected it (0: not corrected).
	ScoreCenti    int64  `gorm:"not null"`
	CorrectedFrom int64  `gorm:"not null;default:0"`
	RankNo        int    `gorm:"not null;default:0"` // 1 = best in its group; 0 when not ranked
	GroupSize     int    `gorm:"not null;default:0"`
	Placement     string `gorm:"size:16;not null"`
	Stars         int    `gorm:"not null;default:0"`
	// Why a line is excluded (too few samples), removed, or corrected.
	Reason    string `gorm:"size:500"`
	RemovedBy int64  `gorm:"not null;default:0"`
	RemovedAt *time.Time
	// Components of the score as computed (JSON), for appeals against one.
	Components string `gorm:"type:text"`
	Ancestry
}

// Appeal states.
const (
	AppealPending   = "pending"
	AppealUpheld    = "upheld"    // 维持原结果
	AppealCorrected = "corrected" // 予以更正: a new version was published
)

// Appeal targets.
const (
	AppealEntry     = "entry"     // the line's placement (a black-list entry, a star grade)
	AppealComponent = "component" // one component of the score
)

// Appeal (申诉) is a firm manager's objection to a line of a published
// ranking, decided by a reviewer at the publishing level. OpenKey is set
// while pending: one pending appeal per line and target.
type Appeal struct {
	Base
	RankingID int64   `gorm:"not null;index"`
	LineID    int64   `gorm:"not null"`
	FirmID    int64   `gorm:"not null;index"`
	Target    string  `gorm:"size:16;not null"`
	Component string  `gorm:"size:32"`
	Text      string  `gorm:"size:2000;not null"`
	Photos    []int64 `gorm:"serializer:json;type:text"`
	State     string  `gorm:"size:16;not null;index:ix_appeal_due,priority:1"`
	OpenKey   *string `gorm:"size:100;uniqueIndex"`
	FiledBy   int64   `gorm:"not null;uniqueIndex:ux_appeal_idem,priority:1"`
	// DueAt is when the decision is due: M working days after filing.
	DueAt     time.Time `gorm:"not null;index:ix_appeal_due,priority:2"`
	DecidedBy int64     `gorm:"not null;default:0"`
	DecidedAt *time.Time
	Decision  string `gorm:"size:2000"`
	// The correction asked by a corrected decision, and the version it made.
	CorrectedCenti int64 `gorm:"not null;default:0"`
	CorrectedStars int   `gorm:"not null;default:0"`
	CorrectionID   int64 `gorm:"not null;default:0"`
	// The ranking's scope and period, for the reviewers' queue.
	ScopeKind string  `gorm:"size:16;not null"`
	ScopeID   int64   `gorm:"not null"`
	Period    string  `gorm:"size:8;not null"`
	IdemKey   *string `gorm:"size:64;uniqueIndex:ux_appeal_idem,priority:2"`
	Ancestry
}

// Appeal event kinds: the exchange, kept whole.
const (
	AppealFiled   = "filed"
	AppealNote    = "note"
	AppealDecided = "decided"
)

// AppealEvent is one step of an appeal's exchange: the filing, a note of
// either side, the decision.
type AppealEvent struct {
	Base
	AppealID int64   `gorm:"not null;index"`
	Kind     string  `gorm:"size:16;not null"`
	ActorID  int64   `gorm:"not null"`
	Role     string  `gorm:"size:32;not null"`
	Text     string  `gorm:"size:2000"`
	Photos   []int64 `gorm:"serializer:json;type:text"`
}

// Flag states: a flag is open until the street records its talk (谈话提醒);
// it is withdrawn when a correction takes one of its two entries off the
// black list.
const (
	FlagOpen      = "open"
	FlagTalked    = "talked"
	FlagWithdrawn = "withdrawn"
)

// RankingFlag marks a firm at a compound on the black list of two quarters
// in a row in one scope: for the street (谈话提醒) and for the compound's
// committee, who may draft an owners' vote on it (退出程序).
type RankingFlag struct {
	Base
	FirmID     int64  `gorm:"not null;uniqueIndex:ux_ranking_flag,priority:1"`
	CompoundID int64  `gorm:"not null;uniqueIndex:ux_ranking_flag,priority:2"`
	ScopeKind  string `gorm:"size:16;not null;uniqueIndex:ux_ranking_flag,priority:3"`
	ScopeID    int64  `gorm:"not null;uniqueIndex:ux_ranking_flag,priority:4"`
	Period     string `gorm:"size:8;not null;uniqueIndex:ux_ranking_flag,priority:5"` // the second quarter
	PrevPeriod string `gorm:"size:8;not null"`
	RankingID  int64  `gorm:"not null"` // the versions that put it on the black list
	PrevID     int64  `gorm:"not null"`
	State      string `gorm:"size:16;not null;index"`
	TalkedBy   int64  `gorm:"not null;default:0"`
	TalkedAt   *time.Time
	TalkNote   string `gorm:"size:500"`
	VoteID     int64  `gorm:"not null;default:0"`
	Ancestry
}

// RankingKey names a (kind, scope, period) whose versions share DraftKey
// and LiveKey.
func RankingKey(kind, scopeKind string, scopeID int64, period string) string {
	return kind + ":" + scopeKind + ":" + strconv.FormatInt(scopeID, 10) + ":" + period
}

// RankingFilter picks rankings: of Kind, ScopeKind/ScopeID and Period
// when set; Live only the published versions in force; Under one of the
// staff scopes (none with All false: nothing).
type RankingFilter struct {
	Kind      string
	ScopeKind string
	ScopeID   int64
	Period    string
	State     string
	Under     []Grant
	All       bool
	// Published leaves drafts out (for those who may not see them).
	Published bool
}

// RankingsPage lists ranking versions newest first.
func RankingsPage(ctx context.Context, db *gorm.DB, f RankingFilter, p Page) (Paged[Ranking], error) {
	q := db.Model(&Ranking{})
	if !f.All {
		cond, args := underAny(f.Under)
		if cond == "" {
			return Paged[Ranking]{Items: []Ranking{}}, nil
		}
		q = q.Where(cond, args...)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.ScopeKind != "" {
		q = q.Where("scope_kind = ? AND scope_id = ?", f.ScopeKind, f.ScopeID)
	}
	if f.Period != "" {
		q = q.Where("period = ?", f.Period)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.Published {
		q = q.Where("state <> ?", RankingDraft)
	}
	return KeysetPage[Ranking](ctx, q, "id", p)
}

// RankingsOfFirms lists the published versions with a line of one of
// the firms, newest first.
func RankingsOfFirms(ctx context.Context, db *gorm.DB, firmIDs []int64, f RankingFilter, p Page) (Paged[Ranking], error) {
	q := db.Model(&Ranking{}).Where("state <> ? AND id IN (SELECT ranking_id FROM ranking_lines WHERE firm_id IN ?)", RankingDraft, firmIDs)
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.ScopeKind != "" {
		q = q.Where("scope_kind = ? AND scope_id = ?", f.ScopeKind, f.ScopeID)
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", f.Kind)
	}
	if f.Period != "" {
		q = q.Where("period = ?", f.Period)
	}
	return KeysetPage[Ranking](ctx, q, "id", p)
}

// LatestRanking is the highest version of a (kind, scope, period);
// ErrNotFound when there is none.
func LatestRanking(ctx context.Context, db *gorm.DB, kind, scopeKind string, scopeID int64, period string) (Ranking, error) {
	var r Ranking
	err := db.WithContext(ctx).Where("kind = ? AND scope_kind = ? AND scope_id = ? AND period = ?", kind, scopeKind, scopeID, period).
		Order("version DESC").Take(&r).Error
	return r, Translate(err)
}

// LiveRanking is the version in force of a (kind, scope, period);
// ErrNotFound when none is published.
func LiveRanking(ctx context.Context, db *gorm.DB, kind, scopeKind string, scopeID int64, period string) (Ranking, error) {
	var r Ranking
	err := db.WithContext(ctx).Where("live_key = ?", RankingKey(kind, scopeKind, scopeID, period)).Take(&r).Error
	return r, Translate(err)
}

// PublishRanking moves a draft to published (and, when it supersedes
// one, that one to superseded) if it is still the draft; it returns the
// rows of the draft changed: 0 when another writer moved it first.
func PublishRanking(ctx context.Context, tx *gorm.DB, r Ranking, by int64, now, appealsUntil time.Time) (int64, error) {
	tx = tx.WithContext(ctx)
	key := RankingKey(r.Kind, r.ScopeKind, r.ScopeID, r.Period)
	if r.Supersedes != 0 {
		res := tx.Model(&Ranking{}).Where("id = ? AND state = ?", r.Supersedes, RankingPublished).
			Updates(map[string]any{"state": RankingSuperseded, "live_key": nil, "superseded_by": r.ID, "updated_at": now})
		if res.Error != nil || res.RowsAffected == 0 {
			return 0, Translate(res.Error)
		}
	}
	res := tx.Model(&Ranking{}).Where("id = ? AND state = ?", r.ID, RankingDraft).
		Updates(map[string]any{"state": RankingPublished, "draft_key": nil, "live_key": key, "published_by": by,
			"published_at": now, "appeals_until": appealsUntil, "updated_at": now})
	return res.RowsAffected, Translate(res.Error)
}

// DeleteDraft removes a draft and its lines; it returns the rankings
// deleted (0: not a draft any more).
func DeleteDraft(ctx context.Context, tx *gorm.DB, id int64) (int64, error) {
	tx = tx.WithContext(ctx)
	res := tx.Where("id = ? AND state = ?", id, RankingDraft).Delete(&Ranking{})
	if res.Error != nil || res.RowsAffected == 0 {
		return 0, Translate(res.Error)
	}
	return 1, Translate(tx.Where("ranking_id = ?", id).Delete(&RankingLine{}).Error)
}

// RankingLines returns the lines of a version by rank (best first), the
// unranked after; of one firm only when firmID is set.
func RankingLines(ctx context.Context, db *gorm.DB, rankingID, firmID int64) ([]RankingLine, error) {
	q := db.WithContext(ctx).Where("ranking_id = ?", rankingID)
	if firmID != 0 {
		q = q.Where("firm_id = ?", firmID)
	}
	var ls []RankingLine
	err := q.Order("CASE WHEN rank_no = 0 THEN 1 ELSE 0 END, rank_no, score_centi DESC, id").Find(&ls).Error
	return ls, Translate(err)
}

// RemoveLine takes a line of a draft off its list with a reason; it
// returns the rows changed (0: the line is not on a list any more).
func RemoveLine(ctx context.Context, tx *gorm.DB, lineID int64, by int64, reason string, now time.Time) (int64, error) {
	res := tx.WithContext(ctx).Model(&RankingLine{}).
		Where("id = ? AND placement IN ?", lineID, []string{PlacementRed, PlacementBlack, PlacementRated}).
		Updates(map[string]any{"placement": PlacementRemoved, "reason": reason, "removed_by": by, "removed_at": now, "updated_at": now})
	return res.RowsAffected, Translate(res.Error)
}

// BlackLinesOf returns the black lines of a version.
func BlackLinesOf(ctx context.Context, db *gorm.DB, rankingID int64) ([]RankingLine, error) {
	var ls []RankingLine
	err := db.WithContext(ctx).Where("ranking_id = ? AND placement = ?", rankingID, PlacementBlack).Order("id").Find(&ls).Error
	return ls, Translate(err)
}

// FlagsOfPeriod returns the flags of a scope and period.
func FlagsOfPeriod(ctx context.Context, db *gorm.DB, scopeKind string, scopeID int64, period string) ([]RankingFlag, error) {
	var fs []RankingFlag
	err := db.WithContext(ctx).Where("scope_kind = ? AND scope_id = ? AND period = ?", scopeKind, scopeID, period).Order("id").Find(&fs).Error
	return fs, Translate(err)
}

// SetFlagState moves a flag from one state to another with the columns
// of upd; it returns the rows changed (0: not in state from).
func SetFlagState(ctx context.Context, tx *gorm.DB, id int64, from string, upd map[string]any) (int64, error) {
	res := tx.WithContext(ctx).Model(&RankingFlag{}).Where("id = ? AND state = ?", id, from).Updates(upd)
	return res.RowsAffected, Translate(res.Error)
}

// SetFlagVote records the vote drafted from a flag unless one already is;
// it returns the rows changed.
func SetFlagVote(ctx context.Context, db *gorm.DB, id, voteID int64, now time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&RankingFlag{}).Where("id = ? AND vote_id = 0", id).
		Updates(map[string]any{"vote_id": voteID, "updated_at": now})
	return res.RowsAffected, Translate(res.Error)
}

// FlagFilter picks flags: in the subtree of one of Under's scopes (or
// All), or else of one of FirmIDs; of State when set.
type FlagFilter struct {
	Under   []Grant
	All     bool
	FirmIDs []int64
	State   string
}

// FlagsPage lists flags newest first.
func FlagsPage(ctx context.Context, db *gorm.DB, f FlagFilter, p Page) (Paged[RankingFlag], error) {
	q := db.Model(&RankingFlag{})
	if !f.All && len(f.FirmIDs) == 0 {
		cond, args := underAny(f.Under)
		if cond == "" {
			return Paged[RankingFlag]{Items: []RankingFlag{}}, nil
		}
		q = q.Where(cond, args...)
	}
	if len(f.FirmIDs) > 0 {
		q = q.Where("firm_id IN ?", f.FirmIDs)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	return KeysetPage[RankingFlag](ctx, q, "id", p)
}

// AppealFilter picks appeals: of one of FirmIDs, or in the subtree of
// one of Under's scopes (or All); State, RankingID when set; Overdue only
// pending ones past their due time at Now.
type AppealFilter struct {
	FirmIDs   []int64
	Under     []Grant
	All       bool
	State     string
	RankingID int64
	Overdue   bool
	Now       time.Time
}

// AppealsPage lists appeals newest first.
func AppealsPage(ctx context.Context, db *gorm.DB, f AppealFilter, p Page) (Paged[Appeal], error) {
	q := db.Model(&Appeal{})
	if !f.All {
		cond, args := underAny(f.Under)
		switch {
		case cond != "" && len(f.FirmIDs) > 0:
			q = q.Where("("+cond+") OR firm_id IN ?", append(args, f.FirmIDs)...)
		case cond != "":
			q = q.Where(cond, args...)
		case len(f.FirmIDs) > 0:
			q = q.Where("firm_id IN ?", f.FirmIDs)
		default:
			return Paged[Appeal]{Items: []Appeal{}}, nil
		}
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.RankingID != 0 {
		q = q.Where("ranking_id = ?", f.RankingID)
	}
	if f.Overdue {
		q = q.Where("state = ? AND due_at < ?", AppealPending, f.Now)
	}
	return KeysetPage[Appeal](ctx, q, "id", p)
}

// AppealEvents returns an appeal's exchange, oldest first.
func AppealEvents(ctx context.Context, db *gorm.DB, appealID int64) ([]AppealEvent, error) {
	var es []AppealEvent
	err := db.WithContext(ctx).Where("appeal_id = ?", appealID).Order("id").Find(&es).Error
	return es, Translate(err)
}

// DecideAppeal closes a pending appeal with the columns of upd; it
// returns the rows changed (0: decided meanwhile).
func DecideAppeal(ctx context.Context, tx *gorm.DB, id int64, upd map[string]any) (int64, error) {
	upd["open_key"] = nil
	res := tx.WithContext(ctx).Model(&Appeal{}).Where("id = ? AND state = ?", id, AppealPending).Updates(upd)
	return res.RowsAffected, Translate(res.Error)
}

// CompoundResidentIDs returns the distinct residents of the compounds,
// ascending: those a notice of a ranking reaches.
func CompoundResidentIDs(ctx context.Context, db *gorm.DB, compoundIDs []int64) ([]int64, error) {
	if len(compoundIDs) == 0 {
		return nil, nil
	}
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Distinct("user_id").Where("compound_id IN ?", compoundIDs).
		Order("user_id").Pluck("user_id", &ids).Error
	return ids, Translate(err)
}

// ResidentCompoundIDs returns the compounds a user lives in, ascending.
func ResidentCompoundIDs(ctx context.Context, db *gorm.DB, userID int64) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Distinct("compound_id").Where("user_id = ?", userID).
		Order("compound_id").Pluck("compound_id", &ids).Error
	return ids, Translate(err)
}
