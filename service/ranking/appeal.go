package ranking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/photo"
)

// MaxPhotos is the most photos one step of an appeal carries.
const MaxPhotos = photo.MaxAttached

var (
	errTarget       = service.Invalid("bad_target", "申诉对象只能是 entry（榜单条目）或 component（评分项）")
	errComponent    = service.Invalid("bad_component", "该评分中没有这个评分项")
	errAppealText   = service.Invalid("bad_text", "申诉理由须为 5 到 2000 个字")
	errNoteText     = service.Invalid("bad_text", "内容须为 1 到 2000 个字")
	errPhotos       = photo.ErrBadPhotos
	errPhotoGone    = photo.ErrPhotoGone
	errNotAppealer  = service.Forbidden("not_firm_manager", "只有该物业企业的经理可以对其榜单条目提出申诉")
	errEntryTarget  = service.Unprocessable("not_appealable", "只能对黑榜条目、星级结果或评分项提出申诉")
	errStarsPart    = service.Unprocessable("not_appealable", "星级评定只能对星级结果提出申诉")
	errAppealOpen   = service.Conflict("appeal_pending", "该条目已有待处理的申诉，请等待复核结果")
	errAppealDone   = service.Conflict("appeal_decided", "该申诉已有复核结论，不能再修改")
	errOutcome      = service.Invalid("bad_outcome", "复核结论只能是 upheld（维持原结果）或 corrected（予以更正）")
	errDecision     = service.Invalid("bad_decision", "请填写复核意见（2 到 2000 个字）")
	errCorrectScore = service.Invalid("bad_score", "更正后的得分须为 0 到 100 之间、最多两位小数的数字，如 82.5")
	errCorrectStars = service.Invalid("bad_stars", "更正后的星级须为 1 到 5")
	errLineGone     = service.Conflict("line_gone", "当前版本的榜单中已没有该条目，无法更正")
)

// AppealInput is a firm manager's appeal of one line.
type AppealInput struct {
	RankingID int64
	LineID    int64
	Target    string // entry | component
	Component string // the component's key, for component appeals
	Text      string
	PhotoIDs  []int64
	IdemKey   string
}

// AppealView is an appeal with its exchange and the line it is about.
type AppealView struct {
	Appeal    model.Appeal
	Line      Line
	Events    []model.AppealEvent
	Names     map[int64]string // of the people in the exchange
	Overdue   bool             // pending past its due time
	Ranking   model.Ranking
	ScopeName string
}

