package wechat_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

type env struct {
	fake   *wechattest.Server
	rdb    redis.UniversalClient
	prefix string
	wx     *wechat.Client
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{fake: wechattest.NewServer(t)}
	e.rdb, e.prefix = dbtest.Redis(t)
	e.wx = e.client(t)
	return e
}

// client builds another Client on the same fake and Redis namespace.
func (e *env) client(t *testing.T) *wechat.Client {
	t.Helper()
	c, err := wechat.New(wechat.Options{
		AppID: wechattest.AppID, AppSecret: wechattest.AppSecret, BaseURL: e.fake.URL(),
		Timeout: 5 * time.Second, MiniprogramState: "trial", RedisPrefix: e.prefix,
	}, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokenKey is where WECHAT.md says the stable token lives.
func (e *env) tokenKey() string {
	return e.prefix + "wechat:gowechat_miniprogram__stable_access_token_" + wechattest.AppID
}

func requireKind(t *testing.T, err error, kind service.Kind, code string) *service.Error {
	t.Helper()
	var se *service.Error
	if !errors.As(err, &se) || se.Kind != kind || se.Code != code {
		t.Fatalf("want %s (kind %d), got %v", code, kind, err)
	}
	return se
}

func requireAPICode(t *testing.T, err error, code int) {
	t.Helper()
	var ae *wechat.APIError
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("want WeChat errcode %d inside, got %v", code, err)
	}
}

func TestCode2Session(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.AddCode("c1", "o1", "u1")
	e.fake.AddCode("x&appid=evil", "o2", "")

	open, union, err := e.wx.Code2Session(ctx, "c1")
	if err != nil || open != "o1" || union != "u1" {
		t.Fatalf("got %q %q %v", open, union, err)
	}
	// The SDK pastes the code into the query: it must arrive whole.
	if open, _, err := e.wx.Code2Session(ctx, "x&appid=evil"); err != nil || open != "o2" {
		t.Fatalf("escaped code: got %q %v", open, err)
	}

	_, _, err = e.wx.Code2Session(ctx, "c1")
	requireKind(t, err, service.KindInvalid, "wechat_bad_code")
	requireAPICode(t, err, 40163)

	_, _, err = e.wx.Code2Session(ctx, "never-issued")
	requireKind(t, err, service.KindInvalid, "wechat_bad_code")
	requireAPICode(t, err, 40029)

	e.fake.AddCode("c2", "o3", "")
	e.fake.Inject(wechattest.Code2Session, 45011)
	_, _, err = e.wx.Code2Session(ctx, "c2")
	if se := requireKind(t, err, service.KindRateLimited, "wechat_rate_limited"); se.RetryAfter <= 0 {
		t.Fatalf("rate limit without RetryAfter: %+v", se)
	}
	requireAPICode(t, err, 45011)
	if open, _, err := e.wx.Code2Session(ctx, "c2"); err != nil || open != "o3" {
		t.Fatalf("a refused call must not spend the code: %q %v", open, err)
	}
}

func TestPhoneNumber(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.AddPhoneCode("p1", "13800138000")

	phone, err := e.wx.PhoneNumber(ctx, "p1")
	if err != nil || phone != "13800138000" {
		t.Fatalf("got %q %v", phone, err)
	}
	_, err = e.wx.PhoneNumber(ctx, "p1")
	requireKind(t, err, service.KindInvalid, "wechat_bad_phone_code")
	requireAPICode(t, err, 40029)

	reqs := e.fake.Requests()
	last := reqs[len(reqs)-1]
	if last.Endpoint != wechattest.PhoneNumber || last.AccessToken == "" || last.Body["code"] != "p1" {
		t.Fatalf("fake saw %+v", last)
	}
}

func push(to string) wechat.SubscribeMessage {
	return wechat.SubscribeMessage{
		ToUser: to, TemplateID: "tpl", Page: "pages/order/detail?id=7",
		Data: map[string]string{"thing1": "楼道灯不亮", "time2": "2026年11月22日 15:01", "character_string3": "GD202611220001"},
	}
}

func TestSendSubscribe(t *testing.T) {
	e := setup(t)
	e.fake.Accept("o1", "tpl", 1)
	if err := e.wx.SendSubscribe(context.Background(), push("o1")); err != nil {
		t.Fatal(err)
	}
	reqs := e.fake.Requests()
	got := reqs[len(reqs)-1]
	data, _ := got.Body["data"].(map[string]any)
	thing, _ := data["thing1"].(map[string]any)
	if got.Endpoint != wechattest.SubscribeSend || got.ErrCode != 0 ||
		got.Body["touser"] != "o1" || got.Body["page"] != "pages/order/detail?id=7" ||
		got.Body["miniprogram_state"] != "trial" || got.Body["lang"] != "zh_CN" || thing["value"] != "楼道灯不亮" {
		t.Fatalf("fake saw %+v", got)
	}
	if e.fake.Quota("o1", "tpl") != 0 {
		t.Fatal("the accept was not spent")
	}
}

func TestSendSubscribeNoQuota(t *testing.T) {
	e := setup(t)
	err := e.wx.SendSubscribe(context.Background(), push("o1"))
	requireKind(t, err, service.KindUpstream, "wechat_error")
	requireAPICode(t, err, 43101)
}

func TestSendSubscribeFieldLimitsCountRunes(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.Accept("o1", "tpl", 1)

	m := push("o1")
	m.Data["thing1"] = strings.Repeat("长", 21)
	err := e.wx.SendSubscribe(ctx, m)
	requireKind(t, err, service.KindUpstream, "wechat_error")
	requireAPICode(t, err, 47003)
	if e.fake.Quota("o1", "tpl") != 1 {
		t.Fatal("a refused push spent the accept")
	}

	m.Data["thing1"] = strings.Repeat("长", 20) // 60 bytes, 20 characters
	if err := e.wx.SendSubscribe(ctx, m); err != nil {
		t.Fatal(err)
	}
}

func TestStaleTokenIsDroppedAndRetriedOnce(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.Accept("o1", "tpl", 2)
	if err := e.wx.SendSubscribe(ctx, push("o1")); err != nil {
		t.Fatal(err)
	}
	first, err := e.rdb.Get(ctx, e.tokenKey()).Result()
	if err != nil {
		t.Fatalf("token not cached under %s: %v", e.tokenKey(), err)
	}

	e.fake.InvalidateTokens()
	if err := e.wx.SendSubscribe(ctx, push("o1")); err != nil {
		t.Fatal(err)
	}
	var sends []wechattest.Request
	for _, r := range e.fake.Requests() {
		if r.Endpoint == wechattest.SubscribeSend {
			sends = append(sends, r)
		}
	}
	if len(sends) != 3 || sends[1].ErrCode != 40001 || sends[1].AccessToken != first || sends[2].ErrCode != 0 {
		t.Fatalf("want ok, 40001 with the old token, ok; got %+v", sends)
	}
	if n := e.fake.Calls(wechattest.StableToken); n != 2 {
		t.Fatalf("stable_token called %d times, want 2", n)
	}
	if now, _ := e.rdb.Get(ctx, e.tokenKey()).Result(); now != sends[2].AccessToken || now == first {
		t.Fatalf("cached token %q, retried with %q, old %q", now, sends[2].AccessToken, first)
	}
}

func TestStaleTokenRetriedOnlyOnce(t *testing.T) {
	e := setup(t)
	e.fake.Accept("o1", "tpl", 1)
	e.fake.Inject(wechattest.SubscribeSend, 40001, 40001, 40001)
	err := e.wx.SendSubscribe(context.Background(), push("o1"))
	requireKind(t, err, service.KindUpstream, "wechat_error")
	requireAPICode(t, err, 40001)
	if n := e.fake.Calls(wechattest.SubscribeSend); n != 2 {
		t.Fatalf("%d send attempts, want 2", n)
	}
}

func TestOutageIsUnavailable(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.AddCode("c1", "o1", "")

	e.fake.Fail(true)
	_, _, err := e.wx.Code2Session(ctx, "c1")
	requireKind(t, err, service.KindUnavailable, "wechat_unreachable")
	// The SDK quotes the URL, app secret included, in its errors.
	if strings.Contains(err.Error(), wechattest.AppSecret) {
		t.Fatalf("secret in error: %v", err)
	}
	_, err = e.wx.PhoneNumber(ctx, "p1")
	requireKind(t, err, service.KindUnavailable, "wechat_unreachable")

	e.fake.Fail(false)
	if open, _, err := e.wx.Code2Session(ctx, "c1"); err != nil || open != "o1" {
		t.Fatalf("after the outage: %q %v", open, err)
	}

	e.fake.Close()
	_, _, err = e.wx.Code2Session(ctx, "c2")
	requireKind(t, err, service.KindUnavailable, "wechat_unreachable")
	if strings.Contains(err.Error(), wechattest.AppSecret) {
		t.Fatalf("secret in error: %v", err)
	}
}

func TestMsgCheck(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.Flag("骂人", "risky", 20003)

	v, err := e.wx.MsgCheck(ctx, "o1", 2, "楼道灯坏了，请尽快修")
	if err != nil || v != (wechat.Verdict{Suggest: "pass", Label: "正常"}) {
		t.Fatalf("got %+v %v", v, err)
	}
	v, err = e.wx.MsgCheck(ctx, "o1", 2, "这是骂人的话")
	if err != nil || v != (wechat.Verdict{Suggest: "risky", Label: "辱骂"}) {
		t.Fatalf("got %+v %v", v, err)
	}
	e.fake.Inject(wechattest.MsgSecCheck, 87014)
	if v, err = e.wx.MsgCheck(ctx, "o1", 2, "随便"); err != nil || v.Suggest != "risky" {
		t.Fatalf("87014: got %+v %v", v, err)
	}
	if _, err := e.wx.MsgCheck(ctx, "o1", 9, "x"); err == nil {
		t.Fatal("scene 9 accepted")
	}
}

func TestClientsShareOneToken(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	other := e.client(t)
	e.fake.Accept("o1", "tpl", 2)
	if err := e.wx.SendSubscribe(ctx, push("o1")); err != nil {
		t.Fatal(err)
	}
	if err := other.SendSubscribe(ctx, push("o1")); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls(wechattest.StableToken); n != 1 {
		t.Fatalf("stable_token called %d times, want 1", n)
	}
	var tokens []string
	for _, r := range e.fake.Requests() {
		if r.Endpoint == wechattest.SubscribeSend {
			tokens = append(tokens, r.AccessToken)
		}
	}
	if len(tokens) != 2 || tokens[0] != tokens[1] {
		t.Fatalf("tokens used: %q", tokens)
	}
}

func TestCache(t *testing.T) {
	rdb, prefix := dbtest.Redis(t)
	ctx := context.Background()
	c := wechat.NewCache(rdb, prefix)

	if v := c.Get("missing"); v != nil {
		t.Fatalf("missing key gave %#v", v)
	}
	if err := c.Set("k", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get("k").(string); !ok || v != "v" {
		t.Fatalf("got %#v", c.Get("k"))
	}
	if ttl := rdb.TTL(ctx, prefix+"k").Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("key not namespaced or without TTL: %v", ttl)
	}
	if err := c.Set("n", 42, time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get("n").(string); !ok || v != "42" {
		t.Fatalf("got %#v", c.Get("n"))
	}
	if err := c.Set("forever", "v", -300*time.Second); err != nil || c.IsExist("forever") {
		t.Fatalf("a key without a lifetime was stored (%v)", err)
	}
	if !c.IsExist("k") {
		t.Fatal("IsExist(k) false")
	}
	if err := c.Delete("k"); err != nil || c.IsExist("k") || c.Get("k") != nil {
		t.Fatalf("delete: %v", err)
	}
}

// A token is answered from the process for a few seconds after it was
// stored or read: a change in Redis (another instance's new token) is seen
// once that window is over, a key gone from Redis once it is read again,
// and a delete drops the copy at once.
func TestCacheAnswersItsFreshCopy(t *testing.T) {
	defer wechat.SetLocalFresh(200 * time.Millisecond)()
	rdb, prefix := dbtest.Redis(t)
	ctx := context.Background()
	c := wechat.NewCache(rdb, prefix)
	if err := c.Set("tok", "t1", time.Hour); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, prefix+"tok", "t2", time.Hour) // another instance's token
	if v := c.Get("tok"); v != "t1" {
		t.Fatalf("within the window: %#v, want the copy t1", v)
	}
	time.Sleep(250 * time.Millisecond)
	if v := c.Get("tok"); v != "t2" {
		t.Fatalf("past the window: %#v, want t2 from Redis", v)
	}
	// Read from Redis, the copy is fresh again, with Redis's lifetime.
	rdb.Set(ctx, prefix+"tok", "t3", time.Hour)
	if v := c.Get("tok"); v != "t2" {
		t.Fatalf("right after a read: %#v, want the copy t2", v)
	}
	time.Sleep(250 * time.Millisecond)
	rdb.Del(ctx, prefix+"tok")
	if v := c.Get("tok"); v != nil {
		t.Fatalf("gone from Redis: %#v", v)
	}
	if err := c.Set("tok", "t4", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("tok"); err != nil || c.Get("tok") != nil {
		t.Fatalf("after a delete: %#v %v", c.Get("tok"), err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	rdb, _ := dbtest.Redis(t)
	good := wechat.Options{AppID: "wx1", AppSecret: "s"}
	for name, mod := range map[string]func(*wechat.Options){
		"no secret": func(o *wechat.Options) { o.AppSecret = "" },
		"base url":  func(o *wechat.Options) { o.BaseURL = "ftp://x" },
		"state":     func(o *wechat.Options) { o.MiniprogramState = "beta" },
	} {
		o := good
		mod(&o)
		if _, err := wechat.New(o, rdb); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := wechat.New(good, rdb); err != nil {
		t.Fatal(err)
	}
}

// With Redis down the client still fetches a token, keeps it in the
// process and sends: emergency alerts and text checks do not depend on
// Redis. When Redis is back, the token is shared again.
func TestSendsWhileRedisIsDown(t *testing.T) {
	e := setup(t)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { down.Close() })
	wx, err := wechat.New(wechat.Options{
		AppID: wechattest.AppID, AppSecret: wechattest.AppSecret, BaseURL: e.fake.URL(),
		Timeout: 5 * time.Second, MiniprogramState: "trial", RedisPrefix: e.prefix,
	}, down)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.Accept("o1", "tpl", 3)
	tokens := func() int {
		n := 0
		for _, r := range e.fake.Requests() {
			if r.Endpoint != wechattest.SubscribeSend {
				n++
			}
		}
		return n
	}
	for i := 0; i < 3; i++ {
		if err := wx.SendSubscribe(context.Background(), push("o1")); err != nil {
			t.Fatalf("send %d with Redis down: %v", i, err)
		}
	}
	if n := tokens(); n != 1 {
		t.Fatalf("%d token fetches for three sends, want one kept in the process", n)
	}
}
