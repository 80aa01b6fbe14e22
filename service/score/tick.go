package score

import (
	"context"
	"errors"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// settle is how long after a period's end the scheduler waits before
// scoring it: the last acts of the period (a scheduler's overdue marks, a
// transaction in flight at midnight) are in the timeline by then.
const settle = 6 * time.Hour

// Run scores, every interval, the last closed quarter (firms) and month
// (grid workers) once they are settled and not yet scored. A period is
// scored once by the scheduler; staff re-run it on demand.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	service.Every(ctx, every, func(ctx context.Context) {
		for _, kind := range []string{model.ScoreKindFirm, model.ScoreKindGridWorker} {
			res, ran, err := s.Tick(ctx, kind)
			switch {
			case err != nil && ctx.Err() == nil && !errors.Is(err, errRunBusy):
				s.log.ErrorContext(ctx, "score tick failed", "kind", kind, "err", err)
			case ran:
				s.log.InfoContext(ctx, "score tick", "kind", kind, "period", res.Run.Period, "rows", res.Run.Rows)
			}
		}
	})
}

// Tick scores the kind's last closed period if it is settled and has no
// run yet; ran says whether it did.
func (s *Service) Tick(ctx context.Context, kind string) (RunResult, bool, error) {
	now := s.clock.Now().UTC()
	b := now.Add(-settle).In(calendar.Beijing)
	month := time.Date(b.Year(), b.Month(), 1, 12, 0, 0, 0, calendar.Beijing)
	period := MonthOf(month.AddDate(0, -1, 0))
	if kind == model.ScoreKindFirm {
		quarter := time.Date(b.Year(), time.Month((int(b.Month())-1)/3*3+1), 1, 12, 0, 0, 0, calendar.Beijing)
		period = QuarterOf(quarter.AddDate(0, -3, 0))
	}
	p, err := ParsePeriod(kind, period)
	if err != nil || now.Before(p.End.Add(settle)) {
		return RunResult{}, false, err
	}
	if _, found, err := model.LatestScoreRun(ctx, s.db, kind, period); err != nil || found {
		return RunResult{}, false, err
	}
	res, err := s.Compute(ctx, kind, period, 0, 0)
	return res, err == nil, err
}
