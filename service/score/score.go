// Package score computes and explains the evaluation's figures (考核): a
// firm's quarterly score card per compound, rolled up per street and city,
// and a grid worker's monthly score, each from stored facts only, under a
// versioned formula (计分公式) whose every component keeps its numerator
// and denominator and can list the orders behind it. Scores are computed
// by a job for a closed period, idempotently.
// It must not import gin, net/http or api/.
package score

import (
	"context"
	"log/slog"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Options tune the service.
type Options struct {
	// Log receives the job's reports; nil discards them.
	Log *slog.Logger
}

// Service is the evaluation capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	log   *slog.Logger
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, opts Options) *Service {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, clock: clock, log: log}
}

// View is a score row with its components and names for display.
type View struct {
	model.Score
	Components []model.ScoreComponent
	FirmName   string
	UserName   string
	ScopeName  string
}

// Query selects the scores of one period: Kind and Period are required;
// FormulaVersion 0 means the version of the period's newest run.
type Query struct {
	Kind           string
	Period         string
	FormulaVersion int
	ScopeKind      string // compound, street, city (firms), grid (grid workers); "" for all
	// ScopeID narrows to rows under that node of the tree (a street, a
	// community …) of kind UnderKind.
	UnderKind string
	UnderID   int64
	FirmID    int64
	UserID    int64
}

var (
	errKind       = service.Invalid("bad_score_kind", "考核类型只能是 firm（物业企业）或 grid_worker（网格员）")
	errScopeKind  = service.Invalid("bad_score_scope", "考核范围只能是 compound、street、city 或 grid")
	errUnderKind  = service.Invalid("bad_score_under", "筛选范围只能是 city、district、street、community 或 compound")
	errNotScored  = service.NotFound("period_not_scored", "该考核周期尚未计算")
	errNoFormula  = service.NotFound("formula_not_found", "计分公式版本不存在")
	errScoreGone  = service.NotFound("score_not_found", "考核结果不存在")
	errScoreAuth  = service.Forbidden("score_forbidden", "您无权查看该考核结果")
	errRunForbid  = service.Forbidden("score_run_forbidden", "只有平台管理员、市级或街道工作人员可以计算考核")
	errFormForbid = service.Forbidden("formula_forbidden", "只有平台管理员或市级工作人员可以新增计分公式")
)

func checkKind(kind string) error {
	if kind != model.ScoreKindFirm && kind != model.ScoreKindGridWorker {
		return errKind
	}
	return nil
}

// formulaOf resolves q's formula: the version asked for, or that of the
// period's newest run.
func (s *Service) formulaOf(ctx context.Context, kind, period string, version int) (model.ScoreFormula, error) {
	if version > 0 {
		f, err := model.FormulaVersion(ctx, s.db, kind, version)
		return f, service.OrNotFound(err, errNoFormula)
	}
	run, found, err := model.LatestScoreRun(ctx, s.db, kind, period)
	if err != nil {
		return model.ScoreFormula{}, err
	}
	if !found {
		return model.ScoreFormula{}, errNotScored
	}
	f, err := model.ByID[model.ScoreFormula](ctx, s.db, run.FormulaID)
	return f, service.OrNotFound(err, errNoFormula)
}

// modelQuery turns q into the storage layer's query, after checking it.
func (s *Service) modelQuery(ctx context.Context, q Query) (model.ScoreQuery, model.ScoreFormula, error) {
	if err := checkKind(q.Kind); err != nil {
		return model.ScoreQuery{}, model.ScoreFormula{}, err
	}
	if _, err := ParsePeriod(q.Kind, q.Period); err != nil {
		return model.ScoreQuery{}, model.ScoreFormula{}, err
	}
	switch q.ScopeKind {
	case "", model.ScopeCompound, model.ScopeStreet, model.ScopeCity, model.ScopeGrid:
	default:
		return model.ScoreQuery{}, model.ScoreFormula{}, errScopeKind
	}
	f, err := s.formulaOf(ctx, q.Kind, q.Period, q.FormulaVersion)
	if err != nil {
		return model.ScoreQuery{}, model.ScoreFormula{}, err
	}
	mq := model.ScoreQuery{Kind: q.Kind, Period: q.Period, FormulaID: f.ID, ScopeKind: q.ScopeKind,
		FirmID: q.FirmID, UserID: q.UserID}
	if q.UnderKind != "" || q.UnderID != 0 {
		if model.AncestryColumn(q.UnderKind) == "" || q.UnderKind == model.ScopeGrid || q.UnderKind == model.ScopeBuilding {
			return mq, f, errUnderKind
		}
		mq.Within = &model.Place{Kind: q.UnderKind, ID: q.UnderID}
	}
	return mq, f, nil
}

