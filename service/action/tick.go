package action

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Each pass reads at most tickBatch ids per query and tickMaxBatches
// queries, so one tick is bounded however far behind it is.
const (
	tickBatch      = 100
	tickMaxBatches = 50
)

// pendingStates are the states an item can fall overdue in.
var pendingStates = []string{model.ActionOpen, model.ActionClaimed}

// Run calls Tick every interval until ctx is done.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	service.Every(ctx, every, func(ctx context.Context) {
		n, err := s.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			service.LogPass(ctx, s.log, "action item tick failed", err)
		case n > 0:
			s.log.InfoContext(ctx, "action item tick", "overdue", n)
		}
	})
}

// Tick marks the items whose due date has passed while still open or
// claimed, appends an overdue row to each one's history and tells its
// organiser. Several instances may run it against one database: each mark
// locks the row and checks again, and the notice's key is unique, so every
// item is marked and reported once. It returns how many it marked.
func (s *Service) Tick(ctx context.Context) (int, error) {
	now := s.clock.Now().UTC()
	marked := 0
	var after int64
	for range tickMaxBatches {
		ids, err := model.DueActionItemIDs(ctx, s.db, pendingStates, now, after, tickBatch)
		if err != nil {
			return marked, fmt.Errorf("find overdue action items: %w", err)
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return marked, ctx.Err()
			}
			won, err := s.markOverdue(ctx, id, now)
			if err != nil {
				return marked, err
			}
			if won {
				marked++
			}
		}
		if len(ids) < tickBatch {
			break
		}
		after = ids[len(ids)-1]
	}
	return marked, nil
}

// markOverdue marks one item if it still qualifies once locked; false
// when another instance (or a transition) got there first.
func (s *Service) markOverdue(ctx context.Context, id int64, now time.Time) (bool, error) {
	won := false
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		it, err := lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if it.Overdue || !slices.Contains(pendingStates, it.State) || it.DueAt.After(now) {
			return nil
		}
		next := it
		next.Overdue, next.OverdueAt = true, &now
		if err := update(ctx, tx, &it, &next, now); err != nil {
			return err
		}
		ev := model.ActionItemEvent{Action: ActOverdue, FromState: it.State, ToState: it.State,
			Note: "截止日期 " + DueDate(it) + " 已过，尚未办结", CreatedAt: now}
		if err := appendEvent(ctx, tx, &next, ev); err != nil {
			return err
		}
		won = true
		return s.notify(ctx, tx, &next, ActOverdue)
	})
	if err != nil {
		return false, fmt.Errorf("mark action item %d overdue: %w", id, err)
	}
	return won, nil
}
