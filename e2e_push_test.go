package main

import (
	"crypto/sha1"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// The real binary killed with SIGKILL while WeChat is slow and a push is
// on its way, then started again on the same data dir: the restarted
// process releases what the dead one held at once (no waiting out a
// lease), the push whose answer was lost is settled by WeChat's delivery
// event, and every push reaches WeChat exactly once (new reports refuse
// duplicates).
func TestBinaryCrashMidSendLosesNoPushAndSendsNoneTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Run("sqlite, one instance", func(t *testing.T) { crashMidSend(t, "", 1) })
	t.Run("mariadb, two instances racing", func(t *testing.T) {
		dsn := os.Getenv(dbtest.EnvMySQL)
		if dsn == "" { // .ci/run's second pass sets it
			t.Skip("set " + dbtest.EnvMySQL)
		}
		crashMidSend(t, freshMySQL(t, dsn, "push_crash"), 2)
	})
}

// freshMySQL is the DSN of an empty database name on the server of dsn.
func freshMySQL(t *testing.T, dsn, name string) string {
	t.Helper()
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DBName == "" {
		cfg.DBName = "test"
	}
	cfg.DBName += "_" + name
	db := cfg.DBName
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{"DROP DATABASE IF EXISTS `" + db + "`",
		"CREATE DATABASE `" + db + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	cfg.DBName = db
	return cfg.FormatDSN()
}

// crashMidSend runs instances of the binary on one database (SQLite when
// dsn is empty), kills the one holding the pushes mid-send and restarts
// it on its data dir.
func crashMidSend(t *testing.T, dsn string, instances int) {
	const (
		orders   = 8
		cbToken  = "crash-callback-token"
		grid     = "grid"
		template = "tpl_new_report"
		// Delivery events come (wechat_token is set): a push they do not
		// tell of within this window never reached WeChat.
		reconcile = 4 * time.Second
	)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	fake := wechattest.NewServer(t)
	gridOpenID := wechat.SandboxOpenID(grid)
	fake.AddCode("code-resident", wechat.SandboxOpenID("resident"), "")
	fake.AddCode("code-grid", gridOpenID, "")
	fake.Accept(gridOpenID, template, 100)
	env := func(dataDir, addr string) []string {
		return append(os.Environ(),
			"REDPROP_ADDR="+addr, "REDPROP_DATA_DIR="+dataDir,
			"REDPROP_MYSQL_DSN="+dsn, "REDPROP_REDIS_ADDR=",
			"REDPROP_WECHAT_APP_ID="+wechattest.AppID, "REDPROP_WECHAT_APP_SECRET="+wechattest.AppSecret,
			"REDPROP_WECHAT_BASE_URL="+fake.URL(), "REDPROP_JWT_SECRET=e2e-secret-e2e-secret-e2e-secret-e2e",
			"REDPROP_WECHAT_TOKEN="+cbToken,
			// Slow enough for every order to be in the first batch, so that
			// the killed process holds claimed rows as well as the one
			// being sent.
			"REDPROP_MESSAGE_WORKER_INTERVAL=1s",
			"REDPROP_TEMPLATE_NEW_REPORT="+template, "REDPROP_WECHAT_TIMEOUT=5s",
			"REDPROP_PUSH_RECONCILE_AFTER="+reconcile.String())
	}
	if dsn != "" {
		demo := exec.Command(bin, "demo")
		demo.Env = env(filepath.Join(dir, "demo"), freeAddr(t))
		if out, err := demo.CombinedOutput(); err != nil {
			t.Fatalf("demo: %v\n%s", err, out)
		}
	}

	var logs []*syncBuffer
	start := func(dataDir string) (*exec.Cmd, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve")
		cmd.Env = env(dataDir, addr)
		var out syncBuffer
		logs = append(logs, &out)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		base := "http://" + addr
		waitReady(t, base, 30*time.Second)
		return cmd, base
	}
	defer func() {
		if t.Failed() {
			for _, r := range fake.Requests() {
				if r.Endpoint == wechattest.SubscribeSend {
					t.Logf("fake saw %s %d msgid %d", r.Endpoint, r.ErrCode, r.MsgID)
				}
			}
			for i, l := range logs {
				t.Logf("server %d log:\n%s", i, l.String())
			}
		}
	}()
	call := func(base, token, method, path string, in any) (int, map[string]any) {
		t.Helper()
		return apiCall(t, base, token, method, path, in)
	}
	login := func(base, code string) string {
		t.Helper()
		st, out := call(base, "", "POST", "/auth/login", map[string]string{"code": code})
		if st != http.StatusOK {
			t.Fatalf("login %s: %d %v", code, st, out)
		}
		return out["access_token"].(string)
	}
	// delivered groups WeChat's accepted pushes by what they say (each
	// order's number is in its push).
	delivered := func() map[string]int {
		n := map[string]int{}
		for _, r := range fake.Requests() {
			if r.Endpoint == wechattest.SubscribeSend && r.ErrCode == 0 && r.Status == http.StatusOK {
				data, _ := json.Marshal(r.Body["data"])
				n[string(data)]++
			}
		}
		return n
	}

	dataDirs := make([]string, instances)
	cmds := make([]*exec.Cmd, instances)
	var base string
	for i := range instances {
		dataDirs[i] = filepath.Join(dir, fmt.Sprintf("data%d", i))
		cmds[i], base = start(dataDirs[i])
	}
	resident, gridToken := login(base, "code-resident"), login(base, "code-grid")
	// One allowance more than orders: routine pushes leave the last one
	// for an emergency (emergency_reserve).
	for range orders + 1 {
		if st, out := call(base, gridToken, "POST", "/me/subscriptions", map[string]any{"results": map[string]string{template: "accept"}}); st != http.StatusOK {
			t.Fatalf("subscribe: %d %v", st, out)
		}
	}
	// WeChat hangs: each push is answered only after a second.
	fake.Delay(wechattest.SubscribeSend, time.Second)
	for i := range orders {
		st, out := call(base, resident, "POST", "/orders", map[string]any{"category_id": 9, "compound_id": 1,
			"place": fmt.Sprintf("%d号楼消防通道", i+1), "description": fmt.Sprintf("消防通道被电动车堵住（第%d次）", i+1)})
		if st != http.StatusCreated {
			t.Fatalf("submit %d: %d %v", i, st, out)
		}
	}
	waitFor(t, 30*time.Second, "two pushes through", func() bool { return len(delivered()) >= 2 })
	time.Sleep(300 * time.Millisecond) // the next push is at WeChat, its answer pending
	var db *gorm.DB
	var err error
	if dsn == "" {
		db, err = model.Open("", sqlitePath(dataDirs[0]), nil)
	} else {
		db, err = model.Open(dsn, "", nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Kill the instance that holds the pushes (the one whose name starts
	// the claim tokens), as a crash would.
	victim := 0
	var held []model.Outbox
	if err := db.Where("state IN ?", []string{model.OutboxClaimed, model.OutboxSending}).Find(&held).Error; err != nil {
		t.Fatal(err)
	}
	for i := range instances {
		name, _ := os.ReadFile(filepath.Join(dataDirs[i], "outbox-worker-0.id"))
		for _, r := range held {
			if n := strings.TrimSpace(string(name)); n != "" && strings.HasPrefix(r.Owner, n+".") {
				victim = i
			}
		}
	}
	if len(held) < 2 {
		t.Fatalf("%d rows held at the kill, want the batch's rest claimed and one being sent", len(held))
	}
	if err := cmds[victim].Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	cmds[victim].Wait()
	before := len(delivered())
	fake.Delay(wechattest.SubscribeSend, 0) // WeChat is back to normal

	restart := time.Now()
	_, base = start(dataDirs[victim])
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	var rows []model.Outbox
	pending := func() int {
		rows = nil
		if err := db.Order("id").Find(&rows).Error; err != nil {
			return -1
		}
		n := 0
		for _, r := range rows {
			switch r.State {
			case model.OutboxPending, model.OutboxClaimed, model.OutboxSending, model.OutboxFailed:
				n++
			}
		}
		return n
	}
	// Well within the 15 s lease: the restart released the rows (an
	// unknown row waits for its event).
	waitFor(t, 8*time.Second, "the outbox drained after the restart", func() bool { return pending() == 0 })
	drain := time.Since(restart)
	unknown := 0
	for _, r := range rows {
		if r.State == model.OutboxUnknown {
			unknown++
		}
	}
	for _, l := range logs[len(logs)-1].Lines() {
		if strings.Contains(l, "released the outbox rows") {
			t.Log(l)
		}
	}
	t.Logf("%d rows held by the killed instance %d, %d pushes before the kill, drained %s after the restart, %d unknown", len(held), victim, before, drain.Round(time.Millisecond), unknown)

	// WeChat tells of every push it delivered (retrying what the dead
	// process never acknowledged), each as soon as it is through.
	told := map[int]bool{}
	tell := func() {
		for _, r := range fake.Requests() {
			if r.Endpoint != wechattest.SubscribeSend || r.ErrCode != 0 || told[r.MsgID] {
				continue
			}
			told[r.MsgID] = true
			ts := fmt.Sprint(time.Now().Unix())
			nonce := fmt.Sprint("n", r.MsgID)
			body := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%s</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent><List><TemplateId><![CDATA[%s]]></TemplateId><MsgID><![CDATA[%d]]></MsgID><ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>`,
				r.Body["touser"], ts, r.Body["template_id"], r.MsgID)
			parts := []string{cbToken, ts, nonce}
			sort.Strings(parts)
			sum := sha1.Sum([]byte(strings.Join(parts, "")))
			url := fmt.Sprintf("%s/api/v1/wechat/push?signature=%s&timestamp=%s&nonce=%s", base, hex.EncodeToString(sum[:]), ts, nonce)
			resp, err := http.Post(url, "text/xml", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("delivery event: %d %s", resp.StatusCode, answer)
			}
		}
	}

	// The push that died before reaching WeChat, if any, goes again once
	// the window is over; one that reached it was settled by its event.
	waitFor(t, reconcile+8*time.Second, "every push settled", func() bool {
		tell()
		if pending() != 0 {
			return false
		}
		for _, r := range rows {
			if r.State == model.OutboxUnknown {
				return false
			}
		}
		return true
	})
	sent := 0
	for _, r := range rows {
		switch {
		case r.State == model.OutboxSent:
			sent++
		case r.State == model.OutboxSkipped && r.SkipReason != "no_quota":
		default:
			t.Errorf("outbox row %d (%s to user %d) is %s/%s", r.ID, r.Event, r.UserID, r.State, r.LastCode)
		}
	}
	got := delivered()
	for data, n := range got {
		if n != 1 {
			t.Errorf("a push went %d times: %s", n, data)
		}
	}
	if len(got) < orders || sent != len(got) {
		t.Fatalf("%d distinct pushes delivered, %d rows sent, want %d orders' pushes each once", len(got), sent, orders)
	}
}
