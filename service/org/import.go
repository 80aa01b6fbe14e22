package org

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Limits of a household import.
const (
	ImportMaxBytes  = 5 << 20 // a 5 MiB CSV holds well over 100,000 rows
	ImportMaxRows   = 50_000
	importMaxErrors = 200 // listed; the total is always given
	importBatch     = 500
)

// ImportResult counts what an import wrote. Rows that match an existing
// household with the same area change nothing and are counted as unchanged.
type ImportResult struct {
	BuildingsCreated    int
	HouseholdsCreated   int
	HouseholdsUpdated   int
	HouseholdsUnchanged int
}

// ImportError is one problem on one line of the file (line 1 is the
// header). It is served as is in the detail of the 422.
type ImportError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

var (
	errImportEmpty = service.Invalid("empty_file", "文件为空：请上传第一行为表头（building,unit,room,area_m2,grid）的 CSV 文件")
	errImportBig   = service.TooLarge("file_too_large", fmt.Sprintf("文件不能超过 %d MB", ImportMaxBytes>>20))
	errImportRead  = service.Invalid("upload_failed", "文件上传不完整，请重试")
	errImportRace  = service.Conflict("import_conflict", "导入期间数据被其他人修改，请重新导入")
)

// importColumns maps accepted header names (English or the Chinese an
// Excel sheet is likely to carry) to the field they fill.
var importColumns = map[string]string{
	"building": "building", "楼栋": "building", "楼号": "building", "楼栋号": "building",
	"unit": "unit", "单元": "unit", "单元号": "unit",
	"room": "room", "房号": "room", "房间号": "room", "门牌号": "room",
	"area_m2": "area_m2", "area": "area_m2", "面积": "area_m2", "建筑面积": "area_m2",
	"grid": "grid", "网格": "grid",
}

var importRequired = []string{"building", "room", "area_m2", "grid"}

var importColumnNames = map[string]string{
	"building": "building（楼栋）", "unit": "unit（单元）", "room": "room（房号）",
	"area_m2": "area_m2（面积）", "grid": "grid（网格）",
}

// importRow is one valid data row.
type importRow struct {
	line     int
	building string
	unit     string
	room     string
	area     int64
	grid     string // as written: a grid's name or id
}

// importReport gathers the errors of both checks (the file's form, then
// against the database), so that one upload reports everything.
type importReport struct {
	errs []ImportError
}

func (r *importReport) add(line int, format string, args ...any) {
	r.errs = append(r.errs, ImportError{Line: line, Message: fmt.Sprintf(format, args...)})
}

// err is the 422 listing the first importMaxErrors errors by line, or nil.
func (r *importReport) err() error {
	total := len(r.errs)
	if total == 0 {
		return nil
	}
	sort.SliceStable(r.errs, func(i, j int) bool { return r.errs[i].Line < r.errs[j].Line })
	return service.Unprocessable("import_invalid", fmt.Sprintf("导入文件有 %d 处错误，未导入任何数据，请修改后重新上传", total)).
		WithDetail(map[string]any{"errors": r.errs[:min(total, importMaxErrors)], "total": total})
}

