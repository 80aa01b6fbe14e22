package message_test

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat/wechattest"
)

const (
	cbToken  = "cbtoken"
	cbAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG" // 43 characters
)

// sign is WeChat's signature: SHA-1 over the sorted parts, computed here
// independently of the SDK the service uses.
func sign(parts ...string) string {
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// signed is a plaintext JSON push signed with token at the fake clock's time.
func signed(e *env, token string, body []byte) message.Push {
	ts := fmt.Sprint(e.clock.Now().Unix())
	return message.Push{Signature: sign(token, ts, "nonce1"), Timestamp: ts, Nonce: "nonce1", Body: body}
}

// encrypted is an AES-mode push of body as WeChat sends it.
func encrypted(e *env, body []byte, isXML bool) message.Push {
	ts := fmt.Sprint(e.clock.Now().Unix())
	cipher, err := util.EncryptMsg([]byte("0123456789abcdef"), body, wechattest.AppID, cbAESKey)
	if err != nil {
		e.t.Fatal(err)
	}
	env := fmt.Sprintf(`{"ToUserName":"gh_x","Encrypt":"%s"}`, cipher)
	if isXML {
		env = fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>`, cipher)
	}
	return message.Push{
		Signature: sign(cbToken, ts, "n2"), Timestamp: ts, Nonce: "n2", EncryptType: "aes",
		MsgSignature: sign(cbToken, ts, "n2", string(cipher)), XML: isXML, Body: []byte(env),
	}
}

func popupJSON(e *env, openID string, status ...string) []byte {
	var items []string
	tpls := []string{tplNew, tplRating, tplMeeting}
	for i, s := range status {
		items = append(items, fmt.Sprintf(`{"TemplateId":"%s","SubscribeStatusString":"%s","PopupScene":"0"}`, tpls[i], s))
	}
	return []byte(fmt.Sprintf(`{"ToUserName":"gh_x","FromUserName":"%s","CreateTime":"%d","MsgType":"event","Event":"subscribe_msg_popup_event","List":[%s]}`,
		openID, e.clock.Now().Unix(), strings.Join(items, ",")))
}

func popupXML(e *env, openID, template, status string) []byte {
	return []byte(fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[%s]]></TemplateId><SubscribeStatusString><![CDATA[%s]]></SubscribeStatusString><PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent></xml>`,
		openID, e.clock.Now().Unix(), template, status))
}

func withCallback(aes bool) func(*message.Config) {
	return func(c *message.Config) {
		c.CallbackToken = cbToken
		if aes {
			c.AppID, c.CallbackAESKey = wechattest.AppID, cbAESKey
		}
	}
}

func TestCallbackEchoCheck(t *testing.T) {
	e := setup(t, withCallback(false))
	ts := fmt.Sprint(e.clock.Now().Unix())
	t.Run("the token's signature", func(t *testing.T) {
		got, err := e.svc.VerifyCallback(sign(cbToken, ts, "n"), ts, "n", "echo123")
		if err != nil || got != "echo123" {
			t.Fatalf("%q %v", got, err)
		}
	})
	for name, sig := range map[string]string{
		"forged":      sign("not-the-token", ts, "n"),
		"empty":       "",
		"other nonce": sign(cbToken, ts, "m"),
	} {
		t.Run(name+" signature", func(t *testing.T) {
			if _, err := e.svc.VerifyCallback(sig, ts, "n", "echo123"); !errors.Is(err, message.ErrBadSignature) {
				t.Fatalf("%s signature: %v", name, err)
			}
		})
	}
	t.Run("an hour-old signature", func(t *testing.T) {
		old := fmt.Sprint(e.clock.Now().Add(-time.Hour).Unix())
		if _, err := e.svc.VerifyCallback(sign(cbToken, old, "n"), old, "n", "x"); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("an hour-old signature was taken: %v", err)
		}
	})
	t.Run("no token, no callback", func(t *testing.T) {
		off := setup(t)
		if _, err := off.svc.VerifyCallback(sign("", ts, "n"), ts, "n", "x"); !errors.Is(err, message.ErrCallbackOff) {
			t.Fatalf("callback without a token: %v", err)
		}
	})
}

