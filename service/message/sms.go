package message

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	tc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"redprop/service"
	"redprop/service/wechat"
)

// The SMS channel: an emergency alert reaches a responder who cannot be
// reached in WeChat (no allowance left, not following the service
// account) on the phone he registered with. Only emergency alerts use it;
// routine pushes never cost a text.

// SMS sends one text message of a provider's approved template.
// templateCode is the provider's template id and params its placeholders
// (for Tencent Cloud "1", "2" …). *TencentSMS implements it.
type SMS interface {
	Send(ctx context.Context, phone, templateCode string, params map[string]string) error
}

// SMSTemplate is the text an emergency alert is sent as.
type SMSTemplate struct {
	// Code is the provider's approved template id; empty turns the
	// channel off.
	Code string `yaml:"template_id" json:"template_id"`
	// Params maps the template's placeholders to event fields (number,
	// place, category, title …); values are cut to 20 characters.
	Params map[string]string `yaml:"params" json:"params"`
}

// DefaultSMSParams fit a template such as
// "{1}发起一键呼叫（工单{2}），请立即响应。".
func DefaultSMSParams() map[string]string {
	return map[string]string{"1": FieldPlace, "2": FieldNumber}
}

func (t SMSTemplate) render(p payload) map[string]string {
	params := t.Params
	if len(params) == 0 {
		params = DefaultSMSParams()
	}
	out := make(map[string]string, len(params))
	for key, field := range params {
		out[key] = or(service.CutRunes(clean(p.Fields[field]), 20), "-")
	}
	return out
}

// maskPhone keeps a phone's first 3 and last 4 digits: the outbox and the
// sandbox record show where a text went without holding the number.
func maskPhone(phone string) string {
	if len(phone) < 8 {
		return strings.Repeat("*", len(phone))
	}
	return phone[:3] + strings.Repeat("*", len(phone)-7) + phone[len(phone)-4:]
}

// TencentSMSOptions configure Tencent Cloud SMS (短信 SendSms, API
// 2021-01-11).
type TencentSMSOptions struct {
	SecretID, SecretKey string
	SDKAppID            string // the SMS application's SdkAppId
	SignName            string // the approved signature (签名)
	Region              string // default ap-guangzhou
	// Endpoint overrides sms.tencentcloudapi.com; a URL with a scheme
	// (http://127.0.0.1:8080) may point it at a stand-in in tests.
	Endpoint string
	Timeout  time.Duration // default 5s
}

// TencentSMS sends through Tencent Cloud's official Go SDK (its common
// client, which signs requests with TC3-HMAC-SHA256).
type TencentSMS struct {
	client *tc.Client
	opts   TencentSMSOptions
}

// NewTencentSMS builds the Tencent Cloud SMS client.
func NewTencentSMS(o TencentSMSOptions) (*TencentSMS, error) {
	if o.SecretID == "" || o.SecretKey == "" || o.SDKAppID == "" || o.SignName == "" {
		return nil, fmt.Errorf("message: Tencent Cloud SMS needs secret_id, secret_key, sdk_app_id and sign_name")
	}
	if o.Region == "" {
		o.Region = "ap-guangzhou"
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.ReqTimeout = max(1, int(o.Timeout/time.Second))
	cpf.HttpProfile.Endpoint = "sms.tencentcloudapi.com"
	if o.Endpoint != "" {
		ep := o.Endpoint
		if u, err := url.Parse(o.Endpoint); err == nil && u.Host != "" {
			ep = u.Host
			cpf.HttpProfile.Scheme = strings.ToUpper(u.Scheme)
		}
		cpf.HttpProfile.Endpoint = ep
	}
	c := tc.NewCommonClient(tc.NewCredential(o.SecretID, o.SecretKey), o.Region, cpf)
	return &TencentSMS{client: c, opts: o}, nil
}

// Send sends one text. Placeholders are sent in their numeric order
// ({1}, {2} …). A refusal of the provider (bad template, a number it
// will not send to) is an *SMSError; a request that never left wraps
// wechat.ErrNotSent. The worker retries both with backoff up to
// MaxAttempts.
func (t *TencentSMS) Send(ctx context.Context, phone, templateCode string, params map[string]string) error {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		if x != y {
			return x - y
		}
		return strings.Compare(a, b)
	})
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = params[k]
	}
	if !strings.HasPrefix(phone, "+") {
		phone = "+86" + phone
	}
	req := tchttp.NewCommonRequest("sms", "2021-01-11", "SendSms")
	req.SetContext(ctx)
	if err := req.SetActionParameters(map[string]any{
		"PhoneNumberSet": []string{phone}, "SmsSdkAppId": t.opts.SDKAppID, "SignName": t.opts.SignName,
		"TemplateId": templateCode, "TemplateParamSet": values,
	}); err != nil {
		return fmt.Errorf("%w: sms request: %v", wechat.ErrNotSent, err)
	}
	resp := tchttp.NewCommonResponse()
	if err := t.client.Send(req, resp); err != nil {
		var se *tcerr.TencentCloudSDKError
		if errors.As(err, &se) && se.Code != "ClientError.NetworkError" {
			return &SMSError{Code: se.Code, Message: se.Message}
		}
		return fmt.Errorf("%w: sms: %v", wechat.ErrNotSent, err)
	}
	var out struct {
		Response struct {
			SendStatusSet []struct {
				Code    string `json:"Code"`
				Message string `json:"Message"`
			} `json:"SendStatusSet"`
		} `json:"Response"`
	}
	if err := json.Unmarshal(resp.GetBody(), &out); err != nil {
		return fmt.Errorf("sms: unreadable answer: %w", err)
	}
	for _, st := range out.Response.SendStatusSet {
		if !strings.EqualFold(st.Code, "Ok") {
			return &SMSError{Code: st.Code, Message: st.Message}
		}
	}
	if len(out.Response.SendStatusSet) == 0 {
		return fmt.Errorf("sms: the answer lists no send status")
	}
	return nil
}

// SMSError is a provider's refusal of one text.
type SMSError struct{ Code, Message string }

func (e *SMSError) Error() string { return "sms: " + e.Code + ": " + e.Message }
