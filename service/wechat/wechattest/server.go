// Package wechattest is a fake WeChat API server for tests: the endpoints
// service/wechat calls, with WeChat's JSON shapes and error codes, single-use
// codes, revocable access tokens per app, one-time subscribe quotas and
// per-type field limits, the service account's followers and template
// messages, and both accounts' own template lists (SetTemplates). Point
// wechat.Options.BaseURL (and wechat.OAOptions.BaseURL) at URL().
package wechattest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The endpoints the fake answers, as paths under URL().
const (
	Code2Session  = "/sns/jscode2session"
	PhoneNumber   = "/wxa/business/getuserphonenumber"
	StableToken   = "/cgi-bin/stable_token"
	Token         = "/cgi-bin/token"
	SubscribeSend = "/cgi-bin/message/subscribe/send"
	MsgSecCheck   = "/wxa/msg_sec_check"
	// The service account's.
	OAUserInfo     = "/cgi-bin/user/info"
	OATemplateSend = "/cgi-bin/message/template/send"
	// The accounts' own template lists.
	SubscribeTemplates = "/wxaapi/newtmpl/gettemplate"
	OATemplates        = "/cgi-bin/template/get_all_private_template"
	// Mini-program codes (the PC console's scan login).
	WxaCodeUnlimit = "/wxa/getwxacodeunlimit"
)

// Default credentials the fake accepts: the mini-program's and the
// service account's. A token of one app is refused (48001) by the other's
// endpoints.
const (
	AppID       = "wxfake00000000001"
	AppSecret   = "fake-app-secret"
	OAAppID     = "wxfakeoa000000001"
	OAAppSecret = "fake-oa-secret"
)

// Request is one request the fake received and what it answered.
type Request struct {
	Endpoint    string
	Query       url.Values     // the query string (GET parameters, access_token)
	Body        map[string]any // the decoded JSON body of a POST
	AccessToken string
	Status      int // HTTP status: 503 while failing
	ErrCode     int // WeChat's errcode in the answer; 0 is success
	MsgID       int // the msgid a subscribe send was answered with
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	appID    string
	secret   string
	oaAppID  string
	oaSecret string
	sessions map[string]session // login code → user
	phones   map[string]string  // phone code → number
	used     map[string]bool    // spent login and phone codes
	quota    map[[2]string]int  // (openid, template id) → accepts left
	flags    []flag
	inject   map[string][]int
	delay    map[string]time.Duration
	failing  bool
	hang     map[string]chan struct{} // endpoint → closed when it answers again
	valid    map[string]string        // access tokens WeChat still accepts → their AppID
	stable   map[string]string        // AppID → the current stable token
	plain    map[string]string        // AppID → the current /cgi-bin/token token
	seq      int
	requests []Request

	followers map[string]*follower // the service account's openid → follower
	refused   map[[2]string]bool   // (openid, template id) turned off in the account
	clientMsg map[[2]string]int    // (openid, client_msg_id) → the msgid it got
	templates []templatePush       // template messages delivered

	// The accounts' own templates (SetTemplates, SetOATemplates); nil
	// until a test sets them.
	mpList, oaList []Template

	pages map[string]bool // the released build's pages (Publish)
}

type follower struct {
	unionID   string
	following bool
}

type session struct{ openID, unionID string }

type flag struct {
	word, suggest string
	label         int
}

