package export

import (
	"fmt"
	"io"
	"time"

	"github.com/xuri/excelize/v2"

	"redprop/service/calendar"
)

// Kinds of column: how a value is written and shown.
const (
	colText    = iota
	colNumber  // integers and decimals
	colTime    // a date and time, as an Excel date serial shown yyyy-mm-dd hh:mm
	colDate    // a date, as an Excel date serial shown yyyy-mm-dd
	colPercent // a share 0–1, shown as a percentage
)

// column is one column of a table: its Chinese header, width and kind.
type column struct {
	title string
	width float64
	kind  int
}

// book is a workbook being built, a table per sheet. Each sheet has its
// header row frozen and an autofilter over its columns, and its times are
// real Excel dates (numbers with a date format), never text.
type book struct {
	f                                    *excelize.File
	head, text, number, tm, date, pctFmt int
	sheets                               int
}

func newBook(title string, now time.Time) (*book, error) {
	f := excelize.NewFile()
	b := &book{f: f}
	var err error
	style := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(s)
		return id
	}
	custom := func(fmt string) *string { return &fmt }
	top := &excelize.Alignment{Vertical: "top", WrapText: true}
	b.head = style(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FDE9D9"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true},
		Border: []excelize.Border{{Type: "left", Color: "999999", Style: 1}, {Type: "right", Color: "999999", Style: 1},
			{Type: "top", Color: "999999", Style: 1}, {Type: "bottom", Color: "999999", Style: 1}}})
	b.text = style(&excelize.Style{Alignment: top})
	b.number = style(&excelize.Style{Alignment: &excelize.Alignment{Vertical: "top"}})
	b.tm = style(&excelize.Style{CustomNumFmt: custom("yyyy-mm-dd hh:mm"), Alignment: &excelize.Alignment{Vertical: "top"}})
	b.date = style(&excelize.Style{CustomNumFmt: custom("yyyy-mm-dd"), Alignment: &excelize.Alignment{Vertical: "top"}})
	b.pctFmt = style(&excelize.Style{NumFmt: 10, Alignment: &excelize.Alignment{Vertical: "top"}}) // 0.00%
	if err == nil {
		err = f.SetDocProps(&excelize.DocProperties{Title: title, Creator: "redprop", Created: now.UTC().Format(time.RFC3339)})
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

// table is one sheet being streamed.
type table struct {
	b    *book
	sw   *excelize.StreamWriter
	cols []column
	line int
	// Rows counts the rows written under the header.
	Rows int
}

// table starts a sheet of cols; rows is how many rows it will hold about
// (the autofilter's range: the stream writer wants it before any row).
func (b *book) table(name string, cols []column, rows int64) (*table, error) {
	f := b.f
	if b.sheets == 0 {
		if err := f.SetSheetName("Sheet1", name); err != nil {
			return nil, err
		}
	} else if _, err := f.NewSheet(name); err != nil {
		return nil, err
	}
	b.sheets++
	last, err := excelize.ColumnNumberToName(len(cols))
	if err != nil {
		return nil, err
	}
	if err := f.AutoFilter(name, fmt.Sprintf("A1:%s%d", last, max(rows, 1)+1), nil); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	// The stream writer wants the frozen header pane before any row.
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	head := make([]any, len(cols))
	for i, c := range cols {
		if err := sw.SetColWidth(i+1, i+1, c.width); err != nil {
			return nil, err
		}
		head[i] = excelize.Cell{StyleID: b.head, Value: c.title}
	}
	if err := sw.SetRow("A1", head, excelize.RowOpts{Height: 22}); err != nil {
		return nil, err
	}
	return &table{b: b, sw: sw, cols: cols, line: 2}, nil
}

// row writes one row; values follow the columns' kinds (a nil pointer or
// nil is an empty cell).
func (t *table) row(values ...any) error {
	cells := make([]any, len(values))
	for i, v := range values {
		kind := colText
		if i < len(t.cols) {
			kind = t.cols[i].kind
		}
		switch x := v.(type) {
		case nil:
			cells[i] = nil
			continue
		case *time.Time:
			if x == nil {
				cells[i] = nil
				continue
			}
			v = *x
		case *float64:
			if x == nil {
				cells[i] = nil
				continue
			}
			v = *x
		}
		if tm, ok := v.(time.Time); ok {
			if tm.IsZero() {
				cells[i] = nil
				continue
			}
			v = tm.In(calendar.Beijing)
		}
		style := t.b.text
		switch kind {
		case colNumber:
			style = t.b.number
		case colTime:
			style = t.b.tm
		case colDate:
			style = t.b.date
		case colPercent:
			style = t.b.pctFmt
		}
		cells[i] = excelize.Cell{StyleID: style, Value: v}
	}
	cell, err := excelize.CoordinatesToCellName(1, t.line)
	if err != nil {
		return err
	}
	if err := t.sw.SetRow(cell, cells); err != nil {
		return err
	}
	t.line++
	t.Rows++
	return nil
}

// close ends the sheet.
func (t *table) close() error { return t.sw.Flush() }

// writeTo writes the workbook out.
func (b *book) writeTo(w io.Writer) (int64, error) { return b.f.WriteTo(w) }

// Close frees the workbook's temporary files.
func (b *book) Close() error { return b.f.Close() }
