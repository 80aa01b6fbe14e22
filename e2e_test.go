package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"redprop/model"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// The real binary, pointed at the fake WeChat on loopback: people log in
// through code2session, a report reaches the grid worker as a subscribe
// message with the configured template, and SIGTERM stops it cleanly.
func TestBinaryAgainstFakeWeChat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	fake := wechattest.NewServer(t)
	fake.AddCode("code-resident", wechat.SandboxOpenID("resident"), "")
	fake.AddCode("code-grid", wechat.SandboxOpenID("grid"), "")
	fake.Accept(wechat.SandboxOpenID("grid"), "tpl_new_report", 2)

	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+filepath.Join(dir, "data"),
		"REDPROP_MYSQL_DSN=", "REDPROP_REDIS_ADDR=",
		"REDPROP_WECHAT_APP_ID="+wechattest.AppID, "REDPROP_WECHAT_APP_SECRET="+wechattest.AppSecret,
		"REDPROP_WECHAT_BASE_URL="+fake.URL(), "REDPROP_JWT_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e",
		"REDPROP_MESSAGE_WORKER_INTERVAL=100ms", "REDPROP_TEMPLATE_NEW_REPORT=tpl_new_report")
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	base := "http://" + addr
	waitReady(t, base, 20*time.Second)

	call := func(token, method, path string, in any) (int, map[string]any) {
		t.Helper()
		return apiCall(t, base, token, method, path, in)
	}
	// The sandbox's made-up codes mean nothing to a real AppID.
	if st, out := call("", "POST", "/auth/login", map[string]string{"code": "sandbox:resident"}); st/100 != 4 {
		t.Fatalf("sandbox code with an AppID: %d %v", st, out)
	}
	st, out := call("", "POST", "/auth/login", map[string]string{"code": "code-resident"})
	if st != http.StatusOK {
		t.Fatalf("login: %d %v\n%s", st, out, stderr.String())
	}
	resident := out["access_token"].(string)
	// The grid worker allows two new-report pushes (wx.requestSubscribeMessage):
	// routine pushes leave the last one for an emergency (emergency_reserve).
	st, out = call("", "POST", "/auth/login", map[string]string{"code": "code-grid"})
	if st != http.StatusOK {
		t.Fatalf("login: %d %v", st, out)
	}
	grid := out["access_token"].(string)
	for range 2 {
		if st, out = call(grid, "POST", "/me/subscriptions", map[string]any{"results": map[string]string{"tpl_new_report": "accept"}}); st != http.StatusOK {
			t.Fatalf("subscribe: %d %v", st, out)
		}
	}
	st, out = call(resident, "POST", "/orders", map[string]any{"category_id": 9, "compound_id": 1,
		"place": "2号楼消防通道", "description": "消防通道被电动车堵住"})
	if st != http.StatusCreated {
		t.Fatalf("submit: %d %v", st, out)
	}
	number := out["number"].(string)

	var push map[string]any
	defer func() {
		if t.Failed() {
			for _, r := range fake.Requests() {
				t.Logf("fake saw %s %d %v", r.Endpoint, r.ErrCode, r.Body)
			}
			t.Logf("server log:\n%s", stderr.String())
		}
	}()
	waitFor(t, 10*time.Second, "the grid worker's push", func() bool {
		for _, r := range fake.Requests() {
			if r.Endpoint == "/cgi-bin/message/subscribe/send" && r.ErrCode == 0 {
				push = r.Body
				return true
			}
		}
		return false
	})
	data, _ := json.Marshal(push["data"])
	if push["touser"] != wechat.SandboxOpenID("grid") || push["template_id"] != "tpl_new_report" ||
		!bytes.Contains(data, []byte(number)) {
		t.Fatalf("push %v", push)
	}
	if n := fake.Quota(wechat.SandboxOpenID("grid"), "tpl_new_report"); n != 1 {
		t.Fatalf("the push left %d of the grid worker's quota, want the 1 held for emergencies", n)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running %s after SIGTERM", time.Since(start))
	}
}