// NewServer starts a fake that accepts AppID and AppSecret and stops when
// the test ends.
func NewServer(t testing.TB) *Server {
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake that accepts AppID and AppSecret on loopback, for
// programs such as the benchmark; Close stops it.
func Start() *Server {
	s := &Server{
		appID: AppID, secret: AppSecret, oaAppID: OAAppID, oaSecret: OAAppSecret,
		sessions: map[string]session{}, phones: map[string]string{}, used: map[string]bool{},
		quota: map[[2]string]int{}, inject: map[string][]int{}, delay: map[string]time.Duration{}, valid: map[string]string{},
		stable: map[string]string{}, plain: map[string]string{},
		followers: map[string]*follower{}, refused: map[[2]string]bool{}, clientMsg: map[[2]string]int{},
		pages: map[string]bool{"pages/index/index": true},
	}
	s.srv = httptest.NewServer(s)
	return s
}

// URL is the base URL to put in wechat.Options.BaseURL.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server: later calls are refused at the TCP level.
func (s *Server) Close() {
	s.mu.Lock()
	for ep, ch := range s.hang { // a hung call would hold Close for ever
		close(ch)
		delete(s.hang, ep)
	}
	s.mu.Unlock()
	s.srv.Close()
}

// Hang makes calls to endpoint (e.g. MsgSecCheck) wait without an answer,
// as a WeChat that accepted the connection and froze does, until the
// caller gives up or Hang(endpoint, false). Such calls are recorded with
// Status 0.
func (s *Server) Hang(endpoint string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.hang[endpoint]
	switch {
	case on && ch == nil:
		if s.hang == nil {
			s.hang = map[string]chan struct{}{}
		}
		s.hang[endpoint] = make(chan struct{})
	case !on && ch != nil:
		close(ch)
		delete(s.hang, endpoint)
	}
}

// SetCredentials changes the mini-program's AppID and secret the fake
// accepts (40013 and 40125 answer the wrong ones).
func (s *Server) SetCredentials(appID, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appID, s.secret = appID, secret
}

// Follow makes openID (the service account's openid of a person) a
// follower, with unionID ("" when the account is not bound to the open
// platform). Following again after Unfollow keeps the openid.
func (s *Server) Follow(openID, unionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.followers[openID] = &follower{unionID: unionID, following: true}
}

// Unfollow makes openID stop following the service account: template
// messages to it answer 43004.
func (s *Server) Unfollow(openID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.followers[openID]; f != nil {
		f.following = false
	}
}

// RefuseTemplate has openID turn off template messages of templateID in
// the account's settings: they answer 43101.
func (s *Server) RefuseTemplate(openID, templateID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[[2]string{openID, templateID}] = true
}

// AddCode makes a wx.login code valid, once, for the user openID.
func (s *Server) AddCode(code, openID, unionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[code] = session{openID, unionID}
}

// AddPhoneCode makes a getPhoneNumber code valid, once, for phone.
func (s *Server) AddPhoneCode(code, phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phones[code] = phone
}

// Accept records n taps on "allow" in wx.requestSubscribeMessage: openID
// may then receive n pushes of templateID. Without it a push answers 43101.
func (s *Server) Accept(openID, templateID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quota[[2]string{openID, templateID}] += n
}

// Quota is how many pushes of templateID openID may still receive.
func (s *Server) Quota(openID, templateID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quota[[2]string{openID, templateID}]
}

// Flag makes the content check answer suggest ("risky" or "review") with
// label (e.g. 20003 abuse) for any text containing word.
func (s *Server) Flag(word, suggest string, label int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flags = append(s.flags, flag{word, suggest, label})
}

// Inject makes the next len(codes) calls of endpoint answer these errcodes,
// one each, in order, before any other check.
func (s *Server) Inject(endpoint string, codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inject[endpoint] = append(s.inject[endpoint], codes...)
}

// Delay makes every call of endpoint wait d after its request arrived
// and before it is handled (a slow or hanging WeChat): the call is acted
// on even when the caller gave up or died meanwhile.
func (s *Server) Delay(endpoint string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay[endpoint] = d
}

// Fail makes every endpoint answer 503 (as a gateway in front of a WeChat
// outage would) until Fail(false). Close gives connection refused instead.
func (s *Server) Fail(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = on
}

// InvalidateTokens revokes every access token issued so far, of both
// apps: calls with them answer 40001 and the next token request issues a
// new one.
func (s *Server) InvalidateTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.valid)
	clear(s.stable)
	clear(s.plain)
}

