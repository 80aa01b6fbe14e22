// Command bench measures redprop as it runs in production against a naive
// gin + gorm server on the same database, driven by the same load
// generator at the same concurrency, and reports every redprop figure as
// a share of the baseline's matching one.
//
// It builds the real binary and starts it (env=production when MariaDB
// and Redis are given) against a fake WeChat server on loopback, seeds a
// history (-size), then runs phases of -c concurrent clients for -d each:
// the whole order loop (mixed), then alternately a baseline endpoint and
// its redprop counterpart. It prints a Markdown report and, with -out,
// writes <out>.md and <out>.json.
//
//	go run ./scripts/bench -d 5s                 # SQLite + in-process Redis, quick
//	go run ./scripts/bench -mysql 'root@tcp(127.0.0.1:3306)/redprop_bench' -redis 127.0.0.1:6379 \
//	    -size small -c 64 -d 30s -out scripts/bench/results/small
//	go run ./scripts/bench -mysql '…' -size city -score -out scripts/bench/results/score-city
//	go run ./scripts/bench -mysql '…' -redis … -phases none -breaches 0   # the fan-out alone
//
// With -mysql the named database is dropped and created afresh.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"gorm.io/gorm/logger"

	"redprop/model"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// options are the command's flags.
type options struct {
	conns     int
	dur       time.Duration
	size      string
	mysqlDSN  string
	redisAddr string
	out       string
	note      string
	score     bool
	instances int
	fanout    int
	breaches  int
	profile   string
	only      string
	warmup    time.Duration
	pool      string
	phases    string
}

