package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/demo"
	"redprop/service/meeting"
	"redprop/service/message"
)

// newTestMeetings is the meetings service of newTestServer, with the
// default reminders (24 h and 2 h before).
func newTestMeetings(t *testing.T, db *gorm.DB, rdb redis.UniversalClient, prefix string, clock service.Clock, msgs *message.Service) *meeting.Service {
	t.Helper()
	svc, err := meeting.New(db, rdb, clock, msgs, meeting.Options{RedisPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// bj is a Beijing wall-clock time days after the test clock's day.
func (s *testServer) bj(days, hour, minute int) time.Time {
	d := s.clock.Now().In(calendar.Beijing)
	return time.Date(d.Year(), d.Month(), d.Day()+days, hour, minute, 0, 0, calendar.Beijing)
}

// jointMeeting is the demo joint meeting the community's staff calls: the
// committee of compound 0, the firm's managers, the stewards of grid 0
// and the resident, Wednesday 14:30–16:00.
func (s *testServer) jointMeeting(c *demo.City) map[string]any {
	return map[string]any{
		"kind": "joint", "title": "金日天玺红色物业联席会议", "scope_kind": "community", "scope_id": c.Communities[0].ID,
		"starts_at": s.bj(2, 14, 30).Format(time.RFC3339), "ends_at": s.bj(2, 16, 0).Format(time.RFC3339),
		"place": "双语社区党群服务中心二楼会议室", "online_url": "https://meeting.example.cn/j/123456",
		"agenda": []map[string]any{
			{"title": "通报本月工单办理情况", "presenter": "社区张书记", "minutes": 15},
			{"title": "地下车库漏水整改方案", "presenter": "物业孙经理"},
		},
		"attachments": []map[string]any{{"name": "车库漏水情况说明", "url": "https://docs.example.cn/garage.pdf"}},
		"user_ids":    []int64{c.Users["resident"]},
		"groups": []map[string]any{
			{"kind": "compound_committee", "target_id": c.Compounds[0].ID},
			{"kind": "firm_managers", "target_id": c.Firm.ID},
			{"kind": "grid_stewards", "target_id": c.Grids[0].ID},
		},
	}
}

func meetingPath(id any, rest ...string) string {
	return fmt.Sprintf("/api/v1/meetings/%v", id) + strings.Join(rest, "")
}

// inbox returns the events of the user's inbox messages, newest first.
func (s *testServer) inboxEvents(token string) []string {
	s.t.Helper()
	r := s.must(200, "GET", "/api/v1/me/messages?limit=100", token, nil)
	var out []string
	for _, it := range r.Body["items"].([]any) {
		out = append(out, it.(map[string]any)["event"].(string))
	}
	return out
}

func TestMeetingLifecycleAPI(t *testing.T) {
	s := newTestServer(t)
	c := s.loadDemo()
	community, resident, manager, steward, admin := s.login("community"), s.login("resident"), s.login("manager"), s.login("steward"), s.login("admin")
	committee := s.login("committee")

	// Draft, with a repeat of the same double tap.
	r := s.must(201, "POST", "/api/v1/meetings", community, s.jointMeeting(c), "Idempotency-Key", "joint-2026-11")
	id := r.Body["id"]
	if r.Body["state"] != "draft" || r.Body["organiser_role"] != "community_staff" || r.Body["scope_name"] != "双语社区" ||
		len(r.Body["agenda"].([]any)) != 2 || len(r.Body["groups"].([]any)) != 3 || r.Body["manager"] != true {
		t.Fatalf("draft %s", r.Raw)
	}
	again := s.do("POST", "/api/v1/meetings", community, s.jointMeeting(c), "Idempotency-Key", "joint-2026-11")
	if again.Body["id"] != id {
		t.Fatalf("repeat created another meeting: %s", again.Raw)
	}
	s.must(404, "GET", meetingPath(id), resident, nil) // drafts are nobody else's business

	// Sent: everyone is told once.
	r = s.must(200, "POST", meetingPath(id, "/schedule"), community, nil)
	counts := r.Body["counts"].(map[string]any)
	if r.Body["state"] != "scheduled" || counts["invited"] != float64(4) || counts["pending"] != float64(4) {
		t.Fatalf("scheduled %s", r.Raw)
	}
	if ev := s.inboxEvents(resident); len(ev) != 1 || ev[0] != meeting.EventScheduled {
		t.Fatalf("resident's inbox %v", ev)
	}
	var rows []model.Outbox
	s.db.Where("user_id = ?", c.Users["resident"]).Order("id").Find(&rows)
	if len(rows) != 3 || rows[0].Event != meeting.EventScheduled || rows[0].Kind != message.KindMeeting ||
		rows[1].Event != meeting.EventReminder || !rows[1].InboxPending {
		t.Fatalf("resident's outbox %+v", rows)
	}
	if _, err := s.deps.Message.DeliverOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = s.must(200, "GET", fmt.Sprintf("/api/v1/admin/pushes?user_id=%d", c.Users["resident"]), admin, nil)
	pushes := r.Body["items"].([]any)
	if len(pushes) != 1 {
		t.Fatalf("pushes %s", r.Raw)
	}
	push := pushes[0].(map[string]any)
	data := push["data"].(map[string]any)
	if push["kind"] != "meeting" || push["page"] != fmt.Sprintf("pages/meeting/detail?id=%v", id) ||
		data["thing1"] != "金日天玺红色物业联席会议" || data["thing4"] != "请回复是否参加" {
		t.Fatalf("push %v", push)
	}

	// The resident sees it in their list with their answer, without the counts.
	r = s.must(200, "GET", "/api/v1/meetings", resident, nil)
	items := r.Body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["me"].(map[string]any)["rsvp"] != "pending" {
		t.Fatalf("invited list %s", r.Raw)
	}
	r = s.must(200, "GET", meetingPath(id), resident, nil)
	if r.Body["counts"] != nil || r.Body["groups"] != nil || r.Body["manager"] != false {
		t.Fatalf("resident's view %s", r.Raw)
	}
	s.must(200, "PUT", meetingPath(id, "/rsvp"), resident, map[string]any{"answer": "attending"})
	r = s.must(200, "PUT", meetingPath(id, "/rsvp"), manager, map[string]any{"answer": "declined", "reason": "市里培训，由副经理代为参加"})
	if r.Body["rsvp"] != "declined" {
		t.Fatalf("decline %s", r.Raw)
	}
	r = s.must(200, "GET", meetingPath(id), community, nil)
	counts = r.Body["counts"].(map[string]any)
	if counts["attending"] != float64(1) || counts["declined"] != float64(1) || counts["pending"] != float64(2) {
		t.Fatalf("counts %v", counts)
	}
	r = s.must(200, "GET", meetingPath(id, "/participants?rsvp=declined"), community, nil)
	ps := r.Body["items"].([]any)
	if len(ps) != 1 || ps[0].(map[string]any)["name"] != "物业经理孙经理" || ps[0].(map[string]any)["group_name"] != "红心物业服务有限公司物业经理" {
		t.Fatalf("declined %s", r.Raw)
	}

	// Moved by an hour: a change notice, and reminders re-armed.
	r = s.must(200, "PATCH", meetingPath(id), community, map[string]any{
		"starts_at": s.bj(2, 15, 30).Format(time.RFC3339), "ends_at": s.bj(2, 17, 0).Format(time.RFC3339)})
	if r.Body["version"] != float64(2) || r.Body["starts_at"] != s.bj(2, 15, 30).Format(time.RFC3339) {
		t.Fatalf("changed %s", r.Raw)
	}
	if ev := s.inboxEvents(resident); len(ev) != 2 || ev[0] != meeting.EventChanged {
		t.Fatalf("resident's inbox %v", ev)
	}
	var pending, cancelled int64
	s.db.Model(&model.Outbox{}).Where("event = ? AND state = ?", meeting.EventReminder, model.OutboxPending).Count(&pending)
	s.db.Model(&model.Outbox{}).Where("event = ? AND state = ?", meeting.EventReminder, model.OutboxCancelled).Count(&cancelled)
	if pending != 8 || cancelled != 8 {
		t.Fatalf("reminders: %d pending, %d cancelled", pending, cancelled)
	}

	// Held: sign-in with the code at the venue, or by the organiser.
	s.clock.Set(s.bj(2, 15, 0))
	community, resident, steward = s.login("community"), s.login("resident"), s.login("steward") // tokens last 15 minutes
	r = s.must(200, "POST", meetingPath(id, "/hold"), community, nil)
	code, _ := r.Body["sign_in_code"].(string)
	if r.Body["state"] != "held" || len(code) != 6 {
		t.Fatalf("held %s", r.Raw)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "999999"
	}
	r = s.must(422, "POST", meetingPath(id, "/sign-in"), resident, map[string]any{"code": wrong})
	if r.ErrCode() != "wrong_code" {
		t.Fatalf("wrong code %s", r.Raw)
	}
	r = s.must(200, "POST", meetingPath(id, "/sign-in"), resident, map[string]any{"code": code})
	if r.Body["signed_in_at"] == nil || r.Body["signed_in_by"] != float64(c.Users["resident"]) {
		t.Fatalf("sign in %s", r.Raw)
	}
	s.must(200, "POST", meetingPath(id, fmt.Sprintf("/participants/%d/sign-in", c.Users["steward"])), community, nil)
	r = s.must(200, "GET", meetingPath(id, "/participants?signed_in=true"), community, nil)
	if n := len(r.Body["items"].([]any)); n != 2 {
		t.Fatalf("signed in: %s", r.Raw)
	}
	if r := s.must(200, "GET", meetingPath(id), steward, nil); r.Body["sign_in_code"] != nil {
		t.Fatalf("a participant sees the code: %s", r.Raw)
	}

	// Minutes, then a correction: both kept.
	s.clock.Set(s.bj(2, 17, 30))
	community, resident, committee = s.login("community"), s.login("resident"), s.login("committee")
	r = s.must(201, "POST", meetingPath(id, "/minutes"), community, map[string]any{
		"text":        "一、车库漏水由物业于 12 月 5 日前完成整改；二、业委会负责监督。",
		"attachments": []map[string]any{{"name": "签到表", "url": "https://docs.example.cn/sign.pdf"}}})
	if r.Body["version"] != float64(1) {
		t.Fatalf("minutes %s", r.Raw)
	}
	r = s.must(400, "POST", meetingPath(id, "/minutes"), community, map[string]any{"text": "改过的纪要"})
	if r.ErrCode() != "correction_required" {
		t.Fatalf("edit %s", r.Raw)
	}
	s.must(201, "POST", meetingPath(id, "/minutes"), community, map[string]any{
		"text": "一、车库漏水由物业于 12 月 8 日前完成整改；二、业委会负责监督。", "correction": "整改期限更正为 12 月 8 日"})
	r = s.must(200, "GET", meetingPath(id, "/minutes"), committee, nil)
	mins := r.Body["items"].([]any)
	if len(mins) != 2 || !strings.Contains(mins[0].(map[string]any)["text"].(string), "12 月 5 日") ||
		mins[1].(map[string]any)["correction"] != "整改期限更正为 12 月 8 日" {
		t.Fatalf("minutes %s", r.Raw)
	}
	if ev := s.inboxEvents(resident); ev[0] != meeting.EventMinutes || ev[1] != meeting.EventMinutes {
		t.Fatalf("resident's inbox %v", ev)
	}
	r = s.must(200, "POST", meetingPath(id, "/close"), community, nil)
	if r.Body["state"] != "closed" || r.Body["minutes_versions"] != float64(2) {
		t.Fatalf("closed %s", r.Raw)
	}
	r = s.must(200, "GET", "/api/v1/meetings?queue=organised&state=closed", community, nil)
	if n := len(r.Body["items"].([]any)); n != 1 {
		t.Fatalf("organised %s", r.Raw)
	}
}

func TestMeetingCancelAPI(t *testing.T) {
	s := newTestServer(t)
	c := s.loadDemo()
	community, resident := s.login("community"), s.login("resident")
	r := s.must(201, "POST", "/api/v1/meetings", community, s.jointMeeting(c))
	id := r.Body["id"]
	s.must(200, "POST", meetingPath(id, "/schedule"), community, nil)
	r = s.must(200, "POST", meetingPath(id, "/cancel"), community, map[string]any{"reason": "台风预警，改期另行通知"})
	if r.Body["state"] != "cancelled" || r.Body["cancel_reason"] != "台风预警，改期另行通知" {
		t.Fatalf("cancelled %s", r.Raw)
	}
	var reminders []model.Outbox
	s.db.Where("event = ?", meeting.EventReminder).Find(&reminders)
	if len(reminders) != 8 {
		t.Fatalf("%d reminders", len(reminders))
	}
	for _, o := range reminders {
		if o.State != model.OutboxCancelled {
			t.Fatalf("reminder %d is %s", o.ID, o.State)
		}
	}
	// After the meeting's time the worker sends no reminder.
	s.clock.Set(s.bj(3, 9, 0))
	for {
		st, err := s.deps.Message.DeliverOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Claimed == 0 {
			break
		}
	}
	community, resident = s.login("community"), s.login("resident")
	var reminded int64
	s.db.Model(&model.SandboxPush{}).Where("event = ?", meeting.EventReminder).Count(&reminded)
	if reminded != 0 {
		t.Fatalf("%d reminders of a cancelled meeting pushed", reminded)
	}
	if ev := s.inboxEvents(resident); len(ev) != 2 || ev[0] != meeting.EventCancelled {
		t.Fatalf("resident's inbox %v", ev)
	}
	r = s.must(409, "POST", meetingPath(id, "/hold"), community, nil)
	if r.ErrCode() != "state_conflict" {
		t.Fatalf("hold a cancelled meeting: %s", r.Raw)
	}
}

func TestMeetingScopeAPI(t *testing.T) {
	s := newTestServer(t)
	c := s.loadDemo()
	community, community2, resident, resident2 := s.login("community"), s.login("community2"), s.login("resident"), s.login("resident2")
	r := s.must(201, "POST", "/api/v1/meetings", community, s.jointMeeting(c))
	id := r.Body["id"]
	s.must(200, "POST", meetingPath(id, "/schedule"), community, nil)
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", meetingPath(id), nil},
		{"PATCH", meetingPath(id), map[string]any{"title": "改名"}},
		{"POST", meetingPath(id, "/cancel"), nil},
		{"GET", meetingPath(id, "/participants"), nil},
		{"POST", meetingPath(id, "/participants"), map[string]any{"user_ids": []int64{c.Users["resident2"]}}},
		{"GET", meetingPath(id, "/minutes"), nil},
	} {
		r := s.do(tc.method, tc.path, community2, tc.body)
		if r.Status != 404 || r.ErrCode() != "meeting_not_found" {
			t.Errorf("community2 %s %s: %d %s", tc.method, tc.path, r.Status, r.Raw)
		}
	}
	s.must(404, "GET", meetingPath(id), resident2, nil)
	r = s.must(403, "PATCH", meetingPath(id), resident, map[string]any{"title": "改名"})
	if r.ErrCode() != "not_organiser" {
		t.Fatalf("participant's edit %s", r.Raw)
	}
	// community2 may not call a meeting of community 1.
	r = s.must(403, "POST", "/api/v1/meetings", community2, s.jointMeeting(c))
	if r.ErrCode() != "out_of_scope" {
		t.Fatalf("out of scope %s", r.Raw)
	}
	r = s.must(200, "GET", "/api/v1/meetings?queue=scope", community2, nil)
	if n := len(r.Body["items"].([]any)); n != 0 {
		t.Fatalf("community2's scope %s", r.Raw)
	}
	r = s.must(200, "GET", "/api/v1/meetings?queue=organised", community, nil)
	if n := len(r.Body["items"].([]any)); n != 1 {
		t.Fatalf("organised %s", r.Raw)
	}
}

func TestMeetingBadInputAPI(t *testing.T) {
	s := newTestServer(t)
	c := s.loadDemo()
	community, resident := s.login("community"), s.login("resident")
	with := func(edit func(m map[string]any)) map[string]any {
		m := s.jointMeeting(c)
		edit(m)
		return m
	}
	past := s.clock.Now().Add(-time.Hour)
	r := s.must(201, "POST", "/api/v1/meetings", community, s.jointMeeting(c))
	id := r.Body["id"]
	s.must(200, "POST", meetingPath(id, "/schedule"), community, nil)
	cases := []struct {
		name, method, path, token string
		body                      any
		headers                   []string
		status                    int
		code                      string
	}{
		{"broken JSON", "POST", "/api/v1/meetings", community, `{"kind":`, nil, 400, "bad_request"},
		{"unknown field", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["colour"] = "red" }), nil, 400, "bad_request"},
		{"unknown kind", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["kind"] = "party" }), nil, 400, "bad_kind"},
		{"no title", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["title"] = "  " }), nil, 400, "bad_title"},
		{"bad time", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["starts_at"] = "2026-11-25 14:30" }), nil, 400, "bad_time"},
		{"ends first", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["ends_at"] = s.bj(2, 14, 0).Format(time.RFC3339) }), nil, 400, "bad_time"},
		{"in the past", "POST", "/api/v1/meetings", community, with(func(m map[string]any) {
			m["starts_at"], m["ends_at"] = past.Format(time.RFC3339), past.Add(time.Hour).Format(time.RFC3339)
		}), nil, 422, "time_passed"},
		{"nowhere", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["place"], m["online_url"] = "", "" }), nil, 400, "place_required"},
		{"bad link", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["online_url"] = "javascript:alert(1)" }), nil, 400, "bad_online_url"},
		{"bad scope", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["scope_kind"] = "grid" }), nil, 400, "bad_scope"},
		{"missing scope", "POST", "/api/v1/meetings", community, with(func(m map[string]any) { m["scope_id"] = 999999 }), nil, 422, "scope_not_found"},
		{"bad group", "POST", "/api/v1/meetings", community, with(func(m map[string]any) {
			m["groups"] = []map[string]any{{"kind": "everyone", "target_id": 1}}
		}), nil, 400, "bad_group_kind"},
		{"twice the same person", "POST", "/api/v1/meetings", community, with(func(m map[string]any) {
			m["user_ids"] = []int64{c.Users["resident"], c.Users["resident"]}
		}), nil, 400, "bad_participants"},
		{"empty agenda item", "POST", "/api/v1/meetings", community, with(func(m map[string]any) {
			m["agenda"] = []map[string]any{{"title": ""}}
		}), nil, 400, "bad_agenda"},
		{"attachment with both", "POST", "/api/v1/meetings", community, with(func(m map[string]any) {
			m["attachments"] = []map[string]any{{"name": "x", "photo_id": 1, "url": "https://a.cn/x"}}
		}), nil, 400, "bad_attachments"},
		{"bad Idempotency-Key", "POST", "/api/v1/meetings", community, s.jointMeeting(c), []string{"Idempotency-Key", "键"}, 400, "bad_idempotency_key"},
		{"bad id", "GET", "/api/v1/meetings/abc", community, nil, nil, 400, "bad_id"},
		{"bad queue", "GET", "/api/v1/meetings?queue=all", community, nil, nil, 400, "bad_queue"},
		{"bad state", "GET", "/api/v1/meetings?state=done", community, nil, nil, 400, "bad_state"},
		{"bad rsvp filter", "GET", meetingPath(id, "/participants?rsvp=maybe"), community, nil, nil, 400, "bad_rsvp"},
		{"bad signed_in", "GET", meetingPath(id, "/participants?signed_in=yes"), community, nil, nil, 400, "bad_query"},
		{"empty patch", "PATCH", meetingPath(id), community, map[string]any{}, nil, 400, "empty_patch"},
		{"bad answer", "PUT", meetingPath(id, "/rsvp"), resident, map[string]any{"answer": "maybe"}, nil, 400, "bad_answer"},
		{"decline without reason", "PUT", meetingPath(id, "/rsvp"), resident, map[string]any{"answer": "declined"}, nil, 400, "bad_reason"},
		{"code of letters", "POST", meetingPath(id, "/sign-in"), resident, map[string]any{"code": "abcdef"}, nil, 400, "bad_code"},
		{"code before the meeting", "POST", meetingPath(id, "/sign-in"), resident, map[string]any{"code": "123456"}, nil, 422, "code_expired"},
		{"minutes before the meeting", "POST", meetingPath(id, "/minutes"), community, map[string]any{"text": "纪要"}, nil, 422, "minutes_not_allowed"},
		{"empty minutes", "POST", meetingPath(id, "/minutes"), community, map[string]any{"text": ""}, nil, 400, "bad_minutes"},
		{"long cancel reason", "POST", meetingPath(id, "/cancel"), community, map[string]any{"reason": strings.Repeat("因", 201)}, nil, 400, "bad_reason"},
		{"schedule twice", "POST", meetingPath(id, "/schedule"), community, nil, nil, 409, "state_conflict"},
		{"remove after sending", "DELETE", meetingPath(id, fmt.Sprintf("/participants/%d", c.Users["resident"])), community, nil, nil, 409, "not_draft"},
		{"no such meeting", "GET", "/api/v1/meetings/999999", community, nil, nil, 404, "meeting_not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tc.token, tc.body, tc.headers...)
			if r.Status != tc.status || r.ErrCode() != tc.code {
				t.Fatalf("%d %s, want %d %s", r.Status, r.Raw, tc.status, tc.code)
			}
			msg, _ := r.Body["error"].(map[string]any)["message"].(string)
			if !strings.ContainsFunc(msg, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
				t.Errorf("message %q is not Chinese", msg)
			}
		})
	}
	// Nothing of it changed the meeting.
	r = s.must(200, "GET", meetingPath(id), community, nil)
	if r.Body["state"] != "scheduled" || r.Body["version"] != float64(1) || r.Body["counts"].(map[string]any)["invited"] != float64(4) {
		t.Fatalf("meeting after refused requests %s", r.Raw)
	}
}

