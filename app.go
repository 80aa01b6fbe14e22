package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/api"
	"redprop/config"
	"redprop/model"
	"redprop/service"
	"redprop/service/action"
	"redprop/service/auth"
	"redprop/service/calendar"
	"redprop/service/calendar/remind"
	"redprop/service/dashboard"
	"redprop/service/demo"
	"redprop/service/disclosure"
	"redprop/service/export"
	"redprop/service/idem"
	"redprop/service/inspection"
	"redprop/service/meeting"
	"redprop/service/message"
	"redprop/service/notice"
	"redprop/service/order"
	"redprop/service/org"
	"redprop/service/photo"
	"redprop/service/ranking"
	"redprop/service/receipt"
	"redprop/service/score"
	"redprop/service/vote"
	"redprop/service/wechat"
	"redprop/service/wish"
)

func loadConfig(path string, getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(path, getenv)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	// The template mappings are checked here, before anything is opened,
	// against the values and keyword types the messages capability knows.
	if _, err := messageConfig(cfg); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// app is everything serve wires together, built in one place: config →
// stores → WeChat → services → router.
type app struct {
	cfg       config.Config
	log       *slog.Logger
	db        *gorm.DB
	rdb       redis.UniversalClient
	stopRedis func()
	clock     service.Clock
	embedded  bool // SQLite: the demo city loads itself into an empty database
	// demoLoaded: this start loaded the demo city (its console queue is seeded).
	demoLoaded bool
	// names caches the display names of order views; the tree's, the
	// categories' and the users' edits forget them.
	names *model.NameCache

	auth       *auth.Service
	org        *org.Service
	calendar   *calendar.Service
	photo      *photo.Service
	message    *message.Service
	recheck    *message.Recheck
	reminder   *remind.Reminder
	order      *order.Service
	meeting    *meeting.Service
	action     *action.Service
	vote       *vote.Service
	wish       *wish.Service
	inspection *inspection.Service
	receipt    *receipt.Service
	notice     *notice.Service
	disclosure *disclosure.Service
	dash       *dashboard.Service
	export     *export.Service
	score      *score.Service
	ranking    *ranking.Service

	unlockInstance func() // releases the outbox worker's instance name
}

// openStores connects the database (migrating it) and Redis.
func openStores(ctx context.Context, cfg config.Config, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, clock: service.SystemClock{}, embedded: cfg.MySQLDSN == ""}
	db, err := model.OpenWith(cfg.MySQLDSN, sqlitePath(cfg.DataDir), nil,
		model.Deadlines{Query: cfg.DBQueryTimeout, Tx: cfg.DBTxTimeout, MaxOpen: cfg.DBMaxOpenConns, MaxIdle: cfg.DBMaxIdleConns})
	if err != nil {
		return nil, err
	}
	a.db = db
	if _, err := migrate(ctx, db); err != nil {
		a.close()
		return nil, err
	}
	rdb, stop, err := model.OpenRedis(ctx, cfg.RedisAddr, cfg.RedisPassword, cfg.RedisDB)
	if errors.Is(err, model.ErrRedisUnreachable) {
		// A restart during a Redis outage must come up: it serves as the
		// running instances do (see README, "Redis is down").
		log.WarnContext(ctx, "starting without redis", "err", err)
		err = nil
	}
	if err != nil {
		a.close()
		return nil, err
	}
	a.rdb, a.stopRedis = rdb, stop
	return a, nil
}

// migrate brings the schema and its default data up to date and returns
// the schema version it reached.
func migrate(ctx context.Context, db *gorm.DB) (int, error) {
	version, err := model.Migrate(ctx, db)
	if err != nil {
		return 0, err
	}
	if err := order.SeedCategories(ctx, db); err != nil {
		return 0, fmt.Errorf("order categories: %w", err)
	}
	return version, nil
}

// weChat is every WeChat call the services make.
type weChat interface {
	auth.WeChat
	message.WeChat
	api.WxaCoder
}

