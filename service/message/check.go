package message

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Scenes of WeChat's text check.
const (
	SceneProfile = 1 // 资料
	SceneComment = 2 // 评论: ratings, comments
	SceneForum   = 3 // 论坛: order descriptions, wishes
	SceneLog     = 4 // 社交日志
)

// ErrRiskyContent refuses text WeChat's check calls risky.
var ErrRiskyContent = service.Unprocessable("content_risky", "内容含有违规或敏感信息，请修改后再提交")

// Verdict is what the check decided about a text that may be stored.
type Verdict struct {
	// State is pass, review (store it, flagged for the community) or
	// pending (WeChat could not be asked: store it and let RecordCheck
	// queue a later check).
	State string
	Label string // WeChat's category in Chinese (正常, 广告 …), when known
}

// CheckText runs WeChat's text check on what userID wrote, before it is
// stored. Risky text is refused with ErrRiskyContent. When WeChat cannot
// be asked the verdict is pending, not an error: the caller stores the
// text and passes the verdict to RecordCheck in the same transaction.
// A resident waits for it, so it gives WeChat CheckTimeout (shorter than
// a push's) and, while the breaker is open after WeChat stopped
// answering, does not ask at all.
func (s *Service) CheckText(ctx context.Context, userID int64, scene int, text string) (Verdict, error) {
	if scene < SceneProfile || scene > SceneLog {
		return Verdict{}, fmt.Errorf("message: check scene %d is not 1..4", scene)
	}
	if strings.TrimSpace(text) == "" {
		return Verdict{State: model.CheckPass}, nil
	}
	if !s.check.allow() {
		return Verdict{State: model.CheckPending}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.CheckTimeout)
	v, err := s.askWeChat(cctx, userID, scene, text)
	cancel()
	if ctx.Err() == nil {
		// Only WeChat's silence counts: an answer with an error code
		// means it is up, and the caller hanging up says nothing of it.
		var we *wechatSilence
		s.check.record(ctx, errors.As(err, &we))
	}
	if err != nil {
		s.log.WarnContext(ctx, "text check deferred", "user_id", userID, "err", err)
		return Verdict{State: model.CheckPending}, nil
	}
	if v.State == model.CheckRisky {
		return v, ErrRiskyContent.WithDetail(map[string]string{"label": v.Label})
	}
	return v, nil
}

func (s *Service) askWeChat(ctx context.Context, userID int64, scene int, text string) (Verdict, error) {
	if s.wx == nil {
		return Verdict{}, errors.New("no WeChat client")
	}
	openID, err := s.openIDs.of(ctx, s.db, userID)
	if err != nil {
		return Verdict{}, fmt.Errorf("user %d: %w", userID, err)
	}
	if openID == "" {
		return Verdict{}, fmt.Errorf("user %d has no openid", userID)
	}
	r, err := s.wx.MsgCheck(ctx, openID, scene, text)
	if err != nil {
		if service.KindOf(err) == service.KindUnavailable || errors.Is(err, context.DeadlineExceeded) {
			return Verdict{}, &wechatSilence{err}
		}
		return Verdict{}, err
	}
	switch r.Suggest {
	case model.CheckPass, model.CheckReview, model.CheckRisky:
		return Verdict{State: r.Suggest, Label: r.Label}, nil
	}
	return Verdict{State: model.CheckReview, Label: r.Label}, nil
}

// wechatSilence is a check WeChat did not answer (unreachable, timed
// out), as opposed to one it refused.
type wechatSilence struct{ err error }

func (e *wechatSilence) Error() string { return e.err.Error() }
func (e *wechatSilence) Unwrap() error { return e.err }

// CheckRecord names text that was stored: what it belongs to (e.g.
// order:12:description), who wrote it, where it is.
type CheckRecord struct {
	Subject string
	UserID  int64
	Scene   int
	Text    string
	model.Ancestry
}

// RecordCheck keeps, inside the caller's transaction, a verdict that was
// not a clean pass: review verdicts are flagged for the community, pending
// ones are queued for the worker to check again.
func (s *Service) RecordCheck(ctx context.Context, tx *gorm.DB, rec CheckRecord, v Verdict) error {
	if v.State == model.CheckPass {
		return nil
	}
	if v.State != model.CheckReview && v.State != model.CheckPending {
		return fmt.Errorf("message: cannot record a %q verdict", v.State)
	}
	if rec.Subject == "" {
		return fmt.Errorf("message: check record without a subject")
	}
	now := s.clock.Now().UTC()
	row := model.ContentCheck{
		Subject: service.CutRunes(rec.Subject, 64), UserID: rec.UserID, Scene: rec.Scene, Text: rec.Text,
		State: v.State, Label: service.CutRunes(v.Label, 32), DueAt: now.Add(s.cfg.RetryBase), Ancestry: rec.Ancestry,
	}
	if err := model.InsertContentCheck(ctx, tx, &row); err != nil {
		return fmt.Errorf("message: record check: %w", err)
	}
	return nil
}

