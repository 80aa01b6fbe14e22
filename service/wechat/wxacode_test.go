package wechat_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"redprop/service"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

func TestWxaCode(t *testing.T) {
	ctx := context.Background()
	t.Run("a code is the image WeChat draws for the scene", func(t *testing.T) {
		e := setup(t)
		img, err := e.wx.WxaCode(ctx, "Ab3_-xYz0123456789abc", "pages/console/login")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jpeg.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("not a JPEG: %v", err)
		}
		reqs := e.fake.Requests()
		last := reqs[len(reqs)-1]
		// A trial build's page is not checked and the trial build opens.
		if last.Body["env_version"] != "trial" || last.Body["check_path"] != false || last.Body["page"] != "pages/console/login" {
			t.Fatalf("request %v", last.Body)
		}
		if got := e.fake.WxaCodes(); len(got) != 1 || got[0] != "Ab3_-xYz0123456789abc" {
			t.Fatalf("scenes %v", got)
		}
	})
	t.Run("a released build's page must be published", func(t *testing.T) {
		e := setup(t)
		c, err := wechat.New(wechat.Options{AppID: wechattest.AppID, AppSecret: wechattest.AppSecret, BaseURL: e.fake.URL(),
			Timeout: 5 * time.Second, MiniprogramState: "formal", RedisPrefix: e.prefix}, e.rdb)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.WxaCode(ctx, "ticket123", "pages/console/login")
		requireKind(t, err, service.KindUpstream, "wechat_error")
		requireAPICode(t, err, 41030)
		e.fake.Publish("pages/console/login")
		if _, err := c.WxaCode(ctx, "ticket123", "pages/console/login"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a stale token is dropped and the call retried once", func(t *testing.T) {
		e := setup(t)
		if _, err := e.wx.WxaCode(ctx, "first", "pages/index/index"); err != nil {
			t.Fatal(err)
		}
		e.fake.InvalidateTokens()
		if _, err := e.wx.WxaCode(ctx, "second", "pages/index/index"); err != nil {
			t.Fatalf("after the token was revoked: %v", err)
		}
	})
	t.Run("WeChat's refusals", func(t *testing.T) {
		e := setup(t)
		e.fake.Inject(wechattest.WxaCodeUnlimit, 45009)
		_, err := e.wx.WxaCode(ctx, "ticket123", "pages/index/index")
		requireAPICode(t, err, 45009)
		// A scene WeChat would refuse is not sent.
		before := e.fake.Calls(wechattest.WxaCodeUnlimit)
		_, err = e.wx.WxaCode(ctx, "中文场景", "pages/index/index")
		requireKind(t, err, service.KindInvalid, "wechat_bad_scene")
		if e.fake.Calls(wechattest.WxaCodeUnlimit) != before {
			t.Fatal("a bad scene was sent")
		}
	})
	t.Run("the fake refuses what WeChat refuses", func(t *testing.T) {
		e := setup(t)
		// Straight to the fake: scenes over 32 characters, pages with a slash.
		for _, tc := range []struct {
			body map[string]any
			code int
		}{
			{map[string]any{"scene": "0123456789012345678901234567890123"}, 40129},
			{map[string]any{"scene": "a%20b"}, 40129},
			{map[string]any{"scene": "ok", "page": "/pages/index/index"}, 41030},
			{map[string]any{"scene": "ok", "page": "pages/nope"}, 41030},
			{map[string]any{"scene": "ok", "width": 100}, 40097},
		} {
			if code := e.fake.Post(t, wechattest.WxaCodeUnlimit, tc.body); code != tc.code {
				t.Errorf("%v: errcode %d, want %d", tc.body, code, tc.code)
			}
		}
	})
	t.Run("the sandbox draws a stand-in", func(t *testing.T) {
		sb := wechat.NewSandbox()
		a, err := sb.WxaCode(ctx, "ticketA", "pages/console/login")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := sb.WxaCode(ctx, "ticketB", "pages/console/login")
		if _, err := png.Decode(bytes.NewReader(a)); err != nil || bytes.Equal(a, b) {
			t.Fatalf("sandbox code: %v, same for two tickets: %v", err, bytes.Equal(a, b))
		}
	})
}
