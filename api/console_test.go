package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"redprop/model"
	"redprop/service"
	"redprop/service/order"
	"redprop/service/wechat"
)

// browser is a cookie-keeping client of the console over the router.
type browser struct {
	t       *testing.T
	s       *testServer
	cookies map[string]*http.Cookie
	csrf    string
	origin  string // sent as Origin on posts ("" sends none)
}

func (f *orderFixture) console() *browser {
	f.deps.Console = ConsoleOptions{Sandbox: true, WxaPage: "pages/console/login", Codes: wechat.NewSandbox(),
		Demo: []ConsoleDemoPerson{{Code: "sandbox:community", Name: "社区张书记"}, {Code: "sandbox:resident", Name: "居民杨阿姨"},
			{Code: "sandbox:community2", Name: "社区马主任"}, {Code: "sandbox:manager", Name: "物业经理"}},
		CSRFKey: ConsoleCSRFKey([]byte("the test server's secret"))}
	f.router = NewRouter(f.deps)
	return &browser{t: f.t, s: f.testServer, cookies: map[string]*http.Cookie{}}
}

type consoleResp struct {
	Status int
	Header http.Header
	Body   string
}

var csrfMeta = regexp.MustCompile(`X-CSRF-Token": "([0-9a-f]+)"`)

func (b *browser) send(method, path string, form url.Values, headers ...string) consoleResp {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.do(req, headers...)
}

// formFile is a file a multipart post attaches under a field.
type formFile struct {
	Field, Name, Type string
	Data              []byte
}

// postFiles posts a form as htmx does with hx-encoding="multipart/form-data".
func (b *browser) postFiles(path string, form url.Values, files ...formFile) consoleResp {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			if err := w.WriteField(k, v); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, f.Field, f.Name))
		if f.Type != "" {
			h.Set("Content-Type", f.Type)
		}
		part, err := w.CreatePart(h)
		if err != nil {
			b.t.Fatal(err)
		}
		part.Write(f.Data)
	}
	w.Close()
	req := httptest.NewRequest(http.MethodPost, path, &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req, "HX-Request", "true")
}

// do sends a request with the browser's cookies (and on a post its CSRF
// token) and keeps the cookies and token of the answer.
func (b *browser) do(req *http.Request, headers ...string) consoleResp {
	b.t.Helper()
	method := req.Method
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	if method == http.MethodPost {
		req.Header.Set("X-CSRF-Token", b.csrf)
		if b.origin != "" {
			req.Header.Set("Origin", b.origin)
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	b.s.router.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	p := consoleResp{Status: w.Code, Header: w.Header(), Body: w.Body.String()}
	if m := csrfMeta.FindStringSubmatch(p.Body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browser) get(path string) consoleResp {
	b.t.Helper()
	return b.send(http.MethodGet, path, nil)
}

func (b *browser) post(path string, form url.Values) consoleResp {
	b.t.Helper()
	return b.send(http.MethodPost, path, form, "HX-Request", "true")
}

func (b *browser) must(want int, p consoleResp, what string) consoleResp {
	b.t.Helper()
	if p.Status != want {
		b.t.Fatalf("%s: status %d, want %d: %.600s", what, p.Status, want, p.Body)
	}
	return p
}

var ticketOf = regexp.MustCompile(`id="ticket-id">([A-Za-z0-9_-]+)<`)

// ticket opens the login page and draws a ticket.
func (b *browser) ticket() string {
	b.t.Helper()
	b.must(http.StatusOK, b.get("/console/login"), "login page")
	p := b.must(http.StatusOK, b.post("/console/login/ticket", url.Values{}), "new ticket")
	m := ticketOf.FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no ticket in %s", p.Body)
	}
	return m[1]
}

// logIn logs the console in as name through the mini-program's API call.
func (b *browser) logIn(f *orderFixture, name string) {
	b.t.Helper()
	tk := b.ticket()
	f.must(http.StatusNoContent, "POST", "/api/v1/console/tickets/"+tk+"/confirm", f.token(name), nil)
	p := b.must(http.StatusNoContent, b.post("/console/login/poll", url.Values{"ticket": {tk}}), "poll")
	if p.Header.Get("HX-Redirect") != "/console/queue" || b.cookies[cookieSession] == nil {
		b.t.Fatalf("poll after confirmation: %v %v", p.Header, b.cookies)
	}
	c := b.cookies[cookieSession]
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/console" {
		b.t.Fatalf("session cookie %+v", c)
	}
	b.must(http.StatusOK, b.get("/console/queue"), "queue after login")
}

// submitted has the demo resident report a dispute and the grid worker
// verify it, through the API; it returns the order id.
func (f *orderFixture) submitted(text string) int64 {
	f.t.Helper()
	r := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["dispute"], "description": text, "household_id": f.city.Households[0].ID,
	})
	id := orderNum(r.Body["id"])
	f.act("grid", id, "verify", nil)
	return id
}

