package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// privateMariaDB is a MariaDB server of the test's own, on a free port,
// that the test may kill, stop and restart: the machine's shared one is
// never touched.
type privateMariaDB struct {
	t         *testing.T
	bin, dir  string
	port      int
	cmd       *exec.Cmd
	asRoot    []string
	stderrLog string
}

// startMariaDB initialises a data directory and starts mariadbd on it. It
// skips when the binaries are absent, unless CI=true.
func startMariaDB(t *testing.T) *privateMariaDB {
	t.Helper()
	bin, err := exec.LookPath("mariadbd")
	if err != nil {
		bin = "/usr/sbin/mariadbd"
	}
	install, ierr := exec.LookPath("mariadb-install-db")
	if _, err := os.Stat(bin); err != nil || ierr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true needs mariadbd and mariadb-install-db: %v %v", err, ierr)
		}
		t.Skip("mariadbd or mariadb-install-db not installed")
	}
	m := &privateMariaDB{t: t, bin: bin, dir: t.TempDir()}
	if os.Geteuid() == 0 {
		m.asRoot = []string{"--user=root"}
	}
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(m.dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db"}, m.asRoot...)
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	_, p, _ := net.SplitHostPort(freeAddr(t))
	m.port, _ = strconv.Atoi(p)
	m.start()
	t.Cleanup(func() {
		if m.cmd != nil {
			m.cmd.Process.Kill()
			m.cmd.Wait()
		}
	})
	db := m.sql("")
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE redprop CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *privateMariaDB) dsn(db string) string {
	return fmt.Sprintf("root@tcp(127.0.0.1:%d)/%s", m.port, db)
}

func (m *privateMariaDB) sql(db string) *sql.DB {
	m.t.Helper()
	d, err := sql.Open("mysql", m.dsn(db))
	if err != nil {
		m.t.Fatal(err)
	}
	return d
}

// start runs mariadbd and waits until it answers.
func (m *privateMariaDB) start() {
	m.t.Helper()
	args := append([]string{"--no-defaults", "--datadir=" + filepath.Join(m.dir, "data"),
		"--socket=" + filepath.Join(m.dir, "s"), "--pid-file=" + filepath.Join(m.dir, "pid"),
		"--port=" + strconv.Itoa(m.port), "--bind-address=127.0.0.1", "--skip-grant-tables",
		"--innodb-buffer-pool-size=32M", "--log-error=" + filepath.Join(m.dir, "err.log")}, m.asRoot...)
	m.cmd = exec.Command(m.bin, args...)
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	db := m.sql("")
	defer db.Close()
	waitFor(m.t, 30*time.Second, "the private MariaDB", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return db.PingContext(ctx) == nil
	})
}

// kill ends mariadbd at once, as a crash does.
func (m *privateMariaDB) kill() {
	m.cmd.Process.Kill()
	m.cmd.Wait()
	m.cmd = nil
}

// stop freezes mariadbd (SIGSTOP) and waits until every thread of it is
// stopped: the kernel hands the signal to one thread, which stops the
// others when it next runs, so on a loaded machine the rest may answer
// queries for some milliseconds after kill returns.
func (m *privateMariaDB) stop() {
	m.t.Helper()
	pid := m.cmd.Process.Pid
	if err := m.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		m.t.Fatal(err)
	}
	waitFor(m.t, 10*time.Second, "every thread of mariadbd stopped", func() bool {
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil || len(tasks) == 0 {
			return false
		}
		for _, task := range tasks {
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
			if err != nil {
				return false
			}
			// The state follows the command's closing parenthesis.
			i := bytes.LastIndexByte(raw, ')')
			if i < 0 || i+2 >= len(raw) || (raw[i+2] != 'T' && raw[i+2] != 't') {
				return false
			}
		}
		return true
	})
}

