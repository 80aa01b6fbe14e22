package wechat_test

import (
	"context"
	"testing"
	"time"

	"redprop/service"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

func (e *env) officialAccount(t *testing.T) *wechat.OfficialAccount {
	t.Helper()
	oa, err := wechat.NewOfficialAccount(wechat.OAOptions{
		AppID: wechattest.OAAppID, AppSecret: wechattest.OAAppSecret, BaseURL: e.fake.URL(),
		Timeout: 5 * time.Second, RedisPrefix: e.prefix,
	}, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	return oa
}

func TestOfficialAccountUserInfoAndTemplates(t *testing.T) {
	e := setup(t)
	oa := e.officialAccount(t)
	ctx := context.Background()
	e.fake.Follow("oa1", "u1")
	e.fake.Follow("oa2", "")

	u, err := oa.UserInfo(ctx, "oa1")
	if err != nil || u != (wechat.OAUser{OpenID: "oa1", UnionID: "u1", Subscribed: true}) {
		t.Fatalf("%+v %v", u, err)
	}
	if u, err := oa.UserInfo(ctx, "oa2"); err != nil || u.UnionID != "" || !u.Subscribed {
		t.Fatalf("follower without unionid: %+v %v", u, err)
	}
	_, err = oa.UserInfo(ctx, "nobody")
	requireKind(t, err, service.KindUpstream, "wechat_error")
	requireAPICode(t, err, 40003)

	m := wechat.TemplateMessage{ToUser: "oa1", TemplateID: "tpl", MiniprogramAppID: wechattest.AppID,
		PagePath: "pages/index", Data: map[string]string{"thing1": "楼道灯不亮", "time2": "2026年11月23日 10:00"}, ClientMsgID: "outbox_1"}
	if err := oa.SendTemplate(ctx, m); err != nil {
		t.Fatal(err)
	}
	// A repeat of the client_msg_id is taken and delivers nothing more.
	if err := oa.SendTemplate(ctx, m); err != nil || len(e.fake.Templates("oa1")) != 1 {
		t.Fatalf("repeat: %v, %d delivered", err, len(e.fake.Templates("oa1")))
	}
	e.fake.Unfollow("oa1")
	m.ClientMsgID = "outbox_2"
	err = oa.SendTemplate(ctx, m)
	requireAPICode(t, err, 43004)
	if u, _ := oa.UserInfo(ctx, "oa1"); u.Subscribed {
		t.Fatal("unfollowed user still subscribed")
	}
	m.ToUser, m.Data = "oa2", map[string]string{"thing1": "二十一个字二十一个字二十一个字二十一个字二"}
	requireAPICode(t, oa.SendTemplate(ctx, m), 47003)
}

// The two apps keep their own tokens: the mini-program's never reaches the
// account's endpoints (WeChat answers 48001 to that).
func TestOfficialAccountTokenIsItsOwn(t *testing.T) {
	e := setup(t)
	oa := e.officialAccount(t)
	ctx := context.Background()
	e.fake.Follow("oa1", "u1")
	e.fake.AddPhoneCode("p1", "13800000000")
	if _, err := e.wx.PhoneNumber(ctx, "p1"); err != nil { // caches the mini-program's token
		t.Fatal(err)
	}
	if _, err := oa.UserInfo(ctx, "oa1"); err != nil {
		t.Fatal(err)
	}
	oaKey := e.prefix + "wechat:gowechat_officialaccount__stable_access_token_" + wechattest.OAAppID
	mpTok, _ := e.rdb.Get(ctx, e.tokenKey()).Result()
	oaTok, _ := e.rdb.Get(ctx, oaKey).Result()
	if mpTok == "" || oaTok == "" || mpTok == oaTok {
		t.Fatalf("tokens %q and %q, want two different ones", mpTok, oaTok)
	}
	for _, r := range e.fake.Requests() {
		if r.ErrCode == 48001 {
			t.Fatalf("%s called with the other app's token", r.Endpoint)
		}
	}
	// A revoked account token is dropped and fetched again once.
	e.fake.InvalidateTokens()
	if _, err := oa.UserInfo(ctx, "oa1"); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls(wechattest.OAUserInfo); n != 3 {
		t.Fatalf("%d user/info calls, want 3 (one refused for the stale token)", n)
	}
}
