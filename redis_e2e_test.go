package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"redprop/model"
)

// redisServer is a private redis-server on a port of its own, started and
// stopped by the test: the machine's shared Redis is never touched.
type redisServer struct {
	t    *testing.T
	bin  string
	port string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true needs redis-server for the Redis outage test")
		}
		t.Skip("redis-server is not installed")
	}
	_, port, _ := net.SplitHostPort(freeAddr(t))
	r := &redisServer{t: t, bin: bin, port: port}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + r.port }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", r.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, io.Discard
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	waitFor(r.t, 10*time.Second, "redis-server on "+r.addr(), func() bool {
		c, err := net.Dial("tcp", r.addr())
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// kill ends the server at once, as a crash would.
func (r *redisServer) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// With its Redis killed, the real binary goes on serving: a signed-in
// resident reports, a grid worker acts, logging in and refreshing work,
// logged-out tokens stay refused, and an Idempotency-Key only Redis can
// keep answers 503. Once Redis is back everything works again.
func TestBinaryWithRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	rds := startRedis(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	addr, data := freeAddr(t), filepath.Join(dir, "data")
	base, _, stdout := serveBinary(t, bin, addr, 20*time.Second, append(os.Environ(),
		"REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+data, "REDPROP_MYSQL_DSN=", "REDPROP_REDIS_ADDR="+rds.addr(),
		"REDPROP_WECHAT_APP_ID=", "REDPROP_JWT_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e",
		"REDPROP_LOGIN_PER_CODE_PER_MINUTE=3", "REDPROP_LOG_LEVEL=warn"))

	type answer struct {
		status int
		body   map[string]any
		header http.Header
	}
	call := func(token, method, path string, in any, headers ...string) answer {
		t.Helper()
		raw, _ := json.Marshal(in)
		req, _ := http.NewRequest(method, base+"/api/v1"+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s %s took %s", method, path, d)
		}
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return answer{resp.StatusCode, out, resp.Header}
	}
	errCode := func(a answer) string {
		e, _ := a.body["error"].(map[string]any)
		code, _ := e["code"].(string)
		return code
	}
	login := func(name string) (access, refresh string) {
		t.Helper()
		a := call("", "POST", "/auth/login", map[string]string{"code": "sandbox:" + name})
		if a.status != http.StatusOK {
			t.Fatalf("login %s: %d %v", name, a.status, a.body)
		}
		return a.body["access_token"].(string), a.body["refresh_token"].(string)
	}
	submit := func(token string) int64 {
		t.Helper()
		a := call(token, "POST", "/orders", map[string]any{"category_id": 9, "compound_id": 1,
			"place": "2号楼消防通道", "description": "消防通道被电动车堵住"})
		if a.status != http.StatusCreated {
			t.Fatalf("submit: %d %v", a.status, a.body)
		}
		return int64(a.body["id"].(float64))
	}
	refused := func(what, token string) {
		t.Helper()
		if a := call(token, "GET", "/me", nil); a.status != http.StatusUnauthorized || errCode(a) != "token_invalid" {
			t.Fatalf("%s: %d %v", what, a.status, a.body)
		}
	}

	resident, residentRefresh := login("resident")
	grid, _ := login("grid")
	admin, _ := login("admin")
	before, _ := login("resident2")
	if a := call(before, "POST", "/auth/logout", nil); a.status != http.StatusNoContent {
		t.Fatalf("logout: %d %v", a.status, a.body)
	}
	during, _ := login("resident2")
	street := streetID(t, data)

	rds.kill()

	t.Run("redis down", func(t *testing.T) {
		t.Run("still ready", func(t *testing.T) {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("readyz: %d", resp.StatusCode)
			}
		})
		t.Run("a resident reports and a grid worker acts", func(t *testing.T) {
			id := submit(resident)
			if a := call(grid, "POST", fmt.Sprintf("/orders/%d/verify", id), map[string]any{"note": "已核实"}); a.status != http.StatusOK || a.body["state"] != "verified" {
				t.Fatalf("verify: %d %v", a.status, a.body)
			}
		})
		t.Run("logged-out tokens stay refused", func(t *testing.T) {
			refused("a token logged out before the outage", before)
			if a := call(during, "POST", "/auth/logout", nil); a.status != http.StatusNoContent {
				t.Fatalf("logout during the outage: %d %v", a.status, a.body)
			}
			refused("a token logged out during the outage", during)
		})
		t.Run("refresh rotates", func(t *testing.T) {
			a := call("", "POST", "/auth/refresh", map[string]string{"refresh_token": residentRefresh})
			if a.status != http.StatusOK {
				t.Fatalf("refresh: %d %v", a.status, a.body)
			}
			residentRefresh = a.body["refresh_token"].(string)
			if a := call(a.body["access_token"].(string), "GET", "/me", nil); a.status != http.StatusOK {
				t.Fatalf("the new access token: %d %v", a.status, a.body)
			}
		})
		t.Run("login is limited in the process", func(t *testing.T) {
			for i := range 3 {
				if a := call("", "POST", "/auth/login", map[string]string{"code": "sandbox:newcomer"}); a.status != http.StatusOK {
					t.Fatalf("login %d: %d %v", i, a.status, a.body)
				}
			}
			if a := call("", "POST", "/auth/login", map[string]string{"code": "sandbox:newcomer"}); a.status != http.StatusTooManyRequests {
				t.Fatalf("a fourth login with one code in a minute: %d %v", a.status, a.body)
			}
		})
		t.Run("an Idempotency-Key only Redis keeps answers 503", func(t *testing.T) {
			a := call(admin, "POST", "/regions", map[string]any{"level": "community", "parent_id": street, "name": "停电社区"},
				"Idempotency-Key", "outage-1")
			if a.status != http.StatusServiceUnavailable || errCode(a) != "redis_unavailable" {
				t.Fatalf("create with a key: %d %v", a.status, a.body)
			}
			// Orders keep their key in the row: a retried submit is one order.
			body := map[string]any{"category_id": 9, "compound_id": 1, "place": "3号楼", "description": "楼道灯不亮了"}
			first := call(resident, "POST", "/orders", body, "Idempotency-Key", "order-1")
			again := call(resident, "POST", "/orders", body, "Idempotency-Key", "order-1")
			if first.status != http.StatusCreated || again.status/100 != 2 || again.body["id"] != first.body["id"] {
				t.Fatalf("retried submit: %d %v then %d %v", first.status, first.body["id"], again.status, again.body["id"])
			}
		})
	})

	rds.start()
	// After as many failed dials as its pool has connections, go-redis
	// dials again only once a second in the background: the first second
	// back may still answer as an outage.
	time.Sleep(1500 * time.Millisecond)

	t.Run("redis back", func(t *testing.T) {
		refused("a token logged out before the outage", before)
		refused("a token logged out during the outage", during)
		submit(resident)
		newcomer, _ := login("grid3")
		if a := call(newcomer, "GET", "/me", nil); a.status != http.StatusOK {
			t.Fatalf("me: %d %v", a.status, a.body)
		}
		if a := call("", "POST", "/auth/refresh", map[string]string{"refresh_token": residentRefresh}); a.status != http.StatusOK {
			t.Fatalf("refresh: %d %v", a.status, a.body)
		}
		in := map[string]any{"level": "community", "parent_id": street, "name": "恢复社区"}
		first := call(admin, "POST", "/regions", in, "Idempotency-Key", "back-1")
		again := call(admin, "POST", "/regions", in, "Idempotency-Key", "back-1")
		if first.status != http.StatusCreated || again.status != http.StatusCreated || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("create with a key: %d, then %d replayed=%q %v", first.status, again.status, again.header.Get("Idempotent-Replayed"), again.body)
		}
	})
	if strings.Contains(stdout.String(), `"level":"ERROR"`) {
		t.Errorf("the outage logged errors:\n%s", stdout.String())
	}
}

