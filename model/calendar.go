package model

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Kinds of calendar day. Days without a row follow the week: Monday to
// Friday work, Saturday and Sunday rest.
const (
	CalendarHoliday = "holiday" // a day off, whatever the weekday
	CalendarWorkday = "workday" // 调休: a Saturday or Sunday that is worked
)

// CalendarDay is one exception to the ordinary week in China's public
// holiday calendar. Date is the Beijing date as YYYY-MM-DD.
type CalendarDay struct {
	Base
	Date string `gorm:"size:10;not null;uniqueIndex"`
	Year int    `gorm:"not null;index"`
	Kind string `gorm:"size:8;not null"`
	Name string `gorm:"size:20;not null"`
}

// calendarDefaults are the State Council's notices shipped with the code,
// loaded by migrate into a year that has no rows yet.
var calendarDefaults = map[int][]CalendarDay{
	// 国务院办公厅关于2026年部分节假日安排的通知.
	2026: joinDays(
		calendarSpan(CalendarHoliday, "元旦", "2026-01-01", 3),
		calendarSpan(CalendarWorkday, "元旦调休", "2026-01-04", 1),
		calendarSpan(CalendarHoliday, "春节", "2026-02-15", 9),
		calendarSpan(CalendarWorkday, "春节调休", "2026-02-14", 1),
		calendarSpan(CalendarWorkday, "春节调休", "2026-02-28", 1),
		calendarSpan(CalendarHoliday, "清明节", "2026-04-04", 3),
		calendarSpan(CalendarHoliday, "劳动节", "2026-05-01", 5),
		calendarSpan(CalendarWorkday, "劳动节调休", "2026-05-09", 1),
		calendarSpan(CalendarHoliday, "端午节", "2026-06-19", 3),
		calendarSpan(CalendarHoliday, "中秋节", "2026-09-25", 3),
		calendarSpan(CalendarHoliday, "国庆节", "2026-10-01", 7),
		calendarSpan(CalendarWorkday, "国庆节调休", "2026-09-20", 1),
		calendarSpan(CalendarWorkday, "国庆节调休", "2026-10-10", 1),
	),
}

func calendarSpan(kind, name, first string, days int) []CalendarDay {
	d, err := time.Parse(time.DateOnly, first)
	if err != nil {
		panic(err) // a typo in the table above; caught by any test
	}
	out := make([]CalendarDay, 0, days)
	for i := 0; i < days; i++ {
		out = append(out, CalendarDay{Date: d.Format(time.DateOnly), Year: d.Year(), Kind: kind, Name: name})
		d = d.AddDate(0, 0, 1)
	}
	return out
}

func joinDays(parts ...[]CalendarDay) []CalendarDay {
	var out []CalendarDay
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// DefaultCalendarYears lists the years whose calendar ships with the code.
func DefaultCalendarYears() []int {
	years := make([]int, 0, len(calendarDefaults))
	for y := range calendarDefaults {
		years = append(years, y)
	}
	return years
}

// DefaultCalendarDays returns a fresh copy of the shipped days of year
// (nil when none ship).
func DefaultCalendarDays(year int) []CalendarDay {
	src := calendarDefaults[year]
	if src == nil {
		return nil
	}
	return append([]CalendarDay(nil), src...)
}

// SeedCalendar inserts the shipped days of every year that has no rows.
// A year an admin has edited (even to nothing but one row) is left alone.
func SeedCalendar(ctx context.Context, db *gorm.DB) error {
	return InTx(ctx, db, func(tx *gorm.DB) error {
		for year := range calendarDefaults {
			var n int64
			if err := tx.Model(&CalendarDay{}).Where("year = ?", year).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if err := tx.Create(DefaultCalendarDays(year)).Error; err != nil {
				return fmt.Errorf("calendar %d: %w", year, err)
			}
		}
		return nil
	})
}

// CalendarDays returns every exception on record, in date order.
func CalendarDays(ctx context.Context, db *gorm.DB) ([]CalendarDay, error) {
	var rows []CalendarDay
	err := db.WithContext(ctx).Order("date").Find(&rows).Error
	return rows, Translate(err)
}

// CalendarYear returns the exceptions of one year, in date order.
func CalendarYear(ctx context.Context, db *gorm.DB, year int) ([]CalendarDay, error) {
	var rows []CalendarDay
	err := db.WithContext(ctx).Where("year = ?", year).Order("date").Find(&rows).Error
	return rows, Translate(err)
}

// ReplaceCalendarYear deletes every exception of year and inserts days in
// their place; run it in a transaction. Two replacements of one year at
// once meet on its unique dates: ErrDuplicate, or ErrDeadlock for the
// victim (which may run again).
func ReplaceCalendarYear(ctx context.Context, tx *gorm.DB, year int, days []CalendarDay) error {
	tx = tx.WithContext(ctx)
	if err := tx.Where("year = ?", year).Delete(&CalendarDay{}).Error; err != nil {
		return Translate(err)
	}
	if len(days) == 0 {
		return nil
	}
	return Translate(tx.Create(&days).Error)
}

// CalendarYearsLoaded lists, ascending, the years that have at least one
// exception on record: a year China keeps without a single holiday does
// not exist, so a year without rows is a year nobody loaded.
func CalendarYearsLoaded(ctx context.Context, db *gorm.DB) ([]int, error) {
	var years []int
	err := db.WithContext(ctx).Model(&CalendarDay{}).Distinct("year").Order("year").Pluck("year", &years).Error
	return years, Translate(err)
}
