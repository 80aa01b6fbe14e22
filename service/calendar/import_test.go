package calendar_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// An ICS feed as holiday calendars publish them: folded lines, all-day
// events with an exclusive end, 休 / 班 in the summary, a timed event.
const ics2027 = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//CN\r\n" +
	"BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270104\r\nSUMMARY:元旦（休）\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270207\r\nDTEND;VALUE=DATE:20270208\r\nSUMMARY:春节\r\n  班\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270205\r\nSUMMARY:春节 休\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nDTSTART:20261231T160000Z\r\nDTEND:20270101T000000Z\r\nSUMMARY:跨年夜（休）\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

const chineseDays2027 = `{"holidays": {"2027-01-01": "New Year's Day,元旦,1", "2027-02-05": "Spring Festival,春节,3",
 "2026-10-01": "National Day,国庆节,7"}, "workdays": {"2027-02-07": "Spring Festival,春节,3"}, "inLieuDays": {"2027-02-08": "x"}}`

const csv2027 = "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-07,班,春节调休\n\n2027-02-05,休,春节\n"

func TestImportReadsEachFormat(t *testing.T) {
	want := map[string][]calendar.Day{
		calendar.FormatICS: {
			{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦"},
			{Date: "2027-01-02", Kind: model.CalendarHoliday, Name: "元旦"},
			{Date: "2027-01-03", Kind: model.CalendarHoliday, Name: "元旦"},
			{Date: "2027-02-05", Kind: model.CalendarHoliday, Name: "春节"},
			{Date: "2027-02-07", Kind: model.CalendarWorkday, Name: "春节调休"},
		},
		calendar.FormatChineseDays: {
			{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦"},
			{Date: "2027-02-05", Kind: model.CalendarHoliday, Name: "春节"},
			{Date: "2027-02-07", Kind: model.CalendarWorkday, Name: "春节调休"},
		},
		calendar.FormatCSV: {
			{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦"},
			{Date: "2027-02-05", Kind: model.CalendarHoliday, Name: "春节"},
			{Date: "2027-02-07", Kind: model.CalendarWorkday, Name: "春节调休"},
		},
	}
	files := map[string]string{calendar.FormatICS: ics2027, calendar.FormatChineseDays: chineseDays2027, calendar.FormatCSV: csv2027}
	for _, format := range calendar.Formats() {
		t.Run(format, func(t *testing.T) {
			svc, _, _ := newService(t)
			p, err := svc.Import(context.Background(), admin, 2027, format, []byte(files[format]), false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Days, want[format]) {
				t.Fatalf("days %+v\nwant %+v", p.Days, want[format])
			}
			if p.Applied || p.LoadedBefore {
				t.Fatalf("a preview of an empty year: %+v", p)
			}
			if days, _ := svc.Year(context.Background(), 2027); len(days) != 0 {
				t.Fatalf("a preview wrote %d days", len(days))
			}
		})
	}
}

func TestImportPreviewsThenApplies(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	if err := svc.SetYear(ctx, admin, 2027, []calendar.Day{
		{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦假期"},
		{Date: "2027-03-01", Kind: model.CalendarHoliday, Name: "误录"},
		{Date: "2027-02-05", Kind: model.CalendarHoliday, Name: "春节"},
	}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Import(ctx, admin, 2027, calendar.FormatCSV, []byte(csv2027), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("preview", func(t *testing.T) {
		if !p.LoadedBefore || p.Applied {
			t.Fatalf("flags %+v", p)
		}
		if len(p.Added) != 1 || p.Added[0].Date != "2027-02-07" {
			t.Errorf("added %+v", p.Added)
		}
		if len(p.Removed) != 1 || p.Removed[0].Date != "2027-03-01" {
			t.Errorf("removed %+v", p.Removed)
		}
		if len(p.Changed) != 1 || p.Changed[0].Date != "2027-01-01" || p.Changed[0].From.Name != "元旦假期" || p.Changed[0].To.Name != "元旦" {
			t.Errorf("changed %+v", p.Changed)
		}
		days, _ := svc.Year(ctx, 2027)
		if len(days) != 3 || days[2].Name != "误录" {
			t.Errorf("the preview changed the year: %+v", days)
		}
	})
	t.Run("apply", func(t *testing.T) {
		p, err := svc.Import(ctx, admin, 2027, calendar.FormatCSV, []byte(csv2027), true)
		if err != nil || !p.Applied {
			t.Fatalf("apply: %+v %v", p, err)
		}
		days, _ := svc.Year(ctx, 2027)
		if !slices.Equal(days, p.Days) {
			t.Fatalf("stored %+v, want %+v", days, p.Days)
		}
		cal, err := svc.Current(ctx)
		if err != nil || cal.IsWorkday(time.Date(2027, 2, 5, 3, 0, 0, 0, calendar.Beijing)) ||
			!cal.IsWorkday(time.Date(2027, 2, 7, 3, 0, 0, 0, calendar.Beijing)) {
			t.Fatalf("the calendar in force does not follow the import (%v)", err)
		}
	})
}

func TestImportRefusals(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := newService(t)
	for _, tc := range []struct {
		name, format, data string
		actor              *service.Actor
		year               int
		code               string
	}{
		{"not an admin", calendar.FormatCSV, csv2027, staff, 2027, "forbidden"},
		{"unknown format", "xls", csv2027, admin, 2027, "bad_format"},
		{"year out of range", calendar.FormatCSV, csv2027, admin, 1999, "bad_year"},
		{"nothing for the year", calendar.FormatCSV, csv2027, admin, 2028, "no_days_for_year"},
		{"broken json", calendar.FormatChineseDays, `{"holidays":`, admin, 2027, "bad_calendar_file"},
		{"not ics", calendar.FormatICS, "hello", admin, 2027, "bad_calendar_file"},
		{"csv too short", calendar.FormatCSV, "2027-01-01,holiday\n", admin, 2027, "bad_calendar_file"},
		{"weekday make-up", calendar.FormatCSV, "2027-01-04,workday,调休\n", admin, 2027, "workday_not_weekend"},
		{"bad kind", calendar.FormatCSV, "2027-01-01,rest,元旦\n", admin, 2027, "bad_kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Import(ctx, tc.actor, tc.year, tc.format, []byte(tc.data), true)
			var se *service.Error
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("error %v, want code %s", err, tc.code)
			}
			if days, _ := svc.Year(ctx, 2027); len(days) != 0 {
				t.Fatalf("a refused import wrote %d days", len(days))
			}
		})
	}
}

func TestStatusTellsWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	svc, _, clock := newService(t) // 2026-09-30, 2026 shipped
	st, err := svc.Status(ctx)
	if err != nil || !st.YearLoaded || st.NextLoaded || len(st.Missing) != 0 || st.Warning != "" {
		t.Fatalf("September: %+v %v", st, err)
	}
	clock.Set(time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC)) // 1 November in Beijing
	st, _ = svc.Status(ctx)
	if !slices.Equal(st.Missing, []int{2027}) || !st.NextYearAlert || st.Warning == "" {
		t.Fatalf("November: %+v", st)
	}
	if err := svc.SetYear(ctx, admin, 2027, []calendar.Day{{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦"}}); err != nil {
		t.Fatal(err)
	}
	if st, _ = svc.Status(ctx); len(st.Missing) != 0 || !st.NextLoaded || !slices.Equal(st.Years, []int{2026, 2027}) {
		t.Fatalf("after loading 2027: %+v", st)
	}
	clock.Set(time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC))
	if st, _ = svc.Status(ctx); !slices.Equal(st.Missing, []int{2028}) || st.YearLoaded || st.Warning == "" {
		t.Fatalf("a year running without its calendar: %+v", st)
	}
}

func TestCalendarKnowsLoadedYears(t *testing.T) {
	cal := calendar.NewCalendar([]calendar.Day{{Date: "2026-10-01", Kind: model.CalendarHoliday, Name: "国庆节"}})
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, calendar.Beijing) }
	if !cal.Knows(2026) || cal.Knows(2027) {
		t.Fatal("Knows")
	}
	if !cal.Covers(at(2026, 12, 1), at(2026, 12, 30)) || cal.Covers(at(2026, 12, 30), at(2027, 1, 4)) ||
		cal.Covers(at(2027, 1, 4), at(2026, 12, 30)) {
		t.Fatal("Covers")
	}
	// Midnight of 1 January in Beijing is still 31 December in UTC.
	if cal.Covers(at(2026, 12, 30), time.Date(2026, 12, 31, 16, 30, 0, 0, time.UTC)) {
		t.Fatal("Covers reads Beijing years")
	}
	var none *calendar.Calendar
	if none.Knows(2026) {
		t.Fatal("a nil calendar knows nothing")
	}
}
