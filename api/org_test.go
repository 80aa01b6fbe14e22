package api

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"redprop/model"
)

// orgChinese fails unless r is an error envelope with code and a Chinese message.
func orgChinese(t *testing.T, r response, code string) {
	t.Helper()
	if r.ErrCode() != code {
		t.Fatalf("code %q, want %q: %s", r.ErrCode(), code, r.Raw)
	}
	msg, _ := r.Body["error"].(map[string]any)["message"].(string)
	for _, c := range msg {
		if unicode.Is(unicode.Han, c) {
			return
		}
	}
	t.Fatalf("message %q is not Chinese", msg)
}

// orgCount counts rows of the tables the org API writes.
func (s *testServer) orgCount() string {
	var out []int64
	for _, m := range []any{&model.Region{}, &model.Compound{}, &model.Grid{}, &model.Building{}, &model.Household{},
		&model.Firm{}, &model.Contract{}, &model.Committee{}, &model.Department{}} {
		var n int64
		s.db.Model(m).Count(&n)
		out = append(out, n)
	}
	return fmt.Sprint(out)
}

// orgMultipart wraps a CSV into a multipart form with the file in field.
func orgMultipart(t *testing.T, field, csv string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("note", "ignored")
	fw, err := w.CreateFormFile(field, "households.csv")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte(csv))
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func orgID(r response) int64 { return int64(r.Body["id"].(float64)) }

func TestOrgCommunitiesCannotReachEachOther(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	tokens := map[string]string{"community": s.login("community"), "community2": s.login("community2")}
	street := s.login("street")
	type side struct {
		name     string
		compound int
	}
	sides := []side{{"community", 0}, {"community2", 2}}
	for i, me := range sides {
		tok := tokens[me.name]
		other := sides[1-i].compound
		com := city.Communities[1-i]
		c, g, b, h := city.Compounds[other], city.Grids[other], city.Buildings[2*other], city.Households[8*other]
		before := s.orgCount()
		for _, path := range []string{
			fmt.Sprintf("/api/v1/regions/%d", com.ID),
			fmt.Sprintf("/api/v1/regions/%d/compounds", com.ID),
			fmt.Sprintf("/api/v1/regions/%d/grids", com.ID),
			fmt.Sprintf("/api/v1/compounds/%d", c.ID),
			fmt.Sprintf("/api/v1/compounds/%d/buildings", c.ID),
			fmt.Sprintf("/api/v1/compounds/%d/contracts", c.ID),
			fmt.Sprintf("/api/v1/grids/%d", g.ID),
			fmt.Sprintf("/api/v1/grids/%d/buildings", g.ID),
			fmt.Sprintf("/api/v1/buildings/%d", b.ID),
			fmt.Sprintf("/api/v1/buildings/%d/households", b.ID),
			fmt.Sprintf("/api/v1/households/%d", h.ID),
		} {
			r := s.must(http.StatusForbidden, "GET", path, tok, nil)
			orgChinese(t, r, "out_of_scope")
			if strings.Contains(string(r.Raw), c.Name) || strings.Contains(string(r.Raw), g.Name) {
				t.Fatalf("%s: a 403 leaked data: %s", path, r.Raw)
			}
		}
		type write struct {
			method, path string
			body         any
		}
		writes := []write{
			{"PATCH", fmt.Sprintf("/api/v1/compounds/%d", c.ID), map[string]any{"name": "被改名"}},
			{"PATCH", fmt.Sprintf("/api/v1/grids/%d", g.ID), map[string]any{"name": "被改名"}},
			{"PATCH", fmt.Sprintf("/api/v1/buildings/%d", b.ID), map[string]any{"name": "被改名"}},
			{"PATCH", fmt.Sprintf("/api/v1/households/%d", h.ID), map[string]any{"area_m2": "1.00"}},
			{"POST", "/api/v1/compounds", map[string]any{"community_id": com.ID, "name": "新小区"}},
			{"POST", "/api/v1/grids", map[string]any{"community_id": com.ID, "name": "新网格"}},
			{"POST", "/api/v1/buildings", map[string]any{"compound_id": c.ID, "grid_id": g.ID, "name": "9号楼"}},
			{"POST", "/api/v1/households", map[string]any{"building_id": b.ID, "room": "909", "area_m2": "80"}},
		}
		for _, w := range writes {
			r := s.must(http.StatusForbidden, w.method, w.path, tok, w.body)
			orgChinese(t, r, "out_of_scope")
		}
		r := s.must(http.StatusForbidden, "POST", fmt.Sprintf("/api/v1/compounds/%d/import", c.ID), tok,
			"building,unit,room,area_m2,grid\n9号楼,1,101,80,"+g.Name+"\n", "Content-Type", "text/csv")
		orgChinese(t, r, "out_of_scope")
		if after := s.orgCount(); after != before {
			t.Fatalf("%s wrote into the other community: %s → %s", me.name, before, after)
		}
		var gotC model.Compound
		var gotH model.Household
		s.db.Take(&gotC, c.ID)
		s.db.Take(&gotH, h.ID)
		if gotC.Name != c.Name || gotH.AreaCentiM2 != h.AreaCentiM2 {
			t.Fatalf("%s changed the other community: %+v %+v", me.name, gotC, gotH)
		}

		// Their own compound they read; the street reads and edits both.
		own := city.Compounds[me.compound]
		s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/compounds/%d", own.ID), tok, nil)
		s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/households/%d", h.ID), street, nil)
		r = s.must(http.StatusOK, "PATCH", fmt.Sprintf("/api/v1/compounds/%d", c.ID), street, map[string]any{"address": "街道改的地址"})
		if r.Body["address"] != "街道改的地址" || r.Body["name"] != c.Name {
			t.Fatalf("street patch: %s", r.Raw)
		}
	}
}

