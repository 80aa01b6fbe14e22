package model_test

import (
	"testing"

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
