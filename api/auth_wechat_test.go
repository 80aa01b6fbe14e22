package api

import (
	"net/http"
	"testing"

	"redprop/service/auth"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// Login through the real WeChat client against the fake WeChat server:
// the openid comes from WeChat, and WeChat's failures become clear 4xx/5xx.
func TestLoginThroughFakeWeChat(t *testing.T) {
	s := newTestServer(t)
	fake := wechattest.NewServer(t)
	wx, err := wechat.New(wechat.Options{AppID: wechattest.AppID, AppSecret: wechattest.AppSecret, BaseURL: fake.URL(),
		Timeout: 2e9, MiniprogramState: "formal", RedisPrefix: s.prefix}, s.rdb)
	if err != nil {
		t.Fatal(err)
	}
	s.deps.Auth = auth.New(s.db, s.rdb, wx, s.clock, auth.Config{
		JWTSecret: []byte("test-secret-test-secret-test-secret"), AccessTTL: 9e11, RefreshTTL: 9e12,
		PerIPPerMin: 1000, PerCodePerMin: 1000, RedisPrefix: s.prefix,
	})
	s.router = NewRouter(s.deps)

	fake.AddCode("code-1", "o-real-1", "u-1")
	r := s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "code-1"})
	tok := r.Body["access_token"].(string)
	var openID string
	s.db.Table("users").Select("open_id").Where("id = ?", r.Body["user"].(map[string]any)["id"]).Scan(&openID)
	if openID != "o-real-1" {
		t.Fatalf("user's openid = %q, want the one WeChat gave", openID)
	}
	// A wx.login code is single use: WeChat answers 40163.
	if r := s.do("POST", "/api/v1/auth/login", "", map[string]string{"code": "code-1"}); r.Status != http.StatusBadRequest || r.ErrCode() != "wechat_bad_code" {
		t.Fatalf("reused code: %d %s", r.Status, r.Raw)
	}
	fake.Inject(wechattest.Code2Session, 45011)
	fake.AddCode("code-2", "o-real-2", "")
	if r := s.do("POST", "/api/v1/auth/login", "", map[string]string{"code": "code-2"}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("WeChat 45011: %d %s", r.Status, r.Raw)
	}
	fake.Fail(true)
	if r := s.do("POST", "/api/v1/auth/login", "", map[string]string{"code": "code-2"}); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("WeChat down: %d %s", r.Status, r.Raw)
	}
	fake.Fail(false)
	fake.AddPhoneCode("phone-1", "13700001111")
	r = s.must(http.StatusOK, "PUT", "/api/v1/me/phone", tok, map[string]string{"code": "phone-1"})
	if r.Body["phone"] != "13700001111" {
		t.Fatalf("phone: %s", r.Raw)
	}
	if fake.Calls(wechattest.Code2Session) < 3 {
		t.Fatalf("fake saw %d code2session calls", fake.Calls(wechattest.Code2Session))
	}
}
