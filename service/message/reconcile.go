package message

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/wechat"
)

// What the worker does about pushes whose outcome was lost, and about the
// rows of workers that are gone (worker.go's state diagram).

// EmergencyEventPrefix starts the events of emergency alerts
// (emergency.call, emergency.repeat, emergency.escalated): sent again
// when their outcome was lost, whatever their kind's rule.
const EmergencyEventPrefix = "emergency."

// maxInstance bounds Config.Instance: a claim token is the instance, a dot
// and 24 hex digits, in a 40-character column.
const maxInstance = 15

// instanceName keeps LIKE wildcards out of the instance's claim tokens.
var instanceName = regexp.MustCompile(`^[A-Za-z0-9-]*$`)

// IDSender is a Sender that also returns the msgid WeChat answered the
// push with, which its delivery event names. *wechat.Client implements
// it; the worker stores the msgid when the Sender does.
type IDSender interface {
	SendSubscribeID(ctx context.Context, m wechat.SubscribeMessage) (msgID string, err error)
}

func (s *Service) sendSubscribe(ctx context.Context, m wechat.SubscribeMessage) (string, error) {
	if ids, ok := s.wx.(IDSender); ok {
		return ids.SendSubscribeID(ctx, m)
	}
	return "", s.wx.SendSubscribe(ctx, m)
}

func (s *Service) ownerPrefix() string {
	if s.cfg.Instance == "" {
		return ""
	}
	return s.cfg.Instance + "."
}

// unknownOutcome is a row whose outcome was lost: it waits ReconcileAfter
// for the delivery event before resendUnknown looks at it.
func (s *Service) unknownOutcome(now time.Time, code, msg string) model.OutboxOutcome {
	return model.OutboxOutcome{State: model.OutboxUnknown, DueAt: now.Add(s.cfg.ReconcileAfter), LastCode: code, LastError: msg}
}

// resendUnknown puts back in the queue the unknown rows whose reconcile
// window is over and whose rule is to send again.
func (s *Service) resendUnknown(ctx context.Context, now time.Time, st *Stats) error {
	// Rows left unknown before this version kept no msgid and met no
	// delivery event: they may have arrived, and stay unknown.
	since, err := model.MigratedAt(ctx, s.db, model.ReconcileVersion)
	if err != nil {
		return fmt.Errorf("read the reconcile step: %w", err)
	}
	skip := ""
	if s.cfg.SentEvents {
		if err := s.resendUnreached(ctx, now, since, st); err != nil {
			return err
		}
		skip = model.ChannelMP // settled above, with their quota given back
	}
	var kinds []string
	for _, kind := range Kinds() {
		if s.cfg.Templates[kind].ResendUnknown {
			kinds = append(kinds, kind)
		}
	}
	n, err := model.ResendUnknownOutbox(ctx, s.db,
		model.OutboxResend{Now: now, Kinds: kinds, EventPrefix: EmergencyEventPrefix, Events: !s.cfg.EmergencyKeepUnknown,
			Since: since, SkipChannel: skip},
		model.OutboxOutcome{State: model.OutboxFailed, LastCode: "reconcile_resend",
			LastError: "no delivery event within the reconcile window; sent again by policy"})
	if err != nil {
		return fmt.Errorf("resend unknown pushes: %w", err)
	}
	st.Requeued += int(n)
	s.metrics.add(func(c *counters) { c.requeued += n })
	return nil
}

// resendUnreached sends again the mini-program pushes that had no
// delivery event within the window: with SentEvents, WeChat tells of
// every push it took, so these never reached it, and no duplicate is
// possible. The unit of quota each took is given back first.
func (s *Service) resendUnreached(ctx context.Context, now, since time.Time, st *Stats) error {
	rows, err := model.DueUnknownOutbox(ctx, s.db, model.ChannelMP, now, since, s.cfg.BatchSize)
	if err != nil {
		return fmt.Errorf("list unreached pushes: %w", err)
	}
	for _, row := range rows {
		var n int64
		err := model.InTxRetry(ctx, s.db, txAttempts, func(tx *gorm.DB) error {
			var err error
			n, err = model.SettleOutbox(ctx, tx, row.ID, model.OutboxUnknown, model.OutboxOutcome{State: model.OutboxFailed,
				DueAt: now, LastCode: "not_reached", LastError: "no delivery event within the reconcile window; sent again"})
			if err != nil || n == 0 || row.TemplateID == "" || s.cfg.Templates[row.Kind].LongTerm {
				return err
			}
			return model.RefundQuota(ctx, tx, row.UserID, row.TemplateID)
		})
		if err != nil {
			return fmt.Errorf("resend unreached push %d: %w", row.ID, err)
		}
		st.Requeued += int(n)
		s.metrics.add(func(c *counters) { c.requeued += n })
	}
	return nil
}

