package message

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"redprop/model"
	"redprop/service"
	"redprop/service/wechat"
)

// A row's way through the outbox:
//
//	pending/failed --claim--> claimed --just before the call--> sending --> sent | skipped | failed | dead | unknown
//
// A claimed row has not reached WeChat: when its lease runs out it simply
// goes back to the queue. A sending row may have: WeChat's send API has no
// idempotency key, so one whose lease runs out is unknown and is sent again
// only for kinds configured with ResendUnknown.
const outboxClaimed = "claimed"

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

// Run delivers the outbox and re-checks queued text every interval until
// ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			st, err := s.DeliverOnce(ctx)
			if err != nil {
				slog.ErrorContext(ctx, "outbox delivery", "err", err)
				break
			}
			if st.Claimed < s.cfg.BatchSize {
				break
			}
		}
		if ctx.Err() == nil {
			if _, err := s.RecheckOnce(ctx); err != nil {
				slog.ErrorContext(ctx, "content re-check", "err", err)
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
	lanes := min(s.cfg.SendLanes, len(rows))
	if lanes <= 1 {
		return st, s.deliverLane(ctx, owner, rows, &st)
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
			err := s.deliverLane(ctx, owner, part, &ls)
			mu.Lock()
			defer mu.Unlock()
			st.Sent += ls.Sent
			st.Skipped += ls.Skipped
			st.Failed += ls.Failed
			st.Dead += ls.Dead
			st.Unknown += ls.Unknown
			st.Requeued += ls.Requeued
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return st, errors.Join(errs...)
}

// deliverLane delivers rows one after the other; on an error (or when ctx
// ends) the rest go back to the queue.
func (s *Service) deliverLane(ctx context.Context, owner string, rows []model.Outbox, st *Stats) error {
	for i, row := range rows {
		if ctx.Err() != nil {
			// Rows not yet at WeChat go back to the queue at once rather
			// than waiting out their lease.
			return s.release(owner, rows[i:])
		}
		if err := s.deliver(ctx, owner, row, st); err != nil {
			if errors.Is(err, errCrashed) {
				return err
			}
			return errors.Join(err, s.release(owner, rows[i+1:]))
		}
	}
	return nil
}

// expireLeases returns claimed rows whose worker vanished to the queue and
// settles sending rows whose worker vanished between the call and its
// record.
func (s *Service) expireLeases(ctx context.Context, now time.Time, st *Stats) error {
	db := s.db.WithContext(ctx).Model(&model.Outbox{})
	res := db.Where("state = ? AND lease_until < ?", outboxClaimed, now).
		Updates(map[string]any{"state": model.OutboxPending, "owner": ""})
	if res.Error != nil {
		return fmt.Errorf("expire claims: %w", res.Error)
	}
	st.Requeued += int(res.RowsAffected)

	var resend, keep []string
	for _, kind := range Kinds() {
		if s.cfg.Templates[kind].ResendUnknown {
			resend = append(resend, kind)
		} else {
			keep = append(keep, kind)
		}
	}
	stale := func(kinds []string, set map[string]any) (int64, error) {
		if len(kinds) == 0 {
			return 0, nil
		}
		set["stale_count"] = gorm.Expr("stale_count + 1")
		res := s.db.WithContext(ctx).Model(&model.Outbox{}).
			Where("state = ? AND lease_until < ? AND kind IN ?", model.OutboxSending, now, kinds).Updates(set)
		return res.RowsAffected, res.Error
	}
	n, err := stale(resend, map[string]any{"state": model.OutboxFailed, "due_at": now, "last_code": "lease_expired",
		"last_error": "worker stopped while sending; sent again by policy"})
	if err != nil {
		return fmt.Errorf("expire sending leases: %w", err)
	}
	st.Requeued += int(n)
	u, err := stale(keep, map[string]any{"state": model.OutboxUnknown, "last_code": "lease_expired",
		"last_error": "worker stopped while sending; outcome unknown"})
	if err != nil {
		return fmt.Errorf("expire sending leases: %w", err)
	}
	st.Unknown += int(u)
	s.metrics.add(func(c *counters) { c.unknown += u; c.requeued += n })
	return nil
}

func newOwner() string {
	var b [12]byte
	if _, err := crand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// claim marks one batch of due rows claimed by a new owner token. MySQL
// picks the rows with SELECT … FOR UPDATE SKIP LOCKED, so concurrent
// workers take disjoint rows without waiting; SQLite has one writer, and a
// single UPDATE whose subquery picks the rows is atomic there.
func (s *Service) claim(ctx context.Context, now time.Time) (string, []model.Outbox, error) {
	owner := newOwner()
	due := []string{model.OutboxPending, model.OutboxFailed}
	set := map[string]any{"state": outboxClaimed, "owner": owner, "lease_until": now.Add(s.cfg.Lease)}
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		pick := tx.Model(&model.Outbox{}).Select("id").Where("state IN ? AND due_at <= ?", due, now).
			Order("due_at, id").Limit(s.cfg.BatchSize)
		if !model.IsMySQL(tx) {
			return tx.Model(&model.Outbox{}).Where("id IN (?) AND state IN ?", pick, due).Updates(set).Error
		}
		var ids []int64
		if err := pick.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		return tx.Model(&model.Outbox{}).Where("id IN ?", ids).Updates(set).Error
	})
	if err != nil {
		return "", nil, fmt.Errorf("claim outbox rows: %w", err)
	}
	var rows []model.Outbox
	if err := s.db.WithContext(ctx).Where("owner = ? AND state = ?", owner, outboxClaimed).Order("due_at, id").Find(&rows).Error; err != nil {
		return "", nil, fmt.Errorf("load claimed rows: %w", err)
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

// release gives claimed rows this worker will not send back to the queue.
func (s *Service) release(owner string, rows []model.Outbox) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return s.db.Model(&model.Outbox{}).Where("id IN ? AND owner = ? AND state = ?", ids, owner, outboxClaimed).
		Updates(map[string]any{"state": model.OutboxPending, "owner": ""}).Error
}

// outcome of the step before the call.
type prepared struct {
	msg      wechat.SubscribeMessage
	oa       *wechat.TemplateMessage // set: goes to the service account instead
	consumed bool                    // one unit of quota was taken
	done     bool                    // the row is settled (skipped) or no longer ours
}

// deliver takes one claimed row through WeChat.
func (s *Service) deliver(ctx context.Context, owner string, row model.Outbox, st *Stats) error {
	var p prepared
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		p, err = s.prepare(ctx, tx, owner, &row, st)
		return err
	})
	if err != nil {
		return fmt.Errorf("prepare outbox row %d: %w", row.ID, err)
	}
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
	} else {
		sendErr = s.wx.SendSubscribe(sendCtx, p.msg)
	}
	if s.afterSend != nil && s.afterSend(row) {
		return errCrashed
	}
	// The answer must be recorded even when the worker is being stopped.
	rec := context.WithoutCancel(ctx)
	if err := model.InTx(rec, s.db, func(tx *gorm.DB) error {
		return s.record(rec, tx, owner, row, p, sendErr, st)
	}); err != nil {
		return fmt.Errorf("record outbox row %d: %w", row.ID, err)
	}
	return nil
}

