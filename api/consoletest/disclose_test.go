package consoletest

import (
	"bytes"
	"image"
	"image/color"
	pngenc "image/png"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// tally is the counts the API answers for a notice or a version.
type tally struct {
	Households int64 `json:"households"`
	Delivered  int64 `json:"delivered"`
	Read       int64 `json:"read"`
	Confirmed  int64 `json:"confirmed"`
	InPerson   int64 `json:"in_person"`
	Reached    int64 `json:"reached"`
	NotReached int64 `json:"not_reached"`
}

// A community staff member's notice and revenue report in the sandbox
// console: publish a notice to a compound, see its counts move when a
// resident reads it; publish the compound's public revenue, countersign
// it, correct it and read the diff. Each page's counts are the API's; no
// JavaScript error may happen on the way.
func TestCommunityPublishes(t *testing.T) {
	chromium(t)
	s := startServer(t)
	ctx, jsErrors := browser(t)
	dir := shots(t)
	run(t, ctx, "login as the community",
		chromedp.Navigate(s.base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#confirm-demo")),
		chromedp.SetValue(chromedp.CSS("#person"), "sandbox:community"),
		chromedp.Click(chromedp.CSS("#confirm-demo")),
		chromedp.WaitVisible(chromedp.CSS("#orders")),
	)
	token, _ := s.login(t, "community")
	residentToken, _ := s.login(t, "resident")

	// counts reads the page's counters and compares them with the API's.
	counts := func(step, api string, confirm bool) tally {
		t.Helper()
		var page map[string]string
		run(t, ctx, step+" counts", into(&page, chromedp.Evaluate[map[string]string](`Object.fromEntries(
			[...document.querySelectorAll("#counts b[id]")].map(b => [b.id, b.textContent]))`)))
		var want tally
		if st := s.api(t, "GET", api, token, nil, &want); st != http.StatusOK {
			t.Fatalf("%s: %d", api, st)
		}
		check := map[string]int64{"c-households": want.Households, "c-delivered": want.Delivered, "c-read": want.Read,
			"c-inperson": want.InPerson, "c-reached": want.Reached, "c-notreached": want.NotReached}
		if confirm {
			check["c-confirmed"] = want.Confirmed
		}
		for id, n := range check {
			if page[id] != strconv.FormatInt(n, 10) {
				t.Fatalf("%s: the page's %s is %q, the API says %d (page %v)", step, id, page[id], n, page)
			}
		}
		return want
	}

	// A notice to the demo resident's compound, asking to confirm.
	var path string
	run(t, ctx, "notice form",
		chromedp.Navigate(s.base+"/console/notices"),
		chromedp.WaitVisible(chromedp.CSS("#notice-form")),
		into[any](nil, chromedp.Evaluate[any](`(() => {
			const sel = document.querySelector("#n-scope");
			sel.value = [...sel.options].find(o => o.value.startsWith("compound:") && o.text.includes("金日天玺")).value;
		})()`)),
		chromedp.SetValue(chromedp.CSS("#n-title"), "停水通知"),
		chromedp.SetValue(chromedp.CSS("#n-body"), "12月3日 9:00–17:00 管网维修停水，请提前储水。"),
		chromedp.Click(chromedp.CSS("#n-confirm")),
		screenshot(t, dir, "8-notices"),
		chromedp.Click(chromedp.CSS("#n-publish")),
		chromedp.WaitVisible(chromedp.CSS("#counts")),
		into(&path, chromedp.Evaluate[string](`location.pathname`)),
	)
	id := strings.TrimPrefix(path, "/console/notices/")
	var state, title string
	run(t, ctx, "notice page", into(&state, chromedp.Text(chromedp.CSS("#notice-state"))), into(&title, chromedp.Text(chromedp.CSS("#notice-title"))))
	if state != "已发布" || !strings.Contains(title, "停水通知") {
		t.Fatalf("notice %s: state %q title %q", id, state, title)
	}
	before := counts("notice", "/api/v1/notices/"+id+"/receipts", true)
	if before.Households == 0 || before.Read != 0 {
		t.Fatalf("before the read: %+v", before)
	}
	if st := s.api(t, "POST", "/api/v1/notices/"+id+"/confirm", residentToken, nil, nil); st != http.StatusOK {
		t.Fatalf("resident confirms: %d", st)
	}
	run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#counts")), screenshot(t, dir, "9-notice"))
	after := counts("notice after the read", "/api/v1/notices/"+id+"/receipts", true)
	if after.Read != 1 || after.Confirmed != 1 || after.NotReached != before.NotReached-1 {
		t.Fatalf("after the resident's confirmation: %+v (before %+v)", after, before)
	}
	// The list of doors not reached, one building at a time.
	var doors int
	run(t, ctx, "one building",
		chromedp.Click(chromedp.CSS("#by-building a")),
		until(`document.querySelector("#doors") && document.body.textContent.includes("显示全部")`),
		into(&doors, chromedp.Evaluate[int](`document.querySelectorAll("#doors tr[data-household]").length`)),
	)
	if doors == 0 || int64(doors) > after.NotReached {
		t.Fatalf("%d doors of one building, %d not reached in all", doors, after.NotReached)
	}

	// The public revenue of the community's other compound, which has no committee:
	// the community publishes and countersigns it.
	// The picker is a GET form: its choice is opened as the address it
	// submits, so that the first compound's page (with the same forms) is
	// never mistaken for the chosen one while it unloads.
	var other string
	run(t, ctx, "board",
		chromedp.Navigate(s.base+"/console/disclosure"),
		chromedp.WaitVisible(chromedp.CSS("#board")),
		into(&other, chromedp.Evaluate[string](`[...document.querySelector("#compound").options].find(o => o.text === "华旗绿城").value`)),
	)
	run(t, ctx, "other board",
		chromedp.Navigate(s.base+"/console/disclosure?compound_id="+other),
		chromedp.WaitVisible(chromedp.CSS("#pub-revenue")),
		until(`document.querySelector("#board-name").textContent === "华旗绿城"`),
		chromedp.Click(chromedp.CSS("#pub-revenue summary")),
		into[any](nil, chromedp.Evaluate[any](`(() => {
			const f = document.querySelector("#pub-revenue form");
			const set = (name, i, v) => { f.querySelectorAll("[name=" + name + "]")[i].value = v; };
			set("period", 0, "2026Q3"); set("opening", 0, "10000.00"); set("income_total", 0, "15600.30");
			set("expense_total", 0, "3200.10"); set("closing", 0, "22400.20");
			[["电梯广告", "9000.10"], ["临时停车", "6000.00"], ["场地租赁", "600.20"]].forEach((r, i) => {
				set("income_label", i, r[0]); set("income_amount", i, r[1]);
			});
			set("expense_label", 0, "公共设施维修"); set("expense_amount", 0, "3200.10"); set("expense_detail", 0, "2 号楼门禁更换");
		})()`)),
		screenshot(t, dir, "10-board"),
		chromedp.Click(chromedp.CSS("#pub-revenue button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#countersign-form")),
		into(&path, chromedp.Evaluate[string](`location.pathname`)),
	)
	v1 := strings.TrimPrefix(path, "/console/disclosures/")
	var closing, signed string
	run(t, ctx, "countersign",
		into(&closing, chromedp.Text(chromedp.CSS("#closing"))),
		chromedp.SetValue(chromedp.CSS(`#countersign-form input[name=note]`), "已核对票据"),
		chromedp.Click(chromedp.CSS(`#countersign-form button`)),
		until(`document.querySelector("#version-flash") !== null`),
		into(&signed, chromedp.Text(chromedp.CSS("#countersign"))),
	)
	var v struct {
		Revenue struct {
			Closing string `json:"closing"`
		} `json:"revenue"`
		Countersign struct {
			State string `json:"state"`
		} `json:"countersign"`
	}
	s.api(t, "GET", "/api/v1/disclosures/"+v1, token, nil, &v)
	if closing != "22400.20" || v.Revenue.Closing != closing || v.Countersign.State != "countersigned" || !strings.Contains(signed, "已会签") {
		t.Fatalf("page closing %q signed %q; API %+v", closing, signed, v)
	}
	counts("revenue", "/api/v1/disclosures/"+v1+"/receipts", false)

	// A correction drops a line; the new version shows what changed.
	var diff string
	run(t, ctx, "correct",
		chromedp.Click(chromedp.CSS("#correct summary")),
		into[any](nil, chromedp.Evaluate[any](`(() => {
			const f = document.querySelector("#correct form");
			f.querySelector("[name=reason]").value = "场地租赁系重复记账，予以删除";
			f.querySelector("[name=income_total]").value = "15000.10";
			f.querySelector("[name=closing]").value = "21800.00";
			const i = [...f.querySelectorAll("[name=income_label]")].findIndex(x => x.value === "场地租赁");
			f.querySelectorAll("[name=income_label]")[i].value = "";
			f.querySelectorAll("[name=income_amount]")[i].value = "";
		})()`)),
		chromedp.Click(chromedp.CSS("#correct button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#diff")),
		into(&path, chromedp.Evaluate[string](`location.pathname`)),
		into(&diff, chromedp.Text(chromedp.CSS("#diff"))),
		screenshot(t, dir, "11-version"),
	)
	v2 := strings.TrimPrefix(path, "/console/disclosures/")
	if v2 == v1 || !strings.Contains(diff, "-600.20") || !strings.Contains(diff, "场地租赁") {
		t.Fatalf("correction %s of %s: diff %q", v2, v1, diff)
	}
	run(t, ctx, "receipts shot", chromedp.ScrollIntoView(chromedp.CSS("#receipts")), screenshot(t, dir, "12-receipts"))
	counts("correction", "/api/v1/disclosures/"+v2+"/receipts", false)

	if errs := jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors in the console:\n  %s", strings.Join(errs, "\n  "))
	}
}

// A firm manager's revenue report with its receipts in the sandbox
// console: a PDF and a photo attached to one income line with the line's
// file input, published; the version page links both, they download as
// what they are, and the API names them in the line.
func TestManagerDisclosesReceipts(t *testing.T) {
	chromium(t)
	s := startServer(t)
	ctx, jsErrors := browser(t)
	dir := shots(t)
	files := t.TempDir()
	pdf, png := filepath.Join(files, "门禁发票.pdf"), filepath.Join(files, "收据.png")
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(2, 2, color.RGBA{200, 30, 30, 255})
	var buf bytes.Buffer
	if err := pngenc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(png, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdf, []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "login as the manager",
		chromedp.Navigate(s.base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#confirm-demo")),
		chromedp.SetValue(chromedp.CSS("#person"), "sandbox:manager"),
		chromedp.Click(chromedp.CSS("#confirm-demo")),
		chromedp.WaitVisible(chromedp.CSS("#orders")),
	)
	token, _ := s.login(t, "manager")

	var path string
	run(t, ctx, "revenue form with receipts",
		chromedp.Navigate(s.base+"/console/disclosure"),
		chromedp.WaitVisible(chromedp.CSS("#pub-revenue")),
		chromedp.Click(chromedp.CSS("#pub-revenue summary")),
		into[any](nil, chromedp.Evaluate[any](`(() => {
			const f = document.querySelector("#pub-revenue form");
			const set = (name, i, v) => { f.querySelectorAll("[name=" + name + "]")[i].value = v; };
			set("period", 0, "2026Q2"); set("opening", 0, "500.00"); set("income_total", 0, "1200.00");
			set("expense_total", 0, "300.00"); set("closing", 0, "1400.00");
			set("income_label", 0, "电梯广告"); set("income_amount", 0, "1200.00");
			set("expense_label", 0, "门禁维修"); set("expense_amount", 0, "300.00");
		})()`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#pub-revenue input[name=income_file_0]`), []string{pdf, png}),
		chromedp.ScrollIntoView(chromedp.CSS(`#pub-revenue input[name=income_file_0]`)),
		screenshot(t, dir, "13-receipts-form"),
		chromedp.Click(chromedp.CSS("#pub-revenue button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#lines a.attachment")),
		into(&path, chromedp.Evaluate[string](`location.pathname`)),
		screenshot(t, dir, "14-receipts-version"),
	)
	id := strings.TrimPrefix(path, "/console/disclosures/")
	var links []string
	var types []string
	run(t, ctx, "attachments",
		into(&links, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#lines a.attachment")].map(a => a.getAttribute("href"))`)),
		into(&types, chromedp.Evaluate[[]string](`Promise.all([...document.querySelectorAll("#lines a.attachment")].map(a =>
			fetch(a.href).then(r => r.ok ? r.headers.get("Content-Type") : "HTTP " + r.status)))`, chromedp.EvalAwaitPromise)),
	)
	var v struct {
		Lines []struct {
			Label       string `json:"label"`
			Attachments []struct {
				ID int64 `json:"id"`
			} `json:"attachments"`
		} `json:"lines"`
	}
	if st := s.api(t, "GET", "/api/v1/disclosures/"+id, token, nil, &v); st != http.StatusOK {
		t.Fatalf("the version through the API: %d", st)
	}
	if len(v.Lines) != 2 || v.Lines[0].Label != "电梯广告" || len(v.Lines[0].Attachments) != 2 || len(v.Lines[1].Attachments) != 0 {
		t.Fatalf("the version's lines: %+v", v.Lines)
	}
	for i, a := range v.Lines[0].Attachments {
		if want := "/console/disclosures/" + id + "/attachments/" + strconv.FormatInt(a.ID, 10); i >= len(links) || links[i] != want {
			t.Fatalf("the page links %v, the API names %+v", links, v.Lines[0].Attachments)
		}
	}
	if len(types) != 2 || types[0] != "application/pdf" || types[1] != "image/png" {
		t.Fatalf("the attachments download as %v", types)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors in the console:\n  %s", strings.Join(errs, "\n  "))
	}
}