func TestCallbackPlaintextAddsQuotaOnce(t *testing.T) {
	e := setup(t, withCallback(false))
	a := e.user("oa")
	push := signed(e, cbToken, popupJSON(e, "oa", "accept", "reject"))
	t.Run("an accept adds one, a reject nothing", func(t *testing.T) {
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, push))
		if e.remaining(a, tplNew) != 1 || e.remaining(a, tplRating) != 0 {
			t.Fatalf("quota %d/%d", e.remaining(a, tplNew), e.remaining(a, tplRating))
		}
	})
	t.Run("a repeated push counts once", func(t *testing.T) {
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, push)) // WeChat repeats a push it thinks we missed
		if e.remaining(a, tplNew) != 1 {
			t.Fatal("a repeated push counted twice")
		}
	})
	t.Run("an XML push of a later tap", func(t *testing.T) {
		e.clock.Advance(e.cfg.PairWindow + time.Second)
		x := signed(e, cbToken, popupXML(e, "oa", tplNew, "accept"))
		x.XML = true
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, x))
		if e.remaining(a, tplNew) != 2 {
			t.Fatalf("quota %d after an XML accept, want 2", e.remaining(a, tplNew))
		}
	})
	t.Run("forged pushes change nothing", func(t *testing.T) {
		forged := signed(e, "guess", popupJSON(e, "oa", "accept"))
		if err := e.svc.HandleCallback(e.ctx, forged); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("forged push: %v", err)
		}
		tampered := signed(e, cbToken, popupJSON(e, "oa", "accept"))
		tampered.Signature = tampered.Signature[:39] + "0"
		if err := e.svc.HandleCallback(e.ctx, tampered); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("tampered push: %v", err)
		}
		if e.remaining(a, tplNew) != 2 {
			t.Fatal("a refused push changed the quota")
		}
	})
}

func TestCallbackAESMode(t *testing.T) {
	e := setup(t, withCallback(true))
	a := e.user("oa")
	for want, isXML := range []bool{false, true} {
		t.Run(fmt.Sprintf("xml=%v", isXML), func(t *testing.T) {
			body := popupJSON(e, "oa", "accept")
			if isXML {
				body = popupXML(e, "oa", tplNew, "accept")
			}
			servicetest.Must(t, e.svc.HandleCallback(e.ctx, encrypted(e, body, isXML)))
			e.clock.Advance(e.cfg.PairWindow + time.Second)
			if e.remaining(a, tplNew) != want+1 {
				t.Fatalf("quota %d, want %d", e.remaining(a, tplNew), want+1)
			}
		})
	}
	t.Run("refused pushes", func(t *testing.T) {
		// signature is right but msg_signature (over the ciphertext) is
		// not: the SDK alone would take this.
		p := encrypted(e, popupJSON(e, "oa", "accept"), false)
		p.MsgSignature = sign("guess", p.Timestamp, p.Nonce, "x")
		if err := e.svc.HandleCallback(e.ctx, p); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("bad msg_signature: %v", err)
		}
		// A plaintext push when safe mode is configured did not come from WeChat.
		if err := e.svc.HandleCallback(e.ctx, signed(e, cbToken, popupJSON(e, "oa", "accept"))); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("plaintext in safe mode: %v", err)
		}
		if e.remaining(a, tplNew) != 2 {
			t.Fatal("a refused push changed the quota")
		}
	})
}

// The mini-program and the callback both report one tap: it counts once.
func TestClientAndCallbackReportsOfOneTapPair(t *testing.T) {
	e := setup(t, withCallback(false))
	a := e.user("oa")
	if _, err := e.svc.ReportSubscribe(e.ctx, actor(a), map[string]string{tplNew: "accept"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Second)
	if err := e.svc.HandleCallback(e.ctx, signed(e, cbToken, popupJSON(e, "oa", "accept"))); err != nil {
		t.Fatal(err)
	}
	if got := e.remaining(a, tplNew); got != 1 {
		t.Fatalf("one tap reported twice counted %d", got)
	}
	// Two taps, each reported by both, in any order: two.
	e.clock.Advance(time.Second)
	e.svc.HandleCallback(e.ctx, signed(e, cbToken, popupJSON(e, "oa", "accept")))
	e.clock.Advance(time.Second)
	e.svc.HandleCallback(e.ctx, signed(e, cbToken, popupJSON(e, "oa", "accept")))
	e.svc.ReportSubscribe(e.ctx, actor(a), map[string]string{tplNew: "accept"})
	e.svc.ReportSubscribe(e.ctx, actor(a), map[string]string{tplNew: "accept"})
	if got := e.remaining(a, tplNew); got != 3 {
		t.Fatalf("three taps counted %d", got)
	}
}

// In plaintext mode the signature does not cover the body: a signed query
// seen in a log cannot carry a made-up body a second time.
func TestSignedQueryIsGoodOnce(t *testing.T) {
	e := setup(t, withCallback(false))
	a, b := e.user("oa"), e.user("ob")
	push := signed(e, cbToken, popupJSON(e, "oa", "accept"))
	if err := e.svc.HandleCallback(e.ctx, push); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"ob", "oa"} {
		replay := push
		replay.Body = popupJSON(e, who, "accept", "accept")
		if err := e.svc.HandleCallback(e.ctx, replay); err != nil {
			t.Fatal(err)
		}
	}
	if e.remaining(a, tplNew) != 1 || e.remaining(a, tplRating) != 0 || e.remaining(b, tplNew) != 0 {
		t.Fatalf("quota after replays: a %d/%d, b %d", e.remaining(a, tplNew), e.remaining(a, tplRating), e.remaining(b, tplNew))
	}
}
