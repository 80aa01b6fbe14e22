package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service/demo"
	"redprop/service/order"
)

// orderFixture is the router over the demo city, with a token per person.
type orderFixture struct {
	*testServer
	city   *demo.City
	tokens map[string]string
	cats   map[string]int64
}

func newOrderFixture(t *testing.T) *orderFixture {
	t.Helper()
	s := newTestServer(t)
	f := &orderFixture{testServer: s, city: s.loadDemo(), tokens: map[string]string{}, cats: map[string]int64{}}
	for _, c := range f.get("resident", "/api/v1/order-categories")["items"].([]any) {
		m := c.(map[string]any)
		f.cats[m["code"].(string)] = orderNum(m["id"])
	}
	return f
}

func (f *orderFixture) token(name string) string {
	if tok, ok := f.tokens[name]; ok {
		return tok
	}
	f.tokens[name] = f.login(name)
	return f.tokens[name]
}

func (f *orderFixture) get(name, path string) map[string]any {
	f.t.Helper()
	return f.must(http.StatusOK, "GET", path, f.token(name), nil).Body
}

// act posts an action and returns the order.
func (f *orderFixture) act(name string, id int64, action string, body any) map[string]any {
	f.t.Helper()
	return f.must(http.StatusOK, "POST", fmt.Sprintf("/api/v1/orders/%d/%s", id, action), f.token(name), body).Body
}

// upload stores a real PNG through POST /api/v1/photos.
func (f *orderFixture) upload(name string) int64 {
	f.t.Helper()
	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4)))
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "site.png")
	part.Write(img.Bytes())
	w.Close()
	r := f.must(http.StatusCreated, "POST", "/api/v1/photos", f.token(name), body.Bytes(), "Content-Type", w.FormDataContentType())
	return orderNum(r.Body["id"])
}

func orderNum(v any) int64 {
	n, _ := v.(float64)
	return int64(n)
}

// timeline returns the order's events straight from the database.
func (f *orderFixture) timeline(id int64) []model.OrderEvent {
	f.t.Helper()
	var evs []model.OrderEvent
	if err := f.db.Where("order_id = ?", id).Order("id").Find(&evs).Error; err != nil {
		f.t.Fatal(err)
	}
	return evs
}

