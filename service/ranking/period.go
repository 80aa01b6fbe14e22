package ranking

import (
	"fmt"
	"strconv"
	"time"

	"redprop/service/calendar"
)

// Periods: a quarter is written 2026Q3, a year 2026.

// parseQuarter reads 2026Q3.
func parseQuarter(p string) (year, q int, ok bool) {
	if len(p) != 6 || p[4] != 'Q' {
		return 0, 0, false
	}
	y, err := strconv.Atoi(p[:4])
	if err != nil || y < 2000 || y > 2099 || p[5] < '1' || p[5] > '4' {
		return 0, 0, false
	}
	return y, int(p[5] - '0'), true
}

func parseYear(p string) (int, bool) {
	y, err := strconv.Atoi(p)
	return y, err == nil && len(p) == 4 && y >= 2000 && y <= 2099
}

func quarter(year, q int) string { return fmt.Sprintf("%dQ%d", year, q) }

// prevQuarter is the quarter before p (a valid quarter).
func prevQuarter(p string) string {
	y, q, _ := parseQuarter(p)
	if q == 1 {
		return quarter(y-1, 4)
	}
	return quarter(y, q-1)
}

// nextQuarter is the quarter after p (a valid quarter).
func nextQuarter(p string) string {
	y, q, _ := parseQuarter(p)
	if q == 4 {
		return quarter(y+1, 1)
	}
	return quarter(y, q+1)
}

// periodEnd is the first instant after a period, in Beijing.
func periodEnd(kind, p string) time.Time {
	if kind == kindStars {
		y, _ := parseYear(p)
		return time.Date(y+1, 1, 1, 0, 0, 0, 0, calendar.Beijing)
	}
	y, q, _ := parseQuarter(p)
	return time.Date(y, time.Month(3*q+1), 1, 0, 0, 0, 0, calendar.Beijing)
}

// periodName is how people read a period: 2026年第3季度, 2026年度.
func periodName(p string) string {
	if y, q, ok := parseQuarter(p); ok {
		return fmt.Sprintf("%d年第%d季度", y, q)
	}
	return p + "年度"
}

// Workdays counts deadlines in whole working days of the calendar.
type Workdays interface {
	IsWorkday(t time.Time) bool
}

// afterWorkdays is the end (24:00 in Beijing) of the n-th working day
// after the day of start: "within n working days" of a publication or a
// filing, the day itself not counted (n ≥ 1).
func afterWorkdays(cal Workdays, start time.Time, n int) time.Time {
	y, m, d := start.In(calendar.Beijing).Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, calendar.Beijing)
	for counted := 0; counted < n; {
		day = day.AddDate(0, 0, 1)
		if cal.IsWorkday(day) {
			counted++
		}
	}
	return day.AddDate(0, 0, 1).UTC()
}
