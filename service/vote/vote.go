// Package vote runs owners' votes (业主表决) under 民法典 art. 278: one
// ballot per household weighted by its area, participation and majorities
// counted by area and by head, in integers. The committee of a compound
// (or, where it has none, the community: 支代业/物管会) creates a vote; the
// scheduler opens it, tells every owner, and closes it, freezing the
// result. It must not import gin, net/http or api/.
package vote

import (
	"context"
	"encoding/json"
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
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, msgs Messages) *Service {
	return &Service{db: db, clock: clock, msgs: msgs}
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

// Roles that see a vote of their scope with its running participation:
// the committee and party branch of the compound, and the staff of the
// tree above it.
var managerRoles = []string{
	model.RoleCommittee, model.RolePartyBranch, model.RoleCommunityStaff,
	model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff, model.RolePlatformAdmin,
}

var (
	errVoteNotFound   = service.NotFound("vote_not_found", "表决不存在")
	errCompound       = service.NotFound("compound_not_found", "小区不存在")
	errQuestion       = service.Invalid("bad_question", "表决事项须为 1 到 200 个字")
	errDetail         = service.Invalid("bad_detail", "说明不能超过 2000 个字")
	errMatter         = service.Invalid("bad_matter", "表决事项类别只能是 ordinary、change_firm、fund_use、fund_raise、rebuild 或 common_use")
	errChoices        = service.Invalid("bad_choices", "选项须为 2 到 10 个互不相同的选项，每项 1 到 50 个字；不填则为同意/反对/弃权")
	errTimes          = service.Invalid("bad_times", "请填写开始和截止时间：截止须晚于开始至少 1 小时、晚于现在，且在一年以内")
	errIdemKey        = service.Invalid("bad_idempotency_key", "Idempotency-Key 须为 1 到 64 个可见 ASCII 字符")
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
		if v, ok, err := s.byIdemKey(ctx, a.UserID, in.IdemKey); err != nil || ok {
			if err != nil {
				return View{}, false, err
			}
			view, err := s.Get(ctx, a, v.ID)
			return view, false, err
		}
	}
	var c model.Compound
	if err := model.Translate(s.db.WithContext(ctx).Take(&c, in.CompoundID).Error); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return View{}, false, errCompound
		}
		return View{}, false, err
	}
	c.CompoundID = c.ID
	role, err := s.organiserRole(ctx, c.ID)
	if err != nil {
		return View{}, false, err
	}
	if !a.Can(service.TargetOf(model.ScopeCompound, c.ID, c.Ancestry), role) {
		return View{}, false, organiserError(role)
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&model.Household{}).Where("compound_id = ?", c.ID).Limit(1).Count(&n).Error; err != nil {
		return View{}, false, err
	}
	if n == 0 {
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
	err = model.Translate(s.db.WithContext(ctx).Create(&v).Error)
	if errors.Is(err, model.ErrDuplicate) && in.IdemKey != "" {
		// A concurrent double submit with the same key: the other one won.
		if prev, ok, ferr := s.byIdemKey(ctx, a.UserID, in.IdemKey); ferr == nil && ok {
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
	if in.IdemKey != "" {
		if len(in.IdemKey) > 64 {
			return false, errIdemKey
		}
		for _, r := range in.IdemKey {
			if r < 0x21 || r > 0x7e {
				return false, errIdemKey
			}
		}
	}
	return yesNo, nil
}

func (s *Service) byIdemKey(ctx context.Context, userID int64, key string) (model.Vote, bool, error) {
	var v model.Vote
	err := model.Translate(s.db.WithContext(ctx).Where("created_by = ? AND idem_key = ?", userID, key).Take(&v).Error)
	if errors.Is(err, model.ErrNotFound) {
		return v, false, nil
	}
	return v, err == nil, err
}

// organiserRole is who runs the votes of a compound: its committee, or
// the community's staff where it has none (支代业/物管会).
func (s *Service) organiserRole(ctx context.Context, compoundID int64) (string, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&model.Committee{}).Where("compound_id = ?", compoundID).Count(&n).Error; err != nil {
		return "", err
	}
	if n > 0 {
		return model.RoleCommittee, nil
	}
	return model.RoleCommunityStaff, nil
}

func organiserError(role string) error {
	if role == model.RoleCommittee {
		return errCommitteeOnly
	}
	return errCommunityOnly
}

func target(v model.Vote) service.Target {
	return service.TargetOf(model.ScopeCompound, v.CompoundID, v.Ancestry)
}

// take reads a vote, optionally locking its row.
func take(ctx context.Context, db *gorm.DB, id int64, lock bool) (model.Vote, error) {
	q := db.WithContext(ctx)
	if lock {
		q = model.ForUpdate(q)
	}
	var v model.Vote
	err := model.Translate(q.Where("id = ?", id).Take(&v).Error)
	if errors.Is(err, model.ErrNotFound) {
		return v, errVoteNotFound
	}
	return v, err
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
		slog.ErrorContext(ctx, "vote notice deferred to the scheduler", "vote_id", id, "err", err)
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
		return tx.Model(&model.Vote{}).Where("id = ? AND version = ?", v.ID, v.Version).Updates(map[string]any{
			"state": model.VoteCancelled, "cancelled_by": a.UserID, "version": v.Version + 1,
			"updated_at": s.clock.Now().UTC(),
		}).Error
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// mayOrganise checks that the actor holds the vote's organiser role over
// its compound; others in scope get 403, the rest 403 out of scope.
func (s *Service) mayOrganise(ctx context.Context, a *service.Actor, v model.Vote) error {
	if a.Can(target(v), v.OrganiserRole) {
		return nil
	}
	if _, err := s.access(ctx, a, v); err != nil {
		return err
	}
	return organiserError(v.OrganiserRole)
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
			return tx.Model(&model.Vote{}).Where("id = ?", v.ID).Updates(map[string]any{
				"state": model.VoteCancelled, "version": v.Version + 1, "updated_at": now,
			}).Error
		}
		// The roll: every household of the compound with its area, and the
		// owner it counts as by head (its first registered owner). Taken in
		// one statement, nothing passes through memory.
		err = tx.Exec(`INSERT INTO vote_rolls (vote_id, household_id, area_centi_m2, head_key)
			SELECT ?, h.id, h.area_centi_m2,
				COALESCE((SELECT r.user_id FROM residencies r
					WHERE r.household_id = h.id AND r.relation = ? ORDER BY r.id LIMIT 1), -h.id)
			FROM households h WHERE h.compound_id = ?`, v.ID, model.RelationOwner, v.CompoundID).Error
		if err != nil {
			return fmt.Errorf("take the roll of vote %d: %w", v.ID, err)
		}
		var tot struct {
			N     int64
			Area  int64
			Heads int64
		}
		if err := tx.Raw(`SELECT COUNT(*) AS n, COALESCE(SUM(area_centi_m2), 0) AS area, COUNT(DISTINCT head_key) AS heads
			FROM vote_rolls WHERE vote_id = ?`, v.ID).Scan(&tot).Error; err != nil {
			return err
		}
		set := map[string]any{
			"state": model.VoteOpen, "opened_at": now, "total_area_centi_m2": tot.Area, "total_heads": tot.Heads,
			"total_households": tot.N, "notice_after": 0, "notice_done": false,
			"version": v.Version + 1, "updated_at": now,
		}
		if force && v.OpensAt.After(now) {
			set["opens_at"] = now
		}
		if err := tx.Model(&model.Vote{}).Where("id = ?", v.ID).Updates(set).Error; err != nil {
			return err
		}
		opened = true
		return nil
	})
	return opened, err
}

