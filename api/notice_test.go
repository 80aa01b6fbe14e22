package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"redprop/model"
)

// A water cut with confirmation through the router: the community
// publishes it to a compound, the resident lists, opens and confirms it,
// the steward knocks on a door, the community reads the counts and the
// households not reached and downloads them as .xlsx, then withdraws it.
// A resident of another compound sees none of it; bad inputs are 4xx.
func TestNoticeThroughTheRouter(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	comp0 := city.Compounds[0]
	community, resident, resident2, steward := s.login("community"), s.login("resident"), s.login("resident2"), s.login("steward")
	manager := s.login("manager")

	body := map[string]any{"as": "community", "scope_kind": "compound", "scope_ids": []int64{comp0.ID},
		"title": "停水通知", "body": "12月3日 9:00–17:00 管网维修停水，请提前储水。", "push": true, "needs_confirm": true}
	r := s.must(http.StatusCreated, "POST", "/api/v1/notices", community, body, "Idempotency-Key", "water-1")
	id := voteNum(r.Body["id"])
	if r.Body["state"] != "published" || voteNum(r.Body["households"]) != 8 || r.Body["publisher_name"] != "双语社区" {
		t.Fatalf("created %s", r.Raw)
	}
	if again := s.must(http.StatusOK, "POST", "/api/v1/notices", community, body, "Idempotency-Key", "water-1"); voteNum(again.Body["id"]) != id {
		t.Fatalf("double tap made another notice: %s", again.Raw)
	}
	path := fmt.Sprintf("/api/v1/notices/%d", id)

	t.Run("bad inputs are 4xx with a Chinese message", func(t *testing.T) {
		cases := []struct {
			body   any
			status int
			code   string
		}{
			{map[string]any{"as": "community", "scope_kind": "compound", "scope_ids": []int64{comp0.ID}, "title": "", "body": "x"}, 400, "bad_title"},
			{map[string]any{"as": "community", "scope_kind": "grid", "scope_ids": []int64{1}, "title": "t", "body": "x"}, 400, "bad_scope"},
			{map[string]any{"as": "community", "scope_kind": "compound", "scope_ids": []int64{comp0.ID}, "title": "t", "body": "x", "publish_at": "tomorrow"}, 400, "bad_time"},
			{map[string]any{"as": "community", "scope_kind": "compound", "scope_ids": []int64{comp0.ID}, "title": "t", "body": "x", "publish_at": "2026-01-01T00:00:00+08:00"}, 400, "bad_publish_at"},
			{map[string]any{"as": "community", "scope_kind": "compound", "scope_ids": []int64{9999}, "title": "t", "body": "x"}, 422, "scope_not_found"},
			{map[string]any{"as": "firm", "scope_kind": "compound", "scope_ids": []int64{city.Compounds[2].ID}, "title": "t", "body": "x"}, 403, "no_contract"},
			{`{"as": "community",`, 400, ""},
		}
		for _, c := range cases {
			token := community
			if m, ok := c.body.(map[string]any); ok && m["as"] == "firm" {
				token = manager
			}
			r := s.do("POST", "/api/v1/notices", token, c.body)
			if r.Status != c.status || (c.code != "" && r.ErrCode() != c.code) || !chinese(r) {
				t.Fatalf("%v: %d %s", c.body, r.Status, r.Raw)
			}
		}
		if r := s.do("POST", path+"/withdraw", community, map[string]any{"reason": ""}); r.Status != 400 || r.ErrCode() != "bad_reason" {
			t.Fatalf("empty reason: %s", r.Raw)
		}
		if r := s.do("GET", path+"/not-reached?unit=1", community, nil); r.Status != 400 || r.ErrCode() != "bad_unit" {
			t.Fatalf("unit without building: %s", r.Raw)
		}
		if r := s.do("GET", "/api/v1/notices/abc", community, nil); r.Status != 400 {
			t.Fatalf("bad id: %s", r.Raw)
		}
	})

	t.Run("the resident lists, opens and confirms", func(t *testing.T) {
		items := s.must(http.StatusOK, "GET", "/api/v1/notices", resident, nil).Body["items"].([]any)
		if len(items) != 1 || voteNum(items[0].(map[string]any)["id"]) != id || items[0].(map[string]any)["read"] != false {
			t.Fatalf("resident's list %v", items)
		}
		r := s.must(http.StatusOK, "POST", path+"/read", resident, nil)
		rc := r.Body["receipts"].([]any)[0].(map[string]any)
		if rc["read_at"] == nil || rc["confirmed"] != false {
			t.Fatalf("after read %s", r.Raw)
		}
		r = s.must(http.StatusOK, "POST", path+"/confirm", resident, nil)
		if r.Body["receipts"].([]any)[0].(map[string]any)["confirmed"] != true {
			t.Fatalf("after confirm %s", r.Raw)
		}
		var msg model.Message
		s.db.Where("event_key = ? AND user_id = ?", fmt.Sprintf("notice:%d", id), s.userID("resident")).Take(&msg)
		if msg.ReadAt == nil {
			t.Fatal("the inbox message was not marked read")
		}
	})

	t.Run("another compound's resident sees nothing", func(t *testing.T) {
		if items := s.must(http.StatusOK, "GET", "/api/v1/notices", resident2, nil).Body["items"].([]any); len(items) != 0 {
			t.Fatalf("resident2's list %v", items)
		}
		for _, p := range []string{path, path + "/read"} {
			method := "GET"
			if strings.HasSuffix(p, "/read") {
				method = "POST"
			}
			if r := s.do(method, p, resident2, nil); r.Status != http.StatusNotFound || !chinese(r) {
				t.Fatalf("%s %s by resident2: %s", method, p, r.Raw)
			}
		}
		if r := s.do("GET", path+"/receipts", resident, nil); r.Status != http.StatusForbidden || r.ErrCode() != "not_notice_staff" {
			t.Fatalf("resident reads the counts: %s", r.Raw)
		}
	})

	t.Run("the steward knocks; counts and the not-reached list follow", func(t *testing.T) {
		h := city.Households[1] // building 1, 102: nobody registered
		r := s.must(http.StatusOK, "POST", fmt.Sprintf("%s/receipts/%d/in-person", path, h.ID), steward,
			map[string]any{"note": "已当面告知户主"})
		if r.Body["in_person_note"] != "已当面告知户主" || r.Body["reached"] != true || r.Body["building_name"] != "1号楼" {
			t.Fatalf("in person %s", r.Raw)
		}
		if r := s.do("POST", fmt.Sprintf("%s/receipts/%d/in-person", path, h.ID), steward, map[string]any{"note": "再次"}); r.Status != http.StatusConflict {
			t.Fatalf("second in-person: %s", r.Raw)
		}
		far := city.Households[4] // building 2: not the steward's
		if r := s.do("POST", fmt.Sprintf("%s/receipts/%d/in-person", path, far.ID), steward, map[string]any{"note": "告知"}); r.Status != http.StatusForbidden || r.ErrCode() != "not_steward" {
			t.Fatalf("another building's door: %s", r.Raw)
		}
		tl := s.must(http.StatusOK, "GET", path+"/receipts", community, nil)
		if voteNum(tl.Body["households"]) != 8 || voteNum(tl.Body["reached"]) != 2 || voteNum(tl.Body["confirmed"]) != 1 ||
			voteNum(tl.Body["in_person"]) != 1 || voteNum(tl.Body["not_reached"]) != 6 || len(tl.Body["buildings"].([]any)) != 2 {
			t.Fatalf("counts %s", tl.Raw)
		}
		var doors []string
		cursor := ""
		for {
			q := path + "/not-reached?limit=4"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			r := s.must(http.StatusOK, "GET", q, community, nil)
			for _, it := range r.Body["items"].([]any) {
				d := it.(map[string]any)
				doors = append(doors, fmt.Sprintf("%s-%s-%s", d["building_name"], d["unit"], d["room"]))
			}
			if cursor, _ = r.Body["next_cursor"].(string); cursor == "" {
				break
			}
		}
		want := "1号楼-1-201,1号楼-1-202,2号楼-1-101,2号楼-1-102,2号楼-1-201,2号楼-1-202"
		if strings.Join(doors, ",") != want {
			t.Fatalf("not reached %v, want %s", doors, want)
		}
		// The steward sees their building only.
		items := s.must(http.StatusOK, "GET", path+"/not-reached", steward, nil).Body["items"].([]any)
		if len(items) != 2 {
			t.Fatalf("steward's list %v", items)
		}
		detail := s.must(http.StatusOK, "GET", fmt.Sprintf("%s/receipts/%d", path, city.Households[0].ID), community, nil)
		if len(detail.Body["pushes"].([]any)) != 1 {
			t.Fatalf("receipt detail %s", detail.Raw)
		}
	})

	t.Run("the export opens with excelize", func(t *testing.T) {
		r := s.must(http.StatusOK, "GET", path+"/not-reached.xlsx", community, nil)
		if !strings.Contains(r.Header.Get("Content-Disposition"), "filename*=UTF-8''") {
			t.Fatalf("disposition %q", r.Header.Get("Content-Disposition"))
		}
		f, err := excelize.OpenReader(bytes.NewReader(r.Raw))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := f.GetRows("未触达住户")
		if err != nil || len(rows) != 7 || rows[1][0] != "1号楼" || rows[1][2] != "201" {
			t.Fatalf("rows %v (%v)", rows, err)
		}
	})

	t.Run("withdraw keeps it as withdrawn", func(t *testing.T) {
		if r := s.do("POST", path+"/withdraw", resident, map[string]any{"reason": "不想看"}); r.Status != http.StatusForbidden {
			t.Fatalf("resident withdraws: %s", r.Raw)
		}
		r := s.must(http.StatusOK, "POST", path+"/withdraw", community, map[string]any{"reason": "维修改期"})
		if r.Body["state"] != "withdrawn" || r.Body["withdraw_reason"] != "维修改期" {
			t.Fatalf("withdrawn %s", r.Raw)
		}
		if r := s.do("POST", path+"/withdraw", community, map[string]any{"reason": "再撤"}); r.Status != http.StatusConflict {
			t.Fatalf("withdrawn twice: %s", r.Raw)
		}
		if items := s.must(http.StatusOK, "GET", "/api/v1/notices", resident, nil).Body["items"].([]any); len(items) != 0 {
			t.Fatalf("withdrawn notice listed %v", items)
		}
		if got := s.must(http.StatusOK, "GET", path, resident, nil); got.Body["state"] != "withdrawn" {
			t.Fatalf("resident's view %s", got.Raw)
		}
		mine := s.must(http.StatusOK, "GET", "/api/v1/notices?list=mine", community, nil).Body["items"].([]any)
		if len(mine) != 1 {
			t.Fatalf("author's list %v", mine)
		}
		grid := s.login("grid")
		if staff := s.must(http.StatusOK, "GET", "/api/v1/notices?list=staff", grid, nil).Body["items"].([]any); len(staff) != 1 ||
			staff[0].(map[string]any)["state"] != "withdrawn" {
			t.Fatalf("grid worker's list %v", staff)
		}
		if r := s.do("GET", "/api/v1/notices?list=all", grid, nil); r.Status != 400 || r.ErrCode() != "bad_list" {
			t.Fatalf("unknown list: %s", r.Raw)
		}
	})
}
