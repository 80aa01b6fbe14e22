package receipt

import (
	"context"
	"io"
	"strconv"

	"github.com/xuri/excelize/v2"

	"redprop/model"
	"redprop/service"
)

// SheetName is the export's sheet: one row per household not reached.
const SheetName = "未触达住户"

// exportBatch is how many receipts one query of the export reads.
const exportBatch = 500

// maxExportRows bounds one export: a street of 100,000 households.
const maxExportRows = 100_000

var exportHeader = []string{"楼栋", "单元", "房号", "登记住户数", "推送", "说明"}

var exportWidths = []float64{14, 8, 10, 12, 12, 30}

// pushNames say in Chinese how a household's push stood at delivery.
var pushNames = map[string]string{
	model.ReceiptPushQueued:    "已推送",
	model.ReceiptPushNotAsked:  "仅站内消息",
	model.ReceiptPushNoMembers: "无登记住户",
}

// Workbook is a built export; the caller writes it out and closes it.
type Workbook struct {
	file *excelize.File
	Rows int
}

// WriteTo writes the .xlsx file.
func (w *Workbook) WriteTo(out io.Writer) (int64, error) { return w.file.WriteTo(out) }

// Close frees the workbook's temporary files.
func (w *Workbook) Close() error { return w.file.Close() }

var errExportTooBig = service.Unprocessable("export_too_large", "未触达住户超过 100000 户，请按楼栋筛选后再导出")

// ExportNotReached builds the list of households not reached under f as
// an Excel workbook, door by door, for the steward to print and knock. It
// reads the list by keyset in batches and streams the rows.
func (s *Service) ExportNotReached(ctx context.Context, subj Subject, f Filter) (*Workbook, error) {
	file := excelize.NewFile()
	wb := &Workbook{file: file}
	ok := false
	defer func() {
		if !ok {
			file.Close()
		}
	}()
	if err := file.SetSheetName("Sheet1", SheetName); err != nil {
		return nil, err
	}
	head, err := file.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FDE9D9"}}})
	if err != nil {
		return nil, err
	}
	sw, err := file.NewStreamWriter(SheetName)
	if err != nil {
		return nil, err
	}
	row := make([]any, len(exportHeader))
	for i, h := range exportHeader {
		if err := sw.SetColWidth(i+1, i+1, exportWidths[i]); err != nil {
			return nil, err
		}
		row[i] = excelize.Cell{StyleID: head, Value: h}
	}
	if err := sw.SetRow("A1", row); err != nil {
		return nil, err
	}
	line := 2
	p := service.Page{Limit: exportBatch}
	for {
		page, err := s.notReachedBatch(ctx, subj, f, p.After)
		if err != nil {
			return nil, err
		}
		for _, d := range page {
			note := ""
			if d.Members == 0 {
				note = "无登记住户，请上门告知"
			}
			vals := []any{d.BuildingName, d.Unit, d.Room, d.Members, pushNames[d.Push], note}
			if err := sw.SetRow("A"+strconv.Itoa(line), vals); err != nil {
				return nil, err
			}
			line++
			wb.Rows++
			if wb.Rows > maxExportRows {
				return nil, errExportTooBig
			}
		}
		if len(page) < exportBatch {
			break
		}
		p.After = page[len(page)-1].ID
	}
	if err := sw.Flush(); err != nil {
		return nil, err
	}
	ok = true
	return wb, nil
}

func (s *Service) notReachedBatch(ctx context.Context, subj Subject, f Filter, after int64) ([]Door, error) {
	if f.Unit != "" && f.BuildingID == 0 {
		return nil, errUnitWithoutBuilding
	}
	rows, err := model.NotReached(ctx, s.db, model.ReceiptFilter{Kind: subj.Kind, ID: subj.ID, BuildingID: f.BuildingID,
		Unit: f.Unit, Within: f.Within}, after, exportBatch)
	if err != nil {
		return nil, err
	}
	return s.doors(ctx, rows)
}
