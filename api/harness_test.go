package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/action"
	"redprop/service/auth"
	"redprop/service/calendar"
	"redprop/service/dashboard"
	"redprop/service/demo"
	"redprop/service/disclosure"
	"redprop/service/export"
	"redprop/service/idem"
	"redprop/service/inspection"
	"redprop/service/notice"
	"redprop/service/order"
	"redprop/service/org"
	"redprop/service/photo"
	"redprop/service/ranking"
	"redprop/service/receipt"
	"redprop/service/score"
	"redprop/service/servicetest"
	"redprop/service/vote"
	"redprop/service/wechat"
	"redprop/service/wish"
)

// testServer is the real router over a clean database, Redis and the
// WeChat sandbox, with a fake clock at the shared harness's start.
//
// It does not build on servicetest.City: that one always holds the demo
// city, and many of these tests start from an empty database (the first
// login makes the user, an org tree is built over HTTP, bad logins must
// leave no user behind). People here are sandbox logins, found by their
// open id; loadDemo adds the demo city when a test wants it.
type testServer struct {
	t      *testing.T
	db     *gorm.DB
	clock  *service.FakeClock
	router *gin.Engine
	deps   Deps
	rdb    redis.UniversalClient
	prefix string
	names  *model.NameCache
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	db := dbtest.Open(t)
	rdb, prefix := dbtest.Redis(t)
	clock := service.NewFakeClock(servicetest.Start)
	names := startNames(t, db, rdb, prefix, nil)
	authSvc := auth.New(db, rdb, wechat.NewSandbox(), clock, auth.Config{
		JWTSecret: []byte("test-secret-test-secret-test-secret"), AccessTTL: 15 * time.Minute,
		RefreshTTL: 24 * time.Hour, PerIPPerMin: 1000, PerCodePerMin: 1000, RedisPrefix: prefix, Sandbox: true,
		Names: names,
	})
	photoStore := photo.NewLocalStorage(t.TempDir())
	deps := Deps{
		Log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxBodyBytes: 1 << 20,
		Ready:        func(ctx context.Context) error { return nil },
		Auth:         authSvc,
		Idem:         idem.New(rdb, prefix),
		Org:          org.New(db, clock, names),
		Calendar:     calendar.New(db, clock),
		Photo:        photo.New(db, photoStore, clock, testMaxPhotoBytes, 0),
		Message:      newTestMessages(t, db, clock), // api/message_test.go
	}
	deps.Order = order.New(db, clock, deps.Calendar, deps.Photo, deps.Message, order.Options{Names: names, Seats: authSvc})
	deps.Action = action.New(db, clock, deps.Message, deps.Photo, action.Options{})
	deps.Meeting = newTestMeetings(t, db, rdb, prefix, clock, deps.Message) // api/meeting_test.go
	deps.Vote = vote.New(db, clock, deps.Message, vote.Options{})
	deps.Wish = wish.New(db, clock, deps.Message, photoStore)
	deps.Inspection = inspection.New(db, clock, deps.Order, deps.Action, deps.Photo)
	deps.Notice = notice.New(db, clock, deps.Message, receipt.New(db, clock, deps.Message), photoStore, nil)
	deps.Disclosure = disclosure.New(db, clock, photoStore, receipt.New(db, clock, deps.Message))
	deps.Dashboard = dashboard.New(db, clock, dashboard.Options{})
	deps.Export = export.New(db, clock, deps.Order, deps.Dashboard, deps.Vote, deps.Meeting, export.Options{SyncRows: 5})
	deps.Score = score.New(db, clock, score.Options{})
	deps.Ranking = ranking.New(db, clock, ranking.ScoreCards{Cards: deps.Score}, deps.Message, deps.Calendar,
		deps.Vote, ranking.Options{Notices: ranking.ReceiptNotices{Receipts: receipt.New(db, clock, deps.Message)}, Photos: photoStore})
	if err := order.SeedCategories(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return &testServer{t: t, db: db, clock: clock, router: NewRouter(deps), deps: deps, rdb: rdb, prefix: prefix, names: names}
}

// startNames builds a test's own name cache and runs its subscription
// until the test ends. It returns once subscribed: a subscription
// arriving later would clear what a test had just cached.
func startNames(t *testing.T, db *gorm.DB, rdb redis.UniversalClient, prefix string, applied func(string, []int64)) *model.NameCache {
	t.Helper()
	names := model.NewNameCache(db, rdb, model.NameCacheOptions{Prefix: prefix, Applied: applied})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); names.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-names.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("name cache: no subscription after 10 s")
	}
	return names
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// ErrCode returns error.code of an error envelope ("" if none).
func (r response) ErrCode() string {
	e, _ := r.Body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// do sends a JSON request (body may be nil, a string or any value).
func (s *testServer) do(method, path, token string, body any, headers ...string) response {
	s.t.Helper()
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	case []byte:
		sent = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		sent = raw
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(sent)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.router.ServeHTTP(w, req)
	r := response{Status: w.Code, Header: w.Header(), Raw: w.Body.Bytes()}
	if msg := checkContract(req, r.Status, r.Header, r.Raw); msg != "" {
		s.t.Errorf("OpenAPI contract: %s", msg)
	}
	if msg := checkAcceptedRequest(req, sent, r.Status); msg != "" {
		s.t.Errorf("OpenAPI contract: %s", msg)
	}
	if len(r.Raw) > 0 && r.Raw[0] == '{' {
		if err := json.Unmarshal(r.Raw, &r.Body); err != nil {
			s.t.Fatalf("%s %s: bad JSON %q: %v", method, path, r.Raw, err)
		}
	}
	return r
}

// must is do that fails the test unless the status is want.
func (s *testServer) must(want int, method, path, token string, body any, headers ...string) response {
	s.t.Helper()
	r := s.do(method, path, token, body, headers...)
	if r.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Raw)
	}
	return r
}

// login signs in the sandbox user name and returns the access token.
func (s *testServer) login(name string) string {
	s.t.Helper()
	r := s.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{"code": "sandbox:" + name})
	return r.Body["access_token"].(string)
}

// userID returns the id of the sandbox user name (who must have logged in).
func (s *testServer) userID(name string) int64 {
	s.t.Helper()
	var u model.User
	if err := s.db.Where("open_id = ?", wechat.SandboxOpenID(name)).Take(&u).Error; err != nil {
		s.t.Fatalf("user %s: %v", name, err)
	}
	return u.ID
}

// grant gives the sandbox user name a role over a scope directly in the
// database (tests of other capabilities need staff without invitations).
func (s *testServer) grant(name, role, scopeKind string, scopeID int64, anc model.Ancestry) {
	s.t.Helper()
	s.login(name)
	g := model.Grant{UserID: s.userID(name), Role: role, ScopeKind: scopeKind, ScopeID: scopeID, Ancestry: anc}
	if err := s.db.Create(&g).Error; err != nil {
		s.t.Fatal(err)
	}
}

// loadDemo loads the demo city; its people log in with s.login(name).
func (s *testServer) loadDemo() *demo.City {
	s.t.Helper()
	c, err := demo.Load(context.Background(), s.db, s.clock.Now())
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}
