package score

import (
	"context"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"

	"redprop/model"
	"redprop/service"
)

// Sheets of the grid workers' monthly export.
const (
	GridSheet   = "网格员月度考核"
	DetailSheet = "指标明细"
)

// Labels name the components in Chinese.
var Labels = map[string]string{
	model.CompSatisfaction: "满意率", model.CompOnTime: "按期结案率", model.CompCompletion: "结案率",
	model.CompResponse: "响应率", model.CompRework: "返工率", model.CompComplaints: "每百户投诉",
	model.CompInspections: "检查得分", model.CompRectification: "整改逾期率",
	model.CompVerifyTime: "核实用时中位数", model.CompPatrol: "巡查上报", model.CompConfirmTime: "按时验收率",
	model.CompCallAck: "呼叫响应率", model.CompCallAckTime: "呼叫响应用时中位数", model.CompRatings: "验收工单满意率",
	model.CompRectFollowed: "整改回访率",
}

// Units name how each component's raw value is counted: bp (basis points
// of a ratio), hundredths, seconds or count.
var Units = map[string]string{
	model.CompSatisfaction: "bp", model.CompOnTime: "bp", model.CompCompletion: "bp", model.CompResponse: "bp",
	model.CompRework: "bp", model.CompComplaints: "hundredths", model.CompInspections: "hundredths",
	model.CompRectification: "bp", model.CompVerifyTime: "seconds", model.CompPatrol: "count",
	model.CompConfirmTime: "bp", model.CompCallAck: "bp", model.CompCallAckTime: "seconds", model.CompRatings: "bp",
	model.CompRectFollowed: "bp",
}

// Hundredths writes n/100 with two decimals ("65.89").
func Hundredths(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return fmt.Sprintf("%s%d.%02d", sign, n/100, n%100)
}

// Display writes a component's raw value for people: a percentage, a
// rate, a duration or a count.
func Display(c model.ScoreComponent) string {
	switch Units[c.Name] {
	case "bp":
		return Hundredths(c.Raw) + "%"
	case "hundredths":
		return Hundredths(c.Raw)
	case "seconds":
		return fmt.Sprintf("%d分%02d秒", c.Raw/60, c.Raw%60)
	}
	return fmt.Sprint(c.Raw)
}

// Workbook is a built export; the caller writes it out and closes it.
type Workbook struct {
	file      *excelize.File
	Rows      int
	Filename  string
	ASCIIName string
}

// WriteTo writes the .xlsx file.
func (w *Workbook) WriteTo(out io.Writer) (int64, error) { return w.file.WriteTo(out) }

// Close frees the workbook.
func (w *Workbook) Close() error { return w.file.Close() }

var errExportScope = service.Forbidden("score_export_forbidden", "只有本社区（或上级）工作人员可以导出网格员考核")

// ExportGrid builds a community's grid-worker scores of a month as an
// Excel workbook for pay: one row per grid worker, one column per
// component (its points), the formula version at the top; a second sheet
// holds each component's numerator, denominator and value.
func (s *Service) ExportGrid(ctx context.Context, a *service.Actor, period string, communityID int64) (*Workbook, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	if _, err := ParsePeriod(model.ScoreKindGridWorker, period); err != nil {
		return nil, err
	}
	com, err := model.TakeRegion(ctx, s.db, communityID, model.LevelCommunity)
	if err != nil {
		return nil, service.OrNotFound(err, service.NotFound("community_not_found", "社区不存在"))
	}
	if !a.IsAdmin() && !a.Can(service.TargetOf(model.ScopeCommunity, com.ID, com.Ancestry), treeRoles...) {
		return nil, errExportScope
	}
	rows, f, err := s.PeriodScores(ctx, Query{Kind: model.ScoreKindGridWorker, Period: period,
		UnderKind: model.ScopeCommunity, UnderID: com.ID})
	if err != nil {
		return nil, err
	}
	vs, err := s.views(ctx, rows, true)
	if err != nil {
		return nil, err
	}
	file := excelize.NewFile()
	wb := &Workbook{file: file, Rows: len(vs), Filename: fmt.Sprintf("%s网格员考核_%s.xlsx", com.Name, period),
		ASCIIName: fmt.Sprintf("grid-scores-%d-%s.xlsx", com.ID, period)}
	if err := fillGrid(file, com.Name, period, f, vs); err != nil {
		file.Close()
		return nil, err
	}
	return wb, nil
}

func fillGrid(file *excelize.File, community, period string, f model.ScoreFormula, vs []View) error {
	if err := file.SetSheetName("Sheet1", GridSheet); err != nil {
		return err
	}
	if _, err := file.NewSheet(DetailSheet); err != nil {
		return err
	}
	set := func(sheet string, col, row int, v any) error {
		cell, err := excelize.CoordinatesToCellName(col, row)
		if err != nil {
			return err
		}
		return file.SetCellValue(sheet, cell, v)
	}
	title := fmt.Sprintf("%s %s 网格员月度考核（计分公式第 %d 版）", community, period, f.Version)
	if err := set(GridSheet, 1, 1, title); err != nil {
		return err
	}
	if err := set(GridSheet, 1, 2, "计分公式版本"); err != nil {
		return err
	}
	if err := set(GridSheet, 2, 2, f.Version); err != nil {
		return err
	}
	head := []string{"网格员", "网格", "总分", "参与排名"}
	for _, c := range f.Spec.Components {
		head = append(head, fmt.Sprintf("%s（权重%d）", Labels[c.Name], c.Weight))
	}
	for i, h := range head {
		if err := set(GridSheet, i+1, 3, h); err != nil {
			return err
		}
	}
	detail := []string{"网格员", "指标", "状态", "分子", "分母", "数值", "有效权重", "得分"}
	for i, h := range detail {
		if err := set(DetailSheet, i+1, 1, h); err != nil {
			return err
		}
	}
	drow := 2
	for r, v := range vs {
		row := r + 4
		ranked := "是"
		if !v.RankEligible {
			ranked = "否：" + v.Ineligible
		}
		vals := []any{v.UserName, v.ScopeName, Hundredths(v.Points), ranked}
		byName := map[string]model.ScoreComponent{}
		for _, c := range v.Components {
			byName[c.Name] = c
		}
		for _, fc := range f.Spec.Components {
			c := byName[fc.Name]
			if c.Status == model.ComponentInsufficient {
				vals = append(vals, "样本不足")
			} else {
				vals = append(vals, Hundredths(c.Points))
			}
			status := "有效"
			if c.Status == model.ComponentInsufficient {
				status = "样本不足"
			}
			for i, x := range []any{v.UserName, Labels[c.Name], status, c.Numerator, c.Denominator, Display(c),
				Hundredths(c.EffWeight), Hundredths(c.Points)} {
				if err := set(DetailSheet, i+1, drow, x); err != nil {
					return err
				}
			}
			drow++
		}
		for i, x := range vals {
			if err := set(GridSheet, i+1, row, x); err != nil {
				return err
			}
		}
	}
	return nil
}
