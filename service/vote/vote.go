// Package vote runs owners' votes (业主表决) under 民法典 art. 278: one
// ballot per household weighted by its area, participation and majorities
// counted by area and by head, in integers. The committee of a compound
// (or, where it has none, the community: 支代业/物管会) creates a vote; the
// scheduler opens it, tells every owner, and closes it, freezing the
// result. It must not import gin, net/http or api/.
package vote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// Messages is what votes need of the messages capability: the opening
// notice, written inside the vote's own transaction. *message.Service
// implements it.
type Messages interface {
	Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error
}

// Service is the owners' vote capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	msgs  Messages
	log   *slog.Logger
}

// Options tune the service; the zero value is ready to use.
type Options struct {
	// Log receives the scheduler's passes and the notices deferred to it;
	// nil discards them.
	Log *slog.Logger
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, msgs Messages, opt Options) *Service {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, clock: clock, msgs: msgs, log: log}
}

// YesNoChoices are the choices of a vote that gives none: 同意, 反对, 弃权.
// Only the first can carry the vote.
func YesNoChoices() []string { return []string{"同意", "反对", "弃权"} }

// Limits of what a vote holds.
const (
	MaxChoices     = 10
	maxChoiceRunes = 50
	maxQuestion    = 200
	maxDetail      = 2000
	minDuration    = time.Hour
	maxAhead       = 366 * 24 * time.Hour
	noticeBatch    = 500 // owners per Publish call
)

var (
	errVoteNotFound   = service.NotFound("vote_not_found", "表决不存在")
	errCompound       = service.NotFound("compound_not_found", "小区不存在")
	errQuestion       = service.Invalid("bad_question", "表决事项须为 1 到 200 个字")
	errDetail         = service.Invalid("bad_detail", "说明不能超过 2000 个字")
	errMatter         = service.Invalid("bad_matter", "表决事项类别只能是 ordinary、change_firm、fund_use、fund_raise、rebuild 或 common_use")
	errChoices        = service.Invalid("bad_choices", "选项须为 2 到 10 个互不相同的选项，每项 1 到 50 个字；不填则为同意/反对/弃权")
	errTimes          = service.Invalid("bad_times", "请填写开始和截止时间：截止须晚于开始至少 1 小时、晚于现在，且在一年以内")
	errNoHouseholds   = service.Unprocessable("no_households", "该小区还没有录入房屋，无法发起表决")
	errCommitteeOnly  = service.Forbidden("not_organiser", "只有本小区业委会成员可以发起和管理表决")
	errCommunityOnly  = service.Forbidden("not_organiser", "本小区尚无业委会，由所在社区的工作人员发起和管理表决")
	errNotOpenable    = service.Conflict("vote_not_draft", "只有尚未开始的表决可以开始或取消")
	errClosesPassed   = service.Unprocessable("vote_expired", "截止时间已过，不能再开始这次表决")
	errNotOpen        = service.Conflict("vote_not_open", "表决尚未开始，暂不能投票")
	errClosed         = service.Conflict("vote_closed", "表决已结束，选票已封存，不能再投票")
	errAlreadyVoted   = service.Conflict("already_voted", "该户已投票。选票一经提交不可更改，也不能重复投票")
	errNotOwner       = service.Forbidden("not_owner", "只有该房屋的业主可以投票")
	errNotOnRoll      = service.Unprocessable("not_on_roll", "该房屋不在本次表决的业主名册中（表决开始后录入的房屋不参加本次表决）")
	errBadChoice      = service.Invalid("bad_choice", "请选择一个有效的选项")
	errBadHousehold   = service.Invalid("bad_household", "请指明投票的房屋")
	errSecretBallot   = service.Forbidden("secret_ballot", "本次表决不记名，不公开每户的选择")
	errBallotsPending = service.Unprocessable("vote_not_closed", "表决结束后才公开每户的选择")
	errBadState       = service.Invalid("bad_state", "状态只能是 draft、open、closed 或 cancelled")
	errVoteChanged    = service.Conflict("vote_changed", "表决状态已变化，请刷新后再试")
)

// CreateInput is a new vote.
type CreateInput struct {
	CompoundID int64
	Question   string
	Detail     string
	Matter     string   // a model.Matter*; empty means ordinary
	Choices    []string // empty: 同意/反对/弃权
	OpenBallot bool
	// Special asks 3/4 for a matter the law lets pass by majority (the
	// compound's rules may ask more); statutory special matters need 3/4
	// whatever it says.
	Special  bool
	OpensAt  time.Time
	ClosesAt time.Time
	IdemKey  string // the Idempotency-Key header
}

