package message_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

var nonces atomic.Int64

// sentEvent is WeChat's subscribe_msg_sent_event for one push, signed
// with a fresh nonce (each signed query is good once).
func sentEvent(e *env, openID, template, msgID, code, status string) message.Push {
	body := fmt.Sprintf(`{"ToUserName":"gh_x","FromUserName":"%s","CreateTime":%d,"MsgType":"event","Event":"subscribe_msg_sent_event","List":{"TemplateId":"%s","MsgID":"%s","ErrorCode":%s,"ErrorStatus":"%s"}}`,
		openID, e.clock.Now().Unix(), template, msgID, code, status)
	ts, nonce := fmt.Sprint(e.clock.Now().Unix()), fmt.Sprint("n", nonces.Add(1))
	return message.Push{Signature: sign(cbToken, ts, nonce), Timestamp: ts, Nonce: nonce, Body: []byte(body)}
}

func ratingEvent(key string, users ...int64) message.Event {
	ev := newReport(key, users...)
	ev.Kind, ev.Event, ev.Title = message.KindRating, "order.confirmed", "请为工单服务评价"
	return ev
}

// lostAnswer publishes ev and has a worker whose answers are lost send
// it: the push reaches WeChat, the row is unknown.
func (e *env) lostAnswer(ev message.Event) model.Outbox {
	e.t.Helper()
	svc, err := message.New(e.db, e.clock, timeoutSender{e.wx}, e.cfg)
	servicetest.Must(e.t, err)
	e.publish(ev)
	if st := e.deliver(svc); st.Unknown != 1 {
		e.t.Fatalf("%+v, want the push unknown", st)
	}
	rows := e.rows("event_key = ?", ev.Key)
	if len(rows) != 1 || rows[0].State != model.OutboxUnknown {
		e.t.Fatalf("rows %+v", rows)
	}
	return rows[0]
}

func TestDeliveryEventReconcilesUnknownPushes(t *testing.T) {
	t.Run("delivered: sent, and not sent again after the window", func(t *testing.T) {
		e := setup(t, withCallback(false))
		a := e.user("oa")
		e.allow(a, "oa", tplRating, 2)
		e.lostAnswer(ratingEvent("order:1:confirmed:1", a))
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, sentEvent(e, "oa", tplRating, "9001", "0", "success")))
		row := e.rows("1 = 1")[0]
		if row.State != model.OutboxSent || row.MsgID != "9001" || row.SentAt == nil {
			t.Fatalf("row %s msgid %q sent_at %v", row.State, row.MsgID, row.SentAt)
		}
		e.clock.Advance(e.cfg.ReconcileAfter + time.Minute)
		e.deliver()
		if e.delivered("oa") != 1 {
			t.Fatalf("%d pushes, want 1: a delivered push was sent again", e.delivered("oa"))
		}
	})
	t.Run("failed at WeChat: sent again at once, its quota given back", func(t *testing.T) {
		e := setup(t, withCallback(false))
		a := e.user("oa")
		e.allow(a, "oa", tplNew, 2) // new reports are not resent by the window rule
		e.lostAnswer(newReport("order:2:submitted:1", a))
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, sentEvent(e, "oa", tplNew, "9002", "10005", "fail_system")))
		if row := e.rows("1 = 1")[0]; row.State != model.OutboxFailed || row.LastCode != "sent_event_10005" {
			t.Fatalf("row %s/%s, want failed", row.State, row.LastCode)
		}
		if st := e.deliver(); st.Sent != 1 {
			t.Fatalf("%+v, want the push sent again", st)
		}
		if row := e.rows("1 = 1")[0]; row.State != model.OutboxSent || e.delivered("oa") != 2 || e.remaining(a, tplNew) != 1 {
			t.Fatalf("row %s, %d pushes, quota %d (want sent, 2, 1)", row.State, e.delivered("oa"), e.remaining(a, tplNew))
		}
	})
	t.Run("refused by the user: skipped, never sent again", func(t *testing.T) {
		e := setup(t, withCallback(false))
		a := e.user("oa")
		e.allow(a, "oa", tplRating, 2)
		e.lostAnswer(ratingEvent("order:3:confirmed:1", a))
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, sentEvent(e, "oa", tplRating, "9003", "43101", "fail_user_refuse")))
		e.clock.Advance(e.cfg.ReconcileAfter + time.Minute)
		e.deliver()
		if row := e.rows("1 = 1")[0]; row.State != model.OutboxSkipped || row.SkipReason != message.SkipTemplateOff || e.delivered("oa") != 1 {
			t.Fatalf("row %s/%s, %d pushes", row.State, row.SkipReason, e.delivered("oa"))
		}
	})
	t.Run("a recorded push is found by its msgid", func(t *testing.T) {
		e := setup(t, withCallback(false))
		a := e.user("oa")
		e.allow(a, "oa", tplNew, 2)
		e.publish(newReport("order:4:submitted:1", a))
		e.deliver()
		row := e.rows("1 = 1")[0]
		if row.State != model.OutboxSent || row.MsgID == "" {
			t.Fatalf("row %s without WeChat's msgid %q", row.State, row.MsgID)
		}
		// A push of another user or another msgid is not this one.
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, sentEvent(e, "oa", tplNew, row.MsgID+"0", "10005", "fail_system")))
		if got := e.rows("1 = 1")[0]; got.State != model.OutboxSent {
			t.Fatalf("an event of another msgid moved the row to %s", got.State)
		}
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, sentEvent(e, "oa", tplNew, row.MsgID, "10005", "fail_system")))
		if st := e.deliver(); st.Sent != 1 || e.delivered("oa") != 2 {
			t.Fatalf("%+v, %d pushes: the push WeChat failed to deliver was not sent again", st, e.delivered("oa"))
		}
	})
}

