package order

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/servicetest"
)

// TestQueuesReadOnePagePerPart seeds a history of orders and checks, with
// MariaDB's ANALYZE of each queue's statement exactly as List sends it,
// that every queue is read off an index in id order: no filesort, and at
// most a few pages of rows read per part however many orders match. It
// would fail on the OR query, which reads and sorts every matching row.
func TestQueuesReadOnePagePerPart(t *testing.T) {
	const total = 20000
	c := servicetest.New(t, SeedCategories)
	if !model.IsMySQL(c.DB) {
		t.Skip("the plans checked are MariaDB's; SQLite has no ANALYZE of this form (set REDPROP_TEST_MYSQL_DSN)")
	}
	svc := New(c.DB, c.Clock, nil, nil, nil, Options{})
	seedHistory(t, c, total)

	// Record the statements on orders that List runs.
	type stmt struct {
		sql  string
		vars []any
	}
	var seen []stmt
	capturing := false
	capture := func(tx *gorm.DB) {
		// Subqueries are built by dry runs of the same callbacks.
		if s := tx.Statement.SQL.String(); capturing && !tx.DryRun && (strings.Contains(s, "FROM `orders`") || strings.Contains(s, "FROM orders ")) {
			seen = append(seen, stmt{s, append([]any(nil), tx.Statement.Vars...)})
		}
	}
	// Orders are read as rows (model's own scan), other tables by Find.
	if err := c.DB.Callback().Query().After("gorm:query").Register("test:capture_orders", capture); err != nil {
		t.Fatal(err)
	}
	if err := c.DB.Callback().Row().After("gorm:row").Register("test:capture_orders", capture); err != nil {
		t.Fatal(err)
	}
	sqlDB, err := c.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	grant := func(role, kind string, id int64) model.Grant {
		return model.Grant{Role: role, ScopeKind: kind, ScopeID: id}
	}
	yes := true
	cases := []struct {
		name  string
		actor *service.Actor
		f     Filter
		after int64 // -1: the cursor after a first page of 5
		parts int   // the reads of orders the plan must have (0: unchecked)
	}{
		{"mine", &service.Actor{UserID: 5001}, Filter{Queue: QueueMine}, 0, 0},
		{"mine in a state", &service.Actor{UserID: 5001}, Filter{Queue: QueueMine, States: []string{model.StateClosed}}, 0, 0},
		{"mine of one who never reported for others", &service.Actor{UserID: 5001, OwnReportsOnly: true}, Filter{Queue: QueueMine}, 0, 1},
		// A grid's queue is one part per grid, whatever the levels.
		{"to_verify of two grids", &service.Actor{UserID: 9001, Grants: []model.Grant{
			grant(model.RoleGridWorker, model.ScopeGrid, 101), grant(model.RoleGridWorker, model.ScopeGrid, 102)}}, Filter{Queue: QueueToVerify}, 0, 2},
		{"to_confirm", &service.Actor{UserID: 9001, Grants: []model.Grant{grant(model.RoleGridWorker, model.ScopeGrid, 103)}}, Filter{Queue: QueueToConfirm}, 0, 1},
		// A dispatcher's queue is one range of the desk the orders wait at
		// (ix_order_intake), whatever the two states.
		{"to_dispatch of a community", &service.Actor{UserID: 9002, Grants: []model.Grant{grant(model.RoleCommunityStaff, model.ScopeCommunity, 11)}},
			Filter{Queue: QueueToDispatch}, 0, 1},
		{"to_dispatch, second page", &service.Actor{UserID: 9002, Grants: []model.Grant{grant(model.RoleCommunityStaff, model.ScopeCommunity, 11)}},
			Filter{Queue: QueueToDispatch}, -1, 1},
		{"to_dispatch of a street", &service.Actor{UserID: 9003, Grants: []model.Grant{grant(model.RoleStreetStaff, model.ScopeStreet, 2)}},
			Filter{Queue: QueueToDispatch}, 0, 1},
		// The city's desk, and the platform's two states at the community level.
		{"to_dispatch of the city and the platform", &service.Actor{UserID: 9004, Grants: []model.Grant{
			grant(model.RoleCityStaff, model.ScopeCity, 1), grant(model.RoleCommunityStaff, model.ScopePlatform, 0)}}, Filter{Queue: QueueToDispatch}, 0, 3},
		{"a level's queue in one state", &service.Actor{UserID: 9002, Grants: []model.Grant{grant(model.RoleCommunityStaff, model.ScopeCommunity, 12)}},
			Filter{Queue: QueueToDispatch, States: []string{model.StateVerified}}, 0, 1},
		{"the firm's queue", &service.Actor{UserID: 9005, Grants: []model.Grant{
			grant(model.RoleFirmManager, model.ScopeFirm, 301), grant(model.RoleFirmManager, model.ScopeFirm, 302)}}, Filter{Queue: QueueFirm}, 0, 0},
		{"the worker's orders", &service.Actor{UserID: 7001, Grants: []model.Grant{grant(model.RoleFirmWorker, model.ScopeFirm, 301)}},
			Filter{Queue: QueueAssigned}, 0, 0},
		{"everything a grid worker sees", &service.Actor{UserID: 9001, Grants: []model.Grant{grant(model.RoleGridWorker, model.ScopeGrid, 101)}},
			Filter{Queue: QueueAll}, 0, 0},
		{"late orders of a community", &service.Actor{UserID: 9002, Grants: []model.Grant{grant(model.RoleCommunityStaff, model.ScopeCommunity, 11)}},
			Filter{Queue: QueueToDispatch, Overdue: &yes}, 0, 0},
	}
	const limit = 20
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.after < 0 {
				first, err := svc.List(c.Ctx, tc.actor, tc.f, service.Page{Limit: 5})
				if err != nil || len(first.Items) < 5 {
					t.Fatalf("first page: %v, %d items", err, len(first.Items))
				}
				tc.after = first.Items[4].ID
			}
			seen, capturing = nil, true
			page, err := svc.List(c.Ctx, tc.actor, tc.f, service.Page{After: tc.after, Limit: limit})
			capturing = false
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) == 0 {
				t.Fatal("the queue is empty: the seed does not exercise it")
			}
			if len(seen) != 1 {
				t.Fatalf("want one statement on orders, got %d: %v", len(seen), seen)
			}
			plan := servicetest.Analyze(t, sqlDB, seen[0].sql, seen[0].vars)
			parts := 0
			for _, r := range plan {
				// The merge of the parts' ids (a derived table of at most
				// a page per part) is sorted; a read of orders never is.
				if strings.Contains(r["Extra"], "filesort") {
					n, _ := strconv.ParseFloat(r["r_rows"], 64)
					if !strings.HasPrefix(r["table"], "<derived") || n > float64(len(plan)*(limit+1)) {
						t.Errorf("filesort in %v\nsql: %s", r, seen[0].sql)
					}
				}
				if r["table"] != "orders" {
					continue
				}
				parts++
				if r["key"] == "" {
					t.Errorf("no index used: %v\nsql: %s", r, seen[0].sql)
				}
				// Each part stops at its page: a few pages of rows at most
				// (the late filter is checked on the rows it reads).
				bound := 3.0 * (limit + 1)
				if tc.f.Overdue != nil {
					bound = 20 * (limit + 1)
				}
				if n, _ := strconv.ParseFloat(r["r_rows"], 64); n > bound {
					t.Errorf("%v rows read by one part, want at most %v: %v", n, bound, r)
				}
			}
			if parts == 0 {
				t.Fatalf("no read of orders in the plan: %v", plan)
			}
			if tc.parts != 0 && parts != tc.parts {
				t.Fatalf("%d reads of orders, want %d: %v", parts, tc.parts, plan)
			}
			if tc.parts == 1 && len(plan) != 1 {
				t.Fatalf("one part in %d steps, want one range: %v", len(plan), plan)
			}
		})
	}
}