func (a *app) wire(ctx context.Context) (http.Handler, error) {
	var wx weChat = wechat.NewSandbox()
	// The accounts' own template lists, checked at start (not in the sandbox).
	var mpList, oaList message.TemplateLister
	if !a.cfg.Sandbox() {
		c, err := wechat.New(wechat.Options{
			AppID: a.cfg.WeChatAppID, AppSecret: a.cfg.WeChatAppSecret, Token: a.cfg.WeChatToken,
			EncodingAESKey: a.cfg.WeChatEncodingAESKey, BaseURL: a.cfg.WeChatBaseURL, Timeout: a.cfg.WeChatTimeout,
			MiniprogramState: a.cfg.WeChatMiniprogramState, RedisPrefix: a.cfg.RedisPrefix,
		}, a.rdb)
		if err != nil {
			return nil, err
		}
		wx = c
		mpList = c
	}
	secret := a.cfg.JWTSecret
	if secret == "" {
		a.log.Warn("jwt_secret is not set: using a random one, tokens end with this process")
		secret = devSecret()
	}
	a.names = model.NewNameCache(a.db, a.rdb, model.NameCacheOptions{Prefix: a.cfg.RedisPrefix, Log: a.log})
	a.auth = auth.New(a.db, a.rdb, wx, a.clock, auth.Config{
		JWTSecret: []byte(secret), AccessTTL: a.cfg.AccessTokenTTL, RefreshTTL: a.cfg.RefreshTokenTTL,
		PerIPPerMin: a.cfg.LoginPerIPPerMinute, PerCodePerMin: a.cfg.LoginPerCodePerMinute,
		RedisPrefix: a.cfg.RedisPrefix, Sandbox: a.cfg.Sandbox(), RefreshGrace: a.cfg.RefreshGrace, Log: a.log,
		ConsoleTicketTTL: a.cfg.ConsoleTicketTTL, ConsoleSessionTTL: a.cfg.ConsoleSessionTTL, Names: a.names,
	})
	a.org = org.New(a.db, a.clock, a.names)
	a.calendar = calendar.New(a.db, a.clock)
	photoStore := photo.NewLocalStorage(filepath.Join(a.cfg.DataDir, "photos"))
	a.photo = photo.New(a.db, photoStore, a.clock, a.cfg.MaxPhotoBytes, a.cfg.MaxPhotoPixels)
	mc, err := messageConfig(a.cfg)
	if err != nil {
		return nil, err
	}
	mc.Log = a.log
	mc.Instance, a.unlockInstance = workerInstance(a.cfg.DataDir, a.log)
	if a.cfg.WeChatOAEnabled && !a.cfg.Sandbox() {
		oa, err := wechat.NewOfficialAccount(wechat.OAOptions{AppID: a.cfg.WeChatOAAppID, AppSecret: a.cfg.WeChatOAAppSecret,
			BaseURL: a.cfg.WeChatBaseURL, Timeout: a.cfg.WeChatTimeout, RedisPrefix: a.cfg.RedisPrefix}, a.rdb)
		if err != nil {
			return nil, err
		}
		mc.OfficialAccount = oa
		oaList = oa
	}
	if a.cfg.SMSEnabled && !a.cfg.Sandbox() {
		sms, err := message.NewTencentSMS(message.TencentSMSOptions{SecretID: a.cfg.SMSSecretID, SecretKey: a.cfg.SMSSecretKey,
			SDKAppID: a.cfg.SMSSDKAppID, SignName: a.cfg.SMSSignName, Region: a.cfg.SMSRegion, Endpoint: a.cfg.SMSEndpoint,
			Timeout: a.cfg.WeChatTimeout})
		if err != nil {
			return nil, err
		}
		mc.SMS = sms
	}
	msgs, err := message.New(a.db, a.clock, wx, mc)
	if err != nil {
		return nil, err
	}
	if err := msgs.CheckTemplates(ctx, mpList, oaList); err != nil {
		return nil, templateConfigError(err)
	}
	a.message = msgs
	a.order = order.New(a.db, a.clock, a.calendar, a.photo, a.message, order.Options{
		EmergencyRepeat: a.cfg.EmergencyRepeat, EmergencyEscalateAfter: a.cfg.EmergencyEscalateAfter,
		RatingReminder: a.cfg.RatingReminder, Log: a.log,
		FirmContractGrace: a.cfg.FirmContractGrace, RectifyDays: a.cfg.RectificationDays, Names: a.names, Seats: a.auth,
	})
	reminders, err := meeting.ParseReminders(a.cfg.MeetingReminders)
	if err != nil {
		return nil, fmt.Errorf("meeting_reminders (REDPROP_MEETING_REMINDERS): %w", err)
	}
	a.meeting, err = meeting.New(a.db, a.rdb, a.clock, a.message, meeting.Options{Reminders: reminders, RedisPrefix: a.cfg.RedisPrefix})
	if err != nil {
		return nil, err
	}
	a.vote = vote.New(a.db, a.clock, a.message, vote.Options{Log: a.log})
	a.wish = wish.New(a.db, a.clock, a.message, photoStore)
	a.receipt = receipt.New(a.db, a.clock, a.message)
	a.notice = notice.New(a.db, a.clock, a.message, a.receipt, photoStore, a.log)
	a.disclosure = disclosure.New(a.db, a.clock, photoStore, a.receipt)
	// Built after the capabilities whose texts it re-checks.
	a.recheck = message.NewRecheck(a.message, map[string]message.LateVerdict{
		"order": a.order.ApplyLateVerdict, "meeting": a.meeting.ApplyLateVerdict, "wish": a.wish.ApplyLateVerdict,
	})
	a.action = action.New(a.db, a.clock, a.message, a.photo, action.Options{Log: a.log})
	a.reminder = remind.New(a.db, a.calendar, a.message, a.clock, a.log)
	a.inspection = inspection.New(a.db, a.clock, a.order, a.action, a.photo)
	a.dash = dashboard.New(a.db, a.clock, dashboard.Options{Lag: a.cfg.DashboardLag, Log: a.log})
	a.export = export.New(a.db, a.clock, a.order, a.dash, a.vote, a.meeting, export.Options{
		SyncRows: int64(a.cfg.ExportSyncRows), MaxRows: int64(a.cfg.ExportMaxRows), Workers: a.cfg.ExportWorkers,
		TTL: a.cfg.ExportTTL, Instance: mc.Instance, Log: a.log})
	consoleOpts, err := a.consoleOptions(ctx, wx)
	if err != nil {
		return nil, err
	}
	consoleOpts.CSRFKey = api.ConsoleCSRFKey([]byte(secret))
	if a.demoLoaded && consoleOpts.DemoActs != nil {
		// The dispatcher of the walk-through starts the day with a queue.
		for range 3 {
			if _, err := consoleOpts.DemoActs.Report(ctx); err != nil {
				return nil, fmt.Errorf("demo reports: %w", err)
			}
		}
	}
	a.score = score.New(a.db, a.clock, score.Options{Log: a.log})
	// 红黑榜 and stars read the score cards and tell residents through
	// receipts.
	a.ranking = ranking.New(a.db, a.clock, ranking.ScoreCards{Cards: a.score},
		a.message, a.calendar, a.vote, ranking.Options{AppealDays: a.cfg.AppealWindowDays, DecideDays: a.cfg.AppealDecisionDays,
			Notices: ranking.ReceiptNotices{Receipts: a.receipt}, Photos: photoStore, Log: a.log})
	return api.NewRouter(api.Deps{
		Log:              a.log,
		MaxBodyBytes:     a.cfg.MaxBodyBytes,
		MaxInflight:      a.cfg.MaxInflight,
		MaxInflightReads: a.cfg.MaxInflightReads,
		Ready:            a.ready,
		Auth:             a.auth,
		Org:              a.org,
		Idem:             idem.New(a.rdb, a.cfg.RedisPrefix),
		MetricsToken:     a.cfg.MetricsToken,
		TrustedProxies:   config.KindList(a.cfg.TrustedProxies),
		Calendar:         a.calendar,
		Photo:            a.photo,
		Message:          a.message,
		Order:            a.order,
		Meeting:          a.meeting,
		Action:           a.action,
		Vote:             a.vote,
		Wish:             a.wish,
		Inspection:       a.inspection,
		Notice:           a.notice,
		Disclosure:       a.disclosure,
		Dashboard:        a.dash,
		Export:           a.export,
		Console:          consoleOpts,
		Score:            a.score,
		Ranking:          a.ranking,
		Pprof:            a.cfg.Pprof,
	}), nil
}