func TestUnknownPushesAfterTheWindowPerKind(t *testing.T) {
	cases := []struct {
		name   string
		ev     func(users ...int64) message.Event
		tpl    string
		tune   func(*message.Config)
		resent bool
	}{
		{"rating requests are sent again", func(u ...int64) message.Event { return ratingEvent("order:1:confirmed:1", u...) }, tplRating, nil, true},
		{"emergency alerts are sent again", func(u ...int64) message.Event {
			ev := newReport("emergency:1:emergency.call:0", u...)
			ev.Event = "emergency.call"
			return ev
		}, tplNew, nil, true},
		{"new reports are kept unknown", func(u ...int64) message.Event { return newReport("order:1:submitted:1", u...) }, tplNew, nil, false},
		{"emergency alerts kept when configured so", func(u ...int64) message.Event {
			ev := newReport("emergency:1:emergency.call:0", u...)
			ev.Event = "emergency.call"
			return ev
		}, tplNew, func(c *message.Config) { c.EmergencyKeepUnknown = true }, false},
		{"rating requests kept when configured so", func(u ...int64) message.Event { return ratingEvent("order:1:confirmed:1", u...) }, tplRating,
			func(c *message.Config) {
				tpl := c.Templates[message.KindRating]
				tpl.ResendUnknown = false
				c.Templates[message.KindRating] = tpl
			}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tune []func(*message.Config)
			if c.tune != nil {
				tune = append(tune, c.tune)
			}
			e := setup(t, tune...)
			a := e.user("oa")
			e.allow(a, "oa", c.tpl, 2)
			e.lostAnswer(c.ev(a))
			e.clock.Advance(e.cfg.ReconcileAfter - time.Second)
			if st := e.deliver(); st.Sent != 0 || e.delivered("oa") != 1 {
				t.Fatalf("within the window: %+v, %d pushes", st, e.delivered("oa"))
			}
			e.clock.Advance(2 * time.Second)
			e.deliver()
			e.clock.Advance(time.Hour)
			e.deliver()
			row := e.rows("1 = 1")[0]
			want, state := 1, model.OutboxUnknown
			if c.resent {
				want, state = 2, model.OutboxSent
			}
			if e.delivered("oa") != want || row.State != state {
				t.Fatalf("after the window: %d pushes, row %s (want %d, %s)", e.delivered("oa"), row.State, want, state)
			}
		})
	}
}

// slowSender answers after delay, as WeChat does when it hangs.
type slowSender struct {
	*wechat.Client
	delay time.Duration
}

func (s slowSender) SendSubscribe(ctx context.Context, m wechat.SubscribeMessage) error {
	_, err := s.SendSubscribeID(ctx, m)
	return err
}

func (s slowSender) SendSubscribeID(ctx context.Context, m wechat.SubscribeMessage) (string, error) {
	time.Sleep(s.delay)
	return s.Client.SendSubscribeID(ctx, m)
}

