package org_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"redprop/model"
	"redprop/service"
	"redprop/service/org"
)

// csvOf joins lines into a CSV file.
func csvOf(lines ...string) io.Reader { return strings.NewReader(strings.Join(lines, "\n") + "\n") }

// importErrors returns the line errors of a 422 import_invalid.
func importErrors(t *testing.T, err error) []org.ImportError {
	t.Helper()
	var e *service.Error
	if !errors.As(err, &e) || e.Code != "import_invalid" || e.Kind != service.KindUnprocessable {
		t.Fatalf("err = %v, want import_invalid", err)
	}
	d, _ := e.Detail.(map[string]any)
	list, _ := d["errors"].([]org.ImportError)
	if len(list) == 0 || d["total"] != len(list) {
		t.Fatalf("detail %v", e.Detail)
	}
	return list
}

// hasLine reports whether errs has an error on line whose message holds part.
func hasLine(errs []org.ImportError, line int, part string) bool {
	for _, e := range errs {
		if e.Line == line && strings.Contains(e.Message, part) {
			return true
		}
	}
	return false
}

func TestImportCreatesAndUpdates(t *testing.T) {
	f := newEnv(t)
	community := f.actor("community")
	c := f.Compounds[0]
	g0 := f.Grids[0]
	// Demo: 1号楼 unit 1 rooms 101 (89.50+3.10) … of grid 0.
	old := f.Households[0]
	file := "\xEF\xBB\xBF" + strings.Join([]string{
		"grid,Building,room,unit,area_m2",                                       // any order, any case, with a BOM
		fmt.Sprintf("%d,1号楼,101,1,120.5", g0.ID),                                // existing: new area
		g0.Name + ",1号楼,102,1," + model.FormatArea(f.Households[1].AreaCentiM2), // existing, same area
		g0.Name + ",1号楼,501,1,88",                                               // new room, existing building
		g0.Name + `,"3号楼",101,2,70.25`,                                          // new building
		g0.Name + ",3号楼,102,2,71",
		",,,,", // the blank row Excel leaves
	}, "\r\n") + "\r\n"
	t.Run("creates buildings and households, updates areas", func(t *testing.T) {
		res := must(f.svc.ImportHouseholds(f.Ctx, community, c.ID, strings.NewReader(file)))(t)
		want := org.ImportResult{BuildingsCreated: 1, HouseholdsCreated: 3, HouseholdsUpdated: 1, HouseholdsUnchanged: 1}
		if res != want {
			t.Fatalf("result %+v, want %+v", res, want)
		}
		var h model.Household
		f.DB.Take(&h, old.ID)
		if h.AreaCentiM2 != 12050 {
			t.Fatalf("updated area %d", h.AreaCentiM2)
		}
		var b model.Building
		if err := f.DB.Where("compound_id = ? AND name = ?", c.ID, "3号楼").Take(&b).Error; err != nil {
			t.Fatal(err)
		}
		wantAnc := c.Ancestry
		wantAnc.GridID, wantAnc.BuildingID = g0.ID, b.ID
		if b.Ancestry != wantAnc {
			t.Fatalf("new building ancestry %+v, want %+v", b.Ancestry, wantAnc)
		}
		var made []model.Household
		f.DB.Where("building_id = ?", b.ID).Order("room").Find(&made)
		if len(made) != 2 || made[0].Ancestry != wantAnc || made[0].Unit != "2" || made[0].AreaCentiM2 != 7025 {
			t.Fatalf("new households %+v", made)
		}
		var in501 model.Household
		if err := f.DB.Where("building_id = ? AND room = ?", old.BuildingID, "501").Take(&in501).Error; err != nil || in501.GridID != g0.ID {
			t.Fatalf("household in an existing building: %+v %v", in501, err)
		}
	})

	t.Run("the same file again changes nothing", func(t *testing.T) {
		// The same file again changes nothing.
		res := must(f.svc.ImportHouseholds(f.Ctx, community, c.ID, strings.NewReader(file)))(t)
		if res != (org.ImportResult{HouseholdsUnchanged: 5}) {
			t.Fatalf("re-import %+v", res)
		}
	})
}

