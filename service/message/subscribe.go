package message

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Subscription is where one template stands for a user.
type Subscription struct {
	Kind       string // the first kind pushed with the template
	TemplateID string
	LongTerm   bool
	Remaining  int  // pushes the user has allowed and we have not used
	Off        bool // turned off in WeChat's settings
	// Ask: the mini-program should ask again (wx.requestSubscribeMessage)
	// at the next tap, or this kind's pushes will be skipped.
	Ask bool
}

// What wx.requestSubscribeMessage answers per template.
const (
	SubscribeAccept = "accept"
	SubscribeReject = "reject"
	SubscribeBan    = "ban"    // the template was banned by WeChat
	SubscribeFilter = "filter" // filtered out (same title as another)
)

var (
	ErrUnknownTemplate    = service.Invalid("unknown_template", "不是本小程序使用的订阅消息模板")
	ErrBadSubscribeResult = service.Invalid("bad_subscribe_result", "订阅结果须为 accept、reject、ban 或 filter")
	ErrNoSubscribeResult  = service.Invalid("empty_subscribe_result", "订阅结果不能为空")
)

// templates returns the configured templates, one entry per template id.
func (s *Service) templates() []Subscription {
	var out []Subscription
	for _, kind := range Kinds() {
		t, ok := s.cfg.Templates[kind]
		if !ok || t.ID == "" || slices.ContainsFunc(out, func(x Subscription) bool { return x.TemplateID == t.ID }) {
			continue
		}
		out = append(out, Subscription{Kind: kind, TemplateID: t.ID, LongTerm: t.LongTerm})
	}
	return out
}

// Subscriptions says, per configured template, how many pushes the actor
// has allowed and which templates the mini-program should ask for again.
func (s *Service) Subscriptions(ctx context.Context, a *service.Actor) ([]Subscription, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	return s.subscriptions(ctx, s.db, a.UserID)
}

func (s *Service) subscriptions(ctx context.Context, db *gorm.DB, userID int64) ([]Subscription, error) {
	quotas, err := model.QuotasOf(ctx, db, userID)
	if err != nil {
		return nil, fmt.Errorf("read subscribe quotas: %w", err)
	}
	out := s.templates()
	for i := range out {
		accepted := false
		for _, q := range quotas {
			if q.TemplateID == out[i].TemplateID {
				out[i].Remaining, out[i].Off = q.Remaining, q.Off
				accepted = q.AcceptedAt != nil
			}
		}
		// Long-term templates keep no count, but WeChat still wants one
		// "allow" before the first push (and again after a 43101); after
		// that only the settings switch stops them.
		// The allowances held for emergencies are not there for routine
		// pushes: ask again before they are all that is left.
		reserve, err := s.reserveFor(ctx, db, userID, out[i].TemplateID)
		if err != nil {
			return nil, err
		}
		out[i].Ask = out[i].Off || !out[i].LongTerm && out[i].Remaining <= reserve || out[i].LongTerm && !accepted
	}
	return out, nil
}

// ReportSubscribe records what wx.requestSubscribeMessage answered (template
// id → accept, reject, ban or filter): each accept allows one more push
// of its template. It returns the updated subscriptions.
func (s *Service) ReportSubscribe(ctx context.Context, a *service.Actor, results map[string]string) ([]Subscription, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	if len(results) == 0 {
		return nil, ErrNoSubscribeResult
	}
	known := s.templates()
	ids := make([]string, 0, len(results))
	var unknown string
	for id, r := range results {
		// wx.requestSubscribeMessage answers with errMsg beside the ids, and
		// a template just retired may linger in an old client: what we do
		// not push is passed over, so the accepts of the rest still count.
		if !slices.ContainsFunc(known, func(x Subscription) bool { return x.TemplateID == id }) {
			unknown = id
			continue
		}
		switch r {
		case SubscribeAccept, SubscribeReject, SubscribeBan, SubscribeFilter:
		default:
			return nil, ErrBadSubscribeResult
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, ErrUnknownTemplate.WithDetail(map[string]string{"template_id": service.CutRunes(unknown, 64)})
	}
	sort.Strings(ids) // one lock order for every request
	var out []Subscription
	// A deadlock victim runs again: the tap must not be lost.
	err := model.InTxRetry(ctx, s.db, 3, func(tx *gorm.DB) error {
		for _, id := range ids {
			if results[id] != SubscribeAccept {
				continue
			}
			if err := s.accept(ctx, tx, a.UserID, id, false); err != nil {
				return err
			}
		}
		var err error
		out, err = s.subscriptions(ctx, tx, a.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// accept adds one allowed push of templateID for userID, reported by the
// mini-program or (fromServer) by WeChat's callback. The two report the
// same tap: an accept the other source reported within PairWindow and
// that no report of ours has matched yet is this one, and adds nothing.
func (s *Service) accept(ctx context.Context, tx *gorm.DB, userID int64, templateID string, fromServer bool) error {
	now := s.clock.Now().UTC()
	q, err := model.LockQuota(ctx, tx, userID, templateID)
	if err != nil {
		return fmt.Errorf("lock subscribe quota: %w", err)
	}
	if q.PairUntil == nil || !now.Before(*q.PairUntil) {
		q.ClientUnpaired, q.ServerUnpaired = 0, 0
	}
	mine, other := &q.ClientUnpaired, &q.ServerUnpaired
	if fromServer {
		mine, other = other, mine
	}
	if *other > 0 {
		*other--
	} else {
		*mine++
		q.Remaining++
	}
	until := now.Add(s.cfg.PairWindow)
	q.Off, q.PairUntil, q.AcceptedAt = false, &until, &now
	return model.SaveQuota(ctx, tx, q)
}

// setOff records that the user turned a template off (or on again) in
// WeChat's settings. Turning it off also spends what was left: WeChat
// refuses those pushes now.
func setOff(ctx context.Context, tx *gorm.DB, userID int64, templateID string, off bool) error {
	if err := model.EnsureQuota(ctx, tx, userID, templateID); err != nil {
		return fmt.Errorf("create subscribe quota: %w", err)
	}
	if err := model.SetQuotaOff(ctx, tx, userID, templateID, off); err != nil {
		return err
	}
	if off {
		return model.EmptyQuota(ctx, tx, userID, templateID)
	}
	return nil
}
