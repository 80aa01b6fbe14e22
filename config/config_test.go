package config

import (
	"os"
	"path/filepath"
	"runtime"
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

func TestRectificationDays(t *testing.T) {
	if d := Default().RectificationDays; d != 5 {
		t.Fatalf("default rectification days %d, want 5", d)
	}
	c, err := Load("", env(map[string]string{"REDPROP_RECTIFICATION_DAYS": "7"}))
	if err != nil || c.RectificationDays != 7 {
		t.Fatalf("from the environment: %d, %v", c.RectificationDays, err)
	}
	for _, bad := range []string{"0", "61", "five"} {
		if _, err := Load("", env(map[string]string{"REDPROP_RECTIFICATION_DAYS": bad})); err == nil ||
			!strings.Contains(err.Error(), "REDPROP_RECTIFICATION_DAYS") {
			t.Errorf("%q: error %v does not name the key", bad, err)
		}
	}
}

func TestDashboardAndExportSettings(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		c := Default()
		if c.DashboardRefresh != 10*time.Second || c.DashboardLag != time.Minute || c.ExportSyncRows != 2000 ||
			c.ExportMaxRows != 200_000 || c.ExportWorkers != 2 || c.ExportTTL != 24*time.Hour {
			t.Fatalf("defaults %+v", c)
		}
	})
	t.Run("the environment sets them", func(t *testing.T) {
		cfg, err := Load("", env(map[string]string{"REDPROP_DASHBOARD_REFRESH": "3s", "REDPROP_DASHBOARD_LAG": "2m",
			"REDPROP_EXPORT_SYNC_ROWS": "500", "REDPROP_EXPORT_MAX_ROWS": "9000",
			"REDPROP_EXPORT_WORKERS": "4", "REDPROP_EXPORT_TTL": "2h"}))
		if err != nil || cfg.DashboardRefresh != 3*time.Second || cfg.DashboardLag != 2*time.Minute ||
			cfg.ExportSyncRows != 500 || cfg.ExportMaxRows != 9000 || cfg.ExportWorkers != 4 || cfg.ExportTTL != 2*time.Hour {
			t.Fatalf("%v %+v", err, cfg)
		}
	})
	for key, vars := range map[string]map[string]string{
		"dashboard_lag":    {"REDPROP_DASHBOARD_LAG": "10s"}, // not longer than db_tx_timeout (15s)
		"export_workers":   {"REDPROP_EXPORT_WORKERS": "0"},
		"export_sync_rows": {"REDPROP_EXPORT_SYNC_ROWS": "300000"},
		"export_ttl":       {"REDPROP_EXPORT_TTL": "0s"},
	} {
		if _, err := Load("", env(vars)); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v does not name the key", key, err)
		}
	}
}

func TestConsoleConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		c := Default()
		if c.ConsoleTicketTTL != 3*time.Minute || c.ConsoleSessionTTL != 12*time.Hour || c.ConsoleWxaPage != "pages/console/login" {
			t.Fatalf("console defaults %v %v %q", c.ConsoleTicketTTL, c.ConsoleSessionTTL, c.ConsoleWxaPage)
		}
	})
	t.Run("the environment sets them", func(t *testing.T) {
		cfg, err := Load("", env(map[string]string{"REDPROP_CONSOLE_TICKET_TTL": "5m",
			"REDPROP_CONSOLE_SESSION_TTL": "8h", "REDPROP_CONSOLE_WXA_PAGE": "pages/pc/scan"}))
		if err != nil || cfg.ConsoleTicketTTL != 5*time.Minute || cfg.ConsoleSessionTTL != 8*time.Hour || cfg.ConsoleWxaPage != "pages/pc/scan" {
			t.Fatalf("%v %+v", err, cfg)
		}
	})
	for key, val := range map[string]string{"REDPROP_CONSOLE_TICKET_TTL": "1h", "REDPROP_CONSOLE_SESSION_TTL": "10s",
		"REDPROP_CONSOLE_WXA_PAGE": "/pages/console/login?x=1"} {
		t.Run("refused "+key, func(t *testing.T) {
			_, err := Load("", env(map[string]string{key: val}))
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Fatalf("want %s named: %v", key, err)
			}
		})
	}
}

