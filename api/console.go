package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/service"
	"redprop/service/auth"
	"redprop/service/order"
)

// The PC console (电脑端) at /console/: server-rendered pages in Chinese
// with htmx for partial updates, embedded in the binary. Every page and
// action calls the same service methods as the API, as the person logged
// in; the console adds no rule of its own. Its session is a cookie given
// by scan login (service/auth/scan.go); every state-changing request
// carries a CSRF token derived from that cookie.

//go:embed console/templates console/static
var consoleFiles embed.FS

// ConsoleOptions configure the console.
type ConsoleOptions struct {
	// Sandbox shows the ticket with buttons that confirm it as a demo
	// person, and the buttons that make demo residents act.
	Sandbox bool
	// SecureCookies marks the cookies Secure (production, behind TLS).
	SecureCookies bool
	// WxaPage is the mini-program page the login code opens.
	WxaPage string
	// Codes draws the mini-program code of a ticket (WeChat, or the
	// sandbox's stand-in); nil shows the ticket only.
	Codes WxaCoder
	// Demo lists the people the sandbox login may confirm as.
	Demo []ConsoleDemoPerson
	// DemoActs makes demo residents report and call (sandbox only; nil
	// hides the buttons).
	DemoActs ConsoleDemo
	// Clock names the current quarter and month the evaluation pages
	// open on; nil is the system clock.
	Clock service.Clock
	// CSRFKey signs the CSRF tokens (ConsoleCSRFKey of the server's
	// secret), so instances sharing the secret accept each other's
	// tokens and nobody without it can compute one from a cookie. Empty
	// takes a random key: tokens then hold within this process only.
	CSRFKey []byte
}

// ConsoleCSRFKey derives the console's CSRF key from the server's secret
// (the one that signs tokens), so the secret itself never keys two
// things.
func ConsoleCSRFKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("redprop console csrf key"))
	return m.Sum(nil)
}

// WxaCoder draws a mini-program code.
type WxaCoder interface {
	WxaCode(ctx context.Context, scene, page string) ([]byte, error)
}

// ConsoleDemoPerson is a sandbox login choice.
type ConsoleDemoPerson struct {
	Code, Name, About string
}

// ConsoleDemo is what the sandbox console can make demo residents do,
// through the same services as their mini-program would.
type ConsoleDemo interface {
	Report(ctx context.Context) (order.View, error)
	Call(ctx context.Context) (order.CallView, error)
}

const (
	cookieSession = "rp_console"
	cookiePre     = "rp_pre"  // before login: the CSRF seed of the login page
	cookiePoll    = "rp_poll" // the poll secret of this browser's ticket
	headerCSRF    = "X-CSRF-Token"
	keyConsole    = "redprop.console"
)

// consoleState is what a console request knows of its browser.
type consoleState struct {
	csrf string
}

var (
	errCSRF           = service.Forbidden("csrf_failed", "页面已过期，请刷新后重试")
	errConsoleSandbox = service.NotFound("route_not_found", "接口不存在")
	errDemoPerson     = service.Invalid("bad_person", "请选择一位演示人员")
)

// consoleRoutes registers the console's pages on the engine and the
// mini-program's confirmation on the API.
func (h *handlers) consoleRoutes(r *gin.Engine, authed *gin.RouterGroup) {
	authed.POST("/console/tickets/:ticket/confirm", h.confirmConsoleTicket)

	tpl := template.Must(template.New("").Funcs(consoleFuncs).Funcs(evalFuncs).ParseFS(consoleFiles, "console/templates/*.html"))
	static, _ := fs.Sub(consoleFiles, "console/static")
	cs := &console{h: h, tpl: tpl, opts: h.Console}
	if len(cs.opts.CSRFKey) == 0 {
		cs.opts.CSRFKey = make([]byte, 32)
		_, _ = rand.Read(cs.opts.CSRFKey)
	}
	g := r.Group("/console", cs.guardCSRF)
	files := http.StripPrefix("/console/static/", http.FileServer(http.FS(static)))
	g.GET("/static/*file", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(c.Writer, c.Request)
	})
	g.GET("/login", cs.loginPage)
	g.POST("/login/ticket", cs.newTicket)
	g.GET("/login/code", cs.ticketCode)
	g.POST("/login/poll", cs.poll)
	g.POST("/login/sandbox", cs.sandboxConfirm)

	in := g.Group("", cs.requireSession)
	in.GET("/", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, "/console/queue") })
	in.POST("/logout", cs.logout)
	cs.pageRoutes(in)
}