func TestConsoleScanLogin(t *testing.T) {
	t.Run("pages need a session", func(t *testing.T) {
		f := newOrderFixture(t)
		b := f.console()
		for _, path := range []string{"/console/", "/console/queue", "/console/orders/1", "/console/emergency", "/console/meetings"} {
			p := b.get(path)
			if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/login" {
				t.Fatalf("%s without a session: %d %v", path, p.Status, p.Header)
			}
		}
		p := b.send(http.MethodGet, "/console/queue", nil, "HX-Request", "true")
		if p.Status != http.StatusUnauthorized || p.Header.Get("HX-Redirect") != "/console/login" {
			t.Fatalf("htmx without a session: %d %v", p.Status, p.Header)
		}
	})
	t.Run("the mini-program confirms, the console gets its session once", func(t *testing.T) {
		f := newOrderFixture(t)
		b := f.console()
		tk := b.ticket()
		code := b.get("/console/login/code?ticket=" + tk)
		if code.Status != http.StatusOK || code.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("code image: %d %v", code.Status, code.Header)
		}
		if p := b.post("/console/login/poll", url.Values{"ticket": {tk}}); p.Status != http.StatusOK || !strings.Contains(p.Body, "等待扫码确认") {
			t.Fatalf("pending poll: %d %s", p.Status, p.Body)
		}
		// Another browser that read the ticket off the screen gets nothing.
		thief := f.console()
		thief.ticket()
		f.must(http.StatusNoContent, "POST", "/api/v1/console/tickets/"+tk+"/confirm", f.token("community"), nil)
		if p := thief.post("/console/login/poll", url.Values{"ticket": {tk}}); p.Status != http.StatusOK || thief.cookies[cookieSession] != nil {
			t.Fatalf("a poll without the ticket's secret: %d %v", p.Status, thief.cookies)
		}
		p := b.must(http.StatusNoContent, b.post("/console/login/poll", url.Values{"ticket": {tk}}), "poll")
		if p.Header.Get("HX-Redirect") != "/console/queue" {
			t.Fatalf("poll: %v", p.Header)
		}
		q := b.must(http.StatusOK, b.get("/console/queue"), "queue")
		if !strings.Contains(q.Body, "社区张书记") {
			t.Fatal("the queue does not name the person")
		}
		// The ticket served once.
		again := f.console()
		again.cookies = map[string]*http.Cookie{}
		if p := b.post("/console/login/poll", url.Values{"ticket": {tk}}); p.Status == http.StatusNoContent {
			t.Fatal("a ticket served twice")
		}
	})
	t.Run("a browser draws the code of its own ticket only", func(t *testing.T) {
		f := newOrderFixture(t)
		b := f.console()
		tk := b.ticket()
		other := f.console()
		mine := other.ticket()
		if p := other.get("/console/login/code?ticket=" + mine); p.Status != http.StatusOK {
			t.Fatalf("own code: %d", p.Status)
		}
		for _, scene := range []string{tk, "pages-of-my-choosing-0001", ""} {
			if p := other.get("/console/login/code?ticket=" + url.QueryEscape(scene)); p.Status != http.StatusNotFound ||
				p.Header.Get("Content-Type") == "image/png" || !strings.Contains(p.Body, "登录二维码无效") {
				t.Fatalf("code of ticket %q drawn for another browser: %d %v", scene, p.Status, p.Header)
			}
		}
		f.clock.Advance(10 * 60 * 1e9)
		if p := b.get("/console/login/code?ticket=" + tk); p.Status != http.StatusConflict {
			t.Fatalf("code of an expired ticket: %d", p.Status)
		}
	})
	t.Run("the mini-program's refusals", func(t *testing.T) {
		f := newOrderFixture(t)
		b := f.console()
		tk := b.ticket()
		r := f.must(http.StatusForbidden, "POST", "/api/v1/console/tickets/"+tk+"/confirm", f.token("resident"), nil)
		if r.ErrCode() != "console_staff_only" {
			t.Fatalf("resident: %s", r.Raw)
		}
		if r := f.must(http.StatusNotFound, "POST", "/api/v1/console/tickets/nosuchticketxxxxxx/confirm", f.token("community"), nil); r.ErrCode() != "ticket_not_found" {
			t.Fatalf("unknown: %s", r.Raw)
		}
		f.must(http.StatusUnauthorized, "POST", "/api/v1/console/tickets/"+tk+"/confirm", "", nil)
		f.must(http.StatusNoContent, "POST", "/api/v1/console/tickets/"+tk+"/confirm", f.token("community"), nil)
		if r := f.must(http.StatusConflict, "POST", "/api/v1/console/tickets/"+tk+"/confirm", f.token("street"), nil); r.ErrCode() != "ticket_used" {
			t.Fatalf("second person: %s", r.Raw)
		}
		f.clock.Advance(4 * 60 * 1e9)
		b2 := f.console()
		tk2 := b2.ticket()
		f.clock.Advance(4 * 60 * 1e9)
		if r := f.must(http.StatusConflict, "POST", "/api/v1/console/tickets/"+tk2+"/confirm", f.token("community"), nil); r.ErrCode() != "ticket_expired" {
			t.Fatalf("expired: %s", r.Raw)
		}
	})
	t.Run("the sandbox button confirms as a demo person", func(t *testing.T) {
		f := newOrderFixture(t)
		b := f.console()
		tk := b.ticket()
		p := b.must(http.StatusOK, b.post("/console/login/sandbox", url.Values{"ticket": {tk}, "person": {"sandbox:community"}}), "sandbox confirm")
		if !strings.Contains(p.Body, "已在") {
			t.Fatalf("sandbox confirm said %s", p.Body)
		}
		b.must(http.StatusNoContent, b.post("/console/login/poll", url.Values{"ticket": {tk}}), "poll")
		b.must(http.StatusOK, b.get("/console/queue"), "queue")
		// Only the offered people; a resident is refused by the service.
		tk = f.console().ticket()
		b3 := f.console()
		tk = b3.ticket()
		if p := b3.post("/console/login/sandbox", url.Values{"ticket": {tk}, "person": {"sandbox:admin"}}); p.Status != http.StatusBadRequest {
			t.Fatalf("a person not offered: %d", p.Status)
		}
		if p := b3.post("/console/login/sandbox", url.Values{"ticket": {tk}, "person": {"sandbox:resident"}}); p.Status != http.StatusForbidden ||
			!strings.Contains(p.Body, "仅供工作人员") || p.Header.Get("HX-Retarget") != "#flash" {
			t.Fatalf("resident: %d %v %s", p.Status, p.Header, p.Body)
		}
	})
	t.Run("no sandbox, no button", func(t *testing.T) {
		f := newOrderFixture(t)
		b := f.console()
		f.deps.Console.Sandbox = false
		f.router = NewRouter(f.deps)
		tk := b.ticket()
		if p := b.post("/console/login/sandbox", url.Values{"ticket": {tk}, "person": {"sandbox:community"}}); p.Status != http.StatusNotFound {
			t.Fatalf("sandbox confirm outside the sandbox: %d", p.Status)
		}
	})
}

