// Package wechat is the one place that talks to WeChat: login codes, phone
// numbers, subscribe messages and the text content check of the
// mini-program, followers and template messages of the service account
// (OfficialAccount), and both accounts' own template lists, through
// github.com/silenceper/wechat/v2 (sub-packages only: the root package
// changes logrus for the whole process). It turns WeChat's error codes into
// *service.Error and keeps the access token in Redis so that every
// instance shares one. Sandbox stands in when no AppID is configured;
// wechattest is a fake WeChat server for tests. It must not import api/ or gin.
package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/miniprogram"
	"github.com/silenceper/wechat/v2/miniprogram/auth"
	"github.com/silenceper/wechat/v2/miniprogram/config"
	"github.com/silenceper/wechat/v2/miniprogram/security"
	"github.com/silenceper/wechat/v2/miniprogram/subscribe"
	"github.com/silenceper/wechat/v2/util"

	"redprop/service"
)

// Options configure a Client.
type Options struct {
	AppID, AppSecret      string
	Token, EncodingAESKey string // push callbacks
	// BaseURL replaces https://api.weixin.qq.com (a fake server in tests or
	// on a developer's machine); empty means the real one.
	BaseURL string
	Timeout time.Duration // per WeChat request; 5 s when zero
	// MiniprogramState is which build a subscribe message opens:
	// developer, trial or formal (the default).
	MiniprogramState string
	RedisPrefix      string
}

// Client calls WeChat for one mini-program.
type Client struct {
	caller
	mp    *miniprogram.MiniProgram
	state string
}

// caller runs calls of one app (the mini-program or the official
// account): its deadline, its base URL and where its access token is
// cached.
type caller struct {
	cache    *Cache
	base     *url.URL // nil: the real host
	timeout  time.Duration
	tokenKey string
}

