package action

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// exportBatch is how many items one query of the export reads.
const exportBatch = 500

// SheetName is the export's first sheet, one row per item; HistorySheet
// the second, one row per step of each item's history (认领, 办结, 退回 …).
const (
	SheetName    = "整改台账"
	HistorySheet = "处理记录"
)

// column is one column of a sheet: its Chinese header and width.
type column struct {
	title string
	width float64
}

var historyColumns = []column{{"编号", 18}, {"时间", 18}, {"操作", 10}, {"操作人", 14}, {"状态变化", 18}, {"说明", 60}}

// actionNames are the history's actions in Chinese.
var actionNames = map[string]string{
	ActCreate: "登记", ActClaim: "认领", ActDone: "办结", ActVerify: "验收", ActSendBack: "退回", ActOverdue: "逾期",
}

// exportColumns are the export's header (Chinese, for the printed report)
// and column widths.
var exportColumns = []column{
	{"编号", 18}, {"事项", 36}, {"所属小区/社区", 16}, {"责任单位", 26}, {"截止日期", 12}, {"状态", 10},
	{"是否逾期", 10}, {"认领人", 14}, {"办结时间", 18}, {"验收时间", 18}, {"来源", 28}, {"整改情况", 40},
}

func errExportTooBig(limit int) error {
	return service.Unprocessable("export_too_large",
		fmt.Sprintf("符合条件的整改事项超过 %d 条，请缩小筛选范围（如按日期、社区或状态）后再导出", limit))
}

var errExportBusy = service.RateLimited("export_busy", "正在生成的导出较多，请稍后再试", 30*time.Second)

// Workbook is a built export; the caller writes it out and closes it.
type Workbook struct {
	file    *excelize.File
	release func()
	// Rows is the number of items in it.
	Rows int
	// Filename is a Chinese file name for the download; ASCIIName the
	// same for clients that cannot read RFC 5987 names.
	Filename  string
	ASCIIName string
}

// WriteTo writes the .xlsx file.
func (w *Workbook) WriteTo(out io.Writer) (int64, error) { return w.file.WriteTo(out) }

// Close frees the temporary files of a large workbook and its place among
// the exports being built.
func (w *Workbook) Close() error {
	err := w.file.Close()
	if w.release != nil {
		w.release()
		w.release = nil
	}
	return err
}

// Export builds the ledger the actor may see under f as an Excel
// workbook: one header row and one row per item, newest first. Rows go
// through excelize's stream writer (which spills to a temporary file past
// a threshold), and a filter matching more than the configured cap is
// refused before anything is built.
func (s *Service) Export(ctx context.Context, a *service.Actor, f Filter) (wb *Workbook, err error) {
	select {
	case s.exports <- struct{}{}:
	default:
		return nil, errExportBusy
	}
	release := func() { <-s.exports }
	defer func() {
		if wb == nil {
			release()
		} else {
			wb.release = release
		}
	}()
	q, ok, err := s.query(a, f)
	if err != nil {
		return nil, err
	}
	// The ids first, in one sorted query, then the rows by primary key in
	// batches: paging the filtered query itself would sort what remains of
	// it once per batch (SQLite merges the OR of the scope conditions from
	// several indexes and sorts the union).
	var ids []int64
	if ok {
		if ids, err = model.ActionItemIDs(ctx, s.db, q, s.opts.ExportMaxRows+1); err != nil {
			return nil, fmt.Errorf("export action items: %w", err)
		}
	}
	if len(ids) > s.opts.ExportMaxRows {
		return nil, errExportTooBig(s.opts.ExportMaxRows)
	}
	file := excelize.NewFile()
	day := s.clock.Now().In(calendar.Beijing).Format("20060102")
	wb = &Workbook{file: file, Filename: "整改台账_" + day + ".xlsx", ASCIIName: "action-items-" + day + ".xlsx"}
	if err := s.fill(ctx, wb, ids); err != nil {
		file.Close()
		return nil, err
	}
	return wb, nil
}

func (s *Service) fill(ctx context.Context, wb *Workbook, ids []int64) error {
	f := wb.file
	if err := f.SetSheetName("Sheet1", SheetName); err != nil {
		return err
	}
	head, err := f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FDE9D9"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true},
		Border: []excelize.Border{{Type: "left", Color: "999999", Style: 1}, {Type: "right", Color: "999999", Style: 1},
			{Type: "top", Color: "999999", Style: 1}, {Type: "bottom", Color: "999999", Style: 1}},
	})
	if err != nil {
		return err
	}
	body, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{Vertical: "top", WrapText: true}})
	if err != nil {
		return err
	}
	late, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Color: "C00000"},
		Alignment: &excelize.Alignment{Vertical: "top", WrapText: true}})
	if err != nil {
		return err
	}
	if err := printable(f, s.clock.Now()); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(SheetName)
	if err != nil {
		return err
	}
	// The stream writer wants the frozen header pane before any row.
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := header(sw, exportColumns, head); err != nil {
		return err
	}
	line := 2
	err = s.eachView(ctx, ids, false, func(v View) error {
		style := body
		if v.Overdue && v.State != model.ActionVerified {
			style = late
		}
		wb.Rows++
		return writeRow(sw, &line, style, exportRow(v))
	})
	if err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return s.fillHistory(ctx, f, ids, head, body)
}

