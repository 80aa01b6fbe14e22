package calendar_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"redprop/model"
	"redprop/service/calendar"
)

func cal2026() *calendar.Calendar {
	var days []calendar.Day
	for _, r := range model.DefaultCalendarDays(2026) {
		days = append(days, calendar.Day{Date: r.Date, Kind: r.Kind, Name: r.Name})
	}
	return calendar.NewCalendar(days)
}

// bj parses a Beijing wall time "2006-01-02 15:04".
func bj(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, calendar.Beijing)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const day = 24 * time.Hour

// The shipped 2026 table against the State Council notice: the make-up
// days are the weekdays the notice names, and the holiday spans are whole.
func TestDefaults2026MatchTheNotice(t *testing.T) {
	rows := model.DefaultCalendarDays(2026)
	byDate := map[string]model.CalendarDay{}
	for _, r := range rows {
		if _, dup := byDate[r.Date]; dup {
			t.Fatalf("duplicate %s", r.Date)
		}
		if r.Year != 2026 {
			t.Fatalf("%s has year %d", r.Date, r.Year)
		}
		byDate[r.Date] = r
	}
	workdays := map[string]time.Weekday{
		"2026-01-04": time.Sunday, "2026-02-14": time.Saturday, "2026-02-28": time.Saturday,
		"2026-05-09": time.Saturday, "2026-09-20": time.Sunday, "2026-10-10": time.Saturday,
	}
	nWork := 0
	for _, r := range rows {
		if r.Kind != model.CalendarWorkday {
			continue
		}
		nWork++
		want, ok := workdays[r.Date]
		if !ok {
			t.Errorf("unexpected make-up day %s", r.Date)
			continue
		}
		d, _ := time.Parse(time.DateOnly, r.Date)
		if d.Weekday() != want {
			t.Errorf("%s is a %s, the notice says %s", r.Date, d.Weekday(), want)
		}
	}
	if nWork != len(workdays) {
		t.Errorf("%d make-up days, want %d", nWork, len(workdays))
	}
	spans := []struct {
		name, first, last string
	}{
		{"元旦", "2026-01-01", "2026-01-03"}, {"春节", "2026-02-15", "2026-02-23"},
		{"清明节", "2026-04-04", "2026-04-06"}, {"劳动节", "2026-05-01", "2026-05-05"},
		{"端午节", "2026-06-19", "2026-06-21"}, {"中秋节", "2026-09-25", "2026-09-27"},
		{"国庆节", "2026-10-01", "2026-10-07"},
	}
	nHoliday := 0
	for _, sp := range spans {
		first, _ := time.Parse(time.DateOnly, sp.first)
		last, _ := time.Parse(time.DateOnly, sp.last)
		for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
			r, ok := byDate[d.Format(time.DateOnly)]
			if !ok || r.Kind != model.CalendarHoliday || r.Name != sp.name {
				t.Errorf("%s: got %+v, want a %s holiday", d.Format(time.DateOnly), r, sp.name)
			}
			nHoliday++
		}
	}
	if len(rows) != nHoliday+nWork {
		t.Errorf("%d rows, want %d holidays + %d make-up days", len(rows), nHoliday, nWork)
	}
	// Spot checks of the weekday arithmetic the spans rely on.
	c := cal2026()
	for s, want := range map[string]bool{
		"2026-01-02 12:00": false, // Friday, 元旦
		"2026-01-04 12:00": true,  // Sunday, worked
		"2026-02-14 12:00": true,  // Saturday, worked
		"2026-02-23 12:00": false, // Monday, 春节
		"2026-02-24 12:00": true,  // Tuesday, back
		"2026-04-06 12:00": false, // Monday, 清明
		"2026-06-19 12:00": false, // Friday, 端午
		"2026-09-20 12:00": true,  // Sunday, worked
		"2026-09-25 12:00": false, // Friday, 中秋
		"2026-10-07 12:00": false, // Wednesday, 国庆
		"2026-10-10 12:00": true,  // Saturday, worked
		"2026-10-11 12:00": false, // ordinary Sunday
		"2026-11-23 12:00": true,  // ordinary Monday
	} {
		if got := c.IsWorkday(bj(t, s)); got != want {
			t.Errorf("IsWorkday(%s) = %v, want %v", s, got, want)
		}
	}
}

// IsWorkday decides by the Beijing date, whatever zone the time is in.
func TestIsWorkdayUsesBeijingDate(t *testing.T) {
	c := cal2026()
	// 2026-09-30 23:30 UTC is 2026-10-01 07:30 in Beijing: 国庆.
	if c.IsWorkday(time.Date(2026, 9, 30, 23, 30, 0, 0, time.UTC)) {
		t.Fatal("Beijing morning of Oct 1 counted as a working day")
	}
	// 2026-10-09 16:30 UTC is 2026-10-10 00:30 in Beijing: a make-up Saturday.
	if !c.IsWorkday(time.Date(2026, 10, 9, 16, 30, 0, 0, time.UTC)) {
		t.Fatal("Beijing Saturday Oct 10 (调休) not counted as working")
	}
}