// confirmConsoleTicket is the mini-program's 确认登录电脑端.
func (h *handlers) confirmConsoleTicket(c *gin.Context) {
	if err := h.Auth.ConfirmTicket(c.Request.Context(), actor(c), c.Param("ticket")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type console struct {
	h    *handlers
	tpl  *template.Template
	opts ConsoleOptions
}

// csrfOf derives the CSRF token of a cookie value, an HMAC under the
// server's key: only a page this server rendered for that browser knows
// it (the cookie is HttpOnly), and knowing the cookie is not enough.
func (cs *console) csrfOf(cookie string) string {
	if cookie == "" {
		return ""
	}
	m := hmac.New(sha256.New, cs.opts.CSRFKey)
	m.Write([]byte(cookie))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (cs *console) setCookie(c *gin.Context, name, value, path string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: cs.opts.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// guardCSRF gives every browser a CSRF seed and refuses a state-changing
// request whose token does not match its session (or, before login, its
// seed), or that comes from another origin.
func (cs *console) guardCSRF(c *gin.Context) {
	seed, _ := c.Cookie(cookieSession)
	if seed == "" {
		seed, _ = c.Cookie(cookiePre)
	}
	if seed == "" && c.Request.Method == http.MethodGet {
		seed = randomHex(16)
		cs.setCookie(c, cookiePre, seed, "/console", 0)
	}
	st := &consoleState{csrf: cs.csrfOf(seed)}
	c.Set(keyConsole, st)
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	got := c.GetHeader(headerCSRF)
	if got == "" {
		got = c.PostForm("_csrf")
	}
	if st.csrf == "" || subtle.ConstantTimeCompare([]byte(got), []byte(st.csrf)) != 1 || !sameOrigin(c.Request) {
		cs.fail(c, errCSRF)
		return
	}
	c.Next()
}

// sameOrigin: a browser's cross-site POST says where it comes from.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return origin == ""
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requireSession authenticates the console cookie as the API does a
// token: a session ended, from here or the mini-program, sends the
// browser to the login page.
func (cs *console) requireSession(c *gin.Context) {
	cookie, _ := c.Cookie(cookieSession)
	a, err := cs.h.Auth.AuthenticateConsole(c.Request.Context(), cookie)
	if err != nil {
		var se *service.Error
		if errors.As(err, &se) && se.Kind == service.KindUnauthorized {
			if cookie != "" {
				cs.setCookie(c, cookieSession, "", "/console", -1)
			}
			cs.toLogin(c)
			return
		}
		cs.fail(c, err)
		return
	}
	c.Set(keyActor, a)
	c.Next()
}

func (cs *console) toLogin(c *gin.Context) {
	if c.GetHeader("HX-Request") != "" {
		c.Header("HX-Redirect", "/console/login")
		c.AbortWithStatus(http.StatusUnauthorized)
		return
	}
	c.Redirect(http.StatusSeeOther, "/console/login")
	c.Abort()
}

// page is what every template gets.
type consolePage struct {
	Title   string
	Nav     string
	CSRF    string
	Sandbox bool
	Me      *service.Actor
	Navs    []navLink // the header's entries the person's grants make useful
	Flash   string
	Error   string
	Data    any

	// name reads the person's display name; only a whole page's header
	// asks for it, not the fragments htmx polls every few seconds.
	name func() string
}

// MeName is the display name the page's header shows.
func (p consolePage) MeName() string {
	if p.name == nil {
		return ""
	}
	return p.name()
}

func (cs *console) page(c *gin.Context, title, nav string, data any) consolePage {
	st, _ := c.Get(keyConsole)
	p := consolePage{Title: title, Nav: nav, Sandbox: cs.opts.Sandbox, Me: actor(c), Data: data}
	if s, ok := st.(*consoleState); ok {
		p.CSRF = s.csrf
	}
	if a := p.Me; a != nil {
		p.Navs = navOf(a)
		ctx := c.Request.Context()
		p.name = func() string {
			if m, err := cs.h.Auth.Me(ctx, a); err == nil {
				return m.User.DisplayName
			}
			return ""
		}
	}
	return p
}

// render writes a template; a partial when name is one.
func (cs *console) render(c *gin.Context, status int, name string, p consolePage) {
	var buf bytes.Buffer
	if err := cs.tpl.ExecuteTemplate(&buf, name, p); err != nil {
		// Nothing of a page that failed half-way is sent.
		_ = c.Error(err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<p class=\"flash error\">" + errInternal.Message + "</p>")
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Header("X-Frame-Options", "DENY")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// fail answers an error in the console's language: a full page, or for
// htmx a message in the page's flash area.
func (cs *console) fail(c *gin.Context, err error) {
	var e *service.Error
	status := http.StatusInternalServerError
	msg := errInternal.Message
	if errors.As(err, &e) {
		if s, ok := statusOf[e.Kind]; ok {
			status = s
		}
		msg = e.Message
		if e.Err != nil {
			_ = c.Error(err)
		}
	} else {
		_ = c.Error(err)
	}
	p := cs.page(c, "出错了", "", nil)
	p.Error = msg
	if c.GetHeader("HX-Request") != "" {
		c.Header("HX-Retarget", "#flash")
		c.Header("HX-Reswap", "innerHTML")
		cs.render(c, status, "flash", p)
	} else {
		cs.render(c, status, "error", p)
	}
	c.Abort()
}

// ---- scan login

type loginData struct {
	Ticket    string
	ExpiresAt time.Time
	Code      bool // a code image can be drawn
	Demo      []ConsoleDemoPerson
	State     string
}

func (cs *console) loginPage(c *gin.Context) {
	if cookie, _ := c.Cookie(cookieSession); cookie != "" {
		if _, err := cs.h.Auth.AuthenticateConsole(c.Request.Context(), cookie); err == nil {
			c.Redirect(http.StatusSeeOther, "/console/queue")
			return
		}
	}
	cs.render(c, http.StatusOK, "login", cs.page(c, "扫码登录", "login", nil))
}

func (cs *console) newTicket(c *gin.Context) {
	t, err := cs.h.Auth.NewTicket(c.Request.Context())
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.setCookie(c, cookiePoll, t.PollSecret, "/console/login", int(t.TTL.Seconds())+60)
	d := loginData{Ticket: t.Ticket, ExpiresAt: t.ExpiresAt, Code: cs.opts.Codes != nil, State: auth.TicketPending}
	if cs.opts.Sandbox {
		d.Demo = cs.opts.Demo
	}
	cs.render(c, http.StatusOK, "ticket", cs.page(c, "", "", d))
}

// ticketCode draws the code of the browser's own ticket: nobody else can
// spend the account's daily quota of codes through it.
func (cs *console) ticketCode(c *gin.Context) {
	poll, _ := c.Cookie(cookiePoll)
	ticket := c.Query("ticket")
	if cs.opts.Codes == nil {
		cs.fail(c, auth.ErrTicketMissing)
		return
	}
	if err := cs.h.Auth.CheckTicket(c.Request.Context(), ticket, poll); err != nil {
		cs.fail(c, err)
		return
	}
	img, err := cs.opts.Codes.WxaCode(c.Request.Context(), ticket, cs.opts.WxaPage)
	if err != nil {
		cs.fail(c, err)
		return
	}
	c.Header("Cache-Control", "private, max-age=300")
	c.Data(http.StatusOK, http.DetectContentType(img), img)
}

func (cs *console) poll(c *gin.Context) {
	poll, _ := c.Cookie(cookiePoll)
	ticket := c.PostForm("ticket")
	claim, err := cs.h.Auth.ClaimTicket(c.Request.Context(), ticket, poll)
	if err != nil {
		cs.fail(c, err)
		return
	}
	if claim.State == auth.TicketConfirmed {
		cs.setCookie(c, cookiePoll, "", "/console/login", -1)
		cs.setCookie(c, cookiePre, "", "/console", -1)
		cs.setCookie(c, cookieSession, claim.Session, "/console", int(claim.TTL.Seconds()))
		c.Header("HX-Redirect", "/console/queue")
		c.Status(http.StatusNoContent)
		return
	}
	d := loginData{Ticket: ticket, State: claim.State}
	cs.render(c, http.StatusOK, "poll", cs.page(c, "", "", d))
}

// sandboxConfirm does what the mini-program does on a scan: log the demo
// person in and confirm the ticket with their token.
func (cs *console) sandboxConfirm(c *gin.Context) {
	if !cs.opts.Sandbox {
		cs.fail(c, errConsoleSandbox)
		return
	}
	code := c.PostForm("person")
	known := false
	for _, p := range cs.opts.Demo {
		known = known || p.Code == code
	}
	if !known {
		cs.fail(c, errDemoPerson)
		return
	}
	ctx := c.Request.Context()
	tok, _, err := cs.h.Auth.Login(ctx, code, c.ClientIP())
	if err != nil {
		cs.fail(c, err)
		return
	}
	a, err := cs.h.Auth.Authenticate(ctx, tok.AccessToken)
	if err == nil {
		err = cs.h.Auth.ConfirmTicket(ctx, a, c.PostForm("ticket"))
	}
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "", nil)
	p.Flash = "已在“小程序”中确认登录，正在进入电脑端…"
	cs.render(c, http.StatusOK, "flash", p)
}

func (cs *console) logout(c *gin.Context) {
	cookie, _ := c.Cookie(cookieSession)
	if err := cs.h.Auth.EndConsole(c.Request.Context(), cookie); err != nil {
		cs.fail(c, err)
		return
	}
	cs.setCookie(c, cookieSession, "", "/console", -1)
	c.Header("HX-Redirect", "/console/login")
	c.Status(http.StatusNoContent)
}
