package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Vote states: a draft waits for its opening time (and may be cancelled),
// an open vote takes ballots until its closing time, a closed vote keeps
// its frozen result.
const (
	VoteDraft     = "draft"
	VoteOpen      = "open"
	VoteClosed    = "closed"
	VoteCancelled = "cancelled"
)

// Matters an owners' vote decides (民法典 art. 278 ¶1). The matter fixes
// the majority a vote needs; service/vote holds that table.
const (
	MatterOrdinary   = "ordinary"    // rules, 管理规约, the committee, other matters: (一)(二)(三)(九)
	MatterChangeFirm = "change_firm" // 选聘和解聘物业服务企业: (四)
	MatterFundUse    = "fund_use"    // 使用维修资金: (五)
	MatterFundRaise  = "fund_raise"  // 筹集维修资金: (六)
	MatterRebuild    = "rebuild"     // 改建、重建建筑物及其附属设施: (七)
	MatterCommonUse  = "common_use"  // 改变共有部分的用途或者利用共有部分从事经营活动: (八)
)

// Outcomes of a closed vote.
const (
	OutcomeNoQuorum = "no_quorum" // fewer than 2/3 of the area or of the owners took part
	OutcomePassed   = "passed"    // one choice won the majority the matter needs
	OutcomeRejected = "rejected"  // enough took part, but no choice won
)

// Vote is an owners' vote (业主表决) of one compound. The roll of its
// households and the totals are taken when it opens; the result is frozen
// when it closes.
type Vote struct {
	Base
	Question string `gorm:"size:200;not null"`
	Detail   string `gorm:"size:2000"`
	Matter   string `gorm:"size:16;not null"`
	// Choices are the labels owners pick from; YesNo marks the fixed
	// 同意/反对/弃权 set, where only 同意 (choice 0) can carry the vote.
	Choices    []string `gorm:"serializer:json;type:text;not null"`
	YesNo      bool     `gorm:"not null;default:false"`
	OpenBallot bool     `gorm:"not null;default:false"` // 记名表决: who voted what is shown after closing
	// Strict asks 3/4 of those who took part although the matter needs only
	// a majority by law: a compound's 议事规则 may ask more.
	Strict bool   `gorm:"not null;default:false"`
	State  string `gorm:"size:16;not null;index:ix_vote_due,priority:1"`
	// OpensAt and ClosesAt are the announced times; the scheduler opens a
	// draft at OpensAt and closes an open vote at ClosesAt.
	OpensAt  time.Time `gorm:"not null;index:ix_vote_due,priority:2"`
	ClosesAt time.Time `gorm:"not null;index"`
	OpenedAt *time.Time
	ClosedAt *time.Time

	// OrganiserRole is the role that runs the vote: committee_member, or
	// community_staff for a compound without a committee (支代业/物管会).
	OrganiserRole string  `gorm:"size:32;not null"`
	CreatedBy     int64   `gorm:"not null;uniqueIndex:ux_vote_idem,priority:1"`
	CancelledBy   int64   `gorm:"not null;default:0"`
	IdemKey       *string `gorm:"size:64;uniqueIndex:ux_vote_idem,priority:2"`

	// Totals of the roll, taken at opening: the area of every household of
	// the compound (m² × 100) and the number of owners counted by head.
	TotalAreaCentiM2 int64 `gorm:"not null;default:0"`
	TotalHeads       int64 `gorm:"not null;default:0"`
	TotalHouseholds  int64 `gorm:"not null;default:0"`

	// The opening notice goes out in batches; NoticeAfter is the last
	// owner id told, NoticeDone says every owner was.
	NoticeAfter int64 `gorm:"not null;default:0"`
	NoticeDone  bool  `gorm:"not null;default:false"`

	// The frozen result.
	Ballots          int64         `gorm:"not null;default:0"`
	VotedAreaCentiM2 int64         `gorm:"not null;default:0"`
	VotedHeads       int64         `gorm:"not null;default:0"`
	Tally            []ChoiceTally `gorm:"serializer:json;type:text"`
	Outcome          string        `gorm:"size:16"`
	Winner           *int          // index of the winning choice

	Version int64 `gorm:"not null;default:1"`
	Ancestry
}

// ChoiceTally is what one choice received: ballots, area and heads.
type ChoiceTally struct {
	Ballots     int64 `json:"ballots"`
	AreaCentiM2 int64 `json:"area_centi_m2"`
	Heads       int64 `json:"heads"`
}

// VoteRoll is one household on a vote's roll (表决名册), taken when the vote
// opens: its area is the ballot's weight, its head key says which owner it
// counts as (households of one owner count as one head).
type VoteRoll struct {
	VoteID      int64 `gorm:"primaryKey;autoIncrement:false"`
	HouseholdID int64 `gorm:"primaryKey;autoIncrement:false"`
	AreaCentiM2 int64 `gorm:"not null"`
	// HeadKey is the user id of the household's first registered owner,
	// or minus the household id when no owner is registered.
	HeadKey int64 `gorm:"not null"`
}

