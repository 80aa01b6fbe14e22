package order

import (
	"context"
	"fmt"
	"time"

	"redprop/model"
	"redprop/service/calendar"
)

// stepMinutes is the budget of the step an order in state waits in.
func stepMinutes(cat model.Category, state string) int {
	switch state {
	case model.StateSubmitted:
		return cat.VerifyMinutes
	case model.StateVerified:
		return cat.DispatchMinutes
	case model.StateDispatched:
		return cat.AcceptMinutes
	case model.StateAccepted, model.StateInProgress:
		return cat.CompleteMinutes
	case model.StateCompleted:
		return cat.ConfirmMinutes
	}
	return 0
}

// armStep starts the clock of the step o.State is now in. It only sets
// fields; the caller saves them with its move. cal is the working calendar
// in force (nil when there is none): a category that counts working time
// counts it there, every other one in wall-clock time.
func armStep(o *model.Order, cat model.Category, now time.Time, cal *calendar.Calendar) {
	now = now.UTC()
	o.WarnedAt = nil
	o.Overdue = false
	o.PausedAt = nil
	o.PauseReason = ""
	o.StepStartedAt, o.StepDeadline = nil, nil
	var deadline *time.Time
	if mins := stepMinutes(cat, o.State); mins > 0 {
		d := addStep(cat, cal, now, time.Duration(mins)*time.Minute)
		deadline = &d
	}
	// A dispatcher's due date bounds every step of the handler.
	if o.DueAt != nil && handlerStep(o.State) && (deadline == nil || o.DueAt.Before(*deadline)) {
		d := o.DueAt.UTC()
		deadline = &d
	}
	if deadline != nil {
		o.StepStartedAt, o.StepDeadline = &now, deadline
	}
}

// handlerStep reports whether the handler holds an order in state.
func handlerStep(state string) bool {
	return state == model.StateDispatched || state == model.StateAccepted || state == model.StateInProgress
}

// addStep adds a step budget to start: working time where the category
// counts working days and a calendar is in force, wall-clock time
// otherwise.
func addStep(cat model.Category, cal *calendar.Calendar, start time.Time, d time.Duration) time.Time {
	if !cat.WorkingTime || cal == nil {
		return start.Add(d).UTC()
	}
	return cal.AddWorking(start, d).UTC()
}

// workCalendar returns the calendar to count cat's deadlines in, nil for
// wall-clock time. Every entry that may arm a deadline reads it before its
// transaction: inside one, the calendar service would need a second
// connection, and SQLite has only one.
func (s *Service) workCalendar(ctx context.Context, cat model.Category) (*calendar.Calendar, error) {
	if !cat.WorkingTime {
		return nil, nil
	}
	return s.calendar(ctx)
}

// calendar returns the working calendar in force, nil without a calendar
// service.
func (s *Service) calendar(ctx context.Context) (*calendar.Calendar, error) {
	if s.cal == nil {
		return nil, nil
	}
	cal, err := s.cal.Current(ctx)
	if err != nil {
		return nil, fmt.Errorf("working calendar: %w", err)
	}
	return cal, nil
}