func TestOrgBuildTreeOverHTTP(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	street := s.login("street")
	com := city.Communities[1]

	// The ancestry is the server's: a client's try to set it is refused.
	r := s.must(http.StatusBadRequest, "POST", "/api/v1/compounds", street,
		map[string]any{"community_id": com.ID, "name": "新苑", "street_id": 1})
	orgChinese(t, r, "bad_request")

	r = s.must(http.StatusCreated, "POST", "/api/v1/compounds", street, map[string]any{"community_id": com.ID, "name": "新苑", "address": "光安街 1 号"})
	cID := orgID(r)
	if int64(r.Body["compound_id"].(float64)) != cID || int64(r.Body["community_id"].(float64)) != com.ID || int64(r.Body["street_id"].(float64)) != city.StreetID {
		t.Fatalf("compound %s", r.Raw)
	}
	r = s.must(http.StatusCreated, "POST", "/api/v1/grids", street, map[string]any{"community_id": com.ID, "name": "光安社区第9网格"})
	gID := orgID(r)
	r = s.must(http.StatusCreated, "POST", "/api/v1/buildings", street, map[string]any{"compound_id": cID, "grid_id": gID, "name": "1号楼"})
	bID := orgID(r)
	if int64(r.Body["building_id"].(float64)) != bID || int64(r.Body["grid_id"].(float64)) != gID {
		t.Fatalf("building %s", r.Raw)
	}
	r = s.must(http.StatusCreated, "POST", "/api/v1/households", street, map[string]any{"building_id": bID, "unit": "1", "room": "101", "area_m2": "89.5"})
	if r.Body["area_m2"] != "89.50" || int64(r.Body["building_id"].(float64)) != bID {
		t.Fatalf("household %s", r.Raw)
	}
	hID := orgID(r)
	r = s.must(http.StatusOK, "PATCH", fmt.Sprintf("/api/v1/households/%d", hID), street, map[string]any{"area_m2": "101.25"})
	if r.Body["area_m2"] != "101.25" {
		t.Fatalf("patched household %s", r.Raw)
	}
	r = s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/buildings/%d/households", bID), s.login("community2"), nil)
	if items := r.Body["items"].([]any); len(items) != 1 || r.Body["next_cursor"] != "" {
		t.Fatalf("households %s", r.Raw)
	}

	// Pages chain by cursor.
	for i := range 3 {
		s.must(http.StatusCreated, "POST", "/api/v1/grids", street, map[string]any{"community_id": com.ID, "name": fmt.Sprintf("页网格%d", i)})
	}
	seen := map[float64]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		r = s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/regions/%d/grids?limit=2&cursor=%s", com.ID, cursor), street, nil)
		for _, it := range r.Body["items"].([]any) {
			seen[it.(map[string]any)["id"].(float64)] = true
		}
		cursor = r.Body["next_cursor"].(string)
		if cursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("cursor never ends")
		}
	}
	if len(seen) != 5 { // the demo grid, the 9th and three more
		t.Fatalf("paged through %d grids, want 5", len(seen))
	}
	s.must(http.StatusBadRequest, "GET", fmt.Sprintf("/api/v1/regions/%d/grids?cursor=@@", com.ID), street, nil)
}