// messageConfig turns the configuration into the messages capability's:
// the template ids and field mappings per kind (the built-in mapping where
// none is configured), and the push callback (whose AES key needs the
// AppID). A mapping that cannot work is an error naming its key.
func messageConfig(cfg config.Config) (message.Config, error) {
	mc := message.DefaultConfig()
	mc.Sandbox = cfg.Sandbox()
	mc.MiniprogramState = cfg.WeChatMiniprogramState
	mc.SendLanes = cfg.MessageSendLanes
	mc.CheckTimeout = cfg.WeChatCheckTimeout
	mc.CheckBreakerFailures, mc.CheckBreakerOpen = cfg.WeChatCheckBreakerFailures, cfg.WeChatCheckBreakerOpen
	mc.Lease, mc.ReconcileAfter = cfg.PushLease, cfg.PushReconcileAfter
	// kind → its template id and its mapping.
	mp := map[string][2]string{
		message.KindNewReport:  {cfg.TemplateNewReport, cfg.TemplateNewReportFields},
		message.KindProgress:   {cfg.TemplateProgress, cfg.TemplateProgressFields},
		message.KindRating:     {cfg.TemplateRating, cfg.TemplateRatingFields},
		message.KindMeeting:    {cfg.TemplateMeeting, cfg.TemplateMeetingFields},
		message.KindNotice:     {cfg.TemplateNotice, cfg.TemplateNoticeFields},
		message.KindEvaluation: {cfg.TemplateEvaluation, cfg.TemplateEvaluationFields},
	}
	longTerm, resend := config.KindList(cfg.TemplatesLongTerm), config.KindList(cfg.TemplatesResendUnknown)
	mc.Templates = message.DefaultTemplates()
	for kind, t := range mc.Templates {
		t.ID = mp[kind][0]
		fields, err := parseFields(false, kind, mp[kind][1])
		if err != nil {
			return mc, err
		}
		if fields != nil {
			t.Fields = fields
		}
		t.LongTerm = slices.Contains(longTerm, kind)
		t.ResendUnknown = slices.Contains(resend, kind)
		mc.Templates[kind] = t
	}
	mc.EmergencyKeepUnknown = !slices.Contains(resend, "emergency")
	mc.CallbackToken = cfg.WeChatToken
	mc.SentEvents = cfg.PushSentEvents && cfg.WeChatToken != ""
	if !cfg.Sandbox() {
		mc.AppID, mc.CallbackAESKey = cfg.WeChatAppID, cfg.WeChatEncodingAESKey
	}
	mc.OAEnabled = cfg.WeChatOAEnabled
	mc.OAAppID, mc.OAToken, mc.OAAESKey = cfg.WeChatOAAppID, cfg.WeChatOAToken, cfg.WeChatOAEncodingAESKey
	oa := map[string][2]string{
		message.KindNewReport:  {cfg.OATemplateNewReport, cfg.OATemplateNewReportFields},
		message.KindProgress:   {cfg.OATemplateProgress, cfg.OATemplateProgressFields},
		message.KindRating:     {cfg.OATemplateRating, cfg.OATemplateRatingFields},
		message.KindMeeting:    {cfg.OATemplateMeeting, cfg.OATemplateMeetingFields},
		message.KindNotice:     {cfg.OATemplateNotice, cfg.OATemplateNoticeFields},
		message.KindEvaluation: {cfg.OATemplateEvaluation, cfg.OATemplateEvaluationFields},
	}
	mc.SMSEnabled = cfg.SMSEnabled
	mc.SMSTemplate.Code = cfg.SMSTemplateID
	mc.SMSTemplate.Params, _ = config.SMSParamMap(cfg.SMSParams) // checked by Validate
	mc.EmergencyReserve = cfg.EmergencyReserve
	mc.OATemplates = message.DefaultOATemplates()
	for kind, t := range mc.OATemplates {
		t.ID = oa[kind][0]
		fields, err := parseFields(true, kind, oa[kind][1])
		if err != nil {
			return mc, err
		}
		if fields != nil {
			t.Fields = fields
		}
		mc.OATemplates[kind] = t
	}
	return mc, templateConfigError(mc.ValidateTemplates())
}

