package ranking

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/vote"
)

var (
	errFlagState    = service.Invalid("bad_state", "状态只能是 open、talked 或 withdrawn")
	errFlagClosed   = service.Conflict("flag_withdrawn", "该提醒已因榜单更正而撤销")
	errFlagTalked   = service.Conflict("flag_talked", "已记录过谈话提醒")
	errFlagVoted    = service.Conflict("flag_vote_drafted", "已根据该提醒起草过表决")
	errNotStreet    = service.Forbidden("not_street_staff", "只有所在街道的工作人员可以记录谈话提醒")
	errNote         = service.Invalid("bad_note", "请填写谈话情况（2 到 500 个字）")
	errFlagNoAccess = service.Forbidden("out_of_scope", "该提醒不在您的管辖范围内")
)

func flagTarget(f model.RankingFlag) service.Target {
	return service.TargetOf(model.ScopeCompound, f.CompoundID, f.Ancestry)
}

// syncFlags brings the flags of r's scope up to date after a list of
// quarter P was published: those of P (black in P-1 and P) and of P+1
// (black in P and P+1), so that a correction of either quarter raises or
// withdraws them.
func (s *Service) syncFlags(ctx context.Context, tx *gorm.DB, r model.Ranking, now time.Time) error {
	if err := s.syncFlagsOf(ctx, tx, r, prevQuarter(r.Period), r.Period, now); err != nil {
		return err
	}
	return s.syncFlagsOf(ctx, tx, r, r.Period, nextQuarter(r.Period), now)
}

func (s *Service) blackOf(ctx context.Context, tx *gorm.DB, r model.Ranking, period string) (model.Ranking, map[lineKey]model.RankingLine, error) {
	live, err := model.LiveRanking(ctx, tx, kindList, r.ScopeKind, r.ScopeID, period)
	if errors.Is(err, model.ErrNotFound) {
		return live, nil, nil
	}
	if err != nil {
		return live, nil, err
	}
	lines, err := model.BlackLinesOf(ctx, tx, live.ID)
	if err != nil {
		return live, nil, err
	}
	out := map[lineKey]model.RankingLine{}
	for _, l := range lines {
		out[lineKey{l.FirmID, l.CompoundID}] = l
	}
	return live, out, nil
}

func (s *Service) syncFlagsOf(ctx context.Context, tx *gorm.DB, r model.Ranking, prevP, period string, now time.Time) error {
	prevR, prev, err := s.blackOf(ctx, tx, r, prevP)
	if err != nil {
		return err
	}
	curR, cur, err := s.blackOf(ctx, tx, r, period)
	if err != nil {
		return err
	}
	existing, err := model.FlagsOfPeriod(ctx, tx, r.ScopeKind, r.ScopeID, period)
	if err != nil {
		return err
	}
	have := map[lineKey]model.RankingFlag{}
	for _, f := range existing {
		k := lineKey{f.FirmID, f.CompoundID}
		have[k] = f
		_, still := cur[k]
		if _, before := prev[k]; still && before {
			if f.State == model.FlagWithdrawn {
				if _, err := model.SetFlagState(ctx, tx, f.ID, model.FlagWithdrawn, map[string]any{
					"state": model.FlagOpen, "ranking_id": curR.ID, "prev_id": prevR.ID, "updated_at": now}); err != nil {
					return err
				}
				if err := s.notifyFlag(ctx, tx, f, curR); err != nil {
					return err
				}
			}
			continue
		}
		if f.State != model.FlagWithdrawn {
			if _, err := model.SetFlagState(ctx, tx, f.ID, f.State, map[string]any{"state": model.FlagWithdrawn, "updated_at": now}); err != nil {
				return err
			}
		}
	}
	// In line order, so that the same lists give the same flags.
	keys := slices.SortedFunc(maps.Keys(cur), func(a, b lineKey) int { return cmp.Compare(cur[a].ID, cur[b].ID) })
	for _, k := range keys {
		l := cur[k]
		if _, before := prev[k]; !before {
			continue
		}
		if _, ok := have[k]; ok {
			continue
		}
		f := model.RankingFlag{FirmID: k.firm, CompoundID: k.compound, ScopeKind: r.ScopeKind, ScopeID: r.ScopeID,
			Period: period, PrevPeriod: prevP, RankingID: curR.ID, PrevID: prevR.ID, State: model.FlagOpen, Ancestry: l.Ancestry}
		f.CreatedAt, f.UpdatedAt = now, now
		if err := model.Create(ctx, tx, &f); err != nil {
			return err
		}
		if err := s.notifyFlag(ctx, tx, f, curR); err != nil {
			return err
		}
	}
	return nil
}

