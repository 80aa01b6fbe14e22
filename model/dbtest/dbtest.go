// Package dbtest gives each test a clean, migrated database and a Redis
// namespace: in-memory SQLite and an in-process Redis by default, MariaDB
// and a real Redis when REDPROP_TEST_MYSQL_DSN and REDPROP_TEST_REDIS_ADDR
// are set. An unreachable configured service fails the test: it never skips.
package dbtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alicebob/miniredis/v2"
	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/model"
)

// EnvMySQL and EnvRedis name the variables that switch to real services.
const (
	EnvMySQL = "REDPROP_TEST_MYSQL_DSN"
	EnvRedis = "REDPROP_TEST_REDIS_ADDR"
)

var (
	mysqlOnce sync.Once
	mysqlDB   *gorm.DB
	mysqlErr  error
	seq       atomic.Int64
)

// MySQL reports whether tests run on MariaDB/MySQL.
func MySQL() bool { return os.Getenv(EnvMySQL) != "" }

// Open returns a migrated database with every table empty.
func Open(t testing.TB) *gorm.DB {
	t.Helper()
	if dsn := os.Getenv(EnvMySQL); dsn != "" {
		return openMySQL(t, dsn)
	}
	name := fmt.Sprintf("file:t%d?mode=memory&cache=shared", seq.Add(1))
	db, err := model.Open("", name, nil)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	if _, err := model.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// openMySQL uses one database per test binary (so packages tested in
// parallel do not meet), migrated once and emptied for every test.
func openMySQL(t testing.TB, dsn string) *gorm.DB {
	mysqlOnce.Do(func() {
		cfg, err := mysqldrv.ParseDSN(dsn)
		if err != nil {
			mysqlErr = fmt.Errorf("%s: %w", EnvMySQL, err)
			return
		}
		base := cfg.DBName
		if base == "" {
			base = "test"
		}
		pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
		cfg.DBName = ""
		admin, err := model.Open(cfg.FormatDSN(), "", nil)
		if err != nil {
			mysqlErr = err
			return
		}
		dbName := sanitize(base + "_" + pkg)
		if err := admin.Exec("CREATE DATABASE IF NOT EXISTS `" + dbName + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci").Error; err != nil {
			mysqlErr = fmt.Errorf("create test database: %w", err)
			return
		}
		if sqlDB, err := admin.DB(); err == nil {
			sqlDB.Close()
		}
		cfg.DBName = dbName
		mysqlDB, mysqlErr = model.Open(cfg.FormatDSN(), "", nil)
		if mysqlErr != nil {
			return
		}
		if _, err := model.Migrate(context.Background(), mysqlDB); err != nil {
			mysqlErr = fmt.Errorf("migrate mysql: %w", err)
		}
	})
	if mysqlErr != nil {
		t.Fatalf("MariaDB from %s: %v", EnvMySQL, mysqlErr)
	}
	if err := Truncate(mysqlDB); err != nil {
		t.Fatalf("empty tables: %v", err)
	}
	return mysqlDB
}

// Truncate deletes every row but the schema versions, then puts back the
// data migrations seed (the shipped working-day calendar, the default
// inspection checklist), so that a test on MariaDB starts where a freshly
// migrated SQLite database does.
func Truncate(db *gorm.DB) error {
	tables, err := db.Migrator().GetTables()
	if err != nil {
		return err
	}
	for _, tbl := range tables {
		if tbl == "schema_versions" {
			continue
		}
		if err := db.Exec("DELETE FROM " + tbl).Error; err != nil {
			return fmt.Errorf("delete from %s: %w", tbl, err)
		}
	}
	if err := model.SeedDefaultChecklist(context.Background(), db); err != nil {
		return err
	}
	if err := model.SeedCalendar(context.Background(), db); err != nil {
		return err
	}
	return model.SeedFormulas(context.Background(), db)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return b.String()
}

// Redis returns a client and a key prefix unique to this test.
func Redis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	prefix := fmt.Sprintf("t%d_%d:", os.Getpid(), seq.Add(1))
	if addr := os.Getenv(EnvRedis); addr != "" {
		c := redis.NewClient(&redis.Options{Addr: addr})
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("Redis from %s: %v", EnvRedis, err)
		}
		t.Cleanup(func() {
			ctx := context.Background()
			iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
			c.Close()
		})
		return c, prefix
	}
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return c, prefix
}