// TestSchedulerScansReadTheRunningSteps checks the plans of the
// scheduler's deadline scans over a history: by the deadline index, the
// rows read are about the steps due, not the orders ever filed.
func TestSchedulerScansReadTheRunningSteps(t *testing.T) {
	const total = 20000
	c := servicetest.New(t)
	if !model.IsMySQL(c.DB) {
		t.Skip("the plans checked are MariaDB's; SQLite has no ANALYZE of this form (set REDPROP_TEST_MYSQL_DSN)")
	}
	seedHistory(t, c, total)
	sqlDB, err := c.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	running := []string{model.StateSubmitted, model.StateVerified, model.StateDispatched, model.StateAccepted,
		model.StateInProgress, model.StateCompleted}
	// The newest orders' deadlines lie around the end of the seeded year.
	now := servicetest.Start.AddDate(-1, 0, 0).Add(time.Duration(total-150) * 17 * time.Minute)
	for _, tc := range []struct {
		name    string
		index   string
		maxRows float64
		run     func(db *gorm.DB) error
	}{
		// About 300 running steps are not yet late; reading the history
		// would be thousands.
		{"due steps", "ix_order_deadline", 400, func(db *gorm.DB) error {
			_, err := model.DueOrders(c.Ctx, db, running, now, 0, 100)
			return err
		}},
		// In deadline order a page stops at its 100 rows.
		{"steps to warn of", "ix_order_warn", 110, func(db *gorm.DB) error {
			_, err := model.WarnableOrders(c.Ctx, db, running, now, now.Add(24*time.Hour), model.DeadlineCursor{}, 100)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dry := c.DB.Session(&gorm.Session{DryRun: true})
			var st *gorm.Statement
			dry.Callback().Query().After("gorm:query").Register("test:keep", func(tx *gorm.DB) { st = tx.Statement })
			defer dry.Callback().Query().Remove("test:keep")
			if err := tc.run(dry); err != nil {
				t.Fatal(err)
			}
			for _, r := range servicetest.Analyze(t, sqlDB, st.SQL.String(), st.Vars) {
				if r["table"] != "orders" {
					continue
				}
				if r["key"] != tc.index {
					t.Errorf("not read by %s: %v", tc.index, r)
				}
				if tc.index == "ix_order_warn" && strings.Contains(r["Extra"], "filesort") {
					t.Errorf("sorted, not read in the index's order: %v", r)
				}
				if n, _ := strconv.ParseFloat(r["r_rows"], 64); n > tc.maxRows {
					t.Errorf("%v rows read, want at most %v: %v", n, tc.maxRows, r)
				}
			}
		})
	}
}

