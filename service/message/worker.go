package message

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/wechat"
)

// A row's way through the outbox:
//
//	pending/failed --claim--> claimed --just before the call--> sending --> sent | skipped | failed | dead | unknown
//	unknown/sending --delivery event--> sent | skipped | failed
//	unknown --ReconcileAfter, resending kind--> failed (due at once)
//
// A claimed row has not reached WeChat: when its lease runs out it simply
// goes back to the queue. A sending row may have: WeChat's send API has no
// idempotency key, so one whose lease runs out, like a send that timed
// out, is unknown. Leases are short (Config.Lease) and renewed by a
// heartbeat while the worker holds the row, so only a worker that is gone
// (or cut off from the database) loses its rows, and a restarted instance
// releases at once what its dead predecessor held (Config.Instance).
//
// An unknown row waits ReconcileAfter for WeChat's delivery event
// (subscribe_msg_sent_event, matched by msgid or, for a send whose answer
// was lost or not yet recorded, by openid and template): success makes it
// sent, a refusal by the user skipped, a system failure failed and due at
// once (nothing reached the user, so no duplicate is possible). With
// SentEvents (the callback gets every event), no event by then means the
// push never reached WeChat: failed and due at once, for every kind.
// Otherwise a duplicate and a loss are the only choices, and the rule is
// per kind:
//
//	emergency alerts (events emergency.*): sent again (EmergencyKeepUnknown turns it off)
//	rating requests:                       sent again (Template.ResendUnknown)
//	new reports, progress, meetings:       kept unknown: the inbox message, written with
//	                                       the event, still tells the user; a duplicate
//	                                       would spend a second unit of their quota
//
// A late event still settles a row kept unknown. Every move is a
// compare-and-set on the row's state (and owner, once claimed): a worker
// that lost its row changes nothing.
const outboxClaimed = model.OutboxClaimed

// Reasons a push is skipped.
const (
	SkipNoQuota       = "no_quota"       // no accept left for the template (or 43101)
	SkipNoOpenID      = "no_openid"      // the user never logged in through the mini-program
	SkipTemplateOff   = "template_off"   // the user turned the template off in WeChat's settings
	SkipNotConfigured = "not_configured" // the kind has no template id
	SkipSandbox       = "sandbox"        // recorded in sandbox_pushes instead
	// SkipNotFollowing: the user stopped following the service account
	// (43004); they are unlinked and get the mini-program's pushes again.
	SkipNotFollowing = "not_following"
)

// WeChat's send errors that no retry can fix (48001: the app lacks the
// permission, e.g. a service account without template messages).
var permanentCodes = map[int]bool{40003: true, 40037: true, 41030: true, 47001: true, 47003: true, 48001: true}

const codeNoQuota = 43101

// Stats say what one DeliverOnce did.
type Stats struct {
	Claimed  int // rows taken from the queue
	Sent     int
	Skipped  int
	Failed   int // to be tried again
	Dead     int
	Unknown  int // outcome lost: sending rows whose lease ran out, and timeouts
	Requeued int // rows returned to the queue (leases of claimed rows, ResendUnknown kinds)
}

// errCrashed is how the test hook stops a worker dead.
var errCrashed = errors.New("message: worker crashed (test hook)")