// New builds the client. The first New of a process installs the SDK's
// process-wide HTTP client (see install); later ones reuse it.
func New(opts Options, rdb redis.UniversalClient) (*Client, error) {
	if opts.AppID == "" || opts.AppSecret == "" {
		return nil, errors.New("wechat: AppID and AppSecret are required")
	}
	if rdb == nil {
		return nil, errors.New("wechat: a Redis client is required for the access token")
	}
	base, err := parseBase(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	switch opts.MiniprogramState {
	case "":
		opts.MiniprogramState = "formal"
	case "developer", "trial", "formal":
	default:
		return nil, fmt.Errorf("wechat: miniprogram state %q must be developer, trial or formal", opts.MiniprogramState)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	install(opts.Timeout)

	cache := NewCache(rdb, opts.RedisPrefix+"wechat:")
	mp := miniprogram.NewMiniProgram(&config.Config{
		AppID: opts.AppID, AppSecret: opts.AppSecret,
		Token: opts.Token, EncodingAESKey: opts.EncodingAESKey,
		Cache: cache,
		// Plain /cgi-bin/token calls from several instances invalidate
		// each other's tokens; stable tokens do not.
		UseStableAK: true,
	})
	return &Client{
		mp: mp, state: opts.MiniprogramState,
		caller: caller{cache: cache, base: base, timeout: opts.Timeout,
			tokenKey: credential.CacheKeyMiniProgramPrefix + "_stable_access_token_" + opts.AppID},
	}, nil
}

// parseBase reads a base URL option: nil for empty or the real host.
func parseBase(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("wechat: base URL %q must be an http(s) URL", raw)
	}
	if u.Scheme == "https" && u.Host == realHost && u.Path == "" {
		return nil, nil
	}
	return u, nil
}

// APIError is WeChat's own refusal (errcode ≠ 0). It is wrapped inside the
// *service.Error a method returns; reach it with errors.As.
type APIError struct {
	Code int
	Msg  string
}

func (e *APIError) Error() string { return fmt.Sprintf("wechat errcode %d: %s", e.Code, e.Msg) }

// WeChat's codes this package acts on.
const (
	codeBadCode      = 40029
	codeUsedCode     = 40163
	codeRateLimited  = 45011
	codeTokenInvalid = 40001
	codeTokenExpired = 42001
	codeTokenIllegal = 40014
	codeRiskyContent = 87014
)

// ErrBadPhoneCode is a refused phone-number code.
var ErrBadPhoneCode = service.Invalid("wechat_bad_phone_code", "手机号授权凭证无效，请重新授权")

var (
	errRateLimited = service.RateLimited("wechat_rate_limited", "微信接口调用过于频繁，请一分钟后再试", time.Minute)
	errUpstream    = service.Upstream("wechat_error", "微信服务返回错误，请稍后再试")
	errUnreachable = service.Unavailable("wechat_unreachable", "暂时无法连接微信服务，请稍后再试")
)

// Code2Session exchanges a wx.login code for the user's openid and unionid
// (empty unless the app is bound to an open-platform account).
func (c *Client) Code2Session(ctx context.Context, code string) (openID, unionID string, err error) {
	if strings.TrimSpace(code) == "" {
		return "", "", ErrBadCode
	}
	var res auth.ResCode2Session
	err = c.do(ctx, ErrBadCode, func(ctx context.Context) error {
		var err error
		// The SDK pastes the code into the query unescaped.
		res, err = c.mp.GetAuth().Code2SessionContext(ctx, url.QueryEscape(code))
		if res.ErrCode != 0 { // the SDK's own error is only text
			return &APIError{Code: int(res.ErrCode), Msg: res.ErrMsg}
		}
		return err
	})
	if err != nil {
		return "", "", err
	}
	if res.OpenID == "" {
		return "", "", errUpstream.Wrap(errors.New("jscode2session answered no openid"))
	}
	return res.OpenID, res.UnionID, nil
}

// PhoneNumber exchanges a getPhoneNumber button code for the user's number
// (with its country code only when outside mainland China).
func (c *Client) PhoneNumber(ctx context.Context, code string) (string, error) {
	if strings.TrimSpace(code) == "" {
		return "", ErrBadPhoneCode
	}
	var phone string
	err := c.do(ctx, ErrBadPhoneCode, func(ctx context.Context) error {
		res, err := c.mp.GetAuth().GetPhoneNumberContext(ctx, code)
		if err == nil {
			phone = res.PhoneInfo.PhoneNumber
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if phone == "" {
		return "", errUpstream.Wrap(errors.New("getuserphonenumber answered no number"))
	}
	return phone, nil
}

// SubscribeMessage is one push of a subscribe-message template. Data maps
// the template's keys (thing1, time2, …) to values within WeChat's limits.
type SubscribeMessage struct {
	ToUser, TemplateID, Page string
	Data                     map[string]string
}

const subscribeSendURL = "https://api.weixin.qq.com/cgi-bin/message/subscribe/send"

// SendSubscribe pushes m. WeChat refuses with 43101 when the user has no
// accept left for the template and 47003 when a value breaks its type's
// limits; both come back as an upstream error holding the *APIError.
func (c *Client) SendSubscribe(ctx context.Context, m SubscribeMessage) error {
	_, err := c.SendSubscribeID(ctx, m)
	return err
}

// SendSubscribeID is SendSubscribe that also returns the msgid WeChat
// answered with: its delivery event (subscribe_msg_sent_event) names the
// push by it.
func (c *Client) SendSubscribeID(ctx context.Context, m SubscribeMessage) (string, error) {
	msg := &subscribe.Message{
		ToUser: m.ToUser, TemplateID: m.TemplateID, Page: m.Page,
		Data:             make(map[string]*subscribe.DataItem, len(m.Data)),
		MiniprogramState: c.state, Lang: "zh_CN",
	}
	for k, v := range m.Data {
		msg.Data[k] = &subscribe.DataItem{Value: v}
	}
	var msgID string
	err := c.do(ctx, nil, func(ctx context.Context) error {
		token, err := c.mp.GetContext().GetAccessTokenContext(ctx)
		if err != nil {
			return notSent(err)
		}
		// subscribe.Send is this request without a context, which would
		// lose the deadline and the base URL.
		body, err := postTraced(ctx, subscribeSendURL+"?access_token="+url.QueryEscape(token), msg)
		if err != nil {
			return err
		}
		if err := util.DecodeWithCommonError(body, "subscribe.Send"); err != nil {
			return err
		}
		var res struct {
			MsgID json.Number `json:"msgid"`
		}
		if json.Unmarshal(body, &res) == nil {
			msgID = res.MsgID.String()
		}
		return nil
	})
	return msgID, err
}

// ErrNotSent marks a push that certainly never reached WeChat (the token
// could not be had, the connection was never made, the request was never
// written): it may be sent again without any risk of a duplicate.
var ErrNotSent = errors.New("wechat: the request was not sent")

type notSentError struct{ err error }

func (e notSentError) Error() string   { return "not sent: " + e.err.Error() }
func (e notSentError) Unwrap() []error { return []error{ErrNotSent, e.err} }
func notSent(err error) error          { return notSentError{err} }

// postTraced posts obj and tells, when it fails, whether the request was
// ever written to the connection: only then may WeChat have acted on it.
func postTraced(ctx context.Context, uri string, obj any) ([]byte, error) {
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	})
	body, err := util.PostJSONContext(ctx, uri, obj)
	if err != nil && !wrote.Load() {
		return nil, notSent(err)
	}
	// Written, then the connection failed (reset, EOF, timeout) before an
	// answer: WeChat may have acted on it. An answer that is not 200 (its
	// gateway) is an answer, and nothing was done.
	var ue *url.Error
	if err != nil && errors.As(err, &ue) {
		return nil, mayHaveArrived{err}
	}
	return body, err
}

// ErrMaybeSent marks a push written to WeChat whose answer was lost: it
// may have been delivered, and sending it again may deliver it twice.
var ErrMaybeSent = errors.New("wechat: the request was written but no answer came")

type mayHaveArrived struct{ err error }

func (e mayHaveArrived) Error() string   { return "maybe sent: " + e.err.Error() }
func (e mayHaveArrived) Unwrap() []error { return []error{ErrMaybeSent, e.err} }

// Verdict of the content check: Suggest is pass, review or risky; Label is
// the category WeChat matched, in Chinese (正常, 广告, 辱骂, …).
type Verdict struct {
	Suggest, Label string
}

// MsgCheck runs WeChat's text check (msgSecCheck v2) for content written by
// openID, who must have opened the mini-program in the last two hours.
// scene: 1 profile, 2 comment, 3 forum, 4 social log. A risky answer is a
// verdict, not an error, whether WeChat says it as a result or as 87014.
func (c *Client) MsgCheck(ctx context.Context, openID string, scene int, content string) (Verdict, error) {
	if scene < 1 || scene > 4 {
		return Verdict{}, fmt.Errorf("wechat: msg check scene %d is not 1..4", scene)
	}
	req := &security.MsgCheckRequest{OpenID: openID, Scene: security.MsgScene(scene), Content: content}
	var v Verdict
	err := c.do(ctx, nil, func(ctx context.Context) error {
		res, err := c.mp.GetSecurity().MsgCheckContext(ctx, req)
		if ae := apiError(err); ae != nil && ae.Code == codeRiskyContent {
			v = Verdict{Suggest: string(security.CheckSuggestRisky), Label: security.CheckLabel(21000).String()}
			return nil
		}
		v = Verdict{Suggest: string(res.Result.Suggest), Label: res.Result.Label.String()}
		return err
	})
	if err != nil {
		return Verdict{}, err
	}
	switch security.CheckSuggest(v.Suggest) {
	case security.CheckSuggestPass, security.CheckSuggestRisky, security.CheckSuggestReview:
	default:
		v.Suggest = string(security.CheckSuggestReview) // an unknown answer gets a human look
	}
	return v, nil
}

// do runs one WeChat call with the client's deadline and base URL. A token
// WeChat no longer accepts is dropped from Redis and the call retried once:
// the SDK caches tokens by their announced lifetime and never notices when
// WeChat revokes one early.
func (c *caller) do(ctx context.Context, badCode *service.Error, call func(context.Context) error) error {
	for retried := false; ; retried = true {
		err := c.attempt(ctx, call)
		if err == nil {
			return nil
		}
		ae := apiError(err)
		if ae == nil {
			return errUnreachable.Wrap(redact(err))
		}
		switch ae.Code {
		case codeTokenInvalid, codeTokenExpired, codeTokenIllegal:
			if retried {
				return errUpstream.Wrap(ae)
			}
			if derr := c.cache.DeleteContext(ctx, c.tokenKey); derr != nil {
				return errUnreachable.Wrap(errors.Join(ae, derr))
			}
			continue
		case codeBadCode, codeUsedCode:
			if badCode != nil {
				return badCode.Wrap(ae)
			}
		case codeRateLimited:
			return errRateLimited.Wrap(ae)
		}
		return errUpstream.Wrap(ae)
	}
}

func (c *caller) attempt(ctx context.Context, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(withBase(ctx, c.base), c.timeout)
	defer cancel()
	return call(ctx)
}

// sdkErrCode reads WeChat's code from the SDK errors that are only text
// (the token fetch: "errcode=40013 , errormsg=…").
var sdkErrCode = regexp.MustCompile(`errcode=(-?\d+) , (?:errmsg|errormsg)=(.*)$`)

// apiError finds WeChat's answer in what the SDK returned, nil when the
// error is not one (network, timeout, non-200, cache).
func apiError(err error) *APIError {
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return &APIError{Code: int(ce.ErrCode), Msg: ce.ErrMsg}
	}
	if m := sdkErrCode.FindStringSubmatch(err.Error()); m != nil {
		code, _ := strconv.Atoi(m[1])
		return &APIError{Code: code, Msg: m[2]}
	}
	return nil
}
