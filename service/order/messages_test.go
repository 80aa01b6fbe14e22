package order

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// outbox returns the outbox rows of an order for one demo user.
func (e *loopEnv) outbox(name string, orderID int64) []model.Outbox {
	e.t.Helper()
	var rows []model.Outbox
	if err := e.db.Where("user_id = ? AND order_id = ?", e.city.Users[name], orderID).Order("id").Find(&rows).Error; err != nil {
		e.t.Fatal(err)
	}
	return rows
}

func TestOrderEventsQueuePushesInTheSameTransaction(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateDispatched, 0)
	rows := e.outbox("manager", id)
	if len(rows) != 1 || rows[0].Kind != message.KindNewReport || rows[0].Event != "order.dispatched" ||
		rows[0].State != model.OutboxPending {
		t.Fatalf("manager outbox %+v", rows)
	}
	// The grid worker was told of the new report, the resident of nothing yet.
	if rows := e.outbox("grid", id); len(rows) != 1 || rows[0].Event != "order.submitted" {
		t.Fatalf("grid outbox %+v", rows)
	}
	if rows := e.outbox("resident", id); len(rows) != 0 {
		t.Fatalf("resident outbox %+v", rows)
	}
}

func TestRatingReminderIsCancelledWhenRated(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateConfirmed, 0)
	rows := e.outbox("resident", id)
	var ask, remind *model.Outbox
	for i := range rows {
		switch rows[i].Event {
		case "order.confirmed":
			ask = &rows[i]
		case "order.rating_reminder":
			remind = &rows[i]
		}
	}
	if ask == nil || ask.Kind != message.KindRating || remind == nil || remind.CancelKey != ratingKey(id) {
		t.Fatalf("resident outbox %+v", rows)
	}
	if want := e.clock.Now().UTC().Add(24 * time.Hour); !remind.DueAt.UTC().Equal(want) {
		t.Fatalf("reminder due %v, want %v", remind.DueAt, want)
	}
	e.act("resident", id, ActRate, Input{Overall: 5, Comment: "修得很及时"})
	var got model.Outbox
	e.db.Take(&got, remind.ID)
	if got.State != model.OutboxCancelled {
		t.Fatalf("reminder after rating is %s", got.State)
	}
}