// TestInboxReadsOnePage checks the plans of a user's inbox over years of
// read messages: all of it and the unread only, one page of rows each.
func TestInboxReadsOnePage(t *testing.T) {
	c := servicetest.New(t)
	if !model.IsMySQL(c.DB) {
		t.Skip("the plans checked are MariaDB's; SQLite has no ANALYZE of this form (set REDPROP_TEST_MYSQL_DSN)")
	}
	read := servicetest.Start.Add(-time.Hour)
	var msgs []model.Message
	for i := range 6000 {
		m := model.Message{UserID: int64(5001 + i%3), Kind: "order", Event: "order.moved", Title: "工单进展"}
		if i >= 300 { // the unread ones are old, under years of read ones
			m.ReadAt = &read
		}
		msgs = append(msgs, m)
	}
	if err := c.DB.CreateInBatches(msgs, 1000).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DB.Exec("TRUNCATE TABLE messages") })
	if err := c.DB.Exec("ANALYZE TABLE messages").Error; err != nil {
		t.Fatal(err)
	}
	sqlDB, err := c.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	for _, unread := range []bool{false, true} {
		t.Run(fmt.Sprintf("unread only %v", unread), func(t *testing.T) {
			dry := c.DB.Session(&gorm.Session{DryRun: true})
			var st *gorm.Statement
			dry.Callback().Query().After("gorm:query").Register("test:keep", func(tx *gorm.DB) { st = tx.Statement })
			defer dry.Callback().Query().Remove("test:keep")
			if _, err := model.Inbox(c.Ctx, dry, 5001, unread, 0, 21); err != nil {
				t.Fatal(err)
			}
			for _, r := range servicetest.Analyze(t, sqlDB, st.SQL.String(), st.Vars) {
				if r["key"] == "" || strings.Contains(r["Extra"], "filesort") {
					t.Errorf("not an ordered index read: %v", r)
				}
				if n, _ := strconv.ParseFloat(r["r_rows"], 64); n > 3*21 {
					t.Errorf("%v rows read for a page of 21: %v", n, r)
				}
			}
		})
	}
}

