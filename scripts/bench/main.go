// Command bench measures redprop as it runs in production: it builds the
// real binary, starts it against a fake WeChat server on loopback (login,
// subscribe messages and text checks answer like WeChat's) and either the
// embedded engines or MariaDB + Redis, drives orders through the whole
// loop with concurrent clients, waits for the outbox to deliver every
// push, and prints latency percentiles per endpoint, throughput, delivery
// time and the server's memory.
//
//	go run ./scripts/bench                       # SQLite + in-process Redis
//	go run ./scripts/bench -mysql 'root@tcp(127.0.0.1:3306)/redprop_bench' -redis 127.0.0.1:6379
//
// With -mysql the named database is dropped and created afresh.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
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
	"strings"
	"sync"
	"syscall"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

func main() {
	orders := flag.Int("orders", 200, "orders to drive through the loop")
	clients := flag.Int("clients", 8, "concurrent clients")
	reads := flag.Int("reads", 400, "queue and detail reads after the loop")
	mysqlDSN := flag.String("mysql", "", "MariaDB/MySQL DSN of a database to recreate (empty: embedded SQLite)")
	redisAddr := flag.String("redis", "", "Redis address (empty: in-process)")
	flag.Parse()
	if err := run(*orders, *clients, *reads, *mysqlDSN, *redisAddr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// roles are the demo people the bench acts as.
var roles = []string{"admin", "resident", "grid", "community", "manager", "worker"}

func run(orders, clients, reads int, mysqlDSN, redisAddr string) error {
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
			fake.Accept(wechat.SandboxOpenID(r), tpl, 10*orders)
		}
	}

	addr, err := freeAddr()
	if err != nil {
		return err
	}
	env := append(os.Environ(),
		"REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+filepath.Join(dir, "data"),
		"REDPROP_WECHAT_APP_ID="+wechattest.AppID, "REDPROP_WECHAT_APP_SECRET="+wechattest.AppSecret,
		"REDPROP_WECHAT_BASE_URL="+fake.URL(), "REDPROP_JWT_SECRET=bench-secret-bench-secret-bench-secret",
		"REDPROP_ACCESS_TOKEN_TTL=2h", "REDPROP_LOGIN_PER_IP_PER_MINUTE=100000",
		"REDPROP_MESSAGE_WORKER_INTERVAL=200ms", "REDPROP_LOG_LEVEL=warn",
		"REDPROP_TEMPLATE_NEW_REPORT=tpl_new_report", "REDPROP_TEMPLATE_PROGRESS=tpl_progress",
		"REDPROP_TEMPLATE_RATING=tpl_rating", "REDPROP_REDIS_ADDR="+redisAddr,
		// Long-term templates need no consent per push: every push is sent.
		"REDPROP_TEMPLATES_LONG_TERM=new_report,progress,rating")
	engine := "SQLite + in-process Redis"
	if mysqlDSN != "" {
		if err := recreate(mysqlDSN); err != nil {
			return err
		}
		env = append(env, "REDPROP_MYSQL_DSN="+mysqlDSN)
		demo := exec.Command(bin, "demo")
		demo.Env, demo.Stdout, demo.Stderr = env, io.Discard, os.Stderr
		if err := demo.Run(); err != nil {
			return fmt.Errorf("demo city: %w", err)
		}
		engine = "MariaDB/MySQL"
		if redisAddr != "" {
			engine += " + Redis"
		} else {
			engine += " + in-process Redis"
		}
	}
	srv := exec.Command(bin, "serve")
	srv.Env, srv.Stdout, srv.Stderr = env, io.Discard, os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Process.Kill()
	c := &client{base: "http://" + addr + "/api/v1", http: &http.Client{Timeout: 30 * time.Second}, lat: map[string][]time.Duration{}}
	if err := waitReady("http://"+addr+"/readyz", 20*time.Second); err != nil {
		return err
	}

	tok := map[string]string{}
	for i, r := range roles {
		code := fmt.Sprintf("bench-code-%d", i)
		fake.AddCode(code, wechat.SandboxOpenID(r), "")
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if err := c.call("login", "", "POST", "/auth/login", map[string]string{"code": code}, &out); err != nil {
			return fmt.Errorf("login %s: %w", r, err)
		}
		tok[r] = out.AccessToken
	}
	var me struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if err := c.call("me", tok["worker"], "GET", "/me", nil, &me); err != nil {
		return err
	}
	var cats struct {
		Items []struct {
			ID   int64  `json:"id"`
			Code string `json:"code"`
		} `json:"items"`
	}
	if err := c.call("categories", tok["resident"], "GET", "/order-categories", nil, &cats); err != nil {
		return err
	}
	var category int64
	for _, ct := range cats.Items {
		if ct.Code == "safety_hazard" {
			category = ct.ID
		}
	}

	// The loop: each client takes orders from a channel and drives each one
	// from the report to the rating, as six people would.
	start := time.Now()
	jobs := make(chan int)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	var idsMu sync.Mutex
	var ids []int64
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				id, err := c.loop(tok, category, me.User.ID, n)
				if err != nil {
					errs <- err
					return
				}
				idsMu.Lock()
				ids = append(ids, id)
				idsMu.Unlock()
			}
		}()
	}
	var failed error