func TestAppealDays(t *testing.T) {
	t.Run("defaults are 5 and 10 working days", func(t *testing.T) {
		if c := Default(); c.AppealWindowDays != 5 || c.AppealDecisionDays != 10 {
			t.Fatalf("appeal days %d/%d", c.AppealWindowDays, c.AppealDecisionDays)
		}
	})
	t.Run("the environment sets them", func(t *testing.T) {
		cfg, err := Load("", env(map[string]string{"REDPROP_APPEAL_WINDOW_DAYS": "7", "REDPROP_APPEAL_DECISION_DAYS": "15"}))
		if err != nil || cfg.AppealWindowDays != 7 || cfg.AppealDecisionDays != 15 {
			t.Fatalf("%v %d/%d", err, cfg.AppealWindowDays, cfg.AppealDecisionDays)
		}
	})
	for key, v := range map[string]string{"REDPROP_APPEAL_WINDOW_DAYS": "0", "REDPROP_APPEAL_DECISION_DAYS": "61"} {
		t.Run(key+" out of range is refused by name", func(t *testing.T) {
			_, err := Load("", env(map[string]string{key: v}))
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Fatalf("want %s named: %v", key, err)
			}
		})
	}
}

func TestEvaluationTemplateKind(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"REDPROP_TEMPLATES_LONG_TERM": "evaluation"}))
	if err != nil || cfg.TemplatesLongTerm != "evaluation" {
		t.Fatalf("evaluation is a template kind: %v", err)
	}
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

func TestMaxInflight(t *testing.T) {
	if c := Default(); c.MaxInflight != 0 {
		t.Fatalf("default %d, want 0 (no bound)", c.MaxInflight)
	}
	cfg, err := Load("", env(map[string]string{"REDPROP_MAX_INFLIGHT": "16"}))
	if err != nil || cfg.MaxInflight != 16 {
		t.Fatalf("%v %d", err, cfg.MaxInflight)
	}
	if _, err := Load("", env(map[string]string{"REDPROP_MAX_INFLIGHT": "-1"})); err == nil || !strings.Contains(err.Error(), "max_inflight") {
		t.Fatalf("a negative bound: %v", err)
	}
	if c, want := Default(), 8*runtime.GOMAXPROCS(0); c.MaxInflightReads != want {
		t.Fatalf("default reads %d, want %d (8 per core)", c.MaxInflightReads, want)
	}
	if cfg, err := Load("", env(map[string]string{"REDPROP_MAX_INFLIGHT_READS": "0"})); err != nil || cfg.MaxInflightReads != 0 {
		t.Fatalf("no bound asked for: %v %d", err, cfg.MaxInflightReads)
	}
	cfg, err = Load("", env(map[string]string{"REDPROP_MAX_INFLIGHT_READS": "16"}))
	if err != nil || cfg.MaxInflightReads != 16 {
		t.Fatalf("%v %d", err, cfg.MaxInflightReads)
	}
	if _, err := Load("", env(map[string]string{"REDPROP_MAX_INFLIGHT_READS": "-2"})); err == nil || !strings.Contains(err.Error(), "max_inflight_reads") {
		t.Fatalf("a negative bound on reads: %v", err)
	}
}

func TestGCSettings(t *testing.T) {
	if c := Default(); c.GCPercent != 400 || c.MemoryLimitMB != 192 {
		t.Fatalf("defaults %d %d", c.GCPercent, c.MemoryLimitMB)
	}
	cfg, err := Load("", env(map[string]string{"REDPROP_GC_PERCENT": "0", "REDPROP_MEMORY_LIMIT_MB": "0"}))
	if err != nil || cfg.GCPercent != 0 || cfg.MemoryLimitMB != 0 {
		t.Fatalf("Go's defaults: %v %d %d", err, cfg.GCPercent, cfg.MemoryLimitMB)
	}
	for k, v := range map[string]string{"REDPROP_GC_PERCENT": "10", "REDPROP_MEMORY_LIMIT_MB": "32"} {
		want := map[string]string{"REDPROP_GC_PERCENT": "gc_percent", "REDPROP_MEMORY_LIMIT_MB": "memory_limit_mb"}[k]
		if _, err := Load("", env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s=%s: %v", k, v, err)
		}
	}
}
