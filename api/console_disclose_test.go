package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"redprop/model"
)

// count reads a counter of the receipts' panel (id="c-…").
func count(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`id="c-` + name + `">(\d+)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no counter %s in %.300s", name, body)
	}
	return m[1]
}

// redirected is the id of the page an htmx answer sends the browser to.
func redirected(t *testing.T, p consoleResp, prefix string) string {
	t.Helper()
	loc := p.Header.Get("HX-Redirect")
	if p.Status != http.StatusNoContent || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("want a redirect to %s…: %d %v %.300s", prefix, p.Status, p.Header, p.Body)
	}
	return strings.TrimPrefix(loc, prefix)
}

// refused checks an htmx refusal: the status, and the message in the
// page's flash area.
func refused(t *testing.T, p consoleResp, status int, msg string) {
	t.Helper()
	if p.Status != status || p.Header.Get("HX-Retarget") != "#flash" || !strings.Contains(p.Body, msg) {
		t.Fatalf("want %d with %q in the flash: %d %v %.300s", status, msg, p.Status, p.Header, p.Body)
	}
}

func TestConsoleNotices(t *testing.T) {
	f := newOrderFixture(t)
	comp := f.city.Compounds[0]
	com := f.console()
	com.logIn(f, "community")

	p := com.must(http.StatusOK, com.get("/console/notices"), "notices page")
	for _, want := range []string{`<option value="community">社区</option>`, fmt.Sprintf(`value="compound:%d"`, comp.ID),
		fmt.Sprintf(`value="building:%d"`, f.city.Buildings[0].ID), `name="buildings"`, "暂无公告"} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("the notices page lacks %s", want)
		}
	}
	form := url.Values{"as": {"community"}, "scope": {fmt.Sprintf("compound:%d", comp.ID)}, "title": {"停水通知"},
		"body": {"12月3日 9:00–17:00 管网维修停水，\r\n请提前储水。"}, "push": {"1"}, "needs_confirm": {"1"}, "key": {"n-1"}}

	t.Run("CSRF: a post without the page's token creates nothing", func(t *testing.T) {
		good := com.csrf
		com.csrf = ""
		defer func() { com.csrf = good }()
		if p := com.post("/console/notices", form); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "页面已过期") {
			t.Fatalf("%d %s", p.Status, p.Body)
		}
		if items := f.get("community", "/api/v1/notices?list=mine")["items"].([]any); len(items) != 0 {
			t.Fatalf("a notice was made: %v", items)
		}
	})
	t.Run("bad input is a 400 in the flash", func(t *testing.T) {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set("publish_at", "tomorrow")
		refused(t, com.post("/console/notices", bad), http.StatusBadRequest, "时间格式不正确")
		bad.Set("publish_at", "")
		bad.Set("scope", "compound")
		refused(t, com.post("/console/notices", bad), http.StatusBadRequest, "请选择公告范围")
		bad.Set("scope", fmt.Sprintf("compound:%d", comp.ID))
		bad.Set("title", "")
		refused(t, com.post("/console/notices", bad), http.StatusBadRequest, "标题须为 1 到 60 个字")
	})

	id := redirected(t, com.post("/console/notices", form), "/console/notices/")
	if again := redirected(t, com.post("/console/notices", form), "/console/notices/"); again != id {
		t.Fatalf("a double click made notice %s besides %s", again, id)
	}
	n := f.get("community", "/api/v1/notices/"+id)
	if n["state"] != "published" || n["body"] != "12月3日 9:00–17:00 管网维修停水，\n请提前储水。" || n["needs_confirm"] != true {
		t.Fatalf("the notice as the API reads it: %v", n)
	}
	path := "/console/notices/" + id

	t.Run("the counts are the API's, by building; the list names the notice", func(t *testing.T) {
		f.must(http.StatusOK, "POST", "/api/v1/notices/"+id+"/confirm", f.token("resident"), nil)
		p := com.must(http.StatusOK, com.get(path), "notice page")
		api := f.get("community", "/api/v1/notices/"+id+"/receipts")
		for name, key := range map[string]string{"households": "households", "read": "read", "confirmed": "confirmed",
			"reached": "reached", "notreached": "not_reached", "inperson": "in_person"} {
			if got := count(t, p.Body, name); got != fmt.Sprint(orderNum(api[key])) {
				t.Errorf("%s: page %s, API %v", name, got, api[key])
			}
		}
		if count(t, p.Body, "households") != "8" || count(t, p.Body, "confirmed") != "1" || !strings.Contains(p.Body, "1号楼") ||
			!strings.Contains(p.Body, `id="withdraw"`) || strings.Count(p.Body, "data-household=") != 7 {
			t.Fatalf("notice page: %.600s", p.Body)
		}
		list := com.must(http.StatusOK, com.get("/console/notices"), "list")
		if !strings.Contains(list.Body, `data-notice="`+id+`"`) || !strings.Contains(list.Body, "已发布") {
			t.Fatal("the list lacks the notice")
		}
		part := com.must(http.StatusOK, com.send(http.MethodGet, fmt.Sprintf("%s/receipts?building_id=%d", path, f.city.Buildings[1].ID), nil,
			"HX-Request", "true"), "one building")
		if strings.Contains(part.Body, "<html") || strings.Count(part.Body, "data-household=") != 4 {
			t.Fatalf("building filter: %.400s", part.Body)
		}
		if p := com.send(http.MethodGet, path+"/receipts?unit=1", nil, "HX-Request", "true"); p.Status != http.StatusBadRequest {
			t.Fatalf("a unit without its building: %d", p.Status)
		}
	})
	t.Run("the steward tells a door in person; the counts follow", func(t *testing.T) {
		st := f.console()
		st.logIn(f, "steward")
		door := f.city.Households[1].ID
		if p := st.post(fmt.Sprintf("%s/in-person/%d", path, door), url.Values{}); p.Status != http.StatusBadRequest {
			t.Fatalf("no note: %d", p.Status)
		}
		p := st.must(http.StatusOK, st.post(fmt.Sprintf("%s/in-person/%d", path, door), url.Values{"note": {"已当面告知户主"}}), "in person")
		if !strings.Contains(p.Body, "已登记当面告知") || count(t, p.Body, "inperson") != "1" {
			t.Fatalf("after in person: %.400s", p.Body)
		}
		if r := f.get("community", "/api/v1/notices/"+id+"/receipts"); orderNum(r["in_person"]) != 1 || orderNum(r["reached"]) != 2 {
			t.Fatalf("API after in person: %v", r)
		}
		refused(t, com.post(fmt.Sprintf("%s/in-person/%d", path, f.city.Households[2].ID), url.Values{"note": {"告知"}}),
			http.StatusForbidden, "只有该楼栋的楼栋长或网格员")
		refused(t, st.post(path+"/withdraw", url.Values{"reason": {"不该我撤"}}), http.StatusForbidden, "只有发布单位和上级工作人员可以撤回公告")
	})
	t.Run("the not-reached list as .xlsx", func(t *testing.T) {
		x := com.must(http.StatusOK, com.get(path+"/not-reached.xlsx"), "export")
		if !strings.HasPrefix(x.Body, "PK") || !strings.Contains(x.Header.Get("Content-Disposition"), "not-reached-notice-"+id) {
			t.Fatalf("export %v", x.Header)
		}
	})
	t.Run("a person whose grants do not reach it is refused", func(t *testing.T) {
		o := f.console()
		o.logIn(f, "community2")
		if p := o.get(path); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "公告不存在") {
			t.Fatalf("another community opens it: %d", p.Status)
		}
		if p := o.get(path + "/not-reached.xlsx"); p.Status != http.StatusNotFound || strings.HasPrefix(p.Body, "PK") {
			t.Fatalf("another community exports it: %d", p.Status)
		}
		refused(t, o.post("/console/notices", form), http.StatusForbidden, "您不能以该单位的名义")
		duty := f.console()
		duty.logIn(f, "duty")
		if p := duty.must(http.StatusOK, duty.get("/console/notices"), "duty"); strings.Contains(p.Body, `id="notice-form"`) {
			t.Fatal("the duty officer is offered a form to publish")
		}
		refused(t, duty.post("/console/notices", url.Values{"as": {"community"}, "scope": {fmt.Sprintf("compound:%d", comp.ID)},
			"title": {"t"}, "body": {"b"}}), http.StatusForbidden, "您不能以该单位的名义")
	})
	t.Run("withdraw, with a reason", func(t *testing.T) {
		refused(t, com.post(path+"/withdraw", url.Values{}), http.StatusBadRequest, "撤回原因")
		p := com.must(http.StatusOK, com.post(path+"/withdraw", url.Values{"reason": {"维修改期"}}), "withdraw")
		if !strings.Contains(p.Body, "公告已撤回") || !strings.Contains(p.Body, `id="notice-state">已撤回`) || strings.Contains(p.Body, `id="withdraw"`) {
			t.Fatalf("after withdraw: %.400s", p.Body)
		}
		if n := f.get("community", "/api/v1/notices/"+id); n["state"] != "withdrawn" || n["withdraw_reason"] != "维修改期" {
			t.Fatalf("API after withdraw: %v", n)
		}
	})
	t.Run("a scheduled notice to several buildings", func(t *testing.T) {
		at := f.clock.Now().Add(26 * 3600 * 1e9).In(beijing).Format("2006-01-02T15:04")
		p := com.post("/console/notices", url.Values{"as": {"community"}, "scope": {"compound:1"}, "title": {"消防演练"}, "body": {"周五下午演练"},
			"buildings": {fmt.Sprint(f.city.Buildings[0].ID), fmt.Sprint(f.city.Buildings[1].ID)}, "publish_at": {at}})
		sid := redirected(t, p, "/console/notices/")
		n := f.get("community", "/api/v1/notices/"+sid)
		if n["state"] != "scheduled" || n["scope_kind"] != "buildings" || len(n["scope_ids"].([]any)) != 2 {
			t.Fatalf("scheduled: %v", n)
		}
		page := com.must(http.StatusOK, com.get("/console/notices/"+sid), "scheduled page")
		if !strings.Contains(page.Body, "到时自动发布") || count(t, page.Body, "households") != "0" {
			t.Fatalf("scheduled page: %.400s", page.Body)
		}
	})
}

// fees, revenue and a correction from the disclosure forms.
func feeForm() url.Values {
	return url.Values{"section": {"fees"}, "fee_label": {"住宅", ""}, "fee_amount": {"1.3500", ""},
		"fee_basis": {"烟价发〔2024〕12号", ""}, "fee_effective_on": {"2026-01-01", ""},
		"charge_label": {"地上停车位"}, "charge_amount": {"80"}, "charge_unit": {"元/个·月"}}
}

func revenueForm() url.Values {
	return url.Values{"section": {"revenue"}, "period": {"2026Q3"}, "opening": {"10000.00"}, "income_total": {"15600.30"},
		"expense_total": {"3200.10"}, "closing": {"22400.20"},
		"income_label": {"电梯广告", "临时停车", "场地租赁", ""}, "income_amount": {"9000.10", "6000.00", "600.20", ""},
		"income_detail": {"", "", "", ""},
		"expense_label": {"公共设施维修", ""}, "expense_amount": {"3200.10", ""}, "expense_detail": {"2 号楼门禁更换", ""}}
}

// managerAtBoard logs the firm manager in and opens the 三公开 page of
// the first compound; publish is its form's path.
func managerAtBoard(t *testing.T) (f *orderFixture, comp model.Compound, m *browser, publish string, p consoleResp) {
	t.Helper()
	f = newOrderFixture(t)
	comp = f.city.Compounds[0]
	m = f.console()
	m.logIn(f, "manager")
	publish = fmt.Sprintf("/console/disclosure/%d/publish", comp.ID)
	p = m.must(http.StatusOK, m.get("/console/disclosure"), "board page")
	return f, comp, m, publish, p
}

func TestConsoleDisclosure(t *testing.T) {
	f, comp, m, publish, p := managerAtBoard(t)
	if !strings.Contains(p.Body, fmt.Sprintf(`<option value="%d" selected>%s</option>`, comp.ID, comp.Name)) ||
		strings.Count(p.Body, "data-missing=") != 5 || !strings.Contains(p.Body, `id="pub-revenue"`) {
		t.Fatalf("manager's board page: %s", p.Body[strings.Index(p.Body, "<main>"):])
	}

	t.Run("CSRF: a publish without the page's token publishes nothing", func(t *testing.T) {
		good := m.csrf
		m.csrf = strings.Repeat("0", 32)
		defer func() { m.csrf = good }()
		if p := m.post(publish, feeForm()); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "页面已过期") {
			t.Fatalf("%d %s", p.Status, p.Body)
		}
		if b := f.get("manager", fmt.Sprintf("/api/v1/compounds/%d/disclosure-board", comp.ID)); len(b["sections"].([]any)) != 0 {
			t.Fatalf("published without a token: %v", b)
		}
	})

	fee := redirected(t, m.post(publish, feeForm()), "/console/disclosures/")
	p = m.must(http.StatusOK, m.get("/console/disclosures/"+fee), "fee version")
	for _, want := range []string{"收费标准", "第 1 版", `<td class="num">1.35</td>`, "元/平方米·月", `<td class="num">80.00</td>`, "烟价发〔2024〕12号", "自 2026-01-01 执行"} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("the fee version lacks %s: %.800s", want, p.Body)
		}
	}

	t.Run("a report that does not add up is refused with the figures", func(t *testing.T) {
		bad := revenueForm()
		bad.Set("closing", "22400.21")
		refused(t, m.post(publish, bad), http.StatusUnprocessableEntity, "与填报的期末余额 22400.21 元不符（相差 0.01 元）")
		bad = revenueForm()
		bad.Set("opening", "10000.001")
		refused(t, m.post(publish, bad), http.StatusBadRequest, "最多保留 2 位小数")
		bad = feeForm()
		bad.Set("fee_effective_on", "2026-13-01")
		refused(t, m.post(publish, bad), http.StatusBadRequest, "执行日期格式")
	})

	rev := redirected(t, m.post(publish, revenueForm()), "/console/disclosures/")
	vpath := "/console/disclosures/" + rev
	p = m.must(http.StatusOK, m.get(vpath), "revenue version")
	if !strings.Contains(p.Body, `id="closing">22400.20<`) || !strings.Contains(p.Body, `<td class="num">600.20</td>`) ||
		!strings.Contains(p.Body, "尚未会签") || !strings.Contains(p.Body, `id="correct"`) {
		t.Fatalf("revenue version: %.800s", p.Body)
	}

	t.Run("the committee countersigns; the firm may not", func(t *testing.T) {
		refused(t, m.post(vpath+"/countersign", url.Values{}), http.StatusForbidden, "只有该小区业委会")
		cm := f.console()
		cm.logIn(f, "committee")
		good := cm.csrf
		cm.csrf = ""
		if p := cm.post(vpath+"/countersign", url.Values{}); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "页面已过期") {
			t.Fatalf("countersign without a token: %d", p.Status)
		}
		cm.csrf = good
		p := cm.must(http.StatusOK, cm.post(vpath+"/countersign", url.Values{"note": {"已核对票据"}}), "countersign")
		if !strings.Contains(p.Body, "已会签：业委会吴主任") || !strings.Contains(p.Body, "已核对票据") {
			t.Fatalf("after countersign: %.400s", p.Body)
		}
		if v := f.get("resident", "/api/v1/disclosures/"+rev); v["countersign"].(map[string]any)["state"] != "countersigned" {
			t.Fatalf("API after countersign: %v", v["countersign"])
		}
	})

	var fixed string
	t.Run("a correction: a new version, its diff with signs", func(t *testing.T) {
		fix := revenueForm()
		fix.Set("corrects_id", rev)
		fix["income_label"] = []string{"电梯广告", "临时停车", ""}
		fix["income_amount"] = []string{"9000.10", "6000.00", ""}
		fix.Set("income_total", "15000.10")
		fix.Set("closing", "21800.00")
		refused(t, m.post(publish, fix), http.StatusBadRequest, "更正须说明原因")
		fix.Set("reason", "场地租赁系重复记账，予以删除")
		fixed = redirected(t, m.post(publish, fix), "/console/disclosures/")
		p := m.must(http.StatusOK, m.get("/console/disclosures/"+fixed), "correction")
		for _, want := range []string{"第 2 版", "第 1 版 → 第 2 版 的变化", "场地租赁系重复记账", `<td class="num">-600.20</td>`, "删除", "收入 · 场地租赁", "其余 3 项未变"} {
			if !strings.Contains(p.Body, want) {
				t.Fatalf("the correction lacks %s: %.1200s", want, p.Body)
			}
		}
		old := m.must(http.StatusOK, m.get(vpath), "old version")
		if !strings.Contains(old.Body, "已被第 2 版更正") || strings.Contains(old.Body, `id="correct"`) {
			t.Fatal("the superseded version still offers a correction")
		}
		stale := revenueForm()
		stale.Set("corrects_id", rev)
		stale.Set("reason", "再改一次")
		refused(t, m.post(publish, stale), http.StatusConflict, "被更正的不是最新版本")
	})

	t.Run("receipts: the page's counts are the API's; the steward knocks", func(t *testing.T) {
		p := m.must(http.StatusOK, m.get("/console/disclosures/"+fixed), "correction")
		api := f.get("manager", "/api/v1/disclosures/"+fixed+"/receipts")
		for name, key := range map[string]string{"households": "households", "read": "read", "reached": "reached", "notreached": "not_reached"} {
			if got := count(t, p.Body, name); got != fmt.Sprint(orderNum(api[key])) {
				t.Errorf("%s: page %s, API %v", name, got, api[key])
			}
		}
		st := f.console()
		st.logIn(f, "steward")
		door := f.city.Households[1].ID
		p = st.must(http.StatusOK, st.post(fmt.Sprintf("/console/disclosures/%s/in-person/%d", fixed, door), url.Values{"note": {"已张贴于单元门"}}), "in person")
		if count(t, p.Body, "inperson") != "1" || count(t, p.Body, "households") != "4" {
			t.Fatalf("steward's counts: %.400s", p.Body)
		}
		x := m.must(http.StatusOK, m.get("/console/disclosures/"+fixed+"/not-reached.xlsx"), "export")
		if !strings.HasPrefix(x.Body, "PK") {
			t.Fatal("not an xlsx")
		}
	})

	t.Run("a person whose grants do not reach the compound is refused", func(t *testing.T) {
		o := f.console()
		o.logIn(f, "community2")
		for _, path := range []string{"/console/disclosures/" + fixed, fmt.Sprintf("/console/disclosure?compound_id=%d", comp.ID),
			"/console/disclosures/" + fixed + "/not-reached.xlsx"} {
			if p := o.get(path); p.Status != http.StatusForbidden || strings.HasPrefix(p.Body, "PK") {
				t.Fatalf("%s: %d", path, p.Status)
			}
		}
		refused(t, o.post(publish, feeForm()), http.StatusForbidden, "")
		dep := f.console()
		dep.logIn(f, "department")
		if p := dep.must(http.StatusOK, dep.get("/console/disclosure"), "department"); !strings.Contains(p.Body, "您的范围内没有小区") {
			t.Fatalf("department's page: %.300s", p.Body)
		}
		if p := m.get("/console/disclosure?compound_id=x"); p.Status != http.StatusBadRequest {
			t.Fatalf("bad compound id: %d", p.Status)
		}
	})

	t.Run("the community staff publishes the channels and sees the board", func(t *testing.T) {
		com := f.console()
		com.logIn(f, "community")
		id := redirected(t, com.post(publish, url.Values{"section": {"channels"}, "community_phone": {"0535-6660001"}}), "/console/disclosures/")
		p := com.must(http.StatusOK, com.get("/console/disclosures/"+id), "channels")
		if !strings.Contains(p.Body, "双语社区 0535-6660001") || !strings.Contains(p.Body, "12345") {
			t.Fatalf("channels: %.600s", p.Body)
		}
		b := com.must(http.StatusOK, com.get("/console/disclosure"), "community's board")
		if strings.Count(b.Body, "data-section=\"") < 3 || strings.Count(b.Body, "data-missing=") != 2 {
			t.Fatalf("board after three sections: %.600s", b.Body)
		}
	})
}

func TestConsoleCanPages(t *testing.T) {
	f := newOrderFixture(t)
	for who, want := range map[string][2]bool{
		"community": {true, true}, "manager": {true, true}, "steward": {true, true}, "committee": {true, true},
		"duty": {false, false}, "department": {false, false}, "worker": {false, false}, "volunteer": {false, false},
	} {
		a := f.actorOf(who)
		if got := [2]bool{canNotices(a), canDisclosure(a)}; got != want {
			t.Errorf("%s: notices/disclosure %v, want %v", who, got, want)
		}
	}
}

// receiptPDF is a whole PDF with nothing active in it, as a scanner
// writes a receipt.
var receiptPDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")

// The receipts of a revenue report attached from the console's form: a
// PDF and a photo on one line, stored as the API stores uploads, named in
// the line the API answers and served from the version page; a
// correction keeps what is left ticked. Every bad file is refused in the
// flash area and publishes nothing.
func TestConsoleDisclosureReceipts(t *testing.T) {
	f, comp, m, publish, p := managerAtBoard(t)
	for _, want := range []string{`hx-encoding="multipart/form-data"`, `name="income_file_0"`, `name="income_file_2"`,
		`name="expense_file_0"`, `accept="image/jpeg,image/png,image/webp,application/pdf,.pdf" multiple`} {
		if !strings.Contains(p.Body, want) {
			t.Fatalf("the revenue form lacks %s", want)
		}
	}
	if strings.Contains(p.Body, `name="fee_file_`) || strings.Contains(p.Body, `name="item_file_`) {
		t.Fatal("lines whose attachments the service drops are offered files")
	}
	versions := func() int {
		t.Helper()
		r := f.get("manager", fmt.Sprintf("/api/v1/compounds/%d/disclosures?history=true", comp.ID))
		return len(r["items"].([]any))
	}

	t.Run("bad files are refused in the flash; nothing is published", func(t *testing.T) {
		before := versions()
		form := revenueForm()
		refused(t, m.postFiles(publish, form, formFile{"income_file_0", "票据.pdf", "application/pdf", []byte("这不是 PDF，只是改了扩展名的文本文件")}),
			http.StatusUnsupportedMediaType, "「票据.pdf」仅支持 PDF 格式的文件")
		refused(t, m.postFiles(publish, form, formFile{"income_file_0", "说明.txt", "text/plain", []byte("收据")}),
			http.StatusUnsupportedMediaType, "附件仅支持照片（JPEG、PNG、WebP）或 PDF 文件")
		big := append(append([]byte{}, receiptPDF[:len(receiptPDF)-6]...), bytes.Repeat([]byte(" "), testMaxPhotoBytes)...)
		refused(t, m.postFiles(publish, form, formFile{"expense_file_0", "大.pdf", "application/pdf", append(big, "%%EOF\n"...)}),
			http.StatusRequestEntityTooLarge, "文件不能超过")
		var ten []formFile
		for i := range 10 {
			ten = append(ten, formFile{"income_file_0", fmt.Sprintf("%d.pdf", i), "application/pdf", receiptPDF})
		}
		refused(t, m.postFiles(publish, form, ten...), http.StatusBadRequest, "每次发布最多附 9 个文件")
		refused(t, m.postFiles(publish, feeForm(), formFile{"fee_file_0", "r.pdf", "application/pdf", receiptPDF}),
			http.StatusBadRequest, "只有收入、支出项目可以附加票据")
		refused(t, m.postFiles(publish, form, formFile{"income_file_9", "r.pdf", "application/pdf", receiptPDF}),
			http.StatusBadRequest, "只有收入、支出项目可以附加票据")
		// Files on a row with nothing else: a line without a name.
		refused(t, m.postFiles(publish, form, formFile{"income_file_3", "r.pdf", "application/pdf", receiptPDF}),
			http.StatusBadRequest, "第 4 行收入项目名称")
		// A body over the route's limit is refused before it is read.
		req := httptest.NewRequest(http.MethodPost, publish, strings.NewReader(""))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		req.ContentLength = 10*testMaxPhotoBytes + f.deps.MaxBodyBytes + 1
		refused(t, m.do(req, "HX-Request", "true"), http.StatusRequestEntityTooLarge, "请求内容过大")
		if n := versions(); n != before {
			t.Fatalf("a refused form published: %d versions, %d before", n, before)
		}
	})

	png := photoPNG(t)
	id := redirected(t, m.postFiles(publish, revenueForm(),
		formFile{"income_file_0", "门禁发票.pdf", "application/pdf", receiptPDF},
		formFile{"income_file_0", "收据.png", "image/png", png}), "/console/disclosures/")
	v := f.get("manager", "/api/v1/disclosures/"+id)
	lines := v["lines"].([]any)
	var ids []string
	for _, a := range lines[0].(map[string]any)["attachments"].([]any) {
		ids = append(ids, fmt.Sprint(orderNum(a.(map[string]any)["id"])))
	}
	if lines[0].(map[string]any)["label"] != "电梯广告" || len(ids) != 2 {
		t.Fatalf("the line as the API reads it: %v", lines[0])
	}
	for i, l := range lines[1:] {
		if n := len(l.(map[string]any)["attachments"].([]any)); n != 0 {
			t.Fatalf("line %d got %d attachments", i+1, n)
		}
	}
	page := m.must(http.StatusOK, m.get("/console/disclosures/"+id), "version page")
	for i, want := range []struct{ mime, head string }{{"application/pdf", "%PDF-"}, {"image/png", "\x89PNG"}} {
		link := "/console/disclosures/" + id + "/attachments/" + ids[i]
		if !strings.Contains(page.Body, `href="`+link+`"`) {
			t.Fatalf("the version page does not link %s", link)
		}
		got := m.must(http.StatusOK, m.get(link), "attachment")
		if got.Header.Get("Content-Type") != want.mime || !strings.HasPrefix(got.Body, want.head) {
			t.Fatalf("%s answered %v %.20q", link, got.Header, got.Body)
		}
	}
	// The correction form offers both, ticked, on the first income row.
	for _, pid := range ids {
		if !strings.Contains(page.Body, `name="income_keep_0" value="`+pid+`" checked`) {
			t.Fatalf("the correction form does not keep attachment %s", pid)
		}
	}

	t.Run("a correction keeps the attachments left ticked and adds new ones", func(t *testing.T) {
		fix := revenueForm()
		fix.Set("corrects_id", id)
		fix.Set("reason", "补充维修票据，删去重复的收据照片")
		fix.Set("income_keep_0", ids[0])
		fixed := redirected(t, m.postFiles(publish, fix, formFile{"expense_file_0", "维修发票.pdf", "", receiptPDF}), "/console/disclosures/")
		lines := f.get("manager", "/api/v1/disclosures/"+fixed)["lines"].([]any)
		first, last := lines[0].(map[string]any)["attachments"].([]any), lines[3].(map[string]any)["attachments"].([]any)
		if len(first) != 1 || fmt.Sprint(orderNum(first[0].(map[string]any)["id"])) != ids[0] || len(last) != 1 {
			t.Fatalf("after the correction: %v / %v", first, last)
		}
		if got := m.get(fmt.Sprintf("/console/disclosures/%s/attachments/%v", fixed, orderNum(last[0].(map[string]any)["id"]))); got.Status != http.StatusOK ||
			got.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("the new receipt: %d %v", got.Status, got.Header)
		}
	})

	t.Run("an urlencoded post still publishes", func(t *testing.T) {
		id := redirected(t, m.post(publish, feeForm()), "/console/disclosures/")
		if v := f.get("manager", "/api/v1/disclosures/"+id); v["section"] != "fees" {
			t.Fatalf("fees: %v", v)
		}
	})
}
