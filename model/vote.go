package model

import "time"

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