feed:
	for n := range orders {
		select {
		case jobs <- n:
		case failed = <-errs:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if failed == nil && len(errs) > 0 {
		failed = <-errs
	}
	if failed != nil {
		return failed
	}
	loopTime := time.Since(start)

	// Reads: the queues people open most and one order's detail page.
	queues := []struct{ who, path string }{
		{"resident", "/orders?queue=mine"}, {"grid", "/orders?queue=to_verify"},
		{"community", "/orders?queue=to_dispatch"}, {"manager", "/orders?queue=firm"},
		{"admin", "/orders?queue=all"},
	}
	readStart := time.Now()
	var rwg sync.WaitGroup
	per := reads / clients
	for w := range clients {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for i := range per {
				q := queues[(w+i)%len(queues)]
				c.call("GET /orders (queue)", tok[q.who], "GET", q.path, nil, nil)
				id := ids[(w*per+i)%len(ids)]
				c.call("GET /orders/{id}", tok["resident"], "GET", fmt.Sprintf("/orders/%d", id), nil, nil)
			}
		}()
	}
	rwg.Wait()
	readTime := time.Since(readStart)

	// Delivery: every push reaches the fake WeChat.
	deliverStart := time.Now()
	var m struct {
		Sent    int64            `json:"sent"`
		Skipped map[string]int64 `json:"skipped"`
		Failed  map[string]int64 `json:"failed"`
		Waiting int64            `json:"waiting"`
		Lag     float64          `json:"lag_seconds"`
	}
	for {
		if err := c.call("metrics", tok["admin"], "GET", "/admin/metrics/messages", nil, &m); err != nil {
			return err
		}
		if m.Waiting == 0 || time.Since(deliverStart) > 2*time.Minute {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	deliverTail := time.Since(deliverStart)
	rss, hwm := memory(srv.Process.Pid)

	stopStart := time.Now()
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
	stopTime := time.Since(stopStart)

	fmt.Printf("redprop bench — %s, %d orders through the loop by %d clients, %d reads\n\n", engine, orders, clients, reads)
	fmt.Printf("loop:     %d orders in %s = %.1f orders/s (%d requests, %.0f req/s)\n", orders, loopTime.Round(time.Millisecond),
		float64(orders)/loopTime.Seconds(), c.count(loopSteps...), float64(c.count(loopSteps...))/loopTime.Seconds())
	fmt.Printf("reads:    %d in %s = %.0f req/s\n", 2*per*clients, readTime.Round(time.Millisecond), float64(2*per*clients)/readTime.Seconds())
	fmt.Printf("pushes:   %d sent to WeChat (fake counted %d), skipped %v, failed %v; outbox drained %s after the last request\n",
		m.Sent, fake.Calls("/cgi-bin/message/subscribe/send"), m.Skipped, m.Failed, deliverTail.Round(time.Millisecond))
	fmt.Printf("memory:   server RSS %s, peak %s\n", rss, hwm)
	fmt.Printf("shutdown: SIGTERM to exit in %s\n\n", stopTime.Round(time.Millisecond))
	c.report(os.Stdout)
	return nil
}

var loopSteps = []string{"POST /orders", "verify", "dispatch", "accept", "assign", "start", "complete", "confirm", "rate"}

// loop takes one order from report to rating.
func (c *client) loop(tok map[string]string, category, worker int64, n int) (int64, error) {
	var o struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	body := map[string]any{"category_id": category, "compound_id": 1, "place": fmt.Sprintf("%d号楼消防通道", n%9+1),
		"description": fmt.Sprintf("第%d次压测：消防通道堆放杂物，请尽快清理", n)}
	if err := c.call("POST /orders", tok["resident"], "POST", "/orders", body, &o); err != nil {
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
		if err := c.call(st.action, tok[st.who], "POST", fmt.Sprintf("/orders/%d/%s", o.ID, st.action), st.body, nil); err != nil {
			return 0, fmt.Errorf("order %d %s: %w", o.ID, st.action, err)
		}
	}
	return o.ID, nil
}

type client struct {
	base string
	http *http.Client
	mu   sync.Mutex
	lat  map[string][]time.Duration
}

// call sends one request, records its latency under name and decodes a
// 2xx answer into out.
func (c *client) call(name, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	t0 := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	c.mu.Lock()
	c.lat[name] = append(c.lat[name], d)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *client) count(names ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, name := range names {
		n += len(c.lat[name])
	}
	return n
}

// report prints p50, p95, p99 and max per endpoint.
func (c *client) report(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.lat))
	for name := range c.lat {
		names = append(names, name)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "| endpoint | n | p50 | p95 | p99 | max |\n|---|---:|---:|---:|---:|---:|\n")
	for _, name := range names {
		ds := slices.Clone(c.lat[name])
		slices.Sort(ds)
		q := func(p float64) string {
			i := int(p * float64(len(ds)-1))
			return ds[i].Round(10 * time.Microsecond).String()
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s |\n", name, len(ds), q(0.5), q(0.95), q(0.99), q(1))
	}
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

// memory reads the server's resident and peak resident memory.
func memory(pid int) (rss, peak string) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?", "?"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = f[1] + " kB"
		case "VmHWM:":
			peak = f[1] + " kB"
		}
	}
	return rss, peak
}
