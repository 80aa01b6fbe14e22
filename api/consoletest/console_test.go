// Package consoletest drives the PC console in a real headless Chromium
// against the built binary, as `go run .` serves it: the sandbox, the
// embedded database and Redis, the demo city. It lives apart so that the
// rest of the tests run without a browser; under CI=true a missing
// Chromium is a failure, elsewhere a skip.
package consoletest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-sql-driver/mysql"
	"github.com/xuri/excelize/v2"
)

// chromium finds the browser: REDPROP_CHROMIUM, else Debian's chromium.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("REDPROP_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); the console's browser tests must run in CI")
	}
	t.Skip("chromium is not installed; set REDPROP_CHROMIUM or apt-get install -y chromium")
	return ""
}

// server builds the binary and starts it on a free port in a fresh data
// directory: the demo city loads and the sandbox is on.
type server struct {
	base string
	log  *bytes.Buffer
}

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func startServer(t *testing.T) *server {
	t.Helper()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(strings.TrimSpace(string(root)))
	bin := filepath.Join(t.TempDir(), "redprop")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"REDPROP_DATA_DIR=" + t.TempDir(), "REDPROP_ADDR=" + addr, "REDPROP_LOG_LEVEL=warn"}
	if dsn := os.Getenv("REDPROP_TEST_MYSQL_DSN"); dsn != "" {
		// The second engine: MariaDB and Redis, the demo city loaded by the
		// demo command into a fresh database, as an operator would.
		env = append(env, "REDPROP_MYSQL_DSN="+freshDatabase(t, dsn),
			"REDPROP_REDIS_ADDR="+os.Getenv("REDPROP_TEST_REDIS_ADDR"),
			fmt.Sprintf("REDPROP_REDIS_PREFIX=consoletest%d:", os.Getpid()))
		demo := exec.Command(bin, "demo")
		demo.Env = env
		if out, err := demo.CombinedOutput(); err != nil {
			t.Fatalf("demo: %v\n%s", err, out)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel()
		<-exited
		if t.Failed() {
			out.mu.Lock()
			t.Logf("server log:\n%s", out.String())
			out.mu.Unlock()
		}
	})
	s := &server{base: "http://" + addr}
	for i := 0; ; i++ {
		res, err := http.Get(s.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("the server exited before it was ready")
		default:
		}
		if i > 300 {
			t.Fatalf("the server did not get ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// freshDatabase empties the database <name>_consoletest of the test DSN
// and returns its DSN.
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("REDPROP_TEST_MYSQL_DSN: %v", err)
	}
	name := cfg.DBName
	if name == "" {
		name = "test"
	}
	name += "_consoletest"
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, stmt := range []string{"DROP DATABASE IF EXISTS `" + name + "`",
		"CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

// api calls the JSON API as the mini-program would.
func (s *server) api(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body == nil {
		rd = bytes.NewReader(nil)
	} else {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 400 {
		var e any
		_ = json.NewDecoder(res.Body).Decode(&e)
		t.Logf("%s %s: %d %v", method, path, res.StatusCode, e)
		return res.StatusCode
	}
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// communityOf is the community of the person's first grant.
func communityOf(t *testing.T, s *server, token string) int64 {
	t.Helper()
	var me struct {
		Grants []struct {
			ScopeKind string `json:"scope_kind"`
			ScopeID   int64  `json:"scope_id"`
		} `json:"grants"`
	}
	s.api(t, "GET", "/api/v1/me", token, nil, &me)
	for _, g := range me.Grants {
		if g.ScopeKind == "community" {
			return g.ScopeID
		}
	}
	t.Fatal("no community grant")
	return 0
}

// login is a sandbox login of the mini-program.
func (s *server) login(t *testing.T, name string) (string, int64) {
	t.Helper()
	var r struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	if st := s.api(t, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:" + name}, &r); st != http.StatusOK {
		t.Fatalf("login %s: %d", name, st)
	}
	return r.AccessToken, r.User.ID
}

// browser starts headless Chromium with an empty profile at 1366×768 and
// records every JavaScript error, console error and failed load of the
// pages.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 768),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var errs []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()
	// The capture must be live before any page is judged by it: an
	// uncaught error thrown on purpose has to arrive, and is then dropped.
	if err := chromedp.Do(ctx, into[any](nil, chromedp.Evaluate[any](`setTimeout(() => { throw new Error("redprop-probe") }, 0)`))); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		mu.Lock()
		seen := len(errs) > 0 && strings.Contains(strings.Join(errs, " "), "redprop-probe")
		if seen {
			errs = nil
		}
		mu.Unlock()
		if seen {
			break
		}
		if i > 100 {
			t.Fatal("a thrown error never reached the test: JavaScript errors would go unseen")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// shots is where the screenshots go: REDPROP_SCREENSHOTS, else a
// directory under the system's temp dir that outlives the test.
func shots(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("REDPROP_SCREENSHOTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "redprop-console-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func screenshot(t *testing.T, dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.CaptureScreenshot()(ctx, tg)
		if err != nil {
			return err
		}
		path := filepath.Join(dir, name+".png")
		t.Logf("screenshot %s", path)
		return os.WriteFile(path, buf, 0o644)
	})
}

// into runs an action that returns a value and keeps the value.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := a(ctx, tg)
		if err == nil && dst != nil {
			*dst = v
		}
		return err
	})
}

// until waits for a JavaScript condition.
func until(expr string) chromedp.Action[chromedp.Void] {
	return into[bool](nil, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second)))
}

func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// A dispatcher's day in the sandbox console: log in by the sandbox's
// scan, dispatch from the queue, act on an order, watch an emergency
// call arrive without a reload, look at the meetings, log out. No
// JavaScript error may happen on the way.
func TestDispatcherDay(t *testing.T) {
	chromium(t)
	s := startServer(t)
	ctx, jsErrors := browser(t)
	dir := shots(t)

	// Scan login, confirmed by the sandbox's button as the dispatcher.
	var ticket, me string
	run(t, ctx, "login page",
		chromedp.Navigate(s.base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#ticket-id")),
		chromedp.WaitVisible(chromedp.CSS("#wxacode")),
		into(&ticket, chromedp.Text(chromedp.CSS("#ticket-id"))),
		screenshot(t, dir, "1-login"),
	)
	if len(ticket) < 16 {
		t.Fatalf("ticket %q", ticket)
	}
	run(t, ctx, "confirm as the dispatcher",
		chromedp.SetValue(chromedp.CSS("#person"), "sandbox:community"),
		chromedp.Click(chromedp.CSS("#confirm-demo")),
		chromedp.WaitVisible(chromedp.CSS("#orders")),
		into(&me, chromedp.Text(chromedp.CSS("#me"))),
	)
	if me != "社区张书记" {
		t.Fatalf("logged in as %q", me)
	}
	token, _ := s.login(t, "community")

	// The sandbox's resident reports (the grid worker verifies): each
	// report appears in the queue without a reload. The embedded start
	// has seeded three already; a database loaded by the demo command
	// starts empty.
	var rows, want int
	run(t, ctx, "queue", into(&rows, chromedp.Evaluate[int](`window.__sameDocument = true; document.querySelectorAll("#orders tr[data-number]").length`)))
	for first := true; first || rows < 3; first = false {
		want = rows + 1
		run(t, ctx, "demo report",
			chromedp.Click(chromedp.CSS("#demo-report")),
			until(fmt.Sprintf(`document.querySelectorAll("#orders tr[data-number]").length === %d && window.__sameDocument === true`, want)),
			into(&rows, chromedp.Evaluate[int](`document.querySelectorAll("#orders tr[data-number]").length`)))
	}
	run(t, ctx, "queue shot", screenshot(t, dir, "2-queue"))

	// Dispatch the first one to the firm from the queue.
	var picked string
	var firstAttr chromedp.AttributeResult
	run(t, ctx, "bulk dispatch",
		into(&picked, chromedp.Evaluate[string](`document.querySelector("#orders tr[data-number]").dataset.number`)),
		into(&firstAttr, chromedp.AttributeValue(chromedp.CSS(`#orders tr[data-number] input[name=ids]`), "value")),
		chromedp.Click(chromedp.CSS(`#orders tr[data-number] input[name=ids]`)),
		chromedp.Click(chromedp.CSS("#bulk-dispatch")),
		chromedp.WaitVisible(chromedp.CSS("#results")),
	)
	firstID := firstAttr.Value
	var secondID string
	run(t, ctx, "second", into(&secondID, chromedp.Evaluate[string](`document.querySelectorAll("#orders tr[data-number] input[name=ids]")[1].value`)))
	var results string
	run(t, ctx, "results", into(&results, chromedp.Text(chromedp.CSS("#results"))), into(&rows, chromedp.Evaluate[int](`document.querySelectorAll("#orders tr[data-number]").length`)))
	if !strings.Contains(results, picked) || !strings.Contains(results, "已派出") || rows != want-1 {
		t.Fatalf("after dispatch: %q, %d rows left", results, rows)
	}
	var o struct {
		State       string `json:"state"`
		Level       string `json:"level"`
		HandlerKind string `json:"handler_kind"`
		Number      string `json:"number"`
	}
	s.api(t, "GET", "/api/v1/orders/"+firstID, token, nil, &o)
	if o.State != "dispatched" || o.HandlerKind != "firm" || o.Number != picked {
		t.Fatalf("the API says %+v", o)
	}

	// Filters: the state filter empties the queue of verified orders.
	run(t, ctx, "filter",
		chromedp.SetValue(chromedp.CSS("#f-state"), "dispatched"),
		into[any](nil, chromedp.Evaluate[any](`document.querySelector("#f-state").dispatchEvent(new Event("change", {bubbles: true}))`)),
		until(`document.querySelectorAll("#orders tr[data-number]").length === 0 || location.search.includes("state=dispatched")`),
	)

	// Order detail: urge the dispatched order, escalate it to the street.
	var flash, timeline string
	run(t, ctx, "order detail",
		chromedp.Navigate(s.base+"/console/orders/"+firstID),
		chromedp.WaitVisible(chromedp.CSS("#act-urge")),
		chromedp.SendKeys(chromedp.CSS(`#act-urge textarea[name=note]`), "请今天下班前处理"),
		chromedp.Click(chromedp.CSS(`#act-urge button`)),
		chromedp.WaitVisible(chromedp.CSS("#order-flash")),
		into(&flash, chromedp.Text(chromedp.CSS("#order-flash"))),
		into(&timeline, chromedp.Text(chromedp.CSS("#timeline"))),
	)
	if flash != "已督办" || !strings.Contains(timeline, "督办") || !strings.Contains(timeline, "请今天下班前处理") {
		t.Fatalf("after urge: flash %q timeline %q", flash, timeline)
	}
	run(t, ctx, "escalate",
		chromedp.SendKeys(chromedp.CSS(`#act-escalate textarea[name=reason]`), "涉及公共部位改造，需街道协调"),
		chromedp.Click(chromedp.CSS(`#act-escalate button`)),
		until(`document.querySelector("#order-flash") && document.querySelector("#order-flash").textContent === "已升级"`),
		screenshot(t, dir, "3-order"),
	)
	s.api(t, "GET", "/api/v1/orders/"+firstID, token, nil, &o)
	if o.Level != "street" {
		t.Fatalf("after escalate the API says level %q", o.Level)
	}

	// Emergency calls: one raised from a phone appears without a reload.
	var calls int
	run(t, ctx, "emergency page",
		chromedp.Navigate(s.base+"/console/emergency"),
		chromedp.WaitVisible(chromedp.CSS("#calls")),
		into(&calls, chromedp.Evaluate[int](`window.__sameDocument = true; document.querySelectorAll("#calls tr[data-call]").length`)),
	)
	if calls != 0 {
		t.Fatalf("%d calls before any was raised", calls)
	}
	gridToken, _ := s.login(t, "grid")
	residentToken, residentID := s.login(t, "resident")
	var meResp struct {
		Households []struct {
			HouseholdID int64 `json:"household_id"`
		} `json:"households"`
	}
	s.api(t, "GET", "/api/v1/me", residentToken, nil, &meResp)
	if len(meResp.Households) == 0 {
		t.Fatal("the demo resident has no household")
	}
	if st := s.api(t, "POST", "/api/v1/emergency/vulnerable", gridToken, map[string]any{"user_id": residentID,
		"household_id": meResp.Households[0].HouseholdID, "name": "杨阿姨", "kind": "elderly_alone"}, nil); st != http.StatusCreated {
		t.Fatalf("register vulnerable: %d", st)
	}
	if st := s.api(t, "POST", "/api/v1/emergency/calls", residentToken, map[string]any{"note": "头晕站不起来"}, nil); st != http.StatusCreated {
		t.Fatalf("raise call: %d", st)
	}
	var same bool
	var newCalls string
	run(t, ctx, "the call appears",
		until(`document.querySelectorAll("#calls tr[data-call]").length === 1 && document.querySelector("#new-calls").textContent !== "0"`),
		into(&same, chromedp.Evaluate[bool](`window.__sameDocument === true`)),
		into(&newCalls, chromedp.Text(chromedp.CSS("#new-calls"))),
		screenshot(t, dir, "4-emergency"),
	)
	if !same || newCalls != "1" {
		t.Fatalf("the page reloaded (%v) or did not count the new call (%q)", !same, newCalls)
	}
	// The sandbox's button presses the same resident's call: her call is
	// still open, so it answers that one.
	var callNumber, demoFlash string
	run(t, ctx, "sandbox call",
		into(&callNumber, chromedp.Text(chromedp.CSS(`#calls tr[data-call] a`))),
		chromedp.Click(chromedp.CSS("#demo-call")),
		until(`document.querySelector("#flash").textContent.includes("一键呼叫")`),
		into(&demoFlash, chromedp.Text(chromedp.CSS("#flash"))),
	)
	if !strings.Contains(demoFlash, callNumber) {
		t.Fatalf("sandbox call said %q, the open call is %s", demoFlash, callNumber)
	}
	run(t, ctx, "acknowledge",
		chromedp.Click(chromedp.CSS(`#calls tr[data-call] button`)),
		until(`document.querySelector("#calls tr[data-call] .tag").textContent === "已响应"`),
	)

	// Meetings and the ledger: a joint meeting called and an action item
	// raised from the escalated order, from the mini-program.
	var firm struct {
		HandlerID int64 `json:"handler_id"`
	}
	s.api(t, "GET", "/api/v1/orders/"+firstID, token, nil, &firm)
	at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Hour)
	start, end := at.Format(time.RFC3339), at.Add(2*time.Hour).Format(time.RFC3339)
	if st := s.api(t, "POST", "/api/v1/meetings", token, map[string]any{"kind": "joint", "title": "十二月联席会议",
		"scope_kind": "community", "scope_id": communityOf(t, s, token), "starts_at": start, "ends_at": end, "place": "社区党群服务中心"}, nil); st != http.StatusCreated {
		t.Fatalf("create meeting: %d", st)
	}
	if st := s.api(t, "POST", "/api/v1/orders/"+secondID+"/action-items", token, map[string]any{"title": "消防通道清理整改",
		"owner_kind": "community", "owner_id": communityOf(t, s, token), "due_date": time.Now().AddDate(0, 0, 7).Format("2006-01-02")}, nil); st != http.StatusCreated {
		t.Fatalf("create action item: %d", st)
	}
	var meetings, ledger string
	run(t, ctx, "meetings",
		chromedp.Navigate(s.base+"/console/meetings"),
		chromedp.WaitVisible(chromedp.CSS("#ledger")),
		into(&meetings, chromedp.Text(chromedp.CSS("#meetings"))),
		into(&ledger, chromedp.Text(chromedp.CSS("#ledger"))),
		screenshot(t, dir, "5-meetings"),
	)
	if !strings.Contains(meetings, "十二月联席会议") || !strings.Contains(meetings, "联席会议") || !strings.Contains(ledger, "消防通道清理整改") {
		t.Fatalf("meetings %q ledger %q", meetings, ledger)
	}

	// Logging out ends the session: the queue sends the browser back.
	run(t, ctx, "logout",
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#ticket-id")),
		chromedp.Navigate(s.base+"/console/queue"),
		chromedp.WaitVisible(chromedp.CSS("#ticket-id")),
	)

	if errs := jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors in the console:\n  %s", strings.Join(errs, "\n  "))
	}
}