func TestAddWorking(t *testing.T) {
	c := cal2026()
	cases := []struct {
		name  string
		start string
		d     time.Duration
		want  string
	}{
		{"across 国庆", "2026-09-30 10:00", day, "2026-10-08 10:00"},
		{"across 国庆 and the make-up Saturday", "2026-10-09 15:00", 2 * day, "2026-10-12 15:00"},
		{"make-up Saturday counts", "2026-10-09 15:00", day, "2026-10-10 15:00"},
		{"make-up Sunday before 国庆 counts", "2026-09-19 10:00", day, "2026-09-21 00:00"},
		{"normal weekend", "2026-10-16 15:00", 2 * day, "2026-10-20 15:00"},
		{"start inside a holiday", "2026-10-03 12:00", day, "2026-10-09 00:00"},
		{"start inside a holiday, zero", "2026-10-03 12:00", 0, "2026-10-08 00:00"},
		{"start on an ordinary Saturday", "2026-10-17 09:00", 4 * time.Hour, "2026-10-19 04:00"},
		{"ends at midnight before a weekend", "2026-10-16 10:00", 14 * time.Hour, "2026-10-17 00:00"},
		{"within a day", "2026-11-23 10:00", 90 * time.Minute, "2026-11-23 11:30"},
		{"across 春节 with its make-up Saturday", "2026-02-13 12:00", 3 * day, "2026-02-25 12:00"},
		{"negative is zero", "2026-11-23 10:00", -time.Hour, "2026-11-23 10:00"},
	}
	for _, tc := range cases {
		got := c.AddWorking(bj(t, tc.start), tc.d)
		if want := bj(t, tc.want); !got.Equal(want) {
			t.Errorf("%s: AddWorking(%s, %v) = %s, want %s", tc.name, tc.start, tc.d, got.In(calendar.Beijing).Format("2006-01-02 15:04"), tc.want)
		}
		if back := c.WorkingBetween(bj(t, tc.start), got); tc.d >= 0 && back != tc.d {
			t.Errorf("%s: WorkingBetween back = %v, want %v", tc.name, back, tc.d)
		}
	}
	// The result keeps the caller's zone (stored times are UTC).
	got := c.AddWorking(time.Date(2026, 9, 30, 2, 0, 0, 0, time.UTC), day)
	if got.Location() != time.UTC || !got.Equal(time.Date(2026, 10, 8, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("UTC start: got %v", got)
	}
}

func TestWorkingBetween(t *testing.T) {
	c := cal2026()
	cases := []struct {
		a, b string
		want time.Duration
	}{
		{"2026-09-30 10:00", "2026-10-08 10:00", day},
		{"2026-10-01 00:00", "2026-10-08 00:00", 0},
		{"2026-10-09 00:00", "2026-10-12 00:00", 2 * day}, // Fri + make-up Sat
		{"2026-10-16 12:00", "2026-10-19 12:00", day},     // Fri noon to Mon noon
		{"2026-11-23 12:00", "2026-11-23 10:00", 0},       // reversed
		{"2026-11-23 12:00", "2026-11-23 12:00", 0},
	}
	for _, tc := range cases {
		if got := c.WorkingBetween(bj(t, tc.a), bj(t, tc.b)); got != tc.want {
			t.Errorf("WorkingBetween(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// A nil calendar is the plain week.
func TestNilCalendarIsPlainWeek(t *testing.T) {
	var c *calendar.Calendar
	if c.IsWorkday(bj(t, "2026-10-01 12:00")) != true || c.IsWorkday(bj(t, "2026-10-10 12:00")) != false {
		t.Fatal("nil calendar should know only weekends")
	}
	if got := c.AddWorking(bj(t, "2026-10-16 15:00"), 2*day); !got.Equal(bj(t, "2026-10-20 15:00")) {
		t.Fatalf("nil calendar AddWorking = %v", got)
	}
}

// WorkingBetween undoes AddWorking for any start and any amount, and
// AddWorking undoes WorkingBetween for any end inside working time.
func TestAddWorkingAndWorkingBetweenAreInverses(t *testing.T) {
	c := cal2026()
	r := rand.New(rand.NewPCG(2026, 10))
	from := bj(t, "2025-12-20 00:00")
	span := int64(bj(t, "2027-01-10 00:00").Sub(from))
	for i := 0; i < 20000; i++ {
		s := from.Add(time.Duration(r.Int64N(span)))
		var d time.Duration
		switch i % 4 {
		case 0: // whole days, the common SLA shape
			d = time.Duration(r.IntN(15)) * day
		case 1: // whole hours
			d = time.Duration(r.IntN(24*20)) * time.Hour
		default: // anything down to the nanosecond
			d = time.Duration(r.Int64N(int64(40 * day)))
		}
		if i%3 == 0 {
			s = s.Truncate(time.Hour) // land on boundaries often
		}
		e := c.AddWorking(s, d)
		if got := c.WorkingBetween(s, e); got != d {
			t.Fatalf("WorkingBetween(%v, AddWorking(.., %v) = %v) = %v", s, d, e, got)
		}
		if e.Before(s) {
			t.Fatalf("AddWorking(%v, %v) = %v is before the start", s, d, e)
		}
		if d > 0 && !c.IsWorkday(e.Add(-1)) {
			t.Fatalf("AddWorking(%v, %v) = %v: the last counted instant is not on a working day", s, d, e)
		}
		// Any end inside a working day maps back to itself.
		end := s.Add(time.Duration(r.Int64N(int64(30 * day))))
		if !c.IsWorkday(end) || end.Equal(midnightOf(end)) {
			continue
		}
		if got := c.AddWorking(s, c.WorkingBetween(s, end)); !got.Equal(end) {
			t.Fatalf("AddWorking(%v, WorkingBetween(.., %v)) = %v", s, end, got)
		}
	}
}

func midnightOf(t time.Time) time.Time {
	y, m, d := t.In(calendar.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, calendar.Beijing)
}