// ImportHouseholds reads a CSV of households of one compound (columns
// building, unit, room, area_m2, grid; a header row first; UTF-8 with or
// without BOM), creates the buildings it names that do not exist yet and
// creates or updates the households. Every row is checked first: any
// error answers 422 listing each {line, message}, and nothing is written.
// Otherwise everything is written in one transaction, in batches.
//
// A grid is given by its name or id and must belong to the compound's
// community. An existing building keeps its grid: the import refuses a row
// that puts it in another (moving a building is not an import's job).
func (s *Service) ImportHouseholds(ctx context.Context, a *service.Actor, compoundID int64, r io.Reader) (ImportResult, error) {
	c, err := take[model.Compound](ctx, s.db, compoundID, errTreeCompoundGone)
	if err != nil {
		return ImportResult{}, err
	}
	if err := mayWrite(a, compoundTarget(c), communityWriters); err != nil {
		return ImportResult{}, err
	}
	data, err := io.ReadAll(io.LimitReader(r, ImportMaxBytes+1))
	if err != nil {
		var se *service.Error
		if errors.As(err, &se) {
			return ImportResult{}, se
		}
		return ImportResult{}, errImportRead.Wrap(err)
	}
	if len(data) > ImportMaxBytes {
		return ImportResult{}, errImportBig
	}
	rows, rep, err := parseImport(data)
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		// Two imports of one compound queue up here instead of racing to
		// create the same buildings.
		if err := model.LockCompound(ctx, tx, c.ID); err != nil {
			return err
		}
		plan, err := planImport(ctx, tx, c, rows, rep)
		if err != nil {
			return err
		}
		if err := rep.err(); err != nil {
			return err // rolls back: nothing is written
		}
		res, err = plan.write(ctx, tx, c, s.clock.Now().UTC().Truncate(time.Microsecond))
		return err
	})
	if errors.Is(err, model.ErrDuplicate) {
		return ImportResult{}, errImportRace
	}
	return res, err
}

// parseImport checks the file's encoding, header and the form of every
// row, and returns the well-formed rows with the report of the others;
// what needs the database is checked by planImport. A file it cannot
// read at all (encoding, header) is an error at once.
func parseImport(data []byte) ([]importRow, *importReport, error) {
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errImportEmpty
	}
	var rep importReport
	if !utf8.Valid(data) {
		line := 1
		for i := 0; i < len(data); {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			if r == '\n' {
				line++
			}
			i += size
		}
		rep.add(line, "文件不是 UTF-8 编码（第 %d 行起无法识别）；请在 Excel 中“另存为 → CSV UTF-8（逗号分隔）”后重新上传", line)
		return nil, nil, rep.err()
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // counted here, to say which line is off
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errImportEmpty
	}
	if err != nil {
		rep.add(1, "表头格式不正确：%s", csvProblem(err))
		return nil, nil, rep.err()
	}
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		field, ok := importColumns[name]
		switch {
		case name == "":
			rep.add(1, "第 %d 列的表头为空", i+1)
		case !ok:
			rep.add(1, "未知的列“%s”：表头须为 building,unit,room,area_m2,grid", strings.TrimSpace(h))
		default:
			if _, dup := cols[field]; dup {
				rep.add(1, "列 %s 出现了两次", importColumnNames[field])
			}
			cols[field] = i
		}
	}
	for _, f := range importRequired {
		if _, ok := cols[f]; !ok {
			rep.add(1, "缺少列 %s：第一行须为表头 building,unit,room,area_m2,grid", importColumnNames[f])
		}
	}
	if len(rep.errs) > 0 {
		return nil, nil, rep.err()
	}
	field := func(rec []string, f string) string {
		if i, ok := cols[f]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []importRow
	count := 0 // non-blank data rows, valid or not
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// After a quoting error the reader cannot tell where the next
			// record starts; what follows would be noise.
			var pe *csv.ParseError
			line := 0
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			rep.add(line, "CSV 格式不正确：%s", csvProblem(err))
			break
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue // the empty rows Excel leaves at the end
		}
		if count++; count > ImportMaxRows {
			rep.add(line, "数据超过 %d 行，请分多个文件导入", ImportMaxRows)
			break
		}
		if len(rec) != len(header) {
			rep.add(line, "有 %d 列，表头有 %d 列", len(rec), len(header))
			continue
		}
		row := importRow{line: line, building: field(rec, "building"), unit: field(rec, "unit"),
			room: field(rec, "room"), grid: field(rec, "grid")}
		ok := true
		if row.building == "" || utf8.RuneCountInString(row.building) > treeNameMax {
			rep.add(line, "楼栋不能为空，且不超过 %d 个字", treeNameMax)
			ok = false
		}
		if utf8.RuneCountInString(row.unit) > treeUnitMax {
			rep.add(line, "单元不能超过 %d 个字符", treeUnitMax)
			ok = false
		}
		if row.room == "" || utf8.RuneCountInString(row.room) > treeRoomMax {
			rep.add(line, "房号不能为空，且不超过 %d 个字符", treeRoomMax)
			ok = false
		}
		if row.area, err = parseHouseholdArea(field(rec, "area_m2")); err != nil {
			rep.add(line, "面积“%s”不正确：须为大于 0 的数字（平方米），最多两位小数，如 89.50", field(rec, "area_m2"))
			ok = false
		}
		if row.grid == "" {
			rep.add(line, "网格不能为空（填写网格名称或编号）")
			ok = false
		}
		// The cells are names, single lines: the JSON API refuses control
		// characters in them too (api/text.go).
		if slices.ContainsFunc([]string{row.building, row.unit, row.room, row.grid}, hasControl) {
			rep.add(line, "楼栋、单元、房号、网格不能包含控制字符")
			ok = false
		}
		if ok {
			rows = append(rows, row)
		}
	}
	if len(rep.errs) == 0 && len(rows) == 0 {
		return nil, nil, errImportEmpty
	}
	return rows, &rep, nil
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// csvProblem says in Chinese what encoding/csv found.
func csvProblem(err error) string {
	switch {
	case errors.Is(err, csv.ErrBareQuote):
		return "字段中间出现了引号（含引号的字段须整体用双引号括起，内部引号写成两个）"
	case errors.Is(err, csv.ErrQuote):
		return "引号没有成对闭合"
	}
	return "无法解析"
}

