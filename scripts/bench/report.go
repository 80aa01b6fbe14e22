package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"
)

// Report is everything one run measured; it is written as JSON and
// Markdown.
type Report struct {
	Started      time.Time     `json:"started"`
	Finished     time.Time     `json:"finished"`
	Note         string        `json:"note,omitempty"`
	Machine      Machine       `json:"machine"`
	Mode         string        `json:"mode"` // the binary's REDPROP_ENV
	Engine       string        `json:"engine"`
	Conns        int           `json:"concurrency"`
	PhaseSeconds float64       `json:"phase_seconds"`
	Size         string        `json:"size"`
	Seed         SeedFigures   `json:"seed"`
	Figures      []Figure      `json:"figures"`
	Ratios       []Ratio       `json:"ratios"`
	Outbox       Outbox        `json:"outbox"`
	Server       ServerFigures `json:"server"`
	Rollup       RollupFigures `json:"rollup"`
	Instances    int           `json:"instances"`
	Fanout       *Fanout       `json:"fanout,omitempty"`
	Breaches     *Breaches     `json:"breaches,omitempty"`
	Pushes       *Pushes       `json:"pushes,omitempty"`
	// WarmupSeconds of the mixed load ran unmeasured before the phases.
	WarmupSeconds float64      `json:"warmup_seconds"`
	DB            []DBFigures  `json:"database,omitempty"`
	CPU           []CPUFigures `json:"cpu,omitempty"`
	// Scores are the scheduler's scoring of the last closed periods, run
	// before the load.
	Scores []ScoreTiming `json:"scores_before_load,omitempty"`
}

// RollupFigures say how long the dashboards' first refresh took to count
// the seeded timeline.
type RollupFigures struct {
	Events  int     `json:"events"`
	Rows    int     `json:"rows"`
	Seconds float64 `json:"seconds"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemoryMB int64  `json:"memory_mb"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Database string `json:"database"`
	Redis    string `json:"redis"`
	// BufferPoolMB is innodb_buffer_pool_size during the run (0: not MariaDB/MySQL).
	BufferPoolMB int64 `json:"innodb_buffer_pool_mb,omitempty"`
}

// SeedFigures is the history written before the load.
type SeedFigures struct {
	Households int64   `json:"households"`
	Orders     int64   `json:"orders"`
	Events     int64   `json:"events"`
	Seconds    float64 `json:"seconds"`
}

// Ratio is one redprop figure as a share of the baseline's matching one.
type Ratio struct {
	What        string  `json:"what"`
	Redprop     string  `json:"redprop_endpoint"`
	Baseline    string  `json:"baseline_endpoint"`
	RedpropRPS  float64 `json:"redprop_req_per_s"`
	BaselineRPS float64 `json:"baseline_req_per_s"`
	RedpropP99  float64 `json:"redprop_p99_ms"`
	BaselineP99 float64 `json:"baseline_p99_ms"`
	Ratio       float64 `json:"ratio"`
	Target      float64 `json:"target"`
}

// Outbox is how the pushes of the run were delivered.
type Outbox struct {
	Sent         int64   `json:"sent"`
	Waiting      int64   `json:"waiting"`
	FakeReceived int     `json:"fake_wechat_received"`
	DrainSeconds float64 `json:"drain_seconds_after_load"`
}

// ServerFigures is the binary's own use of the machine.
type ServerFigures struct {
	PeakRSSKB        int64    `json:"peak_rss_kb"` // VmHWM at the end of the run
	PeakSampledRSSKB int64    `json:"peak_sampled_rss_kb"`
	PeakGoroutines   int      `json:"peak_goroutines"`
	EndGoroutines    int      `json:"-"`
	ShutdownSeconds  float64  `json:"shutdown_seconds"`
	LogErrors        int      `json:"log_errors"`
	LogWarnings      int      `json:"log_warnings"`
	Deadlocks        int      `json:"log_deadlock_lines"`
	LogSample        []string `json:"log_error_sample,omitempty"`
}

// pairs match each redprop endpoint with the baseline's equivalent and
// the target share.
var pairs = []struct {
	what, red, base string
	target          float64
}{
	{"submit (one transaction) vs insert of 2 rows", "POST /orders", "POST /orders (insert)", 0.6},
	{"my orders (20) vs indexed list of 20", "GET /orders?queue=mine", "GET /orders (list 20)", 0.6},
	{"grid worker's queue vs indexed list", "GET /orders?queue=to_verify", "GET /orders (list 20)", 0.6},
	{"dispatcher's queue vs indexed list", "GET /orders?queue=to_dispatch", "GET /orders (list 20)", 0.6},
	{"order detail with timeline vs get by key", "GET /orders/{id}", "GET /orders/{id} (get)", 0.5},
}

