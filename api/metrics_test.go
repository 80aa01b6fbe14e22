package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"redprop/service/message"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// scrape reads /metrics with token and returns each sample line's value
// by its name and labels as written (labels sorted by name).
func (s *testServer) scrape(token string) map[string]float64 {
	s.t.Helper()
	r := s.must(200, "GET", "/metrics", token, nil)
	out := map[string]float64{}
	for _, line := range strings.Split(string(r.Raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			s.t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// After real sends through the fake WeChat, /metrics shows the outbox's
// numbers and this instance's counters, and counts requests by route.
func TestMetricsEndpoint(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	fake := wechattest.NewServer(t)
	wx, err := wechat.New(wechat.Options{AppID: wechattest.AppID, AppSecret: wechattest.AppSecret, BaseURL: fake.URL(),
		Timeout: 5 * time.Second, RedisPrefix: s.prefix}, s.rdb)
	if err != nil {
		t.Fatal(err)
	}
	cfg := message.DefaultConfig()
	cfg.Templates = message.DefaultTemplates()
	tpl := cfg.Templates[message.KindNewReport]
	tpl.ID = "tpl_new_report"
	cfg.Templates[message.KindNewReport] = tpl
	cfg.SendLanes = 1 // the injected failure must meet the first row
	svc, err := message.New(s.db, s.clock, wx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.deps.Message, s.deps.MetricsToken = svc, "scrape-secret"
	s.router = NewRouter(s.deps)

	grid, steward := s.login("grid"), s.login("steward")
	for name, tok := range map[string]string{"grid": grid, "steward": steward} {
		fake.Accept(wechat.SandboxOpenID(name), tpl.ID, 1)
		s.must(200, "POST", "/api/v1/me/subscriptions", tok, map[string]any{"results": map[string]string{tpl.ID: "accept"}})
	}
	// The steward's push fails once (WeChat's system error), the grid
	// worker's first is sent and the second has no quota left.
	s.publish(testReport("order:1:submitted:1", s.userID("steward")))
	s.publish(testReport("order:2:submitted:1", s.userID("grid")))
	s.publish(testReport("order:3:submitted:1", s.userID("grid")))
	fake.Inject(wechattest.SubscribeSend, -1)
	if st, err := svc.DeliverOnce(context.Background()); err != nil || st.Sent != 1 || st.Skipped != 1 || st.Failed != 1 {
		t.Fatalf("%+v %v", st, err)
	}
	s.clock.Advance(10 * time.Second)

	if r := s.do("GET", "/metrics", "", nil); r.Status != 401 || r.ErrCode() != "metrics_token" {
		t.Fatalf("scrape without the token: %d %s", r.Status, r.Raw)
	}
	if r := s.do("GET", "/metrics", "guessed", nil); r.Status != 401 {
		t.Fatalf("scrape with a wrong token: %d", r.Status)
	}
	m := s.scrape("scrape-secret")
	want := map[string]float64{
		`redprop_message_failed{code="-1"}`:                                                           1,
		`redprop_message_waiting`:                                                                     1,
		`redprop_message_unknown`:                                                                     0,
		`redprop_message_checks_pending`:                                                              0,
		`redprop_message_checks_flagged`:                                                              0,
		`redprop_message_process_sent_total{channel="mp"}`:                                            1,
		`redprop_message_process_skipped_total{reason="no_quota"}`:                                    1,
		`redprop_message_process_failed_total{code="-1"}`:                                             1,
		`redprop_http_requests_total{method="POST",route="/api/v1/me/subscriptions",status="200"}`:    2,
		`redprop_http_requests_total{method="GET",route="/metrics",status="401"}`:                     2,
		`redprop_http_request_duration_seconds_count{method="POST",route="/api/v1/me/subscriptions"}`: 2,
	}
	for name, v := range want {
		got, ok := m[name]
		if !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, v)
		}
	}
	// The settled history is not counted at a scrape.
	for name := range m {
		if strings.HasPrefix(name, "redprop_message_sent") || strings.HasPrefix(name, "redprop_message_skipped") {
			t.Errorf("a scrape counted the history: %s", name)
		}
	}
	// The failed row is due again after its backoff: not lagging yet.
	if lag := m["redprop_message_outbox_lag_seconds"]; lag != 0 {
		t.Errorf("lag %v before the retry is due", lag)
	}
	s.clock.Advance(cfg.RetryMax + time.Minute)
	if lag := s.scrape("scrape-secret")["redprop_message_outbox_lag_seconds"]; lag <= 0 {
		t.Errorf("lag %v once the retry is overdue", lag)
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
	for name := range m {
		if strings.Contains(name, `route="/api/v1/me/messages/`) || strings.Contains(name, "order:") {
			t.Errorf("a raw path made a series: %s", name)
		}
	}
}

// Each router owns its registry: two side by side count apart, and the
// endpoint is open without a token configured.
func TestMetricsRegistryPerRouter(t *testing.T) {
	a, b := newTestServer(t), newTestServer(t)
	for range 3 {
		a.must(200, "GET", "/healthz", "", nil)
	}
	b.must(200, "GET", "/healthz", "", nil)
	b.must(404, "GET", fmt.Sprintf("/no/such/%d", 7), "", nil)
	key := `redprop_http_requests_total{method="GET",route="/healthz",status="200"}`
	if got := a.scrape("")[key]; got != 3 {
		t.Fatalf("router a counted %v, want 3", got)
	}
	mb := b.scrape("")
	if mb[key] != 1 || mb[`redprop_http_requests_total{method="GET",route="unmatched",status="404"}`] != 1 {
		t.Fatalf("router b: %v", mb[key])
	}
}
