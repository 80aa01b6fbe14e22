// Package config holds the one typed configuration of redprop: defaults, then
// an optional YAML file, then REDPROP_* environment variables, then Validate.
// It must not import any other package of the project.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Each field's env tag names its
// REDPROP_ variable; the yaml tag names its key in the file.
type Config struct {
	Env  string `yaml:"env" env:"ENV"`   // development | production
	Addr string `yaml:"addr" env:"ADDR"` // listen address

	DataDir  string `yaml:"data_dir" env:"DATA_DIR"`   // embedded SQLite file and local photo storage live here
	MySQLDSN string `yaml:"mysql_dsn" env:"MYSQL_DSN"` // empty: embedded SQLite under DataDir
	// Deadlines of one statement (its wait for a pool connection included)
	// and of one transaction: a database that stops answering gives 503s
	// after this long instead of requests that hang.
	DBQueryTimeout time.Duration `yaml:"db_query_timeout" env:"DB_QUERY_TIMEOUT"`
	DBTxTimeout    time.Duration `yaml:"db_tx_timeout" env:"DB_TX_TIMEOUT"`
	// The MySQL pool: connections open at most, and kept idle between
	// bursts (fewer idle than open means reconnecting under load).
	DBMaxOpenConns int `yaml:"db_max_open_conns" env:"DB_MAX_OPEN_CONNS"`
	DBMaxIdleConns int `yaml:"db_max_idle_conns" env:"DB_MAX_IDLE_CONNS"`

	RedisAddr     string `yaml:"redis_addr" env:"REDIS_ADDR"` // empty: in-process Redis
	RedisPassword string `yaml:"redis_password" env:"REDIS_PASSWORD"`
	RedisDB       int    `yaml:"redis_db" env:"REDIS_DB"`
	RedisPrefix   string `yaml:"redis_prefix" env:"REDIS_PREFIX"` // namespace of every key we write

	JWTSecret       string        `yaml:"jwt_secret" env:"JWT_SECRET"`
	AccessTokenTTL  time.Duration `yaml:"access_token_ttl" env:"ACCESS_TOKEN_TTL"`
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl" env:"REFRESH_TOKEN_TTL"`
	// A rotated refresh token presented again within this long gets the
	// same new pair instead of ending the session as a replay; 0 disables.
	RefreshGrace time.Duration `yaml:"refresh_grace" env:"REFRESH_GRACE"`

	// Login attempts allowed per minute from one IP and for one code.
	LoginPerIPPerMinute   int `yaml:"login_per_ip_per_minute" env:"LOGIN_PER_IP_PER_MINUTE"`
	LoginPerCodePerMinute int `yaml:"login_per_code_per_minute" env:"LOGIN_PER_CODE_PER_MINUTE"`

	WeChatAppID          string        `yaml:"wechat_app_id" env:"WECHAT_APP_ID"`
	WeChatAppSecret      string        `yaml:"wechat_app_secret" env:"WECHAT_APP_SECRET"`
	WeChatToken          string        `yaml:"wechat_token" env:"WECHAT_TOKEN"` // push callback token
	WeChatEncodingAESKey string        `yaml:"wechat_encoding_aes_key" env:"WECHAT_ENCODING_AES_KEY"`
	WeChatBaseURL        string        `yaml:"wechat_base_url" env:"WECHAT_BASE_URL"`
	WeChatTimeout        time.Duration `yaml:"wechat_timeout" env:"WECHAT_TIMEOUT"`
	// The text check made while a resident waits (submit, rate) gives up
	// after WeChatCheckTimeout and stores the text to be checked later;
	// after WeChatCheckBreakerFailures such failures in a row it stops
	// asking for WeChatCheckBreakerOpen (then one probe decides).
	WeChatCheckTimeout         time.Duration `yaml:"wechat_check_timeout" env:"WECHAT_CHECK_TIMEOUT"`
	WeChatCheckBreakerFailures int           `yaml:"wechat_check_breaker_failures" env:"WECHAT_CHECK_BREAKER_FAILURES"`
	WeChatCheckBreakerOpen     time.Duration `yaml:"wechat_check_breaker_open" env:"WECHAT_CHECK_BREAKER_OPEN"`
	// developer | trial | formal, sent with every subscribe message.
	WeChatMiniprogramState string `yaml:"wechat_miniprogram_state" env:"WECHAT_MINIPROGRAM_STATE"`

	MaxBodyBytes int64 `yaml:"max_body_bytes" env:"MAX_BODY_BYTES"`
	// MaxInflight bounds the API requests one instance serves at once;
	// the others wait their turn, first come first served (0: no bound).
	// On a saturated machine it trades a little throughput for a much
	// shorter tail (README, Benchmark).
	MaxInflight int `yaml:"max_inflight" env:"MAX_INFLIGHT"`
	// MaxInflightReads bounds the reads (GET, HEAD) alone the same way,
	// letting writes through: a read is work for the CPU, a write mostly
	// waits (a commit, WeChat's text check), and a bound on writes caps
	// them at bound ÷ latency (0: no bound). The default is 8 per core
	// the process may use (README, Benchmark: the city's queues at 64
	// clients served faster, and their p99 under 100 ms, with 16 on 2
	// cores than unbounded).
	MaxInflightReads int   `yaml:"max_inflight_reads" env:"MAX_INFLIGHT_READS"`
	MaxPhotoBytes    int64 `yaml:"max_photo_bytes" env:"MAX_PHOTO_BYTES"`
	// GCPercent is the collector's target (Go's GOGC): the heap grows by
	// this percentage of what is live before the next collection. The
	// server's live heap is small and its requests allocate much; at Go's
	// 100 a fifth of its CPU went to collecting. MemoryLimitMB is a soft
	// bound on the Go runtime's memory (GOMEMLIMIT): near it the collector
	// runs as often as it must, whatever GCPercent says (0: none). GOGC
	// and GOMEMLIMIT in the environment win over both.
	GCPercent       int           `yaml:"gc_percent" env:"GC_PERCENT"`
	MemoryLimitMB   int           `yaml:"memory_limit_mb" env:"MEMORY_LIMIT_MB"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" env:"SHUTDOWN_TIMEOUT"`
	// How often the background scheduler looks for due deadlines and alerts.
	SchedulerInterval time.Duration `yaml:"scheduler_interval" env:"SCHEDULER_INTERVAL"`
	// Emergency calls: repeat the alert this often until acknowledged, and
	// escalate to the street when nobody acknowledges within EmergencyEscalateAfter.
	EmergencyRepeat        time.Duration `yaml:"emergency_repeat" env:"EMERGENCY_REPEAT"`
	EmergencyEscalateAfter time.Duration `yaml:"emergency_escalate_after" env:"EMERGENCY_ESCALATE_AFTER"`

	// Unrated orders: remind the resident once this long after confirmation.
	RatingReminder time.Duration `yaml:"rating_reminder" env:"RATING_REMINDER"`

	// MaxPhotoPixels refuses photos whose header claims more pixels
	// (width × height): a few hundred bytes can claim a decompression bomb.
	MaxPhotoPixels int64 `yaml:"max_photo_pixels" env:"MAX_PHOTO_PIXELS"`
	// FirmContractGrace is how long after its last contract with a
	// compound ends a firm still sees the names and phones of residents on
	// the orders it handled there.
	FirmContractGrace time.Duration `yaml:"firm_contract_grace" env:"FIRM_CONTRACT_GRACE"`

	// How often the outbox worker looks for due pushes.
	MessageWorkerInterval time.Duration `yaml:"message_worker_interval" env:"MESSAGE_WORKER_INTERVAL"`
	// Pushes of one batch sent side by side (one user's stay in order).
	MessageSendLanes int `yaml:"message_send_lanes" env:"MESSAGE_SEND_LANES"`
	// PushLease is how long a push the worker holds is its own; renewed
	// every third of it while held, so a crashed worker's pushes go to
	// another after at most this long.
	PushLease time.Duration `yaml:"push_lease" env:"PUSH_LEASE"`
	// PushReconcileAfter is how long a push whose outcome was lost waits
	// for WeChat's delivery event before templates_resend_unknown decides.
	PushReconcileAfter time.Duration `yaml:"push_reconcile_after" env:"PUSH_RECONCILE_AFTER"`
	// PushSentEvents: with the push callback configured (wechat_token),
	// WeChat's delivery event comes for every subscribe message, so a push
	// still unknown after push_reconcile_after never reached WeChat and is
	// sent again whatever its kind. Turn off when events may not come.
	PushSentEvents bool `yaml:"push_sent_events" env:"PUSH_SENT_EVENTS"`
	// Subscribe-message template ids per kind, from the mini-program
	// console (我的模板); an empty id leaves that kind in the inbox only.
	TemplateNewReport string `yaml:"template_new_report" env:"TEMPLATE_NEW_REPORT"`
	TemplateProgress  string `yaml:"template_progress" env:"TEMPLATE_PROGRESS"`
	TemplateRating    string `yaml:"template_rating" env:"TEMPLATE_RATING"`
	TemplateMeeting   string `yaml:"template_meeting" env:"TEMPLATE_MEETING"`
	// Which of our values fills which keyword of each kind's template, as
	// "thing1=title,time2=time" (the keywords of the template's 详情 in the
	// console); empty keeps the built-in mapping of the default templates.
	TemplateNewReportFields string `yaml:"template_new_report_fields" env:"TEMPLATE_NEW_REPORT_FIELDS"`
	TemplateProgressFields  string `yaml:"template_progress_fields" env:"TEMPLATE_PROGRESS_FIELDS"`
	TemplateRatingFields    string `yaml:"template_rating_fields" env:"TEMPLATE_RATING_FIELDS"`
	TemplateMeetingFields   string `yaml:"template_meeting_fields" env:"TEMPLATE_MEETING_FIELDS"`
	// Comma-separated kinds whose templates are long-term (no per-push
	// consent), and kinds whose pushes are sent again when their outcome
	// was lost and no delivery event came (a duplicate is then possible;
	// "emergency" stands for emergency alerts, "none" for no kind).
	TemplatesLongTerm      string `yaml:"templates_long_term" env:"TEMPLATES_LONG_TERM"`
	TemplatesResendUnknown string `yaml:"templates_resend_unknown" env:"TEMPLATES_RESEND_UNKNOWN"`

	// Meeting reminders before the start, e.g. "24h,2h"; "none" for none.
	MeetingReminders string `yaml:"meeting_reminders" env:"MEETING_REMINDERS"`

	// The service account (公众号) channel, off by default: staff who
	// follow it get template messages there instead of subscribe messages.
	WeChatOAEnabled        bool   `yaml:"wechat_oa_enabled" env:"WECHAT_OA_ENABLED"`
	WeChatOAAppID          string `yaml:"wechat_oa_app_id" env:"WECHAT_OA_APP_ID"`
	WeChatOAAppSecret      string `yaml:"wechat_oa_app_secret" env:"WECHAT_OA_APP_SECRET"`
	WeChatOAToken          string `yaml:"wechat_oa_token" env:"WECHAT_OA_TOKEN"` // its 服务器配置 token
	WeChatOAEncodingAESKey string `yaml:"wechat_oa_encoding_aes_key" env:"WECHAT_OA_ENCODING_AES_KEY"`
	// Template-message ids per kind from the account's console; a kind
	// without one always goes to the mini-program.
	OATemplateNewReport string `yaml:"oa_template_new_report" env:"OA_TEMPLATE_NEW_REPORT"`
	OATemplateProgress  string `yaml:"oa_template_progress" env:"OA_TEMPLATE_PROGRESS"`
	OATemplateRating    string `yaml:"oa_template_rating" env:"OA_TEMPLATE_RATING"`
	OATemplateMeeting   string `yaml:"oa_template_meeting" env:"OA_TEMPLATE_MEETING"`
	// The same mapping for the account's templates ("first" and
	// "keyword1" … of old-style templates take any value).
	OATemplateNewReportFields string `yaml:"oa_template_new_report_fields" env:"OA_TEMPLATE_NEW_REPORT_FIELDS"`
	OATemplateProgressFields  string `yaml:"oa_template_progress_fields" env:"OA_TEMPLATE_PROGRESS_FIELDS"`
	OATemplateRatingFields    string `yaml:"oa_template_rating_fields" env:"OA_TEMPLATE_RATING_FIELDS"`
	OATemplateMeetingFields   string `yaml:"oa_template_meeting_fields" env:"OA_TEMPLATE_MEETING_FIELDS"`

	// The SMS channel of emergency alerts (Tencent Cloud SMS), off by
	// default; the sandbox records texts instead of sending them.
	SMSEnabled   bool   `yaml:"sms_enabled" env:"SMS_ENABLED"`
	SMSSecretID  string `yaml:"sms_secret_id" env:"SMS_SECRET_ID"`
	SMSSecretKey string `yaml:"sms_secret_key" env:"SMS_SECRET_KEY"`
	SMSSDKAppID  string `yaml:"sms_sdk_app_id" env:"SMS_SDK_APP_ID"`
	SMSSignName  string `yaml:"sms_sign_name" env:"SMS_SIGN_NAME"`
	SMSRegion    string `yaml:"sms_region" env:"SMS_REGION"`
	// SMSEndpoint overrides sms.tencentcloudapi.com (a URL with a scheme
	// points it elsewhere, e.g. at a stand-in).
	SMSEndpoint   string `yaml:"sms_endpoint" env:"SMS_ENDPOINT"`
	SMSTemplateID string `yaml:"sms_template_id" env:"SMS_TEMPLATE_ID"`
	// SMSParams maps the template's placeholders to alert fields, e.g.
	// "1=place,2=number".
	SMSParams string `yaml:"sms_params" env:"SMS_PARAMS"`
	// EmergencyReserve is how many one-time allowances of the new-report
	// template routine pushes leave for emergency alerts (0: none).
	EmergencyReserve int `yaml:"emergency_reserve" env:"EMERGENCY_RESERVE"`

	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string `yaml:"metrics_token" env:"METRICS_TOKEN"`
	// TrustedProxies: comma-separated IPs or CIDRs of the reverse proxies
	// in front (their X-Forwarded-For names the client); empty trusts none.
	TrustedProxies string `yaml:"trusted_proxies" env:"TRUSTED_PROXIES"`

	LogLevel string `yaml:"log_level" env:"LOG_LEVEL"` // debug | info | warn | error

	// RectificationDays is how many working days a handler has to rectify
	// a rating of 1–2 (差评整改), counted by the working calendar (1–60).
	RectificationDays int `yaml:"rectification_days" env:"RECTIFICATION_DAYS"`

	// The template of notices and disclosures told to households (公告通知),
	// in the mini-program and on the service account, with their mappings
	// as for the other kinds; an empty id leaves them in the inbox only.
	TemplateNotice         string `yaml:"template_notice" env:"TEMPLATE_NOTICE"`
	TemplateNoticeFields   string `yaml:"template_notice_fields" env:"TEMPLATE_NOTICE_FIELDS"`
	OATemplateNotice       string `yaml:"oa_template_notice" env:"OA_TEMPLATE_NOTICE"`
	OATemplateNoticeFields string `yaml:"oa_template_notice_fields" env:"OA_TEMPLATE_NOTICE_FIELDS"`

	// DashboardRefresh is how often each instance counts new timeline
	// rows into the dashboards' rollups; DashboardLag how old a row after
	// a hole in the timeline's ids must be before the refresh passes it
	// (longer than db_tx_timeout: the hole may be a transaction still
	// running).
	DashboardRefresh time.Duration `yaml:"dashboard_refresh" env:"DASHBOARD_REFRESH"`
	DashboardLag     time.Duration `yaml:"dashboard_lag" env:"DASHBOARD_LAG"`
	// Exports: the most rows built within a request, the most rows of
	// any export, the exports one instance builds at once, and how long a
	// job's file (kept in the database) stays downloadable.
	ExportSyncRows int           `yaml:"export_sync_rows" env:"EXPORT_SYNC_ROWS"`
	ExportMaxRows  int           `yaml:"export_max_rows" env:"EXPORT_MAX_ROWS"`
	ExportWorkers  int           `yaml:"export_workers" env:"EXPORT_WORKERS"`
	ExportTTL      time.Duration `yaml:"export_ttl" env:"EXPORT_TTL"`

	// The PC console (扫码登录): how long a login ticket (the scene of the
	// mini-program code on screen) may wait to be scanned and confirmed,
	// how long a console session lasts (never beyond the mini-program
	// session that confirmed it), and the mini-program page the code opens.
	ConsoleTicketTTL  time.Duration `yaml:"console_ticket_ttl" env:"CONSOLE_TICKET_TTL"`
	ConsoleSessionTTL time.Duration `yaml:"console_session_ttl" env:"CONSOLE_SESSION_TTL"`
	ConsoleWxaPage    string        `yaml:"console_wxa_page" env:"CONSOLE_WXA_PAGE"`

	// The evaluation kind (考核结果通知: 红黑榜, stars, appeals, flags):
	// its subscribe-message and service-account template ids and mappings.
	TemplateEvaluation         string `yaml:"template_evaluation" env:"TEMPLATE_EVALUATION"`
	TemplateEvaluationFields   string `yaml:"template_evaluation_fields" env:"TEMPLATE_EVALUATION_FIELDS"`
	OATemplateEvaluation       string `yaml:"oa_template_evaluation" env:"OA_TEMPLATE_EVALUATION"`
	OATemplateEvaluationFields string `yaml:"oa_template_evaluation_fields" env:"OA_TEMPLATE_EVALUATION_FIELDS"`
	// AppealWindowDays: a firm may appeal a published ranking within this
	// many working days; AppealDecisionDays: the reviewer decides within
	// this many working days of the filing.
	AppealWindowDays   int `yaml:"appeal_window_days" env:"APPEAL_WINDOW_DAYS"`
	AppealDecisionDays int `yaml:"appeal_decision_days" env:"APPEAL_DECISION_DAYS"`

	// Pprof serves Go's profiles at /api/v1/admin/debug/pprof/{name} to
	// platform admins; off by default (404).
	Pprof bool `yaml:"pprof" env:"PPROF"`
}