// Appeal files an appeal (申诉) against a black-list entry, a star grade
// or one component of a line's score, within the appeal window of the
// version in force: N working days after its publication.
func (s *Service) Appeal(ctx context.Context, a *service.Actor, in AppealInput) (AppealView, bool, error) {
	if a == nil {
		return AppealView{}, false, service.ErrUnauthenticated
	}
	if err := checkAppeal(&in); err != nil {
		return AppealView{}, false, err
	}
	if in.IdemKey != "" {
		if ap, ok, err := model.ByIdemKey[model.Appeal](ctx, s.db, "filed_by", a.UserID, in.IdemKey); err != nil || ok {
			if err != nil {
				return AppealView{}, false, err
			}
			v, err := s.GetAppeal(ctx, a, ap.ID)
			return v, false, err
		}
	}
	r, err := s.loadRanking(ctx, in.RankingID)
	if err != nil {
		return AppealView{}, false, err
	}
	if _, err := s.viewOf(a, r); err != nil {
		return AppealView{}, false, err
	}
	line, err := model.ByID[model.RankingLine](ctx, s.db, in.LineID)
	if err != nil || line.RankingID != r.ID {
		return AppealView{}, false, service.OrNotFound(orNotFound(err), errLineNotFound)
	}
	if !slices.Contains(firmIDs(a), line.FirmID) {
		return AppealView{}, false, errNotAppealer
	}
	switch r.State {
	case model.RankingDraft:
		return AppealView{}, false, errRankingNotFound
	case model.RankingSuperseded:
		return AppealView{}, false, errNotLive
	}
	if err := checkTarget(r, line, &in); err != nil {
		return AppealView{}, false, err
	}
	now := s.clock.Now().UTC()
	if r.AppealsUntil == nil || !now.Before(*r.AppealsUntil) {
		return AppealView{}, false, service.Unprocessable("appeal_window_closed", fmt.Sprintf(
			"申诉期已过：榜单于 %s 公布，须在 %d 个工作日内（%s 前）提出申诉",
			r.PublishedAt.In(calendar.Beijing).Format("2006年1月2日"), s.opt.AppealDays, deadlineWords(*r.AppealsUntil)))
	}
	if err := photo.CheckFree(ctx, s.db, a.UserID, in.PhotoIDs); err != nil {
		return AppealView{}, false, err
	}
	cal, err := s.cal.Current(ctx)
	if err != nil {
		return AppealView{}, false, err
	}
	open := fmt.Sprintf("%s:%d:%d:%s:%s", model.RankingKey(r.Kind, r.ScopeKind, r.ScopeID, r.Period),
		line.FirmID, line.CompoundID, in.Target, in.Component)
	ap := model.Appeal{RankingID: r.ID, LineID: line.ID, FirmID: line.FirmID, Target: in.Target, Component: in.Component,
		Text: in.Text, Photos: in.PhotoIDs, State: model.AppealPending, OpenKey: &open, FiledBy: a.UserID,
		DueAt: afterWorkdays(cal, now, s.opt.DecideDays), ScopeKind: r.ScopeKind, ScopeID: r.ScopeID, Period: r.Period,
		Ancestry: line.Ancestry}
	if in.IdemKey != "" {
		k := in.IdemKey
		ap.IdemKey = &k
	}
	ap.CreatedAt, ap.UpdatedAt = now, now
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.Create(ctx, tx, &ap); err != nil {
			return err
		}
		ev := model.AppealEvent{AppealID: ap.ID, Kind: model.AppealFiled, ActorID: a.UserID, Role: model.RoleFirmManager,
			Text: in.Text, Photos: in.PhotoIDs}
		ev.CreatedAt, ev.UpdatedAt = now, now
		if err := model.Create(ctx, tx, &ev); err != nil {
			return err
		}
		users, err := reviewersOf(ctx, tx, r.ScopeKind, r.ScopeID)
		if err != nil {
			return err
		}
		names, err := s.lines(ctx, tx, []model.RankingLine{line})
		if err != nil {
			return err
		}
		body := fmt.Sprintf("%s对「%s」提出申诉：%s。请于 %s 前复核。", names[0].FirmName, lineWords(r, names[0]),
			service.CutRunes(in.Text, 100), deadlineWords(ap.DueAt))
		return s.event(ctx, tx, "appeal.filed", fmt.Sprintf("appeal:%d:filed", ap.ID), users, title(r)+"收到申诉", "待复核", body,
			"pages/evaluation/appeal?id="+strconv.FormatInt(ap.ID, 10))
	})
	if errors.Is(err, model.ErrDuplicate) {
		if in.IdemKey != "" {
			if prev, ok, ferr := model.ByIdemKey[model.Appeal](ctx, s.db, "filed_by", a.UserID, in.IdemKey); ferr == nil && ok {
				v, err := s.GetAppeal(ctx, a, prev.ID)
				return v, false, err
			}
		}
		return AppealView{}, false, errAppealOpen.Wrap(err)
	}
	if err != nil {
		return AppealView{}, false, err
	}
	v, err := s.GetAppeal(ctx, a, ap.ID)
	return v, true, err
}

func checkAppeal(in *AppealInput) error {
	in.Text = strings.TrimSpace(in.Text)
	in.Component = strings.TrimSpace(in.Component)
	switch in.Target {
	case model.AppealEntry:
		in.Component = ""
	case model.AppealComponent:
		if in.Component == "" {
			return errComponent
		}
	default:
		return errTarget
	}
	if n := utf8.RuneCountInString(in.Text); n < 5 || n > 2000 {
		return errAppealText
	}
	if err := photo.CheckIDs(in.PhotoIDs, 0); err != nil {
		return err
	}
	if err := service.CheckIdemKey(in.IdemKey); err != nil {
		return err
	}
	return nil
}