// sendNotices tells the owners of an open vote's compound, batch by batch
// (each its own transaction), streaming owner ids by keyset so that no
// compound is ever held in memory at once. It goes on where an earlier
// call stopped and returns how many owners it told.
func (s *Service) sendNotices(ctx context.Context, id int64) (int, error) {
	told := 0
	for {
		n, done, err := s.noticeBatch(ctx, id)
		told += n
		if err != nil || done {
			return told, err
		}
	}
}

func (s *Service) noticeBatch(ctx context.Context, id int64) (int, bool, error) {
	n, done := 0, false
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		v, err := take(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if v.State != model.VoteOpen || v.NoticeDone {
			done = true
			return nil
		}
		var ids []int64
		if err := tx.Raw(`SELECT DISTINCT user_id FROM residencies
			WHERE compound_id = ? AND relation = ? AND user_id > ? ORDER BY user_id LIMIT ?`,
			v.CompoundID, model.RelationOwner, v.NoticeAfter, noticeBatch).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := s.msgs.Publish(ctx, tx, s.openedEvent(ctx, tx, v, ids)); err != nil {
				return err
			}
		}
		n, done = len(ids), len(ids) < noticeBatch
		set := map[string]any{"notice_done": done}
		if len(ids) > 0 {
			set["notice_after"] = ids[len(ids)-1]
		}
		return tx.Model(&model.Vote{}).Where("id = ?", v.ID).Updates(set).Error
	})
	return n, done, err
}

