package message

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/wechat"
)

// The plain pushes of a claimed batch (routine ones to the mini-program on
// a long-term template: no quota to take, routed by the openid alone, a
// meeting's thousands of notices and reminders) are started together and
// their successes recorded together. Per batch: one read of the openids,
// one statement that moves them from claimed to sending with their routes
// (in one transaction with the inbox messages of those that were
// scheduled), the calls, and one statement that records every success.
// A crash between a call and the batch's record leaves the row sending,
// as a crash between one push's call and its own record does: its lease
// runs out and it is unknown, reconciled by its kind. A row started but
// not yet sent when the worker stops goes back to the queue.

// batch is what startBatch began and the lanes share.
type batch struct {
	started map[int64]*prepared // by outbox id; done: not ours any more
	crashed atomic.Bool         // the test hook stopped a lane dead

	mu     sync.Mutex
	sent   []int64 // ids of rows WeChat accepted, not yet recorded
	msgIDs []string
}

func (b *batch) succeeded(id int64, msgID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent, b.msgIDs = append(b.sent, id), append(b.msgIDs, msgID)
}

// plain reports whether row can start with its batch.
func (s *Service) plain(row *model.Outbox) bool {
	tpl := s.cfg.Templates[row.Kind]
	return s.routedByOpenID(row) && tpl.LongTerm && tpl.ID != ""
}

// startBatch moves the plain rows of rows (whose users have an openid)
// from claimed to sending, counting the attempt in rows, and prepares
// their messages. The other rows are left to deliver, one by one.
func (s *Service) startBatch(ctx context.Context, owner string, rows []model.Outbox) (*batch, error) {
	b := &batch{started: map[int64]*prepared{}}
	var users []int64
	for i := range rows {
		if s.plain(&rows[i]) {
			users = append(users, rows[i].UserID)
		}
	}
	if len(users) == 0 {
		return b, nil
	}
	openIDs, err := model.OpenIDsOf(ctx, s.db, users)
	if err != nil {
		return nil, fmt.Errorf("read openids: %w", err)
	}
	var (
		routes []model.OutboxRoute
		pls    = map[int64]payload{}
		inbox  bool
	)
	for i := range rows {
		r := &rows[i]
		openID := openIDs[r.UserID]
		if !s.plain(r) || openID == "" {
			continue // prepare skips a user without an openid
		}
		var pl payload
		if err := json.Unmarshal([]byte(r.Payload), &pl); err != nil {
			continue // prepare fails it the usual way
		}
		pls[r.ID] = pl
		routes = append(routes, model.OutboxRoute{ID: r.ID, ToUser: openID, TemplateID: s.cfg.Templates[r.Kind].ID})
		inbox = inbox || r.InboxPending
	}
	if len(routes) == 0 {
		return b, nil
	}
	start := func(db *gorm.DB) ([]int64, error) {
		n, err := model.StartRoutedOutboxes(ctx, db, routes, owner, outboxClaimed, model.OutboxSending,
			s.clock.Now().UTC().Add(s.cfg.Lease), model.ChannelMP)
		if err != nil {
			return nil, err
		}
		ids := make([]int64, len(routes))
		for i, r := range routes {
			ids[i] = r.ID
		}
		if int(n) == len(routes) {
			return ids, nil
		}
		// Some were cancelled or lost their lease meanwhile.
		return model.HeldOutboxIDs(ctx, db, ids, owner, model.OutboxSending)
	}
	var moved []int64
	if !inbox {
		for range txAttempts {
			if moved, err = start(s.db); !model.IsDeadlock(err) {
				break
			}
		}
	} else {
		// Scheduled events write their inbox message as they start.
		err = model.InTxRetry(ctx, s.db, txAttempts, func(tx *gorm.DB) error {
			var err error
			if moved, err = start(tx); err != nil {
				return err
			}
			in := make(map[int64]bool, len(moved))
			for _, id := range moved {
				in[id] = true
			}
			var msgs []model.Message
			for _, r := range rows {
				if in[r.ID] && r.InboxPending {
					pl := pls[r.ID]
					msgs = append(msgs, newMessage(r.UserID, r.Kind, r.Event, r.EventKey, pl.Title, pl.Body, r.OrderID))
				}
			}
			if err := model.InsertMessages(ctx, tx, msgs); err != nil {
				return fmt.Errorf("write inbox: %w", err)
			}
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("start %d outbox rows: %w", len(routes), err)
	}
	in := make(map[int64]bool, len(moved))
	for _, id := range moved {
		in[id] = true
	}
	for _, rt := range routes {
		b.started[rt.ID] = &prepared{done: true} // taken by another worker or withdrawn
	}
	for i := range rows {
		r := &rows[i]
		if !in[r.ID] {
			continue
		}
		r.Attempts++
		r.InboxPending = false
		tpl := s.cfg.Templates[r.Kind]
		data, page := tpl.render(pls[r.ID], r.OrderID)
		b.started[r.ID] = &prepared{msg: wechat.SubscribeMessage{ToUser: openIDs[r.UserID], TemplateID: tpl.ID, Page: page, Data: data}}
	}
	return b, nil
}

// sendStarted sends a row startBatch began. A success waits for the
// batch's record; any other answer is recorded at once, as deliver would.
func (s *Service) sendStarted(ctx context.Context, owner string, row model.Outbox, p *prepared, b *batch, st *Stats) error {
	if p.done {
		return nil
	}
	// As in deliver: a call under way finishes when the worker is stopped.
	msgID, sendErr := s.sendSubscribe(context.WithoutCancel(ctx), p.msg)
	if s.afterSend != nil && s.afterSend(row) {
		b.crashed.Store(true)
		return errCrashed
	}
	if sendErr == nil {
		b.succeeded(row.ID, msgID)
		return nil
	}
	rec := context.WithoutCancel(ctx)
	var t tally
	if err := model.InTxRetry(rec, s.db, txAttempts, func(tx *gorm.DB) error {
		t = tally{}
		return s.record(rec, tx, owner, row, *p, sendErr, &t)
	}); err != nil {
		return fmt.Errorf("record outbox row %d: %w", row.ID, err)
	}
	s.count(t, st)
	return nil
}

// recordSent records the batch's successes in one statement, even when
// the worker is being stopped. Nothing is recorded after a crash.
func (s *Service) recordSent(ctx context.Context, owner string, b *batch, st *Stats) error {
	if b.crashed.Load() || len(b.sent) == 0 {
		return nil
	}
	rec := context.WithoutCancel(ctx)
	now := s.clock.Now().UTC()
	var (
		n   int64
		err error
	)
	for range txAttempts {
		n, err = model.RecordSentOutboxes(rec, s.db, b.sent, b.msgIDs, owner,
			[]string{model.OutboxSending, model.OutboxUnknown, model.OutboxFailed}, now)
		if !model.IsDeadlock(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("record %d sent outbox rows: %w", len(b.sent), err)
	}
	if int(n) < len(b.sent) {
		s.log.WarnContext(ctx, "outbox rows taken by another worker before their outcome was recorded",
			"rows", len(b.sent)-int(n), "outcome", model.OutboxSent)
	}
	sent := int64(len(b.sent))
	st.Sent += int(sent)
	s.metrics.add(func(c *counters) { c.sent += sent; c.sentBy[model.ChannelMP] += sent })
	return nil
}

// startedRow is the row id as the batch started it (b may be nil).
func (b *batch) startedRow(id int64) (*prepared, bool) {
	if b == nil {
		return nil, false
	}
	p, ok := b.started[id]
	return p, ok
}