// header sets a streamed sheet's column widths and writes its header row.
func header(sw *excelize.StreamWriter, cols []column, style int) error {
	row := make([]any, len(cols))
	for i, col := range cols {
		if err := sw.SetColWidth(i+1, i+1, col.width); err != nil {
			return err
		}
		row[i] = excelize.Cell{StyleID: style, Value: col.title}
	}
	return sw.SetRow("A1", row, excelize.RowOpts{Height: 22})
}

// writeRow writes values as row *line of a streamed sheet and moves on.
func writeRow(sw *excelize.StreamWriter, line *int, style int, values []string) error {
	cells := make([]any, len(values))
	for i, val := range values {
		cells[i] = excelize.Cell{StyleID: style, Value: val}
	}
	if err := sw.SetRow("A"+strconv.Itoa(*line), cells); err != nil {
		return err
	}
	*line++
	return nil
}

// eachView reads the items of ids in batches, newest first, and hands
// each one's view (with its history when asked) to fn. Each sheet reads
// the items again rather than hold a whole ledger in memory.
func (s *Service) eachView(ctx context.Context, ids []int64, history bool, fn func(View) error) error {
	for start := 0; start < len(ids); start += exportBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := ids[start:min(start+exportBatch, len(ids))]
		items, err := model.ActionItemsByID(ctx, s.db, batch)
		if err != nil {
			return fmt.Errorf("export action items: %w", err)
		}
		vs, err := s.views(ctx, s.db, items, history)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// fillHistory writes the second sheet: every step of every exported item,
// items in the first sheet's order, steps oldest first.
func (s *Service) fillHistory(ctx context.Context, f *excelize.File, ids []int64, head, body int) error {
	if _, err := f.NewSheet(HistorySheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(HistorySheet)
	if err != nil {
		return err
	}
	if err := header(sw, historyColumns, head); err != nil {
		return err
	}
	line := 2
	err = s.eachView(ctx, ids, true, func(v View) error {
		for _, ev := range v.History {
			change := ""
			if ev.FromState != ev.ToState {
				change = StateName(ev.FromState) + "→" + StateName(ev.ToState)
				if ev.FromState == "" {
					change = StateName(ev.ToState)
				}
			}
			who := ev.ActorName
			if ev.ActorID == 0 {
				who = "系统"
			}
			values := []string{v.Number, ev.CreatedAt.In(calendar.Beijing).Format("2006-01-02 15:04"), actionNames[ev.Action], who, change, ev.Note}
			if err := writeRow(sw, &line, body, values); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return sw.Flush()
}

// printable sets the workbook up for the joint meeting's printed report:
// A4 landscape, all columns on one page wide, the header row repeated on
// every page. The stream writer keeps these worksheet settings.
func printable(f *excelize.File, now time.Time) error {
	a4, landscape, wide, tall := 9, "landscape", 1, 0
	fit := true
	if err := f.SetPageLayout(SheetName, &excelize.PageLayoutOptions{Size: &a4, Orientation: &landscape,
		FitToWidth: &wide, FitToHeight: &tall}); err != nil {
		return err
	}
	if err := f.SetSheetProps(SheetName, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	if err := f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", RefersTo: SheetName + "!$1:$1",
		Scope: SheetName}); err != nil {
		return err
	}
	return f.SetDocProps(&excelize.DocProperties{Title: SheetName, Creator: "redprop",
		Created: now.UTC().Format(time.RFC3339)})
}

// exportRow is one item as the export's cells, in exportColumns' order.
func exportRow(v View) []string {
	overdue := "否"
	if v.Overdue {
		overdue = "是"
	}
	return []string{
		v.Number, v.Title, v.PlaceName, v.OwnerName, v.DueDate, StateName(v.State), overdue, v.ClaimedByName,
		exportTime(v.DoneAt), exportTime(v.VerifiedAt), v.SourceLabel, v.Evidence,
	}
}

func exportTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.In(calendar.Beijing).Format("2006-01-02 15:04")
}
