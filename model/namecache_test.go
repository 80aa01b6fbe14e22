package model_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
)

// A rename is seen by the next read on the instance that made it, and,
// through the broadcast, on another instance sharing the database and
// Redis; until then both answer from their caches without a statement.
func TestNameCacheForgetsRenamesOnEveryInstance(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	rdb, prefix := dbtest.Redis(t)
	cat := model.Category{Code: "nc-test", Name: "旧名"}
	if err := db.Create(&cat).Error; err != nil {
		t.Fatal(err)
	}
	applied := make(chan []int64, 4)
	start := func(notify func(string, []int64)) *model.NameCache {
		c := model.NewNameCache(db, rdb, model.NameCacheOptions{Prefix: prefix, Applied: notify})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); c.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case <-c.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("no subscription")
		}
		return c
	}
	a := start(nil)
	b := start(func(_ string, ids []int64) { applied <- ids })
	name := func(c *model.NameCache) string {
		t.Helper()
		got, err := c.Fields(ctx, db, model.FieldSet{Table: &model.Category{}, Cols: []string{"name"}, IDs: []int64{cat.ID}})
		if err != nil {
			t.Fatal(err)
		}
		return got[0][cat.ID][0]
	}
	// Whole category rows go the same way as their names.
	minutes := func(c *model.NameCache) int {
		t.Helper()
		row, err := c.Category(ctx, db, cat.ID)
		if err != nil {
			t.Fatal(err)
		}
		return row.VerifyMinutes
	}
	if name(a) != "旧名" || name(b) != "旧名" || minutes(a) != 0 || minutes(b) != 0 {
		t.Fatal("first reads")
	}
	if _, err := a.Category(ctx, db, cat.ID+1000); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("a missing category: %v", err)
	}
	n := dbtest.CountStatements(t, db)
	n.Take()
	n.On.Store(true)
	_, _, _, _ = name(a), name(b), minutes(a), minutes(b)
	n.On.Store(false)
	if got, sql := n.Take(); got != 0 {
		t.Fatalf("cached names cost %d statements: %q", got, sql)
	}

	if err := db.Model(&model.Category{}).Where("id = ?", cat.ID).Updates(map[string]any{"name": "新名", "verify_minutes": 30}).Error; err != nil {
		t.Fatal(err)
	}
	if name(a) != "旧名" || minutes(a) != 0 {
		t.Fatal("the cache read the database although nothing was forgotten")
	}
	a.Forget(ctx, &model.Category{}, cat.ID)
	if got := name(a); got != "新名" || minutes(a) != 30 {
		t.Fatalf("the renaming instance still says %q, %d minutes", got, minutes(a))
	}
	select {
	case ids := <-applied:
		if len(ids) != 1 || ids[0] != cat.ID {
			t.Fatalf("broadcast of %v", ids)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other instance never heard of the rename")
	}
	if got := name(b); got != "新名" || minutes(b) != 30 {
		t.Fatalf("the other instance still says %q, %d minutes", got, minutes(b))
	}
}
