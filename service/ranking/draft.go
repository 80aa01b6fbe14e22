package ranking

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// DraftInput asks for a draft: a list of a quarter or the stars of a
// year, for one street, district or city.
type DraftInput struct {
	Kind      string
	ScopeKind string
	ScopeID   int64
	Period    string
}

// Draft computes a draft from the scores by the formula's rule. When a
// version is already published, the draft is the next version and will
// supersede it (a recomputation). One draft at a time per (kind, scope,
// period).
func (s *Service) Draft(ctx context.Context, a *service.Actor, in DraftInput) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	region, err := s.checkDraft(ctx, in)
	if err != nil {
		return View{}, err
	}
	r := model.Ranking{Kind: in.Kind, ScopeKind: in.ScopeKind, ScopeID: in.ScopeID, Period: in.Period,
		State: model.RankingDraft, CreatedBy: a.UserID, Ancestry: scopeAncestry(region)}
	if err := mayPublish(a, r); err != nil {
		return View{}, err
	}
	now := s.clock.Now().UTC()
	if now.Before(periodEnd(in.Kind, in.Period)) {
		return View{}, errPeriodOpen
	}
	scope := Scope{Kind: in.ScopeKind, ID: in.ScopeID}
	var lines []model.RankingLine
	var rule Rule
	if in.Kind == kindList {
		set, err := s.scores.QuarterScores(ctx, in.Period, scope)
		if err != nil {
			return View{}, err
		}
		if len(set.Rows) == 0 {
			return View{}, errNoScores
		}
		rule = s.ruleOf(set)
		r.FormulaVersion = set.FormulaVersion
		lines = listLines(rule, set.Rows)
	} else {
		year, _ := parseYear(in.Period)
		var sets []ScoreSet
		for q := 1; q <= 4; q++ {
			set, err := s.scores.QuarterScores(ctx, quarter(year, q), scope)
			if err != nil {
				return View{}, err
			}
			if len(set.Rows) > 0 {
				sets = append(sets, set)
			}
		}
		if len(sets) == 0 {
			return View{}, errNoScores
		}
		last := sets[len(sets)-1]
		rule, r.FormulaVersion = s.ruleOf(last), last.FormulaVersion
		lines = starLines(rule, sets)
		for i := range lines {
			lines[i].Ancestry = r.Ancestry
		}
	}
	r.Rule = rule.json()
	if err := s.createVersion(ctx, &r, lines, now, ""); err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, r.ID)
}

// ruleOf is the rule a score set's formula states, or the default.
func (s *Service) ruleOf(set ScoreSet) Rule {
	if set.Rule.Mode == "" || set.Rule.Valid() != "" {
		return *s.opt.Rule
	}
	return set.Rule
}

func (s *Service) checkDraft(ctx context.Context, in DraftInput) (model.Region, error) {
	switch in.Kind {
	case kindList:
		if _, _, ok := parseQuarter(in.Period); !ok {
			return model.Region{}, errQuarter
		}
	case kindStars:
		if _, ok := parseYear(in.Period); !ok {
			return model.Region{}, errYear
		}
	default:
		return model.Region{}, errKind
	}
	if publisherRole(in.ScopeKind) == "" {
		return model.Region{}, errScopeKind
	}
	region, err := model.ByID[model.Region](ctx, s.db, in.ScopeID)
	if err != nil || region.Level != in.ScopeKind {
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return region, err
		}
		return region, errScopeNotFound
	}
	return region, nil
}

// scopeAncestry is the ancestry of a region with the region itself in it.
func scopeAncestry(r model.Region) model.Ancestry {
	anc := r.Ancestry
	switch r.Level {
	case model.LevelCity:
		anc.CityID = r.ID
	case model.LevelDistrict:
		anc.DistrictID = r.ID
	case model.LevelStreet:
		anc.StreetID = r.ID
	}
	return anc
}

