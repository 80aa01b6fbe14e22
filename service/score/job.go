package score

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// RunResult reports one run of the scoring job.
type RunResult struct {
	Run     model.ScoreRun
	Formula model.ScoreFormula
	Elapsed time.Duration
}

var (
	errRunBusy    = service.Conflict("score_run_busy", "该周期正在计算，请稍后再试")
	errRunVersion = service.Invalid("bad_formula_version", "计分公式版本须为正整数（不填则用该周期生效的版本）")
)

// RunPeriod scores a closed period of a kind for an actor who may run the job
// (platform admin, city or street staff); version 0 uses the formula in
// effect at the period's start.
func (s *Service) RunPeriod(ctx context.Context, a *service.Actor, kind, period string, version int) (RunResult, error) {
	if a == nil {
		return RunResult{}, service.ErrUnauthenticated
	}
	if !a.Has(runRoles...) {
		return RunResult{}, errRunForbid
	}
	return s.Compute(ctx, kind, period, version, a.UserID)
}

// Compute scores a closed period: it reads the period's facts with a few
// GROUP BY queries, applies the formula to every row and brings the
// stored rows of that formula and period to the result in one
// transaction. Re-running it with the same formula over the same facts
// writes nothing: the rows stay byte for byte as they were. by is the
// user asking (0 for the scheduler).
func (s *Service) Compute(ctx context.Context, kind, period string, version int, by int64) (RunResult, error) {
	if err := checkKind(kind); err != nil {
		return RunResult{}, err
	}
	if version < 0 {
		return RunResult{}, errRunVersion
	}
	p, err := ParsePeriod(kind, period)
	if err != nil {
		return RunResult{}, err
	}
	started := s.clock.Now().UTC()
	if started.Before(p.End) {
		return RunResult{}, errOpen
	}
	var f model.ScoreFormula
	if version > 0 {
		f, err = model.FormulaVersion(ctx, s.db, kind, version)
	} else {
		f, err = model.FormulaInEffect(ctx, s.db, kind, p.Start)
	}
	if err != nil {
		return RunResult{}, service.OrNotFound(err, errNoFormula)
	}
	// A quarter of a city is read by aggregate queries that may rightly
	// outlast the per-statement deadline of a request.
	ctx = model.WithoutDeadline(ctx)
	t0 := time.Now()
	var rows []model.ScoredRow
	if kind == model.ScoreKindFirm {
		rows, err = s.firmRows(ctx, f, p)
	} else {
		rows, err = s.gridRows(ctx, f, p)
	}
	if err != nil {
		return RunResult{}, fmt.Errorf("score %s %s: %w", kind, period, err)
	}
	run := model.ScoreRun{Kind: kind, Period: p.Name, FormulaID: f.ID, FormulaVersion: f.Version, RequestedBy: by,
		Rows: len(rows), StartedAt: started}
	err = model.InTxRetry(ctx, s.db, 3, func(tx *gorm.DB) error {
		n, err := model.WriteScores(ctx, tx, kind, p.Name, f.ID, rows)
		if err != nil {
			return err
		}
		run.Written = n
		run.FinishedAt = s.clock.Now().UTC()
		return model.Create(ctx, tx, &run)
	})
	if errors.Is(err, model.ErrDuplicate) {
		return RunResult{}, errRunBusy
	}
	if err != nil {
		return RunResult{}, err
	}
	elapsed := time.Since(t0)
	s.log.Info("score run", "kind", kind, "period", p.Name, "formula_version", f.Version, "rows", run.Rows,
		"written", run.Written, "ms", elapsed.Milliseconds())
	return RunResult{Run: run, Formula: f, Elapsed: elapsed}, nil
}

// Evidence is one page of the facts behind a component of a score row:
// order, rating (an order's id), inspection or action item ids, each with
// whether it counts in the numerator.
type Evidence struct {
	Component string
	// Source names what the ids are: order, action_item, inspection, or
	// "" for a component whose facts are not listed (a count of
	// households).
	Source string
	Page   service.Paged[model.Evidence]
}

// sources name the ids a component's evidence lists.
var sources = map[string]string{
	model.CompSatisfaction: "order", model.CompOnTime: "order", model.CompCompletion: "order",
	model.CompResponse: "order", model.CompRework: "order", model.CompComplaints: "order",
	model.CompRectification: "action_item", model.CompInspections: "inspection",
	model.CompVerifyTime: "order", model.CompPatrol: "order", model.CompConfirmTime: "order",
	model.CompCallAck: "emergency_call", model.CompCallAckTime: "emergency_call", model.CompRatings: "order",
	model.CompRectFollowed: "rectification",
}

var (
	errComponent = service.NotFound("component_not_found", "该考核结果没有此项指标")
	errSource    = service.Invalid("bad_source", "该指标没有这种明细来源")
)

// Explain lists the facts behind one component of a score row, newest
// id first, for an actor who may see the row. The rectification
// component has two sources: action items (source "" or action_item) and
// rating rectifications (source rectification).
func (s *Service) Explain(ctx context.Context, a *service.Actor, id int64, comp, source string, p service.Page) (Evidence, error) {
	sc, err := s.visibleScore(ctx, a, id)
	if err != nil {
		return Evidence{}, err
	}
	f, err := model.ByID[model.ScoreFormula](ctx, s.db, sc.FormulaID)
	if err != nil {
		return Evidence{}, err
	}
	known := false
	for _, c := range f.Spec.Components {
		known = known || c.Name == comp
	}
	if !known {
		return Evidence{}, errComponent
	}
	src := sources[comp]
	switch {
	case source == "" || source == src:
	case comp == model.CompRectification && source == "rectification":
		src = source
	default:
		return Evidence{}, errSource
	}
	// An explanation is a request: it keeps the query deadline. A
	// compound's facts are read by its orders' index; a city row's are
	// the city's, and at city size may exceed it (503, never a stuck
	// connection).
	var page service.Paged[model.Evidence]
	var ok bool
	if sc.Kind == model.ScoreKindFirm {
		ff := model.ScoreFilter{FirmID: sc.FirmID, Place: model.Place{Kind: sc.ScopeKind, ID: sc.ScopeID}}
		if comp == model.CompInspections || src == "rectification" {
			page, ok, err = s.extraEvidence(ctx, sc, ff, comp, p)
		} else {
			page, ok, err = s.firmEvidence(ctx, sc, ff, comp, p)
		}
	} else {
		page, ok, err = s.gridEvidence(ctx, sc, comp, p)
	}
	if err != nil {
		return Evidence{}, err
	}
	ev := Evidence{Component: comp, Page: page}
	if ok {
		ev.Source = src
	}
	if ev.Page.Items == nil {
		ev.Page.Items = []model.Evidence{}
	}
	return ev, nil
}

func (s *Service) firmEvidence(ctx context.Context, sc model.Score, ff model.ScoreFilter, comp string, p service.Page) (service.Paged[model.Evidence], bool, error) {
	return model.FirmEvidence(ctx, s.db, sc.PeriodStart, sc.PeriodEnd, ff, comp, p)
}