// outageServer starts the binary on the private MariaDB with the demo
// city loaded and short database deadlines, and returns its base URL and
// a resident's access token.
func outageServer(t *testing.T, m *privateMariaDB, queryTimeout string) (string, string, *syncBuffer, *exec.Cmd) {
	t.Helper()
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	addr := freeAddr(t)
	env := append(os.Environ(),
		"REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+filepath.Join(dir, "data"),
		"REDPROP_MYSQL_DSN="+m.dsn("redprop"), "REDPROP_REDIS_ADDR="+os.Getenv("REDPROP_TEST_REDIS_ADDR"),
		"REDPROP_REDIS_PREFIX=outage"+strconv.FormatInt(time.Now().UnixNano(), 36)+":",
		"REDPROP_WECHAT_APP_ID=", "REDPROP_JWT_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e",
		"REDPROP_DB_QUERY_TIMEOUT="+queryTimeout, "REDPROP_DB_TX_TIMEOUT=2s",
		"REDPROP_SCHEDULER_INTERVAL=200ms", "REDPROP_MESSAGE_WORKER_INTERVAL=200ms")
	demo := exec.Command(bin, "demo")
	demo.Env = env
	if out, err := demo.CombinedOutput(); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	base, cmd, stdout := serveBinary(t, bin, addr, 30*time.Second, env)
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader([]byte(`{"code":"sandbox:resident"}`)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if json.NewDecoder(resp.Body).Decode(&out); resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		t.Fatalf("login: %d\n%s", resp.StatusCode, stdout.String())
	}
	return base, out.AccessToken, stdout, cmd
}

// client keeps no connection alive: the server's goroutines counted in
// the stall test are then the requests', not idle keep-alive connections.
var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func status(url, token string) int {
	st, _ := get(url, token)
	return st
}

// get answers the status and the error code of the envelope, -1 when no
// answer came.
func get(url, token string) (int, string) {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	var body struct {
		Error struct {
			Code    string
			Message string
		}
		RequestID string `json:"request_id"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if body.Error.Code != "" && (body.Error.Message == "" || body.RequestID == "") {
		return resp.StatusCode, "an envelope without message or request id"
	}
	return resp.StatusCode, body.Error.Code
}

// goroutines reads go_goroutines from /metrics; the time it took.
func goroutines(t *testing.T, base string) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^go_goroutines (\d+)`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("/metrics without go_goroutines: %d\n%s", resp.StatusCode, raw)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n, time.Since(start)
}

// The database crashes and comes back, then freezes (SIGSTOP) and thaws:
// requests get quick 503 database_down envelopes, /readyz and /metrics
// answer promptly, goroutines stay bounded, and service resumes.
func TestBinaryDatabaseDownAndStalled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB and the binary")
	}
	m := startMariaDB(t)
	const deadline = time.Second
	base, token, logs, srv := outageServer(t, m, deadline.String())
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()
	orders := base + "/api/v1/orders"
	if st, code := get(orders, token); st != http.StatusOK {
		t.Fatalf("before the outage: %d %s", st, code)
	}

	t.Run("killed: 503 database_down at once, then back", func(t *testing.T) {
		m.kill()
		for i := 0; i < 5; i++ {
			start := time.Now()
			st, code := get(orders, token)
			if st != http.StatusServiceUnavailable || code != "database_down" {
				t.Fatalf("request %d while down: %d %s", i, st, code)
			}
			if took := time.Since(start); took > deadline+2*time.Second {
				t.Fatalf("request %d took %s", i, took)
			}
		}
		if st := status(base+"/readyz", ""); st != http.StatusServiceUnavailable {
			t.Fatalf("readyz while down: %d", st)
		}
		m.start()
		waitFor(t, 15*time.Second, "service after the restart", func() bool { return status(orders, token) == http.StatusOK })
	})

	t.Run("stalled: bounded 503s, prompt readyz and metrics, then back", func(t *testing.T) {
		const n = 40
		burst := func(do func(i int)) {
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() { defer wg.Done(); do(i) }()
			}
			wg.Wait()
		}
		// A burst while the database answers first: the pools (Redis's,
		// the database's) grow to what n requests need, so the count
		// before the stall is that of a server that has seen n at once.
		burst(func(int) { get(orders, token) })
		before, _ := goroutines(t, base)
		m.stop()
		thawed := false
		thaw := func() {
			if !thawed {
				m.cmd.Process.Signal(syscall.SIGCONT)
				thawed = true
			}
		}
		defer thaw()
		type result struct {
			st   int
			code string
			took time.Duration
		}
		results := make([]result, n)
		stalled := make(chan struct{})
		go func() {
			defer close(stalled)
			burst(func(i int) {
				start := time.Now()
				st, code := get(orders, token)
				results[i] = result{st, code, time.Since(start)}
			})
		}()
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		if st := status(base+"/readyz", ""); st != http.StatusServiceUnavailable || time.Since(start) > 4*time.Second {
			t.Errorf("readyz while stalled: %d after %s", st, time.Since(start))
		}
		if _, took := goroutines(t, base); took > 4*time.Second {
			t.Errorf("/metrics took %s while stalled", took)
		}
		<-stalled
		for i, r := range results {
			// The wait for a pool connection and the query share one
			// deadline; the margin covers a loaded test machine.
			if r.st != http.StatusServiceUnavailable || r.code != "database_down" || r.took > deadline+4*time.Second {
				t.Errorf("request %d while stalled: %d %s after %s", i, r.st, r.code, r.took)
			}
		}
		// Once they are answered, what they held is released: no
		// goroutine per stuck request stays behind.
		var after int
		deadline := time.Now().Add(10 * time.Second)
		for after, _ = goroutines(t, base); after >= before+n/2; after, _ = goroutines(t, base) {
			if time.Now().After(deadline) {
				srv.Process.Signal(syscall.SIGQUIT)
				time.Sleep(time.Second)
				t.Fatalf("%d goroutines after the stall's requests, %d before", after, before)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("goroutines: %d before the stall, %d after its requests", before, after)
		thaw()
		waitFor(t, 15*time.Second, "service after SIGCONT", func() bool { return status(orders, token) == http.StatusOK })
		if st := status(base+"/readyz", ""); st != http.StatusOK {
			t.Fatalf("readyz after SIGCONT: %d", st)
		}
	})
}