// A send that takes longer than the lease keeps its row: the heartbeat
// renews the lease, and a second worker polling all along neither takes
// the row nor marks it unknown. On MariaDB the workers truly race.
func TestSlowSendKeepsItsLease(t *testing.T) {
	const lease = 300 * time.Millisecond
	e := setup(t, func(c *message.Config) {
		c.Lease = lease
		c.ReconcileAfter = time.Millisecond // a row lost to the second worker would go again at once
	})
	a := e.user("oa")
	e.allow(a, "oa", tplRating, 2)
	e.publish(ratingEvent("order:1:confirmed:1", a))
	slow, err := message.New(e.db, service.SystemClock{}, slowSender{e.wx, 4 * lease}, e.cfg)
	servicetest.Must(t, err)
	other, err := message.New(e.db, service.SystemClock{}, e.wx, e.cfg)
	servicetest.Must(t, err)

	var (
		wg       sync.WaitGroup
		slowSt   message.Stats
		slowErr  error
		otherSt  message.Stats
		otherErr error
		done     atomic.Bool
	)
	claimed := make(chan struct{})
	message.SetOnClaim(slow, func(string, []int64) { close(claimed) })
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		slowSt, slowErr = slow.DeliverOnce(e.ctx)
	}()
	<-claimed
	go func() {
		defer wg.Done()
		for !done.Load() {
			st, err := other.DeliverOnce(e.ctx)
			if err != nil {
				otherErr = err
				return
			}
			otherSt.Claimed += st.Claimed
			otherSt.Unknown += st.Unknown
			time.Sleep(lease / 10)
		}
	}()
	wg.Wait()
	if err := errors.Join(slowErr, otherErr); err != nil {
		t.Fatal(err)
	}
	row := e.rows("1 = 1")[0]
	if slowSt.Sent != 1 || otherSt.Claimed != 0 || otherSt.Unknown != 0 || row.State != model.OutboxSent || row.StaleCount != 0 {
		t.Fatalf("slow worker %+v, other %+v, row %s (stale %d)", slowSt, otherSt, row.State, row.StaleCount)
	}
	if e.delivered("oa") != 1 {
		t.Fatalf("%d pushes, want 1", e.delivered("oa"))
	}
}

// A restarted instance frees at once what its dead predecessor held: the
// claimed row goes out, the one that was being sent is unknown (and
// reconciled as such); another instance's rows are left alone.
func TestRestartReleasesWhatTheInstanceHeld(t *testing.T) {
	e := setup(t, func(c *message.Config) { c.Instance = "host1" })
	a, b, c := e.user("oa"), e.user("ob"), e.user("oc")
	e.allow(a, "oa", tplNew, 1)
	e.allow(b, "ob", tplNew, 1)
	e.allow(c, "oc", tplNew, 1)
	e.publish(newReport("order:1:submitted:1", a, b))
	message.SetAfterSend(e.svc, func(model.Outbox) bool { return true })
	if _, err := e.svc.DeliverOnce(e.ctx); !errors.Is(err, message.ErrCrashed) {
		t.Fatalf("want the simulated crash, got %v", err)
	}
	// A live instance of another name holds c's row.
	cfg := e.cfg
	cfg.Instance = "host2"
	live, err := message.New(e.db, e.clock, e.wx, cfg)
	servicetest.Must(t, err)
	e.publish(newReport("order:2:submitted:1", c))
	message.SetAfterSend(live, func(model.Outbox) bool { return true })
	if _, err := live.DeliverOnce(e.ctx); !errors.Is(err, message.ErrCrashed) {
		t.Fatalf("want the simulated crash, got %v", err)
	}

	restarted := e.newService() // host1 again, no time has passed
	st, err := message.ReleaseHeld(restarted)
	servicetest.Must(t, err)
	if st.Requeued != 1 || st.Unknown != 1 {
		t.Fatalf("released %+v, want 1 requeued and 1 unknown", st)
	}
	if st := e.deliver(restarted); st.Sent != 1 {
		t.Fatalf("after the restart: %+v, want b's push sent at once", st)
	}
	ra, rb, rc := e.rows("user_id = ?", a)[0], e.rows("user_id = ?", b)[0], e.rows("user_id = ?", c)[0]
	if ra.State != model.OutboxUnknown || rb.State != model.OutboxSent || rc.State != model.OutboxSending {
		t.Fatalf("states a %s b %s c %s, want unknown sent sending", ra.State, rb.State, rc.State)
	}
	if e.delivered("oa") != 1 || e.delivered("ob") != 1 || e.delivered("oc") != 1 {
		t.Fatal("a push went twice")
	}
}

