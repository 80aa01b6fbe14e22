package order

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Timeline actions written by the ladder, the scheduler and emergency calls.
const (
	evEscalate  = "escalate"
	evOverdue   = "overdue"
	evWarning   = "warning"
	evAutoClose = "auto_close"
	roleSystem  = "system"
)

// ladder is the 四议 ladder: 小事网格议, 大事社区议, 难事街道议, 特事市级议.
var ladder = []string{model.OrderLevelGrid, model.OrderLevelCommunity, model.OrderLevelStreet, model.OrderLevelCity}

// nextLevel is the level above level ("" at the top).
func nextLevel(level string) string {
	for i, l := range ladder[:len(ladder)-1] {
		if l == level {
			return ladder[i+1]
		}
	}
	return ""
}

// openStates are the states in which someone still has to act on an order
// before the resident rates it; deadlines run and escalation applies only
// there.
var openStates = []string{model.StateSubmitted, model.StateVerified, model.StateDispatched,
	model.StateAccepted, model.StateInProgress, model.StateCompleted}

func isOpen(state string) bool {
	for _, s := range openStates {
		if s == state {
			return true
		}
	}
	return false
}

// levelHolder is the role that owns an order at a level and may escalate
// it by hand.
func levelHolder(level string) string {
	switch level {
	case model.OrderLevelGrid:
		return model.RoleGridWorker
	case model.OrderLevelCommunity:
		return model.RoleCommunityStaff
	case model.OrderLevelStreet:
		return model.RoleStreetStaff
	case model.OrderLevelCity:
		return model.RoleCityStaff
	}
	return ""
}

var (
	errEscalateReason = service.Invalid("reason_required", "请填写升级原因（1 到 200 个字）")
	errEscalateHolder = service.Forbidden("not_level_holder", "只有当前层级（网格、社区、街道）的责任人可以升级该工单")
	errEscalateTop    = service.Unprocessable("top_level", "工单已在市级，无法继续升级")
	errEscalateClosed = service.Unprocessable("order_not_open", "该工单已办结或已关闭，不能升级")
)

// Escalate moves an order one level up the ladder by hand (升级), with a
// reason, at any open state. Only the holders of the current level may:
// grid workers of its grid, community staff of its community, street staff
// of its street. The new level's dispatchers own it and are told.
func (s *Service) Escalate(ctx context.Context, a *service.Actor, orderID int64, reason string) (View, error) {
	// Deadlines may be re-armed inside the transaction: the calendar is
	// read before it (SQLite has one connection).
	ctx, err := s.withCalendar(ctx)
	if err != nil {
		return View{}, err
	}
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > 200 {
		return View{}, errEscalateReason
	}
	o, err := s.order(ctx, s.db, orderID)
	if err != nil {
		return View{}, err
	}
	if !canSee(a, &o) {
		return View{}, errOrderHidden
	}
	role := levelHolder(o.Level)
	if role == "" || !a.Can(service.Target{Kind: "order", ID: o.ID, Ancestry: o.Ancestry}, role) {
		return View{}, errEscalateHolder
	}
	if nextLevel(o.Level) == "" {
		return View{}, errEscalateTop
	}
	if !isOpen(o.State) {
		return View{}, errEscalateClosed
	}
	var cat model.Category
	if err := s.db.WithContext(ctx).Take(&cat, o.CategoryID).Error; err != nil {
		return View{}, fmt.Errorf("category of order %d: %w", o.ID, err)
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		won, err := s.raise(ctx, tx, &o, cat, now, a.UserID, role, reason)
		if err == nil && !won {
			cur, err := s.order(ctx, tx, orderID)
			if err != nil {
				return err
			}
			return conflict(cur)
		}
		return err
	})
	if err != nil {
		return View{}, err
	}
	v, _, err := s.viewAfterWrite(ctx, a, o, nil)
	return v, err
}

// raise moves o one level up inside tx as a compare-and-set on its id,
// version, state and level; false means someone else changed it first.
// The new level's dispatchers own it from now on: an order still waiting
// for a handler to accept goes back to their dispatch queue, and the
// dispatcher's due date of the old level no longer binds. The step clock
// starts again for the new level.
func (s *Service) raise(ctx context.Context, tx *gorm.DB, o *model.Order, cat model.Category, now time.Time, actorID int64, role, note string) (bool, error) {
	to := nextLevel(o.Level)
	if to == "" {
		return false, errEscalateTop
	}
	prev := *o
	o.Level = to
	o.DueAt = nil
	if o.State == model.StateDispatched {
		o.State, o.HandlerKind, o.HandlerID = model.StateVerified, "", 0
	}
	if err := s.armStep(ctx, o, cat, now); err != nil {
		return false, err
	}
	won, err := s.saveLadder(ctx, tx, &prev, o, now)
	if err != nil || !won {
		*o = prev
		return false, err
	}
	ev := model.OrderEvent{Action: evEscalate, ActorID: actorID, Role: role, FromState: prev.State,
		FromLevel: prev.Level, Note: note, CreatedAt: now}
	if err := s.appendEvent(tx, o, ev); err != nil {
		return false, err
	}
	return true, s.notify(ctx, tx, o, "escalated")
}

// saveLadder writes the fields the ladder and the scheduler change, if the
// row still has prev's version, state and level, and bumps the version.
func (s *Service) saveLadder(ctx context.Context, tx *gorm.DB, prev, o *model.Order, now time.Time) (bool, error) {
	o.Version = prev.Version + 1
	o.UpdatedAt = now
	res := tx.WithContext(ctx).Model(&model.Order{}).
		Where("id = ? AND version = ? AND state = ? AND level = ?", prev.ID, prev.Version, prev.State, prev.Level).
		Updates(map[string]any{
			"state": o.State, "level": o.Level, "handler_kind": o.HandlerKind, "handler_id": o.HandlerID,
			"due_at": o.DueAt, "step_started_at": o.StepStartedAt, "step_deadline": o.StepDeadline,
			"paused_at": o.PausedAt, "pause_reason": o.PauseReason, "warned_at": o.WarnedAt,
			"overdue": o.Overdue, "completed_at": o.CompletedAt, "closed_at": o.ClosedAt, "version": o.Version, "updated_at": now,
		})
	if res.Error != nil {
		return false, fmt.Errorf("update order %d: %w", prev.ID, res.Error)
	}
	return res.RowsAffected == 1, nil
}