func (r *Report) find(server, endpoint string, skipPhase string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Server == server && f.Endpoint == endpoint && f.Phase != skipPhase {
			return f, true
		}
	}
	return Figure{}, false
}

func (r *Report) ratios() {
	const mixed = "mixed: the whole order loop"
	for _, p := range pairs {
		red, ok1 := r.find("redprop", p.red, mixed)
		base, ok2 := r.find("baseline", p.base, "")
		if !ok1 || !ok2 || base.RPS == 0 {
			continue
		}
		r.Ratios = append(r.Ratios, Ratio{What: p.what, Redprop: p.red, Baseline: p.base, RedpropRPS: red.RPS, BaselineRPS: base.RPS,
			RedpropP99: red.P99, BaselineP99: base.P99, Ratio: red.RPS / base.RPS, Target: p.target})
	}
}

func (r *Report) markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# redprop benchmark — %s, size %s\n\n", r.Engine, r.Size)
	fmt.Fprintf(&b, "Run %s → %s UTC; %d concurrent clients, %s per phase; binary in %s mode, %d instance(s) (requests spread over all, each running its workers).\n\n",
		r.Started.Format("2006-01-02 15:04"), r.Finished.Format("15:04"), r.Conns, time.Duration(r.PhaseSeconds*float64(time.Second)), r.Mode, max(r.Instances, 1))
	db := m.Database
	if m.BufferPoolMB > 0 {
		db += fmt.Sprintf(" (innodb_buffer_pool_size %d MB)", m.BufferPoolMB)
	}
	fmt.Fprintf(&b, "Machine: %s, %d cores, %d MB memory, Linux %s, %s; database %s; Redis %s.\n\n", m.CPU, m.Cores, m.MemoryMB, m.Kernel, m.Go, db, m.Redis)
	if r.WarmupSeconds > 0 {
		fmt.Fprintf(&b, "Before the measured phases, %.0f s of the mixed load ran unmeasured (warm-up).\n\n", r.WarmupSeconds)
	}
	if r.Note != "" {
		fmt.Fprintf(&b, "%s\n\n", r.Note)
	}
	b.WriteString("The baseline is a naive gin + gorm server in the bench process on the same database engine (redprop's pool limits: " +
		"50 connections on MariaDB, 1 on SQLite; no interpolated parameters, no prepared-statement cache), driven by the same load generator " +
		"at the same concurrency in alternating phases; ratios are redprop's successful req/s over the baseline's.\n\n")
	if r.Seed.Orders > 0 {
		fmt.Fprintf(&b, "History seeded before the load: %d households, %d orders with %d timeline rows, in %.1f s.\n\n",
			r.Seed.Households, r.Seed.Orders, r.Seed.Events, r.Seed.Seconds)
	}
	if r.Rollup.Events > 0 {
		fmt.Fprintf(&b, "Dashboard rollups counted from the whole timeline before the load: %d timeline rows in %.1f s (%d row writes).\n\n",
			r.Rollup.Events, r.Rollup.Seconds, r.Rollup.Rows)
	}
	for _, sc := range r.Scores {
		fmt.Fprintf(&b, "Scored before the load, as the scheduler does once per period: %s %s, %d rows, in %.1f s.\n\n",
			sc.What, sc.Period, sc.Rows, sc.Seconds)
	}
	b.WriteString("## Ratios to the baseline\n\n| what | baseline req/s | redprop req/s | ratio | target | baseline p99 | redprop p99 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.Ratios {
		mark := "✗"
		if x.Ratio >= x.Target {
			mark = "✓"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %.0f | **%.2f** %s | ≥ %.2f | %.1f ms | %.1f ms |\n", x.What, x.BaselineRPS, x.RedpropRPS, x.Ratio, mark, x.Target, x.BaselineP99, x.RedpropP99)
	}
	b.WriteString("\n## Every phase\n\n| phase | server | endpoint | requests | errors | req/s | p50 | p95 | p99 | max |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range r.Figures {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %.1f | %.1f ms | %.1f ms | %.1f ms | %.1f ms |\n",
			f.Phase, f.Server, f.Endpoint, f.Requests, f.Errors, f.RPS, f.P50, f.P95, f.P99, f.Max)
	}
	var errs []string
	for _, f := range r.Figures {
		if f.FirstError != "" {
			errs = append(errs, fmt.Sprintf("- %s / %s: %s", f.Phase, f.Endpoint, f.FirstError))
		}
	}
	if len(errs) > 0 {
		b.WriteString("\nFirst error of each endpoint that had any:\n\n" + strings.Join(errs, "\n") + "\n")
	}
	b.WriteString(cpuMarkdown(r.CPU, r.Engine))
	b.WriteString(dbMarkdown(r.DB, r.Figures))
	s := r.Server
	fmt.Fprintf(&b, "\n## Server\n\n- peak RSS (VmHWM): %.1f MB (target ≤ 200 MB); highest sampled RSS %.1f MB\n- peak goroutines (go_goroutines, sampled each second): %d\n"+
		"- pushes: %d sent, %d waiting, the fake WeChat received %d; outbox drained %.1f s after the last phase\n- SIGTERM to exit: %.1f s\n- error lines in the server log: %d, warnings: %d\n",
		float64(s.PeakRSSKB)/1024, float64(s.PeakSampledRSSKB)/1024, s.PeakGoroutines, r.Outbox.Sent, r.Outbox.Waiting, r.Outbox.FakeReceived, r.Outbox.DrainSeconds, s.ShutdownSeconds, s.LogErrors, s.LogWarnings)
	for _, l := range s.LogSample {
		fmt.Fprintf(&b, "  - `%s`\n", strings.ReplaceAll(l, "`", "'"))
	}
	fmt.Fprintf(&b, "- log lines naming a deadlock (1213): %d\n", s.Deadlocks)
	if p := r.Pushes; p != nil {
		fmt.Fprintf(&b, "\n## Exactly once\n\n- pushes: %d outbox rows sent, the fake WeChat accepted %d: %d duplicates; %d rows left unknown or sending\n",
			p.OutboxSent, p.FakeAccepted, p.Duplicates, p.Unsettled)
	}
	if x := r.Breaches; x != nil {
		fmt.Fprintf(&b, "- escalations: %d orders seeded to breach during the run: %d escalated once, %d duplicates, %d missing\n",
			x.Orders, x.Escalated, x.Duplicates, x.Missing)
	}
	if f := r.Fanout; f != nil {
		mark := "✗"
		if f.Notices.Missing == 0 && f.Notices.Duplicates == 0 && f.DeliveredSeconds <= 10 {
			mark = "✓"
		}
		fmt.Fprintf(&b, "\n## Fan-out\n\nA meeting for every resident of a %d-household compound (target: all delivered ≤ 10 s, 0 duplicates, 0 missing):\n\n"+
			"- schedule request (participants, inbox and outbox rows in one transaction): %.0f ms\n"+
			"- notices: all delivered %.1f s after the schedule request %s; %d delivered, %d duplicates, %d missing\n"+
			"- 2-hour reminders: delivered %.1f s after falling due; %d delivered, %d duplicates, %d missing\n",
			f.Households, f.ScheduleMS, f.DeliveredSeconds, mark, f.Notices.Delivered, f.Notices.Duplicates, f.Notices.Missing,
			f.ReminderSeconds, f.Reminders.Delivered, f.Reminders.Duplicates, f.Reminders.Missing)
	}
	return b.String()
}

func (r *Report) write(out, md string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(out+".json", append(raw, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(out+".md", []byte(md), 0o644)
}

// describe reads the machine and the engines' versions.
func describe(db *gorm.DB, redisAddr string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Redis: "in-process (miniredis)"}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(raw), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		m.MemoryMB = kb / 1024
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	var v string
	if db.Dialector.Name() == "mysql" {
		db.Raw("SELECT VERSION()").Scan(&v)
		var pool int64
		db.Raw("SELECT @@innodb_buffer_pool_size").Scan(&pool)
		m.BufferPoolMB = pool >> 20
	} else {
		db.Raw("SELECT 'SQLite ' || sqlite_version()").Scan(&v)
	}
	m.Database = v
	if redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if info, err := rdb.Info(ctx, "server").Result(); err == nil {
			for _, line := range strings.Split(info, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
					m.Redis = v
				}
			}
		}
	}
	return m
}
