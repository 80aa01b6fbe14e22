package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func revenueBody(photo int64) map[string]any {
	return map[string]any{
		"section": "revenue", "period": "2026Q3",
		"opening": "10000.00", "income_total": "15600.30", "expense_total": "3200.10", "closing": "22400.20",
		"income": []map[string]any{
			{"label": "电梯广告", "amount": "9000.10", "attachment_ids": []int64{photo}},
			{"label": "临时停车", "amount": "6000.00"},
			{"label": "场地租赁", "amount": "600.20"},
		},
		"expenses": []map[string]any{{"label": "公共设施维修", "amount": "3200.10", "detail": "2 号楼门禁更换"}},
	}
}

// A compound's board through the router: the firm publishes its sections
// and a revenue report with a receipt photo, the committee countersigns,
// a correction is diffed; residents of the compound read it (and their
// read is counted), a resident of another compound never sees it.
func TestDisclosureBoardThroughTheRouter(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	comp, other := city.Compounds[0], city.Compounds[2]
	manager, committee, resident, outsider := s.login("manager"), s.login("committee"), s.login("resident"), s.login("resident2")
	board := fmt.Sprintf("/api/v1/compounds/%d/disclosures", comp.ID)

	r := s.must(http.StatusCreated, "POST", board, manager, map[string]any{"section": "firm"})
	firm := map[string]string{}
	for _, l := range r.Body["lines"].([]any) {
		firm[l.(map[string]any)["label"].(string)] = l.(map[string]any)["detail"].(string)
	}
	if firm["项目经理"] != "孙立新" || firm["24小时服务电话"] != "0535-2218899" || firm["企业名称"] != "红心物业服务有限公司" {
		t.Fatalf("firm section %s", r.Raw)
	}
	if r := s.do("POST", fmt.Sprintf("/api/v1/compounds/%d/disclosures", other.ID), manager, map[string]any{"section": "firm"}); r.Status != http.StatusForbidden || r.ErrCode() != "no_live_contract" || !chinese(r) {
		t.Fatalf("firm publishes for a compound it does not serve: %s", r.Raw)
	}

	fees := map[string]any{"section": "fees",
		"fees":    []map[string]any{{"label": "住宅", "amount": 1.35, "basis": "烟价发〔2024〕12号", "effective_on": "2026-01-01"}},
		"charges": []map[string]any{{"label": "地上停车位", "amount": "80.00", "unit": "元/个·月"}}}
	if r := s.do("POST", board, manager, fees); r.Status != http.StatusBadRequest {
		t.Fatalf("a JSON number as an amount: %s", r.Raw)
	}
	fees["fees"] = []map[string]any{{"label": "住宅", "amount": "1.35", "basis": "烟价发〔2024〕12号", "effective_on": "2026-01-01"}}
	r = s.must(http.StatusCreated, "POST", board, manager, fees)
	feeID := voteNum(r.Body["id"])
	if l := r.Body["lines"].([]any)[0].(map[string]any); l["amount"] != "1.35" || l["unit"] != "元/平方米·月" || l["effective_on"] != "2026-01-01" {
		t.Fatalf("fee line %v", l)
	}
	q := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/disclosures/%d/quote?area=89.50", feeID), resident, nil)
	if l := q.Body["lines"].([]any)[0].(map[string]any); l["monthly"] != "120.83" || l["yearly"] != "1449.96" {
		t.Fatalf("quote %s", q.Raw)
	}

	pic := voteNum(s.uploadPhoto(http.StatusCreated, manager, "receipt.png", "image/png", photoPNG(t)).Body["id"])
	bad := revenueBody(pic)
	bad["closing"] = "22400.21"
	r = s.do("POST", board, manager, bad)
	if r.Status != http.StatusUnprocessableEntity || r.ErrCode() != "revenue_mismatch" || !chinese(r) ||
		!strings.Contains(r.Body["error"].(map[string]any)["message"].(string), "与填报的期末余额 22400.21 元不符（相差 0.01 元）") {
		t.Fatalf("a report that does not add up: %s", r.Raw)
	}
	r = s.must(http.StatusCreated, "POST", board, manager, revenueBody(pic), "Idempotency-Key", "rev-2026q3")
	v1 := voteNum(r.Body["id"])
	if r.Body["countersign"].(map[string]any)["state"] != "not_countersigned" || r.Body["revenue"].(map[string]any)["closing"] != "22400.20" {
		t.Fatalf("v1 %s", r.Raw)
	}
	if again := s.must(http.StatusOK, "POST", board, manager, revenueBody(pic), "Idempotency-Key", "rev-2026q3"); voteNum(again.Body["id"]) != v1 {
		t.Fatalf("replay %s", again.Raw)
	}
	path := fmt.Sprintf("/api/v1/disclosures/%d", v1)
	if r := s.do("PATCH", path, manager, map[string]any{"closing": "0.00"}); r.Status != http.StatusConflict || r.ErrCode() != "disclosure_published" || !chinese(r) {
		t.Fatalf("edit %s", r.Raw)
	}
	if r := s.do("POST", path+"/countersign", manager, nil); r.Status != http.StatusForbidden || r.ErrCode() != "not_countersigner" {
		t.Fatalf("manager countersigns %s", r.Raw)
	}
	r = s.must(http.StatusOK, "POST", path+"/countersign", committee, map[string]any{"note": "已核对票据"})
	if cs := r.Body["countersign"].(map[string]any); cs["state"] != "countersigned" || cs["name"] != "业委会吴主任" {
		t.Fatalf("countersigned %s", r.Raw)
	}

	// Residents read: the board, the version (a read on the receipt), the
	// attachment; the resident of another compound reads none of it.
	b := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/compounds/%d/disclosure-board", comp.ID), resident, nil)
	if secs := b.Body["sections"].([]any); len(secs) != 3 || len(b.Body["missing"].([]any)) != 2 {
		t.Fatalf("board %s", b.Raw)
	}
	att := r.Body["lines"].([]any)[0].(map[string]any)["attachments"].([]any)[0].(map[string]any)["url"].(string)
	if img := s.must(http.StatusOK, "GET", att, resident, nil); !strings.HasPrefix(img.Header.Get("Content-Type"), "image/png") {
		t.Fatalf("attachment %v", img.Header)
	}
	for _, p := range []string{fmt.Sprintf("/api/v1/compounds/%d/disclosure-board", comp.ID), path, path + "/versions", att} {
		if r := s.do("GET", p, outsider, nil); r.Status != http.StatusForbidden || r.ErrCode() != "out_of_scope" {
			t.Fatalf("outsider reads %s: %s", p, r.Raw)
		}
	}
	rc := s.must(http.StatusOK, "GET", path+"/receipts", manager, nil)
	if rc.Body["households"] != 8.0 || rc.Body["delivered"] != 1.0 || rc.Body["read"] != 1.0 || rc.Body["not_reached"] != 7.0 {
		t.Fatalf("receipts %s", rc.Raw)
	}
	nr := s.must(http.StatusOK, "GET", path+"/not-reached?limit=5", manager, nil)
	if len(nr.Body["items"].([]any)) != 5 || nr.Body["next_cursor"] == "" {
		t.Fatalf("not reached %s", nr.Raw)
	}
	nr2 := s.must(http.StatusOK, "GET", path+"/not-reached?limit=5&cursor="+nr.Body["next_cursor"].(string), manager, nil)
	if len(nr2.Body["items"].([]any)) != 2 {
		t.Fatalf("not reached page 2 %s", nr2.Raw)
	}
	if r := s.do("GET", path+"/receipts", resident, nil); r.Status != http.StatusForbidden || r.ErrCode() != "not_publisher" {
		t.Fatalf("resident reads receipts %s", r.Raw)
	}

	// A correction: a new version, unsigned, with its diff.
	fix := revenueBody(pic)
	fix["corrects_id"], fix["reason"] = v1, "场地租赁系重复记账，予以删除"
	fix["income"] = fix["income"].([]map[string]any)[:2]
	fix["income_total"], fix["closing"] = "15000.10", "21800.00"
	body, ct := multipartBody(t, "file", "门禁发票.pdf", "application/pdf", []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"))
	doc := voteNum(s.must(http.StatusCreated, "POST", "/api/v1/documents", manager, body, "Content-Type", ct).Body["id"])
	body, ct = multipartBody(t, "file", "x.pdf", "application/pdf", []byte("%PDF-1.4\n<< /OpenAction << /S /JavaScript >> >>\n%%EOF\n"))
	if r := s.do("POST", "/api/v1/documents", manager, body, "Content-Type", ct); r.Status != http.StatusUnsupportedMediaType || !chinese(r) {
		t.Fatalf("a PDF with a script: %s", r.Raw)
	}
	fix["expenses"].([]map[string]any)[0]["attachment_ids"] = []int64{doc}
	r = s.must(http.StatusCreated, "POST", board, manager, fix)
	v2 := voteNum(r.Body["id"])
	pdfURL := fmt.Sprintf("/api/v1/disclosures/%d/attachments/%d", v2, doc)
	if f := s.must(http.StatusOK, "GET", pdfURL, resident, nil); f.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("pdf attachment %v", f.Header)
	}
	if r.Body["version"] != 2.0 || r.Body["countersign"].(map[string]any)["state"] != "not_countersigned" || r.Body["current"] != true {
		t.Fatalf("v2 %s", r.Raw)
	}
	if old := s.must(http.StatusOK, "GET", path, resident, nil); old.Body["current"] != false || voteNum(old.Body["latest_id"]) != v2 ||
		old.Body["countersign"].(map[string]any)["state"] != "countersigned" {
		t.Fatalf("v1 after the correction %s", old.Raw)
	}
	d := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/disclosures/%d/diff", v2), resident, nil)
	lines := d.Body["lines"].([]any)
	if len(lines) != 2 || lines[0].(map[string]any)["label"] != "公共设施维修" || lines[0].(map[string]any)["fields"].([]any)[0].(map[string]any)["field"] != "attachments" ||
		lines[1].(map[string]any)["change"] != "removed" || lines[1].(map[string]any)["from_amount"] != "600.20" ||
		d.Body["unchanged_lines"] != 2.0 || d.Body["reason"] != "场地租赁系重复记账，予以删除" {
		t.Fatalf("diff %s", d.Raw)
	}
	fields := map[string]string{}
	for _, f := range d.Body["fields"].([]any) {
		f := f.(map[string]any)
		fields[f["field"].(string)] = f["delta"].(string)
	}
	if len(fields) != 2 || fields["income_total"] != "-600.20" || fields["closing"] != "-600.20" {
		t.Fatalf("diff fields %v", fields)
	}
	hist := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/disclosures/%d/versions", v2), resident, nil)
	if items := hist.Body["items"].([]any); len(items) != 2 || voteNum(items[0].(map[string]any)["id"]) != v1 {
		t.Fatalf("history %s", hist.Raw)
	}
	all := s.must(http.StatusOK, "GET", board+"?section=revenue&history=true", resident, nil)
	if len(all.Body["items"].([]any)) != 2 {
		t.Fatalf("list with history %s", all.Raw)
	}
	if cur := s.must(http.StatusOK, "GET", board+"?section=revenue", resident, nil); len(cur.Body["items"].([]any)) != 1 {
		t.Fatalf("current list %s", cur.Raw)
	}
	if r := s.do("POST", path+"/countersign", committee, nil); r.Status != http.StatusConflict {
		t.Fatalf("countersign a superseded version %s", r.Raw)
	}
	s.must(http.StatusOK, "POST", fmt.Sprintf("/api/v1/disclosures/%d/countersign", v2), committee, nil)
}