// templateKinds are the kinds of subscribe message (DESIGN.md §5).
var templateKinds = []string{"new_report", "progress", "rating", "meeting", "notice", "evaluation"}

// KindList splits a comma-separated list of template kinds.
func KindList(s string) []string {
	var out []string
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// WeChatRealBaseURL is where the real WeChat API lives.
const WeChatRealBaseURL = "https://api.weixin.qq.com"

// Default returns the embedded, sandboxed set-up that `go run .` starts with.
func Default() Config {
	return Config{
		Env:                    "development",
		Addr:                   ":8080",
		DataDir:                "./data",
		RedisPrefix:            "redprop:",
		AccessTokenTTL:         15 * time.Minute,
		RefreshTokenTTL:        30 * 24 * time.Hour,
		RefreshGrace:           10 * time.Second,
		LoginPerIPPerMinute:    60,
		LoginPerCodePerMinute:  5,
		WeChatBaseURL:          WeChatRealBaseURL,
		WeChatTimeout:          5 * time.Second,
		WeChatMiniprogramState: "formal",
		MaxBodyBytes:           1 << 20,
		MaxInflightReads:       8 * runtime.GOMAXPROCS(0),
		MaxPhotoBytes:          8 << 20,
		GCPercent:              400,
		MemoryLimitMB:          192,
		MaxPhotoPixels:         40_000_000,
		FirmContractGrace:      30 * 24 * time.Hour,
		ShutdownTimeout:        15 * time.Second,
		SchedulerInterval:      30 * time.Second,
		EmergencyRepeat:        3 * time.Minute,
		EmergencyEscalateAfter: 10 * time.Minute,
		RatingReminder:         24 * time.Hour,
		MessageWorkerInterval:  5 * time.Second,
		MessageSendLanes:       16,
		SMSParams:              "1=place,2=number",
		EmergencyReserve:       1,
		PushLease:              15 * time.Second,
		PushReconcileAfter:     10 * time.Minute,
		PushSentEvents:         true,
		TemplatesResendUnknown: "rating,emergency",
		MeetingReminders:       "24h,2h",
		LogLevel:               "info",

		DBQueryTimeout: 5 * time.Second, DBTxTimeout: 15 * time.Second,
		DBMaxOpenConns: 50, DBMaxIdleConns: 50,
		WeChatCheckTimeout: 2 * time.Second, WeChatCheckBreakerFailures: 3, WeChatCheckBreakerOpen: 30 * time.Second,

		RectificationDays: 5,

		DashboardRefresh: 10 * time.Second, DashboardLag: time.Minute,
		ExportSyncRows: 2000, ExportMaxRows: 200_000, ExportWorkers: 2, ExportTTL: 24 * time.Hour,

		ConsoleTicketTTL: 3 * time.Minute, ConsoleSessionTTL: 12 * time.Hour, ConsoleWxaPage: "pages/console/login",
		AppealWindowDays: 5, AppealDecisionDays: 10,
	}
}

// Load builds the configuration: defaults, the YAML file at path (if not
// empty), then the environment as read by getenv. It validates the result.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return cfg, fmt.Errorf("config file: %w", err)
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := "REDPROP_" + t.Field(i).Tag.Get("env")
		raw := getenv(name)
		if raw == "" {
			continue
		}
		f := v.Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString(raw)
		case int, int64:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not an integer", name, raw)
			}
			f.SetInt(n)
		case bool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", name, raw)
			}
			f.SetBool(b)
		case time.Duration:
			d, err := time.ParseDuration(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration such as 15m or 30s", name, raw)
			}
			f.SetInt(int64(d))
		}
	}
	return nil
}