// notifyFlag tells the street's staff and the compound's committee.
func (s *Service) notifyFlag(ctx context.Context, tx *gorm.DB, f model.RankingFlag, r model.Ranking) error {
	users, err := model.HolderIDs(ctx, tx,
		model.Seat{Role: model.RoleStreetStaff, ScopeKind: model.ScopeStreet, ScopeID: f.StreetID},
		model.Seat{Role: model.RoleCommittee, ScopeKind: model.ScopeCompound, ScopeID: f.CompoundID})
	if err != nil {
		return err
	}
	names, err := model.NamesOfAll(ctx, tx, model.NameSet{Table: &model.Firm{}, Col: "name", IDs: []int64{f.FirmID}},
		model.NameSet{Table: &model.Compound{}, Col: "name", IDs: []int64{f.CompoundID}})
	if err != nil {
		return err
	}
	head := "物业企业连续两个季度列入黑榜"
	body := fmt.Sprintf("%s在%s连续两个季度（%s、%s）列入黑榜。街道请约谈提醒；业委会可依法启动退出程序（由业主共同决定）。",
		names[0][f.FirmID], names[1][f.CompoundID], periodName(f.PrevPeriod), periodName(f.Period))
	key := fmt.Sprintf("ranking-flag:%d:%d", f.ID, r.ID)
	return s.event(ctx, tx, "ranking.flagged", key, users, head, "连续黑榜", body, "pages/evaluation/flag?id="+strconv.FormatInt(f.ID, 10))
}

// FlagView is a flag with the names people read.
type FlagView struct {
	Flag         model.RankingFlag
	FirmName     string
	CompoundName string
}

func (s *Service) flagViews(ctx context.Context, fs []model.RankingFlag) ([]FlagView, error) {
	var firms, compounds []int64
	for _, f := range fs {
		firms, compounds = append(firms, f.FirmID), append(compounds, f.CompoundID)
	}
	names, err := model.NamesOfAll(ctx, s.db, model.NameSet{Table: &model.Firm{}, Col: "name", IDs: firms},
		model.NameSet{Table: &model.Compound{}, Col: "name", IDs: compounds})
	if err != nil {
		return nil, err
	}
	out := make([]FlagView, 0, len(fs))
	for _, f := range fs {
		out = append(out, FlagView{Flag: f, FirmName: names[0][f.FirmID], CompoundName: names[1][f.CompoundID]})
	}
	return out, nil
}

// mayReadFlag: the street and above over its compound, its committee,
// the firm's managers.
func (s *Service) mayReadFlag(a *service.Actor, f model.RankingFlag) error {
	if a.Can(flagTarget(f), flagRoles...) {
		return nil
	}
	for _, id := range firmIDs(a) {
		if id == f.FirmID {
			return nil
		}
	}
	return errFlagNoAccess
}

func (s *Service) loadFlag(ctx context.Context, a *service.Actor, id int64) (model.RankingFlag, error) {
	f, err := model.ByID[model.RankingFlag](ctx, s.db, id)
	if err != nil {
		return f, service.OrNotFound(err, errFlagNotFound)
	}
	return f, s.mayReadFlag(a, f)
}

// GetFlag returns one flag.
func (s *Service) GetFlag(ctx context.Context, a *service.Actor, id int64) (FlagView, error) {
	if a == nil {
		return FlagView{}, service.ErrUnauthenticated
	}
	f, err := s.loadFlag(ctx, a, id)
	if err != nil {
		return FlagView{}, err
	}
	vs, err := s.flagViews(ctx, []model.RankingFlag{f})
	if err != nil {
		return FlagView{}, err
	}
	return vs[0], nil
}

// Flags pages the flags an actor may see, newest first: of the scopes of
// their street-and-above and committee grants, or of the firms they
// manage.
func (s *Service) Flags(ctx context.Context, a *service.Actor, state string, p service.Page) (service.Paged[FlagView], error) {
	if a == nil {
		return service.Paged[FlagView]{}, service.ErrUnauthenticated
	}
	switch state {
	case "", model.FlagOpen, model.FlagTalked, model.FlagWithdrawn:
	default:
		return service.Paged[FlagView]{}, errFlagState
	}
	f := model.FlagFilter{State: state}
	f.Under, f.All = grantsOf(a, flagRoles...)
	if !f.All && len(f.Under) == 0 {
		firms := firmIDs(a)
		if len(firms) == 0 {
			return service.Paged[FlagView]{}, service.ErrForbidden
		}
		f.FirmIDs = firms
	}
	page, err := model.FlagsPage(ctx, s.db, f, p)
	if err != nil {
		return service.Paged[FlagView]{}, err
	}
	vs, err := s.flagViews(ctx, page.Items)
	return service.Paged[FlagView]{Items: vs, More: page.More}, err
}

