package order

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// TickStats counts what one scheduler pass did.
type TickStats struct {
	Warned             int // holders warned at 80% of a step
	Overdue            int // orders newly marked overdue
	Escalated          int // orders moved up the ladder on a breach
	AutoClosed         int // confirmed orders closed unrated
	EmergencyAlerts    int // repeated alerts of unacknowledged calls
	EmergencyEscalated int // calls sent to the street
}

// Each pass reads at most tickBatch rows per query and at most
// tickMaxBatches queries, so one tick is bounded however far behind it is;
// the next tick goes on where this one stopped.
const (
	tickBatch      = 100
	tickMaxBatches = 50
)

// Run calls Tick every interval until ctx is done. Several instances may
// run it against one database: every action of Tick is a compare-and-set,
// so each happens once.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	service.Every(ctx, every, func(ctx context.Context) {
		st, err := s.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			slog.ErrorContext(ctx, "order scheduler tick failed", "err", err)
		case st != (TickStats{}):
			slog.InfoContext(ctx, "order scheduler tick", "warned", st.Warned, "overdue", st.Overdue,
				"escalated", st.Escalated, "auto_closed", st.AutoClosed,
				"emergency_alerts", st.EmergencyAlerts, "emergency_escalated", st.EmergencyEscalated)
		}
	})
}

// Tick runs one pass of the scheduler at the clock's now: overdue marks and
// escalations on a breach, deadline warnings, auto-close of unrated orders,
// and the alerts of emergency calls. Paused orders are skipped. A failing
// pass does not stop the others; the first error is returned.
func (s *Service) Tick(ctx context.Context) (TickStats, error) {
	ctx, err := s.withCalendar(ctx)
	if err != nil {
		return TickStats{}, err
	}
	var st TickStats
	now := s.clock.Now().UTC()
	var cats []model.Category
	if err := s.db.WithContext(ctx).Find(&cats).Error; err != nil {
		return st, fmt.Errorf("load categories: %w", err)
	}
	byID := make(map[int64]model.Category, len(cats))
	for _, c := range cats {
		byID[c.ID] = c
	}
	cal, _ := calendarIn(ctx)
	passes := []func() error{
		func() error { return s.tickOverdue(ctx, now, byID, &st) },
		func() error { return s.tickWarn(ctx, now, byID, cal, &st) },
		func() error { return s.tickAutoClose(ctx, now, cats, &st) },
		func() error { return s.tickEmergency(ctx, now, &st) },
	}
	var errs []error
	for _, p := range passes {
		if ctx.Err() != nil {
			break
		}
		if err := p(); err != nil {
			errs = append(errs, err)
		}
	}
	return st, errors.Join(errs...)
}

// eachBatch pages through the rows q selects by ascending id and hands
// every page to fn.
func eachBatch[T any](q *gorm.DB, id func(T) int64, fn func([]T) error) error {
	var after int64
	for i := 0; i < tickMaxBatches; i++ {
		var rows []T
		if err := q.Session(&gorm.Session{}).Where("id > ?", after).Order("id").Limit(tickBatch).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		if err := fn(rows); err != nil {
			return err
		}
		if len(rows) < tickBatch {
			return nil
		}
		after = id(rows[len(rows)-1])
	}
	return nil
}

func orderID(o model.Order) int64 { return o.ID }

// tickOverdue marks orders whose step deadline has passed, tells the
// dispatchers of their level and, where the category says so, escalates
// them one level with a fresh deadline.
func (s *Service) tickOverdue(ctx context.Context, now time.Time, cats map[int64]model.Category, st *TickStats) error {
	q := s.db.WithContext(ctx).Model(&model.Order{}).
		Where("state IN ? AND overdue = ? AND paused_at IS NULL AND step_deadline IS NOT NULL AND step_deadline <= ?",
			openStates, false, now)
	return eachBatch(q, orderID, func(rows []model.Order) error {
		for i := range rows {
			o := rows[i]
			var won, escalated bool
			err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
				var err error
				won, escalated, err = s.breach(ctx, tx, &o, cats[o.CategoryID], now)
				return err
			})
			if err != nil {
				return fmt.Errorf("overdue order %d: %w", o.ID, err)
			}
			if won {
				st.Overdue++
			}
			if escalated {
				st.Escalated++
			}
		}
		return nil
	})
}

// breach marks o overdue (compare-and-set) and escalates it when its
// category says so and a level is left above.
func (s *Service) breach(ctx context.Context, tx *gorm.DB, o *model.Order, cat model.Category, now time.Time) (won, escalated bool, err error) {
	prev := *o
	o.Overdue = true
	o.Breaches++
	res := tx.WithContext(ctx).Model(&model.Order{}).
		Where("id = ? AND version = ? AND state = ? AND level = ? AND overdue = ? AND paused_at IS NULL",
			prev.ID, prev.Version, prev.State, prev.Level, false).
		Updates(map[string]any{"overdue": true, "breaches": gorm.Expr("breaches + 1"), "version": prev.Version + 1, "updated_at": now})
	if res.Error != nil {
		return false, false, res.Error
	}
	if res.RowsAffected != 1 {
		return false, false, nil
	}
	o.Version = prev.Version + 1
	if err := s.appendEvent(tx, o, model.OrderEvent{Action: evOverdue, Role: roleSystem,
		Note: "超过办理时限", CreatedAt: now}); err != nil {
		return true, false, err
	}
	if err := s.notify(ctx, tx, o, "overdue"); err != nil {
		return true, false, err
	}
	if !cat.EscalateOnBreach || nextLevel(o.Level) == "" {
		return true, false, nil
	}
	// The row is ours until commit: this compare-and-set cannot lose.
	escalated, err = s.raise(ctx, tx, o, cat, now, 0, roleSystem, "超时自动升级")
	return true, escalated, err
}