func TestConsoleCSRF(t *testing.T) {
	f := newOrderFixture(t)
	b := f.console()
	b.logIn(f, "community")
	id := f.submitted("楼上漏水到我家")
	good := b.csrf
	for name, mod := range map[string]func(){
		"no token":      func() { b.csrf = "" },
		"a wrong token": func() { b.csrf = strings.Repeat("0", 32) },
		"another site":  func() { b.csrf, b.origin = good, "https://evil.example" },
	} {
		t.Run(name, func(t *testing.T) {
			mod()
			defer func() { b.csrf, b.origin = good, "" }()
			p := b.post(fmt.Sprintf("/console/orders/%d/act/urge", id), url.Values{})
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "页面已过期") {
				t.Fatalf("%d %s", p.Status, p.Body)
			}
			p = b.post("/console/logout", url.Values{})
			if p.Status != http.StatusForbidden {
				t.Fatalf("logout: %d", p.Status)
			}
		})
	}
	t.Run("the session's token passes, a pre-login token does not", func(t *testing.T) {
		pre := f.console()
		pre.get("/console/login")
		b.csrf = pre.csrf
		defer func() { b.csrf = good }()
		if p := b.post("/console/logout", url.Values{}); p.Status != http.StatusForbidden {
			t.Fatalf("a login page's token accepted for a session: %d", p.Status)
		}
	})
	t.Run("same-origin posts pass", func(t *testing.T) {
		b.origin = "http://example.com" // httptest's host
		defer func() { b.origin = "" }()
		b.must(http.StatusNoContent, b.post("/console/logout", url.Values{}), "logout")
		if p := b.get("/console/queue"); p.Status != http.StatusSeeOther {
			t.Fatalf("after logout: %d", p.Status)
		}
	})
}