// checkTarget: an entry appeal is of a black line (lists) or a star line;
// a component appeal of a component the line's score has (lists only).
func checkTarget(r model.Ranking, l model.RankingLine, in *AppealInput) error {
	if r.Kind == kindStars {
		if in.Target != model.AppealEntry || l.Placement != model.PlacementRated {
			return errStarsPart
		}
		return nil
	}
	if in.Target == model.AppealEntry {
		if l.Placement != model.PlacementBlack {
			return errEntryTarget
		}
		return nil
	}
	var cs []Component
	_ = json.Unmarshal([]byte(l.Components), &cs)
	if !slices.ContainsFunc(cs, func(c Component) bool { return c.Key == in.Component }) {
		return errComponent
	}
	return nil
}

// mayReadAppeal: the firm's managers, the staff over the ranking's scope
// and, as the list of appeals shows them, the staff over the line's place
// (a street's staff read the appeals of their street's lines of a
// district's or city's list).
func (s *Service) mayReadAppeal(a *service.Actor, ap model.Appeal, r model.Ranking) (reviewer bool, err error) {
	if a.Can(rankingTarget(r), publisherRole(r.ScopeKind)) {
		return true, nil
	}
	if a.Can(rankingTarget(r), staffRoles...) || a.Can(service.TargetOf("appeal", ap.ID, ap.Ancestry), staffRoles...) ||
		slices.Contains(firmIDs(a), ap.FirmID) {
		return false, nil
	}
	return false, service.ErrOutOfScope
}

// GetAppeal returns an appeal with its whole exchange.
func (s *Service) GetAppeal(ctx context.Context, a *service.Actor, id int64) (AppealView, error) {
	if a == nil {
		return AppealView{}, service.ErrUnauthenticated
	}
	ap, err := model.ByID[model.Appeal](ctx, s.db, id)
	if err != nil {
		return AppealView{}, service.OrNotFound(err, errAppealNotFound)
	}
	r, err := s.loadRanking(ctx, ap.RankingID)
	if err != nil {
		return AppealView{}, err
	}
	if _, err := s.mayReadAppeal(a, ap, r); err != nil {
		return AppealView{}, err
	}
	vs, err := s.appealViews(ctx, []model.Appeal{ap}, true)
	if err != nil {
		return AppealView{}, err
	}
	vs[0].Ranking = r
	names, err := model.NamesOf(ctx, s.db, &model.Region{}, "name", []int64{r.ScopeID})
	if err != nil {
		return AppealView{}, err
	}
	vs[0].ScopeName = names[r.ScopeID]
	return vs[0], nil
}

