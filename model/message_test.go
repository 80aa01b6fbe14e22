package model_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// outboxRow is a row of user due at t0+due.
func outboxRow(user int64, key, state string, due time.Duration) model.Outbox {
	return model.Outbox{UserID: user, EventKey: key, Kind: "new_report", Event: "order.submitted", Payload: "{}",
		State: state, DueAt: t0.Add(due)}
}

func loadOutbox(t *testing.T, db *gorm.DB, id int64) model.Outbox {
	t.Helper()
	var r model.Outbox
	must(t, db.Take(&r, id).Error)
	return r
}

func outboxIDs(rows []model.Outbox) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

func TestClaimOutboxTakesDueRowsOnce(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	rows := []model.Outbox{
		outboxRow(1, "k1", model.OutboxPending, 2*time.Minute),
		outboxRow(1, "k2", model.OutboxFailed, time.Minute),
		outboxRow(1, "k3", model.OutboxPending, time.Hour),      // not due yet
		outboxRow(1, "k4", model.OutboxSent, 0),                 // done
		outboxRow(1, "k5", model.OutboxPending, 30*time.Second), // due first
	}
	must(t, model.InsertOutbox(ctx, db, rows))
	now := t0.Add(10 * time.Minute)
	claim := func(owner string) []model.Outbox {
		t.Helper()
		got, err := model.ClaimOutbox(ctx, db, model.OutboxClaim{Owner: owner, From: []string{model.OutboxPending, model.OutboxFailed},
			To: model.OutboxClaimed, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 2})
		must(t, err)
		return got
	}
	first := claim("w1")
	if want := []int64{rows[4].ID, rows[1].ID}; !slices.Equal(outboxIDs(first), want) {
		t.Fatalf("first claim took %v, want %v (oldest due first, two at most)", outboxIDs(first), want)
	}
	for _, r := range first {
		if r.State != model.OutboxClaimed || r.Owner != "w1" || r.LeaseUntil == nil || !r.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("claimed row %+v", r)
		}
	}
	if second := claim("w2"); !slices.Equal(outboxIDs(second), []int64{rows[0].ID}) {
		t.Fatalf("second claim took %v, want only the one due row left", outboxIDs(second))
	}
	if third := claim("w3"); len(third) != 0 {
		t.Fatalf("third claim took %v", outboxIDs(third))
	}
	if r := loadOutbox(t, db, rows[2].ID); r.State != model.OutboxPending || r.Owner != "" {
		t.Fatalf("the row not yet due was touched: %+v", r)
	}
}

func TestOutboxMovesCompareOwnerAndState(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	rows := []model.Outbox{outboxRow(1, "k1", model.OutboxPending, 0), outboxRow(2, "k2", model.OutboxPending, 0)}
	rows[0].InboxPending = true
	must(t, model.InsertOutbox(ctx, db, rows))
	now := t0.Add(time.Minute)
	claimed, err := model.ClaimOutbox(ctx, db, model.OutboxClaim{Owner: "w1", From: []string{model.OutboxPending},
		To: model.OutboxClaimed, Now: now, LeaseUntil: now.Add(time.Minute), Limit: 10})
	must(t, err)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d", len(claimed))
	}
	id := rows[0].ID

	t.Run("start needs the owner and the state", func(t *testing.T) {
		for _, c := range []struct {
			owner, from string
		}{{"w2", model.OutboxClaimed}, {"w1", model.OutboxPending}} {
			n, err := model.StartOutbox(ctx, db, id, c.owner, c.from, model.OutboxSending, now.Add(time.Hour))
			if err != nil || n != 0 {
				t.Fatalf("owner %s from %s moved %d rows (%v), want 0", c.owner, c.from, n, err)
			}
		}
		n, err := model.StartOutbox(ctx, db, id, "w1", model.OutboxClaimed, model.OutboxSending, now.Add(time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("the owner's start moved %d (%v)", n, err)
		}
		r := loadOutbox(t, db, id)
		if r.State != model.OutboxSending || r.Attempts != 1 || r.InboxPending || !r.LeaseUntil.Equal(now.Add(time.Hour)) {
			t.Fatalf("started row %+v", r)
		}
		if n, _ := model.StartOutbox(ctx, db, id, "w1", model.OutboxClaimed, model.OutboxSending, now); n != 0 {
			t.Fatal("a row started twice")
		}
	})
	t.Run("record needs the owner and one of the states", func(t *testing.T) {
		sent := now.Add(2 * time.Minute)
		out := model.OutboxOutcome{State: model.OutboxSent, SentAt: &sent}
		if n, err := model.RecordOutbox(ctx, db, id, "w2", []string{model.OutboxSending}, out); err != nil || n != 0 {
			t.Fatalf("another owner recorded %d (%v)", n, err)
		}
		if n, err := model.RecordOutbox(ctx, db, id, "w1", []string{model.OutboxFailed}, out); err != nil || n != 0 {
			t.Fatalf("a record from the wrong state wrote %d (%v)", n, err)
		}
		if n, err := model.RecordOutbox(ctx, db, id, "w1", []string{model.OutboxSending}, out); err != nil || n != 1 {
			t.Fatalf("the owner recorded %d (%v)", n, err)
		}
		r := loadOutbox(t, db, id)
		if r.State != model.OutboxSent || r.LeaseUntil != nil || r.SentAt == nil || !r.SentAt.Equal(sent) {
			t.Fatalf("recorded row %+v", r)
		}
	})
	t.Run("return gives back only the owner's claimed rows", func(t *testing.T) {
		ids := []int64{rows[0].ID, rows[1].ID}
		if n, err := model.ReturnOutbox(ctx, db, ids, "w2", model.OutboxClaimed, model.OutboxPending); err != nil || n != 0 {
			t.Fatalf("another owner returned %d (%v)", n, err)
		}
		n, err := model.ReturnOutbox(ctx, db, ids, "w1", model.OutboxClaimed, model.OutboxPending)
		if err != nil || n != 1 {
			t.Fatalf("returned %d (%v), want the one still claimed", n, err)
		}
		if r := loadOutbox(t, db, rows[1].ID); r.State != model.OutboxPending || r.Owner != "" {
			t.Fatalf("returned row %+v", r)
		}
		if r := loadOutbox(t, db, rows[0].ID); r.State != model.OutboxSent {
			t.Fatalf("the sent row moved: %+v", r)
		}
	})
}

