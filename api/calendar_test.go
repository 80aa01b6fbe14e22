package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"redprop/model"
)

func calendarDays(t *testing.T, r response) []map[string]any {
	t.Helper()
	raw, ok := r.Body["days"].([]any)
	if !ok {
		t.Fatalf("no days in %s", r.Raw)
	}
	out := make([]map[string]any, len(raw))
	for i, d := range raw {
		out[i] = d.(map[string]any)
	}
	return out
}

func TestCalendarAPI(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	// MariaDB test tables are emptied after migrate; put the shipped year back.
	if err := model.SeedCalendar(context.Background(), s.db); err != nil {
		t.Fatal(err)
	}
	resident, admin, community := s.login("resident"), s.login("admin"), s.login("community")

	r := s.must(http.StatusOK, "GET", "/api/v1/calendar/2026", resident, nil)
	days := calendarDays(t, r)
	if len(days) != len(model.DefaultCalendarDays(2026)) || peopleNum(r.Body["year"]) != 2026 {
		t.Fatalf("2026: %d days: %s", len(days), r.Raw)
	}
	if days[0]["date"] != "2026-01-01" || days[0]["kind"] != "holiday" || days[0]["name"] != "元旦" {
		t.Fatalf("first day %v", days[0])
	}
	r = s.must(http.StatusOK, "GET", "/api/v1/calendar/2030", resident, nil)
	if len(calendarDays(t, r)) != 0 {
		t.Fatalf("2030 should be empty: %s", r.Raw)
	}
	s.must(http.StatusUnauthorized, "GET", "/api/v1/calendar/2026", "", nil)
	s.must(http.StatusBadRequest, "GET", "/api/v1/calendar/twenty", resident, nil)
	s.must(http.StatusBadRequest, "GET", "/api/v1/calendar/1999", resident, nil)

	year2027 := map[string]any{"days": []map[string]string{
		{"date": "2027-01-02", "kind": "workday", "name": "元旦调休"},
		{"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
	}}
	r = s.must(http.StatusForbidden, "PUT", "/api/v1/admin/calendar/2027", community, year2027)
	peopleChinese(t, r)
	s.must(http.StatusForbidden, "PUT", "/api/v1/admin/calendar/2027", resident, year2027)
	r = s.must(http.StatusOK, "PUT", "/api/v1/admin/calendar/2027", admin, year2027)
	if d := calendarDays(t, r); len(d) != 2 || d[0]["date"] != "2027-01-01" || d[1]["kind"] != "workday" {
		t.Fatalf("saved 2027: %s", r.Raw)
	}
	r = s.must(http.StatusOK, "GET", "/api/v1/calendar/2027", resident, nil)
	if len(calendarDays(t, r)) != 2 {
		t.Fatalf("2027 after PUT: %s", r.Raw)
	}

	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"no days", map[string]any{}, "days_required"},
		{"null days", `{"days": null}`, "days_required"},
		{"unknown field", map[string]any{"days": []any{}, "extra": 1}, "bad_request"},
		{"weekday make-up", map[string]any{"days": []map[string]string{{"date": "2027-01-04", "kind": "workday", "name": "调休"}}}, "workday_not_weekend"},
		{"other year", map[string]any{"days": []map[string]string{{"date": "2028-01-01", "kind": "holiday", "name": "元旦"}}}, "date_outside_year"},
		{"bad kind", map[string]any{"days": []map[string]string{{"date": "2027-01-01", "kind": "rest", "name": "元旦"}}}, "bad_kind"},
	} {
		r := s.must(http.StatusBadRequest, "PUT", "/api/v1/admin/calendar/2027", admin, tc.body)
		if r.ErrCode() != tc.code {
			t.Errorf("%s: code %s, want %s", tc.name, r.ErrCode(), tc.code)
		}
		peopleChinese(t, r)
	}
	// A refused edit changed nothing.
	r = s.must(http.StatusOK, "GET", "/api/v1/calendar/2027", resident, nil)
	if len(calendarDays(t, r)) != 2 {
		t.Fatalf("2027 after refused edits: %s", r.Raw)
	}
	// An empty list clears the year.
	r = s.must(http.StatusOK, "PUT", "/api/v1/admin/calendar/2027", admin, map[string]any{"days": []any{}})
	if len(calendarDays(t, r)) != 0 {
		t.Fatalf("cleared 2027: %s", r.Raw)
	}
	// The default body limit still holds for this route.
	big := `{"days": [], "pad": "` + strings.Repeat("x", 1<<20) + `"}`
	r = s.must(http.StatusRequestEntityTooLarge, "PUT", "/api/v1/admin/calendar/2027", admin, big)
	if r.ErrCode() != "body_too_large" {
		t.Fatalf("big body: %s", r.Raw)
	}
}