// The claim tokens of instances whose names share a prefix stay apart.
func TestReleaseMatchesTheWholeInstanceName(t *testing.T) {
	e := setup(t, func(c *message.Config) { c.Instance = "h1" })
	a := e.user("oa")
	e.allow(a, "oa", tplNew, 1)
	cfg := e.cfg
	cfg.Instance = "h10"
	other, err := message.New(e.db, e.clock, e.wx, cfg)
	servicetest.Must(t, err)
	e.publish(newReport("order:1:submitted:1", a))
	message.SetAfterSend(other, func(model.Outbox) bool { return true })
	if _, err := other.DeliverOnce(e.ctx); !errors.Is(err, message.ErrCrashed) {
		t.Fatal(err)
	}
	if st, err := message.ReleaseHeld(e.svc); err != nil || st.Requeued+st.Unknown != 0 {
		t.Fatalf("h1 released h10's rows: %+v %v", st, err)
	}
}

// neverSent times out before its request is written: WeChat never sees
// the push (a worker dying before the call looks the same to us).
type neverSent struct{ *wechat.Client }

func (s neverSent) SendSubscribe(ctx context.Context, m wechat.SubscribeMessage) error {
	_, err := s.SendSubscribeID(ctx, m)
	return err
}

func (neverSent) SendSubscribeID(context.Context, wechat.SubscribeMessage) (string, error) {
	return "", fmt.Errorf("dial: %w", context.DeadlineExceeded)
}

// With delivery events on, the window tells "not reached" from
// "delivered": a push no event told of goes again, whatever its kind, on
// the quota it had taken; one an event told of does not.
func TestWithDeliveryEventsAnUntoldPushGoesAgain(t *testing.T) {
	events := func(c *message.Config) { withCallback(false)(c); c.SentEvents = true }
	t.Run("not reached: sent again, its quota given back", func(t *testing.T) {
		e := setup(t, events)
		a := e.user("oa")
		e.allow(a, "oa", tplNew, 1)
		svc, err := message.New(e.db, e.clock, neverSent{e.wx}, e.cfg)
		servicetest.Must(t, err)
		e.publish(newReport("order:1:submitted:1", a))
		if st := e.deliver(svc); st.Unknown != 1 || e.delivered("oa") != 0 {
			t.Fatalf("%+v, %d pushes", st, e.delivered("oa"))
		}
		e.clock.Advance(e.cfg.ReconcileAfter - time.Second)
		e.deliver()
		if e.delivered("oa") != 0 {
			t.Fatal("sent again within the window")
		}
		e.clock.Advance(2 * time.Second)
		e.deliver()
		row := e.rows("1 = 1")[0]
		if row.State != model.OutboxSent || e.delivered("oa") != 1 || e.remaining(a, tplNew) != 0 {
			t.Fatalf("row %s/%s, %d pushes, quota %d", row.State, row.SkipReason, e.delivered("oa"), e.remaining(a, tplNew))
		}
	})
	t.Run("told of: not sent again", func(t *testing.T) {
		e := setup(t, events)
		a := e.user("oa")
		e.allow(a, "oa", tplNew, 2)
		e.lostAnswer(newReport("order:1:submitted:1", a))
		var msgID int
		for _, r := range e.fake.Requests() {
			if r.MsgID != 0 {
				msgID = r.MsgID
			}
		}
		servicetest.Must(t, e.svc.HandleCallback(e.ctx, sentEvent(e, "oa", tplNew, fmt.Sprint(msgID), "0", "success")))
		e.clock.Advance(e.cfg.ReconcileAfter + time.Hour)
		e.deliver()
		if row := e.rows("1 = 1")[0]; row.State != model.OutboxSent || row.MsgID != fmt.Sprint(msgID) || e.delivered("oa") != 1 {
			t.Fatalf("row %s msgid %s, %d pushes", row.State, row.MsgID, e.delivered("oa"))
		}
	})
	t.Run("left unknown before the upgrade: never sent again", func(t *testing.T) {
		e := setup(t, events)
		a := e.user("oa")
		e.allow(a, "oa", tplNew, 2)
		svc, err := message.New(e.db, e.clock, neverSent{e.wx}, e.cfg)
		servicetest.Must(t, err)
		e.publish(newReport("order:1:submitted:1", a))
		e.publish(newReport("order:2:submitted:1", a))
		if st := e.deliver(svc); st.Unknown != 2 {
			t.Fatalf("%+v", st)
		}
		// As if an earlier version had left them unknown: it kept no
		// msgid and read no delivery event, so they may have arrived.
		servicetest.Must(t, e.db.Model(&model.Outbox{}).Where("1 = 1").
			UpdateColumn("updated_at", time.Now().Add(-48*time.Hour)).Error)
		servicetest.Must(t, e.db.Model(&model.SchemaVersion{}).Where("version = ?", model.ReconcileVersion).
			Update("applied_at", time.Now().Add(-24*time.Hour)).Error)
		e.clock.Advance(e.cfg.ReconcileAfter + time.Hour)
		e.deliver()
		for _, row := range e.rows("1 = 1") {
			if row.State != model.OutboxUnknown {
				t.Errorf("row %d (%s) of before the upgrade went %s", row.ID, row.Kind, row.State)
			}
		}
		if e.delivered("oa") != 0 {
			t.Fatalf("%d old pushes sent again", e.delivered("oa"))
		}
	})
	t.Run("needs the callback", func(t *testing.T) {
		e := setup(t)
		cfg := e.cfg
		cfg.SentEvents = true
		if _, err := message.New(e.db, e.clock, e.wx, cfg); err == nil {
			t.Fatal("delivery events without a callback token were taken")
		}
	})
}