func main() {
	var o options
	flag.IntVar(&o.conns, "c", 64, "concurrent clients in every phase")
	flag.DurationVar(&o.dur, "d", 30*time.Second, "duration of every phase")
	flag.StringVar(&o.size, "size", "none", "history seeded before the load: none, small (1 street, 5k households, 20k orders) or city (20 streets, 200k households, 1M orders)")
	flag.StringVar(&o.mysqlDSN, "mysql", "", "MariaDB/MySQL DSN of a database to recreate (empty: embedded SQLite)")
	flag.StringVar(&o.redisAddr, "redis", "", "Redis address (empty: in-process)")
	flag.StringVar(&o.out, "out", "", "write the report to <out>.md and <out>.json")
	flag.StringVar(&o.note, "note", "", "a line about the run written into the report (e.g. what else ran on the machine)")
	flag.BoolVar(&o.score, "score", false, "time the scoring job (a quarter of firms, a month of grid workers) on the seeded history instead of the load phases")
	flag.IntVar(&o.instances, "instances", 1, "instances of the binary behind the bench (more than one needs -mysql): requests spread over all, every one runs its workers")
	flag.IntVar(&o.fanout, "fanout", 5000, "households of the compound a meeting is called for after the load (0: no fan-out)")
	flag.IntVar(&o.breaches, "breaches", 200, "orders seeded to breach their deadline during the run, each to be escalated once")
	flag.StringVar(&o.profile, "profile", "", "a directory for a CPU profile of the first instance per phase (turns pprof on)")
	flag.StringVar(&o.only, "only", "", "run only these load phases: dashboard (the dashboard reads, at -c clients and at 8)")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "the mixed load, unmeasured, before the measured phases (0: none): the first phase after seeding does not pay for a cold buffer pool")
	flag.StringVar(&o.pool, "buffer-pool", "", "innodb_buffer_pool_size for the run (e.g. 2G; MariaDB resizes it online), restored at the end (empty: as the server has it)")
	flag.StringVar(&o.phases, "phases", "all", "load phases to run: all, or none (the fan-out and the breaches alone)")
	flag.Parse()
	if o.only != "" && o.only != "dashboard" {
		fmt.Fprintln(os.Stderr, "bench: -only takes dashboard")
		os.Exit(2)
	}
	if _, ok := sizes[o.size]; !ok {
		fmt.Fprintln(os.Stderr, "bench: -size must be none, small or city")
		os.Exit(2)
	}
	if o.phases != "all" && o.phases != "none" {
		fmt.Fprintln(os.Stderr, "bench: -phases must be all or none")
		os.Exit(2)
	}
	if o.instances < 1 || (o.instances > 1 && o.mysqlDSN == "") {
		fmt.Fprintln(os.Stderr, "bench: -instances must be 1, or more with -mysql (instances share the database)")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// roles are the demo people the bench acts as.
var roles = []string{"admin", "resident", "grid", "community", "manager", "worker", "street", "city"}

const metricsToken = "bench-metrics-token"

func run(o options) error {
	dir, err := os.MkdirTemp("", "redprop-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "redprop")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}

	fake := wechattest.Start()
	defer fake.Close()
	for _, r := range roles {
		for _, tpl := range []string{"tpl_new_report", "tpl_progress", "tpl_rating"} {
			fake.Accept(wechat.SandboxOpenID(r), tpl, 1<<30)
		}
	}

	env := append(os.Environ(),
		"REDPROP_DATA_DIR="+filepath.Join(dir, "data"),
		"REDPROP_WECHAT_APP_ID="+wechattest.AppID, "REDPROP_WECHAT_APP_SECRET="+wechattest.AppSecret,
		"REDPROP_WECHAT_BASE_URL="+fake.URL(), "REDPROP_JWT_SECRET=bench-secret-bench-secret-bench-secret",
		"REDPROP_METRICS_TOKEN="+metricsToken,
		"REDPROP_ACCESS_TOKEN_TTL=2h", "REDPROP_LOGIN_PER_IP_PER_MINUTE=100000",
		"REDPROP_MESSAGE_WORKER_INTERVAL=200ms", "REDPROP_LOG_LEVEL=warn",
		"REDPROP_TEMPLATE_NEW_REPORT=tpl_new_report", "REDPROP_TEMPLATE_PROGRESS=tpl_progress",
		"REDPROP_TEMPLATE_RATING=tpl_rating", "REDPROP_TEMPLATE_MEETING="+tplMeeting, "REDPROP_REDIS_ADDR="+o.redisAddr,
		// Long-term templates need no consent per push: every push is sent.
		"REDPROP_TEMPLATES_LONG_TERM=new_report,progress,rating,meeting",
		// The breached orders are found within seconds of their deadline.
		"REDPROP_SCHEDULER_INTERVAL=2s")
	if o.instances > 1 && os.Getenv("REDPROP_DB_MAX_OPEN_CONNS") == "" {
		// The instances share the pool the baseline has alone (and the
		// database's max_connections).
		n := strconv.Itoa(max(5, 50/o.instances))
		env = append(env, "REDPROP_DB_MAX_OPEN_CONNS="+n, "REDPROP_DB_MAX_IDLE_CONNS="+n)
	}
	if o.profile != "" {
		env = append(env, "REDPROP_PPROF=true")
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}
	rep := &Report{Started: time.Now().UTC(), Conns: o.conns, PhaseSeconds: o.dur.Seconds(), Size: o.size, Note: o.note,
		Mode: "development", Engine: "SQLite + in-process Redis", Instances: o.instances}
	if o.mysqlDSN != "" {
		if err := recreate(o.mysqlDSN); err != nil {
			return err
		}
		env = append(env, "REDPROP_MYSQL_DSN="+o.mysqlDSN)
		rep.Engine = "MariaDB/MySQL + in-process Redis"
		if o.redisAddr != "" {
			// Every production refusal is met: real engines, a WeChat AppID
			// (the fake), a long JWT secret, a metrics token.
			env = append(env, "REDPROP_ENV=production")
			rep.Mode, rep.Engine = "production", "MariaDB/MySQL + Redis"
		}
	}
	// demo migrates the schema and writes the demo city the bench logs
	// in as.
	demo := exec.Command(bin, "demo")
	demo.Env, demo.Stdout, demo.Stderr = env, io.Discard, os.Stderr
	if err := demo.Run(); err != nil {
		return fmt.Errorf("demo city: %w", err)
	}
	bdb, err := openBaseline(o.mysqlDSN, filepath.Join(dir, "baseline.db"))
	if err != nil {
		return fmt.Errorf("baseline database: %w", err)
	}
	watch := openWatch(o.mysqlDSN)
	defer watch.close()
	if o.pool != "" {
		size, err := parseSize(o.pool)
		if err != nil {
			return err
		}
		if watch == nil {
			return errors.New("-buffer-pool needs -mysql on MariaDB")
		}
		if err := watch.setPool(size); err != nil {
			return err
		}
	}
	rep.Machine = describe(bdb, o.redisAddr)
	// Batches of a thousand orders may outlast a request's query deadline
	// on a loaded machine.
	sdb, err := model.OpenWith(o.mysqlDSN, filepath.Join(dir, "data", "redprop.db"), logger.Discard,
		model.Deadlines{Query: 10 * time.Minute, Tx: 20 * time.Minute})
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer func() {
		if d, e := sdb.DB(); e == nil {
			d.Close()
		}
	}()
	if err := seed(sdb, o.size, rep); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if o.score {
		// The scoring job alone, on the seeded history: no server, no load.
		return benchScore(sdb, o, rep)
	}
	// The baseline's list reads a table of the same history size.
	if err := seedBaseline(bdb, rep.Seed.Orders); err != nil {
		return fmt.Errorf("seed the baseline: %w", err)
	}
	var fan fanPlace
	if o.fanout > 0 {
		if fan, err = seedFanout(sdb, o.fanout); err != nil {
			return fmt.Errorf("seed the fan-out: %w", err)
		}
		for _, id := range fan.OpenIDs {
			fake.Accept(id, tplMeeting, 10)
		}
	}
	var breachFirst, breachLast int64
	if o.breaches > 0 {
		// Due during the mixed phase, once every instance runs.
		if breachFirst, breachLast, err = seedBreaches(sdb, o.breaches, time.Now().Add(15*time.Second)); err != nil {
			return fmt.Errorf("seed the breaches: %w", err)
		}
	}

	if err := buildRollups(o.mysqlDSN, filepath.Join(dir, "data", "redprop.db"), rep); err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	if err := buildScores(o.mysqlDSN, filepath.Join(dir, "data", "redprop.db"), rep); err != nil {
		return fmt.Errorf("scores: %w", err)
	}

	var srvs []*server
	defer func() {
		for _, s := range srvs {
			s.cmd.Process.Kill()
		}
	}()
	var apis []string
	for i := range o.instances {
		s, err := startServer(bin, env, dir, i)
		if err != nil {
			return err
		}
		srvs = append(srvs, s)
		apis = append(apis, "http://"+s.addr+"/api/v1")
	}
	for _, s := range srvs {
		if err := waitReady("http://"+s.addr+"/readyz", 60*time.Second); err != nil {
			return err
		}
	}
	baseURL, stopBase, err := startBaseline(bdb)
	if err != nil {
		return err
	}
	defer stopBase()
	api := apis[0]

	c := newClient(o.conns)
	c.apis = apis
	tok := map[string]string{}
	for i, r := range roles {
		code := fmt.Sprintf("bench-code-%d", i)
		fake.AddCode(code, wechat.SandboxOpenID(r), "")
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if err := c.call("login", "", "POST", api+"/auth/login", map[string]string{"code": code}, &out); err != nil {
			return fmt.Errorf("login %s: %w", r, err)
		}
		tok[r] = out.AccessToken
	}
	var me struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if err := c.call("me", tok["worker"], "GET", api+"/me", nil, &me); err != nil {
		return err
	}
	var cats struct {
		Items []struct {
			ID   int64  `json:"id"`
			Code string `json:"code"`
		} `json:"items"`
	}
	if err := c.call("categories", tok["resident"], "GET", api+"/order-categories", nil, &cats); err != nil {
		return err
	}
	var category int64
	for _, ct := range cats.Items {
		if ct.Code == "safety_hazard" {
			category = ct.ID
		}
	}

	var samps []*sampler
	var pids []int
	for _, s := range srvs {
		samps = append(samps, startSampler(s.cmd.Process.Pid, "http://"+s.addr+"/metrics"))
		pids = append(pids, s.cmd.Process.Pid)
	}
	cpu := newCPUWatch(pids, o.mysqlDSN != "")
	var idsMu sync.Mutex
	var redIDs, baseIDs []int64
	pick := func(ids []int64, w, i int) int64 {
		idsMu.Lock()
		defer idsMu.Unlock()
		if len(ids) == 0 {
			return 1
		}
		return ids[(w*7919+i*104729)%len(ids)]
	}
	runAt := func(name, server string, conns int, work func(w, i int)) {
		if o.phases == "none" {
			return
		}
		fmt.Fprintf(os.Stderr, "phase %-28s %s × %d clients … ", name, o.dur, conns)
		var prof sync.WaitGroup
		if o.profile != "" && server == "redprop" {
			prof.Add(1)
			go func() {
				defer prof.Done()
				path := filepath.Join(o.profile, strings.NewReplacer(" ", "-", ":", "", "/", "-").Replace(name)+".pprof")
				secs := max(1, int(o.dur.Seconds())-1)
				if err := c.fetch(fmt.Sprintf("%s/admin/debug/pprof/profile?seconds=%d", api, secs), tok["admin"], path); err != nil {
					fmt.Fprintln(os.Stderr, "profile:", err)
				}
			}()
		}
		if server == "redprop" {
			watch.begin(name)
		}
		cpu.begin()
		figs := c.phase(name, server, conns, o.dur, work)
		rep.CPU = append(rep.CPU, cpu.end(name, server, figs))
		if server == "redprop" {
			if f := watch.end(); f != nil {
				rep.DB = append(rep.DB, *f)
			}
		}
		prof.Wait()
		for _, f := range figs {
			fmt.Fprintf(os.Stderr, "%s %.0f req/s p99 %.1f ms errors %d; ", f.Endpoint, f.RPS, f.P99, f.Errors)
		}
		fmt.Fprintln(os.Stderr)
		rep.Figures = append(rep.Figures, figs...)
	}
	// run runs a phase of the order loop at -c clients (none with -only).
	run := func(name, server string, work func(w, i int)) {
		if o.only == "" {
			runAt(name, server, o.conns, work)
		}
	}
	seq := 0
	var seqMu sync.Mutex
	next := func() int {
		seqMu.Lock()
		defer seqMu.Unlock()
		seq++
		return seq
	}

	// The mixed workload: every client takes orders from the report to the
	// rating, as six people would, so every queue holds orders in every
	// state before the read phases. Each client walks one order at a time
	// through its nine requests, so every step's req/s is the loops' rate.
	mixed := func(w, i int) {
		if id, err := c.loop(tok, category, me.User.ID, next()); err == nil {
			idsMu.Lock()
			redIDs = append(redIDs, id)
			idsMu.Unlock()
		}
	}
	if o.warmup > 0 && o.phases != "none" {
		// Unmeasured: the pages the load touches are read into the buffer
		// pool, the pools and caches of the server fill.
		fmt.Fprintf(os.Stderr, "warm-up (the mixed load, not measured) %s × %d clients … ", o.warmup, o.conns)
		c.phase("warm-up", "redprop", o.conns, o.warmup, mixed)
		rep.WarmupSeconds = o.warmup.Seconds()
		fmt.Fprintln(os.Stderr, "done")
	}
	run("mixed: the whole order loop", "redprop", mixed)
	run("insert (2 rows, 1 tx)", "baseline", func(w, i int) {
		n := next()
		var out struct {
			ID int64 `json:"id"`
		}
		if c.call("POST /orders (insert)", "", "POST", baseURL+"/orders", map[string]any{"author_id": w%baselineAuthors + 1,
			"place": fmt.Sprintf("%d号楼消防通道", n%9+1), "description": fmt.Sprintf("第%d次压测：消防通道堆放杂物，请尽快清理", n)}, &out) == nil {
			idsMu.Lock()
			baseIDs = append(baseIDs, out.ID)
			idsMu.Unlock()
		}
	})
	run("submit", "redprop", func(w, i int) {
		var out struct {
			ID int64 `json:"id"`
		}
		if c.submit(c.api(), tok["resident"], category, next(), &out) == nil {
			idsMu.Lock()
			redIDs = append(redIDs, out.ID)
			idsMu.Unlock()
		}
	})
	run("indexed list of 20", "baseline", func(w, i int) {
		c.call("GET /orders (list 20)", "", "GET", fmt.Sprintf("%s/orders?author=%d", baseURL, w%baselineAuthors+1), nil, nil)
	})
	for _, q := range []struct{ who, queue string }{{"resident", "mine"}, {"grid", "to_verify"}, {"community", "to_dispatch"}} {
		run("queue "+q.queue, "redprop", func(w, i int) {
			c.call("GET /orders?queue="+q.queue, tok[q.who], "GET", c.api()+"/orders?queue="+q.queue, nil, nil)
		})
	}
	run("get by key", "baseline", func(w, i int) {
		c.call("GET /orders/{id} (get)", "", "GET", fmt.Sprintf("%s/orders/%d", baseURL, pick(baseIDs, w, i)), nil, nil)
	})
	run("order detail", "redprop", func(w, i int) {
		c.call("GET /orders/{id}", tok["resident"], "GET", fmt.Sprintf("%s/orders/%d", c.api(), pick(redIDs, w, i)), nil, nil)
	})

	if err := dashboardPhases(c, api, tok, o.conns, runAt); err != nil {
		return err
	}

	// Delivery: every push of the run reaches the fake WeChat.
	deliverStart := time.Now()
	var m struct {
		Sent    int64 `json:"sent"`
		Waiting int64 `json:"waiting"`
	}
	for {
		if err := c.call("metrics", tok["admin"], "GET", api+"/admin/metrics/messages", nil, &m); err != nil {
			return err
		}
		if m.Waiting == 0 || time.Since(deliverStart) > 2*time.Minute {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	rep.Outbox = Outbox{Sent: m.Sent, Waiting: m.Waiting, FakeReceived: fake.Calls("/cgi-bin/message/subscribe/send"),
		DrainSeconds: time.Since(deliverStart).Seconds()}

	if o.fanout > 0 {
		f, err := c.fanout(api, tok["community"], fan, fake)
		if err != nil {
			return fmt.Errorf("fan-out: %w", err)
		}
		rep.Fanout = &f
	}
	if o.breaches > 0 {
		b := countBreaches(sdb, breachFirst, breachLast)
		rep.Breaches = &b
	}
	p := countPushes(sdb, fake)
	rep.Pushes = &p

	for i, s := range samps {
		f := s.stop()
		if i == 0 {
			rep.Server = f
		}
		rep.Server.PeakRSSKB = max(rep.Server.PeakRSSKB, f.PeakRSSKB)
		rep.Server.PeakSampledRSSKB = max(rep.Server.PeakSampledRSSKB, f.PeakSampledRSSKB)
		rep.Server.PeakGoroutines = max(rep.Server.PeakGoroutines, f.PeakGoroutines)
	}
	stopStart := time.Now()
	for _, s := range srvs {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, s := range srvs {
		s.cmd.Wait()
		s.log.Close()
		e, w, d, sample := logLevels(s.log.Name())
		rep.Server.LogErrors += e
		rep.Server.LogWarnings += w
		rep.Server.Deadlocks += d
		rep.Server.LogSample = append(rep.Server.LogSample, sample...)
	}
	rep.Server.ShutdownSeconds = time.Since(stopStart).Seconds()
	rep.Finished = time.Now().UTC()
	rep.ratios()

	md := rep.markdown()
	fmt.Print(md)
	if o.out != "" {
		if err := rep.write(o.out, md); err != nil {
			return err
		}
	}
	return nil
}

// submit reports one order as the resident.
func (c *client) submit(api, token string, category int64, n int, out any) error {
	body := map[string]any{"category_id": category, "compound_id": 1, "place": fmt.Sprintf("%d号楼消防通道", n%9+1),
		"description": fmt.Sprintf("第%d次压测：消防通道堆放杂物，请尽快清理", n)}
	return c.call("POST /orders", token, "POST", api+"/orders", body, out)
}

// loop takes one order from report to rating.
func (c *client) loop(tok map[string]string, category, worker int64, n int) (int64, error) {
	var o struct {
		ID int64 `json:"id"`
	}
	if err := c.submit(c.api(), tok["resident"], category, n, &o); err != nil {
		return 0, err
	}
	steps := []struct {
		who, action string
		body        any
	}{
		{"grid", "verify", map[string]any{"note": "已核实"}},
		{"community", "dispatch", map[string]any{"handler_kind": "firm"}},
		{"manager", "accept", nil},
		{"manager", "assign", map[string]any{"worker_id": worker}},
		{"worker", "start", nil},
		{"worker", "complete", map[string]any{"note": "已清理"}},
		{"grid", "confirm", nil},
		{"resident", "rate", map[string]any{"overall": 5, "timeliness": 5, "attitude": 5, "comment": "处理及时"}},
	}
	for _, st := range steps {
		if err := c.call("POST /orders/{id}/"+st.action, tok[st.who], "POST", fmt.Sprintf("%s/orders/%d/%s", c.api(), o.ID, st.action), st.body, nil); err != nil {
			return 0, err
		}
	}
	return o.ID, nil
}

// sampler reads the server's memory and goroutines once a second.
type sampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	srv  ServerFigures
	pid  int
}

func startSampler(pid int, metricsURL string) *sampler {
	s := &sampler{done: make(chan struct{}), pid: pid}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			g := goroutines(metricsURL)
			rss, _ := memoryKB(pid)
			s.mu.Lock()
			s.srv.PeakGoroutines = max(s.srv.PeakGoroutines, g)
			s.srv.PeakSampledRSSKB = max(s.srv.PeakSampledRSSKB, rss)
			s.mu.Unlock()
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() ServerFigures {
	close(s.done)
	s.wg.Wait()
	_, s.srv.PeakRSSKB = memoryKB(s.pid)
	s.srv.EndGoroutines = goroutines("")
	return s.srv
}

// goroutines reads go_goroutines from the server's /metrics.
func goroutines(url string) int {
	if url == "" {
		return 0
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+metricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f)
		}
	}
	return 0
}

// memoryKB reads the server's resident and peak resident (VmHWM) memory.
func memoryKB(pid int) (rss, peak int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			peak = v
		}
	}
	return rss, peak
}

// logLevels counts the server's error and warning lines (JSON, as
// production logs) and the deadlock victims taken up again (info lines,
// seen only with -log-level info), and keeps the first few errors.
func logLevels(path string) (errs, warns, deadlocks int, sample []string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, nil
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.Contains(line, "1213") || strings.Contains(line, "deadlock") {
			deadlocks++
		}
		switch {
		case strings.Contains(line, `"level":"ERROR"`):
			errs++
			if len(sample) < 5 {
				sample = append(sample, line[:min(len(line), 400)])
			}
		case strings.Contains(line, `"level":"WARN"`):
			warns++
		}
	}
	return errs, warns, deadlocks, sample
}

// server is one instance of the binary.
type server struct {
	cmd  *exec.Cmd
	addr string
	log  *os.File
}

// startServer starts instance i on a free port with a data directory of
// its own (its outbox worker's instance name comes from it).
func startServer(bin string, env []string, dir string, i int) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if i > 0 {
		data = filepath.Join(dir, fmt.Sprintf("data%d", i))
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Stdout = append(slices.Clone(env), "REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+data), io.Discard
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("server%d.log", i)))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &server{cmd: cmd, addr: addr, log: logf}, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("the server did not become ready")
}

// recreate drops and creates the DSN's database.
func recreate(dsn string) error {
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("-mysql: %w", err)
	}
	name := cfg.DBName
	if name == "" || strings.ContainsAny(name, "`") {
		return fmt.Errorf("-mysql: name a database to recreate")
	}
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{"DROP DATABASE IF EXISTS `" + name + "`",
		"CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
