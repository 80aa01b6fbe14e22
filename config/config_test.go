package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreValidAndEmbedded(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Sandbox() || cfg.MySQLDSN != "" || cfg.RedisAddr != "" || cfg.Addr != ":8080" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("addr: \":9000\"\naccess_token_ttl: 5m\nlog_level: debug\n"), 0o600)
	cfg, err := Load(path, env(map[string]string{"REDPROP_LOG_LEVEL": "warn", "REDPROP_MAX_BODY_BYTES": "2048"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":9000" || cfg.AccessTokenTTL != 5*time.Minute || cfg.LogLevel != "warn" || cfg.MaxBodyBytes != 2048 {
		t.Fatalf("layering: %+v", cfg)
	}
	os.WriteFile(path, []byte("adress: \":9000\"\n"), 0o600)
	if _, err := Load(path, env(nil)); err == nil || !strings.Contains(err.Error(), "adress") {
		t.Fatalf("unknown key must be named: %v", err)
	}
}

func TestDatabasePoolSize(t *testing.T) {
	t.Run("defaults keep as many idle as open", func(t *testing.T) {
		if c := Default(); c.DBMaxOpenConns != 50 || c.DBMaxIdleConns != 50 {
			t.Fatalf("pool defaults %d/%d", c.DBMaxOpenConns, c.DBMaxIdleConns)
		}
	})
	t.Run("the environment sets them", func(t *testing.T) {
		cfg, err := Load("", env(map[string]string{"REDPROP_DB_MAX_OPEN_CONNS": "80", "REDPROP_DB_MAX_IDLE_CONNS": "40"}))
		if err != nil || cfg.DBMaxOpenConns != 80 || cfg.DBMaxIdleConns != 40 {
			t.Fatalf("%v %d/%d", err, cfg.DBMaxOpenConns, cfg.DBMaxIdleConns)
		}
	})
	t.Run("zero is refused by name", func(t *testing.T) {
		_, err := Load("", env(map[string]string{"REDPROP_DB_MAX_IDLE_CONNS": "0"}))
		if err == nil || !strings.Contains(err.Error(), "db_max_idle_conns") {
			t.Fatalf("want db_max_idle_conns named: %v", err)
		}
	})
}

func TestValidationNamesTheKey(t *testing.T) {
	cases := map[string]map[string]string{
		"REDPROP_ACCESS_TOKEN_TTL":        {"REDPROP_ACCESS_TOKEN_TTL": "soon"},
		"REDPROP_MAX_BODY_BYTES":          {"REDPROP_MAX_BODY_BYTES": "-1"},
		"REDPROP_WECHAT_APP_SECRET":       {"REDPROP_WECHAT_APP_ID": "wx123"},
		"REDPROP_WECHAT_BASE_URL":         {"REDPROP_WECHAT_BASE_URL": "ftp://x"},
		"REDPROP_LOG_LEVEL":               {"REDPROP_LOG_LEVEL": "loud"},
		"REDPROP_TEMPLATES_LONG_TERM":     {"REDPROP_TEMPLATES_LONG_TERM": "rating, lottery"},
		"REDPROP_MESSAGE_WORKER_INTERVAL": {"REDPROP_MESSAGE_WORKER_INTERVAL": "0s"},
		"REDPROP_WECHAT_OA_ENABLED":       {"REDPROP_WECHAT_OA_ENABLED": "yes please"},
		"REDPROP_TRUSTED_PROXIES":         {"REDPROP_TRUSTED_PROXIES": "10.0.0.1, nginx"},
		"REDPROP_REFRESH_GRACE":           {"REDPROP_REFRESH_GRACE": "2m"},
		"REDPROP_WECHAT_OA_APP_ID": {"REDPROP_WECHAT_OA_ENABLED": "true", "REDPROP_WECHAT_APP_ID": "wx1",
			"REDPROP_WECHAT_APP_SECRET": "s"},
	}
	for key, vars := range cases {
		if _, err := Load("", env(vars)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v does not name the key", key, err)
		}
	}
}

func TestProductionRefusesEmbeddedAndSandbox(t *testing.T) {
	full := map[string]string{
		"REDPROP_ENV": "production", "REDPROP_WECHAT_APP_ID": "wx1", "REDPROP_WECHAT_APP_SECRET": "s",
		"REDPROP_MYSQL_DSN": "u@tcp(db:3306)/redprop", "REDPROP_REDIS_ADDR": "redis:6379",
		"REDPROP_JWT_SECRET": strings.Repeat("k", 32), "REDPROP_METRICS_TOKEN": "scrape",
	}
	if _, err := Load("", env(full)); err != nil {
		t.Fatalf("complete production config refused: %v", err)
	}
	drop := map[string]string{
		"REDPROP_WECHAT_APP_ID": "sandbox", "REDPROP_MYSQL_DSN": "embedded SQLite",
		"REDPROP_REDIS_ADDR": "in-process Redis", "REDPROP_JWT_SECRET": "jwt_secret",
		"REDPROP_METRICS_TOKEN": "metrics_token",
	}
	for key, reason := range drop {
		vars := map[string]string{}
		for k, v := range full {
			vars[k] = v
		}
		delete(vars, key)
		if key == "REDPROP_WECHAT_APP_ID" {
			delete(vars, "REDPROP_WECHAT_APP_SECRET")
		}
		_, err := Load("", env(vars))
		if err == nil || !strings.Contains(err.Error(), reason) || strings.Contains(err.Error(), "\n") {
			t.Errorf("without %s: %v (want one line mentioning %q)", key, err, reason)
		}
	}
	vars := map[string]string{}
	for k, v := range full {
		vars[k] = v
	}
	vars["REDPROP_JWT_SECRET"] = "short"
	if _, err := Load("", env(vars)); err == nil || !strings.Contains(err.Error(), "32") {
		t.Errorf("short secret accepted: %v", err)
	}
}

func TestSMSChannelConfig(t *testing.T) {
	base := func() Config { c := Default(); return c }
	t.Run("off by default", func(t *testing.T) {
		if c := base(); c.SMSEnabled || c.EmergencyReserve != 1 || c.SMSParams != "1=place,2=number" {
			t.Fatalf("defaults %v %d %q", c.SMSEnabled, c.EmergencyReserve, c.SMSParams)
		}
	})
	t.Run("enabled needs a template", func(t *testing.T) {
		c := base()
		c.SMSEnabled = true
		if err := c.validateSMS(); err == nil || !strings.Contains(err.Error(), "sms_template_id") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("bad params", func(t *testing.T) {
		c := base()
		c.SMSParams = "1place"
		if err := c.validateSMS(); err == nil || !strings.Contains(err.Error(), "sms_params") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("negative reserve", func(t *testing.T) {
		c := base()
		c.EmergencyReserve = -1
		if err := c.validateSMS(); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestPprofOffUnlessTurnedOn(t *testing.T) {
	if Default().Pprof {
		t.Fatal("pprof must be off by default")
	}
	cfg, err := Load("", env(map[string]string{"REDPROP_PPROF": "true"}))
	if err != nil || !cfg.Pprof {
		t.Fatalf("REDPROP_PPROF=true: %v %v", err, cfg.Pprof)
	}
}
