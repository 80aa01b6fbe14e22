package model

import (
	"strings"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
)

// The MySQL defaults interpolate parameters (one round trip a statement)
// unless the DSN says otherwise or names a charset the driver refuses to
// interpolate for.
func TestMySQLDSNInterpolatesParams(t *testing.T) {
	for _, tc := range []struct {
		name, dsn string
		want      bool
	}{
		{"default", "root@tcp(127.0.0.1:3306)/redprop", true},
		{"with options", "root@tcp(127.0.0.1:3306)/redprop?timeout=2s", true},
		{"turned off", "root@tcp(127.0.0.1:3306)/redprop?interpolateParams=false", false},
		{"gbk", "root@tcp(127.0.0.1:3306)/redprop?charset=gbk", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := mysqlDSN(tc.dsn)
			cfg, err := mysqldriver.ParseDSN(dsn)
			if err != nil {
				t.Fatalf("%s: %v", dsn, err)
			}
			if cfg.InterpolateParams != tc.want || strings.Count(dsn, "interpolateParams=") > 1 {
				t.Fatalf("%s: interpolate %v, want %v", dsn, cfg.InterpolateParams, tc.want)
			}
		})
	}
}
