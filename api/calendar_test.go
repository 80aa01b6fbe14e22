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

// Next year's calendar, missing in November, is reported to admins and in
// the readiness answer, previewed from a file and then imported.
func TestCalendarImportAndStatusAPI(t *testing.T) {
	s := newTestServer(t) // 2026-11-23: 2027 is missing
	s.loadDemo()
	if err := model.SeedCalendar(context.Background(), s.db); err != nil {
		t.Fatal(err)
	}
	admin, community := s.login("admin"), s.login("community")
	csv := "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-07,workday,春节调休\n"
	post := func(want int, token, query, body string) response {
		t.Helper()
		return s.must(want, "POST", "/api/v1/admin/calendar/2027/import"+query, token, body, "Content-Type", "text/csv")
	}

	t.Run("missing is reported", func(t *testing.T) {
		r := s.must(http.StatusOK, "GET", "/api/v1/admin/calendar", admin, nil)
		if m, _ := r.Body["missing"].([]any); len(m) != 1 || peopleNum(m[0]) != 2027 || r.Body["warning"] == "" {
			t.Fatalf("status %s", r.Raw)
		}
		s.must(http.StatusForbidden, "GET", "/api/v1/admin/calendar", community, nil)
		r = s.must(http.StatusOK, "GET", "/readyz", "", nil)
		if w, _ := r.Body["warnings"].([]any); len(w) != 1 || w[0] != "calendar_missing:2027" {
			t.Fatalf("readyz %s", r.Raw)
		}
		r = s.must(http.StatusOK, "GET", "/api/v1/calendar/2027", admin, nil)
		if r.Body["loaded"] != false {
			t.Fatalf("2027 %s", r.Raw)
		}
	})
	t.Run("preview writes nothing", func(t *testing.T) {
		r := post(http.StatusOK, admin, "?format=csv", csv)
		if r.Body["applied"] != false || len(r.Body["added"].([]any)) != 2 {
			t.Fatalf("preview %s", r.Raw)
		}
		if r := s.must(http.StatusOK, "GET", "/api/v1/calendar/2027", admin, nil); len(calendarDays(t, r)) != 0 {
			t.Fatalf("a preview stored days: %s", r.Raw)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		peopleChinese(t, post(http.StatusForbidden, community, "?format=csv&apply=true", csv))
		for _, tc := range []struct{ query, body, code string }{
			{"?format=xls", csv, "bad_format"},
			{"?format=csv&apply=maybe", csv, "bad_query"},
			{"?format=csv", "2027-01-01,holiday\n", "bad_calendar_file"},
		} {
			r := post(http.StatusBadRequest, admin, tc.query, tc.body)
			if r.ErrCode() != tc.code {
				t.Errorf("%s: %s, want %s", tc.query, r.ErrCode(), tc.code)
			}
			peopleChinese(t, r)
		}
		peopleChinese(t, post(http.StatusUnprocessableEntity, admin, "?format=csv", "2028-01-01,holiday,元旦\n"))
	})
	t.Run("apply", func(t *testing.T) {
		r := post(http.StatusOK, admin, "?format=csv&apply=true", csv)
		if r.Body["applied"] != true {
			t.Fatalf("apply %s", r.Raw)
		}
		r = s.must(http.StatusOK, "GET", "/api/v1/calendar/2027", admin, nil)
		if len(calendarDays(t, r)) != 2 || r.Body["loaded"] != true {
			t.Fatalf("2027 after import: %s", r.Raw)
		}
		r = s.must(http.StatusOK, "GET", "/readyz", "", nil)
		if w, _ := r.Body["warnings"].([]any); len(w) != 0 {
			t.Fatalf("readyz after import %s", r.Raw)
		}
	})
}
