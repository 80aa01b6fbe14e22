package message_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// Two workers on MariaDB, each in its own goroutine, claim disjoint rows
// and together send every push exactly once. SQLite has a single writer,
// so this test runs only on MariaDB.
func TestTwoWorkersClaimDisjointRows(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrent claims need MariaDB (set " + dbtest.EnvMySQL + ")")
	}
	e := setup(t, func(c *message.Config) { c.BatchSize = 4 })
	const n = 40
	a := e.user("oa")
	e.fake.Accept("oa", tplNew, n)
	if err := e.db.Create(&model.SubscribeQuota{UserID: a, TemplateID: tplNew, Remaining: n}).Error; err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e.publish(newReport(fmt.Sprintf("order:%d:submitted:1", i), a))
	}
	var mu sync.Mutex
	claimedBy := map[int64]string{}
	var twice []int64
	onClaim := func(owner string, ids []int64) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if _, dup := claimedBy[id]; dup {
				twice = append(twice, id)
			}
			claimedBy[id] = owner
		}
	}
	workers := []*message.Service{e.newService(), e.newService()}
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	claims := make([]int, len(workers))
	for i, w := range workers {
		message.SetOnClaim(w, onClaim)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				st, err := w.DeliverOnce(e.ctx)
				if err != nil {
					errs[i] = err
					return
				}
				if st.Claimed == 0 {
					return
				}
				claims[i] += st.Claimed
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(twice) > 0 {
		t.Fatalf("rows claimed twice: %v", twice)
	}
	if len(claimedBy) != n || claims[0]+claims[1] != n {
		t.Fatalf("%d rows claimed (%v), want %d", len(claimedBy), claims, n)
	}
	if got := e.delivered("oa"); got != n {
		t.Fatalf("%d pushes delivered, want %d", got, n)
	}
	if got := len(e.rows("state = ?", model.OutboxSent)); got != n {
		t.Fatalf("%d rows sent, want %d", got, n)
	}
	if q := e.remaining(a, tplNew); q != 0 {
		t.Fatalf("quota left %d, want 0", q)
	}
	t.Logf("claims per worker: %v", claims)
}