// A photo attached to a meeting reaches its participants through the
// meeting, and nobody else: not through the meeting, not by its id.
func TestMeetingPhotoReachesParticipantsOnly(t *testing.T) {
	s := newTestServer(t)
	c := s.loadDemo()
	com, res, res2 := s.login("community"), s.login("resident"), s.login("resident2")
	pic := s.uploadPhoto(http.StatusCreated, com, "garage.jpg", "image/jpeg", photoJPEG(t, 20<<10))
	picID := peopleNum(pic.Body["id"])
	stray := peopleNum(s.uploadPhoto(http.StatusCreated, com, "other.jpg", "image/jpeg", photoJPEG(t, 20<<10)).Body["id"])
	body := s.jointMeeting(c)
	body["attachments"] = []map[string]any{{"name": "车库漏水照片", "photo_id": picID}}
	id := s.must(http.StatusCreated, "POST", "/api/v1/meetings", com, body).Body["id"]
	path := meetingPath(id, fmt.Sprintf("/photos/%d", picID))
	// A draft is not shown to its invitees yet.
	s.must(http.StatusNotFound, "GET", path, res, nil)
	s.must(http.StatusOK, "POST", meetingPath(id, "/schedule"), com, nil)
	r := s.must(http.StatusOK, "GET", path, res, nil)
	if r.Header.Get("Content-Type") != "image/jpeg" || len(r.Raw) == 0 {
		t.Fatalf("photo answer %v, %d bytes", r.Header, len(r.Raw))
	}
	s.must(http.StatusNotFound, "GET", path, res2, nil)
	s.must(http.StatusNotFound, "GET", fmt.Sprintf("/api/v1/photos/%d", picID), res, nil)
	// Another photo of the organiser is not the meeting's to give.
	s.must(http.StatusNotFound, "GET", meetingPath(id, fmt.Sprintf("/photos/%d", stray)), res, nil)
}
