package calendar

import (
	"context"
	"fmt"
	"slices"
	"time"

	"redprop/model"
)

// WarnFromMonth is the month from which next year's missing calendar is
// reported: the State Council publishes the notice in October or November,
// and on 1 January every deadline needs it.
const WarnFromMonth = time.November

// Status says which years' calendars are loaded and what is missing.
type Status struct {
	Years         []int // loaded years, ascending
	Year          int   // this year in Beijing
	YearLoaded    bool
	NextLoaded    bool
	Missing       []int  // years that must be loaded now: this year, and next year from November
	Warning       string // for people; empty when nothing is missing
	NextYearAlert bool   // next year is missing and WarnFromMonth has come
}

// Status reports the loaded years as of now.
func (s *Service) Status(ctx context.Context) (Status, error) {
	years, err := model.CalendarYearsLoaded(ctx, s.db)
	if err != nil {
		return Status{}, fmt.Errorf("calendar years: %w", err)
	}
	return statusAt(s.clock.Now(), years), nil
}

func statusAt(now time.Time, years []int) Status {
	bj := now.In(Beijing)
	st := Status{Years: years, Year: bj.Year()}
	if st.Years == nil {
		st.Years = []int{}
	}
	st.YearLoaded = slices.Contains(years, st.Year)
	st.NextLoaded = slices.Contains(years, st.Year+1)
	if !st.YearLoaded {
		st.Missing = append(st.Missing, st.Year)
	}
	if !st.NextLoaded && bj.Month() >= WarnFromMonth {
		st.Missing = append(st.Missing, st.Year+1)
		st.NextYearAlert = true
	}
	switch {
	case !st.YearLoaded:
		st.Warning = fmt.Sprintf("%d 年工作日历尚未导入，期限暂按普通周（周一至周五）计算，节假日会被算作工作日", st.Year)
	case st.NextYearAlert:
		st.Warning = fmt.Sprintf("%d 年工作日历尚未导入，请在 1 月 1 日前导入国务院办公厅的节假日安排", st.Year+1)
	}
	return st
}