// seedHistory bulk-inserts n orders of a year over one city, two streets,
// four communities, eight grids and three firms: mostly closed, a few
// open in every state and at every level.
func seedHistory(t *testing.T, c *servicetest.City, n int) {
	t.Helper()
	states := []string{model.StateClosed, model.StateClosed, model.StateClosed, model.StateClosed, model.StateClosed,
		model.StateClosed, model.StateClosed, model.StateConfirmed, model.StateCancelled, model.StateSubmitted,
		model.StateVerified, model.StateDispatched, model.StateAccepted, model.StateInProgress, model.StateCompleted}
	levels := []string{model.OrderLevelGrid, model.OrderLevelGrid, model.OrderLevelCommunity, model.OrderLevelStreet, model.OrderLevelCity}
	start := servicetest.Start.AddDate(-1, 0, 0)
	batch := make([]model.Order, 0, 1000)
	for i := range n {
		grid := int64(101 + i%8)
		community := int64(11 + i%4)
		at := start.Add(time.Duration(i) * time.Minute * 17)
		o := model.Order{
			Base:   model.Base{CreatedAt: at, UpdatedAt: at},
			Number: fmt.Sprintf("H%08d", i), CategoryID: 1, CategoryCode: "repair.water",
			State: states[i%len(states)], Level: levels[(i/7)%len(levels)], Channel: model.ChannelSelf,
			AuthorID: int64(5000 + i%1500), ResidentID: int64(5000 + (i+1)%1500), Description: "历史工单",
			Ancestry: model.Ancestry{CityID: 1, DistrictID: 1, StreetID: 1 + community%2, CommunityID: community,
				CompoundID: 200 + grid, GridID: grid, BuildingID: 1000 + int64(i%64)},
			HandlerKind: model.HandlerFirm, HandlerID: int64(301 + i%3), AssigneeID: int64(7001 + (i%3)*10 + (i/3)%7), // each worker in one firm,
			Overdue: i%23 == 0, Version: 1,
		}
		if !slices.Contains([]string{model.StateClosed, model.StateConfirmed, model.StateCancelled}, o.State) {
			// Running steps have deadlines; all but the newest are past and
			// long marked late by the scheduler.
			deadline := at.Add(48 * time.Hour)
			o.StepDeadline = &deadline
			o.Overdue = o.Overdue || i < n-300
		}
		batch = append(batch, o)
		if len(batch) == cap(batch) || i == n-1 {
			if err := c.DB.CreateInBatches(batch, len(batch)).Error; err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// The harness empties tables by DELETE under the query deadline, too
	// slow for a history with all its indexes: this runs before it.
	t.Cleanup(func() { c.DB.Exec("TRUNCATE TABLE orders") })
	// The statistics a server keeps up to date by itself after a load.
	if err := c.DB.Exec("ANALYZE TABLE orders").Error; err != nil {
		t.Fatal(err)
	}
}

// TestHoldersReadTheirSeat checks the plan of the lookup every order move
// makes of who fills a seat (the grid's workers or else the community's
// staff, a level's dispatchers), over a city's grants: a few rows of the
// seat index, not every grant of the role.
func TestHoldersReadTheirSeat(t *testing.T) {
	c := servicetest.New(t)
	if !model.IsMySQL(c.DB) {
		t.Skip("the plans checked are MariaDB's (set REDPROP_TEST_MYSQL_DSN)")
	}
	var gs []model.Grant
	for i := range 2000 {
		for w := range 2 {
			gs = append(gs, model.Grant{UserID: int64(20000 + 2*i + w), Role: model.RoleGridWorker,
				ScopeKind: model.ScopeGrid, ScopeID: int64(5000 + i)})
		}
	}
	for i := range 200 {
		for w := range 3 {
			gs = append(gs, model.Grant{UserID: int64(30000 + 3*i + w), Role: model.RoleCommunityStaff,
				ScopeKind: model.ScopeCommunity, ScopeID: int64(600 + i)})
		}
	}
	if err := c.DB.Session(&gorm.Session{SkipHooks: true}).CreateInBatches(gs, 1000).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DB.Exec("DELETE FROM grants WHERE user_id >= 20000") })
	if err := c.DB.Exec("ANALYZE TABLE grants").Error; err != nil {
		t.Fatal(err)
	}
	sqlDB, err := c.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	grid := model.Seat{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 5777}
	community := model.Seat{Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity, ScopeID: 677}
	for _, seats := range [][]model.Seat{{grid, community}, {community}} {
		t.Run(fmt.Sprintf("%d seats", len(seats)), func(t *testing.T) {
			stop := servicetest.Capture(t, c.DB, fmt.Sprintf("test:holders%d", len(seats)), "FROM `grants`")
			got, err := model.Holders(c.Ctx, c.DB, seats...)
			seen := stop()
			if err != nil {
				t.Fatal(err)
			}
			if want := 3 + 2*(len(seats)-1); len(got) != want {
				t.Fatalf("%d holders, want %d: %+v", len(got), want, got)
			}
			if len(seen) != 1 {
				t.Fatalf("%d statements seen, want 1", len(seen))
			}
			for _, r := range servicetest.Analyze(t, sqlDB, seen[0].SQL, seen[0].Vars) {
				if r["key"] != "ix_grant_seat" {
					t.Errorf("not a read of the seat index: %v\nsql: %s", r, seen[0].SQL)
				}
				if n, _ := strconv.ParseFloat(r["r_rows"], 64); n > 10 {
					t.Errorf("%v rows read for %d holders: %v", n, len(got), r)
				}
			}
		})
	}
}
