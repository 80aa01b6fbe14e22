package order

import (
	"context"
	"errors"
	"fmt"
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
	EmergencyAlerts    int // responders alerted again on some channel about unacknowledged calls
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
			service.LogPass(ctx, s.log, "order scheduler tick failed", err)
		case st != (TickStats{}):
			s.log.InfoContext(ctx, "order scheduler tick", "warned", st.Warned, "overdue", st.Overdue,
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
	// Deadlines may be re-armed inside the transactions: the calendar is
	// read before them (SQLite has one connection).
	cal, err := s.calendar(ctx)
	if err != nil {
		return TickStats{}, err
	}
	var st TickStats
	now := s.clock.Now().UTC()
	cats, err := model.Categories(ctx, s.db, true)
	if err != nil {
		return st, fmt.Errorf("load categories: %w", err)
	}
	byID := make(map[int64]model.Category, len(cats))
	for _, c := range cats {
		byID[c.ID] = c
	}
	passes := []func() error{
		func() error { return s.tickOverdue(ctx, now, byID, cal, &st) },
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

// eachBatch pages through the rows page returns (those after the cursor
// given, at most tickBatch; the zero cursor is the start) and hands every
// page to fn; cursor is where a row leaves the pass.
func eachBatch[T, C any](page func(after C, limit int) ([]T, error), cursor func(T) C, fn func([]T) error) error {
	var after C
	for i := 0; i < tickMaxBatches; i++ {
		rows, err := page(after, tickBatch)
		if err != nil {
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
		after = cursor(rows[len(rows)-1])
	}
	return nil
}

func orderID(o model.Order) int64 { return o.ID }

func callID(c model.EmergencyCall) int64 { return c.ID }

func deadlineOf(o model.Order) model.DeadlineCursor {
	return model.DeadlineCursor{At: *o.StepDeadline, ID: o.ID}
}

// tickOverdue marks orders whose step deadline has passed, tells the
// dispatchers of their level and, where the category says so, escalates
// them one level with a fresh deadline.
func (s *Service) tickOverdue(ctx context.Context, now time.Time, cats map[int64]model.Category, cal *calendar.Calendar, st *TickStats) error {
	page := func(after int64, limit int) ([]model.Order, error) {
		return model.DueOrders(ctx, s.db, openStates, now, after, limit)
	}
	return eachBatch(page, orderID, func(rows []model.Order) error {
		for i := range rows {
			o := rows[i]
			var escalated bool
			err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
				var err error
				escalated, err = s.breach(ctx, tx, &o, cats[o.CategoryID], cal, now)
				return err
			})
			if service.KindOf(err) == service.KindConflict {
				continue // someone moved it since the query: the next tick sees it as it is
			}
			if err != nil {
				return fmt.Errorf("overdue order %d: %w", o.ID, err)
			}
			st.Overdue++
			if escalated {
				st.Escalated++
			}
		}
		return nil
	})
}

// breach marks o overdue and escalates it when its category says so and a
// level is left above, both through the steps table. A lost
// compare-and-set is the 409 of move.
func (s *Service) breach(ctx context.Context, tx *gorm.DB, o *model.Order, cat model.Category, cal *calendar.Calendar, now time.Time) (escalated bool, err error) {
	if err := s.takeAsSystem(ctx, tx, o, ActOverdue, cat, cal, now); err != nil {
		return false, err
	}
	if !cat.EscalateOnBreach || nextLevel(o.Level) == "" {
		return false, nil
	}
	// The row is ours until commit: this move cannot lose.
	if err := s.takeAsSystem(ctx, tx, o, ActEscalate, cat, cal, now); err != nil {
		return false, err
	}
	return true, nil
}

// takeAsSystem takes one of the scheduler's actions on o inside tx, reading
// through tx, and leaves o as it was stored.
func (s *Service) takeAsSystem(ctx context.Context, tx *gorm.DB, o *model.Order, action string, cat model.Category, cal *calendar.Calendar, now time.Time) error {
	c, err := s.prepare(ctx, tx, system(), *o, action, Input{}, cat, cal, now)
	if err != nil {
		return err
	}
	if err := s.commit(ctx, tx, c); err != nil {
		return err
	}
	*o = c.next
	return nil
}

// tickWarn warns the holder of each order that has used 80% of its step
// once (WarnedAt). Only orders whose deadline is near enough that 80% can
// have passed are read: no step budget exceeds the largest a category has
// (a dispatcher's due date only shortens one).
func (s *Service) tickWarn(ctx context.Context, now time.Time, cats map[int64]model.Category, cal *calendar.Calendar, st *TickStats) error {
	horizon := warnHorizon(now, cats, cal)
	page := func(after model.DeadlineCursor, limit int) ([]model.Order, error) {
		return model.WarnableOrders(ctx, s.db, openStates, now, horizon, after, limit)
	}
	return eachBatch(page, deadlineOf, func(rows []model.Order) error {
		for i := range rows {
			o := rows[i]
			cat := cats[o.CategoryID]
			working := cat.WorkingTime && cal != nil
			if light(o, cal, working, now) != LightYellow {
				continue
			}
			err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
				return s.takeAsSystem(ctx, tx, &o, ActWarn, cat, cal, now)
			})
			if service.KindOf(err) == service.KindConflict {
				continue
			}
			if err != nil {
				return fmt.Errorf("warn order %d: %w", o.ID, err)
			}
			st.Warned++
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
		page := func(after int64, limit int) ([]model.Order, error) {
			return model.UnratedOrders(ctx, s.db, ids, cutoff, after, limit)
		}
		err := eachBatch(page, orderID, func(rows []model.Order) error {
			for i := range rows {
				won, err := s.closeUnrated(ctx, rows[i].ID)
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

// closeUnrated closes one confirmed order through the steps table; false
// when it was no longer confirmed (rated meanwhile, or closed by another
// scheduler).
func (s *Service) closeUnrated(ctx context.Context, id int64) (bool, error) {
	_, err := s.take(ctx, system(), id, ActAutoClose, Input{})
	if service.KindOf(err) == service.KindConflict {
		return false, nil
	}
	return err == nil, err
}

// stepNotRunning refuses a deadline notice for an order whose step has no
// clock running, or that was already told of this step.
func stepNotRunning(o *model.Order) error {
	if o.StepDeadline == nil || o.PausedAt != nil || o.Overdue {
		return conflict(*o)
	}
	return nil
}

// warn marks the step warned (once per step: armStep clears it) and tells
// whoever holds the order.
func (s *Service) warn(c *act) error {
	if c.prev.WarnedAt != nil {
		return conflict(c.prev)
	}
	now := c.now
	c.next.WarnedAt = &now
	c.note = "办理时限已过 80%"
	c.events = []string{"warning"}
	return nil
}

// markOverdue marks the step overdue and counts the breach; the
// dispatchers of the order's level are told.
func (s *Service) markOverdue(c *act) error {
	c.next.Overdue = true
	c.next.Breaches++
	c.note = "超过办理时限"
	c.events = []string{"overdue"}
	return nil
}