// WeChat accepts connections and never answers the text check: the first
// submits give up after wechat_check_timeout, then the breaker defers the
// check at once; the texts are stored pending for the re-check.
func TestBinaryWeChatCheckHangs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	fake := wechattest.NewServer(t)
	fake.AddCode("code-resident", wechat.SandboxOpenID("resident"), "")
	addr := freeAddr(t)
	base, _, logs := serveBinary(t, bin, addr, 20*time.Second, append(os.Environ(),
		"REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+filepath.Join(dir, "data"),
		"REDPROP_MYSQL_DSN=", "REDPROP_REDIS_ADDR=",
		"REDPROP_WECHAT_APP_ID="+wechattest.AppID, "REDPROP_WECHAT_APP_SECRET="+wechattest.AppSecret,
		"REDPROP_WECHAT_BASE_URL="+fake.URL(), "REDPROP_JWT_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e",
		"REDPROP_WECHAT_CHECK_TIMEOUT=1s", "REDPROP_WECHAT_CHECK_BREAKER_FAILURES=2",
		"REDPROP_WECHAT_CHECK_BREAKER_OPEN=1m", "REDPROP_MESSAGE_WORKER_INTERVAL=1h"))
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader([]byte(`{"code":"code-resident"}`)))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if login.AccessToken == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	submit := func(i int) (int, time.Duration) {
		raw, _ := json.Marshal(map[string]any{"category_id": 9, "compound_id": 1,
			"place": "2号楼", "description": fmt.Sprintf("楼道灯坏了 %d", i)})
		req, _ := http.NewRequest("POST", base+"/api/v1/orders", bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+login.AccessToken)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	// A first submit while WeChat answers: the access token is fetched.
	if st, _ := submit(0); st != http.StatusCreated {
		t.Fatalf("submit before the hang: %d", st)
	}
	fake.Hang(wechattest.MsgSecCheck, true)
	for i := 1; i <= 2; i++ {
		st, took := submit(i)
		if st != http.StatusCreated || took > 3*time.Second {
			t.Fatalf("submit %d while WeChat hangs: %d after %s (wechat_timeout is 5s)", i, st, took)
		}
	}
	asked := fake.Calls(wechattest.MsgSecCheck)
	for i := 3; i <= 6; i++ {
		st, took := submit(i)
		if st != http.StatusCreated || took > 500*time.Millisecond {
			t.Fatalf("submit %d with the breaker open: %d after %s", i, st, took)
		}
	}
	if n := fake.Calls(wechattest.MsgSecCheck); n != asked {
		t.Fatalf("WeChat asked %d more times with the breaker open", n-asked)
	}
	mresp, err := client.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !regexp.MustCompile(`(?m)^redprop_message_checks_pending 6$`).Match(raw) {
		t.Fatalf("want the 6 texts of the hang pending a re-check:\n%s", regexp.MustCompile(`(?m)^redprop_message_checks.*$`).FindAll(raw, -1))
	}
	if !bytes.Contains([]byte(logs.String()), []byte("breaker opened")) {
		t.Fatal("the breaker's opening is not logged")
	}
}