// Ballot is one household's vote. It is only ever inserted: no code path
// changes or deletes a ballot.
type Ballot struct {
	ID          int64 `gorm:"primaryKey"`
	VoteID      int64 `gorm:"not null;uniqueIndex:ux_ballot_household,priority:1;index:ix_ballot_head,priority:1"`
	HouseholdID int64 `gorm:"not null;uniqueIndex:ux_ballot_household,priority:2"`
	UserID      int64 `gorm:"not null;index"` // the owner who cast it
	Choice      int   `gorm:"not null"`
	AreaCentiM2 int64 `gorm:"not null"`
	HeadKey     int64 `gorm:"not null;index:ix_ballot_head,priority:2"`
	// Heads is 1 on the first ballot of its head key and 0 on the others:
	// an owner of several households counts once by head.
	Heads     int       `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// UpdateVote is the compare-and-set of a vote: it writes the columns cols
// of next, with the version after version and updated_at now, if the vote
// is still at version. It returns the rows affected: 0 when another writer
// moved the vote first. next.Version and next.UpdatedAt are set.
func UpdateVote(ctx context.Context, db *gorm.DB, next *Vote, version int64, now time.Time, cols ...string) (int64, error) {
	next.Version, next.UpdatedAt = version+1, now
	return updateVersioned(ctx, db, next, next.ID, version, cols)
}

// MarkVoteNotice records how far the opening notice went: every owner up
// to user id after was told, and done says all were. The vote's version
// stays: telling owners changes nothing they see of it.
func MarkVoteNotice(ctx context.Context, db *gorm.DB, id, after int64, done bool) error {
	err := db.WithContext(ctx).Model(&Vote{}).Where("id = ?", id).
		UpdateColumns(map[string]any{"notice_after": after, "notice_done": done}).Error
	return Translate(err)
}

// TakeRoll writes the roll of a vote: every household of the compound with
// its area, and the owner it counts as by head (its first registered
// owner, or minus its own id when it has none). One statement: no
// compound passes through memory.
func TakeRoll(ctx context.Context, tx *gorm.DB, voteID, compoundID int64) error {
	err := tx.WithContext(ctx).Exec(`INSERT INTO vote_rolls (vote_id, household_id, area_centi_m2, head_key)
		SELECT ?, h.id, h.area_centi_m2,
			COALESCE((SELECT r.user_id FROM residencies r
				WHERE r.household_id = h.id AND r.relation = ? ORDER BY r.id LIMIT 1), -h.id)
		FROM households h WHERE h.compound_id = ?`, voteID, RelationOwner, compoundID).Error
	return Translate(err)
}

// RollTotals are the sums of a vote's roll.
type RollTotals struct {
	Households  int64
	AreaCentiM2 int64
	Heads       int64
}

// SumRoll sums the roll of a vote.
func SumRoll(ctx context.Context, db *gorm.DB, voteID int64) (RollTotals, error) {
	var t RollTotals
	err := db.WithContext(ctx).Raw(`SELECT COUNT(*) AS households, COALESCE(SUM(area_centi_m2), 0) AS area_centi_m2,
		COUNT(DISTINCT head_key) AS heads FROM vote_rolls WHERE vote_id = ?`, voteID).Scan(&t).Error
	return t, Translate(err)
}

// RollEntry is one household's line on a vote's roll; ErrNotFound when
// the household is not on it.
func RollEntry(ctx context.Context, db *gorm.DB, voteID, householdID int64) (VoteRoll, error) {
	var r VoteRoll
	err := db.WithContext(ctx).Where("vote_id = ? AND household_id = ?", voteID, householdID).Take(&r).Error
	return r, Translate(err)
}

// RollEntries are the lines of some households on a vote's roll.
func RollEntries(ctx context.Context, db *gorm.DB, voteID int64, householdIDs []int64) ([]VoteRoll, error) {
	var rs []VoteRoll
	err := db.WithContext(ctx).Where("vote_id = ? AND household_id IN ?", voteID, householdIDs).Find(&rs).Error
	return rs, Translate(err)
}

// PriorBallots returns up to two ballots of a vote cast for the household
// or for another household of the same head key.
func PriorBallots(ctx context.Context, db *gorm.DB, voteID, householdID, headKey int64) ([]Ballot, error) {
	var bs []Ballot
	err := db.WithContext(ctx).Where("vote_id = ? AND (household_id = ? OR head_key = ?)", voteID, householdID, headKey).
		Limit(2).Find(&bs).Error
	return bs, Translate(err)
}

// BallotsOf are the ballots of a vote cast for some households.
func BallotsOf(ctx context.Context, db *gorm.DB, voteID int64, householdIDs []int64) ([]Ballot, error) {
	var bs []Ballot
	err := db.WithContext(ctx).Where("vote_id = ? AND household_id IN ?", voteID, householdIDs).Find(&bs).Error
	return bs, Translate(err)
}

// BallotPage lists the ballots of a vote newest first, below id before
// (0: from the newest), limit of them.
func BallotPage(ctx context.Context, db *gorm.DB, voteID, before int64, limit int) ([]Ballot, error) {
	q := db.WithContext(ctx).Where("vote_id = ?", voteID)
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var bs []Ballot
	err := q.Order("id DESC").Limit(limit).Find(&bs).Error
	return bs, Translate(err)
}

// BallotSum sums the ballots of a vote so far.
func BallotSum(ctx context.Context, db *gorm.DB, voteID int64) (ChoiceTally, error) {
	var t ChoiceTally
	err := db.WithContext(ctx).Raw(`SELECT COUNT(*) AS ballots, COALESCE(SUM(area_centi_m2), 0) AS area_centi_m2,
		COALESCE(SUM(heads), 0) AS heads FROM ballots WHERE vote_id = ?`, voteID).Scan(&t).Error
	return t, Translate(err)
}

// TallyBallots sums the ballots of a vote per choice, for n choices;
// a ballot for a choice out of range is not counted.
func TallyBallots(ctx context.Context, db *gorm.DB, voteID int64, n int) ([]ChoiceTally, error) {
	var rows []struct {
		Choice int
		ChoiceTally
	}
	if err := db.WithContext(ctx).Raw(`SELECT choice, COUNT(*) AS ballots, COALESCE(SUM(area_centi_m2), 0) AS area_centi_m2,
		COALESCE(SUM(heads), 0) AS heads FROM ballots WHERE vote_id = ? GROUP BY choice`, voteID).Scan(&rows).Error; err != nil {
		return nil, Translate(err)
	}
	tally := make([]ChoiceTally, n)
	for _, r := range rows {
		if r.Choice >= 0 && r.Choice < n {
			tally[r.Choice] = r.ChoiceTally
		}
	}
	return tally, nil
}

// DueDrafts are up to limit drafts whose opening time has come, the
// earliest first (id and closing time only).
func DueDrafts(ctx context.Context, db *gorm.DB, now time.Time, limit int) ([]Vote, error) {
	var vs []Vote
	err := db.WithContext(ctx).Select("id", "closes_at").Where("state = ? AND opens_at <= ?", VoteDraft, now).
		Order("opens_at, id").Limit(limit).Find(&vs).Error
	return vs, Translate(err)
}

// UntoldVotes are up to limit open votes whose opening notice is not
// finished, by id.
func UntoldVotes(ctx context.Context, db *gorm.DB, limit int) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Vote{}).Where("state = ? AND notice_done = ?", VoteOpen, false).
		Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, Translate(err)
}

// EndingVotes are up to limit open votes whose closing time has come,
// the earliest first.
func EndingVotes(ctx context.Context, db *gorm.DB, now time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Vote{}).Where("state = ? AND closes_at <= ?", VoteOpen, now).
		Order("closes_at, id").Limit(limit).Pluck("id", &ids).Error
	return ids, Translate(err)
}

// VoteFilter picks the votes of a list. A vote is listed when any of
// Everywhere, Under (grants over whose tree node every vote shows) and
// Homes (compounds whose votes in HomeStates show) takes it, and it passes
// CompoundID and State when set.
type VoteFilter struct {
	Everywhere bool
	Under      []Grant
	Homes      []int64
	HomeStates []string
	CompoundID int64
	State      string
	Before     int64 // ids below it only; 0: from the newest
	Limit      int
}

// ListVotes lists votes newest first.
func ListVotes(ctx context.Context, db *gorm.DB, f VoteFilter) ([]Vote, error) {
	q := db.WithContext(ctx).Model(&Vote{})
	if !f.Everywhere {
		cond, args := underAny(f.Under)
		if len(f.Homes) > 0 {
			if cond != "" {
				cond += " OR "
			}
			cond += "(compound_id IN ? AND state IN ?)"
			args = append(args, f.Homes, f.HomeStates)
		}
		if cond == "" {
			return nil, nil
		}
		q = q.Where(cond, args...)
	}
	if f.CompoundID != 0 {
		q = q.Where("compound_id = ?", f.CompoundID)
	}
	if f.State != "" {
		q = q.Where("state = ?", f.State)
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	var vs []Vote
	err := q.Order("id DESC").Limit(f.Limit).Find(&vs).Error
	return vs, Translate(err)
}
