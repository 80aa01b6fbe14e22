package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"redprop/model"
	"redprop/service/wechat"
)

// A wish of the demo resident from posting to thanks, through the router:
// the community's volunteer claims and fulfils it, the community counts
// the hours; community 2's staff and volunteers see nothing of it.
func TestWishFromPostToThanksThroughTheRouter(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	com0, com2 := city.Communities[0], city.Communities[1]
	s.grant("community2", model.RoleVolunteer, model.ScopeCommunity, com2.ID, com2.Ancestry)
	resident, volunteer, community, outsider := s.login("resident"), s.login("volunteer"), s.login("community"), s.login("community2")

	pic := voteNum(s.uploadPhoto(http.StatusCreated, resident, "lamp.png", "image/png", photoPNG(t)).Body["id"])
	body := map[string]any{"household_id": city.Households[0].ID, "title": "想请人帮忙换个灯泡",
		"detail": "厨房灯泡坏了，我年纪大了够不着", "photo_ids": []int64{pic}}
	r := s.must(http.StatusCreated, "POST", "/api/v1/wishes", resident, body, "Idempotency-Key", "wish-lamp")
	id := voteNum(r.Body["id"])
	if r.Body["state"] != "open" || r.Body["household_label"] != "金日天玺1号楼1单元101" || r.Body["flagged"] != false {
		t.Fatalf("posted %s", r.Raw)
	}
	if again := s.must(http.StatusOK, "POST", "/api/v1/wishes", resident, body, "Idempotency-Key", "wish-lamp"); voteNum(again.Body["id"]) != id {
		t.Fatalf("double tap made another wish: %s", again.Raw)
	}
	path := fmt.Sprintf("/api/v1/wishes/%d", id)

	// The volunteer sees it and its photo; community 2 sees neither.
	open := s.must(http.StatusOK, "GET", "/api/v1/wishes?list=open", volunteer, nil).Body["items"].([]any)
	if len(open) != 1 || voteNum(open[0].(map[string]any)["id"]) != id {
		t.Fatalf("volunteer's open list %v", open)
	}
	photoURL := r.Body["photos"].([]any)[0].(map[string]any)["url"].(string)
	if img := s.must(http.StatusOK, "GET", photoURL, volunteer, nil); !strings.HasPrefix(img.Header.Get("Content-Type"), "image/png") {
		t.Fatalf("photo %v", img.Header)
	}
	if r := s.do("GET", photoURL, outsider, nil); r.Status != http.StatusForbidden {
		t.Fatalf("outsider reads the photo: %d", r.Status)
	}
	if r := s.do("GET", path, outsider, nil); r.Status != http.StatusForbidden || r.ErrCode() != "out_of_scope" || !chinese(r) {
		t.Fatalf("outsider reads the wish: %s", r.Raw)
	}
	if r := s.do("POST", path+"/claim", outsider, nil); r.Status != http.StatusForbidden || !chinese(r) {
		t.Fatalf("outsider claims: %s", r.Raw)
	}
	if items := s.must(http.StatusOK, "GET", "/api/v1/wishes?list=open", outsider, nil).Body["items"].([]any); len(items) != 0 {
		t.Fatalf("outsider's open list %v", items)
	}

	r = s.must(http.StatusOK, "POST", path+"/claim", volunteer, nil)
	if r.Body["state"] != "claimed" || r.Body["claimer_name"] != "志愿者郑阿姨" || r.Body["resident_phone"] == nil {
		t.Fatalf("claimed %s", r.Raw)
	}
	inbox := s.must(http.StatusOK, "GET", "/api/v1/me/messages", resident, nil).Body["items"].([]any)
	if len(inbox) != 1 || inbox[0].(map[string]any)["title"] != "您的微心愿已被认领" {
		t.Fatalf("resident's inbox %v", inbox)
	}
	done := voteNum(s.uploadPhoto(http.StatusCreated, volunteer, "done.png", "image/png", photoPNG(t)).Body["id"])
	if r := s.do("POST", path+"/fulfil", volunteer, map[string]any{"photo_ids": []int64{done}, "hours": "一个半小时"}); r.Status != 400 || r.ErrCode() != "bad_hours" || !chinese(r) {
		t.Fatalf("bad hours %s", r.Raw)
	}
	if r := s.do("POST", path+"/fulfil", volunteer, map[string]any{"hours": 1.5}); r.Status != 400 || r.ErrCode() != "photos_required" {
		t.Fatalf("no photo %s", r.Raw)
	}
	r = s.must(http.StatusOK, "POST", path+"/fulfil", volunteer, map[string]any{"photo_ids": []int64{done}, "hours": 1.5, "note": "换好了节能灯"})
	if r.Body["state"] != "fulfilled" || r.Body["hours"] != "1.50" || len(r.Body["fulfil_photos"].([]any)) != 1 {
		t.Fatalf("fulfilled %s", r.Raw)
	}
	r = s.must(http.StatusOK, "POST", path+"/thank", resident, map[string]any{"note": "谢谢郑阿姨！"})
	if r.Body["state"] != "thanked" || r.Body["thanks_note"] != "谢谢郑阿姨！" {
		t.Fatalf("thanked %s", r.Raw)
	}
	if r := s.do("POST", path+"/thank", resident, nil); r.Status != 409 || r.ErrCode() != "state_conflict" || !chinese(r) {
		t.Fatalf("thanked twice %s", r.Raw)
	}

	hours := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/wish-hours?community_id=%d&from=2026-11-23&to=2026-11-23", com0.ID), community, nil)
	items := hours.Body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["hours"] != "1.50" || items[0].(map[string]any)["name"] != "志愿者郑阿姨" ||
		hours.Body["total_hours"] != "1.50" {
		t.Fatalf("hours %s", hours.Raw)
	}
	none := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/wish-hours?community_id=%d&from=2026-11-24", com0.ID), community, nil)
	if len(none.Body["items"].([]any)) != 0 || none.Body["total_hours"] != "0.00" {
		t.Fatalf("hours of a later period %s", none.Raw)
	}
	if r := s.do("GET", fmt.Sprintf("/api/v1/wish-hours?community_id=%d", com0.ID), outsider, nil); r.Status != 403 || !chinese(r) {
		t.Fatalf("community 2 reads community 0's hours: %s", r.Raw)
	}
}