// The firm section is read from the org tree, never retyped: the
// district's change of the project manager on the contract shows in the
// next version, and the diff names it.
func TestDisclosureFirmFromTheContract(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	manager, city0 := s.login("manager"), s.login("city")
	k := fmt.Sprintf("/api/v1/contracts/%d", city.Contracts[0].ID)
	if r := s.do("PATCH", k, city0, map[string]any{"project_manager": strings.Repeat("长", 33)}); r.Status != http.StatusBadRequest || r.ErrCode() != "bad_project_manager" {
		t.Fatalf("long name %s", r.Raw)
	}
	if r := s.do("PATCH", k, manager, map[string]any{"project_manager": "自己改"}); r.Status != http.StatusForbidden {
		t.Fatalf("the firm edits its contract: %s", r.Raw)
	}
	board := fmt.Sprintf("/api/v1/compounds/%d/disclosures", city.Compounds[0].ID)
	v1 := voteNum(s.must(http.StatusCreated, "POST", board, manager, map[string]any{"section": "firm"}).Body["id"])
	r := s.must(http.StatusOK, "PATCH", k, city0, map[string]any{"project_manager": "周海燕", "manager_phone": "13905351234"})
	if r.Body["project_manager"] != "周海燕" || r.Body["hotline_24h"] != "0535-2218899" || r.Body["starts_on"] != "2026-01-01" {
		t.Fatalf("contract %s", r.Raw)
	}
	v2 := voteNum(s.must(http.StatusCreated, "POST", board, manager, map[string]any{"section": "firm", "corrects_id": v1,
		"reason": "项目经理变更"}).Body["id"])
	d := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/disclosures/%d/diff", v2), manager, nil)
	got := map[string]string{}
	for _, l := range d.Body["lines"].([]any) {
		l := l.(map[string]any)
		f := l["fields"].([]any)[0].(map[string]any)
		got[l["label"].(string)] = f["from"].(string) + "→" + f["to"].(string)
	}
	if len(got) != 2 || got["项目经理"] != "孙立新→周海燕" || got["项目经理电话"] != "13805352218→13905351234" {
		t.Fatalf("diff %s", d.Raw)
	}
}