// streetID reads the demo street's id from the binary's SQLite file.
func streetID(t *testing.T, data string) int64 {
	t.Helper()
	db, err := model.Open("", sqlitePath(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	}()
	var id int64
	if err := db.Model(&model.Region{}).Select("id").Where("level = ?", model.LevelStreet).Limit(1).Scan(&id).Error; err != nil || id == 0 {
		t.Fatalf("street: %d %v", id, err)
	}
	return id
}

// A restart during a Redis outage comes up and serves: the binary starts
// with its configured Redis unreachable, answers ready and lets a
// resident log in and report.
func TestBinaryStartsWithRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	addr, dead := freeAddr(t), freeAddr(t) // nothing listens on dead
	base, _, stdout := serveBinary(t, bin, addr, 20*time.Second, append(os.Environ(),
		"REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+filepath.Join(dir, "data"), "REDPROP_MYSQL_DSN=",
		"REDPROP_REDIS_ADDR="+dead, "REDPROP_WECHAT_APP_ID=", "REDPROP_JWT_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e",
		"REDPROP_LOG_LEVEL=warn"))
	st, out := apiCall(t, base, "", "POST", "/auth/login", map[string]string{"code": "sandbox:resident"})
	if st != http.StatusOK {
		t.Fatalf("login: %d %v", st, out)
	}
	token, _ := out["access_token"].(string)
	body := map[string]any{"category_id": 9, "compound_id": 1, "place": "3号楼", "description": "楼道灯不亮了"}
	if st, out := apiCall(t, base, token, "POST", "/orders", body); st != http.StatusCreated {
		t.Fatalf("submit: %d %v", st, out)
	}
	if !strings.Contains(stdout.String(), "starting without redis") {
		t.Errorf("no warning that Redis was away:\n%s", stdout.String())
	}
}