// tickWarn warns the holder of each order that has used 80% of its step
// once (WarnedAt). Only orders whose deadline is near enough that 80% can
// have passed are read: no step budget exceeds the largest a category has
// (a dispatcher's due date only shortens one).
func (s *Service) tickWarn(ctx context.Context, now time.Time, cats map[int64]model.Category, cal *calendar.Calendar, st *TickStats) error {
	q := s.db.WithContext(ctx).Model(&model.Order{}).
		Where("state IN ? AND warned_at IS NULL AND overdue = ? AND paused_at IS NULL AND step_deadline > ? AND step_deadline <= ?",
			openStates, false, now, warnHorizon(now, cats, cal))
	return eachBatch(q, orderID, func(rows []model.Order) error {
		for i := range rows {
			o := rows[i]
			cat := cats[o.CategoryID]
			working := cat.WorkingTime && cal != nil
			if light(o, cal, working, now) != LightYellow {
				continue
			}
			var won bool
			err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
				res := tx.Model(&model.Order{}).
					Where("id = ? AND version = ? AND state = ? AND level = ? AND warned_at IS NULL AND paused_at IS NULL",
						o.ID, o.Version, o.State, o.Level).
					Updates(map[string]any{"warned_at": now, "version": o.Version + 1, "updated_at": now})
				if res.Error != nil || res.RowsAffected != 1 {
					return res.Error
				}
				won = true
				o.Version++
				o.WarnedAt = &now
				if err := s.appendEvent(tx, &o, model.OrderEvent{Action: evWarning, Role: roleSystem,
					Note: "办理时限已过 80%", CreatedAt: now}); err != nil {
					return err
				}
				return s.notify(ctx, tx, &o, "warning")
			})
			if err != nil {
				return fmt.Errorf("warn order %d: %w", o.ID, err)
			}
			if won {
				st.Warned++
			}
		}
		return nil
	})
}

// warnHorizon is the latest deadline that can be within its last 20% at
// now: the largest step of any category cut to a fifth, counted from now
// in that category's time (past the days off that follow, for working
// time).
func warnHorizon(now time.Time, cats map[int64]model.Category, cal *calendar.Calendar) time.Time {
	h := now
	for _, c := range cats {
		rest := time.Duration(maxStepMinutes(c)) * time.Minute * (warnOf - warnShare) / warnOf
		if rest <= 0 {
			continue
		}
		t := now.Add(rest)
		if c.WorkingTime && cal != nil {
			t = cal.AddWorking(now, rest)
			for !cal.IsWorkday(t) {
				t = t.Add(24 * time.Hour)
			}
		}
		if t.After(h) {
			h = t
		}
	}
	return h
}

func maxStepMinutes(c model.Category) int {
	return max(c.VerifyMinutes, c.DispatchMinutes, c.AcceptMinutes, c.CompleteMinutes, c.ConfirmMinutes)
}

// tickAutoClose closes confirmed orders left unrated for their category's
// AutoCloseHours. Categories are grouped by those hours: one query each.
func (s *Service) tickAutoClose(ctx context.Context, now time.Time, cats []model.Category, st *TickStats) error {
	byHours := map[int][]int64{}
	for _, c := range cats {
		if c.AutoCloseHours > 0 {
			byHours[c.AutoCloseHours] = append(byHours[c.AutoCloseHours], c.ID)
		}
	}
	for hours, ids := range byHours {
		cutoff := now.Add(-time.Duration(hours) * time.Hour)
		q := s.db.WithContext(ctx).Model(&model.Order{}).
			Where("category_id IN ? AND state = ? AND rating_overall = 0 AND confirmed_at IS NOT NULL AND confirmed_at <= ?",
				ids, model.StateConfirmed, cutoff)
		err := eachBatch(q, orderID, func(rows []model.Order) error {
			for i := range rows {
				won, err := s.autoClose(ctx, &rows[i], now)
				if err != nil {
					return fmt.Errorf("auto-close order %d: %w", rows[i].ID, err)
				}
				if won {
					st.AutoClosed++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) autoClose(ctx context.Context, o *model.Order, now time.Time) (bool, error) {
	var won bool
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		prev := *o
		o.State = model.StateClosed
		o.ClosedAt = &now
		o.StepStartedAt, o.StepDeadline, o.WarnedAt, o.PausedAt, o.PauseReason, o.Overdue = nil, nil, nil, nil, "", false
		var err error
		if won, err = s.saveLadder(ctx, tx, &prev, o, now); err != nil || !won {
			return err
		}
		if err := s.msgs.CancelScheduled(ctx, tx, ratingKey(o.ID)); err != nil {
			return err
		}
		return s.appendEvent(tx, o, model.OrderEvent{Action: evAutoClose, Role: roleSystem,
			FromState: prev.State, Note: "逾期未评价，系统自动关闭", CreatedAt: now})
	})
	return won, err
}
