package message_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// Template ids the tests configure.
const (
	tplNew      = "tpl_new_report"
	tplProgress = "tpl_progress"
	tplRating   = "tpl_rating"
	tplMeeting  = "tpl_meeting"
	tplNotice   = "tpl_notice"
	tplEval     = "tpl_evaluation"
)

var tplOf = map[string]string{
	message.KindNewReport: tplNew, message.KindProgress: tplProgress,
	message.KindRating: tplRating, message.KindMeeting: tplMeeting,
	message.KindNotice: tplNotice, message.KindEvaluation: tplEval,
}

// env is the service over a clean database, a fake clock and the fake
// WeChat server, reached through the real client. The messages capability
// knows users only by id and openid: its tests make bare users rather
// than load the demo city of servicetest.
type env struct {
	t     *testing.T
	ctx   context.Context
	db    *gorm.DB
	clock *service.FakeClock
	fake  *wechattest.Server
	wx    *wechat.Client
	cfg   message.Config
	svc   *message.Service
	// The Redis namespace of the WeChat clients' tokens.
	rdb    redis.UniversalClient
	prefix string
	oa     *wechat.OfficialAccount // the service account's client (official_test.go)
}

func testConfig() message.Config {
	cfg := message.DefaultConfig()
	cfg.Templates = message.DefaultTemplates()
	for kind, id := range tplOf {
		t := cfg.Templates[kind]
		t.ID = id
		cfg.Templates[kind] = t
	}
	cfg.BatchSize = 10
	// One lane: tests that inject WeChat's answers need the calls in row
	// order (TestLanes… runs several).
	cfg.SendLanes = 1
	return cfg
}

func setup(t *testing.T, tune ...func(*message.Config)) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), db: dbtest.Open(t),
		clock: service.NewFakeClock(servicetest.Start),
		fake:  wechattest.NewServer(t)}
	rdb, prefix := dbtest.Redis(t)
	e.rdb, e.prefix = rdb, prefix
	wx, err := wechat.New(wechat.Options{
		AppID: wechattest.AppID, AppSecret: wechattest.AppSecret, BaseURL: e.fake.URL(),
		Timeout: 5 * time.Second, MiniprogramState: "trial", RedisPrefix: prefix,
	}, rdb)
	if err != nil {
		t.Fatal(err)
	}
	e.wx = wx
	e.cfg = testConfig()
	for _, f := range tune {
		f(&e.cfg)
	}
	e.svc = e.newService()
	return e
}

// newService builds another instance (a second worker) on the same stores.
func (e *env) newService() *message.Service {
	e.t.Helper()
	svc, err := message.New(e.db, e.clock, e.wx, e.cfg)
	servicetest.Must(e.t, err)
	return svc
}

// user creates a user with an openid (none when openID is "").
func (e *env) user(openID string) int64 {
	e.t.Helper()
	u := model.User{DisplayName: "用户"}
	if openID != "" {
		u.OpenID = &openID
	}
	servicetest.Must(e.t, e.db.Create(&u).Error)
	return u.ID
}

func actor(id int64) *service.Actor { return &service.Actor{UserID: id} }

// admin is a platform admin (who needs no user of their own here).
func admin() *service.Actor {
	return &service.Actor{Grants: []model.Grant{{Role: model.RolePlatformAdmin, ScopeKind: model.ScopePlatform}}}
}

// allow has the user accept n pushes of template, in WeChat and with us.
func (e *env) allow(userID int64, openID, template string, n int) {
	e.t.Helper()
	e.fake.Accept(openID, template, n)
	for range n {
		if _, err := e.svc.ReportSubscribe(e.ctx, actor(userID), map[string]string{template: message.SubscribeAccept}); err != nil {
			e.t.Fatal(err)
		}
		// Each tap is its own: past the pairing window of the last.
		e.clock.Advance(e.cfg.PairWindow + time.Second)
	}
}

func (e *env) publish(ev message.Event) {
	e.t.Helper()
	if err := model.InTx(e.ctx, e.db, func(tx *gorm.DB) error { return e.svc.Publish(e.ctx, tx, ev) }); err != nil {
		e.t.Fatal(err)
	}
}

// crashAfterFirstRating publishes a rating request to two new users, a
// (allowed `allow` pushes) and b, and runs one delivery pass that dies
// (SendLanes 1) after a's push went out and before it was recorded: a's
// row is left sending, b's claimed, as by a worker that crashed.
func (e *env) crashAfterFirstRating(key string, allow int) (a, b int64) {
	e.t.Helper()
	a, b = e.user("oa"), e.user("ob")
	e.allow(a, "oa", tplRating, allow)
	e.allow(b, "ob", tplRating, 1)
	ev := newReport(key, a, b)
	ev.Kind, ev.Event, ev.Title = message.KindRating, "order.confirmed", "请为工单服务评价"
	e.publish(ev)
	message.SetAfterSend(e.svc, func(model.Outbox) bool { return true })
	if _, err := e.svc.DeliverOnce(e.ctx); !errors.Is(err, message.ErrCrashed) {
		e.t.Fatalf("want the simulated crash, got %v", err)
	}
	return a, b
}

