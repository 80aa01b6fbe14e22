package calendar_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/calendar"
)

var (
	admin = &service.Actor{UserID: 1, Grants: []model.Grant{{Role: model.RolePlatformAdmin, ScopeKind: model.ScopePlatform}}}
	staff = &service.Actor{UserID: 2, Grants: []model.Grant{{Role: model.RoleCityStaff, ScopeKind: model.ScopeCity, ScopeID: 1}}}
)

func newService(t *testing.T) (*calendar.Service, *gorm.DB, *service.FakeClock) {
	t.Helper()
	db := dbtest.Open(t)
	// On MariaDB the tables are emptied between tests, defaults included;
	// seeding again is what migrate does on a fresh database.
	if err := model.SeedCalendar(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	clock := service.NewFakeClock(time.Date(2026, 9, 30, 2, 0, 0, 0, time.UTC))
	return calendar.New(db, clock), db, clock
}

func countYear(t *testing.T, db *gorm.DB, year int) int64 {
	t.Helper()
	var n int64
	if err := db.Model(&model.CalendarDay{}).Where("year = ?", year).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateShipsTheCurrentYear(t *testing.T) {
	db := dbtest.Open(t)
	ctx := context.Background()
	want := int64(len(model.DefaultCalendarDays(2026)))
	if want == 0 {
		t.Fatal("no 2026 defaults shipped")
	}
	// SQLite databases are migrated afresh for each test, so migrate's own
	// step must have loaded the year; MariaDB's are emptied after migrate.
	if !dbtest.MySQL() {
		if n := countYear(t, db, 2026); n != want {
			t.Fatalf("after migrate: %d rows for 2026, want %d", n, want)
		}
	}
	for i := 0; i < 2; i++ {
		if err := model.SeedCalendar(ctx, db); err != nil {
			t.Fatal(err)
		}
		if n := countYear(t, db, 2026); n != want {
			t.Fatalf("seed run %d: %d rows, want %d", i, n, want)
		}
	}
	// A year an admin has edited is not refilled.
	svc := calendar.New(db, service.SystemClock{})
	if err := svc.SetYear(ctx, admin, 2026, []calendar.Day{{Date: "2026-12-31", Kind: model.CalendarHoliday, Name: "公司年会"}}); err != nil {
		t.Fatal(err)
	}
	if err := model.SeedCalendar(ctx, db); err != nil {
		t.Fatal(err)
	}
	if n := countYear(t, db, 2026); n != 1 {
		t.Fatalf("after an edit and a re-seed: %d rows, want 1", n)
	}
}

func TestCurrentIsCachedAndReloadedAfterSetYear(t *testing.T) {
	svc, db, clock := newService(t)
	ctx := context.Background()
	oct1 := time.Date(2026, 10, 1, 4, 0, 0, 0, time.UTC)
	c1, err := svc.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c1.IsWorkday(oct1) {
		t.Fatal("国庆 Oct 1 should be off")
	}
	// A write behind the service's back is not seen while the cache is fresh…
	if err := db.Where("date = ?", "2026-10-01").Delete(&model.CalendarDay{}).Error; err != nil {
		t.Fatal(err)
	}
	c2, _ := svc.Current(ctx)
	if c2 != c1 {
		t.Fatal("Current reloaded although nothing was written through the service")
	}
	// …but is after the reload interval (another instance's edit).
	clock.Advance(6 * time.Minute)
	c3, _ := svc.Current(ctx)
	if !c3.IsWorkday(oct1) {
		t.Fatal("a stale calendar outlived the reload interval")
	}
	// A write through the service is seen at once.
	days, err := svc.Year(ctx, 2026)
	if err != nil {
		t.Fatal(err)
	}
	days = append(days, calendar.Day{Date: "2026-11-23", Kind: model.CalendarHoliday, Name: "测试假日"})
	if err := svc.SetYear(ctx, admin, 2026, days); err != nil {
		t.Fatal(err)
	}
	c4, _ := svc.Current(ctx)
	if c4.IsWorkday(time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)) {
		t.Fatal("SetYear did not reach Current")
	}
	// The old value is untouched: calendars are immutable.
	if !c3.IsWorkday(time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)) {
		t.Fatal("an earlier Calendar value changed")
	}
}