// Requests returns every request received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Calls counts the requests received for endpoint.
func (s *Server) Calls(endpoint string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

type answer map[string]any

// errmsgs are WeChat's texts for the codes the fake answers.
var errmsgs = map[int]string{
	-1:    "system error",
	40001: "invalid credential, access_token is invalid or not latest",
	40002: "invalid grant_type",
	40003: "invalid openid",
	40013: "invalid appid",
	40014: "invalid access_token",
	40029: "invalid code",
	40037: "invalid template_id",
	40125: "invalid appsecret",
	40163: "code been used",
	41001: "access_token missing",
	41008: "missing code",
	41009: "missing openid",
	42001: "access_token expired",
	43001: "require GET method",
	43002: "require POST method",
	43004: "require subscribe",
	43101: "user refuse to accept the msg",
	45011: "api minute-quota reach limit  mustslower  retry next minute",
	47001: "data format error",
	47003: "argument invalid!",
	48001: "api unauthorized",
	87014: "risky content",
	40097: "invalid args",
	40129: "invalid scene",
	41030: "invalid page",
	45009: "reach max api daily quota limit",
}

func refuse(code int, detail ...string) answer {
	msg := errmsgs[code]
	if msg == "" {
		msg = "error"
	}
	if len(detail) > 0 {
		msg += " " + strings.Join(detail, " ")
	}
	return answer{"errcode": code, "errmsg": msg}
}

func ok(a answer) answer {
	a["errcode"], a["errmsg"] = 0, "ok"
	return a
}

// Which app's token an endpoint takes.
const (
	noToken = iota
	mpToken
	oaToken
)

type endpoint struct {
	method string
	token  int
	handle func(s *Server, r *Request) answer
}

var endpoints = map[string]endpoint{
	Code2Session:       {http.MethodGet, noToken, (*Server).code2Session},
	PhoneNumber:        {http.MethodPost, mpToken, (*Server).phoneNumber},
	StableToken:        {http.MethodPost, noToken, (*Server).stableToken},
	Token:              {http.MethodGet, noToken, (*Server).token},
	SubscribeSend:      {http.MethodPost, mpToken, (*Server).subscribeSend},
	MsgSecCheck:        {http.MethodPost, mpToken, (*Server).msgSecCheck},
	OAUserInfo:         {http.MethodGet, oaToken, (*Server).oaUserInfo},
	OATemplateSend:     {http.MethodPost, oaToken, (*Server).oaTemplateSend},
	SubscribeTemplates: {http.MethodGet, mpToken, (*Server).subscribeTemplates},
	OATemplates:        {http.MethodGet, oaToken, (*Server).oaTemplates},
	WxaCodeUnlimit:     {http.MethodPost, mpToken, (*Server).wxaCodeUnlimit},
}

func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	ep, known := endpoints[hr.URL.Path]
	if !known {
		http.NotFound(w, hr)
		return
	}
	r := Request{Endpoint: hr.URL.Path, Query: hr.URL.Query(), Status: http.StatusOK}
	r.AccessToken = r.Query.Get("access_token")
	bodyErr := error(nil)
	if hr.Method == http.MethodPost {
		bodyErr = json.NewDecoder(hr.Body).Decode(&r.Body)
	}

	s.mu.Lock()
	if ch := s.hang[r.Endpoint]; ch != nil {
		r.Status = 0
		s.requests = append(s.requests, r)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-hr.Context().Done():
		}
		return
	}
	d := s.delay[r.Endpoint]
	s.mu.Unlock()
	time.Sleep(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		r.Status = http.StatusServiceUnavailable
		s.requests = append(s.requests, r)
		http.Error(w, "503 Service Temporarily Unavailable", r.Status)
		return
	}
	var a answer
	switch {
	case hr.Method != ep.method && ep.method == http.MethodGet:
		a = refuse(43001)
	case hr.Method != ep.method:
		a = refuse(43002)
	case len(s.inject[r.Endpoint]) > 0:
		a = refuse(s.inject[r.Endpoint][0])
		s.inject[r.Endpoint] = s.inject[r.Endpoint][1:]
	case bodyErr != nil:
		a = refuse(47001)
	case ep.token != noToken && r.AccessToken == "":
		a = refuse(41001)
	case ep.token != noToken && s.valid[r.AccessToken] == "":
		a = refuse(40001)
	case ep.token == mpToken && s.valid[r.AccessToken] != s.appID,
		ep.token == oaToken && s.valid[r.AccessToken] != s.oaAppID:
		a = refuse(48001) // the other app's token
	default:
		a = ep.handle(s, &r)
	}
	r.ErrCode, _ = a["errcode"].(int)
	r.MsgID, _ = a["msgid"].(int)
	s.requests = append(s.requests, r)
	if img, isImage := a[imageAnswer].([]byte); isImage {
		// WeChat answers a code as the image itself, errors as JSON.
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(img)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(a)
}

func (s *Server) newToken(appID string) string {
	s.seq++
	tok := fmt.Sprintf("fake_token_%d_%s", s.seq, randomString(8))
	s.valid[tok] = appID
	return tok
}

// checkApp accepts either app's credentials for a token, the
// mini-program's alone for a login code.
func (s *Server) checkApp(grantType, wantGrant, appID, secret string) answer {
	want := map[string]string{s.appID: s.secret}
	if wantGrant == "client_credential" {
		want[s.oaAppID] = s.oaSecret
	}
	known, ok := want[appID]
	switch {
	case grantType != wantGrant:
		return refuse(40002)
	case !ok:
		return refuse(40013)
	case secret != known:
		return refuse(40125)
	}
	return nil
}