func TestConsoleSessionEnds(t *testing.T) {
	t.Run("logging out in the mini-program logs the console out", func(t *testing.T) {
		f := newOrderFixture(t)
		b := f.console()
		b.logIn(f, "community")
		f.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", f.token("community"), nil)
		if p := b.get("/console/queue"); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/console/login" {
			t.Fatalf("after the phone logged out: %d %v", p.Status, p.Header)
		}
		if b.cookies[cookieSession] != nil {
			t.Fatal("the dead session cookie was kept")
		}
	})
	t.Run("a revoked grant stops acting at the next request", func(t *testing.T) {
		f := newOrderFixture(t)
		b := f.console()
		b.logIn(f, "community")
		id := f.submitted("消防通道被堵")
		b.must(http.StatusOK, b.get(fmt.Sprintf("/console/orders/%d", id)), "order before revocation")
		var g model.Grant
		if err := f.db.Where("user_id = ?", f.userID("community")).Take(&g).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := model.RevokeGrant(t.Context(), f.db, g.ID, f.userID("admin"), f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if p := b.get(fmt.Sprintf("/console/orders/%d", id)); p.Status != http.StatusForbidden && p.Status != http.StatusNotFound {
			t.Fatalf("order after revocation: %d", p.Status)
		}
		if p := b.post(fmt.Sprintf("/console/orders/%d/act/dispatch", id), url.Values{"handler": {fmt.Sprintf("firm:%d", f.city.Firm.ID)}}); p.Status < 400 {
			t.Fatalf("dispatch after revocation: %d", p.Status)
		}
	})
}

var rowOf = regexp.MustCompile(`<tr data-number="(GD\d+)">`)

