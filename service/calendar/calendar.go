// Package calendar knows which days are worked in China: weekends off,
// public holidays off, make-up working days (调休) on, per the State
// Council's yearly notice kept in the database. Deadlines that count
// working days use it. It must not import gin or api/.
package calendar

import (
	"time"

	"redprop/model"
)

// Beijing is China Standard Time. A fixed zone: China has no daylight
// saving, so every day is exactly 24 hours long.
var Beijing = time.FixedZone("CST", 8*3600)

// Day is one exception to the ordinary week. Date is a Beijing date,
// YYYY-MM-DD; Kind is model.CalendarHoliday or model.CalendarWorkday.
type Day struct {
	Date string
	Kind string
	Name string
}

// Calendar answers working-day questions. It is immutable once built, so
// one value may be shared by every goroutine. A nil *Calendar is the plain
// week (Monday to Friday), which keeps callers' tests free of fixtures.
type Calendar struct {
	kinds map[int]string // yyyymmdd → kind
	years map[int]bool   // years with at least one exception: loaded
}

// NewCalendar builds a calendar from its exceptions. Days with an unknown
// kind or a malformed date are ignored: rows are validated when written.
func NewCalendar(days []Day) *Calendar {
	c := &Calendar{kinds: make(map[int]string, len(days)), years: map[int]bool{}}
	for _, d := range days {
		t, err := time.ParseInLocation(time.DateOnly, d.Date, Beijing)
		if err != nil || (d.Kind != model.CalendarHoliday && d.Kind != model.CalendarWorkday) {
			continue
		}
		c.kinds[dayKey(t)] = d.Kind
		c.years[t.Year()] = true
	}
	return c
}

// Knows reports whether the calendar of year is loaded. Without it the
// year's days count as a plain week: 春节 would be worked.
func (c *Calendar) Knows(year int) bool { return c != nil && c.years[year] }

// Covers reports whether every Beijing year from a to b (either order) is
// loaded: a working-time count over that span is then exact.
func (c *Calendar) Covers(a, b time.Time) bool {
	ya, yb := a.In(Beijing).Year(), b.In(Beijing).Year()
	if ya > yb {
		ya, yb = yb, ya
	}
	for y := ya; y <= yb; y++ {
		if !c.Knows(y) {
			return false
		}
	}
	return true
}

func dayKey(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// midnight is the start of t's Beijing day.
func midnight(t time.Time) time.Time {
	y, m, d := t.In(Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Beijing)
}

// working reports whether the Beijing day starting at day (a midnight in
// Beijing) is worked.
func (c *Calendar) working(day time.Time) bool {
	if c != nil {
		switch c.kinds[dayKey(day)] {
		case model.CalendarHoliday:
			return false
		case model.CalendarWorkday:
			return true
		}
	}
	wd := day.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// firstWorking returns the first worked day at or after day (a midnight).
// It ends: only listed dates can be holidays.
func (c *Calendar) firstWorking(day time.Time) time.Time {
	for !c.working(day) {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

// IsWorkday reports whether t falls on a working day, by Beijing date.
func (c *Calendar) IsWorkday(t time.Time) bool { return c.working(midnight(t)) }

// AddWorking returns the earliest instant at which d of working time has
// passed since start. A working day counts all of its 24 hours; time on
// days off does not count, and a start on a day off counts from the next
// working day's 00:00 in Beijing (so d = 0 lands there). A negative d is
// taken as 0. The result is in start's location.
//
// When the count runs out exactly at the end of a working day, the result
// is that day's 24:00 (the next day's 00:00) even if the next day is off:
// the earliest instant, which WorkingBetween maps back to d.
func (c *Calendar) AddWorking(start time.Time, d time.Duration) time.Time {
	loc := start.Location()
	if d < 0 {
		d = 0
	}
	day := midnight(start)
	t := start
	if !c.working(day) {
		day = c.firstWorking(day)
		t = day
	}
	for {
		end := day.AddDate(0, 0, 1)
		left := end.Sub(t)
		if d <= left {
			return t.Add(d).In(loc)
		}
		d -= left
		day = c.firstWorking(end)
		t = day
	}
}

// WorkingBetween returns the working time that passes from a to b: the
// inverse of AddWorking. It is 0 when b is not after a.
func (c *Calendar) WorkingBetween(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	var total time.Duration
	for day := midnight(a); day.Before(b); {
		end := day.AddDate(0, 0, 1)
		if c.working(day) {
			lo, hi := day, end
			if a.After(lo) {
				lo = a
			}
			if b.Before(hi) {
				hi = b
			}
			total += hi.Sub(lo)
		}
		day = end
	}
	return total
}