// Talk records the street's talk with the firm (谈话提醒).
func (s *Service) Talk(ctx context.Context, a *service.Actor, id int64, note string) (FlagView, error) {
	if a == nil {
		return FlagView{}, service.ErrUnauthenticated
	}
	note = strings.TrimSpace(note)
	if n := utf8.RuneCountInString(note); n < 2 || n > 500 {
		return FlagView{}, errNote
	}
	f, err := s.loadFlag(ctx, a, id)
	if err != nil {
		return FlagView{}, err
	}
	if !a.Can(flagTarget(f), model.RoleStreetStaff) {
		return FlagView{}, errNotStreet
	}
	switch f.State {
	case model.FlagWithdrawn:
		return FlagView{}, errFlagClosed
	case model.FlagTalked:
		return FlagView{}, errFlagTalked
	}
	now := s.clock.Now().UTC()
	n, err := model.SetFlagState(ctx, s.db, f.ID, model.FlagOpen, map[string]any{
		"state": model.FlagTalked, "talked_by": a.UserID, "talked_at": now, "talk_note": note, "updated_at": now})
	if err != nil {
		return FlagView{}, err
	}
	if n == 0 {
		return FlagView{}, errFlagTalked
	}
	return s.GetFlag(ctx, a, id)
}

// VoteInput is the owners' vote drafted from a flag.
type VoteInput struct {
	OpensAt, ClosesAt time.Time
}

// DraftVote drafts, through the vote capability and with its rules (the
// compound's committee, or the community where it has none), an owners'
// vote on dismissing the firm (解聘物业服务企业, a special matter): the
// exit procedure is the owners' decision. The draft is the committee's to
// edit, open or cancel; one per flag.
func (s *Service) DraftVote(ctx context.Context, a *service.Actor, id int64, in VoteInput) (vote.View, FlagView, error) {
	if a == nil {
		return vote.View{}, FlagView{}, service.ErrUnauthenticated
	}
	f, err := s.loadFlag(ctx, a, id)
	if err != nil {
		return vote.View{}, FlagView{}, err
	}
	if f.State == model.FlagWithdrawn {
		return vote.View{}, FlagView{}, errFlagClosed
	}
	if f.VoteID != 0 {
		return vote.View{}, FlagView{}, errFlagVoted.WithDetail(map[string]any{"vote_id": f.VoteID})
	}
	vs, err := s.flagViews(ctx, []model.RankingFlag{f})
	if err != nil {
		return vote.View{}, FlagView{}, err
	}
	fv := vs[0]
	v, _, err := s.votes.Create(ctx, a, vote.CreateInput{
		CompoundID: f.CompoundID, Matter: model.MatterChangeFirm,
		Question: fmt.Sprintf("是否启动解聘%s的程序", fv.FirmName),
		Detail: fmt.Sprintf("%s在%s连续两个季度（%s、%s）列入物业服务黑榜。根据《民法典》第二百七十八条，解聘物业服务企业由业主共同决定。",
			fv.FirmName, fv.CompoundName, periodName(f.PrevPeriod), periodName(f.Period)),
		OpensAt: in.OpensAt, ClosesAt: in.ClosesAt, IdemKey: "ranking-flag-" + strconv.FormatInt(f.ID, 10),
	})
	if err != nil {
		return vote.View{}, FlagView{}, err
	}
	n, err := model.SetFlagVote(ctx, s.db, f.ID, v.Vote.ID, s.clock.Now().UTC())
	if err != nil {
		return vote.View{}, FlagView{}, err
	}
	if n == 0 {
		fresh, _ := model.ByID[model.RankingFlag](ctx, s.db, f.ID)
		if fresh.VoteID != v.Vote.ID {
			return vote.View{}, FlagView{}, errFlagVoted.WithDetail(map[string]any{"vote_id": fresh.VoteID})
		}
	}
	fv.Flag.VoteID = v.Vote.ID
	return v, fv, nil
}