// WeChat's event may come before the answer is recorded, or while the
// worker that died still holds the row: it settles the sending row, and
// neither the lease's end nor the worker's own record changes that.
func TestDeliveryEventBeforeTheRecord(t *testing.T) {
	for _, crash := range []bool{true, false} {
		t.Run(fmt.Sprintf("worker dies after the event: %v", crash), func(t *testing.T) {
			e := setup(t, func(c *message.Config) { withCallback(false)(c); c.SentEvents = true })
			a := e.user("oa")
			e.allow(a, "oa", tplNew, 2)
			e.publish(newReport("order:1:submitted:1", a))
			var msgID int
			message.SetAfterSend(e.svc, func(model.Outbox) bool {
				for _, r := range e.fake.Requests() {
					if r.MsgID != 0 {
						msgID = r.MsgID
					}
				}
				servicetest.Must(t, e.svc.HandleCallback(e.ctx, sentEvent(e, "oa", tplNew, fmt.Sprint(msgID), "0", "success")))
				return crash
			})
			_, err := e.svc.DeliverOnce(e.ctx)
			if crash != errors.Is(err, message.ErrCrashed) {
				t.Fatalf("DeliverOnce: %v", err)
			}
			other := e.newService()
			e.clock.Advance(e.cfg.Lease + e.cfg.ReconcileAfter + time.Minute)
			e.deliver(other)
			e.clock.Advance(e.cfg.ReconcileAfter + time.Minute)
			e.deliver(other)
			row := e.rows("1 = 1")[0]
			if row.State != model.OutboxSent || row.MsgID != fmt.Sprint(msgID) || e.delivered("oa") != 1 {
				t.Fatalf("row %s msgid %q (want %d), %d pushes", row.State, row.MsgID, msgID, e.delivered("oa"))
			}
		})
	}
}

// A lapsed lease's clean-up that loses a deadlock (to a worker settling
// one of its rows) runs again: the requeue and the lapse are each one
// statement, rolled back whole, and the pass does not fail.
func TestExpiringLeasesRetriesADeadlockVictim(t *testing.T) {
	e := setup(t, func(c *message.Config) { c.SendLanes = 1 })
	a, b := e.crashAfterFirstRating("order:13:confirmed:1", 1)
	// The first run of each clean-up statement is a deadlock victim.
	victims := map[string]bool{}
	err := e.db.Callback().Update().Before("gorm:update").Register("test:deadlock_once", func(tx *gorm.DB) {
		set, ok := tx.Statement.Dest.(map[string]any)
		if !ok {
			return
		}
		which := ""
		switch {
		case set["stale_count"] != nil:
			which = "lapse"
		case set["owner"] == "" && set["state"] == model.OutboxPending:
			which = "requeue"
		}
		if which != "" && !victims[which] {
			victims[which] = true
			tx.AddError(&mysqldriver.MySQLError{Number: 1213, Message: "Deadlock found when trying to get lock; try restarting transaction"})
		}
	})
	servicetest.Must(t, err)
	t.Cleanup(func() { e.db.Callback().Update().Remove("test:deadlock_once") })

	e.clock.Advance(2 * e.cfg.Lease)
	st := e.deliver(e.newService())
	if !victims["lapse"] || !victims["requeue"] {
		t.Fatalf("the deadlocks were not injected: %v", victims)
	}
	if st.Requeued != 1 || st.Unknown != 1 {
		t.Fatalf("after the retried clean-up: %+v", st)
	}
	if row := e.rows("user_id = ?", a)[0]; row.State != model.OutboxUnknown || row.StaleCount != 1 {
		t.Fatalf("a's row %s (stale %d), want unknown once", row.State, row.StaleCount)
	}
	if row := e.rows("user_id = ?", b)[0]; row.State != model.OutboxSent || e.delivered("ob") != 1 {
		t.Fatalf("b's row %s, %d pushes", row.State, e.delivered("ob"))
	}
}
