package calendar

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"redprop/model"
	"redprop/service"
)

// Import formats. Each holds the State Council's notice for a year in a
// shape that is published and kept up to date elsewhere, so an admin
// loads next year's calendar without typing it.
const (
	// FormatICS is an iCalendar file of all-day events (a holiday calendar
	// feed): an event whose summary has 班 is a make-up working day, any
	// other event is days off.
	FormatICS = "ics"
	// FormatChineseDays is the JSON data of the chinese-days package:
	// {"holidays": {"2027-01-01": "New Year's Day,元旦,1"}, "workdays": {…}}.
	FormatChineseDays = "chinese-days"
	// FormatCSV is one day a line: date,kind,name with kind holiday or
	// workday (or 休 / 班); a header line is allowed.
	FormatCSV = "csv"
)

// MaxImportBytes bounds an uploaded calendar file.
const MaxImportBytes = 1 << 20

// Formats lists the formats Import reads.
func Formats() []string { return []string{FormatICS, FormatChineseDays, FormatCSV} }

// Change is one date whose entry an import changes.
type Change struct {
	Date string
	From Day
	To   Day
}

// Preview is what an import does to a year: the days it would store and
// how they differ from the days stored now.
type Preview struct {
	Year         int
	LoadedBefore bool
	Days         []Day // the year after the import, in date order
	Added        []Day // dates without an entry before
	Removed      []Day // entries the import drops
	Changed      []Change
	Applied      bool
}

var errImportFormat = service.Invalid("bad_format", "日历文件格式须为 ics、chinese-days 或 csv")

func errImportFile(msg string) error {
	return service.Invalid("bad_calendar_file", "日历文件无法读取："+msg)
}

// Import reads a calendar file of one format, keeps the days of year, and
// returns what it changes; with apply the year is replaced by them (as
// SetYear does), otherwise nothing is written. Platform admins only.
func (s *Service) Import(ctx context.Context, a *service.Actor, year int, format string, data []byte, apply bool) (Preview, error) {
	if !a.IsAdmin() {
		return Preview{}, service.ErrForbidden
	}
	if year < MinYear || year > MaxYear {
		return Preview{}, errBadYear
	}
	if len(data) > MaxImportBytes {
		return Preview{}, service.TooLarge("calendar_file_too_large", "日历文件不能超过 1 MB")
	}
	days, err := parseCalendar(format, data)
	if err != nil {
		return Preview{}, err
	}
	days = inYear(days, year)
	if len(days) == 0 {
		return Preview{}, service.Unprocessable("no_days_for_year", fmt.Sprintf("文件中没有 %d 年的节假日或调休安排", year))
	}
	if _, err := validateYear(year, days); err != nil {
		return Preview{}, err
	}
	before, err := s.Year(ctx, year)
	if err != nil {
		return Preview{}, err
	}
	p := diff(year, before, days)
	if !apply {
		return p, nil
	}
	if err := s.SetYear(ctx, a, year, days); err != nil {
		return Preview{}, err
	}
	p.Applied = true
	return p, nil
}

// diff compares the stored days of a year with the imported ones.
func diff(year int, before, after []Day) Preview {
	p := Preview{Year: year, LoadedBefore: len(before) > 0, Days: after}
	old := make(map[string]Day, len(before))
	for _, d := range before {
		old[d.Date] = d
	}
	for _, d := range after {
		prev, ok := old[d.Date]
		switch {
		case !ok:
			p.Added = append(p.Added, d)
		case prev.Kind != d.Kind || prev.Name != d.Name:
			p.Changed = append(p.Changed, Change{Date: d.Date, From: prev, To: d})
		}
		delete(old, d.Date)
	}
	for _, d := range before {
		if _, gone := old[d.Date]; gone {
			p.Removed = append(p.Removed, d)
		}
	}
	return p
}

// inYear keeps the days of year, in date order; a later entry for a date
// replaces an earlier one.
func inYear(days []Day, year int) []Day {
	prefix := fmt.Sprintf("%04d-", year)
	byDate := map[string]Day{}
	for _, d := range days {
		if strings.HasPrefix(d.Date, prefix) {
			byDate[d.Date] = d
		}
	}
	out := make([]Day, 0, len(byDate))
	for _, d := range byDate {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b Day) int { return strings.Compare(a.Date, b.Date) })
	return out
}

func parseCalendar(format string, data []byte) ([]Day, error) {
	switch format {
	case FormatICS:
		return parseICS(data)
	case FormatChineseDays:
		return parseChineseDays(data)
	case FormatCSV:
		return parseCSV(data)
	}
	return nil, errImportFormat
}