// Sandbox reports whether WeChat is simulated: only when no AppID is set.
func (c Config) Sandbox() bool { return c.WeChatAppID == "" }

// Production reports whether REDPROP_ENV=production.
func (c Config) Production() bool { return c.Env == "production" }

// Validate checks every key and names the first bad one.
func (c Config) Validate() error {
	switch c.Env {
	case "development", "production", "test":
	default:
		return fmt.Errorf("env (REDPROP_ENV): %q must be development, production or test", c.Env)
	}
	if c.Addr == "" {
		return errors.New("addr (REDPROP_ADDR): must not be empty")
	}
	if c.MySQLDSN == "" && c.DataDir == "" {
		return errors.New("data_dir (REDPROP_DATA_DIR): must not be empty when mysql_dsn is not set")
	}
	if (c.WeChatAppID == "") != (c.WeChatAppSecret == "") {
		return errors.New("wechat_app_secret (REDPROP_WECHAT_APP_SECRET): app id and secret must be set together")
	}
	if !strings.HasPrefix(c.WeChatBaseURL, "http://") && !strings.HasPrefix(c.WeChatBaseURL, "https://") {
		return fmt.Errorf("wechat_base_url (REDPROP_WECHAT_BASE_URL): %q must be an http(s) URL", c.WeChatBaseURL)
	}
	switch c.WeChatMiniprogramState {
	case "developer", "trial", "formal":
	default:
		return fmt.Errorf("wechat_miniprogram_state (REDPROP_WECHAT_MINIPROGRAM_STATE): %q must be developer, trial or formal", c.WeChatMiniprogramState)
	}
	positive := []struct {
		key string
		v   int64
	}{
		{"access_token_ttl (REDPROP_ACCESS_TOKEN_TTL)", int64(c.AccessTokenTTL)},
		{"refresh_token_ttl (REDPROP_REFRESH_TOKEN_TTL)", int64(c.RefreshTokenTTL)},
		{"login_per_ip_per_minute (REDPROP_LOGIN_PER_IP_PER_MINUTE)", int64(c.LoginPerIPPerMinute)},
		{"login_per_code_per_minute (REDPROP_LOGIN_PER_CODE_PER_MINUTE)", int64(c.LoginPerCodePerMinute)},
		{"wechat_timeout (REDPROP_WECHAT_TIMEOUT)", int64(c.WeChatTimeout)},
		{"wechat_check_timeout (REDPROP_WECHAT_CHECK_TIMEOUT)", int64(c.WeChatCheckTimeout)},
		{"wechat_check_breaker_failures (REDPROP_WECHAT_CHECK_BREAKER_FAILURES)", int64(c.WeChatCheckBreakerFailures)},
		{"wechat_check_breaker_open (REDPROP_WECHAT_CHECK_BREAKER_OPEN)", int64(c.WeChatCheckBreakerOpen)},
		{"db_query_timeout (REDPROP_DB_QUERY_TIMEOUT)", int64(c.DBQueryTimeout)},
		{"db_tx_timeout (REDPROP_DB_TX_TIMEOUT)", int64(c.DBTxTimeout)},
		{"db_max_open_conns (REDPROP_DB_MAX_OPEN_CONNS)", int64(c.DBMaxOpenConns)},
		{"db_max_idle_conns (REDPROP_DB_MAX_IDLE_CONNS)", int64(c.DBMaxIdleConns)},
		{"max_body_bytes (REDPROP_MAX_BODY_BYTES)", c.MaxBodyBytes},
		{"max_photo_bytes (REDPROP_MAX_PHOTO_BYTES)", c.MaxPhotoBytes},
		{"max_photo_pixels (REDPROP_MAX_PHOTO_PIXELS)", c.MaxPhotoPixels},
		{"shutdown_timeout (REDPROP_SHUTDOWN_TIMEOUT)", int64(c.ShutdownTimeout)},
		{"scheduler_interval (REDPROP_SCHEDULER_INTERVAL)", int64(c.SchedulerInterval)},
		{"emergency_repeat (REDPROP_EMERGENCY_REPEAT)", int64(c.EmergencyRepeat)},
		{"emergency_escalate_after (REDPROP_EMERGENCY_ESCALATE_AFTER)", int64(c.EmergencyEscalateAfter)},
		{"rating_reminder (REDPROP_RATING_REMINDER)", int64(c.RatingReminder)},
		{"message_worker_interval (REDPROP_MESSAGE_WORKER_INTERVAL)", int64(c.MessageWorkerInterval)},
		{"message_send_lanes (REDPROP_MESSAGE_SEND_LANES)", int64(c.MessageSendLanes)},
		{"push_lease (REDPROP_PUSH_LEASE)", int64(c.PushLease)},
		{"push_reconcile_after (REDPROP_PUSH_RECONCILE_AFTER)", int64(c.PushReconcileAfter)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("%s: must be positive", p.key)
		}
	}
	if c.RectificationDays < 1 || c.RectificationDays > 60 {
		return errors.New("rectification_days (REDPROP_RECTIFICATION_DAYS): must be between 1 and 60 working days")
	}
	if c.AppealWindowDays < 1 || c.AppealWindowDays > 60 {
		return errors.New("appeal_window_days (REDPROP_APPEAL_WINDOW_DAYS): must be 1 to 60 working days")
	}
	if c.AppealDecisionDays < 1 || c.AppealDecisionDays > 60 {
		return errors.New("appeal_decision_days (REDPROP_APPEAL_DECISION_DAYS): must be 1 to 60 working days")
	}
	if c.FirmContractGrace < 0 {
		return errors.New("firm_contract_grace (REDPROP_FIRM_CONTRACT_GRACE): must not be negative")
	}
	if c.GCPercent < 0 || c.GCPercent > 0 && c.GCPercent < 25 || c.GCPercent > 2000 {
		return errors.New("gc_percent (REDPROP_GC_PERCENT): must be 25 to 2000 (0: Go's default)")
	}
	if c.MemoryLimitMB < 0 || c.MemoryLimitMB > 0 && c.MemoryLimitMB < 64 {
		return errors.New("memory_limit_mb (REDPROP_MEMORY_LIMIT_MB): must be at least 64 (0: no limit)")
	}
	if c.MaxInflight < 0 {
		return errors.New("max_inflight (REDPROP_MAX_INFLIGHT): must not be negative (0: no bound)")
	}
	if c.MaxInflightReads < 0 {
		return errors.New("max_inflight_reads (REDPROP_MAX_INFLIGHT_READS): must not be negative (0: no bound)")
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > time.Minute || c.RefreshGrace >= c.AccessTokenTTL {
		return errors.New("refresh_grace (REDPROP_REFRESH_GRACE): must be between 0 and 1m, and shorter than access_token_ttl")
	}
	if c.WeChatOAEnabled && !c.Sandbox() && (c.WeChatOAAppID == "" || c.WeChatOAAppSecret == "") {
		return errors.New("wechat_oa_app_id (REDPROP_WECHAT_OA_APP_ID): the service-account channel needs its AppID and secret")
	}
	if err := c.validateSMS(); err != nil {
		return err
	}
	if err := c.validateDashboard(); err != nil {
		return err
	}
	if c.WeChatOAEncodingAESKey != "" && len(c.WeChatOAEncodingAESKey) != 43 {
		return errors.New("wechat_oa_encoding_aes_key (REDPROP_WECHAT_OA_ENCODING_AES_KEY): must be 43 characters")
	}
	for _, p := range KindList(c.TrustedProxies) {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return fmt.Errorf("trusted_proxies (REDPROP_TRUSTED_PROXIES): %q is neither an IP nor a CIDR", p)
			}
		}
	}
	for _, l := range []struct{ key, v string }{
		{"templates_long_term (REDPROP_TEMPLATES_LONG_TERM)", c.TemplatesLongTerm},
		{"templates_resend_unknown (REDPROP_TEMPLATES_RESEND_UNKNOWN)", c.TemplatesResendUnknown},
	} {
		for _, k := range KindList(l.v) {
			if strings.HasPrefix(l.key, "templates_resend_unknown") && (k == "emergency" || k == "none") {
				continue
			}
			if !slices.Contains(templateKinds, k) {
				return fmt.Errorf("%s: %q is not one of %s", l.key, k, strings.Join(templateKinds, ", "))
			}
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level (REDPROP_LOG_LEVEL): %q must be debug, info, warn or error", c.LogLevel)
	}
	if err := c.validateConsole(); err != nil {
		return err
	}
	if c.Production() {
		switch {
		case c.Sandbox():
			return errors.New("wechat_app_id (REDPROP_WECHAT_APP_ID): production refuses the WeChat sandbox; set the AppID and secret")
		case c.MySQLDSN == "":
			return errors.New("mysql_dsn (REDPROP_MYSQL_DSN): production refuses the embedded SQLite database")
		case c.RedisAddr == "":
			return errors.New("redis_addr (REDPROP_REDIS_ADDR): production refuses the in-process Redis")
		case len(c.JWTSecret) < 32:
			return errors.New("jwt_secret (REDPROP_JWT_SECRET): production needs a secret of at least 32 characters")
		case c.MetricsToken == "":
			return errors.New("metrics_token (REDPROP_METRICS_TOKEN): production does not serve /metrics to anyone; set a token for the scraper")
		}
	}
	return nil
}

