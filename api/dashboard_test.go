package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"redprop/model"
	"redprop/service"
	"redprop/service/order"
)

// actorOf is a demo person with their live grants.
func (s *testServer) actorOf(name string) *service.Actor {
	s.t.Helper()
	id := s.userID(name)
	gs, err := model.LiveGrants(context.Background(), s.db, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return &service.Actor{UserID: id, Grants: gs}
}

func TestDashboardAPI(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	tokens := map[string]string{}
	for _, n := range []string{"resident", "grid", "community", "community2", "street", "manager"} {
		tokens[n] = s.login(n)
	}
	var cat model.Category
	if err := s.db.Where("code = ?", "dispute").Take(&cat).Error; err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var first int64
	for i := range 7 {
		v, _, err := s.deps.Order.Submit(ctx, s.actorOf("resident"), order.SubmitInput{CategoryID: cat.ID,
			Description: fmt.Sprintf("邻居装修噪音%d", i), HouseholdID: city.Households[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = v.ID
		}
		s.clock.Advance(time.Minute)
	}
	if _, err := s.deps.Order.Act(ctx, s.actorOf("grid"), first, order.ActVerify, order.Input{}); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(2 * time.Minute)
	if _, err := s.deps.Dashboard.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	street := fmt.Sprintf("scope_kind=street&scope_id=%d", city.StreetID)

	t.Run("a street's dashboard, drill-down and trend", func(t *testing.T) {
		r := s.must(http.StatusOK, "GET", "/api/v1/dashboard?"+street, tokens["street"], nil)
		f := r.Body["figures"].(map[string]any)
		if f["received"] != 7.0 || f["by_state"].(map[string]any)["verified"] != 1.0 || r.Body["as_of"] == nil {
			t.Fatalf("dashboard %s", r.Raw)
		}
		closure := f["rates"].(map[string]any)["closure"].(map[string]any)
		if closure["denominator"] != 7.0 || closure["value"] != 0.0 {
			t.Errorf("closure %v", closure)
		}
		r = s.must(http.StatusOK, "GET", "/api/v1/dashboard/children?"+street+"&rank=received", tokens["street"], nil)
		children := r.Body["children"].([]any)
		if len(children) != 2 {
			t.Fatalf("children %s", r.Raw)
		}
		top := children[0].(map[string]any)
		if top["rank"] != 1.0 || top["scope"].(map[string]any)["id"] != float64(city.Communities[0].ID) || top["figures"].(map[string]any)["received"] != 7.0 {
			t.Errorf("top child %v", top)
		}
		r = s.must(http.StatusOK, "GET", "/api/v1/dashboard/trend?"+street+"&interval=week", tokens["street"], nil)
		if pts := r.Body["points"].([]any); len(pts) < 5 || len(pts) > 6 {
			t.Errorf("weeks %d", len(pts))
		}
		r = s.must(http.StatusOK, "GET", "/api/v1/dashboard/scopes", tokens["street"], nil)
		if items := r.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["kind"] != "street" {
			t.Errorf("scopes %s", r.Raw)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		comm0 := fmt.Sprintf("scope_kind=community&scope_id=%d", city.Communities[0].ID)
		for _, c := range []struct {
			who, query string
			status     int
			code       string
		}{
			{"community2", comm0, 403, "out_of_scope"},
			{"grid", comm0, 403, "out_of_scope"},
			{"manager", comm0, 403, "out_of_scope"},
			{"street", "scope_kind=community&scope_id=99999", 404, "scope_not_found"},
			{"street", "scope_kind=compound&scope_id=1", 400, "bad_scope"},
			{"street", street + "&from=2026-11-31", 400, "bad_date"},
			{"street", "scope_kind=street&scope_id=x", 400, "bad_query"},
		} {
			r := s.do("GET", "/api/v1/dashboard?"+c.query, tokens[c.who], nil)
			if r.Status != c.status || r.ErrCode() != c.code {
				t.Errorf("%s %s: %d %s, want %d %s", c.who, c.query, r.Status, r.ErrCode(), c.status, c.code)
			}
		}
		r := s.do("GET", "/api/v1/dashboard/children?scope_kind=grid&scope_id="+fmt.Sprint(city.Grids[0].ID), tokens["grid"], nil)
		if r.Status != 422 || r.ErrCode() != "no_children" {
			t.Errorf("grid children %d %s", r.Status, r.ErrCode())
		}
		if r := s.do("GET", "/api/v1/dashboard?"+street, "", nil); r.Status != 401 {
			t.Errorf("anonymous %d", r.Status)
		}
	})

	t.Run("an export within the request, and one as a job", func(t *testing.T) {
		r := s.must(http.StatusOK, "POST", "/api/v1/exports", tokens["street"], map[string]any{"kind": "dashboard",
			"scope_kind": "street", "scope_id": city.StreetID})
		if r.Header.Get("Content-Type") != xlsxMime {
			t.Fatalf("content type %q", r.Header.Get("Content-Type"))
		}
		x, err := excelize.OpenReader(bytes.NewReader(r.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := x.GetPanes("汇总"); !p.Freeze {
			t.Error("no frozen header")
		}
		x.Close()
		// 7 orders, more than the 5 built within a request: a job.
		r = s.must(http.StatusAccepted, "POST", "/api/v1/exports", tokens["community"], map[string]any{"kind": "orders"})
		id := int64(r.Body["id"].(float64))
		if r.Body["state"] != "queued" || r.Body["rows_total"] != 7.0 || r.Header.Get("Location") != fmt.Sprintf("/api/v1/exports/%d", id) {
			t.Fatalf("job %s", r.Raw)
		}
		if r := s.do("GET", fmt.Sprintf("/api/v1/exports/%d/file", id), tokens["community"], nil); r.Status != 409 || r.ErrCode() != "export_not_ready" {
			t.Errorf("early download %d %s", r.Status, r.ErrCode())
		}
		if err := s.deps.Export.Pass(ctx); err != nil {
			t.Fatal(err)
		}
		r = s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/exports/%d", id), tokens["community"], nil)
		if r.Body["state"] != "done" || r.Body["rows_done"] != 7.0 || r.Body["file_url"] != fmt.Sprintf("/api/v1/exports/%d/file", id) {
			t.Fatalf("done job %s", r.Raw)
		}
		r = s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/exports/%d/file", id), tokens["community"], nil)
		if r.Header.Get("Content-Length") != strconv.Itoa(len(r.Raw)) {
			t.Errorf("Content-Length %q of a %d-byte file", r.Header.Get("Content-Length"), len(r.Raw))
		}
		x, err = excelize.OpenReader(bytes.NewReader(r.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if rows, _ := x.GetRows("工单清单"); len(rows) != 8 {
			t.Errorf("rows %d", len(rows))
		}
		x.Close()
		if r := s.do("GET", fmt.Sprintf("/api/v1/exports/%d", id), tokens["street"], nil); r.Status != 404 || r.ErrCode() != "export_not_found" {
			t.Errorf("someone else's job %d %s", r.Status, r.ErrCode())
		}
		r = s.must(http.StatusOK, "GET", "/api/v1/exports", tokens["community"], nil)
		if items := r.Body["items"].([]any); len(items) != 1 {
			t.Errorf("jobs %s", r.Raw)
		}
		if r := s.do("POST", "/api/v1/exports", tokens["community"], map[string]any{"kind": "pdf"}); r.Status != 400 || r.ErrCode() != "bad_export_kind" {
			t.Errorf("bad kind %d %s", r.Status, r.ErrCode())
		}
		if r := s.do("POST", "/api/v1/exports", tokens["community2"], map[string]any{"kind": "dashboard", "scope_kind": "community",
			"scope_id": city.Communities[0].ID}); r.Status != 403 {
			t.Errorf("other community's export %d", r.Status)
		}
	})
}
