package model_test

import (
	"database/sql"
	"os"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"

	"redprop/model"
	"redprop/model/dbtest"
)

// Sessions on MySQL and MariaDB read committed data (see readCommitted).
func TestMySQLSessionsReadCommitted(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("isolation levels are a MySQL matter; SQLite serialises writers")
	}
	db := dbtest.Open(t)
	var rows []struct {
		VariableName string `gorm:"column:Variable_name"`
		Value        string `gorm:"column:Value"`
	}
	if err := db.Raw("SHOW SESSION VARIABLES WHERE Variable_name IN ('tx_isolation', 'transaction_isolation')").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no isolation variable")
	}
	for _, r := range rows {
		if r.Value != "READ-COMMITTED" {
			t.Fatalf("%s = %s", r.VariableName, r.Value)
		}
	}
}

// Statements go to MariaDB with their parameters interpolated: no
// server-side prepare for a parameterised query.
func TestMySQLStatementsAreNotPrepared(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("prepared statements are a MySQL matter")
	}
	db := dbtest.Open(t)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	// One connection, so the session counter below is the query's own.
	conn, err := sqlDB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	prepared := func() int64 {
		var name string
		var n int64
		if err := conn.QueryRowContext(t.Context(), "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := prepared()
	var one int64
	if err := conn.QueryRowContext(t.Context(), "SELECT ? + 0", 1).Scan(&one); err != nil || one != 1 {
		t.Fatalf("select: %d %v", one, err)
	}
	if n := prepared() - before; n != 0 {
		t.Fatalf("%d statements prepared for one parameterised query, want 0", n)
	}
}

// The pool keeps as many idle connections as configured: with the old
// fixed idle size of 10, a burst past it closed and reopened connections.
func TestMySQLPoolSizeIsConfigured(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("SQLite keeps one connection whatever the configuration")
	}
	// The pool needs a server, not the test database.
	cfg, err := mysqldriver.ParseDSN(os.Getenv(dbtest.EnvMySQL))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = ""
	db, err := model.OpenWith(cfg.FormatDSN(), "", nil, model.Deadlines{MaxOpen: 14, MaxIdle: 12})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	var conns []*sql.Conn
	for range 14 {
		c, err := sqlDB.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	st := sqlDB.Stats()
	if st.MaxOpenConnections != 14 || st.Idle != 12 {
		t.Fatalf("max open %d, idle %d after a burst of 14; want 14 and 12", st.MaxOpenConnections, st.Idle)
	}
}