func TestWishRefusalsThroughTheRouter(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	com0 := city.Communities[0]
	s.grant("grid", model.RoleVolunteer, model.ScopeCommunity, com0.ID, com0.Ancestry)
	resident, volunteer, grid, steward := s.login("resident"), s.login("volunteer"), s.login("grid"), s.login("steward")
	h0 := city.Households[0].ID
	for _, tc := range []struct {
		name   string
		token  string
		body   any
		status int
		code   string
	}{
		{"empty title", resident, map[string]any{"household_id": h0, "title": "  "}, 400, "bad_title"},
		{"unknown field", resident, map[string]any{"household_id": h0, "title": "买菜", "reward": 5}, 400, "bad_request"},
		{"not their household", resident, map[string]any{"household_id": city.Households[1].ID, "title": "买菜"}, 403, "not_resident"},
		{"risky text", resident, map[string]any{"household_id": h0, "title": "买菜", "detail": wechat.SandboxRisky}, 422, "content_risky"},
		{"someone else's photo", steward, map[string]any{"household_id": h0, "resident_id": city.Users["resident"], "title": "买菜",
			"photo_ids": []int64{voteNum(s.uploadPhoto(http.StatusCreated, resident, "a.png", "image/png", photoPNG(t)).Body["id"])}}, 422, "photo_unavailable"},
		{"bad json", resident, `{"household_id": "一号"}`, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("POST", "/api/v1/wishes", tc.token, tc.body)
			if r.Status != tc.status || r.ErrCode() != tc.code || !chinese(r) {
				t.Errorf("%d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
		})
	}
	// The steward posts for the resident; a text for review is kept, flagged.
	r := s.must(http.StatusCreated, "POST", "/api/v1/wishes", steward, map[string]any{"household_id": h0,
		"resident_id": city.Users["resident"], "title": "陪同就医", "detail": "周三上午 " + wechat.SandboxReview})
	if r.Body["channel"] != "on_behalf" || r.Body["flagged"] != true {
		t.Fatalf("on behalf %s", r.Raw)
	}
	path := fmt.Sprintf("/api/v1/wishes/%d", voteNum(r.Body["id"]))
	if r := s.do("POST", path+"/claim", resident, nil); r.Status != 403 || !chinese(r) {
		t.Fatalf("the resident claims: %s", r.Raw)
	}
	s.must(http.StatusOK, "POST", path+"/claim", volunteer, nil)
	if r := s.do("POST", path+"/claim", grid, nil); r.Status != 409 || r.ErrCode() != "already_claimed" || !chinese(r) {
		t.Fatalf("second claim %s", r.Raw)
	}
	if r := s.do("POST", path+"/withdraw", resident, nil); r.Status != 409 || r.ErrCode() != "state_conflict" {
		t.Fatalf("withdraw a claimed wish %s", r.Raw)
	}
	if r := s.do("POST", path+"/fulfil", grid, map[string]any{"photo_ids": []int64{1}, "hours": 1}); r.Status != 403 || r.ErrCode() != "not_claimer" {
		t.Fatalf("another volunteer fulfils %s", r.Raw)
	}
	if r := s.do("POST", path+"/release", volunteer, map[string]any{"note": "临时有事"}); r.Status != 400 || r.ErrCode() != "unexpected_field" {
		t.Fatalf("release with a note %s", r.Raw)
	}
	s.must(http.StatusOK, "POST", path+"/release", volunteer, nil)
	r = s.must(http.StatusOK, "POST", path+"/withdraw", steward, nil)
	if r.Body["state"] != "withdrawn" {
		t.Fatalf("withdrawn %s", r.Raw)
	}
	for _, q := range []struct{ query, code string }{
		{"list=everything", "bad_list"}, {"list=mine&state=lost", "bad_state"}, {"list=open&state=thanked", "bad_state"},
	} {
		if r := s.do("GET", "/api/v1/wishes?"+q.query, volunteer, nil); r.Status != 400 || r.ErrCode() != q.code {
			t.Errorf("%s: %s", q.query, r.Raw)
		}
	}
	if r := s.do("GET", "/api/v1/wishes?list=open", resident, nil); r.Status != 403 || r.ErrCode() != "not_helper" {
		t.Errorf("resident's open list: %s", r.Raw)
	}
	if r := s.do("GET", "/api/v1/wish-hours", s.login("community"), nil); r.Status != 400 || r.ErrCode() != "bad_community" {
		t.Errorf("hours without a community: %s", r.Raw)
	}
	if r := s.do("GET", "/api/v1/wishes/99999", resident, nil); r.Status != 404 || !chinese(r) {
		t.Errorf("no such wish: %s", r.Raw)
	}
}