// HiddenText stands in for a stored text that a late check found risky.
const HiddenText = "（该内容未通过内容安全审核，已隐藏）"

// LateVerdict applies, inside tx, a verdict reached after a text was
// stored (review or risky) to the thing the text belongs to.
type LateVerdict func(ctx context.Context, tx *gorm.DB, subject, state string) error

// Recheck asks WeChat again about texts it could not check when they were
// stored, and hands a late verdict to the capability whose text it is.
// The capabilities publish through the Service and so are built after
// it; Recheck, which needs their handlers, is built after them.
type Recheck struct {
	msgs     *Service
	verdicts map[string]LateVerdict
}

// NewRecheck builds the re-check on the WeChat client, clock, database,
// configuration and logger of msgs. verdicts are the handlers of late
// verdicts by subject kind (the part of CheckRecord.Subject before the
// first colon); a kind without one only has its check row settled.
func NewRecheck(msgs *Service, verdicts map[string]LateVerdict) *Recheck {
	return &Recheck{msgs: msgs, verdicts: maps.Clone(verdicts)}
}

// Run re-checks due texts every interval until ctx ends.
func (r *Recheck) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := r.RecheckOnce(ctx); err != nil && ctx.Err() == nil {
			service.LogPass(ctx, r.msgs.log, "content re-check", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RecheckOnce asks WeChat again about due pending texts and says how many
// it settled. Text WeChat still cannot check after CheckMaxAttempts goes
// to review: it is never accepted unseen.
func (r *Recheck) RecheckOnce(ctx context.Context) (int, error) {
	s := r.msgs
	now := s.clock.Now().UTC()
	rows, err := model.DueContentChecks(ctx, s.db, now, s.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("find pending checks: %w", err)
	}
	settled := 0
	for _, c := range rows {
		// Claimed by compare-and-set on the attempt count so that two
		// workers do not both ask.
		claimed, err := model.ClaimContentCheck(ctx, s.db, c.ID, c.Attempts, now.Add(s.cfg.Lease))
		if err != nil {
			return settled, err
		}
		if claimed == 0 {
			continue
		}
		v, err := s.askWeChat(ctx, c.UserID, c.Scene, c.Text)
		var out model.CheckOutcome
		switch {
		case err == nil:
			out.State, out.Label = v.State, service.CutRunes(v.Label, 32)
			if v.State == model.CheckRisky {
				s.log.WarnContext(ctx, "stored text found risky on re-check", "check_id", c.ID, "subject", c.Subject)
			}
		case c.Attempts+1 >= s.cfg.CheckMaxAttempts:
			out.State, out.LastError = model.CheckReview, service.CutRunes("微信多次无法检查，转人工审核："+err.Error(), 200)
		default:
			out.DueAt, out.LastError = now.Add(s.backoff(c.Attempts+1)), service.CutRunes(err.Error(), 200)
		}
		err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
			n, err := model.SettleContentCheck(ctx, tx, c.ID, out)
			if err != nil || n == 0 {
				return err
			}
			// A late verdict that is not a pass goes to the capability
			// whose text it is, in the same transaction.
			kind, _, _ := strings.Cut(c.Subject, ":")
			if h := r.verdicts[kind]; h != nil && (out.State == model.CheckReview || out.State == model.CheckRisky) {
				return h(ctx, tx, c.Subject, out.State)
			}
			return nil
		})
		if err != nil {
			return settled, err
		}
		if out.State != "" {
			settled++
		}
	}
	return settled, nil
}

// openIDCache keeps the users' mini-program openids this instance has
// read: a user gets one when created at their first login and keeps it,
// so a kept openid is never stale. Users without one are not kept.
type openIDCache struct {
	mu sync.Mutex
	m  map[int64]string
}

// openIDCacheMax bounds the openids kept; past it the cache starts afresh.
const openIDCacheMax = 100_000

// of is model.OpenIDOf through the cache.
func (c *openIDCache) of(ctx context.Context, db *gorm.DB, userID int64) (string, error) {
	c.mu.Lock()
	id, ok := c.m[userID]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := model.OpenIDOf(ctx, db, userID)
	if err != nil || id == "" {
		return id, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= openIDCacheMax {
		c.m = map[int64]string{}
	}
	c.m[userID] = id
	c.mu.Unlock()
	return id, nil
}