func (s *Service) appealViews(ctx context.Context, aps []model.Appeal, events bool) ([]AppealView, error) {
	now := s.clock.Now().UTC()
	lineIDs := make([]int64, 0, len(aps))
	for _, ap := range aps {
		lineIDs = append(lineIDs, ap.LineID)
	}
	rows, err := model.AllByID[model.RankingLine](ctx, s.db, lineIDs)
	if err != nil {
		return nil, err
	}
	named, err := s.lines(ctx, s.db, rows)
	if err != nil {
		return nil, err
	}
	byID := map[int64]Line{}
	for _, l := range named {
		byID[l.ID] = l
	}
	out := make([]AppealView, 0, len(aps))
	for _, ap := range aps {
		v := AppealView{Appeal: ap, Line: byID[ap.LineID], Overdue: ap.State == model.AppealPending && now.After(ap.DueAt),
			Events: []model.AppealEvent{}, Names: map[int64]string{}}
		if events {
			if v.Events, err = model.AppealEvents(ctx, s.db, ap.ID); err != nil {
				return nil, err
			}
			var ids []int64
			for _, e := range v.Events {
				ids = append(ids, e.ActorID)
			}
			if v.Names, err = model.UserNames(ctx, s.db, ids); err != nil {
				return nil, err
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// AppealFilter narrows a list of appeals.
type AppealFilter struct {
	State     string
	RankingID int64
	Overdue   bool // pending past their due time
}

// Appeals pages the appeals an actor may see, newest first: their firms'
// (firm managers), those of the scopes of their staff grants (reviewers).
func (s *Service) Appeals(ctx context.Context, a *service.Actor, f AppealFilter, p service.Page) (service.Paged[AppealView], error) {
	if a == nil {
		return service.Paged[AppealView]{}, service.ErrUnauthenticated
	}
	switch f.State {
	case "", model.AppealPending, model.AppealUpheld, model.AppealCorrected:
	default:
		return service.Paged[AppealView]{}, service.Invalid("bad_state", "状态只能是 pending、upheld 或 corrected")
	}
	mf := model.AppealFilter{State: f.State, RankingID: f.RankingID, Overdue: f.Overdue, Now: s.clock.Now().UTC(), FirmIDs: firmIDs(a)}
	mf.Under, mf.All = grantsOf(a, staffRoles...)
	if !mf.All && len(mf.Under) == 0 && len(mf.FirmIDs) == 0 {
		return service.Paged[AppealView]{}, service.ErrForbidden
	}
	page, err := model.AppealsPage(ctx, s.db, mf, p)
	if err != nil {
		return service.Paged[AppealView]{}, err
	}
	vs, err := s.appealViews(ctx, page.Items, false)
	return service.Paged[AppealView]{Items: vs, More: page.More}, err
}

// NoteInput is one more step of the exchange while the appeal is pending:
// the reviewer asking, the firm answering, with photos.
type NoteInput struct {
	Text     string
	PhotoIDs []int64
}

// Note adds to a pending appeal's exchange and tells the other side.
func (s *Service) Note(ctx context.Context, a *service.Actor, id int64, in NoteInput) (AppealView, error) {
	if a == nil {
		return AppealView{}, service.ErrUnauthenticated
	}
	in.Text = strings.TrimSpace(in.Text)
	if n := utf8.RuneCountInString(in.Text); n < 1 || n > 2000 {
		return AppealView{}, errNoteText
	}
	if err := photo.CheckIDs(in.PhotoIDs, 0); err != nil {
		return AppealView{}, err
	}
	ap, err := model.ByID[model.Appeal](ctx, s.db, id)
	if err != nil {
		return AppealView{}, service.OrNotFound(err, errAppealNotFound)
	}
	r, err := s.loadRanking(ctx, ap.RankingID)
	if err != nil {
		return AppealView{}, err
	}
	reviewer, err := s.mayReadAppeal(a, ap, r)
	if err != nil {
		return AppealView{}, err
	}
	manager := slices.Contains(firmIDs(a), ap.FirmID)
	if !reviewer && !manager {
		return AppealView{}, errNotPublisher
	}
	if ap.State != model.AppealPending {
		return AppealView{}, errAppealDone
	}
	if err := photo.CheckFree(ctx, s.db, a.UserID, in.PhotoIDs); err != nil {
		return AppealView{}, err
	}
	now := s.clock.Now().UTC()
	role := model.RoleFirmManager
	if reviewer {
		role = publisherRole(r.ScopeKind)
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// The appeal is locked so that a note and the decision keep order.
		cur, err := model.LockByID[model.Appeal](ctx, tx, ap.ID)
		if err != nil {
			return err
		}
		if cur.State != model.AppealPending {
			return errAppealDone
		}
		ev := model.AppealEvent{AppealID: ap.ID, Kind: model.AppealNote, ActorID: a.UserID, Role: role, Text: in.Text, Photos: in.PhotoIDs}
		ev.CreatedAt, ev.UpdatedAt = now, now
		if err := model.Create(ctx, tx, &ev); err != nil {
			return err
		}
		var users []int64
		if reviewer {
			users, err = managersOf(ctx, tx, ap.FirmID)
		} else {
			users, err = reviewersOf(ctx, tx, r.ScopeKind, r.ScopeID)
		}
		if err != nil {
			return err
		}
		return s.event(ctx, tx, "appeal.note", fmt.Sprintf("appeal:%d:note:%d", ap.ID, ev.ID), users, "申诉有新的回复", "待复核",
			service.CutRunes(in.Text, 200), "pages/evaluation/appeal?id="+strconv.FormatInt(ap.ID, 10))
	})
	if err != nil {
		return AppealView{}, err
	}
	return s.GetAppeal(ctx, a, ap.ID)
}

// DecideInput is the reviewer's decision. A corrected component gives the
// line's corrected score (e.g. "82.50"); a corrected star line its stars;
// a corrected black entry is taken off the black list.
type DecideInput struct {
	Outcome string // upheld | corrected
	Text    string
	Score   string
	Stars   int
}

// Decide closes a pending appeal. Upheld keeps the result; corrected
// publishes a new version of the ranking in force with the line
// corrected, superseding it (both kept), in the same transaction. The
// firm's managers are told; the whole exchange stays readable.
func (s *Service) Decide(ctx context.Context, a *service.Actor, id int64, in DecideInput) (AppealView, error) {
	if a == nil {
		return AppealView{}, service.ErrUnauthenticated
	}
	in.Text = strings.TrimSpace(in.Text)
	if in.Outcome != model.AppealUpheld && in.Outcome != model.AppealCorrected {
		return AppealView{}, errOutcome
	}
	if n := utf8.RuneCountInString(in.Text); n < 2 || n > 2000 {
		return AppealView{}, errDecision
	}
	ap, err := model.ByID[model.Appeal](ctx, s.db, id)
	if err != nil {
		return AppealView{}, service.OrNotFound(err, errAppealNotFound)
	}
	r, err := s.loadRanking(ctx, ap.RankingID)
	if err != nil {
		return AppealView{}, err
	}
	if err := mayPublish(a, r); err != nil {
		if _, rerr := s.mayReadAppeal(a, ap, r); rerr != nil {
			return AppealView{}, rerr
		}
		return AppealView{}, errNotPublisher
	}
	var centi int64 = -1
	if in.Outcome == model.AppealCorrected {
		switch {
		case r.Kind == kindStars:
			if in.Stars < 1 || in.Stars > 5 {
				return AppealView{}, errCorrectStars
			}
		case ap.Target == model.AppealComponent:
			if centi, err = parseScore(in.Score); err != nil {
				return AppealView{}, err
			}
		}
	}
	if ap.State != model.AppealPending {
		return AppealView{}, errAppealDone
	}
	cal, err := s.cal.Current(ctx)
	if err != nil {
		return AppealView{}, err
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		cur, err := model.LockByID[model.Appeal](ctx, tx, ap.ID)
		if err != nil {
			return err
		}
		if cur.State != model.AppealPending {
			return errAppealDone
		}
		upd := map[string]any{"state": in.Outcome, "decided_by": a.UserID, "decided_at": now, "decision": in.Text, "updated_at": now}
		if in.Outcome == model.AppealCorrected {
			corr, err := s.correct(ctx, tx, a, r, ap, in, centi, cal, now)
			if err != nil {
				return err
			}
			upd["correction_id"] = corr.ID
			if centi >= 0 {
				upd["corrected_centi"] = centi
			}
			upd["corrected_stars"] = in.Stars
		}
		if n, err := model.DecideAppeal(ctx, tx, ap.ID, upd); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return errAppealDone
		}
		ev := model.AppealEvent{AppealID: ap.ID, Kind: model.AppealDecided, ActorID: a.UserID, Role: publisherRole(r.ScopeKind), Text: in.Text}
		ev.CreatedAt, ev.UpdatedAt = now, now
		if err := model.Create(ctx, tx, &ev); err != nil {
			return err
		}
		users, err := managersOf(ctx, tx, ap.FirmID)
		if err != nil {
			return err
		}
		state, body := "维持原结果", "经复核，维持原结果："+in.Text
		if in.Outcome == model.AppealCorrected {
			state, body = "予以更正", "经复核，予以更正，已发布更正后的榜单："+in.Text
		}
		return s.event(ctx, tx, "appeal.decided", fmt.Sprintf("appeal:%d:decided", ap.ID), users, "您的申诉已有复核结论", state,
			service.CutRunes(body, 300), "pages/evaluation/appeal?id="+strconv.FormatInt(ap.ID, 10))
	})
	if errors.Is(err, model.ErrDuplicate) {
		// Another version was written at the same moment.
		return AppealView{}, errBaseMoved.Wrap(err)
	}
	if err != nil {
		return AppealView{}, err
	}
	return s.GetAppeal(ctx, a, ap.ID)
}

// correct publishes the version after the one in force with the appealed
// line corrected.
func (s *Service) correct(ctx context.Context, tx *gorm.DB, a *service.Actor, r model.Ranking, ap model.Appeal, in DecideInput,
	centi int64, cal Workdays, now time.Time) (model.Ranking, error) {
	live, err := model.LiveRanking(ctx, tx, r.Kind, r.ScopeKind, r.ScopeID, r.Period)
	if err != nil {
		return live, service.OrNotFound(err, errLineGone)
	}
	old, err := model.ByID[model.RankingLine](ctx, tx, ap.LineID)
	if err != nil {
		return live, err
	}
	lines, err := model.RankingLines(ctx, tx, live.ID, 0)
	if err != nil {
		return live, err
	}
	i := slices.IndexFunc(lines, func(l model.RankingLine) bool { return l.FirmID == old.FirmID && l.CompoundID == old.CompoundID })
	if i < 0 {
		return live, errLineGone
	}
	l := &lines[i]
	why := fmt.Sprintf("申诉 #%d 更正：%s", ap.ID, service.CutRunes(in.Text, 400))
	switch {
	case r.Kind == kindStars:
		l.Stars, l.Reason = in.Stars, why
	case ap.Target == model.AppealEntry:
		// Off the black list; the others keep their places.
		l.Placement, l.Reason, l.RemovedBy, l.RemovedAt = model.PlacementRemoved, why, a.UserID, &now
	default:
		if l.CorrectedFrom == 0 {
			l.CorrectedFrom = l.ScoreCenti
		}
		l.ScoreCenti, l.Reason = centi, why
		if l.Placement == model.PlacementExcluded {
			l.Placement = model.PlacementNone
		}
		place(ruleOfRanking(live), lines)
	}
	next := model.Ranking{Kind: live.Kind, ScopeKind: live.ScopeKind, ScopeID: live.ScopeID, Period: live.Period,
		Version: 0, State: model.RankingDraft, Supersedes: live.ID, Reason: why, AppealID: ap.ID,
		FormulaVersion: live.FormulaVersion, Rule: live.Rule, CreatedBy: a.UserID, Ancestry: live.Ancestry}
	latest, err := model.LatestRanking(ctx, tx, live.Kind, live.ScopeKind, live.ScopeID, live.Period)
	if err != nil {
		return live, err
	}
	next.Version = latest.Version + 1
	next.CreatedAt, next.UpdatedAt = now, now
	if err := model.Create(ctx, tx, &next); err != nil {
		return live, err
	}
	if err := s.writeLines(ctx, tx, next.ID, lines, now); err != nil {
		return live, err
	}
	return next, s.publish(ctx, tx, next, a.UserID, now, afterWorkdays(cal, now, s.opt.AppealDays))
}

// parseScore reads a score of 0–100 with at most two decimals as × 100.
func parseScore(s string) (int64, error) {
	s = strings.TrimSpace(s)
	r, ok := new(big.Rat).SetString(s)
	if !ok || s == "" || strings.ContainsAny(s, "eE/") {
		return 0, errCorrectScore
	}
	if whole, frac, found := strings.Cut(s, "."); found && (len(frac) > 2 || whole == "") {
		return 0, errCorrectScore
	}
	r.Mul(r, big.NewRat(100, 1))
	if !r.IsInt() || r.Sign() < 0 || r.Cmp(big.NewRat(10000, 1)) > 0 {
		return 0, errCorrectScore
	}
	return r.Num().Int64(), nil
}

var errPhotoNotFound = service.NotFound("photo_not_found", "照片不存在")

// Photo returns one photo of an appeal's exchange to whoever may read the
// appeal. Anything else is 404: photo ids are sequential and must not be
// probed.
func (s *Service) Photo(ctx context.Context, a *service.Actor, appealID, photoID int64) (model.Photo, io.ReadCloser, error) {
	if a == nil {
		return model.Photo{}, nil, service.ErrUnauthenticated
	}
	v, err := s.GetAppeal(ctx, a, appealID)
	if err != nil {
		return model.Photo{}, nil, err
	}
	found := slices.Contains(v.Appeal.Photos, photoID)
	for _, e := range v.Events {
		found = found || slices.Contains(e.Photos, photoID)
	}
	if !found || s.opt.Photos == nil {
		return model.Photo{}, nil, errPhotoNotFound
	}
	p, err := model.ByID[model.Photo](ctx, s.db, photoID)
	if err != nil {
		return model.Photo{}, nil, service.OrNotFound(err, errPhotoNotFound)
	}
	rc, err := s.opt.Photos.Open(ctx, p.Key)
	if err != nil {
		return model.Photo{}, nil, fmt.Errorf("appeal %d photo %d: %w", appealID, p.ID, err)
	}
	return p, rc, nil
}