// The same console refuses what the person may not do: a resident's scan
// is refused with the service's message, shown in the page.
func TestResidentIsRefused(t *testing.T) {
	chromium(t)
	s := startServer(t)
	ctx, jsErrors := browser(t)
	var flash string
	run(t, ctx, "resident",
		chromedp.Navigate(s.base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#confirm-demo")),
		chromedp.SetValue(chromedp.CSS("#person"), "sandbox:resident"),
		chromedp.Click(chromedp.CSS("#confirm-demo")),
		chromedp.WaitVisible(chromedp.CSS("#flash .error")),
		into(&flash, chromedp.Text(chromedp.CSS("#flash"))),
	)
	if !strings.Contains(flash, "仅供工作人员") {
		t.Fatalf("flash %q", flash)
	}
	// A 403 answer is the page's message, not a script error; the
	// browser logs the failed request, which is all it says.
	for _, e := range jsErrors() {
		if !strings.Contains(e, "status of 403") {
			t.Fatalf("JavaScript error: %s", e)
		}
	}
}

// A street official's look at the figures: the dashboard's chart holds
// the numbers the API answers, a child's name drills down, and an export
// runs as a job whose progress the page shows and whose file opens.
func TestStreetOfficial(t *testing.T) {
	chromium(t)
	s := startServer(t)
	ctx, jsErrors := browser(t)
	dir := shots(t)
	run(t, ctx, "login as the street",
		chromedp.Navigate(s.base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#confirm-demo")),
		chromedp.SetValue(chromedp.CSS("#person"), "sandbox:street"),
		chromedp.Click(chromedp.CSS("#confirm-demo")),
		chromedp.WaitVisible(chromedp.CSS("#orders")),
	)
	token, _ := s.login(t, "street")
	var scopes struct {
		Items []struct {
			Kind string `json:"kind"`
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	s.api(t, "GET", "/api/v1/dashboard/scopes", token, nil, &scopes)
	if len(scopes.Items) == 0 || scopes.Items[0].Kind != "street" {
		t.Fatalf("scopes %+v", scopes)
	}
	street := scopes.Items[0]
	q := fmt.Sprintf("scope_kind=%s&scope_id=%d", street.Kind, street.ID)
	var names []string
	var received []int64
	var kpi, scopeName string
	run(t, ctx, "dashboard",
		chromedp.Navigate(s.base+"/console/dashboard?"+q),
		until(`window.echarts && echarts.getInstanceByDom(document.getElementById("children-chart")) !== undefined`),
		into(&names, chromedp.Evaluate[[]string](`echarts.getInstanceByDom(document.getElementById("children-chart")).getOption().xAxis[0].data`)),
		into(&received, chromedp.Evaluate[[]int64](`echarts.getInstanceByDom(document.getElementById("children-chart")).getOption().series[0].data`)),
		into(&kpi, chromedp.Text(chromedp.CSS("#kpi-received"))),
		into(&scopeName, chromedp.Text(chromedp.CSS("#scope-name"))),
		screenshot(t, dir, "6-dashboard"),
	)
	var api struct {
		Figures struct {
			Received int64 `json:"received"`
		} `json:"figures"`
	}
	s.api(t, "GET", "/api/v1/dashboard?"+q, token, nil, &api)
	var kids struct {
		Children []struct {
			Scope struct {
				Name string `json:"name"`
			} `json:"scope"`
			Figures struct {
				Received int64 `json:"received"`
			} `json:"figures"`
		} `json:"children"`
	}
	s.api(t, "GET", "/api/v1/dashboard/children?"+q, token, nil, &kids)
	if scopeName != street.Name || kpi != fmt.Sprint(api.Figures.Received) || len(names) != len(kids.Children) || len(names) == 0 {
		t.Fatalf("page %q %s, chart %v %v; API %d %+v", scopeName, kpi, names, received, api.Figures.Received, kids)
	}
	for i, ch := range kids.Children {
		if names[i] != ch.Scope.Name || received[i] != ch.Figures.Received {
			t.Fatalf("chart bar %d is %s=%d, the API says %s=%d", i, names[i], received[i], ch.Scope.Name, ch.Figures.Received)
		}
	}
	var child string
	run(t, ctx, "drill down",
		chromedp.Click(chromedp.CSS("#children a.drill")),
		chromedp.WaitVisible(chromedp.CSS("#dash-up")),
		into(&child, chromedp.Text(chromedp.CSS("#scope-name"))),
	)
	if child != names[0] {
		t.Fatalf("drilled down to %q, want %q", child, names[0])
	}

	// An export as a job: progress, then the file, opened with excelize.
	var href string
	run(t, ctx, "export",
		chromedp.Navigate(s.base+"/console/exports"),
		chromedp.WaitVisible(chromedp.CSS("#export-start")),
		chromedp.Click(chromedp.CSS("#export-start")),
		until(`document.querySelector("#jobs tr[data-job]") !== null`),
		until(`document.querySelector("#jobs tr[data-job]").dataset.state === "done"`),
		into(&href, chromedp.Evaluate[string](`document.querySelector("#jobs a.download").getAttribute("href")`)),
		screenshot(t, dir, "7-exports"),
	)
	var b64 string
	run(t, ctx, "download", into(&b64, chromedp.Evaluate[string](`fetch(`+strconvQuote(href)+`).then(r => r.ok ? r.arrayBuffer() : Promise.reject(r.status)).then(b => {
		let s = ""; new Uint8Array(b).forEach(x => s += String.fromCharCode(x)); return btoa(s);
	})`, chromedp.EvalAwaitPromise)))
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the downloaded export is not a workbook: %v", err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); len(sheets) == 0 {
		t.Fatal("the export has no sheet")
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors in the console:\n  %s", strings.Join(errs, "\n  "))
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