func TestLapsedLeases(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	early, late := t0.Add(time.Minute), t0.Add(time.Hour)
	rows := []model.Outbox{
		outboxRow(1, "claimed-lapsed", model.OutboxClaimed, 0),
		outboxRow(1, "claimed-held", model.OutboxClaimed, 0),
		outboxRow(1, "sending-lapsed", model.OutboxSending, 0),
		outboxRow(1, "sending-lapsed-rating", model.OutboxSending, 0),
		outboxRow(1, "sending-held", model.OutboxSending, 0),
	}
	rows[3].Kind = "rating"
	for i, lease := range []time.Time{early, late, early, early, late} {
		rows[i].LeaseUntil, rows[i].Owner = &lease, "w1"
	}
	must(t, model.InsertOutbox(ctx, db, rows))
	now := t0.Add(10 * time.Minute)

	n, err := model.ReturnLapsedOutbox(ctx, db, model.OutboxClaimed, model.OutboxPending, now)
	if err != nil || n != 1 {
		t.Fatalf("returned %d lapsed claims (%v), want 1", n, err)
	}
	if r := loadOutbox(t, db, rows[0].ID); r.State != model.OutboxPending || r.Owner != "" {
		t.Fatalf("lapsed claim %+v", r)
	}
	if r := loadOutbox(t, db, rows[1].ID); r.State != model.OutboxClaimed {
		t.Fatalf("a held claim was returned: %+v", r)
	}

	out := model.OutboxOutcome{State: model.OutboxUnknown, LastCode: "lease_expired", LastError: "lost"}
	if n, err := model.LapseOutbox(ctx, db, model.OutboxSending, nil, now, out); err != nil || n != 0 {
		t.Fatalf("no kinds settled %d (%v)", n, err)
	}
	n, err = model.LapseOutbox(ctx, db, model.OutboxSending, []string{"new_report"}, now, out)
	if err != nil || n != 1 {
		t.Fatalf("settled %d lapsed sends (%v), want the new_report one", n, err)
	}
	r := loadOutbox(t, db, rows[2].ID)
	if r.State != model.OutboxUnknown || r.StaleCount != 1 || r.LastCode != "lease_expired" {
		t.Fatalf("lapsed send %+v", r)
	}
	for _, i := range []int{3, 4} {
		if r := loadOutbox(t, db, rows[i].ID); r.State != model.OutboxSending || r.StaleCount != 0 {
			t.Fatalf("row %s was settled: %+v", r.EventKey, r)
		}
	}
}