func (c Config) validateConsole() error {
	if c.ConsoleTicketTTL < 30*time.Second || c.ConsoleTicketTTL > 10*time.Minute {
		return errors.New("console_ticket_ttl (REDPROP_CONSOLE_TICKET_TTL): must be between 30s and 10m")
	}
	if c.ConsoleSessionTTL < time.Minute || c.ConsoleSessionTTL > 7*24*time.Hour {
		return errors.New("console_session_ttl (REDPROP_CONSOLE_SESSION_TTL): must be between 1m and 168h")
	}
	// WeChat's page: no leading slash, no query (the ticket travels as the scene).
	if p := c.ConsoleWxaPage; p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?# ") || len(p) > 128 {
		return fmt.Errorf("console_wxa_page (REDPROP_CONSOLE_WXA_PAGE): %q must be a mini-program page path such as pages/console/login", p)
	}
	return nil
}

func (c Config) validateSMS() error {
	if c.EmergencyReserve < 0 {
		return errors.New("emergency_reserve (REDPROP_EMERGENCY_RESERVE): must not be negative")
	}
	if _, err := SMSParamMap(c.SMSParams); err != nil {
		return fmt.Errorf("sms_params (REDPROP_SMS_PARAMS): %w", err)
	}
	if !c.SMSEnabled {
		return nil
	}
	if c.SMSTemplateID == "" {
		return errors.New("sms_template_id (REDPROP_SMS_TEMPLATE_ID): the SMS channel needs its template id")
	}
	if !c.Sandbox() && (c.SMSSecretID == "" || c.SMSSecretKey == "" || c.SMSSDKAppID == "" || c.SMSSignName == "") {
		return errors.New("sms_secret_id (REDPROP_SMS_SECRET_ID): the SMS channel needs sms_secret_id, sms_secret_key, sms_sdk_app_id and sms_sign_name")
	}
	return nil
}