func TestUnratedOrderIsRemindedOnce(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateConfirmed, 0)
	msgs, err := message.New(e.db, e.clock, wechat.NewSandbox(), message.Config{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	// The resident allowed two rating pushes: the request and the reminder.
	for range 2 {
		if _, err := msgs.ReportSubscribe(e.ctx, e.actor("resident"), map[string]string{"sandbox_rating": "accept"}); err != nil {
			t.Fatal(err)
		}
	}
	deliver := func() {
		t.Helper()
		for {
			st, err := msgs.DeliverOnce(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Claimed == 0 {
				return
			}
		}
	}
	reminders := func() int64 {
		var n int64
		e.db.Model(&model.Message{}).Where("user_id = ? AND order_id = ? AND event = ?",
			e.city.Users["resident"], id, "order.rating_reminder").Count(&n)
		return n
	}
	deliver()
	if n := reminders(); n != 0 {
		t.Fatalf("reminder in the inbox before it is due: %d", n)
	}
	e.clock.Advance(25 * time.Hour)
	deliver()
	deliver()
	if n := reminders(); n != 1 {
		t.Fatalf("reminders in the inbox after a day: %d", n)
	}
	// The sandbox records each push it would have sent, with its note.
	var pushes []model.SandboxPush
	e.db.Where("user_id = ? AND kind = ?", e.city.Users["resident"], message.KindRating).Order("id").Find(&pushes)
	if len(pushes) != 2 || pushes[0].Event != "order.confirmed" || pushes[1].Event != "order.rating_reminder" ||
		pushes[0].Note != "真实环境下将发送" || pushes[1].Note != "真实环境下将发送" {
		t.Fatalf("rating pushes to the resident: %+v", pushes)
	}
}

func TestAutoCloseWithdrawsTheRatingReminder(t *testing.T) {
	e := newLoopEnv(t)
	e.setCategory("environment", map[string]any{"auto_close_hours": 12})
	id := e.drive(model.StateConfirmed, 0)
	e.clock.Advance(13 * time.Hour)
	e.tick()
	if o := e.load(id); o.State != model.StateClosed {
		t.Fatalf("order is %s after 13 hours unrated", o.State)
	}
	var remind model.Outbox
	if err := e.db.Where("order_id = ? AND event = ?", id, "order.rating_reminder").Take(&remind).Error; err != nil {
		t.Fatal(err)
	}
	if remind.State != model.OutboxCancelled {
		t.Fatalf("reminder of an auto-closed order is %s", remind.State)
	}
}

func TestRiskyTextIsRefusedAndReviewIsFlagged(t *testing.T) {
	e := newLoopEnv(t)
	in := SubmitInput{CategoryID: e.cats["environment"].ID, Description: "楼道堆物 " + wechat.SandboxRisky,
		HouseholdID: e.city.Households[0].ID}
	_, _, err := e.svc.Submit(e.ctx, e.actor("resident"), in)
	var se *service.Error
	if !errors.As(err, &se) || se.Code != message.ErrRiskyContent.Code {
		t.Fatalf("risky description: %v", err)
	}
	var n int64
	e.db.Model(&model.Order{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d orders stored after a refusal", n)
	}
	v := e.submit("resident", "environment", func(in *SubmitInput) { in.Description = "楼道堆物 " + wechat.SandboxReview })
	var chk model.ContentCheck
	if err := e.db.Where("subject = ?", fmt.Sprintf("order:%d:description", v.ID)).Take(&chk).Error; err != nil {
		t.Fatalf("review verdict not recorded: %v", err)
	}
	if chk.State != model.CheckReview || chk.CommunityID != e.load(v.ID).CommunityID {
		t.Fatalf("check %+v", chk)
	}
}

// A second 督办 within ten minutes is refused: the firm is pushed once.
func TestUrgeTwiceInTenMinutesPushesOnce(t *testing.T) {
	e := newLoopEnv(t)
	id := e.drive(model.StateDispatched, 0)
	e.act("community", id, ActUrge, Input{Note: "请尽快处理"})
	_, err := e.svc.Act(e.ctx, e.actor("street"), id, ActUrge, Input{Note: "请尽快处理"})
	var se *service.Error
	if !errors.As(err, &se) || se.Code != "urged_recently" || se.Kind != service.KindRateLimited {
		t.Fatalf("second urge: %v", err)
	}
	if n := len(e.messages("manager", id)); n != 2 { // dispatched, urged
		t.Fatalf("manager has %d messages", n)
	}
	e.clock.Advance(urgeGap)
	e.act("street", id, ActUrge, Input{Note: "街道督办"})
	if n := e.countEvents(id, ActUrge); n != 2 {
		t.Fatalf("%d urge events", n)
	}
}

// Every entry that may re-arm a deadline reads the working calendar before
// its transaction: with the calendar's cache gone stale, SQLite's single
// connection would otherwise wait on itself.
func TestStaleCalendarCacheDoesNotHangTransitions(t *testing.T) {
	e := newLoopEnv(t)
	o := e.submit("resident", "repair.plumbing", func(in *SubmitInput) { in.PhotoIDs = []int64{e.photo("resident")} })
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	e.clock.Advance(6 * time.Minute)
	if _, err := e.svc.Escalate(ctx, e.actor("community"), o.ID, "物业迟迟不接单"); err != nil {
		t.Fatalf("escalate: %v", err)
	}
	e.clock.Advance(6 * time.Minute)
	if _, err := e.svc.Act(ctx, e.actor("street"), o.ID, ActDispatch, Input{HandlerKind: model.HandlerFirm}); err != nil {
		t.Fatalf("dispatch by the street: %v", err)
	}
	e.clock.Advance(6 * time.Minute)
	if _, err := e.svc.Tick(ctx); err != nil {
		t.Fatalf("tick: %v", err)
	}
}

// A description stored while WeChat could not check it, found risky on
// the later check, is hidden; the order itself goes on.
func TestLateRiskyDescriptionIsHidden(t *testing.T) {
	e := newLoopEnv(t)
	chk := &wechattest.LateChecker{}
	msgs, err := message.New(e.db, e.clock, chk, message.Config{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.msgs = msgs
	recheck := message.NewRecheck(msgs, map[string]message.LateVerdict{"order": e.svc.ApplyLateVerdict})
	o := e.submit("resident", "environment")
	chk.Verdict = "risky"
	e.clock.Advance(time.Hour)
	if n, err := recheck.RecheckOnce(e.ctx); err != nil || n != 1 {
		t.Fatalf("recheck: %d %v", n, err)
	}
	got := e.load(o.ID)
	if got.Description != message.HiddenText || got.State != model.StateSubmitted || got.Version != o.Version+1 {
		t.Fatalf("after a risky verdict: %q %s v%d", got.Description, got.State, got.Version)
	}
	// The grid worker still verifies it: the version moved, nothing else.
	e.act("grid", o.ID, ActVerify, Input{})
}