// parseChineseDays reads the chinese-days package's data: dates mapped to
// "English name,中文名,days". Days in lieu (inLieuDays) are holidays
// already listed under holidays, so they are not read.
func parseChineseDays(data []byte) ([]Day, error) {
	var f struct {
		Holidays map[string]string `json:"holidays"`
		Workdays map[string]string `json:"workdays"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, errImportFile("不是有效的 JSON")
	}
	if f.Holidays == nil && f.Workdays == nil {
		return nil, errImportFile("缺少 holidays 或 workdays")
	}
	var out []Day
	for date, v := range f.Holidays {
		out = append(out, Day{Date: date, Kind: model.CalendarHoliday, Name: chineseName(v)})
	}
	for date, v := range f.Workdays {
		out = append(out, Day{Date: date, Kind: model.CalendarWorkday, Name: chineseName(v) + "调休"})
	}
	return out, nil
}

// chineseName picks the Chinese name out of "New Year's Day,元旦,1".
func chineseName(v string) string {
	parts := strings.Split(v, ",")
	if len(parts) >= 2 && strings.TrimSpace(parts[1]) != "" {
		return strings.TrimSpace(parts[1])
	}
	return strings.TrimSpace(v)
}

// parseCSV reads date,kind,name lines.
func parseCSV(data []byte) ([]Day, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var out []Day
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, errImportFile(fmt.Sprintf("第 %d 行不是有效的 CSV", line))
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) < 3 {
			return nil, errImportFile(fmt.Sprintf("第 %d 行应为 日期,类型,名称", line))
		}
		date, kind, name := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
		if line == 1 && strings.EqualFold(date, "date") {
			continue
		}
		switch kind {
		case "休", "放假":
			kind = model.CalendarHoliday
		case "班", "上班", "调休":
			kind = model.CalendarWorkday
		}
		out = append(out, Day{Date: date, Kind: kind, Name: name})
	}
}

// parseICS reads the all-day events of an iCalendar file. DTEND of an
// all-day event is exclusive; an event without one lasts a day.
func parseICS(data []byte) ([]Day, error) {
	lines := unfoldICS(data)
	if !slices.Contains(lines, "BEGIN:VCALENDAR") {
		return nil, errImportFile("不是 iCalendar 文件（缺少 BEGIN:VCALENDAR）")
	}
	var out []Day
	var in bool
	var start, end, summary string
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ":")
		prop, _, _ := strings.Cut(name, ";")
		switch {
		case l == "BEGIN:VEVENT":
			in, start, end, summary = true, "", "", ""
		case l == "END:VEVENT" && in:
			in = false
			days, err := icsEvent(start, end, summary)
			if err != nil {
				return nil, err
			}
			out = append(out, days...)
		case in && prop == "DTSTART":
			start = value
		case in && prop == "DTEND":
			end = value
		case in && prop == "SUMMARY":
			summary = strings.NewReplacer(`\,`, ",", `\;`, ";", `\n`, " ").Replace(value)
		}
	}
	return out, nil
}

func icsEvent(start, end, summary string) ([]Day, error) {
	first, err := icsDate(start)
	if err != nil {
		return nil, err
	}
	last := first.AddDate(0, 0, 1)
	if end != "" {
		if last, err = icsDate(end); err != nil {
			return nil, err
		}
	}
	if !last.After(first) || last.Sub(first) > 40*24*time.Hour {
		return nil, errImportFile(fmt.Sprintf("事件 %q 的起止日期不合理", summary))
	}
	kind, name := model.CalendarHoliday, icsName(summary)
	if strings.Contains(summary, "班") {
		kind = model.CalendarWorkday
		if !strings.Contains(name, "调休") {
			name += "调休"
		}
	}
	var out []Day
	for d := first; d.Before(last); d = d.AddDate(0, 0, 1) {
		out = append(out, Day{Date: d.Format(time.DateOnly), Kind: kind, Name: name})
	}
	return out, nil
}

// icsName drops the 休 / 班 markers feeds add to a summary ("春节（休）",
// "春节 班").
func icsName(summary string) string {
	name := strings.TrimSpace(summary)
	for _, m := range []string{"（休）", "(休)", "（班）", "(班)", "假期", " 休", " 班", "休", "班"} {
		name = strings.TrimSpace(strings.TrimSuffix(name, m))
	}
	if name == "" {
		return "节假日"
	}
	return name
}

// icsDate reads a DATE (20270101) or the date part of a DATE-TIME value.
func icsDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if len(v) < 8 {
		return time.Time{}, errImportFile(fmt.Sprintf("日期 %q 格式不正确", v))
	}
	t, err := time.Parse("20060102", v[:8])
	if err != nil {
		return time.Time{}, errImportFile(fmt.Sprintf("日期 %q 格式不正确", v))
	}
	return t, nil
}

// unfoldICS splits an iCalendar file into logical lines: a line starting
// with a space or tab continues the one before (RFC 5545 §3.1).
func unfoldICS(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), MaxImportBytes)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && len(out) > 0 {
			out[len(out)-1] += l[1:]
			continue
		}
		out = append(out, l)
	}
	return out
}
