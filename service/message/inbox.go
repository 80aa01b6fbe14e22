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
	rows, err := model.Inbox(ctx, s.db, a.UserID, unreadOnly, p.After, p.Limit+1)
	if err != nil {
		return service.Paged[model.Message]{}, fmt.Errorf("list messages: %w", err)
	}
	return service.Cut(rows, p.Limit), nil
}

// UnreadCount counts the actor's unread messages.
func (s *Service) UnreadCount(ctx context.Context, a *service.Actor) (int64, error) {
	if a == nil {
		return 0, service.ErrUnauthenticated
	}
	n, err := model.CountUnread(ctx, s.db, a.UserID)
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
		if err := model.MarkRead(ctx, tx, id, a.UserID, s.clock.Now().UTC()); err != nil {
			return err
		}
		var err error
		m, err = model.MessageOf(ctx, tx, id, a.UserID)
		return err
	})
	if errors.Is(err, model.ErrNotFound) {
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
	n, err := model.MarkAllRead(ctx, s.db, a.UserID, s.clock.Now().UTC())
	if err != nil {
		return 0, fmt.Errorf("mark messages read: %w", err)
	}
	return n, nil
}
