package message_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/silenceper/wechat/v2/util"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// The service account's server configuration in the tests.
const (
	oaToken  = "oatoken"
	oaAESKey = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut" // 43 characters
)

func oaTemplateID(kind string) string { return "oa_tpl_" + kind }

func withOA(aes bool) func(*message.Config) {
	return func(c *message.Config) {
		c.OAEnabled, c.OAToken = true, oaToken
		c.AppID = wechattest.AppID // the mini-program the pushes open
		c.OATemplates = message.DefaultOATemplates()
		for kind, t := range c.OATemplates {
			t.ID = oaTemplateID(kind)
			c.OATemplates[kind] = t
		}
		if aes {
			c.OAAppID, c.OAAESKey = wechattest.OAAppID, oaAESKey
		}
	}
}

// setupOA is setup with the service account on, its client pointed at
// the same fake WeChat and sharing the mini-program client's Redis
// namespace.
func setupOA(t *testing.T, tune ...func(*message.Config)) *env {
	t.Helper()
	e := setup(t, append([]func(*message.Config){withOA(false)}, tune...)...)
	oa, err := wechat.NewOfficialAccount(wechat.OAOptions{
		AppID: wechattest.OAAppID, AppSecret: wechattest.OAAppSecret, BaseURL: e.fake.URL(),
		Timeout: 5 * time.Second, RedisPrefix: e.prefix,
	}, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	e.oa = oa
	e.cfg.OfficialAccount = oa
	e.svc = e.newService()
	return e
}

// staff creates a user who logged in to the mini-program with openID and
// unionID and returns them as an actor holding a grid worker's grant.
func (e *env) staff(openID, unionID string) *service.Actor {
	e.t.Helper()
	u := model.User{DisplayName: "网格员", OpenID: &openID}
	if unionID != "" {
		u.UnionID = &unionID
	}
	if err := e.db.Create(&u).Error; err != nil {
		e.t.Fatal(err)
	}
	return &service.Actor{UserID: u.ID, Grants: []model.Grant{{UserID: u.ID, Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 1}}}
}

func followXML(openID, event string, at time.Time) []byte {
	return fmt.Appendf(nil, `<xml><ToUserName><![CDATA[gh_oa]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[%s]]></Event><EventKey><![CDATA[]]></EventKey></xml>`,
		openID, at.Unix(), event)
}

// oaSigned is a plaintext push of the service account signed with token.
func oaSigned(e *env, token string, body []byte) message.Push {
	ts := fmt.Sprint(e.clock.Now().Unix())
	return message.Push{Signature: sign(token, ts, "n3"), Timestamp: ts, Nonce: "n3", XML: true, Body: body}
}

// oaEncrypted is an AES-mode push of the service account.
func oaEncrypted(e *env, body []byte) message.Push {
	ts := fmt.Sprint(e.clock.Now().Unix())
	cipher, err := util.EncryptMsg([]byte("fedcba9876543210"), body, wechattest.OAAppID, oaAESKey)
	if err != nil {
		e.t.Fatal(err)
	}
	env := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_oa]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>`, cipher)
	return message.Push{Signature: sign(oaToken, ts, "n4"), Timestamp: ts, Nonce: "n4", EncryptType: "aes",
		MsgSignature: sign(oaToken, ts, "n4", string(cipher)), XML: true, Body: []byte(env)}
}

// follow has openID follow the account in WeChat and WeChat tell us.
func (e *env) follow(openID, unionID string) {
	e.t.Helper()
	e.fake.Follow(openID, unionID)
	if err := e.svc.HandleOACallback(e.ctx, oaSigned(e, oaToken, followXML(openID, "subscribe", e.clock.Now()))); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(time.Second)
}

func (e *env) follower(openID string) model.OAFollower {
	e.t.Helper()
	var f model.OAFollower
	if err := e.db.Where("open_id = ?", openID).Take(&f).Error; err != nil {
		e.t.Fatal(err)
	}
	return f
}

func (e *env) chooseOA(a *service.Actor) message.PushChannel {
	e.t.Helper()
	ch, err := e.svc.SetPushChannel(e.ctx, a, model.ChannelOA)
	if err != nil {
		e.t.Fatal(err)
	}
	return ch
}

func linkedTo(f model.OAFollower) int64 {
	if f.UserID == nil {
		return 0
	}
	return *f.UserID
}

func TestOAFollowLinksByUnionID(t *testing.T) {
	e := setupOA(t)
	a := e.staff("mp_grid", "union_grid")
	other := e.staff("mp_other", "union_other")

	t.Run("a follow links by unionid", func(t *testing.T) {
		e.follow("oa_grid", "union_grid")
		f := e.follower("oa_grid")
		if !f.Following || f.UnionID != "union_grid" || linkedTo(f) != a.UserID {
			t.Fatalf("follower %+v, want following and linked to user %d", f, a.UserID)
		}
		if n := e.fake.Calls(wechattest.OAUserInfo); n != 1 {
			t.Fatalf("user/info called %d times, want 1", n)
		}
		if ch, _ := e.svc.PushChannel(e.ctx, other); ch.OALinked {
			t.Fatal("another user shows as linked")
		}
	})
	t.Run("an unfollow unlinks", func(t *testing.T) {
		unfollow := oaSigned(e, oaToken, followXML("oa_grid", "unsubscribe", e.clock.Now()))
		servicetest.Must(t, e.svc.HandleOACallback(e.ctx, unfollow))
		if f := e.follower("oa_grid"); f.Following || linkedTo(f) != 0 {
			t.Fatalf("after unsubscribe: %+v", f)
		}
	})
	t.Run("a late copy of the older follow changes nothing", func(t *testing.T) {
		late := oaSigned(e, oaToken, followXML("oa_grid", "subscribe", e.clock.Now().Add(-time.Minute)))
		servicetest.Must(t, e.svc.HandleOACallback(e.ctx, late))
		if f := e.follower("oa_grid"); f.Following || linkedTo(f) != 0 {
			t.Fatalf("an older follow event relinked: %+v", f)
		}
	})
	t.Run("following again in AES mode, the push repeated", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		e.cfg.OAAppID, e.cfg.OAAESKey = wechattest.OAAppID, oaAESKey
		e.svc = e.newService()
		p := oaEncrypted(e, followXML("oa_grid", "subscribe", e.clock.Now()))
		for range 2 {
			servicetest.Must(t, e.svc.HandleOACallback(e.ctx, p))
		}
		if f := e.follower("oa_grid"); !f.Following || linkedTo(f) != a.UserID {
			t.Fatalf("after following again: %+v", f)
		}
		// Only the two new follows asked WeChat: not the late copy, not the repeat.
		if n := e.fake.Calls(wechattest.OAUserInfo); n != 2 {
			t.Fatalf("user/info called %d times, want 2", n)
		}
		var n int64
		e.db.Model(&model.OAFollower{}).Count(&n)
		if n != 1 {
			t.Fatalf("%d follower rows, want 1", n)
		}
	})
}

func TestOAFollowBeforeFirstLoginLinksLater(t *testing.T) {
	e := setupOA(t)
	e.follow("oa_new", "union_new") // no user of ours has that unionid yet
	if f := e.follower("oa_new"); linkedTo(f) != 0 || f.UnionID != "union_new" {
		t.Fatalf("follower %+v", f)
	}
	a := e.staff("mp_new", "union_new") // first login
	if ch := e.chooseOA(a); !ch.OALinked || ch.Channel != model.ChannelOA {
		t.Fatalf("channel %+v, want linked through the unionid", ch)
	}
	if f := e.follower("oa_new"); linkedTo(f) != a.UserID {
		t.Fatalf("follower %+v not linked", f)
	}
}

func TestOAPushGoesThroughTheAccountOnce(t *testing.T) {
	e := setupOA(t)
	a := e.staff("mp_grid", "union_grid")
	mpUser := e.staff("mp_duty", "union_duty") // follows too, but keeps the mini-program
	e.allow(mpUser.UserID, "mp_duty", tplNew, 1)
	e.allow(a.UserID, "mp_grid", tplNew, 1)
	e.follow("oa_grid", "union_grid")
	e.follow("oa_duty", "union_duty")
	if ch := e.chooseOA(a); !ch.OALinked || !ch.OAEnabled {
		t.Fatalf("channel %+v", ch)
	}

	e.publish(newReport("order:12:submitted:1", a.UserID, mpUser.UserID))
	st := e.deliver()
	if st.Sent != 2 {
		t.Fatalf("stats %+v, want 2 sent", st)
	}
	sent := e.fake.Templates("oa_grid")
	if len(sent) != 1 || e.fake.Calls(wechattest.OATemplateSend) != 1 {
		t.Fatalf("%d template messages delivered in %d calls, want 1 in 1", len(sent), e.fake.Calls(wechattest.OATemplateSend))
	}
	body := sent[0]
	data := body["data"].(map[string]any)
	mp := body["miniprogram"].(map[string]any)
	if body["template_id"] != oaTemplateID(message.KindNewReport) || mp["appid"] != wechattest.AppID ||
		mp["pagepath"] != "pages/order/detail?id=12" || body["client_msg_id"] == "" ||
		data["character_string1"].(map[string]any)["value"] != "20261123-0001" ||
		data["time4"].(map[string]any)["value"] != "2026年11月23日 10:00" {
		t.Fatalf("template message %v", body)
	}
	// The mini-program's push went to the other user only, and the OA
	// user's subscribe quota was not touched.
	if e.delivered("mp_grid") != 0 || e.delivered("mp_duty") != 1 || e.fake.Calls(wechattest.SubscribeSend) != 1 {
		t.Fatalf("subscribe pushes: grid %d, duty %d", e.delivered("mp_grid"), e.delivered("mp_duty"))
	}
	if q := e.remaining(a.UserID, tplNew); q != 1 {
		t.Fatalf("quota %d, want 1 untouched", q)
	}
	rows := e.rows("event_key = ?", "order:12:submitted:1")
	byUser := map[int64]model.Outbox{rows[0].UserID: rows[0], rows[1].UserID: rows[1]}
	if r := byUser[a.UserID]; r.State != model.OutboxSent || r.Channel != model.ChannelOA || r.ToUser != "oa_grid" ||
		r.TemplateID != oaTemplateID(message.KindNewReport) {
		t.Fatalf("OA row %+v", r)
	}
	if r := byUser[mpUser.UserID]; r.State != model.OutboxSent || r.Channel != model.ChannelMP || r.ToUser != "mp_duty" {
		t.Fatalf("mp row %+v", r)
	}
	if len(e.messages(a.UserID)) != 1 {
		t.Fatal("no inbox message")
	}
	if st := e.deliver(); st.Claimed != 0 || e.fake.Calls(wechattest.OATemplateSend) != 1 {
		t.Fatalf("a second run: %+v", st)
	}
	m, _ := e.svc.Metrics(e.ctx, admin())
	if m.SentByChannel[model.ChannelOA] != 1 || m.SentByChannel[model.ChannelMP] != 1 || m.Process.SentByChannel[model.ChannelOA] != 1 {
		t.Fatalf("metrics %+v", m)
	}

	// Back to the mini-program: the next push is a subscribe message.
	if ch, err := e.svc.SetPushChannel(e.ctx, a, model.ChannelMP); err != nil || ch.Channel != model.ChannelMP {
		t.Fatalf("%+v %v", ch, err)
	}
	e.publish(newReport("order:13:submitted:1", a.UserID))
	e.deliver()
	if e.delivered("mp_grid") != 1 || e.fake.Calls(wechattest.OATemplateSend) != 1 {
		t.Fatalf("after choosing mp: %d subscribe pushes, %d template calls", e.delivered("mp_grid"), e.fake.Calls(wechattest.OATemplateSend))
	}
}

func TestOANotFollowingUnlinksAndFallsBackToTheMiniProgram(t *testing.T) {
	e := setupOA(t)
	a := e.staff("mp_grid", "union_grid")
	e.allow(a.UserID, "mp_grid", tplNew, 2)
	e.follow("oa_grid", "union_grid")
	e.chooseOA(a)
	e.fake.Unfollow("oa_grid") // and the unsubscribe event never reached us

	e.publish(newReport("order:1:submitted:1", a.UserID))
	if st := e.deliver(); st.Requeued != 1 || st.Sent != 0 {
		t.Fatalf("stats %+v, want the push back in the queue", st)
	}
	row := e.rows("user_id = ?", a.UserID)[0]
	if row.State != model.OutboxFailed || row.LastCode != "43004" || !row.DueAt.Equal(e.clock.Now()) {
		t.Fatalf("row %+v", row)
	}
	if f := e.follower("oa_grid"); f.Following || linkedTo(f) != 0 {
		t.Fatalf("follower still linked: %+v", f)
	}
	if ch, _ := e.svc.PushChannel(e.ctx, a); ch.OALinked || ch.Channel != model.ChannelOA {
		t.Fatalf("channel %+v", ch)
	}
	// Nothing reached them: the same push now leaves by the mini-program.
	if st := e.deliver(); st.Sent != 1 || e.delivered("mp_grid") != 1 || e.fake.Calls(wechattest.OATemplateSend) != 1 {
		t.Fatalf("the fallback: %+v, %d subscribe pushes", st, e.delivered("mp_grid"))
	}
	// And so do the next ones.
	e.publish(newReport("order:2:submitted:1", a.UserID))
	if st := e.deliver(); st.Sent != 1 || e.delivered("mp_grid") != 2 || e.fake.Calls(wechattest.OATemplateSend) != 1 {
		t.Fatalf("next push: %+v, %d subscribe pushes", st, e.delivered("mp_grid"))
	}
}

func TestOATemplateTurnedOffIsSkipped(t *testing.T) {
	e := setupOA(t)
	a := e.staff("mp_grid", "union_grid")
	e.follow("oa_grid", "union_grid")
	e.chooseOA(a)
	e.fake.RefuseTemplate("oa_grid", oaTemplateID(message.KindNewReport))
	e.publish(newReport("order:1:submitted:1", a.UserID))
	e.deliver()
	row := e.rows("user_id = ?", a.UserID)[0]
	if row.State != model.OutboxSkipped || row.SkipReason != message.SkipTemplateOff || row.LastCode != "43101" {
		t.Fatalf("row %+v", row)
	}
	if f := e.follower("oa_grid"); !f.Following || linkedTo(f) != a.UserID {
		t.Fatalf("a refused template must not unlink: %+v", f)
	}
}

func TestOAStaleTokenAndSeparateTokens(t *testing.T) {
	e := setupOA(t)
	a := e.staff("mp_grid", "union_grid")
	b := e.staff("mp_duty", "")
	e.allow(b.UserID, "mp_duty", tplNew, 1)
	e.follow("oa_grid", "union_grid")
	e.chooseOA(a)
	e.publish(newReport("order:1:submitted:1", a.UserID, b.UserID))
	if _, err := e.wx.MsgCheck(e.ctx, "mp_duty", 2, "楼道灯坏了"); err != nil { // the mini-program's token is cached too
		t.Fatal(err)
	}
	e.fake.InvalidateTokens() // WeChat revokes the account's token (and the mini-program's)
	if st := e.deliver(); st.Sent != 2 {
		t.Fatalf("stats %+v", st)
	}
	refused, wrongApp := 0, 0
	for _, r := range e.fake.Requests() {
		if (r.Endpoint == wechattest.OATemplateSend || r.Endpoint == wechattest.SubscribeSend) && r.ErrCode == 40001 {
			refused++
		}
		if r.ErrCode == 48001 {
			wrongApp++
		}
	}
	if refused != 2 || wrongApp != 0 || len(e.fake.Templates("oa_grid")) != 1 || e.delivered("mp_duty") != 1 {
		t.Fatalf("%d refused for a stale token (want 1 per app), %d with the other app's token (want 0)", refused, wrongApp)
	}
	// Both apps' tokens are cached, each under its own key.
	for _, key := range []string{
		"gowechat_miniprogram__stable_access_token_" + wechattest.AppID,
		"gowechat_officialaccount__stable_access_token_" + wechattest.OAAppID,
	} {
		if n, _ := e.rdb.Exists(e.ctx, e.prefix+"wechat:"+key).Result(); n != 1 {
			t.Fatalf("token key %s missing", key)
		}
	}
}

func TestOACallbackRejectsForgedPushes(t *testing.T) {
	e := setupOA(t)
	a := e.staff("mp_grid", "union_grid")
	e.fake.Follow("oa_grid", "union_grid")
	ts := fmt.Sprint(e.clock.Now().Unix())

	t.Run("echo check", func(t *testing.T) {
		if got, err := e.svc.VerifyOACallback(sign(oaToken, ts, "n"), ts, "n", "echo9"); err != nil || got != "echo9" {
			t.Fatalf("echo check: %q %v", got, err)
		}
		// The mini-program's callback token does not open the account's.
		if _, err := e.svc.VerifyOACallback(sign(cbToken, ts, "n"), ts, "n", "x"); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("other token: %v", err)
		}
	})
	body := followXML("oa_grid", "subscribe", e.clock.Now())
	t.Run("forged and hour-old pushes", func(t *testing.T) {
		if err := e.svc.HandleOACallback(e.ctx, oaSigned(e, "guess", body)); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("forged push: %v", err)
		}
		old := oaSigned(e, oaToken, body)
		old.Timestamp = fmt.Sprint(e.clock.Now().Add(-time.Hour).Unix())
		old.Signature = sign(oaToken, old.Timestamp, old.Nonce)
		if err := e.svc.HandleOACallback(e.ctx, old); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("hour-old push: %v", err)
		}
	})
	t.Run("safe mode: msg_signature signs the ciphertext, plaintext is refused", func(t *testing.T) {
		e.cfg.OAAppID, e.cfg.OAAESKey = wechattest.OAAppID, oaAESKey
		e.svc = e.newService()
		p := oaEncrypted(e, body)
		p.MsgSignature = sign("guess", p.Timestamp, p.Nonce, "x")
		if err := e.svc.HandleOACallback(e.ctx, p); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("bad msg_signature: %v", err)
		}
		if err := e.svc.HandleOACallback(e.ctx, oaSigned(e, oaToken, body)); !errors.Is(err, message.ErrBadSignature) {
			t.Fatalf("plaintext in safe mode: %v", err)
		}
	})
	t.Run("refused pushes changed nothing", func(t *testing.T) {
		var n int64
		e.db.Model(&model.OAFollower{}).Count(&n)
		if n != 0 || e.fake.Calls(wechattest.OAUserInfo) != 0 {
			t.Fatalf("refused pushes wrote %d followers, asked WeChat %d times", n, e.fake.Calls(wechattest.OAUserInfo))
		}
		if ch, _ := e.svc.PushChannel(e.ctx, a); ch.OALinked {
			t.Fatal("linked by a refused push")
		}
	})
	t.Run("no callback with the channel off", func(t *testing.T) {
		off := setup(t)
		if _, err := off.svc.VerifyOACallback(sign(oaToken, ts, "n"), ts, "n", "x"); !errors.Is(err, message.ErrOACallbackOff) {
			t.Fatalf("callback with the channel off: %v", err)
		}
	})
}

func TestSetPushChannelRules(t *testing.T) {
	e := setupOA(t)
	resident := &service.Actor{UserID: e.user("mp_resident")}
	staff := e.staff("mp_grid", "union_grid")
	t.Run("a resident takes the mini-program only", func(t *testing.T) {
		if _, err := e.svc.SetPushChannel(e.ctx, resident, model.ChannelOA); !errors.Is(err, message.ErrOAStaffOnly) {
			t.Fatalf("resident chose oa: %v", err)
		}
		if ch, err := e.svc.SetPushChannel(e.ctx, resident, model.ChannelMP); err != nil || ch.Channel != model.ChannelMP {
			t.Fatalf("resident chose mp: %+v %v", ch, err)
		}
	})
	t.Run("no channel but mp and oa", func(t *testing.T) {
		if _, err := e.svc.SetPushChannel(e.ctx, staff, "sms"); !errors.Is(err, message.ErrBadChannel) {
			t.Fatalf("bad channel: %v", err)
		}
	})
	t.Run("staff choose oa before following", func(t *testing.T) {
		if ch := e.chooseOA(staff); ch.Channel != model.ChannelOA || ch.OALinked {
			t.Fatalf("chose oa before following: %+v", ch)
		}
		if ch := e.chooseOA(staff); ch.Channel != model.ChannelOA {
			t.Fatalf("chose oa twice: %+v", ch)
		}
	})
	t.Run("not with the channel off", func(t *testing.T) {
		off := setup(t)
		if _, err := off.svc.SetPushChannel(off.ctx, staff, model.ChannelOA); !errors.Is(err, message.ErrOAOff) {
			t.Fatalf("oa with the channel off: %v", err)
		}
	})
}

// Users who chose the account before the channel was turned off get the
// mini-program's pushes, as everyone does with the channel off.
func TestOAOffIgnoresThePreference(t *testing.T) {
	e := setupOA(t)
	a := e.staff("mp_grid", "union_grid")
	e.allow(a.UserID, "mp_grid", tplNew, 1)
	e.follow("oa_grid", "union_grid")
	e.chooseOA(a)
	e.cfg.OAEnabled = false
	e.svc = e.newService()
	e.publish(newReport("order:1:submitted:1", a.UserID))
	if st := e.deliver(); st.Sent != 1 || e.delivered("mp_grid") != 1 || e.fake.Calls(wechattest.OATemplateSend) != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestSandboxRecordsOAPushes(t *testing.T) {
	e := setup(t)
	cfg := message.DefaultConfig()
	cfg.Sandbox, cfg.AppID = true, "wxsandbox000000001"
	withOA(false)(&cfg)
	cfg.OATemplates = nil // the sandbox makes up template ids
	svc, err := message.New(e.db, e.clock, wechat.NewSandbox(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	a := e.staff(wechat.SandboxOpenID("grid"), wechat.SandboxUnionID("grid"))
	b := e.staff(wechat.SandboxOpenID("duty"), wechat.SandboxUnionID("duty"))
	follow := oaSigned(e, oaToken, followXML(wechat.SandboxOAOpenID("grid"), "subscribe", e.clock.Now()))
	if err := svc.HandleOACallback(e.ctx, follow); err != nil {
		t.Fatal(err)
	}
	e.chooseOA(a)
	e.publish(newReport("order:12:submitted:1", a.UserID, b.UserID))
	if st := e.deliver(); st.Skipped != 2 {
		t.Fatalf("%+v", st)
	}
	page, err := svc.SandboxPushes(e.ctx, admin(), 0, service.Page{Limit: 10})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("%+v %v", page, err)
	}
	byUser := map[int64]model.SandboxPush{page.Items[0].UserID: page.Items[0], page.Items[1].UserID: page.Items[1]}
	if p := byUser[a.UserID]; p.Channel != model.ChannelOA || p.ToUser != wechat.SandboxOAOpenID("grid") ||
		p.TemplateID != "sandbox_oa_new_report" || p.Page != "pages/order/detail?id=12" || p.Note == "" {
		t.Fatalf("OA sandbox push %+v", p)
	}
	if p := byUser[b.UserID]; p.Channel != model.ChannelMP || p.ToUser != wechat.SandboxOpenID("duty") {
		t.Fatalf("mp sandbox push %+v", p)
	}
}

// The account's templates render within WeChat's limits whatever the
// event carries: typed keys as for subscribe messages, old-style keys cut
// to 20 characters.
func TestOARenderedValuesStayWithinLimits(t *testing.T) {
	e := setupOA(t, func(c *message.Config) {
		c.OATemplates[message.KindProgress] = message.OATemplate{ID: "oa_old_style", Fields: map[string]string{
			"first": "title", "keyword1": "number", "keyword2": "state", "keyword3": "place", "remark": "body",
		}}
	})
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		ev := message.Event{Title: randomText(r), Body: randomText(r), OrderID: int64(i), Fields: map[string]string{}}
		for _, f := range []string{"number", "category", "place", "time", "state", "meeting_title", "meeting_time", "meeting_place"} {
			if r.IntN(4) > 0 {
				ev.Fields[f] = randomText(r)
			}
		}
		for _, kind := range message.Kinds() {
			data, _ := message.RenderOA(e.svc, kind, ev, e.clock.Now())
			for key, v := range data {
				if !wechattest.FieldOK(key, v) || utf8.RuneCountInString(v) > 32 {
					t.Fatalf("%s %s = %q breaks the limits", kind, key, v)
				}
			}
		}
	}
	data, _ := message.RenderOA(e.svc, message.KindProgress, message.Event{Title: "这是一个非常非常非常非常非常非常长的工单标题啊"}, e.clock.Now())
	if n := utf8.RuneCountInString(data["first"]); n != 20 {
		t.Fatalf("first cut to %d characters, want 20", n)
	}
}