func TestSetYearReplacesTheYearOnly(t *testing.T) {
	svc, db, _ := newService(t)
	ctx := context.Background()
	if err := svc.SetYear(ctx, admin, 2027, []calendar.Day{
		{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦"},
		{Date: "2027-01-02", Kind: model.CalendarWorkday, Name: " 元旦调休 "},
	}); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetYear(ctx, admin, 2027, []calendar.Day{
		{Date: "2027-10-01", Kind: model.CalendarHoliday, Name: "国庆节"},
	}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Year(ctx, 2027)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Date != "2027-10-01" {
		t.Fatalf("2027 = %+v, want only 2027-10-01", got)
	}
	if n := countYear(t, db, 2026); n != int64(len(model.DefaultCalendarDays(2026))) {
		t.Fatalf("2026 changed: %d rows", n)
	}
	// Clearing a year is allowed.
	if err := svc.SetYear(ctx, admin, 2027, nil); err != nil {
		t.Fatal(err)
	}
	if n := countYear(t, db, 2027); n != 0 {
		t.Fatalf("2027 after clearing: %d rows", n)
	}
	// Year returns date order and trimmed names.
	if err := svc.SetYear(ctx, admin, 2027, []calendar.Day{
		{Date: "2027-01-02", Kind: model.CalendarWorkday, Name: " 元旦调休 "},
		{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦"},
	}); err != nil {
		t.Fatal(err)
	}
	got, _ = svc.Year(ctx, 2027)
	if len(got) != 2 || got[0].Date != "2027-01-01" || got[1].Name != "元旦调休" {
		t.Fatalf("2027 = %+v", got)
	}
}

func TestSetYearPermissionAndValidation(t *testing.T) {
	svc, db, _ := newService(t)
	ctx := context.Background()
	before := countYear(t, db, 2026)
	ok := calendar.Day{Date: "2026-12-31", Kind: model.CalendarHoliday, Name: "测试"}
	for _, a := range []*service.Actor{staff, nil, {UserID: 3}} {
		if err := svc.SetYear(ctx, a, 2026, []calendar.Day{ok}); service.KindOf(err) != service.KindForbidden {
			t.Fatalf("actor %+v: err = %v, want forbidden", a, err)
		}
	}
	cases := []struct {
		name string
		year int
		days []calendar.Day
		code string
	}{
		{"year too small", 1999, nil, "bad_year"},
		{"year too large", 2100, nil, "bad_year"},
		{"bad date", 2026, []calendar.Day{{Date: "2026-13-01", Kind: "holiday", Name: "x"}}, "bad_date"},
		{"unpadded date", 2026, []calendar.Day{{Date: "2026-1-1", Kind: "holiday", Name: "x"}}, "bad_date"},
		{"other year", 2026, []calendar.Day{{Date: "2027-01-01", Kind: "holiday", Name: "x"}}, "date_outside_year"},
		{"duplicate", 2026, []calendar.Day{ok, ok}, "duplicate_date"},
		{"bad kind", 2026, []calendar.Day{{Date: "2026-12-31", Kind: "off", Name: "x"}}, "bad_kind"},
		{"workday on a Thursday", 2026, []calendar.Day{{Date: "2026-12-31", Kind: "workday", Name: "x"}}, "workday_not_weekend"},
		{"no name", 2026, []calendar.Day{{Date: "2026-12-31", Kind: "holiday", Name: "  "}}, "bad_name"},
		{"long name", 2026, []calendar.Day{{Date: "2026-12-31", Kind: "holiday", Name: "一二三四五六七八九十一二三四五六七八九十一"}}, "bad_name"},
	}
	for _, tc := range cases {
		err := svc.SetYear(ctx, admin, tc.year, tc.days)
		var e *service.Error
		if !errors.As(err, &e) || e.Kind != service.KindInvalid || e.Code != tc.code {
			t.Errorf("%s: err = %v, want invalid %s", tc.name, err, tc.code)
		}
	}
	// A holiday may fall on any day, a weekend included; a workday on Sunday is fine.
	if err := svc.SetYear(ctx, admin, 2026, []calendar.Day{
		{Date: "2026-12-26", Kind: model.CalendarHoliday, Name: "周六假日"},
		{Date: "2026-12-27", Kind: model.CalendarWorkday, Name: "周日上班"},
	}); err != nil {
		t.Fatalf("valid year refused: %v", err)
	}
	if n := countYear(t, db, 2026); n != 2 || before <= 2 {
		t.Fatalf("2026 has %d rows (had %d), want the 2 just set", n, before)
	}
	if _, err := svc.Year(ctx, 1900); service.KindOf(err) != service.KindInvalid {
		t.Fatalf("Year(1900): %v", err)
	}
}

// Two admins saving one year at once: each call either wins whole or is
// told to retry, and the year ends as one of the two lists, never a mix.
// Real goroutines need MariaDB; the SQLite suite has one connection.
func TestSetYearConcurrent(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency test: runs on MariaDB only (REDPROP_TEST_MYSQL_DSN)")
	}
	svc, _, _ := newService(t)
	ctx := context.Background()
	lists := [2][]calendar.Day{
		{{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "甲"}, {Date: "2027-01-02", Kind: model.CalendarHoliday, Name: "甲"}},
		{{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "乙"}, {Date: "2027-05-01", Kind: model.CalendarHoliday, Name: "乙"}, {Date: "2027-05-02", Kind: model.CalendarHoliday, Name: "乙"}},
	}
	for round := 0; round < 20; round++ {
		if round%2 == 0 { // half the rounds race on an empty year (only gap locks to take)
			if err := svc.SetYear(ctx, admin, 2027, nil); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range lists {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = svc.SetYear(ctx, admin, 2027, lists[i])
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && service.KindOf(err) != service.KindConflict {
				t.Fatalf("round %d, writer %d: %v", round, i, err)
			}
		}
		got, err := svc.Year(ctx, 2027)
		if err != nil {
			t.Fatal(err)
		}
		name := got[0].Name
		want := lists[0]
		if name == "乙" {
			want = lists[1]
		}
		if len(got) != len(want) {
			t.Fatalf("round %d: a mix of both lists: %+v", round, got)
		}
		for _, d := range got {
			if d.Name != name {
				t.Fatalf("round %d: a mix of both lists: %+v", round, got)
			}
		}
	}
}