// parseFields reads one kind's mapping key; nil when it is empty (the
// built-in mapping stays).
func parseFields(oa bool, kind, spec string) (map[string]string, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	fields, err := message.ParseFields(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: kind %s: %w", templateKey(oa, kind, true), kind, err)
	}
	return fields, nil
}

// templateConfigError names the configuration key a template's fault
// lies in: the mapping's when a keyword is at fault, else the id's.
func templateConfigError(err error) error {
	var te *message.TemplateError
	if !errors.As(err, &te) {
		return err
	}
	return fmt.Errorf("%s: %w", templateKey(te.OA, te.Kind, te.Keyword != ""), err)
}

func templateKey(oa bool, kind string, fields bool) string {
	key := "template_" + kind
	if oa {
		key = "oa_" + key
	}
	if fields {
		key += "_fields"
	}
	return fmt.Sprintf("%s (REDPROP_%s)", key, strings.ToUpper(key))
}

func (a *app) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	sqlDB, err := a.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	// Redis down is a degraded mode, not unreadiness: sessions, reports
	// and staff actions need the database only. Failing here would take
	// every instance out of the load balancer for the length of a Redis
	// outage.
	// Its ping gets a budget of its own: a frozen Redis must not make the
	// readiness answer slower than a load balancer's probe waits.
	rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer rcancel()
	if err := a.rdb.Ping(rctx).Err(); err != nil {
		a.log.WarnContext(ctx, "ready without redis: logins limited per instance, Idempotency-Key creates answer 503", "err", err)
	}
	return nil
}