// buildBinary builds the command into dir, with the given build tags.
func buildBinary(t *testing.T, dir string, tags ...string) string {
	t.Helper()
	bin := filepath.Join(dir, "redprop")
	args := []string{"build", "-o", bin}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// The real binary at log_level=warn writes nothing to stderr and only
// JSON lines at warn or above to stdout, each failed request's line with
// its request id: a 500, a panic (routes of the faultroutes build) and a
// failing scheduler tick, caused by dropping a table the order scheduler
// reads under the running server.
func TestBinaryLogsJSONAtTheConfiguredLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir, "faultroutes")
	addr, data := freeAddr(t), filepath.Join(dir, "data")
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+data, "REDPROP_MYSQL_DSN=", "REDPROP_REDIS_ADDR=",
		"REDPROP_WECHAT_APP_ID=", "REDPROP_LOG_LEVEL=warn", "REDPROP_SCHEDULER_INTERVAL=100ms",
		"REDPROP_JWT_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	defer func() {
		if t.Failed() {
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	}()
	base := "http://" + addr
	waitReady(t, base, 20*time.Second)
	get := func(path, requestID string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("X-Request-Id", requestID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error     struct{ Code string }
			RequestID string `json:"request_id"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusInternalServerError || body.Error.Code != "internal" || body.RequestID != requestID {
			t.Fatalf("GET %s: %d %+v", path, resp.StatusCode, body)
		}
	}
	get("/fault/error", "e2e-plain-error")
	get("/fault/panic", "e2e-panic")

	db, err := model.Open("", sqlitePath(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("DROP TABLE categories").Error; err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	want := map[string]string{"e2e-plain-error": "internal error", "e2e-panic": "panic"}
	seen := func() map[string]bool {
		got := map[string]bool{}
		for _, line := range stdout.Lines() {
			var l map[string]any
			if json.Unmarshal([]byte(line), &l) != nil {
				continue
			}
			if id, _ := l["request_id"].(string); want[id] == l["msg"] {
				got[id] = true
			}
			// The scheduler's line, whatever its wording: an error outside
			// any request, about the table that is gone.
			if errText, _ := l["err"].(string); l["level"] == "ERROR" && l["request_id"] == nil &&
				strings.Contains(errText, "categories") {
				got["scheduler"] = true
			}
		}
		return got
	}
	waitFor(t, 10*time.Second, "log lines of the failures", func() bool {
		got := seen()
		return got["e2e-plain-error"] && got["e2e-panic"] && got["scheduler"]
	})

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	for _, line := range stdout.Lines() {
		var l struct {
			Level     string
			Route     *string
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Errorf("a stdout line that is not JSON: %q", line)
		} else if l.Level != "WARN" && l.Level != "ERROR" {
			t.Errorf("a %s line at log_level=warn: %q", l.Level, line)
		} else if l.Route != nil && l.RequestID == "" {
			t.Errorf("a request's line without its request id: %q", line)
		}
	}
	if stderr.String() != "" {
		t.Errorf("stderr is not empty:\n%s", stderr.String())
	}
}

// apiCall sends a JSON request to the API of the server at base and
// returns the status and the decoded answer.
func apiCall(t *testing.T, base, token, method, path string, in any) (int, map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(in)
	req, _ := http.NewRequest(method, base+"/api/v1"+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// serveBinary runs `bin serve` with env (the whole environment) and its
// output in one buffer, ends it with the test, logs the output when the
// test failed, and waits until it is ready. It returns the base URL, the
// process and its output.
func serveBinary(t *testing.T, bin, addr string, within time.Duration, env []string) (string, *exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", out.String())
		}
	})
	base := "http://" + addr
	waitReady(t, base, within)
	return base, cmd, out
}

// waitReady waits until the server at base answers /readyz with 200.
func waitReady(t *testing.T, base string, within time.Duration) {
	t.Helper()
	waitFor(t, within, "readiness", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
