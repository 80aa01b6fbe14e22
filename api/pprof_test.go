package api

import (
	"bytes"
	"testing"
)

func TestPprofIsOffByDefaultAndForAdminsOnly(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	admin, grid := s.login("admin"), s.login("grid")

	// Off: the path answers as one that does not exist, for everyone.
	r := s.must(404, "GET", "/api/v1/admin/debug/pprof/heap", admin, nil)
	if r.ErrCode() != "route_not_found" {
		t.Fatalf("off: %s", r.Raw)
	}
	s.must(404, "GET", "/api/v1/admin/debug/pprof/heap", grid, nil)

	s.deps.Pprof = true
	s.router = NewRouter(s.deps)
	s.must(401, "GET", "/api/v1/admin/debug/pprof/heap", "", nil)
	if r := s.must(403, "GET", "/api/v1/admin/debug/pprof/heap", grid, nil); r.ErrCode() != "forbidden" {
		t.Fatalf("non-admin: %s", r.Raw)
	}
	s.must(404, "GET", "/api/v1/admin/debug/pprof/nope", admin, nil)
	r = s.must(200, "GET", "/api/v1/admin/debug/pprof/heap", admin, nil)
	if !bytes.HasPrefix(r.Raw, []byte{0x1f, 0x8b}) { // a gzipped profile.proto
		t.Fatalf("heap profile: %.40q", r.Raw)
	}
	r = s.must(200, "GET", "/api/v1/admin/debug/pprof/goroutine?debug=1", admin, nil)
	if !bytes.Contains(r.Raw, []byte("goroutine profile")) {
		t.Fatalf("goroutines: %.200s", r.Raw)
	}
}