func TestOrgBadInputsAreRefusedInChinese(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	admin, community := s.login("admin"), s.login("community")
	before := s.orgCount()
	cases := []struct {
		token, method, path string
		body                any
		status              int
		code                string
	}{
		{admin, "POST", "/api/v1/regions", map[string]any{"level": "province", "name": "省"}, 400, "bad_level"},
		{admin, "POST", "/api/v1/regions", map[string]any{"level": "community", "parent_id": city.StreetID}, 400, "bad_name"},
		{admin, "POST", "/api/v1/regions", map[string]any{"level": "community", "parent_id": city.DistrictID, "name": "跳级"}, 422, "bad_parent_level"},
		{community, "POST", "/api/v1/buildings", map[string]any{"compound_id": city.Compounds[0].ID, "grid_id": city.Grids[2].ID, "name": "9号楼"}, 422, "grid_mismatch"},
		{community, "POST", "/api/v1/households", map[string]any{"building_id": city.Buildings[0].ID, "room": "909", "area_m2": "-80"}, 400, "bad_area"},
		{community, "POST", "/api/v1/households", map[string]any{"building_id": city.Buildings[0].ID, "room": "909", "area_m2": 80}, 400, "bad_request"},
		{community, "POST", "/api/v1/households", map[string]any{"building_id": city.Buildings[0].ID, "unit": "1", "room": "101", "area_m2": "80"}, 409, "household_exists"},
		{community, "POST", "/api/v1/committees", map[string]any{"compound_id": city.Compounds[0].ID, "kind": "owners", "name": "又一个"}, 409, "committee_exists"},
		{community, "PATCH", fmt.Sprintf("/api/v1/compounds/%d", city.Compounds[0].ID), map[string]any{}, 400, "nothing_to_update"},
		{community, "GET", "/api/v1/compounds/abc", nil, 400, "bad_id"},
		{community, "GET", "/api/v1/compounds/99999", nil, 404, "compound_not_found"},
		{admin, "POST", "/api/v1/contracts", map[string]any{"firm_id": city.Firm.ID, "compound_id": city.Compounds[2].ID, "starts_on": "2026/01/01", "ends_on": "2026-12-31"}, 400, "bad_dates"},
		{admin, "POST", "/api/v1/contracts", map[string]any{"firm_id": city.Firm.ID, "compound_id": city.Compounds[2].ID, "starts_on": "2026-12-31", "ends_on": "2026-01-01"}, 422, "bad_period"},
		{admin, "POST", "/api/v1/contracts", map[string]any{"firm_id": city.Firm.ID, "compound_id": city.Compounds[0].ID, "starts_on": "2027-01-01", "ends_on": "2027-12-31"}, 409, "contract_overlap"},
		{admin, "POST", "/api/v1/firms", map[string]any{"district_id": city.DistrictID, "name": "物业", "credit_code": "short"}, 400, "bad_credit_code"},
	}
	for _, c := range cases {
		r := s.must(c.status, c.method, c.path, c.token, c.body)
		orgChinese(t, r, c.code)
	}
	if after := s.orgCount(); after != before {
		t.Fatalf("refused requests wrote rows: %s → %s", before, after)
	}
	// Terminating a contract is setting its end.
	r := s.must(http.StatusOK, "PATCH", fmt.Sprintf("/api/v1/contracts/%d", city.Contracts[0].ID), admin, map[string]any{"ends_on": "2026-12-31"})
	if r.Body["ends_on"] != "2026-12-31" || r.Body["firm_name"] != city.Firm.Name {
		t.Fatalf("terminated contract %s", r.Raw)
	}
	s.must(http.StatusCreated, "POST", "/api/v1/contracts", admin, map[string]any{"firm_id": city.Firm.ID, "compound_id": city.Compounds[0].ID, "starts_on": "2027-01-01", "ends_on": "2027-12-31"})
}

