package message_test

import (
	"errors"
	"fmt"
	"testing"

	"redprop/model"
	"redprop/service/message"
)

// longTerm makes new-report pushes plain: no quota, started and recorded
// with their batch.
func longTerm(cfg *message.Config) {
	tpl := cfg.Templates[message.KindNewReport]
	tpl.LongTerm = true
	cfg.Templates[message.KindNewReport] = tpl
}

// A scheduled push started with its batch writes its inbox message as it
// starts, once, and a user without an openid is skipped as before.
func TestBatchWritesScheduledInboxOnce(t *testing.T) {
	e := setup(t, longTerm)
	a, b := e.user("oa"), e.user("ob")
	nobody := e.user("")
	e.fake.Accept("oa", tplNew, 1)
	e.fake.Accept("ob", tplNew, 1)
	ev := newReport("order:1:remind:1", a, b, nobody)
	ev.NotBefore = e.clock.Now().Add(e.cfg.Lease)
	e.publish(ev)
	if n := len(e.messages(a)); n != 0 {
		t.Fatalf("%d inbox messages before the push is due, want 0", n)
	}
	e.clock.Advance(2 * e.cfg.Lease)
	if st := e.deliver(); st.Sent != 2 || st.Skipped != 1 {
		t.Fatalf("stats %+v, want 2 sent and 1 skipped", st)
	}
	for _, u := range []int64{a, b, nobody} {
		if n := len(e.messages(u)); n != 1 {
			t.Fatalf("user %d has %d inbox messages, want 1", u, n)
		}
	}
	if e.delivered("oa") != 1 || e.delivered("ob") != 1 {
		t.Fatal("a push went out twice or not at all")
	}
	if r := e.rows("user_id = ?", nobody)[0]; r.State != model.OutboxSkipped || r.SkipReason != message.SkipNoOpenID {
		t.Fatalf("the user without an openid: %s %s", r.State, r.SkipReason)
	}
}

// A crash after a call of a batch leaves what the batch started in
// sending, nothing recorded: once the lease is over the pushes are
// unknown and, for a kind kept unknown, never sent twice.
func TestBatchCrashLeavesStartedRowsUnknown(t *testing.T) {
	e := setup(t, longTerm)
	var users []int64
	for i := range 4 {
		open := fmt.Sprintf("o%d", i)
		users = append(users, e.user(open))
		e.fake.Accept(open, tplNew, 2)
	}
	e.publish(newReport("order:1:submitted:1", users...))
	message.SetAfterSend(e.svc, func(model.Outbox) bool { return true })
	if _, err := e.svc.DeliverOnce(e.ctx); !errors.Is(err, message.ErrCrashed) {
		t.Fatalf("want the simulated crash, got %v", err)
	}
	sent := 0
	for i := range 4 {
		sent += e.delivered(fmt.Sprintf("o%d", i))
	}
	if sent == 0 {
		t.Fatal("no push reached WeChat before the crash")
	}
	if rows := e.rows("state = ?", model.OutboxSending); len(rows) != 4 {
		t.Fatalf("%d rows sending after the crash, want the batch's 4", len(rows))
	}
	other := e.newService()
	e.clock.Advance(2 * e.cfg.Lease)
	if st := e.deliver(other); st.Unknown != 4 || st.Sent != 0 {
		t.Fatalf("after the lease: %+v, want 4 unknown and none sent", st)
	}
	after := 0
	for i := range 4 {
		after += e.delivered(fmt.Sprintf("o%d", i))
	}
	if after != sent {
		t.Fatalf("%d pushes after the sweep, %d before: a push went twice", after, sent)
	}
}
