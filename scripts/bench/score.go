package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/score"
)

// ScoreFigures are the timings of -score: the scoring job run on the
// seeded history, as the scheduler or an official would run it.
type ScoreFigures struct {
	Size    string        `json:"size"`
	Engine  string        `json:"engine"`
	Seed    SeedFigures   `json:"seed"`
	Runs    []ScoreTiming `json:"runs"`
	Explain []ScoreTiming `json:"explain"`
}

// ScoreTiming is one timed call.
type ScoreTiming struct {
	What    string  `json:"what"`
	Period  string  `json:"period"`
	Rows    int     `json:"rows"`
	Written int     `json:"written"`
	Seconds float64 `json:"seconds"`
}

// benchScore times the scoring of the last closed quarter (firms) and
// month (grid workers) on the seeded database, a re-run of each (which
// must write nothing), and the first page of an explanation.
func benchScore(db *gorm.DB, o options, rep *Report) error {
	ctx := context.Background()
	svc := score.New(db, service.SystemClock{}, score.Options{Log: slog.New(slog.DiscardHandler)})
	now := time.Now()
	quarter := score.QuarterOf(now.AddDate(0, -3, 0))
	month := score.MonthOf(time.Date(now.Year(), now.Month(), 1, 12, 0, 0, 0, time.UTC).AddDate(0, -1, 0))
	sf := ScoreFigures{Size: o.size, Engine: rep.Engine, Seed: rep.Seed}
	for _, job := range []struct{ kind, period string }{{model.ScoreKindFirm, quarter}, {model.ScoreKindGridWorker, month}} {
		for _, what := range []string{"first run", "re-run"} {
			t0 := time.Now()
			res, err := svc.Compute(ctx, job.kind, job.period, 0, 0)
			if err != nil {
				return fmt.Errorf("score %s %s: %w", job.kind, job.period, err)
			}
			t := ScoreTiming{What: job.kind + " " + what, Period: job.period, Rows: res.Run.Rows, Written: res.Run.Written,
				Seconds: time.Since(t0).Seconds()}
			if what == "re-run" && t.Written != 0 {
				return fmt.Errorf("a re-run of %s %s wrote %d rows", job.kind, job.period, t.Written)
			}
			sf.Runs = append(sf.Runs, t)
			fmt.Fprintf(os.Stderr, "score %-22s %-8s %6d rows %6d written %8.2f s\n", t.What, t.Period, t.Rows, t.Written, t.Seconds)
		}
	}
	admin := &service.Actor{UserID: 1, Grants: []model.Grant{{Role: model.RolePlatformAdmin, ScopeKind: model.ScopePlatform}}}
	for _, scope := range []string{model.ScopeCompound, model.ScopeCity} {
		rows, _, err := svc.PeriodScores(ctx, score.Query{Kind: model.ScoreKindFirm, Period: quarter, ScopeKind: scope})
		if err != nil || len(rows) == 0 {
			return fmt.Errorf("read %s scores: %v (%d rows)", scope, err, len(rows))
		}
		// The busiest row of the scope: the most orders due.
		best := rows[0]
		for _, r := range rows {
			if r.Samples > best.Samples {
				best = r
			}
		}
		t0 := time.Now()
		ev, err := svc.Explain(ctx, admin, best.ID, model.CompCompletion, "", service.Page{Limit: 100})
		t := ScoreTiming{What: "explain completion, first 100, " + scope + " row", Period: quarter, Rows: len(ev.Page.Items),
			Seconds: time.Since(t0).Seconds()}
		if err != nil {
			// Past the request's query deadline: said, not fatal.
			t.What += " (failed: " + err.Error() + ")"
		}
		sf.Explain = append(sf.Explain, t)
		fmt.Fprintf(os.Stderr, "score %-40s %6d samples %8.2f s\n", t.What, best.Samples, t.Seconds)
	}
	md := scoreMarkdown(sf, o.note)
	fmt.Print(md)
	if o.out == "" {
		return nil
	}
	raw, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(o.out+".json", raw, 0o644); err != nil {
		return err
	}
	return os.WriteFile(o.out+".md", []byte(md), 0o644)
}

func scoreMarkdown(sf ScoreFigures, note string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Scoring job — size %s, %s\n\n", sf.Size, sf.Engine)
	if note != "" {
		fmt.Fprintf(&b, "%s\n\n", note)
	}
	fmt.Fprintf(&b, "Seeded %d households, %d orders, %d timeline rows in %.0f s.\n\n", sf.Seed.Households, sf.Seed.Orders,
		sf.Seed.Events, sf.Seed.Seconds)
	fmt.Fprintf(&b, "| run | period | rows | written | seconds |\n|---|---|---:|---:|---:|\n")
	for _, t := range sf.Runs {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.2f |\n", t.What, t.Period, t.Rows, t.Written, t.Seconds)
	}
	for _, t := range sf.Explain {
		fmt.Fprintf(&b, "| %s | %s | %d ids | | %.2f |\n", t.What, t.Period, t.Rows, t.Seconds)
	}
	return b.String()
}

// buildScores scores the last closed quarter of the firms and month of
// the grid workers on the seeded history, as the server's scheduler does
// once per period (Tick), before the server starts: at city size each is
// a pass over the whole timeline lasting minutes, which would otherwise
// run under the first measured phases. The server's scheduler then finds
// them done.
func buildScores(dsn, sqlitePath string, rep *Report) error {
	db, done, err := openSeeded(dsn, sqlitePath)
	if err != nil {
		return err
	}
	defer done()
	ctx := context.Background()
	svc := score.New(db, service.SystemClock{}, score.Options{Log: slog.New(slog.DiscardHandler)})
	for _, kind := range []string{model.ScoreKindFirm, model.ScoreKindGridWorker} {
		fmt.Fprintf(os.Stderr, "scores: %s … ", kind)
		t0 := time.Now()
		res, ran, err := svc.Tick(ctx, kind)
		if err != nil {
			return fmt.Errorf("score %s: %w", kind, err)
		}
		fmt.Fprintf(os.Stderr, "%s\n", time.Since(t0).Round(100*time.Millisecond))
		if ran {
			rep.Scores = append(rep.Scores, ScoreTiming{What: kind, Period: res.Run.Period, Rows: res.Run.Rows,
				Written: res.Run.Written, Seconds: time.Since(t0).Seconds()})
		}
	}
	return nil
}