var cst = time.FixedZone("CST", 8*3600)

func (s *Service) openedEvent(ctx context.Context, tx *gorm.DB, v model.Vote, users []int64) message.Event {
	var compound string
	tx.WithContext(ctx).Model(&model.Compound{}).Where("id = ?", v.CompoundID).Pluck("name", &compound)
	id := fmt.Sprint(v.ID)
	return message.Event{
		Kind: message.KindMeeting, Event: "vote.opened", Key: "vote:" + id + ":opened", UserIDs: users,
		Title: "业主表决：" + v.Question,
		Body: fmt.Sprintf("%s业主表决已开始，%s 截止。每户一票，按房屋面积和业主人数分别计算，请业主及时投票。",
			compound, v.ClosesAt.In(cst).Format("1月2日 15:04")),
		Fields: map[string]string{
			message.FieldMeetingTitle: v.Question,
			message.FieldMeetingTime:  v.OpensAt.Format(time.RFC3339) + "~" + v.ClosesAt.Format(time.RFC3339),
			message.FieldMeetingPlace: "小程序线上表决",
			message.FieldTitle:        "业主表决已开始",
			"vote_id":                 id,
		},
		Page: "pages/vote/detail?id=" + id,
	}
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
		tally, err := countBallots(ctx, tx, v)
		if err != nil {
			return err
		}
		counts := make([]Count, len(tally))
		var ballots int64
		var voted Count
		for i, t := range tally {
			counts[i] = Count{AreaCentiM2: t.AreaCentiM2, Heads: t.Heads}
			ballots += t.Ballots
			voted.AreaCentiM2 += t.AreaCentiM2
			voted.Heads += t.Heads
		}
		outcome, winner := Decide(NeedsThreeQuarters(&v), v.YesNo,
			Count{AreaCentiM2: v.TotalAreaCentiM2, Heads: v.TotalHeads}, counts)
		var w *int
		if winner >= 0 {
			w = &winner
		}
		raw, err := json.Marshal(tally)
		if err != nil {
			return err
		}
		err = tx.Model(&model.Vote{}).Where("id = ?", v.ID).Updates(map[string]any{
			"state": model.VoteClosed, "closed_at": now, "ballots": ballots,
			"voted_area_centi_m2": voted.AreaCentiM2, "voted_heads": voted.Heads,
			"tally": string(raw), "outcome": outcome, "winner": w, "version": v.Version + 1, "updated_at": now,
		}).Error
		closed = err == nil
		return err
	})
	return closed, err
}

// countBallots sums the ballots of a vote per choice.
func countBallots(ctx context.Context, tx *gorm.DB, v model.Vote) ([]model.ChoiceTally, error) {
	var rows []struct {
		Choice  int
		Ballots int64
		Area    int64
		Heads   int64
	}
	if err := tx.WithContext(ctx).Raw(`SELECT choice, COUNT(*) AS ballots, COALESCE(SUM(area_centi_m2), 0) AS area,
		COALESCE(SUM(heads), 0) AS heads FROM ballots WHERE vote_id = ? GROUP BY choice`, v.ID).Scan(&rows).Error; err != nil {
		return nil, err
	}
	tally := make([]model.ChoiceTally, len(v.Choices))
	for _, r := range rows {
		if r.Choice >= 0 && r.Choice < len(tally) {
			tally[r.Choice] = model.ChoiceTally{Ballots: r.Ballots, AreaCentiM2: r.Area, Heads: r.Heads}
		}
	}
	return tally, nil
}