// SMSParamMap parses "1=place,2=number" (placeholder=field).
func SMSParamMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%q is not placeholder=field", part)
		}
		out[k] = v
	}
	return out, nil
}

func (c Config) validateDashboard() error {
	for _, p := range []struct {
		key string
		v   int64
	}{
		{"dashboard_refresh (REDPROP_DASHBOARD_REFRESH)", int64(c.DashboardRefresh)},
		{"export_sync_rows (REDPROP_EXPORT_SYNC_ROWS)", int64(c.ExportSyncRows)},
		{"export_max_rows (REDPROP_EXPORT_MAX_ROWS)", int64(c.ExportMaxRows)},
		{"export_workers (REDPROP_EXPORT_WORKERS)", int64(c.ExportWorkers)},
		{"export_ttl (REDPROP_EXPORT_TTL)", int64(c.ExportTTL)},
	} {
		if p.v <= 0 {
			return fmt.Errorf("%s: must be positive", p.key)
		}
	}
	if c.DashboardLag <= c.DBTxTimeout {
		return errors.New("dashboard_lag (REDPROP_DASHBOARD_LAG): must be longer than db_tx_timeout, or rows of a slow transaction would be missed")
	}
	if c.ExportSyncRows > c.ExportMaxRows {
		return errors.New("export_sync_rows (REDPROP_EXPORT_SYNC_ROWS): must not exceed export_max_rows")
	}
	return nil
}
