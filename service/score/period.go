package score

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// Period is a closed span of time scored as one: a quarter for firms
// ("2026Q3"), a month for grid workers ("2026-11"), in Beijing time.
type Period struct {
	Name       string
	Start, End time.Time // [Start, End), UTC
}

var (
	quarterRe = regexp.MustCompile(`^(\d{4})Q([1-4])$`)
	monthRe   = regexp.MustCompile(`^(\d{4})-(0[1-9]|1[0-2])$`)

	errQuarter = service.Invalid("bad_period", "物业考核周期须为季度，如 2026Q3")
	errMonth   = service.Invalid("bad_period", "网格员考核周期须为月份，如 2026-11")
	errOpen    = service.Unprocessable("period_not_closed", "考核周期尚未结束，结束后才能计算")
)

// ParsePeriod reads the period of a kind: a quarter for firms, a month
// for grid workers.
func ParsePeriod(kind, name string) (Period, error) {
	if kind == model.ScoreKindFirm {
		m := quarterRe.FindStringSubmatch(name)
		if m == nil {
			return Period{}, errQuarter
		}
		y, _ := strconv.Atoi(m[1])
		q, _ := strconv.Atoi(m[2])
		start := time.Date(y, time.Month(3*q-2), 1, 0, 0, 0, 0, calendar.Beijing)
		return Period{Name: name, Start: start.UTC(), End: start.AddDate(0, 3, 0).UTC()}, nil
	}
	m := monthRe.FindStringSubmatch(name)
	if m == nil {
		return Period{}, errMonth
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	start := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, calendar.Beijing)
	return Period{Name: name, Start: start.UTC(), End: start.AddDate(0, 1, 0).UTC()}, nil
}

// QuarterOf names the quarter holding t (Beijing time); MonthOf the month.
func QuarterOf(t time.Time) string {
	b := t.In(calendar.Beijing)
	return fmt.Sprintf("%dQ%d", b.Year(), (int(b.Month())-1)/3+1)
}

// MonthOf names the month holding t in Beijing time.
func MonthOf(t time.Time) string { return t.In(calendar.Beijing).Format("2006-01") }
