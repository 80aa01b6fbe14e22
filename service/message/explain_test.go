package message_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"redprop/model"
	"redprop/service/message"
	"redprop/service/servicetest"
)

// TestOutboxClaimReadsOneBatch seeds an outbox of months of sent pushes,
// thousands of reminders due days ahead and a backlog due now, and checks
// with MariaDB's ANALYZE of each statement exactly as ClaimOutbox sends it
// that every part is a range of the claim index: no filesort, and about
// one batch of rows read whatever waits or was sent. Over the due index
// (state, due_at) the claim sorted every due row by priority.
func TestOutboxClaimReadsOneBatch(t *testing.T) {
	c := servicetest.New(t)
	if !model.IsMySQL(c.DB) {
		t.Skip("the plans checked are MariaDB's (set REDPROP_TEST_MYSQL_DSN)")
	}
	now := servicetest.Start
	var rows []model.Outbox
	add := func(n int, state string, priority int, due time.Time) {
		for k := range n {
			i := len(rows)
			rows = append(rows, model.Outbox{UserID: int64(1000 + i%700), EventKey: fmt.Sprintf("bench:%d", i), Kind: "progress",
				Event: "order.moved", Payload: "{}", State: state, Priority: priority, DueAt: due.Add(time.Duration(k) * time.Second)})
		}
	}
	add(15000, model.OutboxSent, 0, now.AddDate(0, -3, 0))
	add(4000, model.OutboxPending, 0, now.Add(24*time.Hour)) // reminders ahead
	add(600, model.OutboxPending, 0, now.Add(-time.Hour))    // the backlog
	add(300, model.OutboxFailed, 0, now.Add(-2*time.Hour))
	add(200, model.OutboxFailed, 0, now.Add(time.Hour)) // retries later
	add(5, model.OutboxPending, 1, now.Add(-time.Minute))
	if err := c.DB.CreateInBatches(rows, 1000).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DB.Exec("TRUNCATE TABLE outboxes") })
	if err := c.DB.Exec("ANALYZE TABLE outboxes").Error; err != nil {
		t.Fatal(err)
	}
	sqlDB, err := c.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	const limit = 20
	for round := range 3 {
		t.Run(fmt.Sprintf("claim %d", round+1), func(t *testing.T) {
			stop := servicetest.Capture(t, c.DB, fmt.Sprintf("test:claim%d", round), "FROM outboxes", "SKIP LOCKED")
			got, err := model.ClaimOutbox(c.Ctx, c.DB, model.OutboxClaim{Owner: fmt.Sprintf("w%d", round),
				From: []string{model.OutboxPending, model.OutboxFailed}, To: model.OutboxClaimed, Now: now, LeaseUntil: now.Add(time.Minute), Limit: limit})
			seen := stop()
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != limit {
				t.Fatalf("claimed %d rows, want %d", len(got), limit)
			}
			// The urgent rows come first, then the oldest due.
			if round == 0 && (got[0].Priority != 1 || got[4].Priority != 1 || got[5].Priority != 0 || got[5].State != model.OutboxClaimed) {
				t.Fatalf("claim order: %+v", got[:6])
			}
			if len(seen) == 0 {
				t.Fatal("no locking read of the outbox seen")
			}
			for _, st := range seen {
				for _, r := range servicetest.Analyze(t, sqlDB, st.SQL, st.Vars) {
					if strings.Contains(r["Extra"], "filesort") || r["key"] != "ix_outbox_claim" {
						t.Errorf("not an ordered read of the claim index: %v\nsql: %s", r, st.SQL)
					}
					if n, _ := strconv.ParseFloat(r["r_rows"], 64); n > 2*limit {
						t.Errorf("%v rows read for a batch of %d: %v\nsql: %s", n, limit, r, st.SQL)
					}
				}
			}
		})
	}
	t.Run("a scrape counts the rows on their way, not the history", func(t *testing.T) {
		svc, err := message.New(c.DB, c.Clock, nil, message.Config{Sandbox: true})
		if err != nil {
			t.Fatal(err)
		}
		stop := servicetest.Capture(t, c.DB, "test:scrape", "outboxes")
		m, err := svc.MetricsSnapshot(c.Ctx)
		seen := stop()
		if err != nil {
			t.Fatal(err)
		}
		// Everything but the 15,000 sent rows is on its way (the claimed
		// rows of the rounds above count as waiting).
		if m.Waiting != 4000+600+300+200+5 || m.Sent != 0 || len(m.Skipped) != 0 {
			t.Fatalf("waiting %d, sent %d, skipped %v", m.Waiting, m.Sent, m.Skipped)
		}
		if len(seen) == 0 {
			t.Fatal("no read of the outbox seen")
		}
		for _, st := range seen {
			var read float64
			for _, r := range servicetest.Analyze(t, sqlDB, st.SQL, st.Vars) {
				if r["type"] == "ALL" {
					t.Errorf("a scan of the whole outbox: %v\nsql: %s", r, st.SQL)
				}
				n, _ := strconv.ParseFloat(r["r_rows"], 64)
				read += n
			}
			if read > 6000 {
				t.Errorf("%v rows read for 5,105 on their way among 20,105: %s", read, st.SQL)
			}
		}
	})
}