// The steward knocks: the not-reached list as .xlsx, a door told in
// person counts as reached; others may not record it.
func TestDisclosureStewardTellsInPerson(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	manager, steward, resident := s.login("manager"), s.login("steward"), s.login("resident")
	v := voteNum(s.must(http.StatusCreated, "POST", fmt.Sprintf("/api/v1/compounds/%d/disclosures", city.Compounds[0].ID), manager,
		revenueBody(voteNum(s.uploadPhoto(http.StatusCreated, manager, "r.png", "image/png", photoPNG(t)).Body["id"]))).Body["id"])
	path := fmt.Sprintf("/api/v1/disclosures/%d", v)
	x := s.must(http.StatusOK, "GET", path+"/not-reached.xlsx", steward, nil)
	wb, err := excelize.OpenReader(bytes.NewReader(x.Raw))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := wb.GetRows("未触达住户")
	if err != nil || len(rows) != 5 || rows[1][0] != "1号楼" || rows[1][2] != "101" { // the steward's building: header + 4 doors
		t.Fatalf("export rows %v %v", rows, err)
	}
	door := city.Households[1].ID // 1号楼 1-102, nobody registered
	in := fmt.Sprintf("%s/receipts/%d/in-person", path, door)
	if r := s.do("POST", in, resident, map[string]any{"note": "邻居代为转告"}); r.Status != http.StatusForbidden {
		t.Fatalf("a resident records in person: %s", r.Raw)
	}
	// Bad input is the notices' 400s: a unit too long, a time out of any sane range.
	if r := s.do("GET", path+"/not-reached?building_id=1&unit="+strings.Repeat("9", 17), manager, nil); r.Status != 400 || r.ErrCode() != "bad_unit" {
		t.Fatalf("a unit of 17 characters: %d %s", r.Status, r.Raw)
	}
	if r := s.do("POST", in, steward, map[string]any{"note": "已当面告知", "told_at": "1850-01-01T00:00:00+08:00"}); r.Status != 400 || r.ErrCode() != "bad_time" {
		t.Fatalf("told in 1850: %d %s", r.Status, r.Raw)
	}
	r := s.must(http.StatusOK, "POST", in, steward, map[string]any{"note": "已当面告知户主，并张贴于单元门"})
	if r.Body["reached"] != true || r.Body["in_person_note"] != "已当面告知户主，并张贴于单元门" {
		t.Fatalf("in person %s", r.Raw)
	}
	if r := s.do("POST", in, steward, map[string]any{"note": "again"}); r.Status != http.StatusConflict {
		t.Fatalf("twice %s", r.Raw)
	}
	rc := s.must(http.StatusOK, "GET", path+"/receipts", manager, nil)
	if rc.Body["in_person"] != 1.0 || rc.Body["reached"] != 1.0 || rc.Body["not_reached"] != 7.0 {
		t.Fatalf("receipts %s", rc.Raw)
	}
	// The steward sees their building only.
	own := s.must(http.StatusOK, "GET", path+"/receipts", steward, nil)
	if own.Body["households"] != 4.0 || len(own.Body["buildings"].([]any)) != 1 {
		t.Fatalf("steward's receipts %s", own.Raw)
	}
}