func TestConsoleQueueAndOrder(t *testing.T) {
	f := newOrderFixture(t)
	b := f.console()
	b.logIn(f, "community")
	a := f.submitted("楼上装修噪音")
	c := f.submitted("邻居占用楼道")
	other := f.submitted("想加快递柜")

	t.Run("the queue lists what the dispatcher must dispatch, with lights", func(t *testing.T) {
		p := b.must(http.StatusOK, b.get("/console/queue"), "queue")
		if n := len(rowOf.FindAllString(p.Body, -1)); n != 3 {
			t.Fatalf("%d rows, want 3", n)
		}
		if !strings.Contains(p.Body, `class="dot green"`) || !strings.Contains(p.Body, "红心物业服务有限公司") {
			t.Fatal("no traffic light or no firm to dispatch to")
		}
	})
	t.Run("filters", func(t *testing.T) {
		for q, want := range map[string]int{
			"state=verified": 3, "state=submitted": 0, "level=community": 3, "level=street": 0,
			fmt.Sprintf("grid_id=%d", f.city.Grids[0].ID): 3, fmt.Sprintf("grid_id=%d", f.city.Grids[1].ID): 0,
			"overdue=1": 0, "category=dispute": 3, "category=environment": 0,
		} {
			p := b.must(http.StatusOK, b.send(http.MethodGet, "/console/queue?"+q, nil, "HX-Request", "true", "HX-Target", "queue"), q)
			if strings.Contains(p.Body, "<html") {
				t.Fatalf("%s: a whole page for a partial", q)
			}
			if n := len(rowOf.FindAllString(p.Body, -1)); n != want {
				t.Errorf("%s: %d rows, want %d", q, n, want)
			}
		}
		if p := b.get("/console/queue?level=moon"); p.Status != http.StatusBadRequest {
			t.Fatalf("bad level: %d", p.Status)
		}
	})
	t.Run("bulk dispatch: several orders to one firm, each through the order service", func(t *testing.T) {
		p := b.must(http.StatusOK, b.post("/console/orders/dispatch", url.Values{
			"ids": {fmt.Sprint(a), fmt.Sprint(c)}, "handler": {fmt.Sprintf("firm:%d", f.city.Firm.ID)},
			"deadline": {"2026-11-25T18:00"}, "queue": {"to_dispatch"}}), "bulk")
		if strings.Count(p.Body, "已派出") != 2 {
			t.Fatalf("results: %s", p.Body)
		}
		for _, id := range []int64{a, c} {
			o := f.get("community", fmt.Sprintf("/api/v1/orders/%d", id))
			if o["state"] != model.StateDispatched || orderNum(o["handler_id"]) != f.city.Firm.ID || o["due_at"] != "2026-11-25T18:00:00+08:00" {
				t.Fatalf("order %d after bulk dispatch: %v", id, o)
			}
		}
		if n := len(rowOf.FindAllString(p.Body, -1)); n != 1 {
			t.Fatalf("the queue after dispatch has %d rows, want 1", n)
		}
		// Dispatching the same orders again is a repeat; one the service
		// refuses says why, the others go on.
		p = b.must(http.StatusOK, b.post("/console/orders/dispatch", url.Values{
			"ids": {fmt.Sprint(other), "999999"}, "handler": {fmt.Sprintf("firm:%d", f.city.Firm.ID)}}), "bulk with a bad id")
		if !strings.Contains(p.Body, "已派出") || !strings.Contains(p.Body, "工单不存在") {
			t.Fatalf("mixed results: %s", p.Body)
		}
		if p := b.post("/console/orders/dispatch", url.Values{"handler": {"firm:1"}}); p.Status != http.StatusBadRequest {
			t.Fatalf("nothing picked: %d", p.Status)
		}
		if p := b.post("/console/orders/dispatch", url.Values{"ids": {fmt.Sprint(a)}, "handler": {"moon:1"}}); p.Status != http.StatusBadRequest {
			t.Fatalf("bad handler: %d", p.Status)
		}
	})
	t.Run("order detail offers what the person may do, and does it", func(t *testing.T) {
		p := b.must(http.StatusOK, b.get(fmt.Sprintf("/console/orders/%d", a)), "detail")
		for _, want := range []string{"楼上装修噪音", "办理过程", `id="act-urge"`, "派单"} {
			if !strings.Contains(p.Body, want) {
				t.Fatalf("detail lacks %q", want)
			}
		}
		if strings.Contains(p.Body, `id="act-accept"`) || strings.Contains(p.Body, `id="act-verify"`) {
			t.Fatal("the dispatcher is offered the firm's or the grid's action")
		}
		p = b.must(http.StatusOK, b.post(fmt.Sprintf("/console/orders/%d/act/urge", a), url.Values{"note": {"请今天处理"}}), "urge")
		if !strings.Contains(p.Body, "已督办") || !strings.Contains(p.Body, "请今天处理") {
			t.Fatalf("after urge: %.400s", p.Body)
		}
		p = b.post(fmt.Sprintf("/console/orders/%d/act/escalate", a), url.Values{"reason": {"涉及多个部门，需街道协调"}})
		b.must(http.StatusOK, p, "escalate")
		if o := f.get("street", fmt.Sprintf("/api/v1/orders/%d", a)); o["level"] != model.OrderLevelStreet {
			t.Fatalf("after escalate: %v", o["level"])
		}
		// The firm manager sees accept and return on its order, and
		// returning takes it out of the firm's sight.
		m := f.console()
		m.logIn(f, "manager")
		p = m.must(http.StatusOK, m.get(fmt.Sprintf("/console/orders/%d", c)), "manager detail")
		if !strings.Contains(p.Body, `id="act-accept"`) || !strings.Contains(p.Body, `id="act-return"`) || strings.Contains(p.Body, `id="act-urge"`) {
			t.Fatal("the manager's actions are wrong")
		}
		p = m.post(fmt.Sprintf("/console/orders/%d/act/return", c), url.Values{})
		if p.Status != http.StatusBadRequest || p.Header.Get("HX-Retarget") != "#flash" {
			t.Fatalf("return without reason: %d %v", p.Status, p.Header)
		}
		p = m.must(http.StatusOK, m.post(fmt.Sprintf("/console/orders/%d/act/return", c), url.Values{"reason": {"不属于物业服务范围"}}), "return")
		if o := f.get("community", fmt.Sprintf("/api/v1/orders/%d", c)); o["state"] != model.StateVerified {
			t.Fatalf("after return: %v", o["state"])
		}
	})
	t.Run("scope: another community's dispatcher sees nothing", func(t *testing.T) {
		o := f.console()
		o.logIn(f, "community2")
		if p := o.get(fmt.Sprintf("/console/orders/%d", other)); p.Status != http.StatusForbidden && p.Status != http.StatusNotFound {
			t.Fatalf("another community's order: %d", p.Status)
		}
		p := o.must(http.StatusOK, o.get("/console/queue?queue=all"), "queue")
		if n := len(rowOf.FindAllString(p.Body, -1)); n != 0 {
			t.Fatalf("another community sees %d orders", n)
		}
		if p := o.post(fmt.Sprintf("/console/orders/%d/act/urge", other), url.Values{}); p.Status < 400 {
			t.Fatalf("urge out of scope: %d", p.Status)
		}
		if p := o.post("/console/orders/dispatch", url.Values{"ids": {fmt.Sprint(other)}, "handler": {fmt.Sprintf("firm:%d", f.city.Firm.ID)}}); !strings.Contains(p.Body, "class=\"bad\"") {
			t.Fatalf("bulk dispatch out of scope: %s", p.Body)
		}
	})
}