func TestImportRefusesBadFilesWithoutWriting(t *testing.T) {
	f := newEnv(t)
	community := f.actor("community")
	c := f.Compounds[0]
	g0, g1, other := f.Grids[0].Name, f.Grids[1].Name, f.Grids[2]
	before := f.snapshot()

	t.Run("every bad row is reported by line", func(t *testing.T) {
		errs := importErrors(t, treeErr(f.svc.ImportHouseholds(f.Ctx, community, c.ID, csvOf(
			"building,unit,room,area_m2,grid",
			"5号楼,1,101,-3,"+g0,                       // 2: negative area
			"5号楼,1,102,80,"+g0,                       // 3: fine
			"5号楼,1,102,81,"+g0,                       // 4: duplicate of 3
			"5号楼,1,103,80,"+g1,                       // 5: same new building, other grid
			"6号楼,1,101,80,没有这个网格",                    // 6: unknown grid
			fmt.Sprintf("6号楼,1,102,80,%d", other.ID), // 7: grid of the other community
			"6号楼,1,103,80,"+other.Name,               // 8: same, by name
			"1号楼,1,601,80,"+g1,                       // 9: existing building is in grid 0
			"7号楼,1,101,80",                           // 10: a column short
			",1,101,80,"+g0,                          // 11: no building
			"7号楼,1,,80,"+g0,                          // 12: no room
			"7号楼,1,101,89.555,"+g0,                   // 13: three decimals
			"7号楼,1,102,abc,"+g0,                      // 14: not a number
		))))
		for _, w := range []struct {
			line int
			part string
		}{
			{2, "面积"}, {4, "与第 3 行重复"}, {5, "同一楼栋只能属于一个网格"}, {6, "没有网格"},
			{7, "没有网格"}, {8, "没有网格"}, {9, "已属于网格"}, {10, "列"}, {11, "楼栋"}, {12, "房号"}, {13, "面积"}, {14, "面积"},
		} {
			if !hasLine(errs, w.line, w.part) {
				t.Errorf("no error on line %d about %q in %+v", w.line, w.part, errs)
			}
		}
		if hasLine(errs, 3, "") {
			t.Errorf("line 3 is fine but was reported: %+v", errs)
		}
	})

	t.Run("unreadable files", func(t *testing.T) {
		bad := map[string]string{
			"bare quote":  "building,unit,room,area_m2,grid\n5号楼,1,1\"01,80," + g0 + "\n",
			"open quote":  "building,unit,room,area_m2,grid\n\"5号楼,1,101,80," + g0 + "\n",
			"no header":   "5号楼,1,101,80," + g0 + "\n",
			"missing col": "building,unit,room,grid\n5号楼,1,101," + g0 + "\n",
			"unknown col": "building,unit,room,area_m2,grid,remark\n5号楼,1,101,80," + g0 + ",x\n",
			"GBK":         "building,unit,room,area_m2,grid\n\xce\xe5\xba\xc5\xc2\xa5,1,101,80,grid\n", // 五号楼 in GBK
			"control":     "building,unit,room,area_m2,grid\n5号\x1b[31m楼,1,101,80," + g0 + "\n",
		}
		for name, file := range bad {
			t.Run(name, func(t *testing.T) {
				errs := importErrors(t, treeErr(f.svc.ImportHouseholds(f.Ctx, community, c.ID, strings.NewReader(file))))
				if errs[0].Line < 1 || errs[0].Line > 2 || errs[0].Message == "" {
					t.Errorf("errors %+v", errs)
				}
			})
		}
	})
	t.Run("empty, too large, unknown or forbidden", func(t *testing.T) {
		for _, file := range []string{"", "\xEF\xBB\xBF", "building,unit,room,area_m2,grid\n", "building,unit,room,area_m2,grid\n,,,,\n"} {
			_, err := f.svc.ImportHouseholds(f.Ctx, community, c.ID, strings.NewReader(file))
			wantCode(t, err, "empty_file")
		}
		_, err := f.svc.ImportHouseholds(f.Ctx, community, c.ID, strings.NewReader(strings.Repeat("x", org.ImportMaxBytes+1)))
		wantCode(t, err, "file_too_large")
		_, err = f.svc.ImportHouseholds(f.Ctx, community, 99999, csvOf("building,unit,room,area_m2,grid"))
		wantCode(t, err, "compound_not_found")
		_, err = f.svc.ImportHouseholds(f.Ctx, f.actor("volunteer"), c.ID, csvOf("building,unit,room,area_m2,grid", "5号楼,1,101,80,"+g0))
		wantCode(t, err, "forbidden")
	})

	t.Run("nothing was written", func(t *testing.T) {
		if after := f.snapshot(); after != before {
			t.Fatalf("refused imports wrote rows: %s → %s", before, after)
		}
	})
}

func treeErr[T any](_ T, err error) error { return err }

// Five thousand rows go in as 50 buildings of 100 households each, with
// no query per row (the import preloads and writes in batches).
func TestImportFiveThousandRows(t *testing.T) {
	f := newEnv(t)
	street := f.actor("street")
	c := f.Compounds[2]
	grid := f.Grids[2]
	var b strings.Builder
	b.WriteString("building,unit,room,area_m2,grid\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "%d号楼,%d,%d,%d.%02d,%s\n", 10+i/100, 1+i%100/50, 101+i%50, 60+i%90, i%100, grid.Name)
	}
	householdsBefore := f.count(&model.Household{})
	res := must(f.svc.ImportHouseholds(f.Ctx, street, c.ID, strings.NewReader(b.String())))(t)
	if res != (org.ImportResult{BuildingsCreated: 50, HouseholdsCreated: 5000}) {
		t.Fatalf("result %+v", res)
	}
	if n := f.count(&model.Household{}) - householdsBefore; n != 5000 {
		t.Fatalf("%d households written, want 5000", n)
	}
	var wrong int64
	f.DB.Model(&model.Building{}).Where("compound_id = ? AND (building_id <> id OR grid_id <> ?)", c.ID, grid.ID).Count(&wrong)
	if wrong != 0 {
		t.Fatalf("%d buildings without their own id or grid", wrong)
	}
	f.DB.Table("households h").Joins("JOIN buildings b ON b.id = h.building_id").
		Where("h.compound_id = ? AND (h.grid_id <> b.grid_id OR h.community_id <> b.community_id)", c.ID).Count(&wrong)
	if wrong != 0 {
		t.Fatalf("%d households with an ancestry unlike their building's", wrong)
	}
	// Changing every area updates them all, in batches.
	file := strings.ReplaceAll(b.String(), ".", "9.") // 60.05 → 609.05 …
	res = must(f.svc.ImportHouseholds(f.Ctx, street, c.ID, strings.NewReader(file)))(t)
	if res != (org.ImportResult{HouseholdsUpdated: 5000}) {
		t.Fatalf("re-import %+v", res)
	}
	var sum int64
	f.DB.Model(&model.Household{}).Where("compound_id = ? AND area_centi_m2 < ?", c.ID, 60000).Count(&sum)
	if sum != 2*4 { // only the demo's own households of the compound stay small
		t.Fatalf("%d households kept a small area", sum)
	}
}