// The whole loop, each step by the person whose job it is, through the
// router; after every step the timeline has grown by exactly one row and
// no earlier row has changed.
func TestOrderLoopThroughTheRouter(t *testing.T) {
	f := newOrderFixture(t)
	var ledger []model.OrderEvent
	var id int64
	grew := func(step string, by int) {
		t.Helper()
		now := f.timeline(id)
		if len(now) != len(ledger)+by {
			t.Fatalf("%s: timeline %d → %d rows, want +%d", step, len(ledger), len(now), by)
		}
		for i := range ledger {
			if !reflect.DeepEqual(now[i], ledger[i]) {
				t.Fatalf("%s: timeline row %d changed:\n%+v\n%+v", step, i, ledger[i], now[i])
			}
		}
		ledger = now
	}
	want := func(step string, o map[string]any, state string) {
		t.Helper()
		if o["state"] != state {
			t.Fatalf("%s: state %v, want %s", step, o["state"], state)
		}
	}

	p1 := f.upload("resident")
	r := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["environment"], "description": "楼道灯坏了，晚上看不见", "place": "1号楼2层楼道",
		"household_id": f.city.Households[0].ID, "photo_ids": []int64{p1},
	}, "Idempotency-Key", "loop-1")
	o := r.Body
	id = orderNum(o["id"])
	want("submit", o, model.StateSubmitted)
	if !strings.HasPrefix(o["number"].(string), "GD20261123") || o["light"] != "green" || o["level"] != "grid" ||
		o["resident_name"] != "居民杨阿姨" || o["household_name"] != "1号楼1单元101" || o["category_name"] != "环境卫生" {
		t.Fatalf("submitted order %v", o)
	}
	grew("submit", 1)
	// A double tap answers the same order with 200.
	again := f.must(http.StatusOK, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["environment"], "description": "楼道灯坏了，晚上看不见",
		"household_id": f.city.Households[0].ID,
	}, "Idempotency-Key", "loop-1")
	if orderNum(again.Body["id"]) != id {
		t.Fatalf("repeat submit answered %v", again.Body["id"])
	}
	grew("repeat submit", 0)

	// The grid worker finds it in their queue and verifies it.
	q := f.get("grid", "/api/v1/orders?queue=to_verify")["items"].([]any)
	if len(q) != 1 || orderNum(q[0].(map[string]any)["id"]) != id {
		t.Fatalf("to_verify %v", q)
	}
	want("verify", f.act("grid", id, "verify", map[string]any{"note": "已现场核实"}), model.StateVerified)
	grew("verify", 1)
	q = f.get("community", "/api/v1/orders?queue=to_dispatch")["items"].([]any)
	if len(q) != 1 {
		t.Fatalf("to_dispatch %v", q)
	}
	o = f.act("community", id, "dispatch", map[string]any{"handler_kind": "firm", "deadline": "2026-11-25T18:00:00+08:00"})
	want("dispatch", o, model.StateDispatched)
	if o["handler_name"] != f.city.Firm.Name || o["due_at"] != "2026-11-25T18:00:00+08:00" {
		t.Fatalf("dispatched %v", o)
	}
	grew("dispatch", 1)

	// Before accepting, the firm sees a masked name and no phone.
	o = f.get("manager", fmt.Sprintf("/api/v1/orders/%d", id))
	if o["resident_name"] != "居**" || o["resident_phone"] != nil || o["name_masked"] != true {
		t.Fatalf("firm before accepting: %v %v", o["resident_name"], o["resident_phone"])
	}
	// It may see the photo, another resident may not.
	f.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/photos/%d", p1), f.token("manager"), nil)
	f.must(http.StatusNotFound, "GET", fmt.Sprintf("/api/v1/photos/%d", p1), f.token("resident2"), nil)

	want("accept", f.act("manager", id, "accept", nil), model.StateAccepted)
	grew("accept", 1)
	o = f.get("manager", fmt.Sprintf("/api/v1/orders/%d", id))
	if o["resident_name"] != "居民杨阿姨" || o["resident_phone"] == nil {
		t.Fatalf("firm after accepting: %v %v", o["resident_name"], o["resident_phone"])
	}
	o = f.act("manager", id, "assign", map[string]any{"worker_id": f.city.Users["worker"]})
	if o["assignee_name"] != "维修工周师傅" {
		t.Fatalf("assigned %v", o)
	}
	grew("assign", 1)
	if q := f.get("worker", "/api/v1/orders?queue=assigned")["items"].([]any); len(q) != 1 {
		t.Fatalf("assigned queue %v", q)
	}
	want("start", f.act("worker", id, "start", map[string]any{}), model.StateInProgress)
	grew("start", 1)
	p2 := f.upload("worker")
	f.act("worker", id, "progress", map[string]any{"note": "已更换灯泡，等待通电测试", "photo_ids": []int64{p2}})
	grew("progress", 1)
	// Environment work needs photos to complete.
	r = f.must(http.StatusUnprocessableEntity, "POST", fmt.Sprintf("/api/v1/orders/%d/complete", id), f.token("worker"), map[string]any{})
	if r.ErrCode() != "photos_required" {
		t.Fatalf("complete without photos: %s", r.Raw)
	}
	grew("refused complete", 0)
	p3 := f.upload("worker")
	want("complete", f.act("worker", id, "complete", map[string]any{"note": "已修复", "photo_ids": []int64{p3}}), model.StateCompleted)
	grew("complete", 1)
	if q := f.get("grid", "/api/v1/orders?queue=to_confirm")["items"].([]any); len(q) != 1 {
		t.Fatalf("to_confirm %v", q)
	}
	want("confirm", f.act("grid", id, "confirm", nil), model.StateConfirmed)
	grew("confirm", 1)
	o = f.act("resident", id, "rate", map[string]any{"overall": 5, "timeliness": 5, "attitude": 4, "comment": "修得很快"})
	want("rate", o, model.StateClosed)
	if r := o["rating"].(map[string]any); orderNum(r["overall"]) != 5 || r["comment"] != "修得很快" {
		t.Fatalf("rating %v", r)
	}
	grew("rate", 1)

	// The detail: a timeline of every step with actor and role, photos,
	// and the chain of handlers.
	o = f.get("resident", fmt.Sprintf("/api/v1/orders/%d", id))
	var actions, roles []string
	for _, e := range o["timeline"].([]any) {
		ev := e.(map[string]any)
		actions = append(actions, ev["action"].(string))
		roles = append(roles, ev["role"].(string))
	}
	wantActions := []string{"submit", "verify", "dispatch", "accept", "assign", "start", "progress", "complete", "confirm", "rate"}
	wantRoles := []string{"resident", "grid_worker", "community_staff", "firm_manager", "firm_manager", "firm_worker",
		"firm_worker", "firm_worker", "grid_worker", "resident"}
	if !reflect.DeepEqual(actions, wantActions) || !reflect.DeepEqual(roles, wantRoles) {
		t.Fatalf("timeline %v by %v", actions, roles)
	}
	tl := o["timeline"].([]any)
	if ev := tl[7].(map[string]any); fmt.Sprint(ev["photo_ids"]) != fmt.Sprintf("[%d]", p3) || ev["from_state"] != "in_progress" || ev["actor_name"] != "维修工周师傅" {
		t.Fatalf("complete event %v", ev)
	}
	hs := o["handlers"].([]any)
	// The grid passed it to the community, the community to the firm, the
	// manager to the worker.
	if len(hs) != 3 || hs[0].(map[string]any)["level"] != "community" || hs[0].(map[string]any)["actor_role"] != "grid_worker" ||
		hs[1].(map[string]any)["handler_name"] != f.city.Firm.Name || hs[1].(map[string]any)["actor_role"] != "community_staff" ||
		hs[2].(map[string]any)["assignee_name"] != "维修工周师傅" {
		t.Fatalf("handlers %v", hs)
	}
	// No route edits or deletes the timeline.
	for _, m := range []string{"PUT", "PATCH", "DELETE"} {
		for _, p := range []string{"/api/v1/orders/%d", "/api/v1/orders/%d/timeline", "/api/v1/orders/%d/events/1"} {
			r := f.do(m, fmt.Sprintf(p, id), f.token("admin"), map[string]any{})
			if r.Status != http.StatusNotFound && (r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET") {
				t.Errorf("%s %s: %d (Allow %q)", m, p, r.Status, r.Header.Get("Allow"))
			}
		}
	}
	grew("the end", 0)
}

// People outside an order's scope neither see nor move it.
func TestOrderScopeLeaks(t *testing.T) {
	f := newOrderFixture(t)
	r := f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["environment"], "description": "垃圾桶满了", "compound_id": f.city.Compounds[0].ID,
	})
	id := orderNum(r.Body["id"])
	path := fmt.Sprintf("/api/v1/orders/%d", id)
	for _, who := range []string{"resident2", "grid3", "community2", "manager", "worker", "department", "volunteer", "newcomer"} {
		if r := f.do("GET", path, f.token(who), nil); r.Status != http.StatusForbidden {
			t.Errorf("%s GET: %d", who, r.Status)
		}
		for _, a := range []string{"verify", "reject", "dispatch", "accept", "cancel"} {
			if r := f.do("POST", path+"/"+a, f.token(who), map[string]any{}); r.Status != http.StatusForbidden {
				t.Errorf("%s %s: %d %s", who, a, r.Status, r.Raw)
			}
		}
		items := f.get(who, "/api/v1/orders?queue=mine")["items"].([]any)
		if len(items) != 0 {
			t.Errorf("%s's orders include another's: %v", who, items)
		}
	}
	// Queues across communities.
	if q := f.get("grid3", "/api/v1/orders?queue=to_verify")["items"].([]any); len(q) != 0 {
		t.Errorf("grid3 sees %v", q)
	}
	if q := f.get("community2", "/api/v1/orders?queue=all")["items"].([]any); len(q) != 0 {
		t.Errorf("community2 sees %v", q)
	}
	// A firm that is not the handler sees nothing of a repair for another
	// firm; a second firm's manager stays blind to this one's orders.
	rival := model.Firm{Name: "另一家物业"}
	f.db.Create(&rival)
	f.grant("newcomer", model.RoleFirmManager, model.ScopeFirm, rival.ID, model.Ancestry{CityID: f.city.CityID})
	delete(f.tokens, "newcomer")
	repair := orderNum(f.must(http.StatusCreated, "POST", "/api/v1/orders", f.token("resident"), map[string]any{
		"category_id": f.cats["repair.electrical"], "description": "插座没电", "household_id": f.city.Households[0].ID,
	}).Body["id"])
	if r := f.do("GET", fmt.Sprintf("/api/v1/orders/%d", repair), f.token("newcomer"), nil); r.Status != http.StatusForbidden {
		t.Errorf("rival firm GET: %d", r.Status)
	}
	if q := f.get("newcomer", "/api/v1/orders?queue=firm")["items"].([]any); len(q) != 0 {
		t.Errorf("rival firm queue %v", q)
	}
	if q := f.get("manager", "/api/v1/orders?queue=firm")["items"].([]any); len(q) != 1 {
		t.Errorf("firm queue %v", q)
	}
	// A resident never sees another resident's phone, even in their own list.
	for _, it := range f.get("resident2", "/api/v1/orders?queue=all")["items"].([]any) {
		t.Errorf("resident2 sees %v", it)
	}
	// Bad input is a 4xx with a Chinese message, never a 500.
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/api/v1/orders?queue=nope", nil, 400},
		{"GET", "/api/v1/orders?state=lost", nil, 400},
		{"GET", "/api/v1/orders?overdue=maybe", nil, 400},
		{"GET", "/api/v1/orders?from=yesterday", nil, 400},
		{"GET", "/api/v1/orders?queue=to_dispatch", nil, 403},
		{"GET", "/api/v1/orders/abc", nil, 400},
		{"GET", "/api/v1/orders/99999", nil, 404},
		{"POST", path + "/cancel", map[string]any{"worker_id": 3}, 400},
		{"POST", path + "/cancel", "{", 400},
		{"POST", path + "/fly", map[string]any{}, 404},
		{"POST", "/api/v1/orders", map[string]any{"category_id": 1, "extra": true}, 400},
		{"POST", "/api/v1/orders", map[string]any{"category_id": f.cats["environment"], "description": "x",
			"household_id": f.city.Households[0].ID}, 201},
		{"PATCH", fmt.Sprintf("/api/v1/order-categories/%d", f.cats["environment"]), map[string]any{"active": false}, 403},
	} {
		r := f.do(c.method, c.path, f.token("resident"), c.body)
		if r.Status != c.status {
			t.Errorf("%s %s: %d, want %d: %s", c.method, c.path, r.Status, c.status, r.Raw)
		}
		if r.Status >= 400 {
			msg, _ := r.Body["error"].(map[string]any)["message"].(string)
			if !strings.ContainsFunc(msg, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("%s %s: message %q is not Chinese", c.method, c.path, msg)
			}
		}
	}
}

func TestOrderCategoriesAPI(t *testing.T) {
	f := newOrderFixture(t)
	if len(f.cats) < 14 {
		t.Fatalf("%d categories listed", len(f.cats))
	}
	path := fmt.Sprintf("/api/v1/order-categories/%d", f.cats["repair.lift"])
	r := f.must(http.StatusOK, "PATCH", path, f.token("admin"), map[string]any{"accept_minutes": 15, "submitters": []string{"resident"}})
	if orderNum(r.Body["accept_minutes"]) != 15 || fmt.Sprint(r.Body["submitters"]) != "[resident]" || r.Body["code"] != "repair.lift" {
		t.Fatalf("patched %v", r.Body)
	}
	if r := f.do("PATCH", path, f.token("admin"), map[string]any{"code": "x"}); r.Status != 400 {
		t.Fatalf("code is not editable: %d", r.Status)
	}
	f.must(http.StatusBadRequest, "PATCH", path, f.token("admin"), map[string]any{"verify_minutes": -5})
	f.must(http.StatusOK, "PATCH", path, f.token("admin"), map[string]any{"active": false})
	all := f.get("admin", "/api/v1/order-categories?include_inactive=true")["items"].([]any)
	active := f.get("resident", "/api/v1/order-categories")["items"].([]any)
	if len(all) != len(active)+1 {
		t.Fatalf("all %d, active %d", len(all), len(active))
	}
}

// Two double taps at once answer one order; two accepts at once, one wins.
func TestOrderConcurrencyThroughTheRouter(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("races need MariaDB: SQLite serialises every writer on one connection")
	}
	f := newOrderFixture(t)
	tok := f.token("resident")
	body := map[string]any{"category_id": f.cats["repair.plumbing"], "description": "水管爆了", "household_id": f.city.Households[0].ID}
	raw, _ := json.Marshal(body)
	statuses := make([]int, 4)
	ids := make([]int64, 4)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := f.do("POST", "/api/v1/orders", tok, raw, "Idempotency-Key", "burst")
			statuses[i], ids[i] = r.Status, orderNum(r.Body["id"])
		}(i)
	}
	wg.Wait()
	created := 0
	for i, st := range statuses {
		if st == http.StatusCreated {
			created++
		} else if st != http.StatusOK {
			t.Fatalf("tap %d: %d", i, st)
		}
		if ids[i] != ids[0] {
			t.Fatalf("taps answered %v", ids)
		}
	}
	if created != 1 {
		t.Fatalf("%d taps created an order (%v)", created, statuses)
	}
	// The repair went straight to the firm: two managers accept at once.
	f.grant("newcomer", model.RoleFirmManager, model.ScopeFirm, f.city.Firm.ID, model.Ancestry{CityID: f.city.CityID})
	toks := []string{f.token("manager"), f.token("newcomer")}
	codes := make([]response, 2)
	for i := range toks {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = f.do("POST", fmt.Sprintf("/api/v1/orders/%d/accept", ids[0]), toks[i], nil)
		}(i)
	}
	wg.Wait()
	won := 0
	for _, r := range codes {
		switch r.Status {
		case http.StatusOK:
			won++
		case http.StatusConflict:
			d := r.Body["error"].(map[string]any)["detail"].(map[string]any)
			if d["state"] != model.StateAccepted {
				t.Fatalf("loser's detail %v", d)
			}
		default:
			t.Fatalf("accept: %d %s", r.Status, r.Raw)
		}
	}
	if won != 1 {
		t.Fatalf("%d accepts won", won)
	}
}

// Each action takes the body fields its `for` tag lists and refuses the
// others; the tags name real actions, and a note goes with every one.
func TestOrderActionFieldsPerAction(t *testing.T) {
	actions := order.Actions()
	typ := reflect.TypeOf(orderActionRequest{})
	for _, f := range reflect.VisibleFields(typ) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		takers, limited := f.Tag.Lookup("for")
		for _, a := range strings.Split(takers, ",") {
			if limited && !slices.Contains(actions, a) {
				t.Errorf("field %s: %q is not an action", name, a)
			}
		}
		t.Run(name, func(t *testing.T) {
			for _, a := range actions {
				var req orderActionRequest
				reflect.ValueOf(&req).Elem().FieldByIndex(f.Index).Set(reflect.New(f.Type.Elem()))
				err := req.refuseOthers(a)
				want := limited && !slices.Contains(strings.Split(takers, ","), a)
				if (err != nil) != want {
					t.Errorf("%s with %s: %v, want refused %v", a, name, err, want)
				}
				if err != nil && !strings.Contains(err.Error(), name) {
					t.Errorf("%s with %s: %v does not name the field", a, name, err)
				}
			}
		})
	}
}