// randomText mixes what residents type: Chinese, Latin, digits, symbols,
// emoji, newlines, a "~" and long runs.
func randomText(r *rand.Rand) string {
	pieces := []string{
		"水管爆裂漏水严重", "楼道灯不亮了请尽快维修", "A", "abc", "12345678901234567890", "~", "😀", "\n", " ",
		"·", "！", "（三号楼）", "金日天玺小区东门口停车场", "2026-11-23T10:00:00+08:00", "\t", "%", "京A12345",
		"13800138000", "已受理", strings.Repeat("长", 40), "\u200b", "\x00", "€", "Zhang San",
		"✅", "⚠️", "❤️", "☎", "1️⃣", "☀",
	}
	var b strings.Builder
	for range r.IntN(12) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// No rendering of ours breaks WeChat's field rules, whatever the event
// carries: every value of every kind passes the fake's checks (the ones
// WeChat answers 47003 for).
func TestRenderedValuesStayWithinWeChatLimits(t *testing.T) {
	e := setup(t)
	svc := e.svc
	// Every WeChat field type, besides the kinds' own mappings (no value
	// of ours maps to some of them, but the cutting holds for any text).
	types := []string{"thing", "number", "letter", "character_string", "symbol", "phrase", "name",
		"amount", "phone_number", "car_number", "time", "date"}
	r := rand.New(rand.NewPCG(1, 2))
	fields := []string{"number", "category", "place", "time", "state", "title", "meeting_title", "meeting_time", "meeting_place"}
	for i := range 3000 {
		ev := message.Event{Title: randomText(r), Body: randomText(r), OrderID: int64(i), Fields: map[string]string{}}
		for _, f := range fields {
			if r.IntN(4) > 0 {
				ev.Fields[f] = randomText(r)
			}
		}
		for _, typ := range types {
			in := randomText(r)
			if v := message.RenderValue(typ, in, e.clock.Now()); !wechattest.FieldOK(typ+"1", v) {
				t.Fatalf("%s = %q breaks WeChat's limits (from %q)", typ, v, in)
			}
		}
		for _, kind := range message.Kinds() {
			data, page := message.Render(svc, kind, ev, e.clock.Now())
			for key, v := range data {
				if !wechattest.FieldOK(key, v) {
					t.Fatalf("%s %s = %q breaks WeChat's limits (from %q)", kind, key, v, ev.Fields)
				}
			}
			if strings.ContainsAny(page, " \n{}") {
				t.Fatalf("page %q", page)
			}
		}
	}
}

// The same through the fake WeChat, end to end: long Chinese strings never
// earn a 47003.
func TestLongChineseStringsNever47003(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	long := strings.Repeat("楼道灯不亮了请尽快维修😀", 10)
	for _, kind := range message.Kinds() {
		e.fake.Accept("oa", tplOf[kind], 1)
		e.db.Create(&model.SubscribeQuota{UserID: a, TemplateID: tplOf[kind], Remaining: 1})
		e.publish(message.Event{
			Kind: kind, Event: "test." + kind, Key: "long:" + kind, UserIDs: []int64{a}, Title: long, Body: long, OrderID: 1,
			Fields: map[string]string{"number": long + "20261123-0001", "category": long, "place": long, "state": long,
				"time": long, "meeting_title": long, "meeting_time": "2026-11-24T09:00:00+08:00~2026-11-24T11:30:00+08:00",
				"meeting_place": long, "meeting_id": "7"},
		})
	}
	if st := e.deliver(); st.Sent != len(message.Kinds()) {
		t.Fatalf("%+v, want every kind sent", st)
	}
	for _, req := range e.fake.Requests() {
		if req.ErrCode == 47003 {
			t.Fatalf("47003 for %v", req.Body)
		}
	}
}

func TestContentCheck(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	e.fake.Flag("赌博", "risky", 20006)
	e.fake.Flag("广告", "review", 10001)
	record := func(subject, text string, v message.Verdict) {
		t.Helper()
		servicetest.Must(t, model.InTx(e.ctx, e.db, func(tx *gorm.DB) error {
			return e.svc.RecordCheck(e.ctx, tx, message.CheckRecord{Subject: subject, UserID: a, Scene: message.SceneComment, Text: text}, v)
		}))
	}

	t.Run("pass, risky and review at once", func(t *testing.T) {
		if v, err := e.svc.CheckText(e.ctx, a, message.SceneForum, "楼道灯坏了"); err != nil || v.State != model.CheckPass {
			t.Fatalf("%+v %v", v, err)
		}
		_, err := e.svc.CheckText(e.ctx, a, message.SceneForum, "来赌博")
		servicetest.WantErr(t, err, service.KindUnprocessable, "content_risky")
		v, err := e.svc.CheckText(e.ctx, a, message.SceneComment, "看广告")
		if err != nil || v.State != model.CheckReview {
			t.Fatalf("review text: %+v %v", v, err)
		}
		record("order:1:comment", "看广告", v)
	})
	t.Run("deferred while WeChat is down, checked later", func(t *testing.T) {
		e.fake.Fail(true)
		v, err := e.svc.CheckText(e.ctx, a, message.SceneForum, "后来发现是赌博")
		if err != nil || v.State != model.CheckPending {
			t.Fatalf("while WeChat is down: %+v %v", v, err)
		}
		record("order:2:description", "后来发现是赌博", v)
		recheck := message.NewRecheck(e.svc, nil)
		e.clock.Advance(e.cfg.RetryMax)
		if n, err := recheck.RecheckOnce(e.ctx); err != nil || n != 0 {
			t.Fatalf("re-check while down settled %d: %v", n, err)
		}
		e.fake.Fail(false)
		e.clock.Advance(e.cfg.RetryMax)
		if n, err := recheck.RecheckOnce(e.ctx); err != nil || n != 1 {
			t.Fatalf("re-check settled %d: %v", n, err)
		}
	})
	var checks []model.ContentCheck
	e.db.Order("id").Find(&checks)
	if len(checks) != 2 || checks[0].State != model.CheckReview || checks[1].State != model.CheckRisky || checks[1].Attempts != 2 {
		t.Fatalf("checks %+v", checks)
	}
}

// A late verdict that is not a pass goes to the handler of its subject's
// kind, in the transaction that settles the check; a handler's error
// leaves the check pending.
func TestLateVerdictsGoToTheirOwner(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	e.fake.Flag("赌博", "risky", 20006)
	e.fake.Flag("广告", "review", 10001)
	e.fake.Fail(true)
	for _, c := range []struct{ subject, text string }{
		{"order:1:description", "来赌博"}, {"wish:2", "看广告"}, {"meeting:3:decline", "正常的话"}, {"vote:4", "来赌博"},
	} {
		v, err := e.svc.CheckText(e.ctx, a, message.SceneForum, c.text)
		servicetest.Must(t, err)
		servicetest.Must(t, model.InTx(e.ctx, e.db, func(tx *gorm.DB) error {
			return e.svc.RecordCheck(e.ctx, tx, message.CheckRecord{Subject: c.subject, UserID: a, Scene: message.SceneForum, Text: c.text}, v)
		}))
	}
	e.fake.Fail(false)
	var got []string
	handle := func(ctx context.Context, tx *gorm.DB, subject, state string) error {
		got = append(got, subject+"="+state)
		return nil
	}
	failing := true
	recheck := message.NewRecheck(e.svc, map[string]message.LateVerdict{
		"order": handle, "meeting": handle,
		"wish": func(ctx context.Context, tx *gorm.DB, subject, state string) error {
			if failing {
				return errors.New("wish store down")
			}
			return handle(ctx, tx, subject, state)
		},
	})
	e.clock.Advance(e.cfg.RetryMax)
	if _, err := recheck.RecheckOnce(e.ctx); err == nil {
		t.Fatal("the wish handler's error was swallowed")
	}
	failing = false
	e.clock.Advance(e.cfg.RetryMax)
	for range 3 {
		if _, err := recheck.RecheckOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The pass of meeting:3 goes to nobody; vote has no handler.
	if want := "[order:1:description=risky wish:2=review]"; fmt.Sprint(got) != want {
		t.Fatalf("handed %v, want %s", got, want)
	}
	var pending int64
	e.db.Model(&model.ContentCheck{}).Where("state = ?", model.CheckPending).Count(&pending)
	if pending != 0 {
		t.Fatalf("%d checks still pending", pending)
	}
}

// Text WeChat never manages to check is flagged for review, never passed.
func TestUncheckableTextGoesToReview(t *testing.T) {
	e := setup(t, func(c *message.Config) { c.CheckMaxAttempts = 2 })
	a := e.user("oa")
	e.fake.Fail(true)
	v, _ := e.svc.CheckText(e.ctx, a, message.SceneForum, "文字")
	model.InTx(e.ctx, e.db, func(tx *gorm.DB) error {
		return e.svc.RecordCheck(e.ctx, tx, message.CheckRecord{Subject: "wish:1", UserID: a, Scene: 3, Text: "文字"}, v)
	})
	for range 3 {
		e.clock.Advance(e.cfg.RetryMax + time.Minute)
		message.NewRecheck(e.svc, nil).RecheckOnce(e.ctx)
	}
	var c model.ContentCheck
	e.db.Take(&c)
	if c.State != model.CheckReview || c.Attempts != 2 {
		t.Fatalf("check %+v", c)
	}
}

// Stopping the worker mid-batch records the push under way and hands the
// rows not yet sent back to the queue at once, rather than leaving them to
// a lease (or to "unknown").
func TestRunStopsCleanlyMidBatch(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	e.allow(a, "oa", tplNew, 3)
	for i := range 3 {
		e.publish(newReport(fmt.Sprintf("order:%d:submitted:1", i), a))
	}
	ctx, cancel := context.WithCancel(e.ctx)
	message.SetAfterSend(e.svc, func(model.Outbox) bool { cancel(); return false })
	done := make(chan struct{})
	go func() { e.svc.Run(ctx, time.Hour); close(done) }()
	<-done
	rows := e.rows("1 = 1")
	if rows[0].State != model.OutboxSent || rows[1].State != model.OutboxPending || rows[2].State != model.OutboxPending {
		t.Fatalf("states %s %s %s, want sent pending pending", rows[0].State, rows[1].State, rows[2].State)
	}
	if st := e.deliver(); st.Sent != 2 || e.delivered("oa") != 3 {
		t.Fatalf("next run %+v, %d delivered", st, e.delivered("oa"))
	}
}

// timeoutSender passes the push to WeChat and then loses the answer, as a
// request timing out after WeChat accepted it would.
type timeoutSender struct{ *wechat.Client }

func (s timeoutSender) SendSubscribe(ctx context.Context, m wechat.SubscribeMessage) error {
	_, err := s.SendSubscribeID(ctx, m)
	return err
}

func (s timeoutSender) SendSubscribeID(ctx context.Context, m wechat.SubscribeMessage) (string, error) {
	if err := s.Client.SendSubscribe(ctx, m); err != nil {
		return "", err
	}
	return "", fmt.Errorf("read answer: %w", context.DeadlineExceeded)
}

func TestTimedOutSendIsUnknownNotResent(t *testing.T) {
	e := setup(t)
	a := e.user("oa")
	e.allow(a, "oa", tplNew, 2)
	svc, err := message.New(e.db, e.clock, timeoutSender{e.wx}, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.publish(newReport("order:1:submitted:1", a))
	if st := e.deliver(svc); st.Unknown != 1 {
		t.Fatalf("%+v, want the timed-out push unknown", st)
	}
	e.clock.Advance(24 * time.Hour)
	e.deliver(svc)
	row := e.rows("1 = 1")[0]
	if row.State != model.OutboxUnknown || row.LastCode != "timeout" || e.delivered("oa") != 1 {
		t.Fatalf("row %s/%s, %d delivered", row.State, row.LastCode, e.delivered("oa"))
	}
}

// The service logs through the logger of its configuration, as JSON when
// that is what main gives it, and nothing through slog's default.
func TestWarningsGoToTheConfiguredLogger(t *testing.T) {
	var buf bytes.Buffer
	e := setup(t, func(c *message.Config) { c.Log = slog.New(slog.NewJSONHandler(&buf, nil)) })
	a := e.user("oa")
	e.fake.Fail(true)
	if v, err := e.svc.CheckText(e.ctx, a, message.SceneForum, "楼道灯坏了"); err != nil || v.State != model.CheckPending {
		t.Fatalf("%+v %v", v, err)
	}
	var line struct {
		Level, Msg string
		UserID     int64 `json:"user_id"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line.Level != "WARN" || line.Msg != "text check deferred" || line.UserID != a {
		t.Fatalf("logged %q (%v)", buf.String(), err)
	}
}

// While WeChat hangs, the check a resident waits for gives up after
// CheckTimeout; after CheckBreakerFailures such silences in a row the
// breaker opens and checks are deferred without asking, until one probe
// after CheckBreakerOpen finds WeChat answering again.
func TestCheckBreaker(t *testing.T) {
	e := setup(t, func(c *message.Config) {
		c.CheckTimeout, c.CheckBreakerFailures, c.CheckBreakerOpen = time.Second, 3, time.Minute
	})
	a := e.user("ob")
	check := func(t *testing.T) (message.Verdict, time.Duration) {
		t.Helper()
		start := time.Now()
		v, err := e.svc.CheckText(e.ctx, a, message.SceneForum, "楼道灯坏了")
		if err != nil {
			t.Fatal(err)
		}
		return v, time.Since(start)
	}
	// A first check fetches the access token, which is not what hangs.
	if v, _ := check(t); v.State != model.CheckPass {
		t.Fatalf("before the hang: %+v", v)
	}
	e.fake.Hang(wechattest.MsgSecCheck, true)
	t.Run("a hung check gives up after CheckTimeout and defers", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			v, took := check(t)
			if v.State != model.CheckPending || took > 5*time.Second {
				t.Fatalf("check %d: %+v after %s", i, v, took)
			}
		}
	})
	t.Run("open: checks are deferred at once, WeChat not asked", func(t *testing.T) {
		calls := e.fake.Calls(wechattest.MsgSecCheck)
		for i := 0; i < 5; i++ {
			v, took := check(t)
			if v.State != model.CheckPending || took >= time.Second {
				t.Fatalf("check %d: %+v after %s", i, v, took)
			}
		}
		if n := e.fake.Calls(wechattest.MsgSecCheck); n != calls {
			t.Fatalf("WeChat asked %d times while open", n-calls)
		}
	})
	t.Run("half-open: a failed probe opens it again", func(t *testing.T) {
		e.clock.Advance(time.Minute + time.Second)
		calls := e.fake.Calls(wechattest.MsgSecCheck)
		if v, _ := check(t); v.State != model.CheckPending {
			t.Fatalf("probe: %+v", v)
		}
		if v, took := check(t); v.State != model.CheckPending || took >= time.Second {
			t.Fatalf("after the failed probe: %+v after %s", v, took)
		}
		if n := e.fake.Calls(wechattest.MsgSecCheck); n != calls+1 {
			t.Fatalf("%d calls, want the one probe", n-calls)
		}
	})
	t.Run("a probe that WeChat answers closes it", func(t *testing.T) {
		e.fake.Hang(wechattest.MsgSecCheck, false)
		e.clock.Advance(time.Minute + time.Second)
		for i := 0; i < 3; i++ {
			if v, _ := check(t); v.State != model.CheckPass {
				t.Fatalf("check %d after the outage: %+v", i, v)
			}
		}
	})
}
