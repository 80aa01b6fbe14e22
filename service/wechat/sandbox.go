package wechat

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"

	"redprop/service"
)

// SandboxPrefix starts every made-up code the sandbox accepts.
const SandboxPrefix = "sandbox:"

// ErrBadCode is what WeChat's 40029/40163 become: the code is invalid,
// used or expired.
var ErrBadCode = service.Invalid("wechat_bad_code", "微信登录凭证无效或已过期，请重新进入小程序")

// SandboxOpenID is the openid the sandbox gives the user of code
// "sandbox:<name>"; the demo creates its users with it.
func SandboxOpenID(name string) string { return "sandbox_" + name }

// Sandbox stands in for WeChat when no AppID is configured: it accepts
// made-up codes, records pushes instead of sending them and never calls out.
type Sandbox struct {
	mu   sync.Mutex
	sent []SubscribeMessage // the latest sandboxKeep pushes
}

// sandboxKeep bounds what a long-running sandbox remembers.
const sandboxKeep = 200

// NewSandbox returns the sandbox client.
func NewSandbox() *Sandbox { return &Sandbox{} }

func sandboxName(code string) (string, bool) {
	name, ok := strings.CutPrefix(code, SandboxPrefix)
	name = strings.TrimSpace(name)
	if !ok || name == "" || len(name) > 40 {
		return "", false
	}
	return name, true
}

// SandboxUnionID is the unionid the sandbox gives the user of code
// "sandbox:<name>": the same person in the mini-program and the service
// account.
func SandboxUnionID(name string) string { return "sandbox_union_" + name }

// SandboxOAOpenID is the service account's openid of the sandbox user
// name, as its follow events in a sandbox walk-through name them.
func SandboxOAOpenID(name string) string { return "sandbox_oa_" + name }

// Code2Session accepts "sandbox:<name>" and answers a stable openid and
// unionid for it.
func (s *Sandbox) Code2Session(ctx context.Context, code string) (string, string, error) {
	name, ok := sandboxName(code)
	if !ok {
		return "", "", ErrBadCode
	}
	return SandboxOpenID(name), SandboxUnionID(name), nil
}

// UserInfo answers a follower of the service account: SandboxOAOpenID(name)
// has the unionid of the sandbox user name; any other openid follows
// without one.
func (s *Sandbox) UserInfo(ctx context.Context, openID string) (OAUser, error) {
	u := OAUser{OpenID: openID, Subscribed: true}
	if name, ok := strings.CutPrefix(openID, "sandbox_oa_"); ok && name != "" {
		u.UnionID = SandboxUnionID(name)
	}
	return u, nil
}

// SendTemplate records a template message of the service account like a
// subscribe message (the latest 200 are kept) and reports success.
func (s *Sandbox) SendTemplate(ctx context.Context, m TemplateMessage) error {
	return s.SendSubscribe(ctx, SubscribeMessage{ToUser: m.ToUser, TemplateID: m.TemplateID, Page: m.PagePath, Data: m.Data})
}

// PhoneNumber accepts "sandbox:<digits>" and answers those digits.
func (s *Sandbox) PhoneNumber(ctx context.Context, code string) (string, error) {
	phone, ok := sandboxName(code)
	if !ok || len(phone) < 5 || len(phone) > 20 || strings.Trim(phone, "+0123456789") != "" {
		return "", ErrBadPhoneCode
	}
	return phone, nil
}

// SendSubscribe records m (the latest 200 are kept) and reports success.
func (s *Sandbox) SendSubscribe(ctx context.Context, m SubscribeMessage) error {
	m.Data = maps.Clone(m.Data)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sent) == sandboxKeep {
		s.sent = append(s.sent[:0], s.sent[1:]...)
	}
	s.sent = append(s.sent, m)
	return nil
}

// Sent returns copies of the recorded pushes, oldest first.
func (s *Sandbox) Sent() []SubscribeMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SubscribeMessage, len(s.sent))
	for i, m := range s.sent {
		m.Data = maps.Clone(m.Data)
		out[i] = m
	}
	return out
}

// Markers that make the sandbox's content check answer other than pass,
// so that demos and tests can walk the review and refusal paths.
const (
	SandboxRisky  = "sandbox:risky"
	SandboxReview = "sandbox:review"
)

// MsgCheck passes every text except one containing SandboxRisky (risky) or
// SandboxReview (review).
func (s *Sandbox) MsgCheck(ctx context.Context, openID string, scene int, content string) (Verdict, error) {
	switch {
	case scene < 1 || scene > 4:
		return Verdict{}, fmt.Errorf("wechat: msg check scene %d is not 1..4", scene)
	case strings.Contains(content, SandboxRisky):
		return Verdict{Suggest: "risky", Label: "其他"}, nil
	case strings.Contains(content, SandboxReview):
		return Verdict{Suggest: "review", Label: "其他"}, nil
	}
	return Verdict{Suggest: "pass", Label: "正常"}, nil
}
