package order

import (
	"context"
	"time"

	"redprop/model"
	"redprop/service/calendar"
)

// Traffic lights of an order's current step (红黄绿灯).
const (
	LightGreen  = "green"  // less than 80% of the step's budget used
	LightYellow = "yellow" // 80% or more used, deadline not passed
	LightRed    = "red"    // overdue
)

// warnShare is the share of a step's budget after which the holder is
// warned and the light turns yellow, as parts of warnOf.
const (
	warnShare = 4
	warnOf    = 5
)

// Light is the traffic light of o's current step at now: "" when the step
// has no deadline. cal counts working time: pass the calendar in force when
// the order's category has WorkingTime, and nil for wall-clock time. Time
// spent paused does not count: a paused order is measured up to PausedAt.
func (s *Service) Light(o model.Order, cal *calendar.Calendar, now time.Time) string {
	return light(o, cal, cal != nil, now)
}

// LightOf is Light for callers holding the order's category: it looks up
// the working calendar only when the category counts working time.
func (s *Service) LightOf(ctx context.Context, o model.Order, cat model.Category, now time.Time) (string, error) {
	cal, err := s.workCalendar(ctx, cat)
	if err != nil {
		return "", err
	}
	return light(o, cal, cal != nil, now), nil
}

// light measures the step in cal's working time when working (the
// category's WorkingTime) is set, in wall-clock time otherwise.
func light(o model.Order, cal *calendar.Calendar, working bool, now time.Time) string {
	// armStep counts wall-clock time when no calendar is at hand; so does
	// the light.
	working = working && cal != nil
	if o.StepDeadline == nil {
		return ""
	}
	at := now
	if o.PausedAt != nil && o.PausedAt.Before(at) {
		at = *o.PausedAt
	}
	if o.Overdue || !at.Before(*o.StepDeadline) {
		return LightRed
	}
	if o.StepStartedAt == nil {
		return LightGreen
	}
	used, budget := stepUse(o, cal, working, at)
	if budget <= 0 || used*warnOf >= budget*warnShare {
		return LightYellow
	}
	return LightGreen
}

// stepUse is how much of the step's budget has passed at at, and the
// budget, in working time or wall-clock time.
func stepUse(o model.Order, cal *calendar.Calendar, working bool, at time.Time) (used, budget time.Duration) {
	start, deadline := *o.StepStartedAt, *o.StepDeadline
	if working {
		return cal.WorkingBetween(start, at), cal.WorkingBetween(start, deadline)
	}
	if at.Before(start) {
		return 0, deadline.Sub(start)
	}
	return at.Sub(start), deadline.Sub(start)
}
