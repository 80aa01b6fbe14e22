package order

import (
	"context"
	"strings"
	"unicode/utf8"

	"redprop/model"
	"redprop/service"
)

// Timeline actions written by the scheduler.
const (
	evEscalate  = ActEscalate
	evOverdue   = ActOverdue
	evWarning   = ActWarn
	evAutoClose = ActAutoClose
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
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n == 0 || n > 200 {
		return View{}, errEscalateReason
	}
	o, err := s.take(ctx, person(a), orderID, ActEscalate, Input{Reason: reason})
	if err != nil {
		return View{}, err
	}
	v, _, err := s.viewAfterWrite(ctx, a, o, nil)
	return v, err
}

// atTop refuses to escalate an order already at the city.
func atTop(o *model.Order) error {
	if nextLevel(o.Level) == "" {
		return errEscalateTop
	}
	return nil
}

// escalate moves the order one level up. The new level's dispatchers own
// it from now on: an order still waiting for a handler to accept goes back
// to their dispatch queue, and the dispatcher's due date of the old level
// no longer binds. The step clock starts again for the new level.
func (s *Service) escalate(c *act) error {
	o := &c.next
	o.Level = nextLevel(o.Level)
	o.DueAt = nil
	if o.State == model.StateDispatched {
		o.State, o.HandlerKind, o.HandlerID = model.StateVerified, "", 0
	}
	armStep(o, c.cat, c.now, c.cal)
	if c.by.system {
		c.note = "超时自动升级"
	} else {
		c.note = strings.TrimSpace(c.in.Reason)
	}
	c.events = []string{"escalated"}
	return nil
}

// autoClose closes a confirmed order its resident left unrated.
func (s *Service) autoClose(c *act) error {
	now := c.now
	c.next.ClosedAt = &now
	c.note = "逾期未评价，系统自动关闭"
	c.next.State = model.StateClosed
	armStep(&c.next, c.cat, c.now, c.cal)
	return nil
}
