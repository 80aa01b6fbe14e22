package message

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
)

// How an emergency alert reaches a person. A one-time subscribe
// allowance is one channel among several: the service account's template
// messages need none, and a text message needs only the phone the person
// registered with. Reach says which of them work for someone right now;
// the emergency code goes on to the next responder when none does, and
// an urgent event is published once per channel that works.

// Reach says, per user, the channels an urgent push of kind can reach
// them on now, in the order they are written: the service account (no
// quota), the mini-program (an allowance left, the emergency's reserve
// included, or a long-term template allowed), SMS (a phone on file).
// Users reachable on none are absent.
func (s *Service) Reach(ctx context.Context, db *gorm.DB, kind string, userIDs []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	for _, uid := range userIDs {
		chs, err := s.reach(ctx, db, kind, uid)
		if err != nil {
			return nil, err
		}
		if len(chs) > 0 {
			out[uid] = chs
		}
	}
	return out, nil
}

func (s *Service) reach(ctx context.Context, db *gorm.DB, kind string, userID int64) ([]string, error) {
	var chs []string
	if s.oaReady(kind) {
		openID, err := linkedOpenID(ctx, db, userID)
		if err != nil {
			return nil, err
		}
		if openID != "" {
			chs = append(chs, model.ChannelOA)
		}
	}
	if ok, err := s.mpReachable(ctx, db, kind, userID); err != nil {
		return nil, err
	} else if ok {
		chs = append(chs, model.ChannelMP)
	}
	if s.smsReady() {
		phone, err := phoneOf(ctx, db, userID)
		if err != nil {
			return nil, err
		}
		if phone != "" {
			chs = append(chs, model.ChannelSMS)
		}
	}
	return chs, nil
}

func (s *Service) oaReady(kind string) bool {
	return s.cfg.OAEnabled && s.cfg.OATemplates[kind].ID != "" && (s.oa != nil || s.cfg.Sandbox)
}

func (s *Service) smsReady() bool {
	return s.cfg.SMSEnabled && s.cfg.SMSTemplate.Code != "" && (s.cfg.SMS != nil || s.cfg.Sandbox)
}

// mpReachable: the user logged in to the mini-program and has allowed the
// kind's template (an allowance left, or a long-term one not turned off).
func (s *Service) mpReachable(ctx context.Context, db *gorm.DB, kind string, userID int64) (bool, error) {
	tpl := s.cfg.Templates[kind]
	if tpl.ID == "" {
		return false, nil
	}
	openID, err := s.openIDs.of(ctx, db, userID)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return false, err
	}
	if openID == "" {
		return false, nil
	}
	q, err := model.QuotaOf(ctx, db, userID, tpl.ID)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case q.Off:
		return false, nil
	case tpl.LongTerm:
		return q.AcceptedAt != nil, nil
	}
	return q.Remaining > 0, nil
}

func phoneOf(ctx context.Context, db *gorm.DB, userID int64) (string, error) {
	u, err := model.ByID[model.User](ctx, db, userID)
	if errors.Is(err, model.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read phone: %w", err)
	}
	return u.Phone, nil
}

// publishUrgent writes the inbox message of every recipient and one
// outbox row per channel Reach finds for each, with priority so that they
// are claimed before any backlog. The mini-program's row keeps the
// event's key; the others append their channel.
func (s *Service) publishUrgent(ctx context.Context, tx *gorm.DB, ev Event, users []int64, raw string, due time.Time) error {
	reach, err := s.Reach(ctx, tx, ev.Kind, users)
	if err != nil {
		return fmt.Errorf("message: reach: %w", err)
	}
	var rows []model.Outbox
	for _, uid := range users {
		for _, ch := range reach[uid] {
			key := ev.Key
			if ch != model.ChannelMP {
				key += "@" + ch
			}
			rows = append(rows, model.Outbox{
				UserID: uid, EventKey: key, Channel: ch, Kind: ev.Kind, Event: ev.Event, OrderID: ev.OrderID,
				Payload: raw, CancelKey: ev.CancelKey, Priority: priorityUrgent, State: model.OutboxPending, DueAt: due,
			})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := model.InsertOutbox(ctx, tx, rows); err != nil {
		return fmt.Errorf("message: write outbox: %w", err)
	}
	return nil
}

// priorityUrgent is the claim priority of emergency alerts.
const priorityUrgent = 1
