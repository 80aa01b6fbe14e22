package model_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
)

// newOrder stores an order of category 1 with the given place and state.
func newOrder(t *testing.T, db *gorm.DB, n int, state string, anc model.Ancestry, mod ...func(*model.Order)) model.Order {
	t.Helper()
	o := model.Order{Number: fmt.Sprintf("GD%d", n), CategoryID: 1, CategoryCode: "environment", State: state,
		Level: model.OrderLevelCommunity, Channel: model.ChannelSelf, AuthorID: 100, Description: "d", Ancestry: anc, Version: 1}
	for _, m := range mod {
		m(&o)
	}
	if err := model.Create(context.Background(), db, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestMoveOrderIsACompareAndSetOnTheVersion(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	o := newOrder(t, db, 1, model.StateSubmitted, model.Ancestry{CityID: 1})
	if _, err := model.MoveOrder(ctx, db, o.ID, o.Version, map[string]any{"warned_at": time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	t.Run("the current version wins and bumps it, writing only the columns given", func(t *testing.T) {
		cur, err := model.ByID[model.Order](ctx, db, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		n, err := model.MoveOrder(ctx, db, o.ID, cur.Version, map[string]any{"state": model.StateVerified})
		if err != nil || n != 1 {
			t.Fatalf("rows %d, %v", n, err)
		}
		got, _ := model.ByID[model.Order](ctx, db, o.ID)
		if got.Version != cur.Version+1 || got.State != model.StateVerified || got.WarnedAt == nil {
			t.Fatalf("after the move: v%d %s warned %v", got.Version, got.State, got.WarnedAt)
		}
	})
	t.Run("a stale version changes nothing", func(t *testing.T) {
		before, _ := model.ByID[model.Order](ctx, db, o.ID)
		n, err := model.MoveOrder(ctx, db, o.ID, o.Version, map[string]any{"state": model.StateCancelled})
		if err != nil || n != 0 {
			t.Fatalf("stale move: rows %d, %v", n, err)
		}
		after, _ := model.ByID[model.Order](ctx, db, o.ID)
		if after.Version != before.Version || after.State != before.State {
			t.Fatalf("stale move changed v%d %s → v%d %s", before.Version, before.State, after.Version, after.State)
		}
	})
	t.Run("a missing order is zero rows, a missing load is ErrNotFound", func(t *testing.T) {
		if n, err := model.MoveOrder(ctx, db, 987654, 1, map[string]any{"state": model.StateClosed}); err != nil || n != 0 {
			t.Fatalf("rows %d, %v", n, err)
		}
		if _, err := model.ByID[model.Order](ctx, db, 987654); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("missing order: %v", err)
		}
	})
}

func TestReserveOrderNumbersCountsPerDay(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	for i, tc := range []struct {
		day  string
		n    int64
		want int64
	}{{"20261123", 1, 1}, {"20261123", 1, 2}, {"20261123", 10, 12}, {"20261124", 5, 5}, {"20261124", 0, 6}} {
		got, err := model.ReserveOrderNumbers(ctx, db, tc.day, tc.n)
		if err != nil || got != tc.want {
			t.Fatalf("reserve %d of %s: %d %v, want %d", i, tc.day, got, err, tc.want)
		}
	}
}

func TestListOrdersScopesAndFilters(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	a := newOrder(t, db, 1, model.StateSubmitted, model.Ancestry{CityID: 1, CommunityID: 10, GridID: 20})
	b := newOrder(t, db, 2, model.StateVerified, model.Ancestry{CityID: 1, CommunityID: 11, GridID: 21}, func(o *model.Order) {
		o.HandlerKind, o.HandlerID, o.AssigneeID, o.CategoryCode = model.HandlerFirm, 5, 7, "repair.plumbing"
	})
	c := newOrder(t, db, 3, model.StateClosed, model.Ancestry{CityID: 1, CommunityID: 10, GridID: 20}, func(o *model.Order) {
		o.AuthorID, o.Breaches, o.CategoryCode = 200, 1, "repair_like"
	})
	ids := func(os []model.Order) []int64 {
		out := []int64{}
		for _, o := range os {
			out = append(out, o.ID)
		}
		return out
	}
	yes := true
	cases := []struct {
		name string
		q    model.OrderQuery
		want []int64
	}{
		{"no scope selects nothing", model.OrderQuery{Limit: 10}, []int64{}},
		{"everything, newest first", model.OrderQuery{Scopes: []model.OrderScope{{All: true}}, Limit: 10}, []int64{c.ID, b.ID, a.ID}},
		{"a part of the tree", model.OrderQuery{Scopes: []model.OrderScope{{TreeKind: model.ScopeCommunity, TreeID: 10}}, Limit: 10},
			[]int64{c.ID, a.ID}},
		{"a kind outside the tree selects nothing", model.OrderQuery{Scopes: []model.OrderScope{{TreeKind: model.ScopeFirm, TreeID: 5}}, Limit: 10},
			[]int64{}},
		{"own orders", model.OrderQuery{Scopes: []model.OrderScope{{Person: 200}}, Limit: 10}, []int64{c.ID}},
		{"handled and assigned", model.OrderQuery{Scopes: []model.OrderScope{{HandlerKind: model.HandlerFirm, HandlerIDs: []int64{5}, Assignee: 7}}, Limit: 10},
			[]int64{b.ID}},
		{"scopes are ORed, state sets ANDed", model.OrderQuery{Scopes: []model.OrderScope{{Person: 200}, {TreeKind: model.ScopeGrid, TreeID: 21}},
			States: [][]string{{model.StateVerified, model.StateClosed}, {model.StateVerified}}, Limit: 10}, []int64{b.ID}},
		{"a category with its sub-kinds, not a code it merely starts", model.OrderQuery{Scopes: []model.OrderScope{{All: true}},
			Category: "repair", Limit: 10}, []int64{b.ID}},
		{"late at any step", model.OrderQuery{Scopes: []model.OrderScope{{All: true}}, Overdue: &yes, Limit: 10}, []int64{c.ID}},
		{"a cursor and a limit", model.OrderQuery{Scopes: []model.OrderScope{{All: true}}, Before: c.ID, Limit: 1}, []int64{b.ID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := model.ListOrders(ctx, db, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids(got)) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", ids(got), tc.want)
			}
		})
	}
}

func TestSchedulerQueriesPageByID(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	past, soon := now.Add(-time.Minute), now.Add(time.Hour)
	open := []string{model.StateSubmitted, model.StateVerified}
	due1 := newOrder(t, db, 1, model.StateSubmitted, model.Ancestry{CityID: 1}, func(o *model.Order) { o.StepDeadline = &past })
	due2 := newOrder(t, db, 2, model.StateVerified, model.Ancestry{CityID: 1}, func(o *model.Order) { o.StepDeadline = &past })
	newOrder(t, db, 3, model.StateSubmitted, model.Ancestry{CityID: 1}, func(o *model.Order) { o.StepDeadline, o.PausedAt = &past, &past })
	newOrder(t, db, 4, model.StateSubmitted, model.Ancestry{CityID: 1}, func(o *model.Order) { o.StepDeadline, o.Overdue = &past, true })
	near := newOrder(t, db, 5, model.StateSubmitted, model.Ancestry{CityID: 1}, func(o *model.Order) { o.StepDeadline = &soon })
	confirmed := newOrder(t, db, 6, model.StateConfirmed, model.Ancestry{CityID: 1}, func(o *model.Order) { o.ConfirmedAt = &past })

	t.Run("due: past deadline, running, not yet overdue, by page", func(t *testing.T) {
		rows, err := model.DueOrders(ctx, db, open, now, 0, 1)
		if err != nil || len(rows) != 1 || rows[0].ID != due1.ID {
			t.Fatalf("first page %v %v", rows, err)
		}
		rows, err = model.DueOrders(ctx, db, open, now, due1.ID, 10)
		if err != nil || len(rows) != 1 || rows[0].ID != due2.ID {
			t.Fatalf("second page %v %v", rows, err)
		}
	})
	t.Run("warnable: deadline ahead within the horizon", func(t *testing.T) {
		rows, err := model.WarnableOrders(ctx, db, open, now, now.Add(2*time.Hour), model.DeadlineCursor{}, 10)
		if err != nil || len(rows) != 1 || rows[0].ID != near.ID {
			t.Fatalf("%v %v", rows, err)
		}
		if rows, _ := model.WarnableOrders(ctx, db, open, now, now.Add(time.Minute), model.DeadlineCursor{}, 10); len(rows) != 0 {
			t.Fatalf("beyond the horizon: %v", rows)
		}
	})
	t.Run("unrated: confirmed before the cutoff", func(t *testing.T) {
		rows, err := model.UnratedOrders(ctx, db, []int64{1}, now, 0, 10)
		if err != nil || len(rows) != 1 || rows[0].ID != confirmed.ID {
			t.Fatalf("%v %v", rows, err)
		}
		if rows, _ := model.UnratedOrders(ctx, db, []int64{1}, past.Add(-time.Minute), 0, 10); len(rows) != 0 {
			t.Fatalf("after the cutoff: %v", rows)
		}
	})
}

func TestCategoryQueries(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	cats := []model.Category{{Code: "b", Name: "B", SortOrder: 2, Active: true}, {Code: "a", Name: "A", SortOrder: 1, Active: true},
		{Code: "off", Name: "Off", SortOrder: 0}}
	if err := model.InsertMissingCategories(ctx, db, cats); err != nil {
		t.Fatal(err)
	}
	// gorm leaves a false bool to the column's default (active), so the
	// inactive one is switched off afterwards.
	db.Model(&model.Category{}).Where("code = ?", "off").Update("active", false)
	t.Run("missing codes only: an admin's change stays", func(t *testing.T) {
		db.Model(&model.Category{}).Where("code = ?", "a").Update("name", "改过")
		if err := model.InsertMissingCategories(ctx, db, []model.Category{{Code: "a", Name: "A"}, {Code: "c", Name: "C", SortOrder: 3, Active: true}}); err != nil {
			t.Fatal(err)
		}
		a, err := model.CategoryByCode(ctx, db, "a")
		if err != nil || a.Name != "改过" {
			t.Fatalf("%+v %v", a, err)
		}
	})
	t.Run("active ones by sort order, inactive when asked", func(t *testing.T) {
		got, err := model.Categories(ctx, db, false)
		if err != nil || len(got) != 3 || got[0].Code != "a" || got[2].Code != "c" {
			t.Fatalf("%+v %v", got, err)
		}
		all, _ := model.Categories(ctx, db, true)
		if len(all) != 4 || all[0].Code != "off" {
			t.Fatalf("%+v", all)
		}
	})
	t.Run("missing is ErrNotFound", func(t *testing.T) {
		if _, err := model.CategoryByCode(ctx, db, "nope"); !errors.Is(err, model.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := model.ByID[model.Category](ctx, db, 987654); !errors.Is(err, model.ErrNotFound) {
			t.Fatal(err)
		}
	})
}

func TestPhotoQueries(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	var ids []int64
	for i := 0; i < 2; i++ {
		p := model.Photo{Key: fmt.Sprintf("k%d", i), UploaderID: 1, Mime: "image/jpeg", Size: 1, SHA256: "0"}
		if err := model.Create(ctx, db, &p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	err := model.InTx(ctx, db, func(tx *gorm.DB) error {
		rows, err := model.LockPhotos(ctx, tx, append(ids, 987654))
		if err != nil || len(rows) != 2 {
			return fmt.Errorf("locked %d rows: %v", len(rows), err)
		}
		n, err := model.AttachPhotos(ctx, tx, ids, 42)
		if err != nil || n != 2 {
			return fmt.Errorf("attached %d: %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := model.ByID[model.Photo](ctx, db, ids[1]); err != nil || p.OrderID != 42 {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := model.ByID[model.Photo](ctx, db, 987654); !errors.Is(err, model.ErrNotFound) {
		t.Fatal(err)
	}
}

func TestLookups(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	cs := []model.Compound{{Name: "阳光小区"}, {Name: "幸福小区"}}
	if err := db.Create(&cs).Error; err != nil {
		t.Fatal(err)
	}
	names, err := model.NamesOf(ctx, db, &model.Compound{}, "name", []int64{cs[0].ID, cs[1].ID, 987654})
	if err != nil || len(names) != 2 || names[cs[1].ID] != "幸福小区" {
		t.Fatalf("%v %v", names, err)
	}
	rows, err := model.AllByID[model.Compound](ctx, db, []int64{cs[0].ID})
	if err != nil || len(rows) != 1 || rows[0].Name != "阳光小区" {
		t.Fatalf("%v %v", rows, err)
	}
	if _, err := model.ByID[model.Compound](ctx, db, 987654); !errors.Is(err, model.ErrNotFound) {
		t.Fatal(err)
	}
	if r, found, err := model.ResidencyIn(ctx, db, 1, 2, 0); err != nil || found {
		t.Fatalf("no residency: %+v %v %v", r, found, err)
	}
}

// Every state and level has the one name the console and the exports
// show, and no two states share a name.
func TestStateAndLevelNames(t *testing.T) {
	seen := map[string]string{}
	for _, st := range model.OrderStates() {
		n := model.StateNames[st]
		if n == "" {
			t.Errorf("state %s has no name", st)
		}
		if other, dup := seen[n]; dup {
			t.Errorf("states %s and %s are both %s", other, st, n)
		}
		seen[n] = st
	}
	if len(model.StateNames) != len(model.OrderStates()) {
		t.Errorf("%d names for %d states", len(model.StateNames), len(model.OrderStates()))
	}
	for _, l := range model.OrderLevels() {
		if model.LevelNames[l] == "" {
			t.Errorf("level %s has no name", l)
		}
	}
}

// TestWarnableOrdersPageByDeadline pages through the steps to warn of in
// deadline order (equal deadlines by id), each once, and leaves out the
// warned, the overdue, the paused and those past the horizon.
func TestWarnableOrdersPageByDeadline(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	at := func(min int) *time.Time { t := now.Add(time.Duration(min) * time.Minute); return &t }
	open := []string{model.StateSubmitted, model.StateVerified}
	// Made in an id order unlike the deadlines' order; two pairs share a
	// deadline.
	var want []int64
	byDeadline := map[int][]int64{}
	for i, min := range []int{50, 10, 30, 10, 40, 20, 30, 60} {
		o := newOrder(t, db, i+1, open[i%2], model.Ancestry{CityID: 1}, func(o *model.Order) { o.StepDeadline = at(min) })
		byDeadline[min] = append(byDeadline[min], o.ID)
	}
	for _, min := range []int{10, 20, 30, 40, 50, 60} {
		want = append(want, byDeadline[min]...)
	}
	left := []func(*model.Order){
		func(o *model.Order) { o.WarnedAt = at(-5) },
		func(o *model.Order) { o.Overdue = true },
		func(o *model.Order) { o.PausedAt = at(-5) },
		func(o *model.Order) { o.StepDeadline = at(200) },
		func(o *model.Order) { o.StepDeadline = at(-1) },
		func(o *model.Order) { o.State = model.StateClosed },
	}
	for i, mod := range left {
		newOrder(t, db, 100+i, model.StateSubmitted, model.Ancestry{CityID: 1}, func(o *model.Order) { o.StepDeadline = at(15) }, mod)
	}
	for _, limit := range []int{1, 2, 3, 100} {
		var got []int64
		var after model.DeadlineCursor
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatalf("limit %d: the pages do not end", limit)
			}
			rows, err := model.WarnableOrders(ctx, db, open, now, now.Add(2*time.Hour), after, limit)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range rows {
				got = append(got, o.ID)
			}
			if len(rows) < limit {
				break
			}
			last := rows[len(rows)-1]
			after = model.DeadlineCursor{At: *last.StepDeadline, ID: last.ID}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("limit %d: %v, want %v", limit, got, want)
		}
	}
}
