package wechat

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/officialaccount/user"
	"github.com/silenceper/wechat/v2/util"
)

// OAOptions configure an OfficialAccount client: the service account
// (服务号) has its own AppID and secret, and so its own access token.
type OAOptions struct {
	AppID, AppSecret string
	BaseURL          string        // as Options.BaseURL
	Timeout          time.Duration // per request; 5 s when zero
	RedisPrefix      string
}

// OfficialAccount calls WeChat for the service account: who follows it
// and template messages. The SDK's user and template calls take no
// context (so they would miss the deadline and the base URL): the token
// comes from the SDK's stable-token handle, the same one
// officialaccount.NewOfficialAccount builds (without pulling in its
// message server), and the two calls are made here.
type OfficialAccount struct {
	caller
	token credential.AccessTokenContextHandle
}

// NewOfficialAccount builds the client. Its token is cached under the
// SDK's official-account prefix, apart from the mini-program's.
func NewOfficialAccount(opts OAOptions, rdb redis.UniversalClient) (*OfficialAccount, error) {
	if opts.AppID == "" || opts.AppSecret == "" {
		return nil, errors.New("wechat: the official account's AppID and AppSecret are required")
	}
	if rdb == nil {
		return nil, errors.New("wechat: a Redis client is required for the access token")
	}
	base, err := parseBase(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	install(opts.Timeout)
	cache := NewCache(rdb, opts.RedisPrefix+"wechat:")
	// Stable tokens, as for the mini-program: plain ones fetched by
	// several instances revoke each other.
	token := credential.NewStableAccessToken(opts.AppID, opts.AppSecret, credential.CacheKeyOfficialAccountPrefix, cache)
	return &OfficialAccount{
		token: token,
		caller: caller{cache: cache, base: base, timeout: opts.Timeout,
			tokenKey: credential.CacheKeyOfficialAccountPrefix + "_stable_access_token_" + opts.AppID},
	}, nil
}

// OAUser is what the service account knows of one of its users.
type OAUser struct {
	OpenID string
	// UnionID is empty unless the account is bound to the same open
	// platform account as the mini-program.
	UnionID    string
	Subscribed bool // follows the account now
}

const (
	oaUserInfoURL     = "https://api.weixin.qq.com/cgi-bin/user/info"
	oaTemplateSendURL = "https://api.weixin.qq.com/cgi-bin/message/template/send"
)

// UserInfo reads openID's follower record (cgi-bin/user/info).
func (c *OfficialAccount) UserInfo(ctx context.Context, openID string) (OAUser, error) {
	var out OAUser
	err := c.do(ctx, nil, func(ctx context.Context) error {
		token, err := c.token.GetAccessTokenContext(ctx)
		if err != nil {
			return err
		}
		q := url.Values{"access_token": {token}, "openid": {openID}, "lang": {"zh_CN"}}
		body, err := util.HTTPGetContext(ctx, oaUserInfoURL+"?"+q.Encode())
		if err != nil {
			return err
		}
		var res user.Info
		if err := util.DecodeWithError(body, &res, "user.Info"); err != nil {
			return err
		}
		out = OAUser{OpenID: res.OpenID, UnionID: res.UnionID, Subscribed: res.Subscribe == 1}
		return nil
	})
	if err != nil {
		return OAUser{}, err
	}
	if out.OpenID == "" {
		out.OpenID = openID
	}
	return out, nil
}

// TemplateMessage is one template message of the service account. Data
// maps the template's keys (thing1, time2 … or keyword1 …) to values.
// The push opens PagePath of the mini-program MiniprogramAppID when set
// (the mini-program must be linked to the account), else URL.
type TemplateMessage struct {
	ToUser, TemplateID string
	URL                string
	MiniprogramAppID   string
	PagePath           string
	Data               map[string]string
	// ClientMsgID lets WeChat drop a repeat of the same push to the same
	// user within a few minutes.
	ClientMsgID string
}

type templateBody struct {
	ToUser      string                    `json:"touser"`
	TemplateID  string                    `json:"template_id"`
	URL         string                    `json:"url,omitempty"`
	MiniProgram *templateMiniProgram      `json:"miniprogram,omitempty"`
	Data        map[string]map[string]any `json:"data"`
	ClientMsgID string                    `json:"client_msg_id,omitempty"`
}

type templateMiniProgram struct {
	AppID    string `json:"appid"`
	PagePath string `json:"pagepath"`
}

// SendTemplate pushes m (cgi-bin/message/template/send). WeChat refuses
// with 43004 when the user does not follow the account and 43101 when
// they turned this template off; both come back as an upstream error
// holding the *APIError.
func (c *OfficialAccount) SendTemplate(ctx context.Context, m TemplateMessage) error {
	// The SDK's TemplateMessage always sends "miniprogram", empty or not.
	body := templateBody{ToUser: m.ToUser, TemplateID: m.TemplateID, URL: m.URL, ClientMsgID: m.ClientMsgID,
		Data: make(map[string]map[string]any, len(m.Data))}
	if m.MiniprogramAppID != "" {
		body.MiniProgram = &templateMiniProgram{AppID: m.MiniprogramAppID, PagePath: m.PagePath}
	}
	for k, v := range m.Data {
		body.Data[k] = map[string]any{"value": v}
	}
	return c.do(ctx, nil, func(ctx context.Context) error {
		token, err := c.token.GetAccessTokenContext(ctx)
		if err != nil {
			return notSent(err)
		}
		res, err := postTraced(ctx, oaTemplateSendURL+"?access_token="+url.QueryEscape(token), body)
		if err != nil {
			return err
		}
		return util.DecodeWithCommonError(res, "template.Send")
	})
}
