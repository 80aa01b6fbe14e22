package model_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
)

func TestMigrateIsIdempotentAndRecordsVersion(t *testing.T) {
	db := dbtest.Open(t)
	ctx := context.Background()
	// Versions come in ranges per capability, so they need not be
	// contiguous: each is recorded once, the latest last.
	var counts []int64
	for i := 0; i < 2; i++ {
		v, err := model.Migrate(ctx, db)
		if err != nil {
			t.Fatalf("migrate run %d: %v", i, err)
		}
		if v != model.LatestVersion() {
			t.Fatalf("version = %d, want %d", v, model.LatestVersion())
		}
		var n int64
		db.Model(&model.SchemaVersion{}).Count(&n)
		counts = append(counts, n)
	}
	var n int64
	var top int
	db.Model(&model.SchemaVersion{}).Count(&n)
	db.Model(&model.SchemaVersion{}).Select("MAX(version)").Scan(&top)
	if n != int64(model.StepCount()) || counts[1] != counts[0] || top != model.LatestVersion() {
		t.Fatalf("schema_versions rows %v over two runs (now %d), latest %d; want %d rows twice and latest %d",
			counts, n, top, model.StepCount(), model.LatestVersion())
	}
}

// A database that has a later capability's steps but lacks a step of an
// earlier range (the two were merged in the other order) gets it.
func TestMigrateAppliesAMissingEarlierStep(t *testing.T) {
	vs := model.StepVersions()
	for i := 1; i < len(vs); i++ {
		if vs[i] <= vs[i-1] {
			t.Fatalf("migration versions not increasing: %v", vs)
		}
	}
	db := dbtest.Open(t)
	ctx := context.Background()
	if _, err := model.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	middle := vs[len(vs)/2]
	if err := db.Where("version = ?", middle).Delete(&model.SchemaVersion{}).Error; err != nil {
		t.Fatal(err)
	}
	v, err := model.Migrate(ctx, db)
	if err != nil || v != model.LatestVersion() {
		t.Fatalf("migrate: %d, %v", v, err)
	}
	if at, err := model.MigratedAt(ctx, db, middle); err != nil || at.IsZero() {
		t.Fatalf("step %d not applied again: %v %v", middle, at, err)
	}
}

func TestCompositeUniqueIndexes(t *testing.T) {
	db := dbtest.Open(t)
	b := model.Building{Name: "1号楼", Ancestry: model.Ancestry{CityID: 1, CompoundID: 7}}
	if err := db.Create(&b).Error; err != nil {
		t.Fatal(err)
	}
	dup := model.Building{Name: "1号楼", Ancestry: model.Ancestry{CityID: 1, CompoundID: 7}}
	if err := model.Translate(db.Create(&dup).Error); !errors.Is(err, model.ErrDuplicate) {
		t.Fatalf("duplicate building: err = %v, want ErrDuplicate", err)
	}
	other := model.Building{Name: "1号楼", Ancestry: model.Ancestry{CityID: 1, CompoundID: 8}}
	if err := db.Create(&other).Error; err != nil {
		t.Fatalf("same name in another compound: %v", err)
	}
	h := model.Household{Unit: "1", Room: "101", AreaCentiM2: 8950, Ancestry: model.Ancestry{BuildingID: b.ID}}
	if err := db.Create(&h).Error; err != nil {
		t.Fatal(err)
	}
	h2 := model.Household{Unit: "1", Room: "101", AreaCentiM2: 1, Ancestry: model.Ancestry{BuildingID: b.ID}}
	if err := model.Translate(db.Create(&h2).Error); !errors.Is(err, model.ErrDuplicate) {
		t.Fatalf("duplicate household: err = %v, want ErrDuplicate", err)
	}
}

