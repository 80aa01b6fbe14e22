package order

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"redprop/model"
)

// The call's clock: while nobody answers, the alert repeats every
// EmergencyRepeat, and after EmergencyEscalateAfter the call goes to the
// street. The scheduler's tick runs it.

// Fallbacks for Options left zero (the configuration's defaults).
const (
	defaultEmergencyRepeat        = 3 * time.Minute
	defaultEmergencyEscalateAfter = 10 * time.Minute
)

// tickEmergency sends unacknowledged calls to the street once they have
// waited EmergencyEscalateAfter, and repeats their alert every
// EmergencyRepeat.
func (s *Service) tickEmergency(ctx context.Context, now time.Time, st *TickStats) error {
	repeat, after := s.opts.EmergencyRepeat, s.opts.EmergencyEscalateAfter
	if repeat <= 0 {
		repeat = defaultEmergencyRepeat
	}
	if after <= 0 {
		after = defaultEmergencyEscalateAfter
	}
	err := eachBatch(func(afterID int64, limit int) ([]model.EmergencyCall, error) {
		return model.CallsToEscalate(ctx, s.db, now.Add(-after), afterID, limit)
	}, callID, func(rows []model.EmergencyCall) error {
		for i := range rows {
			won, err := s.escalateCall(ctx, &rows[i], now)
			if err != nil {
				return fmt.Errorf("escalate call %d: %w", rows[i].ID, err)
			}
			if won {
				st.EmergencyEscalated++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return eachBatch(func(afterID int64, limit int) ([]model.EmergencyCall, error) {
		return model.CallsToRepeat(ctx, s.db, now.Add(-repeat), afterID, limit)
	}, callID, func(rows []model.EmergencyCall) error {
		for i := range rows {
			reached, err := s.repeatAlert(ctx, &rows[i], now)
			if err != nil {
				return fmt.Errorf("repeat alert of call %d: %w", rows[i].ID, err)
			}
			st.EmergencyAlerts += reached
		}
		return nil
	})
}

// repeatAlert alerts the responders again (compare-and-set on the alert
// count, so two schedulers send one repeat).
// It says how many responders it alerted on some channel.
func (s *Service) repeatAlert(ctx context.Context, c *model.EmergencyCall, now time.Time) (int, error) {
	var reached int
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		n, err := model.CountCallAlert(ctx, tx, c.ID, c.AlertCount, now)
		if err != nil || n == 0 {
			return err
		}
		c.AlertCount++
		c.LastAlertAt = now
		o, place, kind, err := s.callContext(ctx, tx, c)
		if err != nil {
			return err
		}
		title := fmt.Sprintf("紧急呼叫仍无人响应（第 %d 次提醒）", c.AlertCount)
		reached, err = s.alert(ctx, tx, c, &o, place, kind, "emergency.repeat", title, false)
		return err
	})
	return reached, err
}

// escalateCall sends an unacknowledged call to the street: the order's
// level becomes street (unless someone raised it higher already) and the
// street's staff are alerted. The call's escalated_at is the
// compare-and-set that makes it happen once.
func (s *Service) escalateCall(ctx context.Context, c *model.EmergencyCall, now time.Time) (bool, error) {
	var won bool
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		n, err := model.EscalateCall(ctx, tx, c.ID, now)
		if err != nil || n == 0 {
			return err
		}
		won = true
		c.EscalatedAt = &now
		o, err := model.LockByID[model.Order](ctx, tx, c.OrderID)
		if err != nil {
			return fmt.Errorf("lock order %d: %w", c.OrderID, err)
		}
		if slices.Index(ladder, o.Level) < slices.Index(ladder, model.OrderLevelStreet) {
			next := o
			next.Level = model.OrderLevelStreet
			m := &move{prev: o, next: next, now: now, action: evEscalate, role: roleSystem, note: "紧急呼叫无人响应，自动升级至街道"}
			if err := s.move(ctx, tx, m); err != nil {
				return err
			}
			o = m.next
		}
		_, place, kind, err := s.callContext(ctx, tx, c)
		if err != nil {
			return err
		}
		_, err = s.alert(ctx, tx, c, &o, place, kind, "emergency.escalated", "紧急呼叫无人响应，已升级至街道", true)
		return err
	})
	return won, err
}

// callContext loads what an alert says: the order number, the address and
// the kind of person.
func (s *Service) callContext(ctx context.Context, tx *gorm.DB, c *model.EmergencyCall) (model.Order, callPlace, string, error) {
	os, err := model.OrderHeads(ctx, tx, []int64{c.OrderID})
	if err != nil {
		return model.Order{}, callPlace{}, "", err
	}
	if len(os) == 0 {
		return model.Order{}, callPlace{}, "", fmt.Errorf("order %d of call %d: %w", c.OrderID, c.ID, model.ErrNotFound)
	}
	vs, err := model.AllByID[model.Vulnerable](ctx, tx, []int64{c.VulnerableID})
	if err != nil {
		return os[0], callPlace{}, "", err
	}
	if len(vs) == 0 {
		return os[0], callPlace{}, "", fmt.Errorf("registration %d of call %d: %w", c.VulnerableID, c.ID, model.ErrNotFound)
	}
	places, err := placesOf(ctx, tx, []int64{c.HouseholdID})
	if err != nil {
		return os[0], callPlace{}, "", err
	}
	return os[0], places[c.HouseholdID], vs[0].Kind, nil
}