func TestCancelOutboxOnlyFromItsStates(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	rows := []model.Outbox{
		outboxRow(1, "a", model.OutboxPending, 0), outboxRow(2, "a", model.OutboxClaimed, 0),
		outboxRow(3, "a", model.OutboxSending, 0), outboxRow(4, "b", model.OutboxPending, 0),
	}
	rows[1].Owner = "w1"
	for i := range rows {
		rows[i].CancelKey = "meeting:" + rows[i].EventKey
	}
	must(t, model.InsertOutbox(ctx, db, rows))
	n, err := model.CancelOutbox(ctx, db, "meeting:a", []string{model.OutboxPending, model.OutboxClaimed})
	if err != nil || n != 2 {
		t.Fatalf("cancelled %d (%v), want 2", n, err)
	}
	want := []string{model.OutboxCancelled, model.OutboxCancelled, model.OutboxSending, model.OutboxPending}
	for i, r := range rows {
		got := loadOutbox(t, db, r.ID)
		if got.State != want[i] || got.State == model.OutboxCancelled && got.Owner != "" {
			t.Fatalf("row %d: %s owner %q, want %s", i, got.State, got.Owner, want[i])
		}
	}
	// Publishing the same event again writes nothing new.
	again := []model.Outbox{outboxRow(1, "a", model.OutboxPending, 0)}
	must(t, model.InsertOutbox(ctx, db, again))
	var count int64
	db.Model(&model.Outbox{}).Count(&count)
	if count != 4 {
		t.Fatalf("%d rows after inserting a duplicate, want 4", count)
	}
}

func TestTakeQuotaSpendsWhatIsLeftAndNotWhenOff(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	must(t, db.Create(&[]model.SubscribeQuota{
		{UserID: 1, TemplateID: "t", Remaining: 2},
		{UserID: 2, TemplateID: "t", Remaining: 5, Off: true},
	}).Error)
	for i, want := range []int64{1, 1, 0} {
		if n, err := model.TakeQuota(ctx, db, 1, "t"); err != nil || n != want {
			t.Fatalf("take %d: %d (%v), want %d", i+1, n, err, want)
		}
	}
	if q, _ := model.QuotaOf(ctx, db, 1, "t"); q.Remaining != 0 {
		t.Fatalf("remaining %d, want 0 (never below)", q.Remaining)
	}
	if n, _ := model.TakeQuota(ctx, db, 2, "t"); n != 0 {
		t.Fatal("took from a template turned off")
	}
	if n, _ := model.TakeQuota(ctx, db, 3, "t"); n != 0 {
		t.Fatal("took from no quota at all")
	}
	must(t, model.RefundQuota(ctx, db, 1, "t"))
	if q, _ := model.QuotaOf(ctx, db, 1, "t"); q.Remaining != 1 {
		t.Fatalf("after a refund %d, want 1", q.Remaining)
	}
	if _, err := model.QuotaOf(ctx, db, 3, "t"); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("missing quota: %v", err)
	}
}

func TestLockQuotaCreatesOnce(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	for range 2 {
		err := model.InTx(ctx, db, func(tx *gorm.DB) error {
			q, err := model.LockQuota(ctx, tx, 1, "t")
			if err != nil {
				return err
			}
			q.Remaining++
			return model.SaveQuota(ctx, tx, q)
		})
		must(t, err)
	}
	qs, err := model.QuotasOf(ctx, db, 1)
	if err != nil || len(qs) != 1 || qs[0].Remaining != 2 {
		t.Fatalf("quotas %+v (%v), want one with 2 left", qs, err)
	}
}

func TestContentCheckClaimAndSettle(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	c := model.ContentCheck{Subject: "order:1:description", UserID: 1, Scene: 3, Text: "x", State: model.CheckPending, DueAt: t0}
	must(t, model.InsertContentCheck(ctx, db, &c))
	due, err := model.DueContentChecks(ctx, db, t0, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due %v (%v)", due, err)
	}
	if n, err := model.ClaimContentCheck(ctx, db, c.ID, 0, t0.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("claim %d (%v)", n, err)
	}
	// A second worker that read the row before the first claimed it.
	if n, err := model.ClaimContentCheck(ctx, db, c.ID, 0, t0.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("a stale claim took %d (%v)", n, err)
	}
	if due, _ := model.DueContentChecks(ctx, db, t0, 10); len(due) != 0 {
		t.Fatal("a claimed check is due before its new time")
	}
	if n, err := model.SettleContentCheck(ctx, db, c.ID, model.CheckOutcome{State: model.CheckRisky, Label: "赌博"}); err != nil || n != 1 {
		t.Fatalf("settle %d (%v)", n, err)
	}
	if n, _ := model.SettleContentCheck(ctx, db, c.ID, model.CheckOutcome{State: model.CheckPass}); n != 0 {
		t.Fatal("a settled check was settled again")
	}
	var got model.ContentCheck
	must(t, db.Take(&got, c.ID).Error)
	if got.State != model.CheckRisky || got.Label != "赌博" || got.Attempts != 1 {
		t.Fatalf("check %+v", got)
	}
}

