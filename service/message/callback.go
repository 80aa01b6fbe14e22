package message

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/util"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Errors of the push callback (消息推送).
var (
	ErrCallbackOff  = service.NotFound("callback_off", "未开启微信消息推送")
	ErrBadSignature = service.Forbidden("bad_signature", "消息推送签名校验失败")
	ErrBadPush      = service.Invalid("bad_push", "消息推送内容无法解析")
)

// Push is one POST of WeChat's push callback: the query's signature
// parameters and the body as received.
type Push struct {
	Signature, Timestamp, Nonce string
	EncryptType                 string // "aes" in safe (and compatible) mode
	MsgSignature                string // signature over the ciphertext, AES mode only
	XML                         bool   // the body is XML, not JSON
	Body                        []byte
}

// VerifyCallback answers WeChat's GET check of the callback URL: the echo
// string when the signature is the token's.
func (s *Service) VerifyCallback(signature, timestamp, nonce, echostr string) (string, error) {
	if err := s.checkSignature(signature, timestamp, nonce); err != nil {
		return "", err
	}
	return echostr, nil
}

func (s *Service) checkSignature(signature, timestamp, nonce string, more ...string) error {
	if s.cfg.CallbackToken == "" {
		return ErrCallbackOff
	}
	return s.verify(s.cfg.CallbackToken, signature, timestamp, nonce, more...)
}

// verify checks a callback signature made with token, and its age.
func (s *Service) verify(token, signature, timestamp, nonce string, more ...string) error {
	want := util.Signature(append([]string{token, timestamp, nonce}, more...)...)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(signature))) != 1 {
		return ErrBadSignature
	}
	// A signed request is only good for a while: a recorded one must not
	// add quota again when replayed.
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := s.clock.Now().Sub(time.Unix(sec, 0)); d > s.cfg.CallbackMaxSkew || d < -s.cfg.CallbackMaxSkew {
		return ErrBadSignature
	}
	return nil
}

// HandleCallback verifies one push and applies the subscribe events in
// it: popup accepts add quota, settings changes turn templates off or on,
// refused deliveries spend what was left. Other events are ignored. A
// push WeChat repeats is applied once.
func (s *Service) HandleCallback(ctx context.Context, p Push) error {
	if s.cfg.CallbackToken == "" {
		return ErrCallbackOff
	}
	raw, err := s.open(p, s.cfg.CallbackToken, s.cfg.AppID, s.cfg.CallbackAESKey)
	if err != nil {
		return err
	}
	ev, err := parsePush(p.XML, raw)
	if err != nil {
		return ErrBadPush.Wrap(err)
	}
	if ev.MsgType != "event" || ev.FromUserName == "" {
		return nil
	}
	switch ev.Event {
	case "subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event":
	default:
		return nil
	}
	sum := sha1.Sum(raw)
	return model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// Each signed query is good once: in plaintext mode the signature
		// does not cover the body, so a logged URL must not carry a second,
		// made-up body. WeChat's own retry of a push we applied is the same
		// request and is passed over as well.
		receipts := []string{
			service.CutRunes("sig:"+strings.ToLower(p.Signature)+":"+p.Timestamp+":"+p.Nonce, 128),
			// Two events of one user in one second differ in their body.
			service.CutRunes("wx:"+ev.FromUserName+":"+string(ev.CreateTime)+":"+ev.Event+":"+hex.EncodeToString(sum[:6]), 128),
		}
		for _, key := range receipts {
			err := model.InsertCallbackReceipt(ctx, tx, key)
			if errors.Is(err, model.ErrDuplicate) {
				return nil // already applied
			}
			if err != nil {
				return err
			}
		}
		userID, err := model.UserIDByOpenID(ctx, tx, ev.FromUserName)
		if errors.Is(err, model.ErrNotFound) {
			return nil // not one of our users
		}
		if err != nil {
			return err
		}
		return s.applyPush(ctx, tx, userID, ev)
	})
}