func TestConsoleAllowedMatchesTheService(t *testing.T) {
	// Every action offered is one the service takes; every one not offered
	// it refuses for who or when (checked on copies of an order in each
	// state the loop reaches).
	f := newOrderFixture(t)
	for _, who := range []string{"community", "grid", "manager", "resident", "street"} {
		f.token(who)
	}
	id := f.submitted("电梯间灯不亮")
	v, err := f.deps.Order.Get(t.Context(), f.actorOf("community"), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"community", "grid", "manager", "resident", "street"} {
		a := f.actorOf(who)
		allowed := f.deps.Order.Allowed(a, v)
		for _, act := range order.Actions() {
			before := len(f.timeline(id))
			_, err := f.deps.Order.Act(t.Context(), a, id, act, order.Input{})
			offered := strings.Contains(","+strings.Join(allowed, ",")+",", ","+act+",")
			if err == nil && len(f.timeline(id)) == before {
				continue // a repeat of the person's own last act
			}
			if !offered && err == nil {
				t.Errorf("%s: %s not offered but taken", who, act)
			}
			var se *service.Error
			if offered && errors.As(err, &se) && (se.Kind == service.KindForbidden || se.Kind == service.KindConflict) {
				t.Errorf("%s: %s offered but refused: %v", who, act, err)
			}
			if err == nil {
				// Taken: the order moved; start again from a fresh one.
				id = f.submitted("电梯间灯不亮")
				v, _ = f.deps.Order.Get(t.Context(), f.actorOf("community"), id)
			}
		}
	}
}

func (f *orderFixture) actorOf(name string) *service.Actor {
	f.t.Helper()
	a, err := f.deps.Auth.Authenticate(f.t.Context(), f.token(name))
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

func TestConsolePhotos(t *testing.T) {
	f := newOrderFixture(t)
	p1 := f.upload("resident")
	r := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["environment"], "description": "垃圾桶满了没人清", "household_id": f.city.Households[0].ID,
		"photo_ids": []int64{p1},
	})
	id := orderNum(r.Body["id"])
	b := f.console()
	b.logIn(f, "community")
	p := b.must(http.StatusOK, b.get(fmt.Sprintf("/console/orders/%d", id)), "detail")
	if !strings.Contains(p.Body, fmt.Sprintf(`src="/console/photos/%d"`, p1)) {
		t.Fatal("the order's photo is not shown")
	}
	img := b.must(http.StatusOK, b.get(fmt.Sprintf("/console/photos/%d", p1)), "photo")
	if img.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(img.Body, "\x89PNG") {
		t.Fatalf("photo answered %v", img.Header)
	}
	o := f.console()
	o.logIn(f, "community2")
	if p := o.get(fmt.Sprintf("/console/photos/%d", p1)); p.Status != http.StatusNotFound {
		t.Fatalf("another community's dispatcher got the photo: %d", p.Status)
	}
}