// stableToken answers the current token and leaves it valid unless
// force_refresh is set, so instances sharing an AppID never revoke each
// other's tokens.
func (s *Server) stableToken(r *Request) answer {
	grant, _ := r.Body["grant_type"].(string)
	appID, _ := r.Body["appid"].(string)
	secret, _ := r.Body["secret"].(string)
	if a := s.checkApp(grant, "client_credential", appID, secret); a != nil {
		return a
	}
	if force, _ := r.Body["force_refresh"].(bool); force || s.stable[appID] == "" {
		delete(s.valid, s.stable[appID])
		s.stable[appID] = s.newToken(appID)
	}
	return answer{"access_token": s.stable[appID], "expires_in": 7200}
}

// token issues a new token and revokes the previous one on every call
// (WeChat keeps the old one for five minutes; the fake is stricter).
func (s *Server) token(r *Request) answer {
	if a := s.checkApp(r.Query.Get("grant_type"), "client_credential", r.Query.Get("appid"), r.Query.Get("secret")); a != nil {
		return a
	}
	appID := r.Query.Get("appid")
	delete(s.valid, s.plain[appID])
	s.plain[appID] = s.newToken(appID)
	return answer{"access_token": s.plain[appID], "expires_in": 7200}
}

func (s *Server) code2Session(r *Request) answer {
	q := r.Query
	if a := s.checkApp(q.Get("grant_type"), "authorization_code", q.Get("appid"), q.Get("secret")); a != nil {
		return a
	}
	code := q.Get("js_code")
	sess, known := s.sessions[code]
	switch {
	case code == "":
		return refuse(41008)
	case s.used[code]:
		return refuse(40163)
	case !known:
		return refuse(40029)
	}
	s.used[code] = true
	a := answer{"openid": sess.openID, "session_key": randomString(24)}
	if sess.unionID != "" {
		a["unionid"] = sess.unionID
	}
	return a
}

func (s *Server) phoneNumber(r *Request) answer {
	code, _ := r.Body["code"].(string)
	phone, known := s.phones[code]
	switch {
	case code == "":
		return refuse(41008)
	case !known || s.used["phone:"+code]:
		return refuse(40029)
	}
	s.used["phone:"+code] = true
	return ok(answer{"phone_info": map[string]any{
		"phoneNumber": phone, "purePhoneNumber": phone, "countryCode": "86",
		"watermark": map[string]any{"timestamp": 1700000000, "appid": s.appID},
	}})
}

func (s *Server) subscribeSend(r *Request) answer {
	toUser, _ := r.Body["touser"].(string)
	template, _ := r.Body["template_id"].(string)
	state, _ := r.Body["miniprogram_state"].(string)
	lang, _ := r.Body["lang"].(string)
	data, _ := r.Body["data"].(map[string]any)
	switch {
	case toUser == "":
		return refuse(40003)
	case template == "":
		return refuse(40037)
	case !slices.Contains([]string{"", "developer", "trial", "formal"}, state):
		return refuse(47003, "miniprogram_state invalid")
	case !slices.Contains([]string{"", "zh_CN", "en_US", "zh_HK", "zh_TW"}, lang):
		return refuse(47003, "lang invalid")
	case len(data) == 0:
		return refuse(47003, "data is empty")
	}
	for _, key := range slices.Sorted(maps.Keys(data)) {
		item, _ := data[key].(map[string]any)
		value, isString := item["value"].(string)
		if !isString || !FieldOK(key, value) {
			return refuse(47003, "data."+key+".value invalid")
		}
	}
	if a := checkKeywords(s.mpList, template, data, true); a != nil {
		return a
	}
	k := [2]string{toUser, template}
	if s.quota[k] <= 0 {
		return refuse(43101)
	}
	s.quota[k]--
	s.seq++
	return ok(answer{"msgid": s.seq})
}

func (s *Server) msgSecCheck(r *Request) answer {
	openID, _ := r.Body["openid"].(string)
	scene, _ := r.Body["scene"].(float64)
	version, _ := r.Body["version"].(float64)
	content, _ := r.Body["content"].(string)
	switch {
	case openID == "":
		return refuse(40003)
	case version != 2:
		return refuse(47003, "version invalid")
	case scene < 1 || scene > 4:
		return refuse(47003, "scene invalid")
	}
	suggest, label := "pass", 100
	for _, f := range s.flags {
		if strings.Contains(content, f.word) {
			suggest, label = f.suggest, f.label
			break
		}
	}
	verdict := map[string]any{"suggest": suggest, "label": label}
	return ok(answer{
		"trace_id": randomString(16),
		"result":   verdict,
		"detail":   []any{map[string]any{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}},
	})
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