func (e *env) deliver(svc ...*message.Service) message.Stats {
	e.t.Helper()
	s := e.svc
	if len(svc) > 0 {
		s = svc[0]
	}
	st, err := s.DeliverOnce(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func newReport(key string, users ...int64) message.Event {
	return message.Event{
		Kind: message.KindNewReport, Event: "order.submitted", Key: key, UserIDs: users,
		Title: "新工单待核实", Body: "工单 20261123-0001（水电维修）", OrderID: 12,
		Fields: map[string]string{"number": "20261123-0001", "category": "水电维修", "place": "1号楼1单元",
			"time": "2026-11-23T10:00:00+08:00"},
	}
}

// delivered counts the pushes WeChat accepted for openID.
func (e *env) delivered(openID string) int {
	n := 0
	for _, r := range e.fake.Requests() {
		if r.Endpoint == wechattest.SubscribeSend && r.Status == 200 && r.ErrCode == 0 && r.Body["touser"] == openID {
			n++
		}
	}
	return n
}

func (e *env) rows(where string, args ...any) []model.Outbox {
	e.t.Helper()
	var rows []model.Outbox
	if err := e.db.Where(where, args...).Order("id").Find(&rows).Error; err != nil {
		e.t.Fatal(err)
	}
	return rows
}

func (e *env) messages(userID int64) []model.Message {
	e.t.Helper()
	var ms []model.Message
	if err := e.db.Where("user_id = ?", userID).Order("id").Find(&ms).Error; err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func (e *env) remaining(userID int64, template string) int {
	e.t.Helper()
	q, err := model.QuotaOf(e.ctx, e.db, userID, template)
	if errors.Is(err, model.ErrNotFound) {
		return 0
	}
	servicetest.Must(e.t, err)
	return q.Remaining
}

func TestPublishReachesExactlyItsRecipients(t *testing.T) {
	e := setup(t)
	a, b, c := e.user("oa"), e.user("ob"), e.user("oc")
	e.allow(a, "oa", tplNew, 1)
	e.allow(b, "ob", tplNew, 1)
	e.allow(c, "oc", tplNew, 1)

	e.publish(newReport("order:12:submitted:1", a, b, a, 0))
	st := e.deliver()
	if st.Claimed != 2 || st.Sent != 2 {
		t.Fatalf("stats %+v, want 2 claimed and sent", st)
	}
	for _, u := range []struct {
		id     int64
		openID string
		want   int
	}{{a, "oa", 1}, {b, "ob", 1}, {c, "oc", 0}} {
		ms := e.messages(u.id)
		if len(ms) != u.want || e.delivered(u.openID) != u.want {
			t.Fatalf("user %s: %d messages, %d pushes; want %d of each", u.openID, len(ms), e.delivered(u.openID), u.want)
		}
		if u.want == 1 && (ms[0].Kind != message.KindNewReport || ms[0].Event != "order.submitted" || ms[0].OrderID != 12 ||
			ms[0].EventKey == nil || *ms[0].EventKey != "order:12:submitted:1") {
			t.Fatalf("message %+v", ms[0])
		}
	}
	if st := e.deliver(); st.Claimed != 0 {
		t.Fatalf("a second run claimed %d rows", st.Claimed)
	}
	// The push carried the rendered template.
	for _, r := range e.fake.Requests() {
		if r.Endpoint != wechattest.SubscribeSend {
			continue
		}
		data := r.Body["data"].(map[string]any)
		if r.Body["template_id"] != tplNew || r.Body["page"] != "pages/order/detail?id=12" ||
			data["character_string1"].(map[string]any)["value"] != "20261123-0001" ||
			data["time4"].(map[string]any)["value"] != "2026年11月23日 10:00" {
			t.Fatalf("push body %v", r.Body)
		}
	}
}

func TestRepeatedPublishQueuesNothingNew(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	e.allow(a, "oa", tplNew, 3)
	ev := newReport("order:12:submitted:1", a)
	e.publish(ev)
	e.publish(ev)
	if n := len(e.rows("user_id = ?", a)); n != 1 {
		t.Fatalf("%d outbox rows after publishing twice, want 1", n)
	}
	e.deliver()
	e.publish(ev) // after delivery too
	e.deliver()
	if len(e.messages(a)) != 1 || e.delivered("oa") != 1 {
		t.Fatalf("%d messages, %d pushes; want 1 and 1", len(e.messages(a)), e.delivered("oa"))
	}
	if got := e.remaining(a, tplNew); got != 2 {
		t.Fatalf("quota left %d, want 2", got)
	}
}

func TestQuotaAcceptSendThenSkipped(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	subs, err := e.svc.Subscriptions(e.ctx, actor(a))
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != len(message.Kinds()) || !subs[0].Ask || subs[0].TemplateID != tplNew {
		t.Fatalf("subscriptions before any accept: %+v", subs)
	}
	e.allow(a, "oa", tplNew, 1)
	subs, _ = e.svc.Subscriptions(e.ctx, actor(a))
	if subs[0].Remaining != 1 || subs[0].Ask {
		t.Fatalf("after one accept: %+v", subs[0])
	}

	e.publish(newReport("order:1:submitted:1", a))
	e.publish(newReport("order:2:submitted:1", a))
	st := e.deliver()
	if st.Sent != 1 || st.Skipped != 1 {
		t.Fatalf("stats %+v, want one sent and one skipped", st)
	}
	rows := e.rows("user_id = ?", a)
	if rows[0].State != model.OutboxSent || rows[1].State != model.OutboxSkipped || rows[1].SkipReason != message.SkipNoQuota {
		t.Fatalf("rows %s/%s(%s)", rows[0].State, rows[1].State, rows[1].SkipReason)
	}
	if calls := e.fake.Calls(wechattest.SubscribeSend); calls != 1 {
		t.Fatalf("WeChat was called %d times; a push without quota must not be tried", calls)
	}
	subs, _ = e.svc.Subscriptions(e.ctx, actor(a))
	if subs[0].Remaining != 0 || !subs[0].Ask {
		t.Fatalf("after the send: %+v", subs[0])
	}
	// Both messages are in the inbox all the same.
	if n := len(e.messages(a)); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestReportSubscribeRefusesUnknownTemplates(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	for _, c := range []struct {
		name string
		res  map[string]string
		code string
	}{
		{"a template not ours", map[string]string{"tpl_other": "accept"}, "unknown_template"},
		{"an answer WeChat never gives", map[string]string{tplNew: "maybe"}, "bad_subscribe_result"},
		{"no answer", map[string]string{}, "empty_subscribe_result"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.ReportSubscribe(e.ctx, actor(a), c.res)
			servicetest.WantErr(t, err, service.KindInvalid, c.code)
		})
	}
	t.Run("reject adds nothing, accept one", func(t *testing.T) {
		_, err := e.svc.ReportSubscribe(e.ctx, actor(a), map[string]string{tplNew: "reject", tplRating: "accept"})
		servicetest.Must(t, err)
		if e.remaining(a, tplNew) != 0 || e.remaining(a, tplRating) != 1 {
			t.Fatalf("quota %d/%d, want 0/1", e.remaining(a, tplNew), e.remaining(a, tplRating))
		}
	})
}

func TestLongTermTemplateNeedsNoQuota(t *testing.T) {
	e := setup(t, func(c *message.Config) {
		tpl := c.Templates[message.KindNewReport]
		tpl.LongTerm = true
		c.Templates[message.KindNewReport] = tpl
	})
	a := e.user("oa")
	e.fake.Accept("oa", tplNew, 5) // WeChat's side of the long-term subscription
	e.publish(newReport("order:1:submitted:1", a))
	e.publish(newReport("order:2:submitted:1", a))
	if st := e.deliver(); st.Sent != 2 {
		t.Fatalf("stats %+v, want both sent without any quota of ours", st)
	}
}

func TestWeChat43101ZeroesTheQuota(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	for range 3 {
		e.svc.ReportSubscribe(e.ctx, actor(a), map[string]string{tplNew: message.SubscribeAccept})
		e.clock.Advance(e.cfg.PairWindow + time.Second)
	}
	// WeChat knows of no accept (the user revoked, or our count drifted).
	e.publish(newReport("order:1:submitted:1", a))
	st := e.deliver()
	if st.Skipped != 1 || e.fake.Calls(wechattest.SubscribeSend) != 1 {
		t.Fatalf("stats %+v after 43101", st)
	}
	row := e.rows("user_id = ?", a)[0]
	if row.State != model.OutboxSkipped || row.SkipReason != message.SkipNoQuota || row.LastCode != "43101" {
		t.Fatalf("row %+v", row)
	}
	if got := e.remaining(a, tplNew); got != 0 {
		t.Fatalf("quota %d after 43101, want 0", got)
	}
	e.publish(newReport("order:2:submitted:1", a))
	e.deliver()
	if calls := e.fake.Calls(wechattest.SubscribeSend); calls != 1 {
		t.Fatalf("WeChat called %d times; the zeroed quota must stop the next push", calls)
	}
}

func TestSkipsWithoutOpenIDOrWhenTurnedOff(t *testing.T) {
	e := setup(t)
	noOpenID := e.user("")
	off := e.user("ooff")
	e.allow(off, "ooff", tplNew, 2)
	// The user turned the template off in WeChat's settings.
	body := fmt.Sprintf(`{"ToUserName":"gh_x","FromUserName":"ooff","CreateTime":%d,"MsgType":"event","Event":"subscribe_msg_change_event","List":[{"TemplateId":"%s","SubscribeStatusString":"reject"}]}`,
		e.clock.Now().Unix(), tplNew)
	e.cfg.CallbackToken = "cbtoken"
	e.svc = e.newService()
	if err := e.svc.HandleCallback(e.ctx, signed(e, "cbtoken", []byte(body))); err != nil {
		t.Fatal(err)
	}
	e.publish(newReport("order:1:submitted:1", noOpenID, off))
	e.deliver()
	for _, r := range e.rows("1 = 1") {
		want := map[int64]string{noOpenID: message.SkipNoOpenID, off: message.SkipTemplateOff}[r.UserID]
		if r.State != model.OutboxSkipped || r.SkipReason != want {
			t.Fatalf("user %d: %s/%s, want skipped/%s", r.UserID, r.State, r.SkipReason, want)
		}
	}
	if e.fake.Calls(wechattest.SubscribeSend) != 0 {
		t.Fatal("WeChat was called")
	}
}

func TestStaleTokenMidRunStillDelivers(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	e.allow(a, "oa", tplNew, 4)
	for i := range 4 {
		e.publish(newReport(fmt.Sprintf("order:%d:submitted:1", i), a))
	}
	sends := 0
	message.SetAfterSend(e.svc, func(model.Outbox) bool {
		sends++
		if sends == 2 {
			e.fake.InvalidateTokens() // WeChat revokes the token we hold
		}
		return false
	})
	if st := e.deliver(); st.Sent != 4 {
		t.Fatalf("stats %+v, want 4 sent", st)
	}
	if e.delivered("oa") != 4 {
		t.Fatalf("%d delivered, want 4", e.delivered("oa"))
	}
	refused := 0
	for _, r := range e.fake.Requests() {
		if r.Endpoint == wechattest.SubscribeSend && r.ErrCode == 40001 {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d sends refused for the stale token, want exactly 1 (then a new token)", refused)
	}
}

func TestWeChatDownForAWhileThenBack(t *testing.T) {
	e := setup(t)
	users := map[string]int64{}
	for _, o := range []string{"o1", "o2", "o3"} {
		users[o] = e.user(o)
		e.allow(users[o], o, tplNew, 1)
	}
	for o, id := range users {
		e.publish(newReport("order:7:submitted:"+o, id))
	}
	e.fake.Fail(true)
	for round := 1; round <= 3; round++ {
		st := e.deliver()
		if st.Failed != 3 {
			t.Fatalf("round %d: %+v, want 3 failed", round, st)
		}
		for _, r := range e.rows("1 = 1") {
			if r.State != model.OutboxFailed || r.Attempts != round || r.LastCode != "unreachable" || !r.DueAt.After(e.clock.Now()) {
				t.Fatalf("round %d: row %+v", round, r)
			}
		}
		// Nothing is due before its backoff.
		if st := e.deliver(); st.Claimed != 0 {
			t.Fatalf("claimed %d rows before their retry time", st.Claimed)
		}
		// The quota taken for a failed try is given back.
		if q := e.remaining(users["o1"], tplNew); q != 1 {
			t.Fatalf("quota %d after a failed send, want 1", q)
		}
		e.clock.Advance(e.cfg.RetryMax)
	}
	m, err := e.svc.Metrics(e.ctx, admin())
	if err != nil {
		t.Fatal(err)
	}
	if m.Failed["unreachable"] != 3 || m.Lag < e.cfg.RetryMax/2 {
		t.Fatalf("metrics while down: %+v", m)
	}
	e.fake.Fail(false)
	if st := e.deliver(); st.Sent != 3 {
		t.Fatalf("%+v, want 3 sent once WeChat is back", st)
	}
	e.clock.Advance(e.cfg.RetryMax)
	e.deliver()
	for o := range users {
		if n := e.delivered(o); n != 1 {
			t.Fatalf("%s got %d pushes, want exactly 1", o, n)
		}
	}
}

func TestFailingRowDiesAfterMaxAttempts(t *testing.T) {
	e := setup(t, func(c *message.Config) { c.MaxAttempts = 2 })
	a := e.user("oa")
	e.allow(a, "oa", tplNew, 1)
	t.Run("after MaxAttempts", func(t *testing.T) {
		e.publish(newReport("order:1:submitted:1", a))
		e.fake.Inject(wechattest.SubscribeSend, -1, -1)
		e.deliver()
		e.clock.Advance(e.cfg.RetryMax)
		if st := e.deliver(); st.Dead != 1 {
			t.Fatalf("%+v, want the row dead after 2 attempts", st)
		}
		row := e.rows("event_key = ?", "order:1:submitted:1")[0]
		if row.State != model.OutboxDead || row.LastCode != "-1" || row.Attempts != 2 {
			t.Fatalf("row %+v", row)
		}
	})
	t.Run("at once when no retry can fix it", func(t *testing.T) {
		e.publish(newReport("order:2:submitted:1", a))
		e.fake.Inject(wechattest.SubscribeSend, 47003)
		if st := e.deliver(); st.Dead != 1 {
			t.Fatalf("%+v, want 47003 dead at once", st)
		}
		if row := e.rows("event_key = ?", "order:2:submitted:1")[0]; row.Attempts != 1 {
			t.Fatalf("row %+v, want dead after its first attempt", row)
		}
	})
}

func TestWorkerKilledBetweenSendAndRecord(t *testing.T) {
	for _, resend := range []bool{false, true} {
		t.Run(fmt.Sprintf("resend=%v", resend), func(t *testing.T) {
			e := setup(t, func(c *message.Config) {
				tpl := c.Templates[message.KindRating]
				tpl.ResendUnknown = resend
				c.Templates[message.KindRating] = tpl
				c.SendLanes = 1 // the crash stops the worker before b's row
			})
			a, b := e.crashAfterFirstRating("order:12:confirmed:1", 2)
			// a's push went out unrecorded; b's was claimed but never tried.
			if row := e.rows("user_id = ?", a)[0]; row.State != model.OutboxSending || e.delivered("oa") != 1 {
				t.Fatalf("after the crash: %s, %d pushes", row.State, e.delivered("oa"))
			}
			if row := e.rows("user_id = ?", b)[0]; row.State != "claimed" || e.delivered("ob") != 0 {
				t.Fatalf("after the crash: b's row %s, %d pushes", row.State, e.delivered("ob"))
			}
			// Another worker comes up; before the lease ends it leaves the row be.
			other := e.newService()
			e.clock.Advance(e.cfg.Lease / 2)
			if st := e.deliver(other); st.Claimed != 0 || st.Unknown != 0 {
				t.Fatalf("within the lease: %+v", st)
			}
			e.clock.Advance(e.cfg.Lease)
			st := e.deliver(other)
			row := e.rows("user_id = ?", a)[0]
			// The row that never reached WeChat goes out under either policy.
			if rb := e.rows("user_id = ?", b)[0]; rb.State != model.OutboxSent || rb.StaleCount != 0 || e.delivered("ob") != 1 {
				t.Fatalf("b's row %s (stale %d), %d pushes", rb.State, rb.StaleCount, e.delivered("ob"))
			}
			if !resend {
				if st.Unknown != 1 || st.Requeued != 1 || row.State != model.OutboxUnknown || row.StaleCount != 1 || e.delivered("oa") != 1 {
					t.Fatalf("default policy: %+v, row %s, %d pushes", st, row.State, e.delivered("oa"))
				}
				e.clock.Advance(time.Hour)
				e.deliver(other)
				if e.delivered("oa") != 1 || e.delivered("ob") != 1 {
					t.Fatal("a row was sent again")
				}
				m, _ := other.Metrics(e.ctx, admin())
				if m.Unknown != 1 || m.Process.Unknown != 1 {
					t.Fatalf("metrics %+v", m)
				}
				return
			}
			// It waits for WeChat's delivery event first, then goes again.
			if st.Unknown != 1 || row.State != model.OutboxUnknown || e.delivered("oa") != 1 {
				t.Fatalf("resend policy, within the reconcile window: %+v, row %s, %d pushes", st, row.State, e.delivered("oa"))
			}
			e.clock.Advance(e.cfg.ReconcileAfter)
			st = e.deliver(other)
			row = e.rows("user_id = ?", a)[0]
			if st.Requeued != 1 || st.Sent != 1 || row.State != model.OutboxSent || row.StaleCount != 1 || e.delivered("oa") != 2 {
				t.Fatalf("resend policy: %+v, row %s, %d pushes", st, row.State, e.delivered("oa"))
			}
		})
	}
}

func TestScheduledRowsWaitAndCancelledOnesNeverGo(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	e.allow(a, "oa", tplMeeting, 2)
	start := e.clock.Now().Add(26 * time.Hour)
	remind := func(meeting int) message.Event {
		return message.Event{
			Kind: message.KindMeeting, Event: "meeting.reminder", Key: fmt.Sprintf("meeting:%d:reminder", meeting),
			UserIDs: []int64{a}, Title: "会议提醒：明日召开", NotBefore: start.Add(-24 * time.Hour),
			CancelKey: fmt.Sprintf("meeting:%d", meeting),
			Fields: map[string]string{"meeting_title": "金日天玺小区议事会", "meeting_time": start.Format(time.RFC3339),
				"meeting_place": "社区党群服务中心", "meeting_id": fmt.Sprint(meeting)},
		}
	}
	e.publish(remind(5))
	e.publish(remind(6))
	if st := e.deliver(); st.Claimed != 0 || len(e.messages(a)) != 0 {
		t.Fatalf("before its time: %+v, %d messages", st, len(e.messages(a)))
	}
	if err := model.InTx(e.ctx, e.db, func(tx *gorm.DB) error { return e.svc.CancelScheduled(e.ctx, tx, "meeting:6") }); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2*time.Hour - time.Second)
	if st := e.deliver(); st.Claimed != 0 {
		t.Fatalf("a second early: %+v", st)
	}
	e.clock.Advance(time.Second)
	if st := e.deliver(); st.Sent != 1 {
		t.Fatalf("at its time: %+v", st)
	}
	e.clock.Advance(48 * time.Hour)
	e.deliver()
	ms := e.messages(a)
	if len(ms) != 1 || *ms[0].EventKey != "meeting:5:reminder" || e.delivered("oa") != 1 {
		t.Fatalf("%d messages, %d pushes; want only meeting 5's", len(ms), e.delivered("oa"))
	}
	if r := e.rows("cancel_key = ?", "meeting:6")[0]; r.State != model.OutboxCancelled {
		t.Fatalf("cancelled row is %s", r.State)
	}
	var push map[string]any
	for _, r := range e.fake.Requests() {
		if r.Endpoint == wechattest.SubscribeSend {
			push = r.Body
		}
	}
	if push["page"] != "pages/meeting/detail?id=5" ||
		push["data"].(map[string]any)["time2"].(map[string]any)["value"] != start.In(time.FixedZone("CST", 8*3600)).Format("2006年1月2日 15:04") {
		t.Fatalf("meeting push %v", push)
	}
}

func TestSandboxRecordsRenderedPushes(t *testing.T) {
	e := setup(t)
	e.cfg = message.DefaultConfig()
	e.cfg.Sandbox = true
	svc, err := message.New(e.db, e.clock, wechat.NewSandbox(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := e.user(wechat.SandboxOpenID("grid"))
	if err := model.InTx(e.ctx, e.db, func(tx *gorm.DB) error { return svc.Publish(e.ctx, tx, newReport("order:1:submitted:1", a)) }); err != nil {
		t.Fatal(err)
	}
	if st, err := svc.DeliverOnce(e.ctx); err != nil || st.Skipped != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	page, err := svc.SandboxPushes(e.ctx, admin(), 0, service.Page{Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("%+v %v", page, err)
	}
	p := page.Items[0]
	if p.TemplateID != "sandbox_new_report" || p.ToUser != "sandbox_grid" || p.Page != "pages/order/detail?id=12" ||
		p.Note == "" || p.MiniprogramState != "formal" {
		t.Fatalf("sandbox push %+v", p)
	}
	if r := e.rows("1 = 1")[0]; r.SkipReason != message.SkipSandbox {
		t.Fatalf("row %+v", r)
	}
	if _, err := svc.SandboxPushes(e.ctx, actor(a), 0, service.Page{Limit: 10}); service.KindOf(err) != service.KindForbidden {
		t.Fatalf("a non-admin read the sandbox: %v", err)
	}
}

func TestInbox(t *testing.T) {
	e := setup(t)
	a, b := e.user("oa"), e.user("ob")
	for i := range 5 {
		e.publish(newReport(fmt.Sprintf("order:%d:submitted:1", i), a))
	}
	e.publish(newReport("order:9:submitted:1", b))
	p1, err := e.svc.Inbox(e.ctx, actor(a), false, service.Page{Limit: 3})
	if err != nil || len(p1.Items) != 3 || !p1.More {
		t.Fatalf("%+v %v", p1, err)
	}
	t.Run("pages, newest first", func(t *testing.T) {
		p2, _ := e.svc.Inbox(e.ctx, actor(a), false, service.Page{After: p1.Items[2].ID, Limit: 3})
		if len(p2.Items) != 2 || p2.More || p2.Items[0].ID >= p1.Items[2].ID {
			t.Fatalf("second page %+v", p2)
		}
		if n, _ := e.svc.UnreadCount(e.ctx, actor(a)); n != 5 {
			t.Fatalf("unread %d", n)
		}
	})
	t.Run("another user's message is not found", func(t *testing.T) {
		other := e.messages(b)[0]
		if _, err := e.svc.MarkRead(e.ctx, actor(a), other.ID); !errors.Is(err, message.ErrMessageNotFound) {
			t.Fatalf("marked another user's message: %v", err)
		}
		if _, err := e.svc.MarkRead(e.ctx, actor(a), 0); !errors.Is(err, message.ErrMessageNotFound) {
			t.Fatalf("marked message 0: %v", err)
		}
	})
	t.Run("read once", func(t *testing.T) {
		m, err := e.svc.MarkRead(e.ctx, actor(a), p1.Items[0].ID)
		if err != nil || m.ReadAt == nil {
			t.Fatalf("%+v %v", m, err)
		}
		e.clock.Advance(time.Minute)
		if again, _ := e.svc.MarkRead(e.ctx, actor(a), m.ID); !again.ReadAt.Equal(*m.ReadAt) {
			t.Fatal("reading twice moved the read time")
		}
		unread, _ := e.svc.Inbox(e.ctx, actor(a), true, service.Page{Limit: 10})
		if len(unread.Items) != 4 {
			t.Fatalf("%d unread listed", len(unread.Items))
		}
	})
	t.Run("all read, the other user's untouched", func(t *testing.T) {
		if n, _ := e.svc.MarkAllRead(e.ctx, actor(a)); n != 4 {
			t.Fatalf("marked %d", n)
		}
		if n, _ := e.svc.UnreadCount(e.ctx, actor(a)); n != 0 {
			t.Fatalf("unread %d after mark all", n)
		}
		if n, _ := e.svc.UnreadCount(e.ctx, actor(b)); n != 1 {
			t.Fatalf("the other user's unread count changed: %d", n)
		}
	})
}

// Lanes send a batch side by side; each push still goes out once, and one
// user's pushes go out in the order they were queued.
func TestLanesDeliverOnceAndKeepEachUsersOrder(t *testing.T) {
	e := setup(t, func(c *message.Config) { c.SendLanes = 4; c.BatchSize = 50 })
	var users []int64
	for i := range 6 {
		open := fmt.Sprintf("lane%d", i)
		u := e.user(open)
		e.allow(u, open, tplNew, 3)
		users = append(users, u)
	}
	for n := 1; n <= 3; n++ {
		ev := newReport(fmt.Sprintf("order:%d:submitted:1", n), users...)
		ev.Fields["number"] = fmt.Sprintf("GD-%d", n)
		e.publish(ev)
	}
	if st := e.deliver(); st.Claimed != 18 || st.Sent != 18 {
		t.Fatalf("%+v, want 18 claimed and sent", st)
	}
	seen := map[string][]string{}
	for _, r := range e.fake.Requests() {
		if r.Endpoint != wechattest.SubscribeSend || r.ErrCode != 0 {
			continue
		}
		to := r.Body["touser"].(string)
		data := r.Body["data"].(map[string]any)
		num := data["character_string1"].(map[string]any)["value"].(string)
		seen[to] = append(seen[to], num)
	}
	for i := range 6 {
		got := seen[fmt.Sprintf("lane%d", i)]
		if fmt.Sprint(got) != "[GD-1 GD-2 GD-3]" {
			t.Fatalf("lane%d received %v", i, got)
		}
	}
	if st := e.deliver(); st.Claimed != 0 {
		t.Fatalf("a second round claimed %d rows", st.Claimed)
	}
}

// A meeting called off while the worker holds its reminder in a claimed
// batch: the reminder is not sent and never reaches the inbox.
func TestCancelWinsOverAClaimedRow(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	e.allow(a, "oa", tplMeeting, 1)
	e.publish(message.Event{
		Kind: message.KindMeeting, Event: "meeting.reminder", Key: "meeting:7:reminder", UserIDs: []int64{a},
		Title: "会议提醒", NotBefore: e.clock.Now().Add(time.Hour), CancelKey: "meeting:7",
		Fields: map[string]string{"meeting_title": "民情恳谈会", "meeting_time": e.clock.Now().Add(3 * time.Hour).Format(time.RFC3339),
			"meeting_place": "社区活动室", "meeting_id": "7"},
	})
	e.clock.Advance(time.Hour)
	message.SetOnClaim(e.svc, func(owner string, ids []int64) {
		if err := model.InTx(e.ctx, e.db, func(tx *gorm.DB) error { return e.svc.CancelScheduled(e.ctx, tx, "meeting:7") }); err != nil {
			t.Error(err)
		}
	})
	if st := e.deliver(); st.Claimed != 1 || st.Sent != 0 {
		t.Fatalf("%+v, want the claimed reminder withdrawn", st)
	}
	if r := e.rows("cancel_key = ?", "meeting:7")[0]; r.State != model.OutboxCancelled || e.delivered("oa") != 0 || len(e.messages(a)) != 0 {
		t.Fatalf("row %s, %d pushes, %d messages", r.State, e.delivered("oa"), len(e.messages(a)))
	}
}

// A token WeChat never hands over means the push was never sent: the row
// is tried again later with its quota given back, never left unknown.
func TestTokenTimeoutIsNotSentAndRetried(t *testing.T) {
	e := setup(t)
	hang := make(chan struct{})
	var tokenCalls atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "token") && tokenCalls.Add(1) == 1 {
			select { // the first token request hangs past the client's timeout
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
		r.Host = ""
		u, _ := url.Parse(e.fake.URL())
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	defer front.Close()
	defer close(hang) // before Close, which waits for the hanging handler
	wx, err := wechat.New(wechat.Options{AppID: wechattest.AppID, AppSecret: wechattest.AppSecret, BaseURL: front.URL,
		Timeout: 200 * time.Millisecond, MiniprogramState: "trial", RedisPrefix: e.prefix + "hang:"}, e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	e.wx = wx
	e.svc = e.newService()
	a := e.user("oa")
	e.allow(a, "oa", tplNew, 1)
	e.publish(newReport("order:1:submitted:1", a))
	st := e.deliver()
	row := e.rows("user_id = ?", a)[0]
	if st.Failed != 1 || row.State != model.OutboxFailed || row.LastCode != "unreachable" || e.remaining(a, tplNew) != 1 {
		t.Fatalf("%+v: row %s %s, quota %d", st, row.State, row.LastCode, e.remaining(a, tplNew))
	}
	e.clock.Advance(e.cfg.RetryMax)
	if st := e.deliver(); st.Sent != 1 || e.delivered("oa") != 1 {
		t.Fatalf("the retry: %+v, %d pushes", st, e.delivered("oa"))
	}
}

// A long-term template keeps no count, but WeChat wants one "allow" before
// its first push: the mini-program is told to ask until the user allowed
// it, and again after WeChat says 43101.
func TestLongTermTemplateIsAskedForUntilAllowed(t *testing.T) {
	e := setup(t, func(c *message.Config) {
		tpl := c.Templates[message.KindNewReport]
		tpl.LongTerm = true
		c.Templates[message.KindNewReport] = tpl
	})
	a := e.user("oa")
	ask := func() bool {
		t.Helper()
		subs, err := e.svc.Subscriptions(e.ctx, actor(a))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if s.TemplateID == tplNew {
				return s.Ask
			}
		}
		t.Fatal("no new-report template")
		return false
	}
	if !ask() {
		t.Fatal("never allowed, yet not asked for")
	}
	e.allow(a, "oa", tplNew, 1)
	if ask() {
		t.Fatal("allowed, still asked for")
	}
	e.fake.Inject(wechattest.SubscribeSend, 43101)
	e.publish(newReport("order:1:submitted:1", a))
	if st := e.deliver(); st.Skipped != 1 {
		t.Fatalf("%+v, want the 43101 skipped", st)
	}
	if !ask() {
		t.Fatal("after 43101 the template is not asked for again")
	}
}

// TestStatementsPerPush is the statement budget of delivering a batch of
// routine pushes, the claim included, BEGIN and COMMIT not counted: on a
// long-term template the whole batch is read (openids), started with its
// routes and recorded in one statement each, so a batch of 32 costs what
// one of 8 does; with a quota to take each push goes through prepare's
// transaction (the quota taken too). The claim and the sweeps before it
// cost the same whatever the batch's size.
func TestStatementsPerPush(t *testing.T) {
	deliver := func(t *testing.T, longTerm bool, n int) int64 {
		e := setup(t, func(cfg *message.Config) {
			tpl := cfg.Templates[message.KindNewReport]
			tpl.LongTerm = longTerm
			cfg.Templates[message.KindNewReport] = tpl
			cfg.BatchSize = 32
		})
		for i := range n {
			open := fmt.Sprintf("push-%d", i)
			u := e.user(open)
			if longTerm {
				e.fake.Accept(open, tplNew, 1)
			} else {
				e.allow(u, open, tplNew, 1)
			}
			e.publish(newReport(fmt.Sprintf("order:%d:submitted:1", i+1), u))
		}
		count := dbtest.CountStatements(t, e.db)
		count.On.Store(true)
		st := e.deliver()
		count.On.Store(false)
		got, sql := count.Take()
		if st.Sent != n || e.fake.Calls(wechattest.SubscribeSend) != n {
			t.Fatalf("stats %+v, %d calls, want %d sent", st, e.fake.Calls(wechattest.SubscribeSend), n)
		}
		rows := e.rows("state = ?", model.OutboxSent)
		if len(rows) != n {
			t.Fatalf("%d rows recorded sent, want %d", len(rows), n)
		}
		for _, r := range rows {
			if r.MsgID == "" || r.ToUser == "" || r.TemplateID != tplNew || r.Attempts != 1 || r.SentAt == nil || r.LeaseUntil != nil {
				t.Fatalf("row %+v not recorded as one sent push with its msgid and route", r)
			}
		}
		t.Logf("%d statements for %d pushes", got, n)
		if longTerm && got > 13 {
			t.Fatalf("%d statements for a batch of %d, at most 13:\n%q", got, n, sql)
		}
		// The claim (on MySQL a read per state and urgency) and the
		// sweeps before it: ten at most per batch.
		if !longTerm && got > 4*int64(n)+10 {
			t.Fatalf("%d statements for %d pushes, at most %d:\n%q", got, n, 4*n+10, sql)
		}
		return got
	}
	t.Run("long-term template", func(t *testing.T) {
		if small, big := deliver(t, true, 8), deliver(t, true, 32); big != small {
			t.Fatalf("%d statements for 32 pushes, %d for 8: want the same", big, small)
		}
	})
	t.Run("one-time template", func(t *testing.T) { deliver(t, false, 8) })
}