func TestConsoleDashboardAndExports(t *testing.T) {
	f := newOrderFixture(t)
	f.submitted("楼道堆物")
	street := f.console()
	street.logIn(f, "street")
	p := street.must(http.StatusOK, street.get("/console/dashboard"), "street dashboard")
	if !strings.Contains(p.Body, `id="scope-name">文昌路街道`) || !strings.Contains(p.Body, `class="drill">双语社区`) {
		t.Fatalf("street dashboard: %.300s", p.Body)
	}
	t.Run("a dispatcher cannot open the street's figures", func(t *testing.T) {
		com := f.console()
		com.logIn(f, "community")
		p := com.get(fmt.Sprintf("/console/dashboard?scope_kind=street&scope_id=%d", f.city.StreetID))
		if p.Status != http.StatusForbidden && p.Status != http.StatusNotFound {
			t.Fatalf("community on the street dashboard: %d", p.Status)
		}
		own := com.must(http.StatusOK, com.get("/console/dashboard"), "own dashboard")
		if !strings.Contains(own.Body, `id="scope-name">双语社区`) {
			t.Fatalf("the community's own dashboard: %.300s", own.Body)
		}
	})
	t.Run("返回上级 goes one level up, within the person's scopes", func(t *testing.T) {
		up := regexp.MustCompile(`<a href="([^"]*)" id="dash-up">`)
		link := func(c *browser, q string) string {
			t.Helper()
			p := c.must(http.StatusOK, c.get("/console/dashboard"+q), q)
			m := up.FindStringSubmatch(p.Body)
			if m == nil {
				return ""
			}
			return html.UnescapeString(m[1])
		}
		com, grid := f.city.Communities[0].ID, f.city.Grids[0].ID
		for _, tc := range []struct {
			who  *browser
			at   string
			want string // the scope linked to, "" for no link
		}{
			{street, "", ""},
			{street, fmt.Sprintf("?scope_kind=community&scope_id=%d", com), fmt.Sprintf("scope_kind=street&scope_id=%d", f.city.StreetID)},
			{street, fmt.Sprintf("?scope_kind=grid&scope_id=%d", grid), fmt.Sprintf("scope_kind=community&scope_id=%d", com)},
		} {
			got := link(tc.who, tc.at)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("at %q: up goes to %q, want %q", tc.at, got, tc.want)
			}
		}
		dispatcher := f.console()
		dispatcher.logIn(f, "community")
		if got, want := link(dispatcher, fmt.Sprintf("?scope_kind=grid&scope_id=%d", grid)), fmt.Sprintf("scope_kind=community&scope_id=%d", com); !strings.Contains(got, want) {
			t.Errorf("the dispatcher's grid: up goes to %q, want %q", got, want)
		}
		if got := link(dispatcher, ""); got != "" {
			t.Errorf("the dispatcher's own community: up goes to %q, want no link", got)
		}
	})
	t.Run("a grid worker's own dashboard, which has nothing under it", func(t *testing.T) {
		grid := f.console()
		grid.logIn(f, "grid")
		p := grid.must(http.StatusOK, grid.get("/console/dashboard"), "grid dashboard")
		if !strings.Contains(p.Body, `id="scope-name">`) || strings.Contains(p.Body, `class="drill">`) {
			t.Fatalf("grid dashboard: %.300s", p.Body)
		}
	})
	t.Run("bad input is a 400 page", func(t *testing.T) {
		for _, q := range []string{"?scope_kind=street&scope_id=x", "?from=2026-13-01", "?rank=height"} {
			if p := street.get("/console/dashboard" + q); p.Status != http.StatusBadRequest {
				t.Errorf("%s: %d", q, p.Status)
			}
		}
	})
	t.Run("an export is a job of the person, downloadable when done", func(t *testing.T) {
		p := street.must(http.StatusOK, street.post("/console/exports", url.Values{"kind": {"dashboard"},
			"scope": {fmt.Sprintf("street:%d", f.city.StreetID)}}), "start")
		if !strings.Contains(p.Body, `data-state="queued"`) || !strings.Contains(p.Body, `hx-trigger="every 1s"`) {
			t.Fatalf("started: %s", p.Body)
		}
		if err := f.deps.Export.Pass(t.Context()); err != nil {
			t.Fatal(err)
		}
		p = street.must(http.StatusOK, street.get("/console/exports/list"), "list")
		if !strings.Contains(p.Body, `data-state="done"`) || strings.Contains(p.Body, "hx-trigger") {
			t.Fatalf("after the pass: %s", p.Body)
		}
		m := regexp.MustCompile(`href="(/console/exports/\d+/file)"`).FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatal("no download link")
		}
		file := street.must(http.StatusOK, street.get(m[1]), "download")
		if !strings.HasPrefix(file.Body, "PK") {
			t.Fatal("not an xlsx")
		}
		other := f.console()
		other.logIn(f, "community")
		if p := other.get(m[1]); p.Status != http.StatusNotFound && p.Status != http.StatusForbidden {
			t.Fatalf("someone else's export: %d", p.Status)
		}
		if p := street.post("/console/exports", url.Values{"kind": {"lottery"}}); p.Status != http.StatusBadRequest {
			t.Fatalf("bad kind: %d", p.Status)
		}
	})
}