// prepare runs in one short transaction before the call: it turns the row
// from claimed to sending with a fresh lease, writes a scheduled event's
// inbox message, and settles the row as skipped when it cannot be sent.
func (s *Service) prepare(ctx context.Context, tx *gorm.DB, owner string, row *model.Outbox, st *Stats) (prepared, error) {
	now := s.clock.Now().UTC()
	db := tx.WithContext(ctx)
	res := db.Model(&model.Outbox{}).Where("id = ? AND owner = ? AND state = ?", row.ID, owner, outboxClaimed).
		Updates(map[string]any{"state": model.OutboxSending, "lease_until": now.Add(s.cfg.Lease),
			"attempts": gorm.Expr("attempts + 1"), "inbox_pending": false})
	if res.Error != nil {
		return prepared{}, res.Error
	}
	if res.RowsAffected == 0 { // the lease ran out and another worker has it
		return prepared{done: true}, nil
	}
	row.Attempts++
	var pl payload
	if err := json.Unmarshal([]byte(row.Payload), &pl); err != nil {
		return prepared{}, fmt.Errorf("decode payload: %w", err)
	}
	if row.InboxPending {
		m := newMessage(row.UserID, row.Kind, row.Event, row.EventKey, pl.Title, pl.Body, row.OrderID)
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&m).Error; err != nil {
			return prepared{}, fmt.Errorf("write inbox: %w", err)
		}
	}
	skip := func(reason string) (prepared, error) {
		st.Skipped++
		s.metrics.add(func(c *counters) { c.skipped[reason]++ })
		return prepared{done: true}, db.Model(&model.Outbox{}).Where("id = ?", row.ID).
			Updates(map[string]any{"state": model.OutboxSkipped, "skip_reason": reason, "lease_until": nil}).Error
	}

	oa, err := s.oaMessage(db, *row, pl)
	if err != nil {
		return prepared{}, err
	}
	if oa != nil {
		if err := db.Model(&model.Outbox{}).Where("id = ?", row.ID).Updates(map[string]any{
			"channel": model.ChannelOA, "to_user": oa.ToUser, "template_id": oa.TemplateID}).Error; err != nil {
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
			if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&rec).Error; err != nil {
				return prepared{}, fmt.Errorf("record sandbox push: %w", err)
			}
			return skip(SkipSandbox)
		}
		return prepared{oa: oa}, nil
	}

	var u model.User
	if err := db.Select("id", "open_id").Where("id = ?", row.UserID).Take(&u).Error; err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return prepared{}, err
	}
	if u.OpenID == nil || *u.OpenID == "" {
		return skip(SkipNoOpenID)
	}
	tpl := s.cfg.Templates[row.Kind]
	if tpl.ID == "" {
		return skip(SkipNotConfigured)
	}
	data, page := tpl.render(pl, row.OrderID)
	msg := wechat.SubscribeMessage{ToUser: *u.OpenID, TemplateID: tpl.ID, Page: page, Data: data}
	if err := db.Model(&model.Outbox{}).Where("id = ?", row.ID).Updates(map[string]any{
		"channel": model.ChannelMP, "to_user": msg.ToUser, "template_id": msg.TemplateID}).Error; err != nil {
		return prepared{}, err
	}

	if s.cfg.Sandbox {
		note := "真实环境下将发送"
		if !tpl.LongTerm {
			if reason, err := s.quotaState(db, row.UserID, tpl.ID); err != nil {
				return prepared{}, err
			} else if reason != "" {
				note = "真实环境下将跳过：" + skipWords[reason]
			}
		}
		raw, _ := json.Marshal(data)
		rec := model.SandboxPush{OutboxID: row.ID, UserID: row.UserID, Channel: model.ChannelMP, ToUser: msg.ToUser, Kind: row.Kind, Event: row.Event,
			TemplateID: msg.TemplateID, Page: page, MiniprogramState: s.cfg.MiniprogramState, Data: string(raw), Note: note}
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&rec).Error; err != nil {
			return prepared{}, fmt.Errorf("record sandbox push: %w", err)
		}
		return skip(SkipSandbox)
	}

	consumed := false
	if !tpl.LongTerm {
		res := db.Model(&model.SubscribeQuota{}).
			Where("user_id = ? AND template_id = ? AND remaining > 0 AND off = ?", row.UserID, tpl.ID, false).
			Update("remaining", gorm.Expr("remaining - 1"))
		if res.Error != nil {
			return prepared{}, res.Error
		}
		if res.RowsAffected == 0 {
			reason, err := s.quotaState(db, row.UserID, tpl.ID)
			if err != nil {
				return prepared{}, err
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

var skipWords = map[string]string{
	SkipNoQuota: "用户没有剩余的订阅次数", SkipTemplateOff: "用户已在设置中关闭该通知",
}

// quotaState says why user could not get a push of template now ("" if
// they could).
func (s *Service) quotaState(db *gorm.DB, userID int64, templateID string) (string, error) {
	var q model.SubscribeQuota
	err := db.Where("user_id = ? AND template_id = ?", userID, templateID).Take(&q).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
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
func (s *Service) record(ctx context.Context, tx *gorm.DB, owner string, row model.Outbox, p prepared, sendErr error, st *Stats) error {
	now := s.clock.Now().UTC()
	db := tx.WithContext(ctx)
	set := map[string]any{"lease_until": nil}
	code, msg := errorCode(sendErr)
	refund := false
	switch {
	case sendErr == nil:
		set["state"], set["sent_at"], set["last_code"], set["last_error"] = model.OutboxSent, now, "", ""
		st.Sent++
		channel := model.ChannelMP
		if p.oa != nil {
			channel = model.ChannelOA
		}
		s.metrics.add(func(c *counters) { c.sent++; c.sentBy[channel]++ })
	case p.oa != nil && code == strconv.Itoa(codeNotFollowing):
		// They stopped following (and we missed or have not yet had the
		// event): unlinked, and this push goes back to the queue at once
		// to leave by the mini-program, since nothing reached them.
		set["state"], set["due_at"], set["last_code"], set["last_error"] = model.OutboxFailed, now, code, msg
		if err := unlinkFollower(db, p.oa.ToUser); err != nil {
			return err
		}
		st.Requeued++
		s.metrics.add(func(c *counters) { c.requeued++ })
	case p.oa != nil && code == strconv.Itoa(codeNoQuota):
		// The user turned this template off in the account's settings.
		set["state"], set["skip_reason"], set["last_code"], set["last_error"] = model.OutboxSkipped, SkipTemplateOff, code, msg
		st.Skipped++
		s.metrics.add(func(c *counters) { c.skipped[SkipTemplateOff]++ })
	case code == strconv.Itoa(codeNoQuota):
		// WeChat knows better than our count: none left (or refused).
		set["state"], set["skip_reason"], set["last_code"], set["last_error"] = model.OutboxSkipped, SkipNoQuota, code, msg
		// None left; a long-term template must be allowed again too.
		if err := db.Model(&model.SubscribeQuota{}).Where("user_id = ? AND template_id = ?", row.UserID, p.msg.TemplateID).
			Updates(map[string]any{"remaining": 0, "accepted_at": nil}).Error; err != nil {
			return err
		}
		st.Skipped++
		s.metrics.add(func(c *counters) { c.skipped[SkipNoQuota]++ })
	case code == "timeout":
		// The request may have reached WeChat: as unknown as a lost lease.
		set["last_code"], set["last_error"] = code, msg
		if s.cfg.Templates[row.Kind].ResendUnknown {
			set["state"], set["due_at"] = model.OutboxFailed, now.Add(s.backoff(row.Attempts))
			st.Failed++
		} else {
			set["state"] = model.OutboxUnknown
			st.Unknown++
		}
		s.metrics.add(func(c *counters) { c.failed[code]++ })
	default:
		refund = true // WeChat refused or was not reached: nothing was sent
		set["last_code"], set["last_error"] = code, msg
		n, _ := strconv.Atoi(code)
		if permanentCodes[n] || row.Attempts >= s.cfg.MaxAttempts {
			set["state"] = model.OutboxDead
			st.Dead++
			s.metrics.add(func(c *counters) { c.dead++ })
		} else {
			set["state"], set["due_at"] = model.OutboxFailed, now.Add(s.backoff(row.Attempts))
			st.Failed++
		}
		s.metrics.add(func(c *counters) { c.failed[code]++ })
	}
	res := db.Model(&model.Outbox{}).
		Where("id = ? AND owner = ? AND state IN ?", row.ID, owner, []string{model.OutboxSending, model.OutboxUnknown, model.OutboxFailed}).
		Updates(set)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		slog.WarnContext(ctx, "outbox row taken by another worker before its outcome was recorded",
			"outbox_id", row.ID, "outcome", set["state"], "code", code)
		return nil
	}
	if refund && p.consumed {
		return db.Model(&model.SubscribeQuota{}).Where("user_id = ? AND template_id = ?", row.UserID, p.msg.TemplateID).
			Update("remaining", gorm.Expr("remaining + 1")).Error
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
