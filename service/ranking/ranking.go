// Package ranking publishes the evaluation's results: the 红黑榜 of a
// quarter and the 星级 of a year per scope (street, district, city),
// drafted from the firm score cards by the formula's rule, reviewed and
// published by the staff of that level, immutable once published (a
// correction is a new version superseding the old, both kept); appeals
// (申诉) of firm managers within working-day windows, decided by the
// publishing level and kept whole; and the consequence of two black
// quarters in a row, flagged for the street (谈话提醒) and the compound's
// committee, who may draft an owners' vote from it (退出程序). It must not
// import gin, net/http or api/.
package ranking

import (
	"context"
	"io"
	"log/slog"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/vote"
)

// Scores is what rankings need of the score cards: the firm × compound
// scores of a closed quarter within a scope, with their formula's rule.
type Scores interface {
	QuarterScores(ctx context.Context, period string, scope Scope) (ScoreSet, error)
}

// Messages writes inbox messages and their pushes inside the caller's
// transaction; *message.Service implements it.
type Messages interface {
	Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error
}

// Calendar is the working calendar in force; *calendar.Service
// implements it.
type Calendar interface {
	Current(ctx context.Context) (*calendar.Calendar, error)
}

// Votes drafts owners' votes; *vote.Service implements it.
type Votes interface {
	Create(ctx context.Context, a *service.Actor, in vote.CreateInput) (vote.View, bool, error)
}

// Notices posts a published result to the residents of compounds, inside
// the publication's transaction.
type Notices interface {
	PostToCompounds(ctx context.Context, tx *gorm.DB, n Notice) error
}

// Notice is what the residents of the compounds concerned are told.
type Notice struct {
	Key         string // unique per publication
	Title, Body string
	CompoundIDs []int64
	RankingID   int64
	LineID      int64          // the line the notice tells of: the subject households receive
	Publisher   string         // the scope's name, e.g. 文昌路街道
	Ancestry    model.Ancestry // the ranking's scope
}

// Options tune the service; zero values take the defaults.
type Options struct {
	AppealDays int // working days to appeal after publication (5)
	DecideDays int // working days to decide an appeal (10)
	// Rule applies where the formula states none (DefaultRule).
	Rule *Rule
	// Notices posts to residents; nil delivers to their inboxes through
	// Messages (InboxNotices).
	Notices Notices
	// Photos opens the stored bytes of appeal photos; photo.Storage
	// implements it. Nil serves none.
	Photos PhotoStore
	Log    *slog.Logger
}

// PhotoStore reads stored photo bytes.
type PhotoStore interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Service is the ranking capability.
type Service struct {
	db      *gorm.DB
	clock   service.Clock
	scores  Scores
	msgs    Messages
	cal     Calendar
	votes   Votes
	notices Notices
	opt     Options
	log     *slog.Logger
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, scores Scores, msgs Messages, cal Calendar, votes Votes, opt Options) *Service {
	model.OrDefault(&opt.AppealDays, 5)
	model.OrDefault(&opt.DecideDays, 10)
	if opt.Rule == nil {
		r := DefaultRule()
		opt.Rule = &r
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, clock: clock, scores: scores, msgs: msgs, cal: cal, votes: votes, notices: opt.Notices, opt: opt, log: log}
	if s.notices == nil {
		s.notices = InboxNotices{Msgs: msgs, DB: db}
	}
	return s
}

// Kinds of ranking, as the API names them.
const (
	kindList  = model.RankingList
	kindStars = model.RankingStars
)

var (
	errRankingNotFound = service.NotFound("ranking_not_found", "榜单不存在")
	errLineNotFound    = service.NotFound("line_not_found", "榜单条目不存在")
	errAppealNotFound  = service.NotFound("appeal_not_found", "申诉不存在")
	errFlagNotFound    = service.NotFound("flag_not_found", "提醒不存在")
	errScopeNotFound   = service.NotFound("scope_not_found", "发布范围不存在：请指定街道、区或市")
	errKind            = service.Invalid("bad_kind", "榜单类型只能是 list（红黑榜）或 stars（星级评定）")
	errScopeKind       = service.Invalid("bad_scope", "发布范围只能是 street、district 或 city")
	errQuarter         = service.Invalid("bad_period", "红黑榜的考核期须为季度，如 2026Q3")
	errYear            = service.Invalid("bad_period", "星级评定的考核期须为年度，如 2026")
	errState           = service.Invalid("bad_state", "状态只能是 draft、published 或 superseded")
	errPeriodOpen      = service.Unprocessable("period_not_closed", "考核期尚未结束，不能生成榜单")
	errNoScores        = service.Unprocessable("no_scores", "该考核期在此范围内还没有评分，请先计算评分")
	errDraftExists     = service.Conflict("draft_exists", "该榜单已有一份待发布的草稿，请先发布或放弃它")
	errNotDraft        = service.Conflict("ranking_published", "榜单已发布，不能修改或重复发布；如需更正，请生成新版本")
	errNotLive         = service.Conflict("ranking_superseded", "该版本已被更新的版本取代，请在最新版本上操作")
	errBaseMoved       = service.Conflict("ranking_changed", "草稿所依据的版本已被更正，请放弃草稿后重新生成")
	errNotPublished    = service.Conflict("ranking_not_published", "只能对已发布的榜单生成更正版本")
	errNotOnList       = service.Conflict("line_not_listed", "该条目不在红榜、黑榜或星级名单上，无需移除")
	errReason          = service.Invalid("bad_reason", "请填写理由（2 到 500 个字）")
	errNotPublisher    = service.Forbidden("not_publisher", "只有该级（街道、区或市）的工作人员可以审核、发布榜单和处理申诉")
)