func TestConsoleCookiesSecureInProduction(t *testing.T) {
	f := newOrderFixture(t)
	b := f.console()
	f.deps.Console.SecureCookies = true
	f.router = NewRouter(f.deps)
	b.logIn(f, "community")
	for name, c := range b.cookies {
		if !c.Secure || !c.HttpOnly {
			t.Errorf("cookie %s: Secure %v HttpOnly %v", name, c.Secure, c.HttpOnly)
		}
	}
	if b.cookies[cookieSession] == nil {
		t.Fatal("no session cookie")
	}
}

// TestConsoleCSRFKeyed: the token is an HMAC under the server's key, so
// a token computed from the cookie alone (or under another key) is
// refused, and a second instance with the same key accepts the first's.
func TestConsoleCSRFKeyed(t *testing.T) {
	f := newOrderFixture(t)
	b := f.console()
	f.deps.Console.CSRFKey = ConsoleCSRFKey([]byte("the deployment's secret of 32+ characters"))
	f.router = NewRouter(f.deps)
	b.logIn(f, "community")
	id := f.submitted("楼上漏水到我家")
	good := b.csrf
	cookie := b.cookies[cookieSession].Value
	plain := sha256.Sum256([]byte("redprop console csrf\x00" + cookie))
	other := hmac.New(sha256.New, ConsoleCSRFKey([]byte("somebody else's secret of 32+ chars")))
	other.Write([]byte(cookie))
	urge := func(token string) int {
		b.csrf = token
		defer func() { b.csrf = good }()
		return b.post(fmt.Sprintf("/console/orders/%d/act/urge", id), url.Values{"note": {"请今天处理"}}).Status
	}
	for name, token := range map[string]string{
		"a digest of the cookie without the key": hex.EncodeToString(plain[:16]),
		"an HMAC under another key":              hex.EncodeToString(other.Sum(nil)[:16]),
	} {
		if st := urge(token); st != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, st)
		}
	}
	f.router = NewRouter(f.deps) // another instance with the same secret
	// The order is still with the grid worker, so the urge itself is
	// refused (409) by the service: the token got the request that far.
	if st := urge(good); st != http.StatusConflict {
		t.Fatalf("the same key on another instance: %d, want the service's 409", st)
	}
	f.deps.Console.CSRFKey = ConsoleCSRFKey([]byte("a rotated secret of at least 32 chars"))
	f.router = NewRouter(f.deps)
	if st := urge(good); st != http.StatusForbidden {
		t.Fatalf("after the secret changed: %d, want 403", st)
	}
}