// open checks a push's signatures against token and returns its body in
// plaintext: decrypted in AES mode (with the app's id and key), as sent
// otherwise. With an AES key configured only encrypted pushes are taken.
func (s *Service) open(p Push, token, appID, aesKey string) ([]byte, error) {
	if err := s.verify(token, p.Signature, p.Timestamp, p.Nonce); err != nil {
		return nil, err
	}
	switch {
	case p.EncryptType == "aes":
		if aesKey == "" {
			return nil, ErrBadPush.Wrap(fmt.Errorf("encrypted push without an EncodingAESKey configured"))
		}
		var env struct {
			Encrypt string `xml:"Encrypt" json:"Encrypt"`
		}
		if err := decode(p.XML, p.Body, &env); err != nil || env.Encrypt == "" {
			return nil, ErrBadPush.Wrap(err)
		}
		// The SDK checks signature but not msg_signature, which is what
		// vouches for the ciphertext.
		if err := s.verify(token, p.MsgSignature, p.Timestamp, p.Nonce, env.Encrypt); err != nil {
			return nil, err
		}
		_, plain, err := util.DecryptMsg(appID, env.Encrypt, aesKey)
		if err != nil {
			return nil, ErrBadSignature.Wrap(err)
		}
		return plain, nil
	case p.EncryptType != "" && p.EncryptType != "raw":
		return nil, ErrBadPush
	case aesKey != "":
		// Safe mode is configured: a plaintext push did not come from WeChat.
		return nil, ErrBadSignature
	}
	return p.Body, nil
}

func (s *Service) applyPush(ctx context.Context, tx *gorm.DB, userID int64, ev pushEvent) error {
	known := map[string]bool{}
	for _, t := range s.templates() {
		known[t.TemplateID] = true
	}
	for _, it := range ev.List {
		if !known[it.TemplateID] {
			continue
		}
		var err error
		switch ev.Event {
		case "subscribe_msg_popup_event":
			if it.Status == SubscribeAccept {
				err = s.accept(ctx, tx, userID, it.TemplateID, true)
			}
		case "subscribe_msg_change_event":
			err = setOff(ctx, tx, userID, it.TemplateID, it.Status == SubscribeReject)
		case "subscribe_msg_sent_event":
			if string(it.ErrorCode) != "0" && string(it.ErrorCode) != "" {
				s.log.WarnContext(ctx, "subscribe message not delivered", "template_id", it.TemplateID,
					"error_code", string(it.ErrorCode), "error_status", it.ErrorStatus)
				s.metrics.add(func(c *counters) { c.failed["sent_event_"+string(it.ErrorCode)]++ })
			}
			if it.ErrorStatus == "fail_user_refuse" {
				err = model.EmptyQuota(ctx, tx, userID, it.TemplateID)
			}
			if err == nil {
				err = s.applySent(ctx, tx, userID, ev.FromUserName, it)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// pushEvent is the part of an event push we use, from XML or JSON.
type pushEvent struct {
	FromUserName string     `xml:"FromUserName" json:"FromUserName"`
	CreateTime   flexString `xml:"CreateTime" json:"CreateTime"`
	MsgType      string     `xml:"MsgType" json:"MsgType"`
	Event        string     `xml:"Event" json:"Event"`
	Status       string     `xml:"Status" json:"Status"` // TEMPLATESENDJOBFINISH of the service account
	List         []pushItem `xml:"-" json:"-"`
}

type pushItem struct {
	TemplateID  string     `xml:"TemplateId" json:"TemplateId"`
	Status      string     `xml:"SubscribeStatusString" json:"SubscribeStatusString"`
	ErrorCode   flexString `xml:"ErrorCode" json:"ErrorCode"`
	ErrorStatus string     `xml:"ErrorStatus" json:"ErrorStatus"`
	MsgID       flexString `xml:"MsgID" json:"MsgID"` // of subscribe_msg_sent_event
}

// flexString takes a JSON string or number (WeChat sends both).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

func parsePush(isXML bool, raw []byte) (pushEvent, error) {
	var ev pushEvent
	if isXML {
		var x struct {
			XMLName xml.Name `xml:"xml"`
			pushEvent
			Popup  []pushItem `xml:"SubscribeMsgPopupEvent>List"`
			Change []pushItem `xml:"SubscribeMsgChangeEvent>List"`
			Sent   []pushItem `xml:"SubscribeMsgSentEvent>List"`
		}
		if err := xml.Unmarshal(raw, &x); err != nil {
			return ev, err
		}
		ev = x.pushEvent
		ev.List = append(append(x.Popup, x.Change...), x.Sent...)
		return ev, nil
	}
	var j struct {
		pushEvent
		List json.RawMessage `json:"List"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return ev, err
	}
	ev = j.pushEvent
	switch l := bytes.TrimSpace(j.List); {
	case len(l) == 0 || string(l) == "null":
	case l[0] == '[':
		if err := json.Unmarshal(l, &ev.List); err != nil {
			return ev, err
		}
	default: // a single item is sent as an object
		var it pushItem
		if err := json.Unmarshal(l, &it); err != nil {
			return ev, err
		}
		ev.List = []pushItem{it}
	}
	return ev, nil
}

func decode(isXML bool, raw []byte, v any) error {
	if isXML {
		return xml.Unmarshal(raw, v)
	}
	return json.Unmarshal(raw, v)
}
