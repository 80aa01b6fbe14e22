package ranking

import (
	"context"
	"encoding/json"
	"slices"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Line is one line of a ranking with the names people read.
type Line struct {
	model.RankingLine
	FirmName     string
	CompoundName string
	Components   []Component
}

// View is one ranking version as an actor may see it: every line for the
// staff of its scope, of a published version the lines that concern the
// others (their firms', the compounds they live in or serve).
type View struct {
	Ranking   model.Ranking
	Rule      Rule
	ScopeName string
	Title     string
	Lines     []Line
	// FirmView: only the lines that concern the caller are shown (their
	// firms', their compounds').
	FirmView bool
}

// Get returns one ranking version.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	r, err := s.loadRanking(ctx, id)
	if err != nil {
		return View{}, err
	}
	vw, err := s.viewOf(a, r)
	if err != nil {
		return View{}, err
	}
	lines, err := model.RankingLines(ctx, s.db, r.ID, 0)
	if err != nil {
		return View{}, err
	}
	if !vw.staff {
		homes, err := model.ResidentCompoundIDs(ctx, s.db, a.UserID)
		if err != nil {
			return View{}, err
		}
		lines = slices.DeleteFunc(lines, func(l model.RankingLine) bool { return !s.sees(a, vw, homes, l) })
		if len(lines) == 0 && len(vw.firms) == 0 {
			return View{}, service.ErrOutOfScope
		}
	}
	v := View{Ranking: r, Rule: ruleOfRanking(r), Title: title(r), FirmView: !vw.staff}
	if v.Lines, err = s.lines(ctx, s.db, lines); err != nil {
		return View{}, err
	}
	names, err := model.NamesOf(ctx, s.db, &model.Region{}, "name", []int64{r.ScopeID})
	if err != nil {
		return View{}, err
	}
	v.ScopeName = names[r.ScopeID]
	return v, nil
}

func (s *Service) lines(ctx context.Context, db *gorm.DB, ls []model.RankingLine) ([]Line, error) {
	var firms, compounds []int64
	for _, l := range ls {
		firms, compounds = append(firms, l.FirmID), append(compounds, l.CompoundID)
	}
	names, err := model.NamesOfAll(ctx, db, model.NameSet{Table: &model.Firm{}, Col: "name", IDs: firms},
		model.NameSet{Table: &model.Compound{}, Col: "name", IDs: compounds})
	if err != nil {
		return nil, err
	}
	out := make([]Line, 0, len(ls))
	for _, l := range ls {
		line := Line{RankingLine: l, FirmName: names[0][l.FirmID], CompoundName: names[1][l.CompoundID]}
		_ = json.Unmarshal([]byte(l.Components), &line.Components)
		if line.Components == nil {
			line.Components = []Component{}
		}
		out = append(out, line)
	}
	return out, nil
}

// Filter narrows a list of rankings.
type Filter struct {
	Kind      string
	ScopeKind string
	ScopeID   int64
	Period    string
	State     string
}

// List pages the ranking versions an actor may see, newest first: those
// of the scopes of their staff grants (drafts included), or the published
// ones with a line of the firms they manage.
func (s *Service) List(ctx context.Context, a *service.Actor, f Filter, p service.Page) (service.Paged[model.Ranking], error) {
	if a == nil {
		return service.Paged[model.Ranking]{}, service.ErrUnauthenticated
	}
	if f.Kind != "" && f.Kind != kindList && f.Kind != kindStars {
		return service.Paged[model.Ranking]{}, errKind
	}
	if f.ScopeKind != "" && publisherRole(f.ScopeKind) == "" {
		return service.Paged[model.Ranking]{}, errScopeKind
	}
	switch f.State {
	case "", model.RankingDraft, model.RankingPublished, model.RankingSuperseded:
	default:
		return service.Paged[model.Ranking]{}, errState
	}
	mf := model.RankingFilter{Kind: f.Kind, ScopeKind: f.ScopeKind, ScopeID: f.ScopeID, Period: f.Period, State: f.State}
	mf.Under, mf.All = grantsOf(a, staffRoles...)
	if !mf.All && len(mf.Under) == 0 {
		firms := firmIDs(a)
		if len(firms) == 0 {
			return service.Paged[model.Ranking]{}, service.ErrForbidden
		}
		return model.RankingsOfFirms(ctx, s.db, firms, mf, p)
	}
	return model.RankingsPage(ctx, s.db, mf, p)
}