// Create makes a draft vote. It returns created=false, and the first vote,
// when the actor already created one with the same Idempotency-Key.
func (s *Service) Create(ctx context.Context, a *service.Actor, in CreateInput) (View, bool, error) {
	if a == nil {
		return View{}, false, service.ErrUnauthenticated
	}
	now := s.clock.Now().UTC()
	yesNo, err := checkCreate(&in, now)
	if err != nil {
		return View{}, false, err
	}
	if in.IdemKey != "" {
		if v, ok, err := model.ByIdemKey[model.Vote](ctx, s.db, "created_by", a.UserID, in.IdemKey); err != nil || ok {
			if err != nil {
				return View{}, false, err
			}
			view, err := s.Get(ctx, a, v.ID)
			return view, false, err
		}
	}
	c, err := s.compound(ctx, in.CompoundID)
	if err != nil {
		return View{}, false, err
	}
	role, err := s.organiserRole(ctx, c.ID)
	if err != nil {
		return View{}, false, err
	}
	if !a.Can(service.TargetOf(model.ScopeCompound, c.ID, c.Ancestry), role) {
		return View{}, false, organiserError(role)
	}
	if has, err := model.HasHouseholds(ctx, s.db, c.ID); err != nil || !has {
		if err != nil {
			return View{}, false, err
		}
		return View{}, false, errNoHouseholds
	}
	v := model.Vote{
		Question: in.Question, Detail: in.Detail, Matter: in.Matter, Choices: in.Choices, YesNo: yesNo,
		OpenBallot: in.OpenBallot, Strict: in.Special && !Special(in.Matter), State: model.VoteDraft, OpensAt: in.OpensAt.UTC(), ClosesAt: in.ClosesAt.UTC(),
		OrganiserRole: role, CreatedBy: a.UserID, Version: 1, Ancestry: c.Ancestry,
	}
	v.GridID, v.BuildingID = 0, 0
	v.CreatedAt, v.UpdatedAt = now, now
	if in.IdemKey != "" {
		k := in.IdemKey
		v.IdemKey = &k
	}
	err = model.Create(ctx, s.db, &v)
	if errors.Is(err, model.ErrDuplicate) && in.IdemKey != "" {
		// A concurrent double submit with the same key: the other one won.
		if prev, ok, ferr := model.ByIdemKey[model.Vote](ctx, s.db, "created_by", a.UserID, in.IdemKey); ferr == nil && ok {
			view, err := s.Get(ctx, a, prev.ID)
			return view, false, err
		}
	}
	if err != nil {
		return View{}, false, err
	}
	view, err := s.Get(ctx, a, v.ID)
	return view, true, err
}

func checkCreate(in *CreateInput, now time.Time) (bool, error) {
	in.Question = strings.TrimSpace(in.Question)
	in.Detail = strings.TrimSpace(in.Detail)
	if in.CompoundID <= 0 {
		return false, errCompound
	}
	if n := utf8.RuneCountInString(in.Question); n == 0 || n > maxQuestion {
		return false, errQuestion
	}
	if utf8.RuneCountInString(in.Detail) > maxDetail {
		return false, errDetail
	}
	if in.Matter == "" {
		in.Matter = model.MatterOrdinary
	}
	if !slices.Contains(Matters(), in.Matter) {
		return false, errMatter
	}
	yesNo := len(in.Choices) == 0
	if yesNo {
		in.Choices = YesNoChoices()
	} else {
		if len(in.Choices) < 2 || len(in.Choices) > MaxChoices {
			return false, errChoices
		}
		cs := make([]string, len(in.Choices))
		for i, c := range in.Choices {
			c = strings.TrimSpace(c)
			if n := utf8.RuneCountInString(c); n == 0 || n > maxChoiceRunes || slices.Contains(cs[:i], c) {
				return false, errChoices
			}
			cs[i] = c
		}
		in.Choices = cs
	}
	if in.OpensAt.IsZero() || in.ClosesAt.IsZero() || in.ClosesAt.Sub(in.OpensAt) < minDuration ||
		!in.ClosesAt.After(now) || in.ClosesAt.Sub(now) > maxAhead {
		return false, errTimes
	}
	if err := service.CheckIdemKey(in.IdemKey); err != nil {
		return false, err
	}
	return yesNo, nil
}

// compound reads a compound with its own id in its ancestry, as a scope
// check wants it.
func (s *Service) compound(ctx context.Context, id int64) (model.Compound, error) {
	c, err := model.ByID[model.Compound](ctx, s.db, id)
	if errors.Is(err, model.ErrNotFound) {
		return c, errCompound
	}
	c.CompoundID = c.ID
	return c, err
}

// take reads a vote, locking its row when db is a transaction that must
// hold it.
func take(ctx context.Context, db *gorm.DB, id int64, lock bool) (model.Vote, error) {
	read := model.ByID[model.Vote]
	if lock {
		read = model.LockByID[model.Vote]
	}
	v, err := read(ctx, db, id)
	return v, service.OrNotFound(err, errVoteNotFound)
}

// update writes the columns cols of next if the vote is still at prev's
// version. Every move takes the vote's row lock first, so a lost race
// means a writer that did not: it answers 409 rather than overwrite.
func update(ctx context.Context, tx *gorm.DB, prev model.Vote, next *model.Vote, now time.Time, cols ...string) error {
	n, err := model.UpdateVote(ctx, tx, next, prev.Version, now, cols...)
	if err != nil {
		return err
	}
	if n == 0 {
		return errVoteChanged
	}
	return nil
}

