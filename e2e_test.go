package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
	bin := filepath.Join(dir, "redprop")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	fake := wechattest.NewServer(t)
	fake.AddCode("code-resident", wechat.SandboxOpenID("resident"), "")
	fake.AddCode("code-grid", wechat.SandboxOpenID("grid"), "")
	fake.Accept(wechat.SandboxOpenID("grid"), "tpl_new_report", 1)

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
	waitFor(t, 20*time.Second, "readiness", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	call := func(token, method, path string, in any) (int, map[string]any) {
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
	// The sandbox's made-up codes mean nothing to a real AppID.
	if st, out := call("", "POST", "/auth/login", map[string]string{"code": "sandbox:resident"}); st/100 != 4 {
		t.Fatalf("sandbox code with an AppID: %d %v", st, out)
	}
	st, out := call("", "POST", "/auth/login", map[string]string{"code": "code-resident"})
	if st != http.StatusOK {
		t.Fatalf("login: %d %v\n%s", st, out, stderr.String())
	}
	resident := out["access_token"].(string)
	// The grid worker allows one new-report push (wx.requestSubscribeMessage).
	st, out = call("", "POST", "/auth/login", map[string]string{"code": "code-grid"})
	if st != http.StatusOK {
		t.Fatalf("login: %d %v", st, out)
	}
	grid := out["access_token"].(string)
	if st, out = call(grid, "POST", "/me/subscriptions", map[string]any{"results": map[string]string{"tpl_new_report": "accept"}}); st != http.StatusOK {
		t.Fatalf("subscribe: %d %v", st, out)
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
	if n := fake.Quota(wechat.SandboxOpenID("grid"), "tpl_new_report"); n != 0 {
		t.Fatalf("the push left %d of the grid worker's quota", n)
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