func TestContentChecksWithinPlaces(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	for _, a := range []model.Ancestry{{CityID: 1, StreetID: 10, CommunityID: 100}, {CityID: 1, StreetID: 10, CommunityID: 101},
		{CityID: 1, StreetID: 11, CommunityID: 110}} {
		must(t, model.InsertContentCheck(ctx, db, &model.ContentCheck{Subject: "s", UserID: 1, Text: "x",
			State: model.CheckReview, DueAt: t0, Ancestry: a}))
	}
	for _, c := range []struct {
		name   string
		within []model.Place
		want   int
	}{
		{"all", nil, 3},
		{"none", []model.Place{}, 0},
		{"a community", []model.Place{{Kind: model.ScopeCommunity, ID: 101}}, 1},
		{"a street", []model.Place{{Kind: model.ScopeStreet, ID: 10}}, 2},
		{"a street or a community", []model.Place{{Kind: model.ScopeStreet, ID: 10}, {Kind: model.ScopeCommunity, ID: 110}}, 3},
		{"a grid is no place of a check", []model.Place{{Kind: model.ScopeGrid, ID: 1}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, err := model.ContentChecks(ctx, db, c.within, "", 0, 10)
			if err != nil || len(rows) != c.want {
				t.Fatalf("%d checks (%v), want %d", len(rows), err, c.want)
			}
		})
	}
}

func TestFollowerLinks(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	var a, b model.OAFollower
	must(t, model.InTx(ctx, db, func(tx *gorm.DB) error {
		var err error
		if a, err = model.LockFollower(ctx, tx, "oa_a"); err != nil {
			return err
		}
		b, err = model.LockFollower(ctx, tx, "oa_b")
		return err
	}))
	if n, err := model.LinkFollower(ctx, db, a.ID, 7); err != nil || n != 1 {
		t.Fatalf("link %d (%v)", n, err)
	}
	if n, err := model.LinkFollower(ctx, db, a.ID, 8); err != nil || n != 0 {
		t.Fatalf("a linked follower was linked again: %d (%v)", n, err)
	}
	if _, err := model.LinkFollower(ctx, db, b.ID, 7); !errors.Is(err, model.ErrDuplicate) {
		t.Fatalf("a second follower for one user: %v, want ErrDuplicate", err)
	}
	must(t, model.InsertCallbackReceipt(ctx, db, "k"))
	if err := model.InsertCallbackReceipt(ctx, db, "k"); !errors.Is(err, model.ErrDuplicate) {
		t.Fatalf("a receipt twice: %v, want ErrDuplicate", err)
	}
	if seen, err := model.HasCallbackReceipt(ctx, db, "k"); err != nil || !seen {
		t.Fatalf("receipt not seen: %v", err)
	}
}

func TestMarkRead(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	k1, k2, k3 := "k1", "k2", "k3"
	msgs := []model.Message{{UserID: 1, Kind: "progress", Event: "e", Title: "t", EventKey: &k1},
		{UserID: 1, Kind: "progress", Event: "e", Title: "t", EventKey: &k2},
		{UserID: 2, Kind: "progress", Event: "e", Title: "t", EventKey: &k3}}
	must(t, model.InsertMessages(ctx, db, msgs))
	must(t, model.MarkRead(ctx, db, msgs[2].ID, 1, t0)) // another's: nothing
	must(t, model.MarkRead(ctx, db, msgs[0].ID, 1, t0))
	must(t, model.MarkRead(ctx, db, msgs[0].ID, 1, t0.Add(time.Hour))) // again: keeps the first time
	if m, _ := model.MessageOf(ctx, db, msgs[0].ID, 1); m.ReadAt == nil || !m.ReadAt.Equal(t0) {
		t.Fatalf("read at %v, want %v", m.ReadAt, t0)
	}
	if _, err := model.MessageOf(ctx, db, msgs[2].ID, 1); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("another's message: %v", err)
	}
	if n, _ := model.CountUnread(ctx, db, 2); n != 1 {
		t.Fatalf("user 2 has %d unread, want 1", n)
	}
	if n, err := model.MarkAllRead(ctx, db, 1, t0); err != nil || n != 1 {
		t.Fatalf("marked %d (%v), want the one left", n, err)
	}
}

// A delivery event without a msgid names only the user and the template:
// it settles the one push in doubt, and none when two are.
func TestSentEventMatchesOnlyAnUnambiguousPush(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	doubt := func(key string) model.Outbox {
		r := outboxRow(1, key, model.OutboxUnknown, 0)
		r.ToUser, r.TemplateID, r.Channel = "o1", "tpl", model.ChannelMP
		return r
	}
	must(t, model.InsertOutbox(ctx, db, []model.Outbox{doubt("a")}))
	t.Run("one in doubt", func(t *testing.T) {
		if _, err := model.SentEventOutbox(ctx, db, "o1", "tpl", ""); err != nil {
			t.Fatalf("the one push in doubt: %v", err)
		}
	})
	must(t, model.InsertOutbox(ctx, db, []model.Outbox{doubt("b")}))
	t.Run("two in doubt", func(t *testing.T) {
		if r, err := model.SentEventOutbox(ctx, db, "o1", "tpl", ""); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("picked row %d of two: %v", r.ID, err)
		}
	})
}