// createVersion writes a new draft version of r's (kind, scope, period)
// with its lines: the version after the latest, superseding the one in
// force. With reason it is a revision.
func (s *Service) createVersion(ctx context.Context, r *model.Ranking, lines []model.RankingLine, now time.Time, reason string) error {
	key := model.RankingKey(r.Kind, r.ScopeKind, r.ScopeID, r.Period)
	r.DraftKey, r.Reason = &key, reason
	r.CreatedAt, r.UpdatedAt = now, now
	// Two drafts at once meet on the draft key: one wins, the other is
	// told a draft exists (a deadlock victim tries again first).
	err := model.InTxRetry(ctx, s.db, 3, func(tx *gorm.DB) error {
		latest, err := model.LatestRanking(ctx, tx, r.Kind, r.ScopeKind, r.ScopeID, r.Period)
		switch {
		case errors.Is(err, model.ErrNotFound):
			r.Version = 1
		case err != nil:
			return err
		case latest.State == model.RankingDraft:
			return errDraftExists.WithDetail(map[string]any{"ranking_id": latest.ID})
		default:
			r.Version = latest.Version + 1
		}
		live, err := model.LiveRanking(ctx, tx, r.Kind, r.ScopeKind, r.ScopeID, r.Period)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return err
		}
		r.Supersedes = live.ID
		if err := model.Create(ctx, tx, r); err != nil {
			return err
		}
		return s.writeLines(ctx, tx, r.ID, lines, now)
	})
	if errors.Is(err, model.ErrDuplicate) {
		return errDraftExists.Wrap(err)
	}
	return err
}

func (s *Service) writeLines(ctx context.Context, tx *gorm.DB, rankingID int64, lines []model.RankingLine, now time.Time) error {
	if len(lines) == 0 {
		return nil
	}
	for i := range lines {
		lines[i].ID, lines[i].RankingID = 0, rankingID
		lines[i].CreatedAt, lines[i].UpdatedAt = now, now
	}
	return model.CreateInBatches(ctx, tx, &lines, 200)
}

// Revise starts a correction of the version in force by hand: a new
// draft copying its lines, with the reason for it, to be edited and
// published in its place.
func (s *Service) Revise(ctx context.Context, a *service.Actor, id int64, reason string) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	reason, err := checkReason(reason)
	if err != nil {
		return View{}, err
	}
	old, err := s.loadRanking(ctx, id)
	if err != nil {
		return View{}, err
	}
	if err := mayPublish(a, old); err != nil {
		return View{}, err
	}
	switch old.State {
	case model.RankingDraft:
		return View{}, errNotPublished
	case model.RankingSuperseded:
		return View{}, errNotLive
	}
	lines, err := model.RankingLines(ctx, s.db, old.ID, 0)
	if err != nil {
		return View{}, err
	}
	r := model.Ranking{Kind: old.Kind, ScopeKind: old.ScopeKind, ScopeID: old.ScopeID, Period: old.Period,
		State: model.RankingDraft, FormulaVersion: old.FormulaVersion, Rule: old.Rule, CreatedBy: a.UserID, Ancestry: old.Ancestry}
	if err := s.createVersion(ctx, &r, lines, s.clock.Now().UTC(), reason); err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, r.ID)
}

func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n < 2 || n > 500 {
		return "", errReason
	}
	return reason, nil
}

// RemoveLine takes a line of a draft off its list with a written reason.
// The line stays in the ranking, marked removed; the others keep their
// places.
func (s *Service) RemoveLine(ctx context.Context, a *service.Actor, rankingID, lineID int64, reason string) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	reason, err := checkReason(reason)
	if err != nil {
		return View{}, err
	}
	r, err := s.loadRanking(ctx, rankingID)
	if err != nil {
		return View{}, err
	}
	if err := mayPublish(a, r); err != nil {
		return View{}, err
	}
	if r.State != model.RankingDraft {
		return View{}, errNotDraft
	}
	line, err := model.ByID[model.RankingLine](ctx, s.db, lineID)
	if err != nil || line.RankingID != r.ID {
		return View{}, service.OrNotFound(orNotFound(err), errLineNotFound)
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// The draft is locked first: a publication that came first has
		// made it immutable, one that comes later waits for this removal.
		cur, err := model.LockByID[model.Ranking](ctx, tx, r.ID)
		if err != nil {
			return err
		}
		if cur.State != model.RankingDraft {
			return errNotDraft
		}
		n, err := model.RemoveLine(ctx, tx, line.ID, a.UserID, reason, now)
		if err == nil && n == 0 {
			return errNotOnList
		}
		return err
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, r.ID)
}