// Migrating into a database created with a latin1 default makes utf8mb4
// tables that hold Chinese text; a latin1 table left by an earlier run is
// refused with a message saying how to fix it.
func TestMigrateIntoALatin1Database(t *testing.T) {
	dsn := os.Getenv(dbtest.EnvMySQL)
	if dsn == "" {
		t.Skip("needs MariaDB (" + dbtest.EnvMySQL + ")")
	}
	ctx := context.Background()
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	base := cfg.DBName
	if base == "" {
		base = "test"
	}
	cfg.DBName = ""
	admin, err := model.Open(cfg.FormatDSN(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
	})
	latin1 := func(t *testing.T, name string) *gorm.DB {
		t.Helper()
		name = base + "_" + name
		for _, q := range []string{"DROP DATABASE IF EXISTS `" + name + "`",
			"CREATE DATABASE `" + name + "` CHARACTER SET latin1 COLLATE latin1_swedish_ci"} {
			if err := admin.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
		c := *cfg
		c.DBName = name
		db, err := model.Open(c.FormatDSN(), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if sqlDB, err := db.DB(); err == nil {
				sqlDB.Close()
			}
		})
		return db
	}
	t.Run("fresh latin1 database", func(t *testing.T) {
		db := latin1(t, "latin1_fresh")
		if _, err := model.Migrate(ctx, db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		r := model.Region{Level: model.LevelCity, Name: "北京市😀", Code: "110000"}
		if err := db.Create(&r).Error; err != nil {
			t.Fatalf("insert a Chinese name: %v", err)
		}
		got, err := model.ByID[model.Region](ctx, db, r.ID)
		if err != nil || got.Name != "北京市😀" {
			t.Fatalf("read back %q: %v", got.Name, err)
		}
	})
	t.Run("a utf8 (utf8mb3) table of an earlier install", func(t *testing.T) {
		db := latin1(t, "latin1_utf8")
		if err := db.Exec("CREATE TABLE firms (id bigint PRIMARY KEY) CHARACTER SET utf8").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := model.Migrate(ctx, db); err != nil {
			t.Fatalf("migrate refused a table that holds Chinese: %v", err)
		}
	})
	t.Run("a latin1 table left behind", func(t *testing.T) {
		db := latin1(t, "latin1_left")
		if err := db.Exec("CREATE TABLE firms (id bigint PRIMARY KEY) CHARACTER SET latin1").Error; err != nil {
			t.Fatal(err)
		}
		_, err := model.Migrate(ctx, db)
		if err == nil || !strings.Contains(err.Error(), "firms") || !strings.Contains(err.Error(), "CHARACTER SET utf8mb4") {
			t.Fatalf("migrate: %v", err)
		}
	})
}

// Migration 64 leaves orders with the grid workers' index and without the
// single-column ones the composite indexes made redundant, also on a
// database that had them.
func TestOrderIndexesOfMigration64(t *testing.T) {
	db := dbtest.Open(t)
	m := db.Migrator()
	gone := []string{"idx_orders_state", "idx_orders_level", "idx_orders_overdue", "idx_orders_step_deadline"}
	check := func(t *testing.T) {
		t.Helper()
		if !m.HasIndex(&model.Order{}, "ix_order_grid_state") {
			t.Fatal("no ix_order_grid_state")
		}
		for _, ix := range gone {
			if m.HasIndex(&model.Order{}, ix) {
				t.Fatalf("%s still there", ix)
			}
		}
	}
	check(t)
	// As an older schema had them.
	for _, c := range []string{"state", "level", "overdue", "step_deadline"} {
		if err := db.Exec("CREATE INDEX idx_orders_" + c + " ON orders (" + c + ")").Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := model.RunStep(db, 64); err != nil {
		t.Fatal(err)
	}
	check(t)
}

// Migration 66 names the desk of every order waiting for dispatch in a
// database written before intake_node, and indexes it.
func TestIntakeNodesOfMigration66(t *testing.T) {
	db := dbtest.Open(t)
	if !db.Migrator().HasIndex(&model.Order{}, "ix_order_intake") {
		t.Fatal("no ix_order_intake")
	}
	anc := model.Ancestry{CityID: 1, DistrictID: 2, StreetID: 3, CommunityID: 4, CompoundID: 5, GridID: 6}
	cases := []struct {
		state, level string
		want         int64
	}{
		{model.StateSubmitted, model.OrderLevelGrid, 0},
		{model.StateSubmitted, model.OrderLevelCommunity, 4},
		{model.StateVerified, model.OrderLevelCommunity, 4},
		{model.StateVerified, model.OrderLevelStreet, 3},
		{model.StateSubmitted, model.OrderLevelCity, 1},
		{model.StateDispatched, model.OrderLevelCommunity, 0},
		{model.StateClosed, model.OrderLevelStreet, 0},
	}
	var ids []int64
	for i, c := range cases {
		o := model.Order{Number: fmt.Sprintf("M66%05d", i), CategoryID: 1, CategoryCode: "repair", State: c.state,
			Level: c.level, Channel: model.ChannelSelf, Description: "x", Ancestry: anc, Version: 1}
		if err := db.Create(&o).Error; err != nil {
			t.Fatal(err)
		}
		if o.IntakeNode != c.want {
			t.Fatalf("case %d created with intake_node %d, want %d", i, o.IntakeNode, c.want)
		}
		ids = append(ids, o.ID)
	}
	// As rows written before the column were.
	if err := db.Exec("UPDATE orders SET intake_node = 0").Error; err != nil {
		t.Fatal(err)
	}
	if err := model.RunStep(db, 66); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		var got int64
		if err := db.Raw("SELECT intake_node FROM orders WHERE id = ?", ids[i]).Scan(&got).Error; err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s at %s: intake_node %d, want %d", c.state, c.level, got, c.want)
		}
	}
}