func (a *app) close() {
	if a.unlockInstance != nil {
		a.unlockInstance()
	}
	if a.stopRedis != nil {
		a.stopRedis()
	}
	if a.db != nil {
		if sqlDB, err := a.db.DB(); err == nil {
			sqlDB.Close()
		}
	}
}

// exportPoll is how often an instance looks for queued export jobs
// (a job started on this instance is picked up at once).
const exportPoll = 2 * time.Second

// calendarReminderEvery is how often admins' missing calendars are checked.
const calendarReminderEvery = time.Hour

// workers are the background loops; each stops when its context ends.
func (a *app) workers() []func(ctx context.Context) {
	return []func(ctx context.Context){
		func(ctx context.Context) { a.order.Run(ctx, a.cfg.SchedulerInterval) },
		func(ctx context.Context) { a.message.Run(ctx, a.cfg.MessageWorkerInterval) },
		func(ctx context.Context) { a.recheck.Run(ctx, a.cfg.MessageWorkerInterval) },
		func(ctx context.Context) { a.vote.Run(ctx, a.cfg.SchedulerInterval) },
		func(ctx context.Context) { a.action.Run(ctx, a.cfg.SchedulerInterval) },
		func(ctx context.Context) { a.notice.Run(ctx, a.cfg.SchedulerInterval) },
		func(ctx context.Context) { a.score.Run(ctx, a.cfg.SchedulerInterval) },
		// A missing calendar is a matter of days: hourly is enough, and its
		// warning line is not repeated every scheduler pass.
		func(ctx context.Context) { a.reminder.Run(ctx, calendarReminderEvery) },
		func(ctx context.Context) { a.auth.Run(ctx, time.Hour) },
		// Five reads of the changes of grants and sessions per lease: a
		// slow read or two does not cost the cache its trust.
		func(ctx context.Context) { a.auth.WatchChanges(ctx, model.AuthChangeLease/5) },
		func(ctx context.Context) { a.dash.Run(ctx, a.cfg.DashboardRefresh) },
		func(ctx context.Context) { a.export.Run(ctx, exportPoll) },
		// Other instances' renames reach this one's name cache.
		func(ctx context.Context) { a.names.Run(ctx) },
	}
}

// serve runs the API until ctx ends or SIGTERM. Everything it writes is a
// log line: its stdout is JSON only.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	tuneGC(cfg, os.LookupEnv, log)
	a, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if a.embedded {
		if err := a.loadDemoIfEmpty(ctx); err != nil {
			return err
		}
	}
	handler, err := a.wire(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// A slow upload on a weak signal may take a while, but not for ever:
	// a stuck body must not hold a drain at SIGTERM.
	// net/http's own complaints (a bad TLS handshake, a handler writing
	// twice) go to the one logger too, not to the log package's stderr.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	workCtx, cancelWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, w := range a.workers() {
		wg.Add(1)
		go func() { defer wg.Done(); w(workCtx) }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "console", "/console/", "sandbox", cfg.Sandbox(), "embedded_db", a.embedded, "embedded_redis", cfg.RedisAddr == "")

	select {
	case err := <-errc:
		cancelWork()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Requests drain and workers stop side by side, within one budget.
	cancelWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("requests still running at the shutdown timeout; closing them", "err", err)
		srv.Close()
	}
	select {
	case <-done:
	case <-shutCtx.Done():
		log.Warn("background workers did not stop in time")
	}
	log.Info("stopped")
	return nil
}