// orNotFound turns a nil error (a row of another parent) into not found.
func orNotFound(err error) error {
	if err == nil {
		return model.ErrNotFound
	}
	return err
}

// Discard deletes a draft that will not be published.
func (s *Service) Discard(ctx context.Context, a *service.Actor, id int64) error {
	if a == nil {
		return service.ErrUnauthenticated
	}
	r, err := s.loadRanking(ctx, id)
	if err != nil {
		return err
	}
	if err := mayPublish(a, r); err != nil {
		return err
	}
	return model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		n, err := model.DeleteDraft(ctx, tx, r.ID)
		if err == nil && n == 0 {
			return errNotDraft
		}
		return err
	})
}

// Publish makes a draft the version in force: immutable from then on.
// The version it supersedes is kept, marked superseded. The firms'
// managers are told their results, the residents of the compounds on
// either list get a notice, and the black list of two quarters in a row
// raises flags.
func (s *Service) Publish(ctx context.Context, a *service.Actor, id int64) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	r, err := s.loadRanking(ctx, id)
	if err != nil {
		return View{}, err
	}
	if err := mayPublish(a, r); err != nil {
		return View{}, err
	}
	if r.State != model.RankingDraft {
		return View{}, errNotDraft
	}
	cal, err := s.cal.Current(ctx)
	if err != nil {
		return View{}, err
	}
	now := s.clock.Now().UTC()
	until := afterWorkdays(cal, now, s.opt.AppealDays)
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		return s.publish(ctx, tx, r, a.UserID, now, until)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, r.ID)
}

// publish runs a publication inside tx: the compare-and-set, the flags
// and the notices.
func (s *Service) publish(ctx context.Context, tx *gorm.DB, r model.Ranking, by int64, now, until time.Time) error {
	n, err := model.PublishRanking(ctx, tx, r, by, now, until)
	if err != nil {
		return err
	}
	if n == 0 {
		fresh, err := model.ByID[model.Ranking](ctx, tx, r.ID)
		if err == nil && fresh.State == model.RankingDraft {
			return errBaseMoved
		}
		return errNotDraft
	}
	r.State, r.PublishedAt, r.AppealsUntil, r.PublishedBy = model.RankingPublished, &now, &until, by
	lines, err := model.RankingLines(ctx, tx, r.ID, 0)
	if err != nil {
		return err
	}
	var prev []model.RankingLine
	if r.Supersedes != 0 {
		if prev, err = model.RankingLines(ctx, tx, r.Supersedes, 0); err != nil {
			return err
		}
	}
	if r.Kind == kindList {
		if err := s.syncFlags(ctx, tx, r, now); err != nil {
			return err
		}
	}
	return s.notifyPublished(ctx, tx, r, lines, prev, now)
}

// ruleOfRanking reads the rule a ranking applied.
func ruleOfRanking(r model.Ranking) Rule {
	var rule Rule
	if json.Unmarshal([]byte(r.Rule), &rule) != nil || rule.Valid() != "" {
		return DefaultRule()
	}
	return rule
}

func title(r model.Ranking) string {
	if r.Kind == kindStars {
		return fmt.Sprintf("%s物业服务星级评定", periodName(r.Period))
	}
	return fmt.Sprintf("%s物业服务红黑榜", periodName(r.Period))
}