// PeriodScores returns every score row q selects, with the formula they
// were computed with, without checking an actor: for the capabilities
// that draw lists and stars from the scores and check their own access.
func (s *Service) PeriodScores(ctx context.Context, q Query) ([]model.Score, model.ScoreFormula, error) {
	mq, f, err := s.modelQuery(ctx, q)
	if err != nil {
		return nil, f, err
	}
	rows, err := model.Scores(ctx, s.db, mq)
	return rows, f, err
}

// Components returns the components of score rows, by score id.
func (s *Service) Components(ctx context.Context, scoreIDs []int64) (map[int64][]model.ScoreComponent, error) {
	cs, err := model.ComponentsOf(ctx, s.db, scoreIDs)
	if err != nil {
		return nil, err
	}
	out := map[int64][]model.ScoreComponent{}
	for _, c := range cs {
		out[c.ScoreID] = append(out[c.ScoreID], c)
	}
	return out, nil
}

// List returns one page of the scores q selects that the actor may see,
// newest first.
func (s *Service) List(ctx context.Context, a *service.Actor, q Query, p service.Page) (service.Paged[View], model.ScoreFormula, error) {
	if a == nil {
		return service.Paged[View]{}, model.ScoreFormula{}, service.ErrUnauthenticated
	}
	mq, f, err := s.modelQuery(ctx, q)
	if err != nil {
		return service.Paged[View]{}, f, err
	}
	sees, all := visible(a, q.Kind)
	if !all {
		if len(sees) == 0 {
			return service.Paged[View]{}, f, errScoreAuth
		}
		// A row must lie in one of the actor's places (and within the
		// filter's place, when one is given).
		mq.Under = sees
	}
	if q.Kind == model.ScoreKindGridWorker && !all && onlySelf(a) {
		mq.UserID = a.UserID
	}
	page, err := model.ScorePage(ctx, s.db, mq, p)
	if err != nil {
		return service.Paged[View]{}, f, err
	}
	vs, err := s.views(ctx, page.Items, true)
	return service.Paged[View]{Items: vs, More: page.More}, f, err
}

// Get returns one score row with its components, for an actor who may see it.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	sc, err := s.visibleScore(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, []model.Score{sc}, true)
	if err != nil {
		return View{}, err
	}
	return vs[0], nil
}

func (s *Service) visibleScore(ctx context.Context, a *service.Actor, id int64) (model.Score, error) {
	if a == nil {
		return model.Score{}, service.ErrUnauthenticated
	}
	sc, err := model.ByID[model.Score](ctx, s.db, id)
	if err != nil {
		return sc, service.OrNotFound(err, errScoreGone)
	}
	if !canSee(a, sc) {
		return sc, errScoreAuth
	}
	return sc, nil
}

// views adds names (and, with comps, the components) to rows.
func (s *Service) views(ctx context.Context, rows []model.Score, comps bool) ([]View, error) {
	var firms, users, compounds, regions, grids, ids []int64
	for _, r := range rows {
		firms, users, ids = append(firms, r.FirmID), append(users, r.UserID), append(ids, r.ID)
		switch r.ScopeKind {
		case model.ScopeCompound:
			compounds = append(compounds, r.ScopeID)
		case model.ScopeGrid:
			grids = append(grids, r.ScopeID)
		default:
			regions = append(regions, r.ScopeID)
		}
	}
	names, err := model.NamesOfAll(ctx, s.db,
		model.NameSet{Table: &model.Firm{}, Col: "name", IDs: firms},
		model.NameSet{Table: &model.User{}, Col: "display_name", IDs: users},
		model.NameSet{Table: &model.Compound{}, Col: "name", IDs: compounds},
		model.NameSet{Table: &model.Region{}, Col: "name", IDs: regions},
		model.NameSet{Table: &model.Grid{}, Col: "name", IDs: grids})
	if err != nil {
		return nil, err
	}
	var cs map[int64][]model.ScoreComponent
	if comps {
		if cs, err = s.Components(ctx, ids); err != nil {
			return nil, err
		}
	}
	out := make([]View, len(rows))
	for i, r := range rows {
		v := View{Score: r, Components: cs[r.ID], FirmName: names[0][r.FirmID], UserName: names[1][r.UserID]}
		switch r.ScopeKind {
		case model.ScopeCompound:
			v.ScopeName = names[2][r.ScopeID]
		case model.ScopeGrid:
			v.ScopeName = names[4][r.ScopeID]
		default:
			v.ScopeName = names[3][r.ScopeID]
		}
		out[i] = v
	}
	return out, nil
}