// fold is the key names are matched by: MariaDB's collation compares them
// case-insensitively, so "A座" and "a座" are one building there.
func fold(s string) string { return strings.ToLower(s) }

type householdKey struct {
	building int64
	unit     string
	room     string
}

// importPlan is what an import will write, decided against the compound's
// current buildings and households.
type importPlan struct {
	buildings    map[string]*planBuilding // folded name → building the rows go to
	newBuildings []model.Building         // to create, in file order
	newRows      []importRow              // households to create
	updates      map[int64]int64          // household id → new area
	unchanged    int
}

// planBuilding is a building rows go to: an existing one (id set) or one
// the import creates (id known after the insert).
type planBuilding struct {
	id, gridID int64
	line       int // where a new building is first named
	gridName   string
}

// planImport checks the rows against the database (grids, buildings,
// duplicates) in three queries, whatever the number of rows, adding what
// is wrong to rep.
func planImport(ctx context.Context, tx *gorm.DB, c model.Compound, rows []importRow, rep *importReport) (*importPlan, error) {
	grids, err := model.GridsOf(ctx, tx, c.CommunityID)
	if err != nil {
		return nil, err
	}
	gridByID := map[int64]model.Grid{}
	gridByName := map[string][]model.Grid{}
	for _, g := range grids {
		gridByID[g.ID] = g
		gridByName[fold(g.Name)] = append(gridByName[fold(g.Name)], g)
	}
	plan := &importPlan{buildings: map[string]*planBuilding{}, updates: map[int64]int64{}}
	buildings, err := model.BuildingsOf(ctx, tx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, b := range buildings {
		plan.buildings[fold(b.Name)] = &planBuilding{id: b.ID, gridID: b.GridID, gridName: gridName(gridByID, b.GridID)}
	}
	households, err := model.HouseholdsOf(ctx, tx, c.ID)
	if err != nil {
		return nil, err
	}
	existing := map[householdKey]model.Household{}
	for _, h := range households {
		existing[householdKey{h.BuildingID, fold(h.Unit), fold(h.Room)}] = h
	}

	firstRoom := map[[3]string]int{}
	for _, row := range rows {
		g, msg := resolveGrid(row.grid, gridByID, gridByName)
		if msg != "" {
			rep.add(row.line, "%s", msg)
			continue
		}
		bkey := fold(row.building)
		rkey := [3]string{bkey, fold(row.unit), fold(row.room)}
		if first, dup := firstRoom[rkey]; dup {
			rep.add(row.line, "与第 %d 行重复（楼栋“%s”单元“%s”房号“%s”）", first, row.building, row.unit, row.room)
			continue
		}
		firstRoom[rkey] = row.line
		b, known := plan.buildings[bkey]
		switch {
		case !known:
			plan.buildings[bkey] = &planBuilding{gridID: g.ID, line: row.line, gridName: g.Name}
			anc := c.Ancestry
			anc.GridID = g.ID
			plan.newBuildings = append(plan.newBuildings, model.Building{Name: row.building, Ancestry: anc})
		case b.gridID != g.ID && b.id != 0:
			rep.add(row.line, "楼栋“%s”已属于网格“%s”，不能在导入时改为“%s”", row.building, b.gridName, g.Name)
			continue
		case b.gridID != g.ID:
			rep.add(row.line, "楼栋“%s”在第 %d 行属于网格“%s”，同一楼栋只能属于一个网格", row.building, b.line, b.gridName)
			continue
		}
		if b != nil && b.id != 0 {
			h, found := existing[householdKey{b.id, rkey[1], rkey[2]}]
			switch {
			case found && h.AreaCentiM2 != row.area:
				plan.updates[h.ID] = row.area
				continue
			case found:
				plan.unchanged++
				continue
			}
		}
		plan.newRows = append(plan.newRows, row)
	}
	return plan, nil
}

// resolveGrid finds a grid of the community by id or by name; msg says
// why not.
func resolveGrid(v string, byID map[int64]model.Grid, byName map[string][]model.Grid) (model.Grid, string) {
	if id, err := strconv.ParseInt(v, 10, 64); err == nil {
		if g, ok := byID[id]; ok {
			return g, ""
		}
	}
	switch gs := byName[fold(v)]; len(gs) {
	case 0:
		return model.Grid{}, fmt.Sprintf("本社区没有网格“%s”（填写网格名称或编号）", v)
	case 1:
		return gs[0], ""
	default:
		return model.Grid{}, fmt.Sprintf("本社区有 %d 个网格都叫“%s”，请改填网格编号", len(gs), v)
	}
}

func gridName(byID map[int64]model.Grid, id int64) string {
	if g, ok := byID[id]; ok {
		return g.Name
	}
	return strconv.FormatInt(id, 10)
}

// write carries out the plan: new buildings, their own ids, new households
// and changed areas, each in batches.
func (p *importPlan) write(ctx context.Context, tx *gorm.DB, c model.Compound, now time.Time) (ImportResult, error) {
	res := ImportResult{BuildingsCreated: len(p.newBuildings), HouseholdsCreated: len(p.newRows),
		HouseholdsUpdated: len(p.updates), HouseholdsUnchanged: p.unchanged}
	if len(p.newBuildings) > 0 {
		if err := model.CreateBuildings(ctx, tx, c.ID, p.newBuildings, importBatch); err != nil {
			return res, err
		}
		// Ids are read back by name rather than trusted from the batch insert.
		ids, err := model.BuildingsOf(ctx, tx, c.ID)
		if err != nil {
			return res, err
		}
		for _, b := range ids {
			if pb := p.buildings[fold(b.Name)]; pb != nil && pb.id == 0 {
				pb.id = b.ID
			}
		}
	}
	households := make([]model.Household, 0, len(p.newRows))
	for _, row := range p.newRows {
		b := p.buildings[fold(row.building)]
		anc := c.Ancestry
		anc.GridID, anc.BuildingID = b.gridID, b.id
		households = append(households, model.Household{Unit: row.unit, Room: row.room, AreaCentiM2: row.area, Ancestry: anc})
	}
	if len(households) > 0 {
		if err := model.CreateInBatches(ctx, tx, &households, importBatch); err != nil {
			return res, err
		}
	}
	return res, model.SetHouseholdAreas(ctx, tx, p.updates, now, importBatch)
}

func hasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }
