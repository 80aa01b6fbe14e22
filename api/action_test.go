package api

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/xuri/excelize/v2"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service/action"
	"redprop/service/demo"
)

// actionFixture is the router over the demo city, with a token per person.
type actionFixture struct {
	*testServer
	city   *demo.City
	tokens map[string]string
}

func newActionFixture(t *testing.T) *actionFixture {
	t.Helper()
	s := newTestServer(t)
	return &actionFixture{testServer: s, city: s.loadDemo(), tokens: map[string]string{}}
}

func (f *actionFixture) tok(name string) string {
	if tok, ok := f.tokens[name]; ok {
		return tok
	}
	f.tokens[name] = f.login(name)
	return f.tokens[name]
}

// item is a valid inspection item for the firm in compound 0.
func (f *actionFixture) item(title string) map[string]any {
	return map[string]any{
		"title": title, "detail": "月考发现的问题", "owner_kind": "firm", "owner_id": f.city.Firm.ID,
		"due_date": "2026-11-30", "source_kind": "inspection", "compound_id": f.city.Compounds[0].ID,
	}
}

func (f *actionFixture) create(name string, body map[string]any, headers ...string) map[string]any {
	f.t.Helper()
	return f.must(http.StatusCreated, "POST", "/api/v1/action-items", f.tok(name), body, headers...).Body
}

func (f *actionFixture) act(name string, id int64, act string, body any) map[string]any {
	f.t.Helper()
	return f.must(http.StatusOK, "POST", fmt.Sprintf("/api/v1/action-items/%d/%s", id, act), f.tok(name), body).Body
}

// uploadPNG stores a real PNG through POST /api/v1/photos.
func (f *actionFixture) uploadPNG(name string) int64 {
	f.t.Helper()
	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4)))
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "site.png")
	part.Write(img.Bytes())
	w.Close()
	r := f.must(http.StatusCreated, "POST", "/api/v1/photos", f.tok(name), body.Bytes(), "Content-Type", w.FormDataContentType())
	return actionNum(r.Body["id"])
}

// inboxEvents lists the events of a person's inbox, newest first.
func (f *actionFixture) inboxEvents(name string) []string {
	f.t.Helper()
	var out []string
	for _, m := range f.must(http.StatusOK, "GET", "/api/v1/me/messages?limit=100", f.tok(name), nil).Body["items"].([]any) {
		out = append(out, m.(map[string]any)["event"].(string))
	}
	return out
}

func actionNum(v any) int64 {
	n, _ := v.(float64)
	return int64(n)
}

func actionHistory(it map[string]any) []string {
	var out []string
	for _, h := range it["history"].([]any) {
		out = append(out, h.(map[string]any)["action"].(string))
	}
	return out
}

func actionCount(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// The whole loop through the router, each step by the demo person whose
// job it is, with a send-back on the way.
func TestActionItemLifecycleThroughTheRouter(t *testing.T) {
	f := newActionFixture(t)
	it := f.create("community", f.item("2号楼消防通道堆放杂物"), "Idempotency-Key", "inspect-1")
	id := actionNum(it["id"])
	if it["state"] != "open" || it["state_name"] != "待认领" || it["owner_name"] != f.city.Firm.Name ||
		it["due_date"] != "2026-11-30" || it["due_at"] != "2026-12-01T00:00:00+08:00" || it["number"] != fmt.Sprintf("ZG20261123-%d", id) {
		t.Fatalf("created %v", it)
	}
	// A retry gets the first answer; the same key on another request is refused.
	again := f.must(http.StatusCreated, "POST", "/api/v1/action-items", f.tok("community"), f.item("2号楼消防通道堆放杂物"),
		"Idempotency-Key", "inspect-1")
	if actionNum(again.Body["id"]) != id || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat with the same key: %v", again.Body)
	}
	f.must(http.StatusUnprocessableEntity, "POST", "/api/v1/action-items", f.tok("community"), f.item("改了标题"),
		"Idempotency-Key", "inspect-1")
	// Redis may forget; the key kept on the item still answers.
	ctx := t.Context()
	for iter := f.rdb.Scan(ctx, 0, f.prefix+"idem:*", 100).Iterator(); iter.Next(ctx); {
		f.rdb.Del(ctx, iter.Val())
	}
	again = f.must(http.StatusOK, "POST", "/api/v1/action-items", f.tok("community"), f.item("2号楼消防通道堆放杂物"),
		"Idempotency-Key", "inspect-1")
	if actionNum(again.Body["id"]) != id {
		t.Fatalf("repeat after Redis forgot: %v", again.Body)
	}
	if got := f.inboxEvents("manager"); actionCount(got, "action_item.create") != 1 {
		t.Fatalf("manager's inbox %v", got)
	}

	it = f.act("manager", id, "claim", map[string]any{"note": "本周处理"})
	if it["state"] != "claimed" || it["claimed_by_name"] != "物业经理孙经理" {
		t.Fatalf("claimed %v", it)
	}
	photo := f.uploadPNG("worker")
	it = f.act("worker", id, "done", map[string]any{"evidence": "杂物已清运", "photo_ids": []int64{photo}})
	if it["state"] != "done" || it["evidence"] != "杂物已清运" || !reflect.DeepEqual(it["photo_ids"], []any{float64(photo)}) {
		t.Fatalf("done %v", it)
	}
	// The organiser sees the evidence photo, which is not on any order.
	r := f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/action-items/%d/photos/%d", id, photo), f.tok("community"), nil)
	if r.Header.Get("Content-Type") != "image/png" || len(r.Raw) == 0 {
		t.Fatalf("evidence photo: %s, %d bytes", r.Header.Get("Content-Type"), len(r.Raw))
	}
	f.must(http.StatusNotFound, "GET", fmt.Sprintf("/api/v1/photos/%d", photo), f.tok("community"), nil)
	f.must(http.StatusForbidden, "GET", fmt.Sprintf("/api/v1/action-items/%d/photos/%d", id, photo), f.tok("community2"), nil)

	it = f.act("community", id, "send_back", map[string]any{"reason": "东侧仍有垃圾"})
	if it["state"] != "claimed" || actionNum(it["send_backs"]) != 1 || it["done_at"] != nil {
		t.Fatalf("sent back %v", it)
	}
	if got := f.inboxEvents("worker"); actionCount(got, "action_item.send_back") != 1 {
		t.Fatalf("worker's inbox %v", got)
	}
	f.act("manager", id, "done", map[string]any{"evidence": "已全部清运"})
	it = f.act("community", id, "verify", map[string]any{"note": "复核通过"})
	if it["state"] != "verified" || it["verified_by_name"] != "社区张书记" {
		t.Fatalf("verified %v", it)
	}
	want := []string{"create", "claim", "done", "send_back", "done", "verify"}
	if got := actionHistory(it); !reflect.DeepEqual(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	h := it["history"].([]any)[3].(map[string]any)
	if h["note"] != "东侧仍有垃圾" || h["from_state"] != "done" || h["to_state"] != "claimed" || h["actor_name"] != "社区张书记" {
		t.Fatalf("send-back row %v", h)
	}
	// The ledger shows it with its history.
	page := f.must(http.StatusOK, "GET", "/api/v1/action-items?state=verified", f.tok("street"), nil).Body
	items := page["items"].([]any)
	if len(items) != 1 || len(items[0].(map[string]any)["history"].([]any)) != 6 {
		t.Fatalf("ledger %v", page)
	}
	r = f.must(http.StatusConflict, "POST", fmt.Sprintf("/api/v1/action-items/%d/claim", id), f.tok("manager"), nil)
	if d := r.Body["error"].(map[string]any)["detail"].(map[string]any); d["state"] != "verified" {
		t.Fatalf("conflict detail %v", d)
	}
}

// A meeting's resolution recorded by the community, verified by the
// meeting's organiser (the committee); an order becomes an item without
// its timeline growing.
func TestActionItemSourcesThroughTheRouter(t *testing.T) {
	f := newActionFixture(t)
	start := f.clock.Now().Add(-3 * time.Hour)
	m := model.Meeting{Kind: model.MeetingJoint, Title: "四季度物业联席会议", OrganiserID: f.userIDOf("committee"),
		OrganiserRole: model.RoleCommittee, ScopeKind: model.ScopeCompound, ScopeID: f.city.Compounds[0].ID,
		Ancestry: f.city.Compounds[0].Ancestry, State: model.MeetingMinuted, StartsAt: start, EndsAt: start.Add(time.Hour)}
	if err := f.db.Create(&m).Error; err != nil {
		t.Fatal(err)
	}
	it := f.create("community", map[string]any{"title": "更换3号门禁", "owner_kind": "firm", "owner_id": f.city.Firm.ID,
		"due_date": "2026-12-15", "source_kind": "meeting", "source_id": m.ID})
	id := actionNum(it["id"])
	if it["organiser_name"] != "业委会吴主任" || it["source_label"] != "会议「四季度物业联席会议」" || actionNum(it["compound_id"]) != f.city.Compounds[0].ID {
		t.Fatalf("from meeting %v", it)
	}
	f.act("manager", id, "claim", nil)
	f.act("manager", id, "done", map[string]any{"evidence": "门禁已更换"})
	if got := f.inboxEvents("committee"); actionCount(got, "action_item.done") != 1 {
		t.Fatalf("organiser's inbox %v", got)
	}
	f.must(http.StatusForbidden, "POST", fmt.Sprintf("/api/v1/action-items/%d/verify", id), f.tok("community"), nil)
	if it := f.act("committee", id, "verify", nil); it["state"] != "verified" {
		t.Fatalf("verify %v", it)
	}

	// An order the community cannot close alone.
	var cat model.Category
	f.db.Where("code = ?", "environment").Take(&cat)
	o := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.tok("resident"), map[string]any{
		"category_id": cat.ID, "description": "东门外占道经营，多次劝离无效", "compound_id": f.city.Compounds[0].ID,
	}).Body
	oid := actionNum(o["id"])
	before := len(f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/orders/%d", oid), f.tok("community"), nil).Body["timeline"].([]any))
	path := fmt.Sprintf("/api/v1/orders/%d/action-items", oid)
	body := map[string]any{"title": "东门外占道经营需执法队处置", "owner_kind": "department",
		"owner_id": f.city.Department.ID, "due_date": "2026-12-05"}
	it = f.must(http.StatusCreated, "POST", path, f.tok("community"), body, "Idempotency-Key", "from-order-1").Body
	if it["source_kind"] != "order" || actionNum(it["source_id"]) != oid || it["source_label"] != "工单 "+o["number"].(string) {
		t.Fatalf("from order %v", it)
	}
	if again := f.must(http.StatusCreated, "POST", path, f.tok("community"), body, "Idempotency-Key", "from-order-1").Body; actionNum(again["id"]) != actionNum(it["id"]) {
		t.Fatal("the same key made a second item")
	}
	after := len(f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/orders/%d", oid), f.tok("community"), nil).Body["timeline"].([]any))
	if after != before {
		t.Fatalf("the order's timeline went from %d to %d rows", before, after)
	}
	f.must(http.StatusForbidden, "POST", path, f.tok("community2"), body)
	f.must(http.StatusNotFound, "POST", "/api/v1/orders/99999/action-items", f.tok("community"), body)
	if it := f.act("department", actionNum(it["id"]), "claim", nil); it["claimed_by_name"] != "执法队员冯队" {
		t.Fatalf("department claims %v", it)
	}
}

func (f *actionFixture) userIDOf(name string) int64 {
	return f.city.Users[name]
}

// Another community neither sees nor claims; people outside the owner
// organisation cannot claim.
func TestActionItemScopeThroughTheRouter(t *testing.T) {
	f := newActionFixture(t)
	id := actionNum(f.create("community", f.item("路灯不亮"))["id"])
	path := fmt.Sprintf("/api/v1/action-items/%d", id)
	for _, name := range []string{"community2", "grid3", "resident"} {
		r := f.must(http.StatusForbidden, "GET", path, f.tok(name), nil)
		if r.ErrCode() != "out_of_scope" {
			t.Fatalf("%s reads: %s", name, r.Raw)
		}
		f.must(http.StatusForbidden, "POST", path+"/claim", f.tok(name), nil)
		if items := f.must(http.StatusOK, "GET", "/api/v1/action-items", f.tok(name), nil).Body["items"].([]any); len(items) != 0 {
			t.Fatalf("%s lists %d items", name, len(items))
		}
	}
	for _, name := range []string{"committee", "community", "street"} {
		r := f.must(http.StatusForbidden, "POST", path+"/claim", f.tok(name), nil)
		if r.ErrCode() != "not_owner_member" {
			t.Fatalf("%s claims: %s", name, r.Raw)
		}
	}
	f.must(http.StatusOK, "GET", path, f.tok("worker"), nil)
	if it := f.must(http.StatusOK, "GET", path, f.tok("community"), nil).Body; it["state"] != "open" || len(it["history"].([]any)) != 1 {
		t.Fatalf("refused claims changed the item: %v", it)
	}
}

// Two firm people claim at once through the router: one 200, one 409
// carrying the state the winner left.
func TestActionItemClaimRaceThroughTheRouter(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("races need MariaDB: SQLite serialises every writer on one connection")
	}
	f := newActionFixture(t)
	tokens := []string{f.tok("manager"), f.tok("worker")}
	for round := 0; round < 5; round++ {
		id := actionNum(f.create("community", f.item(fmt.Sprintf("第%d项", round)))["id"])
		var wg sync.WaitGroup
		res := make([]response, 2)
		start := make(chan struct{})
		for i, tok := range tokens {
			wg.Add(1)
			go func(i int, tok string) {
				defer wg.Done()
				<-start
				res[i] = f.do("POST", fmt.Sprintf("/api/v1/action-items/%d/claim", id), tok, nil)
			}(i, tok)
		}
		close(start)
		wg.Wait()
		codes := []int{res[0].Status, res[1].Status}
		if !(codes[0] == 200 && codes[1] == 409) && !(codes[0] == 409 && codes[1] == 200) {
			t.Fatalf("round %d: %v", round, codes)
		}
		for _, r := range res {
			if r.Status == 409 {
				if d := r.Body["error"].(map[string]any)["detail"].(map[string]any); d["state"] != "claimed" {
					t.Fatalf("loser sees %v", d)
				}
			}
		}
	}
}

// The scheduler marks an overdue item once and reports it to the
// organiser once, even when it runs twice.
func TestActionItemOverdueThroughTheRouter(t *testing.T) {
	f := newActionFixture(t)
	id := actionNum(f.create("community", f.item("绿化带缺株补植"))["id"])
	f.act("manager", id, "claim", nil)
	ctx := t.Context()
	if n, err := f.deps.Action.Tick(ctx); err != nil || n != 0 {
		t.Fatalf("early tick: %d %v", n, err)
	}
	f.clock.Set(time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC))
	f.tokens = map[string]string{} // a week on, the access tokens have expired
	for i, want := range []int{1, 0} {
		if n, err := f.deps.Action.Tick(ctx); err != nil || n != want {
			t.Fatalf("tick %d: %d %v", i, n, err)
		}
	}
	it := f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/action-items/%d", id), f.tok("community"), nil).Body
	if it["overdue"] != true || it["overdue_at"] == nil || actionCount(actionHistory(it), "overdue") != 1 {
		t.Fatalf("after ticks %v", it)
	}
	if got := f.inboxEvents("community"); actionCount(got, "action_item.overdue") != 1 {
		t.Fatalf("organiser's inbox %v", got)
	}
	if got := f.inboxEvents("manager"); actionCount(got, "action_item.overdue") != 0 {
		t.Fatalf("the overdue notice is the organiser's: %v", got)
	}
	items := f.must(http.StatusOK, "GET", "/api/v1/action-items?overdue=true", f.tok("community"), nil).Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("overdue filter: %d", len(items))
	}
}