// Run delivers the outbox every interval until ctx ends, after releasing
// what an earlier process of this instance held. (Queued texts are
// re-checked by Recheck.Run.)
func (s *Service) Run(ctx context.Context, every time.Duration) {
	if _, err := s.releaseHeld(ctx); err != nil {
		service.LogPass(ctx, s.log, "outbox release at start", err)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			st, err := s.DeliverOnce(ctx)
			if err != nil {
				service.LogPass(ctx, s.log, "outbox delivery", err)
				break
			}
			if st.Claimed < s.cfg.BatchSize {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverOnce expires lost leases, claims one batch of due rows and
// delivers it. Several workers (instances) may run it at once: a claim is
// atomic and every later step compares the row's owner and state.
func (s *Service) DeliverOnce(ctx context.Context) (Stats, error) {
	var st Stats
	now := s.clock.Now().UTC()
	if err := s.expireLeases(ctx, now, &st); err != nil {
		return st, err
	}
	owner, rows, err := s.claim(ctx, now)
	if err != nil {
		return st, err
	}
	st.Claimed = len(rows)
	if len(rows) == 0 {
		return st, nil
	}
	defer s.heartbeat(ctx, owner)()
	b, err := s.startBatch(ctx, owner, rows)
	if err != nil {
		return st, errors.Join(err, s.release(ctx, owner, rows, nil))
	}
	lanes := min(s.cfg.SendLanes, len(rows))
	if lanes <= 1 {
		err := s.deliverLane(ctx, owner, rows, b, &st)
		return st, errors.Join(err, s.recordSent(ctx, owner, b, &st))
	}
	// WeChat answers in tens of milliseconds: lanes send side by side.
	// All rows of one user stay in one lane, in order.
	parts := make([][]model.Outbox, lanes)
	for _, r := range rows {
		i := int(r.UserID % int64(lanes))
		parts[i] = append(parts[i], r)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, part := range parts {
		if len(part) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ls Stats
			err := s.deliverLane(ctx, owner, part, b, &ls)
			mu.Lock()
			defer mu.Unlock()
			st.add(ls)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	errs = append(errs, s.recordSent(ctx, owner, b, &st))
	return st, errors.Join(errs...)
}

// deliverLane delivers rows one after the other (those the batch started
// are only sent); on an error (or when ctx ends) the rest go back to the
// queue.
func (s *Service) deliverLane(ctx context.Context, owner string, rows []model.Outbox, b *batch, st *Stats) error {
	for i, row := range rows {
		if b.crashed.Load() {
			return errCrashed // another lane's crash stops every lane
		}
		if ctx.Err() != nil {
			// Rows not yet at WeChat go back to the queue at once rather
			// than waiting out their lease.
			return s.release(ctx, owner, rows[i:], b)
		}
		var err error
		if p, ok := b.started[row.ID]; ok {
			err = s.sendStarted(ctx, owner, row, p, b, st)
		} else {
			err = s.deliver(ctx, owner, row, st)
		}
		if err != nil {
			if errors.Is(err, errCrashed) {
				return err
			}
			return errors.Join(err, s.release(ctx, owner, rows[i+1:], b))
		}
	}
	return nil
}

// expireLeases returns claimed rows whose worker vanished to the queue and
// settles sending rows whose worker vanished between the call and its
// record.
//
// Each is one statement over the lapsed rows; a deadlock with a worker
// settling one of them (MariaDB locks the row by its index and by its
// key in either order) rolls it back whole, and it runs again.
func (s *Service) expireLeases(ctx context.Context, now time.Time, st *Stats) error {
	var back, u int64
	var err error
	for range txAttempts {
		if back, err = model.ReturnLapsedOutbox(ctx, s.db, outboxClaimed, model.OutboxPending, now); !model.IsDeadlock(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("expire claims: %w", err)
	}
	st.Requeued += int(back)

	// All kinds wait for the delivery event first; resendUnknown then
	// applies the per-kind rule.
	outcome := s.unknownOutcome(now, "lease_expired", "worker stopped while sending; outcome unknown")
	for range txAttempts {
		if u, err = model.LapseOutbox(ctx, s.db, model.OutboxSending, Kinds(), now, outcome); !model.IsDeadlock(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("expire sending leases: %w", err)
	}
	st.Unknown += int(u)
	s.metrics.add(func(c *counters) { c.unknown += u })
	return s.resendUnknown(ctx, now, st)
}

// newOwner is a fresh claim token, named after the instance (so that its
// successor can release it).
func (s *Service) newOwner() string {
	var b [12]byte
	if _, err := crand.Read(b[:]); err != nil {
		panic(err)
	}
	return s.ownerPrefix() + hex.EncodeToString(b[:])
}

// claim takes one batch of due rows for a new owner token: concurrent
// workers take disjoint rows without waiting (model.ClaimOutbox).
func (s *Service) claim(ctx context.Context, now time.Time) (string, []model.Outbox, error) {
	owner := s.newOwner()
	rows, err := model.ClaimOutbox(ctx, s.db, model.OutboxClaim{Owner: owner, From: []string{model.OutboxPending, model.OutboxFailed},
		To: outboxClaimed, Now: now, LeaseUntil: now.Add(s.cfg.Lease), Limit: s.cfg.BatchSize})
	if err != nil {
		return "", nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	if s.onClaim != nil && len(rows) > 0 {
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		s.onClaim(owner, ids)
	}
	return owner, rows, nil
}

// release gives rows this worker will not send back to the queue, even
// when ctx has ended (which is when it is called): claimed ones, and those
// the batch b (nil: none) started but did not send.
func (s *Service) release(ctx context.Context, owner string, rows []model.Outbox, b *batch) error {
	var claimed, started []int64
	for _, r := range rows {
		if p, ok := b.startedRow(r.ID); !ok {
			claimed = append(claimed, r.ID)
		} else if !p.done {
			started = append(started, r.ID)
		}
	}
	ctx = context.WithoutCancel(ctx)
	_, err := model.ReturnOutbox(ctx, s.db, claimed, owner, outboxClaimed, model.OutboxPending)
	_, err2 := model.ReturnOutbox(ctx, s.db, started, owner, model.OutboxSending, model.OutboxPending)
	return errors.Join(err, err2)
}

// outcome of the step before the call.
type prepared struct {
	msg      wechat.SubscribeMessage
	oa       *wechat.TemplateMessage // set: goes to the service account instead
	sms      *smsMessage             // set: goes as a text (emergency rows)
	consumed bool                    // one unit of quota was taken
	done     bool                    // the row is settled (skipped) or no longer ours
	msgID    string                  // WeChat's msgid of the push, once sent
}

// txAttempts bounds the runs of one delivery transaction that MySQL picks
// as a deadlock victim (rolled back whole, so safe to run again).
const txAttempts = 3

// tally is what one delivery transaction counts. It is applied once the
// transaction commits, so that a deadlock victim run again counts once.
type tally struct {
	st    Stats
	bumps []func(c *counters)
}

func (t *tally) bump(f func(c *counters)) { t.bumps = append(t.bumps, f) }

func (st *Stats) add(o Stats) {
	st.Claimed += o.Claimed
	st.Sent += o.Sent
	st.Skipped += o.Skipped
	st.Failed += o.Failed
	st.Dead += o.Dead
	st.Unknown += o.Unknown
	st.Requeued += o.Requeued
}

func (s *Service) count(t tally, st *Stats) {
	st.add(t.st)
	s.metrics.add(func(c *counters) {
		for _, f := range t.bumps {
			f(c)
		}
	})
}

// deliver takes one claimed row through WeChat.
func (s *Service) deliver(ctx context.Context, owner string, row model.Outbox, st *Stats) error {
	var (
		p    prepared
		t    tally
		sent model.Outbox // the row as prepare leaves it (one more attempt)
	)
	if err := model.InTxRetry(ctx, s.db, txAttempts, func(tx *gorm.DB) error {
		sent, t = row, tally{}
		var err error
		p, err = s.prepare(ctx, tx, owner, &sent, &t)
		return err
	}); err != nil {
		return fmt.Errorf("prepare outbox row %d: %w", row.ID, err)
	}
	s.count(t, st)
	row = sent
	if p.done {
		return nil
	}
	// A call under way finishes (within the client's own timeout) even
	// when the worker is being stopped: cut off, its outcome would be
	// unknown and the push lost under the default policy.
	var sendErr error
	sendCtx := context.WithoutCancel(ctx)
	if p.oa != nil {
		sendErr = s.oa.SendTemplate(sendCtx, *p.oa)
	} else if p.sms != nil {
		sendErr = s.sendSMS(sendCtx, p.sms)
	} else {
		p.msgID, sendErr = s.sendSubscribe(sendCtx, p.msg)
	}
	if s.afterSend != nil && s.afterSend(row) {
		return errCrashed
	}
	// The answer must be recorded even when the worker is being stopped.
	// A success is one statement, atomic without a transaction of its own
	// (a deadlock victim runs again); the other outcomes write more.
	rec := context.WithoutCancel(ctx)
	var err2 error
	if sendErr == nil {
		for i := 0; i < txAttempts; i++ {
			t = tally{}
			if err2 = s.record(rec, s.db, owner, row, p, nil, &t); !model.IsDeadlock(err2) {
				break
			}
		}
	} else {
		err2 = model.InTxRetry(rec, s.db, txAttempts, func(tx *gorm.DB) error {
			t = tally{}
			return s.record(rec, tx, owner, row, p, sendErr, &t)
		})
	}
	if err := err2; err != nil {
		return fmt.Errorf("record outbox row %d: %w", row.ID, err)
	}
	s.count(t, st)
	return nil
}

// prepare runs in one short transaction before the call: it turns the row
// from claimed to sending with a fresh lease, writes a scheduled event's
// inbox message, and settles the row as skipped when it cannot be sent.
func (s *Service) prepare(ctx context.Context, tx *gorm.DB, owner string, row *model.Outbox, t *tally) (prepared, error) {
	now := s.clock.Now().UTC()
	// The common way, a routine push to the mini-program, is routed by the
	// openid alone: read first, and recorded by the compare-and-set itself.
	var early *wechat.SubscribeMessage
	if s.routedByOpenID(row) {
		openID, err := model.OpenIDOf(ctx, tx, row.UserID)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return prepared{}, err
		}
		if tpl := s.cfg.Templates[row.Kind]; openID != "" && tpl.ID != "" {
			early = &wechat.SubscribeMessage{ToUser: openID, TemplateID: tpl.ID}
		}
	}
	var moved int64
	var err error
	if early != nil {
		moved, err = model.StartRoutedOutbox(ctx, tx, row.ID, owner, outboxClaimed, model.OutboxSending, now.Add(s.cfg.Lease),
			model.ChannelMP, early.ToUser, early.TemplateID)
	} else {
		moved, err = model.StartOutbox(ctx, tx, row.ID, owner, outboxClaimed, model.OutboxSending, now.Add(s.cfg.Lease))
	}
	if err != nil {
		return prepared{}, err
	}
	if moved == 0 { // the lease ran out and another worker has it
		return prepared{done: true}, nil
	}
	row.Attempts++
	var pl payload
	if err := json.Unmarshal([]byte(row.Payload), &pl); err != nil {
		return prepared{}, fmt.Errorf("decode payload: %w", err)
	}
	if row.InboxPending {
		m := newMessage(row.UserID, row.Kind, row.Event, row.EventKey, pl.Title, pl.Body, row.OrderID)
		if err := model.InsertMessages(ctx, tx, []model.Message{m}); err != nil {
			return prepared{}, fmt.Errorf("write inbox: %w", err)
		}
	}
	skip := func(reason string) (prepared, error) {
		t.st.Skipped++
		t.bump(func(c *counters) { c.skipped[reason]++ })
		return prepared{done: true}, model.SkipOutbox(ctx, tx, row.ID, reason)
	}

	if row.Priority > 0 && row.Channel != model.ChannelMP {
		return s.prepareUrgent(ctx, tx, row, pl, skip)
	}
	oa, err := s.oaMessage(ctx, tx, *row, pl)
	if err != nil {
		return prepared{}, err
	}
	if oa != nil {
		if err := model.RouteOutbox(ctx, tx, row.ID, model.ChannelOA, oa.ToUser, oa.TemplateID); err != nil {
			return prepared{}, err
		}
		if s.cfg.Sandbox {
			page := oa.PagePath
			if page == "" {
				page = oa.URL
			}
			raw, _ := json.Marshal(oa.Data)
			rec := model.SandboxPush{OutboxID: row.ID, UserID: row.UserID, Channel: model.ChannelOA, ToUser: oa.ToUser,
				Kind: row.Kind, Event: row.Event, TemplateID: oa.TemplateID, Page: page, Data: string(raw),
				Note: "真实环境下将通过公众号模板消息发送"}
			if err := model.InsertSandboxPush(ctx, tx, &rec); err != nil {
				return prepared{}, fmt.Errorf("record sandbox push: %w", err)
			}
			return skip(SkipSandbox)
		}
		return prepared{oa: oa}, nil
	}

	tpl := s.cfg.Templates[row.Kind]
	openID := ""
	if early != nil {
		openID = early.ToUser
	} else {
		if openID, err = model.OpenIDOf(ctx, tx, row.UserID); err != nil && !errors.Is(err, model.ErrNotFound) {
			return prepared{}, err
		}
	}
	if openID == "" {
		return skip(SkipNoOpenID)
	}
	if tpl.ID == "" {
		return skip(SkipNotConfigured)
	}
	data, page := tpl.render(pl, row.OrderID)
	msg := wechat.SubscribeMessage{ToUser: openID, TemplateID: tpl.ID, Page: page, Data: data}
	if early == nil {
		if err := model.RouteOutbox(ctx, tx, row.ID, model.ChannelMP, msg.ToUser, msg.TemplateID); err != nil {
			return prepared{}, err
		}
	}

	if s.cfg.Sandbox {
		note := "真实环境下将发送"
		if !tpl.LongTerm {
			if reason, err := quotaState(ctx, tx, row.UserID, tpl.ID); err != nil {
				return prepared{}, err
			} else if reason != "" {
				note = "真实环境下将跳过：" + skipWords[reason]
			} else if held, err := s.heldBack(ctx, tx, *row, tpl); err != nil {
				return prepared{}, err
			} else if held {
				note = "真实环境下将跳过：" + skipWords[SkipReserved]
			}
		}
		raw, _ := json.Marshal(data)
		rec := model.SandboxPush{OutboxID: row.ID, UserID: row.UserID, Channel: model.ChannelMP, ToUser: msg.ToUser, Kind: row.Kind, Event: row.Event,
			TemplateID: msg.TemplateID, Page: page, MiniprogramState: s.cfg.MiniprogramState, Data: string(raw), Note: note}
		if err := model.InsertSandboxPush(ctx, tx, &rec); err != nil {
			return prepared{}, fmt.Errorf("record sandbox push: %w", err)
		}
		return skip(SkipSandbox)
	}

	consumed := false
	if !tpl.LongTerm {
		keep, err := s.keepFor(ctx, tx, *row, tpl)
		if err != nil {
			return prepared{}, err
		}
		taken, err := model.TakeQuotaKeeping(ctx, tx, row.UserID, tpl.ID, keep)
		if err != nil {
			return prepared{}, err
		}
		if taken == 0 {
			reason, err := quotaState(ctx, tx, row.UserID, tpl.ID)
			if err != nil {
				return prepared{}, err
			}
			if reason == "" && keep > 0 {
				reason = SkipReserved
			}
			if reason == "" { // taken meanwhile by another worker
				reason = SkipNoQuota
			}
			return skip(reason)
		}
		consumed = true
	}
	return prepared{msg: msg, consumed: consumed}, nil
}

// routedByOpenID reports whether row goes to the mini-program whatever
// the user's channel: a routine push, in production, of a kind without a
// service-account template (oaMessage would not look further).
func (s *Service) routedByOpenID(row *model.Outbox) bool {
	if s.cfg.Sandbox || row.Priority > 0 {
		return false
	}
	tpl := s.cfg.OATemplates[row.Kind]
	return !s.cfg.OAEnabled || tpl.ID == "" || s.oa == nil
}

var skipWords = map[string]string{
	SkipNoQuota: "用户没有剩余的订阅次数", SkipTemplateOff: "用户已在设置中关闭该通知",
	SkipReserved: "剩余的订阅次数留给紧急呼叫",
}

// quotaState says why user could not get a push of template now ("" if
// they could).
func quotaState(ctx context.Context, tx *gorm.DB, userID int64, templateID string) (string, error) {
	q, err := model.QuotaOf(ctx, tx, userID, templateID)
	switch {
	case errors.Is(err, model.ErrNotFound):
		return SkipNoQuota, nil
	case err != nil:
		return "", err
	case q.Off:
		return SkipTemplateOff, nil
	case q.Remaining <= 0:
		return SkipNoQuota, nil
	}
	return "", nil
}

// record writes WeChat's answer, in its own short transaction right after
// the call. The row is matched by owner too: a row this worker lost while
// sending (its lease ran out) keeps what the sweep decided unless nobody
// else took it since.
func (s *Service) record(ctx context.Context, tx *gorm.DB, owner string, row model.Outbox, p prepared, sendErr error, t *tally) error {
	now := s.clock.Now().UTC()
	code, msg := errorCode(sendErr)
	out := model.OutboxOutcome{LastCode: code, LastError: msg}
	refund := false
	switch {
	case sendErr == nil:
		out.State, out.SentAt, out.MsgID = model.OutboxSent, &now, p.msgID
		t.st.Sent++
		channel := model.ChannelMP
		if p.oa != nil {
			channel = model.ChannelOA
		} else if p.sms != nil {
			channel = model.ChannelSMS
		}
		t.bump(func(c *counters) { c.sent++; c.sentBy[channel]++ })
	case p.oa != nil && code == strconv.Itoa(codeNotFollowing):
		// They stopped following (and we missed or have not yet had the
		// event): unlinked, and this push goes back to the queue at once
		// to leave by the mini-program, since nothing reached them.
		out.State, out.DueAt = model.OutboxFailed, now
		if err := model.UnlinkFollower(ctx, tx, p.oa.ToUser); err != nil {
			return err
		}
		t.st.Requeued++
		t.bump(func(c *counters) { c.requeued++ })
	case p.oa != nil && code == strconv.Itoa(codeNoQuota):
		// The user turned this template off in the account's settings.
		out.State, out.SkipReason = model.OutboxSkipped, SkipTemplateOff
		t.st.Skipped++
		t.bump(func(c *counters) { c.skipped[SkipTemplateOff]++ })
	case code == strconv.Itoa(codeNoQuota):
		// WeChat knows better than our count: none left (or refused).
		out.State, out.SkipReason = model.OutboxSkipped, SkipNoQuota
		// None left; a long-term template must be allowed again too.
		if err := model.ForgetQuota(ctx, tx, row.UserID, p.msg.TemplateID); err != nil {
			return err
		}
		t.st.Skipped++
		t.bump(func(c *counters) { c.skipped[SkipNoQuota]++ })
	case code == "timeout":
		// The request may have reached WeChat: as unknown as a lost lease,
		// reconciled the same way (resendUnknown).
		out.State, out.DueAt = model.OutboxUnknown, now.Add(s.cfg.ReconcileAfter)
		t.st.Unknown++
		t.bump(func(c *counters) { c.failed[code]++ })
	default:
		refund = true // WeChat refused or was not reached: nothing was sent
		n, _ := strconv.Atoi(code)
		if permanentCodes[n] || row.Attempts >= s.cfg.MaxAttempts {
			out.State = model.OutboxDead
			t.st.Dead++
			t.bump(func(c *counters) { c.dead++ })
		} else {
			out.State, out.DueAt = model.OutboxFailed, now.Add(s.backoff(row.Attempts))
			t.st.Failed++
		}
		t.bump(func(c *counters) { c.failed[code]++ })
	}
	recorded, err := model.RecordOutbox(ctx, tx, row.ID, owner,
		[]string{model.OutboxSending, model.OutboxUnknown, model.OutboxFailed}, out)
	if err != nil {
		return err
	}
	if recorded == 0 {
		s.log.WarnContext(ctx, "outbox row taken by another worker before its outcome was recorded",
			"outbox_id", row.ID, "outcome", out.State, "code", code)
		return nil
	}
	if refund && p.consumed {
		return model.RefundQuota(ctx, tx, row.UserID, p.msg.TemplateID)
	}
	return nil
}

// errorCode names a send error for the row and the metrics: WeChat's
// errcode, "timeout" when the request may have arrived, else unreachable.
func errorCode(err error) (code, msg string) {
	if err == nil {
		return "", ""
	}
	msg = err.Error()
	var ae *wechat.APIError
	if errors.As(err, &ae) {
		return strconv.Itoa(ae.Code), service.CutRunes(ae.Msg, 200)
	}
	if errors.Is(err, wechat.ErrNotSent) {
		return "unreachable", service.CutRunes(msg, 200)
	}
	if errors.Is(err, wechat.ErrMaybeSent) {
		return "timeout", service.CutRunes(msg, 200)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &ne) && ne.Timeout() {
		return "timeout", service.CutRunes(msg, 200)
	}
	return "unreachable", service.CutRunes(msg, 200)
}

// backoff is the delay before attempt n+1: exponential from RetryBase,
// capped at RetryMax, with jitter so that rows failed together spread out.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < attempts && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}