// loadDemoIfEmpty fills a fresh embedded database with the demo city and
// logs how to log in as each demo role, one line per person.
func (a *app) loadDemoIfEmpty(ctx context.Context) error {
	empty, err := model.IsEmpty(ctx, a.db)
	if err != nil || !empty {
		return err
	}
	city, err := demo.Load(ctx, a.db, a.clock.Now())
	if err != nil {
		return err
	}
	a.demoLoaded = true
	if _, err := demo.LoadEvaluation(ctx, a.db, city, a.clock.Now()); err != nil {
		return err
	}
	a.log.InfoContext(ctx, `demo city loaded: log in with POST /api/v1/auth/login {"code": "..."}`)
	for _, p := range city.People {
		a.log.InfoContext(ctx, "demo login", "code", demo.Code(p.Name), "role", p.Role, "about", p.About)
	}
	return nil
}

func printDemo(out io.Writer, city *demo.City) {
	fmt.Fprintln(out, "Demo city loaded. Sandbox login codes (POST /api/v1/auth/login {\"code\": \"...\"}):")
	for _, p := range city.People {
		fmt.Fprintf(out, "  %-22s %-14s %s\n", demo.Code(p.Name), p.Role, p.About)
	}
}

func migrateCmd(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	db, err := model.Open(cfg.MySQLDSN, sqlitePath(cfg.DataDir), nil)
	if err != nil {
		return err
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	}()
	v, err := migrate(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "schema at version %d\n", v)
	return nil
}

func demoCmd(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	a, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	city, err := demo.Load(ctx, a.db, a.clock.Now())
	if err != nil {
		return err
	}
	if _, err := demo.LoadEvaluation(ctx, a.db, city, a.clock.Now()); err != nil {
		return err
	}
	printDemo(out, city)
	return nil
}

func adminCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("admin needs a subcommand: invite, grants or revoke")
	}
	fs := flag.NewFlagSet("admin "+args[0], flag.ContinueOnError)
	fs.SetOutput(out)
	name := fs.String("name", "", "invite: a note naming the person")
	ttl := fs.Duration("ttl", 72*time.Hour, "invite: how long the code stays valid")
	userID := fs.Int64("user", 0, "grants: only this user's")
	grantID := fs.Int64("grant", 0, "revoke: the grant id")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	db, err := model.Open(cfg.MySQLDSN, sqlitePath(cfg.DataDir), nil)
	if err != nil {
		return err
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	}()
	if _, err := migrate(ctx, db); err != nil {
		return err
	}
	svc := org.New(db, service.SystemClock{}, nil)
	switch args[0] {
	case "invite":
		inv, err := svc.CreateFirstAdmin(ctx, *name, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "platform admin invitation code: %s (valid until %s)\n", inv.Code, inv.ExpiresAt.Format(time.RFC3339))
		fmt.Fprintln(out, "log in with WeChat, then POST /api/v1/invitations/redeem {\"code\": \"...\"}")
		return nil
	case "grants":
		p := service.Page{Limit: 100}
		for {
			page, err := svc.AdminListGrants(ctx, org.GrantFilter{UserID: *userID}, p)
			if err != nil {
				return err
			}
			for _, g := range page.Items {
				fmt.Fprintf(out, "%d\tuser %d\t%s\t%s:%d\n", g.ID, g.UserID, g.Role, g.ScopeKind, g.ScopeID)
			}
			if !page.More {
				return nil
			}
			p.After = page.Items[len(page.Items)-1].ID
		}
	case "revoke":
		if *grantID <= 0 {
			return fmt.Errorf("admin revoke needs -grant ID")
		}
		g, err := svc.AdminRevokeGrant(ctx, *grantID)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked grant %d (%s of user %d)\n", g.ID, g.Role, g.UserID)
		return nil
	}
	return fmt.Errorf("unknown admin subcommand %q", args[0])
}