// heartbeat renews the lease of owner's rows every third of the lease
// until the returned stop is called, so that a slow send keeps its row
// and only a worker that is gone loses it.
func (s *Service) heartbeat(ctx context.Context, owner string) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(max(s.cfg.Lease/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			until := s.clock.Now().UTC().Add(s.cfg.Lease)
			if _, err := model.RenewOutbox(ctx, s.db, owner, []string{outboxClaimed, model.OutboxSending}, until); err != nil && ctx.Err() == nil {
				s.log.WarnContext(ctx, "renew outbox leases", "err", err)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// releaseHeld frees, without waiting for their leases, the rows that an
// earlier process of this instance held when it died: claimed rows go back
// to the queue, sending rows are unknown (and reconciled as such).
func (s *Service) releaseHeld(ctx context.Context) (Stats, error) {
	var st Stats
	prefix := s.ownerPrefix()
	if prefix == "" {
		return st, nil
	}
	now := s.clock.Now().UTC()
	back, err := model.ReturnHeldOutbox(ctx, s.db, prefix, outboxClaimed, model.OutboxPending)
	if err != nil {
		return st, fmt.Errorf("release claimed rows of instance %s: %w", s.cfg.Instance, err)
	}
	u, err := model.LapseHeldOutbox(ctx, s.db, prefix, model.OutboxSending, s.unknownOutcome(now, "restarted",
		"worker restarted while sending; outcome unknown"))
	if err != nil {
		return st, fmt.Errorf("release sending rows of instance %s: %w", s.cfg.Instance, err)
	}
	st.Requeued, st.Unknown = int(back), int(u)
	s.metrics.add(func(c *counters) { c.unknown += u; c.requeued += back })
	if back+u > 0 {
		s.log.InfoContext(ctx, "released the outbox rows of the previous process", "instance", s.cfg.Instance,
			"requeued", back, "unknown", u)
	}
	return st, nil
}

// applySent settles the row one item of subscribe_msg_sent_event tells
// of: one whose outcome we do not know (unknown, or sending: the event may
// come before the worker records the answer, or after it died), or one we
// recorded as sent. WeChat's word wins over a worker still at the row.
func (s *Service) applySent(ctx context.Context, tx *gorm.DB, userID int64, openID string, it pushItem) error {
	msgID := strings.TrimSpace(string(it.MsgID))
	row, err := model.SentEventOutbox(ctx, tx, openID, it.TemplateID, msgID)
	if errors.Is(err, model.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if row.State != model.OutboxUnknown && row.State != model.OutboxSending && row.State != model.OutboxSent {
		return nil
	}
	now := s.clock.Now().UTC()
	code := strings.TrimSpace(string(it.ErrorCode))
	out := model.OutboxOutcome{MsgID: msgID, LastCode: "delivered"}
	refund := false
	switch {
	case code == "" || code == "0":
		if row.State == model.OutboxSent {
			return nil // recorded from WeChat's answer already
		}
		out.State, out.SentAt = model.OutboxSent, &now
		if row.State == model.OutboxUnknown { // a live worker counts its own
			s.metrics.add(func(c *counters) { c.sent++; c.sentBy[model.ChannelMP]++ })
		}
	case it.ErrorStatus == "fail_user_refuse":
		// The user refused (turned it off) before it arrived.
		out.State, out.SkipReason = model.OutboxSkipped, SkipTemplateOff
		out.LastCode, out.LastError = "sent_event_"+code, it.ErrorStatus
		s.metrics.add(func(c *counters) { c.skipped[SkipTemplateOff]++ })
	default:
		// WeChat failed to deliver it: nothing reached the user, so it is
		// sent again, and the unit of quota it took is theirs again.
		out.State, out.DueAt = model.OutboxFailed, now
		out.LastCode, out.LastError = "sent_event_"+code, it.ErrorStatus
		refund = !s.cfg.Templates[row.Kind].LongTerm
		s.metrics.add(func(c *counters) { c.requeued++ })
	}
	n, err := model.SettleOutbox(ctx, tx, row.ID, row.State, out)
	if err != nil || n == 0 {
		return err
	}
	if refund {
		return model.RefundQuota(ctx, tx, userID, it.TemplateID)
	}
	return nil
}
