package calendar

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// reloadAfter bounds how stale another instance's edit can look here: the
// cache is dropped on every local write, but other processes only learn
// of a change by reading again.
const reloadAfter = 5 * time.Minute

// Years an admin may read and edit.
const (
	MinYear = 2000
	MaxYear = 2099
)

// Service keeps the calendar in the database and serves it from memory.
type Service struct {
	db    *gorm.DB
	clock service.Clock

	mu       sync.Mutex // guards cached and loadedAt; held while loading so one caller loads
	cached   *Calendar
	loadedAt time.Time
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock) *Service {
	return &Service{db: db, clock: clock}
}

// Current returns the calendar in force, from memory when fresh.
func (s *Service) Current(ctx context.Context) (*Calendar, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if s.cached != nil && now.Sub(s.loadedAt) < reloadAfter && !now.Before(s.loadedAt) {
		return s.cached, nil
	}
	rows, err := model.CalendarDays(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("load calendar: %w", err)
	}
	days := make([]Day, len(rows))
	for i, r := range rows {
		days[i] = Day{Date: r.Date, Kind: r.Kind, Name: r.Name}
	}
	s.cached, s.loadedAt = NewCalendar(days), now
	return s.cached, nil
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.cached = nil
	s.mu.Unlock()
}

var errBadYear = service.Invalid("bad_year", fmt.Sprintf("年份须在 %d 到 %d 之间", MinYear, MaxYear))

// Year returns the exceptions of one year, in date order.
func (s *Service) Year(ctx context.Context, year int) ([]Day, error) {
	if year < MinYear || year > MaxYear {
		return nil, errBadYear
	}
	rows, err := model.CalendarYear(ctx, s.db, year)
	if err != nil {
		return nil, err
	}
	days := make([]Day, len(rows))
	for i, r := range rows {
		days[i] = Day{Date: r.Date, Kind: r.Kind, Name: r.Name}
	}
	return days, nil
}

// SetYear replaces every exception of year with days, in one transaction.
// Platform admins only: the calendar moves every working-time deadline.
func (s *Service) SetYear(ctx context.Context, a *service.Actor, year int, days []Day) error {
	if !a.IsAdmin() {
		return service.ErrForbidden
	}
	rows, err := validateYear(year, days)
	if err != nil {
		return err
	}
	// Two admins replacing one year at once meet on its unique dates: one
	// wins, the other is a deadlock victim (run again) or a duplicate (409).
	// A victim three times over is told as a duplicate is.
	err = model.InTxRetry(ctx, s.db, 3, func(tx *gorm.DB) error {
		return model.ReplaceCalendarYear(ctx, tx, year, rows)
	})
	// The cache goes even on failure: a half-known outcome must not linger.
	s.invalidate()
	if errors.Is(err, model.ErrDuplicate) || errors.Is(err, model.ErrDeadlock) {
		return service.Conflict("calendar_changed", "该年度日历正被他人修改，请刷新后重试").Wrap(err)
	}
	return err
}

func validateYear(year int, days []Day) ([]model.CalendarDay, error) {
	if year < MinYear || year > MaxYear {
		return nil, errBadYear
	}
	if len(days) > 366 {
		return nil, service.Invalid("too_many_days", "一年最多 366 天")
	}
	seen := make(map[string]bool, len(days))
	rows := make([]model.CalendarDay, 0, len(days))
	for _, d := range days {
		t, err := time.ParseInLocation(time.DateOnly, d.Date, Beijing)
		if err != nil || t.Format(time.DateOnly) != d.Date {
			return nil, service.Invalid("bad_date", fmt.Sprintf("日期 %q 格式不正确，应为 YYYY-MM-DD", d.Date))
		}
		if t.Year() != year {
			return nil, service.Invalid("date_outside_year", fmt.Sprintf("日期 %s 不属于 %d 年", d.Date, year))
		}
		if seen[d.Date] {
			return nil, service.Invalid("duplicate_date", fmt.Sprintf("日期 %s 重复", d.Date))
		}
		seen[d.Date] = true
		switch d.Kind {
		case model.CalendarHoliday:
		case model.CalendarWorkday:
			if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
				return nil, service.Invalid("workday_not_weekend", fmt.Sprintf("%s 不是周末，无需设为调休上班日", d.Date))
			}
		default:
			return nil, service.Invalid("bad_kind", fmt.Sprintf("日期 %s 的类型须为 holiday（放假）或 workday（调休上班）", d.Date))
		}
		name := strings.TrimSpace(d.Name)
		if name == "" || utf8.RuneCountInString(name) > 20 {
			return nil, service.Invalid("bad_name", fmt.Sprintf("日期 %s 的名称须为 1 到 20 个字", d.Date))
		}
		rows = append(rows, model.CalendarDay{Date: d.Date, Year: year, Kind: d.Kind, Name: name})
	}
	return rows, nil
}