// The export is a real .xlsx with a Chinese file name and header, one row
// per item of the actor's ledger, and refuses more rows than its cap.
func TestActionItemExportThroughTheRouter(t *testing.T) {
	f := newActionFixture(t)
	first := f.create("community", f.item("消防通道堆放杂物"))
	f.act("manager", actionNum(first["id"]), "claim", nil)
	second := f.create("community", map[string]any{"title": "公示维修资金使用情况", "owner_kind": "committee",
		"owner_id": f.city.Committee.ID, "due_date": "2026-12-20", "source_kind": "inspection", "compound_id": f.city.Compounds[0].ID})
	f.create("community2", map[string]any{"title": "别的社区", "owner_kind": "community", "owner_id": f.city.Communities[1].ID,
		"due_date": "2026-12-20", "source_kind": "inspection", "community_id": f.city.Communities[1].ID})

	r := f.must(http.StatusOK, "GET", "/api/v1/action-items/export?compound_id="+fmt.Sprint(f.city.Compounds[0].ID), f.tok("community"), nil)
	if ct := r.Header.Get("Content-Type"); ct != xlsxMime {
		t.Fatalf("content type %q", ct)
	}
	cd := r.Header.Get("Content-Disposition")
	wantName := "filename*=UTF-8''" + strings.ReplaceAll(url.PathEscape("整改台账_20261123.xlsx"), "%5F", "_")
	if !strings.HasPrefix(cd, `attachment; filename="action-items-20261123.xlsx";`) || !strings.Contains(cd, wantName) {
		t.Fatalf("content disposition %q, want %q", cd, wantName)
	}
	x, err := excelize.OpenReader(bytes.NewReader(r.Raw))
	if err != nil {
		t.Fatalf("not an xlsx: %v", err)
	}
	defer x.Close()
	cell := func(ref string) string {
		v, err := x.GetCellValue(action.SheetName, ref)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := map[string]string{
		"A1": "编号", "B1": "事项", "D1": "责任单位", "E1": "截止日期", "F1": "状态", "G1": "是否逾期", "H1": "认领人", "K1": "来源",
		"A2": second["number"].(string), "B2": "公示维修资金使用情况", "C2": "金日天玺", "D2": "金日天玺业主委员会",
		"E2": "2026-12-20", "F2": "待认领", "G2": "否", "H2": "",
		"A3": first["number"].(string), "B3": "消防通道堆放杂物", "D3": "红心物业服务有限公司", "F3": "整改中",
		"H3": "物业经理孙经理", "K3": "检查", "A4": "",
	}
	for ref, v := range want {
		if got := cell(ref); got != v {
			t.Errorf("%s = %q, want %q", ref, got, v)
		}
	}
	if w, _ := x.GetColWidth(action.SheetName, "D"); w != 26 {
		t.Errorf("column D width %v", w)
	}

	// Bad filters answer in the envelope, not with a broken file.
	r = f.must(http.StatusBadRequest, "GET", "/api/v1/action-items/export?state=closed", f.tok("community"), nil)
	if r.ErrCode() != "bad_state" {
		t.Fatalf("bad filter: %s", r.Raw)
	}
	// Over the cap: a clear 422.
	f.deps.Action = action.New(f.db, f.clock, f.deps.Message, f.deps.Photo, action.Options{ExportMaxRows: 1})
	f.router = NewRouter(f.deps)
	r = f.must(http.StatusUnprocessableEntity, "GET", "/api/v1/action-items/export", f.tok("community"), nil)
	if r.ErrCode() != "export_too_large" || !strings.Contains(r.Body["error"].(map[string]any)["message"].(string), "缩小筛选范围") {
		t.Fatalf("over the cap: %s", r.Raw)
	}
	f.must(http.StatusOK, "GET", "/api/v1/action-items/export?state=claimed", f.tok("community"), nil)
}

// Bad inputs answer 4xx with a Chinese message in the envelope and write
// nothing.
func TestActionItemBadInputsThroughTheRouter(t *testing.T) {
	f := newActionFixture(t)
	id := actionNum(f.create("community", f.item("楼道堆物"))["id"])
	with := func(k string, v any) map[string]any {
		b := f.item("楼道堆物")
		b[k] = v
		return b
	}
	item := fmt.Sprintf("/api/v1/action-items/%d", id)
	cases := []struct {
		name, method, path, who string
		body                    any
		status                  int
		code                    string
	}{
		{"no token", "GET", "/api/v1/action-items", "", nil, 401, "unauthenticated"},
		{"not JSON", "POST", "/api/v1/action-items", "community", "{title", 400, "bad_request"},
		{"unknown field", "POST", "/api/v1/action-items", "community", with("priority", 1), 400, "bad_request"},
		{"no title", "POST", "/api/v1/action-items", "community", with("title", ""), 400, "bad_title"},
		{"bad due date", "POST", "/api/v1/action-items", "community", with("due_date", "下周五"), 400, "bad_due_date"},
		{"past due date", "POST", "/api/v1/action-items", "community", with("due_date", "2026-01-01"), 400, "due_date_past"},
		{"bad owner kind", "POST", "/api/v1/action-items", "community", with("owner_kind", "school"), 400, "bad_owner_kind"},
		{"bad source", "POST", "/api/v1/action-items", "community", with("source_kind", "hotline"), 400, "bad_source_kind"},
		{"unknown owner", "POST", "/api/v1/action-items", "community", with("owner_id", 99999), 422, "owner_not_found"},
		{"long key", "POST", "/api/v1/action-items", "community", f.item("x"), 400, "bad_idempotency_key"},
		{"bad id", "GET", "/api/v1/action-items/abc", "community", nil, 400, "bad_id"},
		{"missing item", "GET", "/api/v1/action-items/99999", "community", nil, 404, "action_item_not_found"},
		{"missing claim", "POST", "/api/v1/action-items/99999/claim", "manager", nil, 404, "action_item_not_found"},
		{"field of another action", "POST", item + "/claim", "manager", map[string]any{"reason": "x"}, 400, "unexpected_field"},
		{"done without evidence", "POST", item + "/done", "manager", map[string]any{"evidence": " "}, 400, "evidence_required"},
		{"too many photos", "POST", item + "/done", "manager", map[string]any{"evidence": "好", "photo_ids": []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, 400, "too_many_photos"},
		{"send back without reason", "POST", item + "/send_back", "community", map[string]any{}, 400, "reason_required"},
		{"unknown action", "POST", item + "/reopen", "community", nil, 404, "route_not_found"},
		{"bad state filter", "GET", "/api/v1/action-items?state=closed", "community", nil, 400, "bad_state"},
		{"bad overdue filter", "GET", "/api/v1/action-items?overdue=maybe", "community", nil, 400, "bad_query"},
		{"bad date filter", "GET", "/api/v1/action-items?from=yesterday", "community", nil, 400, "bad_date"},
		{"bad id filter", "GET", "/api/v1/action-items?owner_id=-1", "community", nil, 400, "bad_query"},
		{"bad cursor", "GET", "/api/v1/action-items?cursor=!!", "community", nil, 400, "bad_cursor"},
		{"bad limit", "GET", "/api/v1/action-items?limit=1000", "community", nil, 400, "bad_limit"},
	}
	for _, c := range cases {
		tok := ""
		if c.who != "" {
			tok = f.tok(c.who)
		}
		t.Run(c.name, func(t *testing.T) {
			var headers []string
			if c.name == "long key" {
				headers = []string{"Idempotency-Key", strings.Repeat("k", 65)}
			}
			r := f.do(c.method, c.path, tok, c.body, headers...)
			if r.Status != c.status || r.ErrCode() != c.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Raw, c.status, c.code)
			}
			msg, _ := r.Body["error"].(map[string]any)["message"].(string)
			if !strings.ContainsFunc(msg, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("message %q is not Chinese", msg)
			}
		})
	}
	var n int64
	f.db.Model(&model.ActionItem{}).Count(&n)
	if n != 1 {
		t.Fatalf("%d items after refused requests", n)
	}
	if it := f.must(http.StatusOK, "GET", item, f.tok("community"), nil).Body; it["state"] != "open" || len(it["history"].([]any)) != 1 {
		t.Fatalf("refused requests changed the item: %v", it)
	}
}
