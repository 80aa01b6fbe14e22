package api

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/silenceper/wechat/v2/util"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/wechat"
)

// The push callback of the test server: safe (AES) mode. The service
// account's callback: plaintext.
const (
	testCallbackToken  = "callback-token"
	testCallbackAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	testCallbackAppID  = "wxsandbox000000001"
	testOAToken        = "oa-token"
)

// newTestMessages is the messages service of newTestServer: the sandbox,
// with the push callback and the service account channel on.
func newTestMessages(t *testing.T, db *gorm.DB, clock service.Clock) *message.Service {
	t.Helper()
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	cfg.AppID, cfg.CallbackToken, cfg.CallbackAESKey = testCallbackAppID, testCallbackToken, testCallbackAESKey
	cfg.OAEnabled, cfg.OAToken = true, testOAToken
	svc, err := message.New(db, clock, wechat.NewSandbox(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (s *testServer) publish(ev message.Event) {
	s.t.Helper()
	ctx := context.Background()
	if err := model.InTx(ctx, s.db, func(tx *gorm.DB) error { return s.deps.Message.Publish(ctx, tx, ev) }); err != nil {
		s.t.Fatal(err)
	}
}

func testReport(key string, users ...int64) message.Event {
	return message.Event{Kind: message.KindNewReport, Event: "order.submitted", Key: key, UserIDs: users,
		Title: "新工单待核实", Body: "工单 20261123-0001（水电维修）", OrderID: 3,
		Fields: map[string]string{"number": "20261123-0001", "category": "水电维修", "place": "1号楼"}}
}

func TestMessageInboxAPI(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	grid, community := s.login("grid"), s.login("community")
	for i := range 3 {
		s.publish(testReport(fmt.Sprintf("order:%d:submitted:1", i), s.userID("grid")))
	}
	s.publish(testReport("order:9:submitted:1", s.userID("community")))

	r := s.must(200, "GET", "/api/v1/me/messages?limit=2", grid, nil)
	items := r.Body["items"].([]any)
	if len(items) != 2 || r.Body["next_cursor"] == "" {
		t.Fatalf("first page %s", r.Raw)
	}
	first := items[0].(map[string]any)
	if first["kind"] != "new_report" || first["title"] != "新工单待核实" || first["read"] != false || first["order_id"] != float64(3) {
		t.Fatalf("message %v", first)
	}
	r = s.must(200, "GET", "/api/v1/me/messages?limit=2&cursor="+r.Body["next_cursor"].(string), grid, nil)
	if n := len(r.Body["items"].([]any)); n != 1 || r.Body["next_cursor"] != "" {
		t.Fatalf("second page %s", r.Raw)
	}
	if r := s.must(200, "GET", "/api/v1/me/messages/unread-count", grid, nil); r.Body["unread"] != float64(3) {
		t.Fatalf("unread %s", r.Raw)
	}
	// The community's message is not the grid worker's to read.
	other := s.must(200, "GET", "/api/v1/me/messages", community, nil).Body["items"].([]any)[0].(map[string]any)
	if r := s.do("POST", fmt.Sprintf("/api/v1/me/messages/%.0f/read", other["id"]), grid, nil); r.Status != 404 || r.ErrCode() != "message_not_found" {
		t.Fatalf("read another's message: %d %s", r.Status, r.Raw)
	}
	r = s.must(200, "POST", fmt.Sprintf("/api/v1/me/messages/%.0f/read", first["id"]), grid, nil)
	if r.Body["read"] != true || r.Body["read_at"] == nil {
		t.Fatalf("read %s", r.Raw)
	}
	if r := s.must(200, "GET", "/api/v1/me/messages?unread=true", grid, nil); len(r.Body["items"].([]any)) != 2 {
		t.Fatalf("unread list %s", r.Raw)
	}
	if r := s.must(200, "POST", "/api/v1/me/messages/read-all", grid, nil); r.Body["marked"] != float64(2) {
		t.Fatalf("read-all %s", r.Raw)
	}
	if r := s.must(200, "GET", "/api/v1/me/messages/unread-count", community, nil); r.Body["unread"] != float64(1) {
		t.Fatalf("the community's unread count changed: %s", r.Raw)
	}
	s.must(400, "GET", "/api/v1/me/messages?unread=yes", grid, nil)
	s.must(400, "POST", "/api/v1/me/messages/x/read", grid, nil)
	s.must(401, "GET", "/api/v1/me/messages", "", nil)
}

func TestSubscriptionsAPI(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	tok := s.login("resident")
	r := s.must(200, "GET", "/api/v1/me/subscriptions", tok, nil)
	if n := len(r.Body["ask"].([]any)); n != len(message.Kinds()) {
		t.Fatalf("before any accept %s", r.Raw)
	}
	r = s.must(200, "POST", "/api/v1/me/subscriptions", tok, map[string]any{
		"results": map[string]string{"sandbox_rating": "accept", "sandbox_progress": "reject"}})
	for _, it := range r.Body["items"].([]any) {
		sub := it.(map[string]any)
		want := map[string]float64{"sandbox_rating": 1}[sub["template_id"].(string)]
		if sub["remaining"] != want || sub["ask"] != (want == 0) {
			t.Fatalf("subscription %v", sub)
		}
	}
	if r := s.do("POST", "/api/v1/me/subscriptions", tok, map[string]any{"results": map[string]string{"other": "accept"}}); r.Status != 400 || r.ErrCode() != "unknown_template" {
		t.Fatalf("unknown template: %d %s", r.Status, r.Raw)
	}
	// The mini-program may pass wx.requestSubscribeMessage's answer whole,
	// errMsg included: what we do not push is passed over.
	r = s.must(200, "POST", "/api/v1/me/subscriptions", tok, map[string]any{
		"results": map[string]string{"errMsg": "requestSubscribeMessage:ok", "sandbox_rating": "accept"}})
	for _, it := range r.Body["items"].([]any) {
		if sub := it.(map[string]any); sub["template_id"] == "sandbox_rating" && sub["remaining"] != float64(2) {
			t.Fatalf("after the whole answer: %v", sub)
		}
	}
	s.must(400, "POST", "/api/v1/me/subscriptions", tok, map[string]any{"results": map[string]string{"sandbox_rating": "yes"}})
	s.must(400, "POST", "/api/v1/me/subscriptions", tok, map[string]any{"results": map[string]string{}, "extra": 1})
}

func TestSandboxPushesAndMetricsAPI(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	admin, grid := s.login("admin"), s.login("grid")
	s.publish(testReport("order:3:submitted:1", s.userID("grid")))
	if _, err := s.deps.Message.DeliverOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := s.must(200, "GET", "/api/v1/admin/pushes", admin, nil)
	items := r.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("pushes %s", r.Raw)
	}
	p := items[0].(map[string]any)
	data := p["data"].(map[string]any)
	if p["to_user"] != wechat.SandboxOpenID("grid") || p["template_id"] != "sandbox_new_report" ||
		data["character_string1"] != "20261123-0001" || data["thing2"] != "水电维修" || p["page"] != "pages/order/detail?id=3" {
		t.Fatalf("push %v", p)
	}
	s.must(403, "GET", "/api/v1/admin/pushes", grid, nil)

	r = s.must(200, "GET", "/api/v1/admin/metrics/messages", admin, nil)
	if r.Body["skipped"].(map[string]any)["sandbox"] != float64(1) || r.Body["lag_seconds"] != float64(0) {
		t.Fatalf("metrics %s", r.Raw)
	}
	s.must(403, "GET", "/api/v1/admin/metrics/messages", grid, nil)
	r = s.must(200, "GET", "/api/v1/admin/outbox?state=skipped", admin, nil)
	if row := r.Body["items"].([]any)[0].(map[string]any); row["skip_reason"] != "sandbox" {
		t.Fatalf("outbox %s", r.Raw)
	}
	s.must(400, "GET", "/api/v1/admin/outbox?state=nope", admin, nil)
	s.must(200, "GET", "/api/v1/admin/content-checks", admin, nil)
	s.must(403, "GET", "/api/v1/admin/content-checks", grid, nil)
}

func testSign(parts ...string) string {
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// rawDo sends a body that is not JSON, with a content type.
func (s *testServer) rawDo(method, target, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	s.router.ServeHTTP(w, req)
	if msg := checkContract(req, w.Code, w.Header(), w.Body.Bytes()); msg != "" {
		s.t.Errorf("OpenAPI contract: %s", msg)
	}
	return w
}

func TestWeChatPushCallbackAPI(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	tok := s.login("resident")
	ts := fmt.Sprint(s.clock.Now().Unix())

	q := url.Values{"signature": {testSign(testCallbackToken, ts, "n1")}, "timestamp": {ts}, "nonce": {"n1"}, "echostr": {"hello"}}
	if w := s.rawDo("GET", "/api/v1/wechat/push?"+q.Encode(), "", ""); w.Code != 200 || w.Body.String() != "hello" {
		t.Fatalf("echo check: %d %q", w.Code, w.Body)
	}
	q.Set("signature", testSign("guessed", ts, "n1"))
	if w := s.rawDo("GET", "/api/v1/wechat/push?"+q.Encode(), "", ""); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "hello") {
		t.Fatalf("forged echo check: %d %q", w.Code, w.Body)
	}

	event := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%s</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List><TemplateId><![CDATA[sandbox_rating]]></TemplateId><SubscribeStatusString><![CDATA[accept]]></SubscribeStatusString><PopupScene>0</PopupScene></List></SubscribeMsgPopupEvent></xml>`,
		wechat.SandboxOpenID("resident"), ts)
	cipher, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(event), testCallbackAppID, testCallbackAESKey)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>", cipher)
	push := func(msgSig string) *httptest.ResponseRecorder {
		q := url.Values{"signature": {testSign(testCallbackToken, ts, "n2")}, "timestamp": {ts}, "nonce": {"n2"},
			"encrypt_type": {"aes"}, "msg_signature": {msgSig}}
		return s.rawDo("POST", "/api/v1/wechat/push?"+q.Encode(), "text/xml", body)
	}
	if w := push(testSign("guessed", ts, "n2", string(cipher))); w.Code != http.StatusForbidden {
		t.Fatalf("forged msg_signature: %d %s", w.Code, w.Body)
	}
	if w := s.rawDo("POST", "/api/v1/wechat/push", "text/xml", body); w.Code != http.StatusForbidden {
		t.Fatalf("unsigned push: %d %s", w.Code, w.Body)
	}
	remaining := func() float64 {
		for _, it := range s.must(200, "GET", "/api/v1/me/subscriptions", tok, nil).Body["items"].([]any) {
			if sub := it.(map[string]any); sub["template_id"] == "sandbox_rating" {
				return sub["remaining"].(float64)
			}
		}
		return -1
	}
	if got := remaining(); got != 0 {
		t.Fatalf("refused pushes changed the quota to %v", got)
	}
	if w := push(testSign(testCallbackToken, ts, "n2", string(cipher))); w.Code != 200 || w.Body.String() != "success" {
		t.Fatalf("genuine push: %d %s", w.Code, w.Body)
	}
	if got := remaining(); got != 1 {
		t.Fatalf("quota %v after the callback's accept, want 1", got)
	}
}

func TestOAChannelAPI(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	grid, resident, admin := s.login("grid"), s.login("resident"), s.login("admin")

	r := s.must(200, "GET", "/api/v1/me/push-channel", grid, nil)
	if r.Body["channel"] != "mp" || r.Body["oa_enabled"] != true || r.Body["oa_linked"] != false {
		t.Fatalf("channel before any choice %s", r.Raw)
	}
	if r := s.do("PUT", "/api/v1/me/push-channel", resident, map[string]string{"channel": "oa"}); r.Status != 403 || r.ErrCode() != "oa_staff_only" {
		t.Fatalf("resident chose oa: %d %s", r.Status, r.Raw)
	}
	if r := s.do("PUT", "/api/v1/me/push-channel", grid, map[string]string{"channel": "sms"}); r.Status != 400 || r.ErrCode() != "bad_channel" {
		t.Fatalf("bad channel: %d %s", r.Status, r.Raw)
	}
	s.must(401, "GET", "/api/v1/me/push-channel", "", nil)

	// WeChat checks the URL, then tells us the grid worker followed.
	ts := fmt.Sprint(s.clock.Now().Unix())
	q := url.Values{"signature": {testSign(testOAToken, ts, "n1")}, "timestamp": {ts}, "nonce": {"n1"}, "echostr": {"oa-echo"}}
	if w := s.rawDo("GET", "/api/v1/wechat/oa?"+q.Encode(), "", ""); w.Code != 200 || w.Body.String() != "oa-echo" {
		t.Fatalf("echo check: %d %q", w.Code, w.Body)
	}
	// The mini-program's token does not sign for the account.
	q.Set("signature", testSign(testCallbackToken, ts, "n1"))
	if w := s.rawDo("GET", "/api/v1/wechat/oa?"+q.Encode(), "", ""); w.Code != http.StatusForbidden {
		t.Fatalf("echo check with the other token: %d %q", w.Code, w.Body)
	}
	follow := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_oa]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%s</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>`,
		wechat.SandboxOAOpenID("grid"), ts)
	post := func(token string) *httptest.ResponseRecorder {
		q := url.Values{"signature": {testSign(token, ts, "n2")}, "timestamp": {ts}, "nonce": {"n2"}, "openid": {wechat.SandboxOAOpenID("grid")}}
		return s.rawDo("POST", "/api/v1/wechat/oa?"+q.Encode(), "text/xml", follow)
	}
	if w := post("guessed"); w.Code != http.StatusForbidden {
		t.Fatalf("forged follow: %d %s", w.Code, w.Body)
	}
	if r := s.must(200, "GET", "/api/v1/me/push-channel", grid, nil); r.Body["oa_linked"] != false {
		t.Fatalf("linked by a forged push: %s", r.Raw)
	}
	if w := post(testOAToken); w.Code != 200 || w.Body.String() != "success" {
		t.Fatalf("follow: %d %s", w.Code, w.Body)
	}
	r = s.must(200, "PUT", "/api/v1/me/push-channel", grid, map[string]string{"channel": "oa"})
	if r.Body["channel"] != "oa" || r.Body["oa_linked"] != true {
		t.Fatalf("after choosing oa %s", r.Raw)
	}

	s.publish(testReport("order:3:submitted:1", s.userID("grid"), s.userID("community")))
	if _, err := s.deps.Message.DeliverOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	channels := map[string]string{}
	for _, it := range s.must(200, "GET", "/api/v1/admin/pushes", admin, nil).Body["items"].([]any) {
		p := it.(map[string]any)
		channels[p["to_user"].(string)] = p["channel"].(string)
		if p["to_user"] == wechat.SandboxOAOpenID("grid") && (p["template_id"] != "sandbox_oa_new_report" || p["page"] != "pages/order/detail?id=3") {
			t.Fatalf("OA push %v", p)
		}
	}
	if len(channels) != 2 || channels[wechat.SandboxOAOpenID("grid")] != "oa" || channels[wechat.SandboxOpenID("community")] != "mp" {
		t.Fatalf("pushes by recipient %v", channels)
	}
	r = s.must(200, "GET", "/api/v1/admin/outbox", admin, nil)
	for _, it := range r.Body["items"].([]any) {
		row := it.(map[string]any)
		want := map[float64]string{float64(s.userID("grid")): "oa", float64(s.userID("community")): "mp"}[row["user_id"].(float64)]
		if row["channel"] != want {
			t.Fatalf("outbox row %v, want channel %s", row, want)
		}
	}
}

// A text the check flagged for review reaches the community it was written
// in, and no other.
func TestFlaggedTextsReachTheirCommunity(t *testing.T) {
	s := newTestServer(t)
	c := s.loadDemo()
	res := s.login("resident")
	var cat model.Category
	if err := s.db.Where("code = ?", "safety_hazard").Take(&cat).Error; err != nil {
		t.Fatal(err)
	}
	s.must(201, "POST", "/api/v1/orders", res, map[string]any{"category_id": cat.ID,
		"compound_id": c.Compounds[0].ID, "place": "东门", "description": "东门堆物 " + wechat.SandboxReview})
	r := s.must(200, "GET", "/api/v1/admin/content-checks?state=review", s.login("community"), nil)
	if items := r.Body["items"].([]any); len(items) != 1 {
		t.Fatalf("community sees %s", r.Raw)
	}
	r = s.must(200, "GET", "/api/v1/admin/content-checks", s.login("community2"), nil)
	if items := r.Body["items"].([]any); len(items) != 0 {
		t.Fatalf("another community sees %s", r.Raw)
	}
	s.must(403, "GET", "/api/v1/admin/content-checks", res, nil)
}