// Open opens a draft vote now, ahead of its opening time, and tells every
// owner. Only its organisers may.
func (s *Service) Open(ctx context.Context, a *service.Actor, id int64) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	v, err := take(ctx, s.db, id, false)
	if err != nil {
		return View{}, err
	}
	if err := s.mayOrganise(ctx, a, v); err != nil {
		return View{}, err
	}
	if _, err := s.open(ctx, id, true); err != nil {
		return View{}, err
	}
	// The vote is open whatever happens to its notice: a failure here
	// leaves the owners not yet told to the scheduler's next pass.
	if _, err := s.sendNotices(ctx, id); err != nil {
		s.log.ErrorContext(ctx, "vote notice deferred to the scheduler", "vote_id", id, "err", err)
	}
	return s.Get(ctx, a, id)
}

// Cancel calls off a vote that has not opened.
func (s *Service) Cancel(ctx context.Context, a *service.Actor, id int64) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	v, err := take(ctx, s.db, id, false)
	if err != nil {
		return View{}, err
	}
	if err := s.mayOrganise(ctx, a, v); err != nil {
		return View{}, err
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		v, err := take(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if v.State != model.VoteDraft {
			return errNotOpenable.WithDetail(map[string]any{"state": v.State})
		}
		next := v
		next.State, next.CancelledBy = model.VoteCancelled, a.UserID
		return update(ctx, tx, v, &next, s.clock.Now().UTC(), "state", "cancelled_by")
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// open opens a draft: it takes the roll of the compound's households and
// its totals. force opens ahead of the opening time (an organiser's
// request) and reports a wrong state; the scheduler's call skips quietly
// what someone else did, and cancels a draft whose closing time passed
// before it could open. It reports whether the vote opened.
func (s *Service) open(ctx context.Context, id int64, force bool) (bool, error) {
	now := s.clock.Now().UTC()
	opened := false
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		v, err := take(ctx, tx, id, true)
		if err != nil {
			return err
		}
		switch {
		case v.State != model.VoteDraft && force:
			return errNotOpenable.WithDetail(map[string]any{"state": v.State})
		case v.State != model.VoteDraft, !force && v.OpensAt.After(now):
			return nil
		case !v.ClosesAt.After(now) && force:
			return errClosesPassed
		case !v.ClosesAt.After(now):
			next := v
			next.State = model.VoteCancelled
			return update(ctx, tx, v, &next, now, "state")
		}
		if err := model.TakeRoll(ctx, tx, v.ID, v.CompoundID); err != nil {
			return fmt.Errorf("take the roll of vote %d: %w", v.ID, err)
		}
		tot, err := model.SumRoll(ctx, tx, v.ID)
		if err != nil {
			return err
		}
		next := v
		next.State, next.OpenedAt = model.VoteOpen, &now
		next.TotalAreaCentiM2, next.TotalHeads, next.TotalHouseholds = tot.AreaCentiM2, tot.Heads, tot.Households
		next.NoticeAfter, next.NoticeDone = 0, false
		cols := []string{"state", "opened_at", "total_area_centi_m2", "total_heads", "total_households", "notice_after", "notice_done"}
		if force && v.OpensAt.After(now) {
			next.OpensAt = now
			cols = append(cols, "opens_at")
		}
		if err := update(ctx, tx, v, &next, now, cols...); err != nil {
			return err
		}
		opened = true
		return nil
	})
	return opened, err
}

// close freezes the result of an open vote whose closing time has come.
// Ballots are cast under the vote's row lock, so none slips in after the
// count.
func (s *Service) close(ctx context.Context, id int64) (bool, error) {
	now := s.clock.Now().UTC()
	closed := false
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		v, err := take(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if v.State != model.VoteOpen || v.ClosesAt.After(now) {
			return nil
		}
		tally, err := model.TallyBallots(ctx, tx, v.ID, len(v.Choices))
		if err != nil {
			return err
		}
		counts := make([]Count, len(tally))
		next := v
		next.Ballots, next.VotedAreaCentiM2, next.VotedHeads = 0, 0, 0
		for i, t := range tally {
			counts[i] = Count{AreaCentiM2: t.AreaCentiM2, Heads: t.Heads}
			next.Ballots += t.Ballots
			next.VotedAreaCentiM2 += t.AreaCentiM2
			next.VotedHeads += t.Heads
		}
		outcome, winner := Decide(NeedsThreeQuarters(&v), v.YesNo,
			Count{AreaCentiM2: v.TotalAreaCentiM2, Heads: v.TotalHeads}, counts)
		next.State, next.ClosedAt, next.Tally, next.Outcome, next.Winner = model.VoteClosed, &now, tally, outcome, nil
		if winner >= 0 {
			next.Winner = &winner
		}
		if err := update(ctx, tx, v, &next, now, "state", "closed_at", "ballots", "voted_area_centi_m2",
			"voted_heads", "tally", "outcome", "winner"); err != nil {
			return err
		}
		closed = true
		return nil
	})
	return closed, err
}