func TestOrgImportOverHTTP(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	community := s.login("community")
	c := city.Compounds[1]
	grid := city.Grids[1].Name
	path := fmt.Sprintf("/api/v1/compounds/%d/import", c.ID)

	// 5,000 rows padded past the general 1 MiB body limit: the route has its own.
	var b strings.Builder
	b.WriteString("building,unit,room,area_m2,grid\n")
	pad := strings.Repeat(" ", 200)
	for i := range 5000 {
		fmt.Fprintf(&b, "%d号楼,%d,%d,%d.5,%s%s\n", 10+i/100, 1+i%2, 101+i%100/2, 50+i%70, grid, pad)
	}
	if b.Len() <= int(s.deps.MaxBodyBytes) {
		t.Fatalf("test file of %d bytes does not pass the general limit", b.Len())
	}
	body, ct := orgMultipart(t, "file", b.String())
	r := s.must(http.StatusOK, "POST", path, community, body, "Content-Type", ct)
	if r.Body["buildings_created"] != 50.0 || r.Body["households_created"] != 5000.0 || r.Body["households_updated"] != 0.0 {
		t.Fatalf("import %s", r.Raw)
	}
	// The same rows as a text/csv body, one area changed.
	small := "building,unit,room,area_m2,grid\n10号楼,1,101,99.99," + grid + "\n10号楼,2,101,51.5," + grid + "\n"
	r = s.must(http.StatusOK, "POST", path, community, small, "Content-Type", "text/csv; charset=utf-8")
	if r.Body["households_updated"] != 1.0 || r.Body["households_unchanged"] != 1.0 || r.Body["households_created"] != 0.0 {
		t.Fatalf("re-import %s", r.Raw)
	}

	before := s.orgCount()
	bad := "building,unit,room,area_m2,grid\n11号楼,1,101,-3," + grid + "\n11号楼,1,102,80," + grid + "\n11号楼,1,102,80," + grid + "\n12号楼,1,1\"01,80," + grid + "\n"
	r = s.must(http.StatusUnprocessableEntity, "POST", path, community, bad, "Content-Type", "text/csv")
	orgChinese(t, r, "import_invalid")
	detail := r.Body["error"].(map[string]any)["detail"].(map[string]any)
	errs := detail["errors"].([]any)
	lines := map[float64]string{}
	for _, e := range errs {
		m := e.(map[string]any)
		lines[m["line"].(float64)] = m["message"].(string)
	}
	if len(errs) != 3 || lines[2] == "" || !strings.Contains(lines[4], "第 3 行") || lines[5] == "" {
		t.Fatalf("import errors %v", errs)
	}
	// Another form field name, another type, GBK, too big: refused.
	body, ct = orgMultipart(t, "upload", small)
	orgChinese(t, s.must(http.StatusBadRequest, "POST", path, community, body, "Content-Type", ct), "file_missing")
	orgChinese(t, s.must(http.StatusUnsupportedMediaType, "POST", path, community, small, "Content-Type", "application/json"), "unsupported_upload")
	orgChinese(t, s.must(http.StatusUnsupportedMediaType, "POST", path, community, small, "Content-Type", "text/csv; charset=gbk"), "unsupported_upload")
	gbk := "building,unit,room,area_m2,grid\n\xce\xe5\xba\xc5\xc2\xa5,1,101,80," + grid + "\n"
	orgChinese(t, s.must(http.StatusUnprocessableEntity, "POST", path, community, gbk, "Content-Type", "text/csv"), "import_invalid")
	orgChinese(t, s.must(http.StatusBadRequest, "POST", path, community, "", "Content-Type", "text/csv"), "empty_file")
	huge := strings.Repeat("x", 6<<20)
	s.must(http.StatusRequestEntityTooLarge, "POST", path, community, huge, "Content-Type", "text/csv")
	body, ct = orgMultipart(t, "file", strings.Repeat("y", 5<<20+10))
	s.must(http.StatusRequestEntityTooLarge, "POST", path, community, body, "Content-Type", ct)
	// Other routes keep the general limit.
	s.must(http.StatusRequestEntityTooLarge, "POST", "/api/v1/compounds", community, strings.Repeat(" ", 2<<20))
	if after := s.orgCount(); after != before {
		t.Fatalf("refused imports wrote rows: %s → %s", before, after)
	}
}
