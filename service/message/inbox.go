package message

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// ErrMessageNotFound is any message that is not the caller's.
var ErrMessageNotFound = service.NotFound("message_not_found", "消息不存在")

// Inbox lists the actor's own messages, newest first; unreadOnly keeps
// the unread ones.
func (s *Service) Inbox(ctx context.Context, a *service.Actor, unreadOnly bool, p service.Page) (service.Paged[model.Message], error) {
	if a == nil {
		return service.Paged[model.Message]{}, service.ErrUnauthenticated
	}
	q := s.db.WithContext(ctx).Where("user_id = ?", a.UserID)
	if unreadOnly {
		q = q.Where("read_at IS NULL")
	}
	if p.After > 0 {
		q = q.Where("id < ?", p.After)
	}
	var rows []model.Message
	if err := q.Order("id DESC").Limit(p.Limit + 1).Find(&rows).Error; err != nil {
		return service.Paged[model.Message]{}, fmt.Errorf("list messages: %w", err)
	}
	return service.Cut(rows, p.Limit), nil
}

// UnreadCount counts the actor's unread messages.
func (s *Service) UnreadCount(ctx context.Context, a *service.Actor) (int64, error) {
	if a == nil {
		return 0, service.ErrUnauthenticated
	}
	var n int64
	err := s.db.WithContext(ctx).Model(&model.Message{}).Where("user_id = ? AND read_at IS NULL", a.UserID).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count unread messages: %w", err)
	}
	return n, nil
}

// MarkRead marks one of the actor's messages read (again: a no-op) and
// returns it. Another user's message is not found.
func (s *Service) MarkRead(ctx context.Context, a *service.Actor, id int64) (model.Message, error) {
	if a == nil {
		return model.Message{}, service.ErrUnauthenticated
	}
	var m model.Message
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		now := s.clock.Now().UTC()
		if err := tx.Model(&model.Message{}).Where("id = ? AND user_id = ? AND read_at IS NULL", id, a.UserID).
			Update("read_at", now).Error; err != nil {
			return err
		}
		return tx.Where("id = ? AND user_id = ?", id, a.UserID).Take(&m).Error
	})
	if errors.Is(model.Translate(err), model.ErrNotFound) {
		return model.Message{}, ErrMessageNotFound
	}
	if err != nil {
		return model.Message{}, fmt.Errorf("mark message read: %w", err)
	}
	return m, nil
}

// MarkAllRead marks every unread message of the actor read and says how
// many there were.
func (s *Service) MarkAllRead(ctx context.Context, a *service.Actor) (int64, error) {
	if a == nil {
		return 0, service.ErrUnauthenticated
	}
	res := s.db.WithContext(ctx).Model(&model.Message{}).Where("user_id = ? AND read_at IS NULL", a.UserID).
		Update("read_at", s.clock.Now().UTC())
	if res.Error != nil {
		return 0, fmt.Errorf("mark messages read: %w", res.Error)
	}
	return res.RowsAffected, nil
}
