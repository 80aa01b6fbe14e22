package wish

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/photo"
	"redprop/service/servicetest"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// env is the wish service over the shared harness's demo city, the
// sandbox messages service, real photo storage and the harness's fake
// clock.
type env struct {
	*servicetest.City
	photos *photo.Service
	svc    *Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t)
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := photo.NewLocalStorage(t.TempDir())
	return &env{City: c, photos: photo.New(c.DB, store, c.Clock, 1<<20, 0), svc: New(c.DB, c.Clock, msgs, store)}
}

// upload stores a real 2×2 PNG of the user through the photo service.
func (e *env) upload(name string) int64 {
	e.T.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		e.T.Fatal(err)
	}
	p, err := e.photos.Upload(e.Ctx, e.Actor(name), "a.png", "image/png", buf.Bytes())
	if err != nil {
		e.T.Fatal(err)
	}
	return p.ID
}

func (e *env) post(name string, mod ...func(*PostInput)) View {
	e.T.Helper()
	in := PostInput{HouseholdID: e.Households[0].ID, Title: "想请人帮忙换个灯泡", Detail: "厨房灯泡坏了，我够不着"}
	for _, m := range mod {
		m(&in)
	}
	v, created, err := e.svc.Post(e.Ctx, e.Actor(name), in)
	if err != nil || !created {
		e.T.Fatalf("post by %s: %v (created %v)", name, err, created)
	}
	return v
}

func (e *env) act(name string, id int64, action string, in Input) View {
	e.T.Helper()
	v, err := e.svc.Act(e.Ctx, e.Actor(name), id, action, in)
	if err != nil {
		e.T.Fatalf("%s by %s: %v", action, name, err)
	}
	return v
}

// messages returns the events told to a user, oldest first.
func (e *env) messages(name string) []string {
	e.T.Helper()
	var evs []string
	if err := e.DB.Model(&model.Message{}).Where("user_id = ?", e.Users[name]).Order("id").Pluck("event", &evs).Error; err != nil {
		e.T.Fatal(err)
	}
	return evs
}

func TestWishFromPostToThanks(t *testing.T) {
	e := newEnv(t)
	var w, v View
	var mine int64
	var err error
	e.Step(t, "a resident posts; the community's volunteers see it", func(t *testing.T) {
		mine = e.upload("resident")
		w = e.post("resident", func(in *PostInput) { in.PhotoIDs = []int64{mine} })
		if w.Wish.State != model.WishOpen || w.Wish.Channel != "self" || w.Wish.ResidentID != e.Users["resident"] ||
			w.HouseholdLabel != "金日天玺1号楼1单元101" || w.Wish.Flagged {
			t.Fatalf("posted %+v", w)
		}
		// The community's volunteer sees it among the open wishes.
		list, err := e.svc.List(e.Ctx, e.Actor("volunteer"), Filter{List: ListOpen}, service.Page{Limit: 10})
		if err != nil || len(list.Items) != 1 || list.Items[0].Wish.ID != w.Wish.ID {
			t.Fatalf("open list %+v %v", list.Items, err)
		}
		// And the resident's photo, which the photo service keeps to its uploader.
		_, rc, err := e.svc.Photo(e.Ctx, e.Actor("volunteer"), w.Wish.ID, mine)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	})

	e.Step(t, "a volunteer claims it and sees the phone", func(t *testing.T) {
		v = e.act("volunteer", w.Wish.ID, ActClaim, Input{})
		if v.Wish.State != model.WishClaimed || v.Wish.ClaimerID != e.Users["volunteer"] || v.Wish.ClaimerRole != model.RoleVolunteer ||
			v.ClaimerName != "志愿者郑阿姨" || v.ResidentPhone == "" {
			t.Fatalf("claimed %+v", v)
		}
	})

	e.Step(t, "only the claimer fulfils, with their photo and the hours", func(t *testing.T) {
		// Only the claimer fulfils, with a photo and the hours.
		_, err = e.svc.Act(e.Ctx, e.Actor("resident"), w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{e.upload("resident")}, Hours: "1"})
		servicetest.WantCode(t, err, "not_claimer")
		_, err = e.svc.Act(e.Ctx, e.Actor("volunteer"), w.Wish.ID, ActFulfil, Input{Hours: "1.5"})
		servicetest.WantCode(t, err, "photos_required")
		_, err = e.svc.Act(e.Ctx, e.Actor("volunteer"), w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{mine}, Hours: "1.5"})
		servicetest.WantCode(t, err, "photo_unavailable") // someone else's photo
		done := e.upload("volunteer")
		e.Clock.Advance(2 * time.Hour)
		v = e.act("volunteer", w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{done}, Hours: "1.5", Note: "已更换为节能灯"})
		if v.Wish.State != model.WishFulfilled || v.Wish.HoursCenti != 150 || v.Wish.FulfilledAt == nil || len(v.Wish.FulfilPhotos) != 1 {
			t.Fatalf("fulfilled %+v", v.Wish)
		}
		// The resident sees the proof.
		p, rc, err := e.svc.Photo(e.Ctx, e.Actor("resident"), w.Wish.ID, done)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(raw)) != p.Size || p.ID != done {
			t.Fatalf("photo %d bytes of %d", len(raw), p.Size)
		}
		// A second fulfilment is a state conflict.
		_, err = e.svc.Act(e.Ctx, e.Actor("volunteer"), w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{done}, Hours: "1"})
		servicetest.WantCode(t, err, "state_conflict")
	})

	e.Step(t, "the resident thanks; each is told their part", func(t *testing.T) {
		v = e.act("resident", w.Wish.ID, ActThank, Input{Note: "谢谢郑阿姨！"})
		if v.Wish.State != model.WishThanked || v.Wish.ThankedBy != e.Users["resident"] || v.Wish.ThanksNote != "谢谢郑阿姨！" {
			t.Fatalf("thanked %+v", v.Wish)
		}
		if got := fmt.Sprint(e.messages("resident")); got != "[wish.claim wish.fulfil]" {
			t.Fatalf("resident told %s", got)
		}
		if got := fmt.Sprint(e.messages("volunteer")); got != "[wish.thank]" {
			t.Fatalf("volunteer told %s", got)
		}
	})

	e.Step(t, "the community's records count the hours", func(t *testing.T) {
		// The community's records: hours per volunteer.
		h, err := e.svc.Hours(e.Ctx, e.Actor("community"), HoursFilter{CommunityID: e.Communities[0].ID}, service.Page{Limit: 10})
		if err != nil || len(h.Items) != 1 || h.Items[0].UserID != e.Users["volunteer"] || h.Items[0].HoursCenti != 150 ||
			h.Items[0].Wishes != 1 || h.Items[0].Name != "志愿者郑阿姨" || h.TotalHoursCenti != 150 ||
			h.Items[0].ConfirmedCenti != 150 || h.TotalConfirmed != 150 {
			t.Fatalf("hours %+v %v", h, err)
		}
		_, err = e.svc.Hours(e.Ctx, e.Actor("community2"), HoursFilter{CommunityID: e.Communities[0].ID}, service.Page{Limit: 10})
		servicetest.WantCode(t, err, "out_of_scope")
		_, err = e.svc.Hours(e.Ctx, e.Actor("volunteer"), HoursFilter{CommunityID: e.Communities[0].ID}, service.Page{Limit: 10})
		servicetest.WantCode(t, err, "out_of_scope")
	})
}

func TestWishStewardPostsAndThanksForAResident(t *testing.T) {
	e := newEnv(t)
	resident := e.Users["resident"]
	var w View
	var err error
	e.Step(t, "a steward posts for a resident of their building", func(t *testing.T) {
		w = e.post("steward", func(in *PostInput) { in.ResidentID = resident })
		if w.Wish.Channel != "on_behalf" || w.Wish.AuthorID != e.Users["steward"] || w.Wish.ResidentID != resident {
			t.Fatalf("posted %+v", w.Wish)
		}
		// The resident sees it among their own.
		list, err := e.svc.List(e.Ctx, e.Actor("resident"), Filter{}, service.Page{Limit: 10})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("mine %d %v", len(list.Items), err)
		}
	})

	e.Step(t, "not for another building, another grid or the wrong household", func(t *testing.T) {
		// Not for someone of another building, nor by a grid worker of another grid.
		_, _, err = e.svc.Post(e.Ctx, e.Actor("steward"), PostInput{HouseholdID: e.Households[16].ID,
			ResidentID: e.Users["resident2"], Title: "买菜"})
		servicetest.WantCode(t, err, "not_on_behalf")
		_, _, err = e.svc.Post(e.Ctx, e.Actor("grid3"), PostInput{HouseholdID: e.Households[0].ID, ResidentID: resident, Title: "买菜"})
		servicetest.WantCode(t, err, "not_on_behalf")
		_, _, err = e.svc.Post(e.Ctx, e.Actor("steward"), PostInput{HouseholdID: e.Households[1].ID, ResidentID: resident, Title: "买菜"})
		servicetest.WantCode(t, err, "not_resident_there")
		_, _, err = e.svc.Post(e.Ctx, e.Actor("resident2"), PostInput{HouseholdID: e.Households[0].ID, Title: "买菜"})
		servicetest.WantCode(t, err, "not_resident")
	})

	e.Step(t, "both the resident and the steward are told; the steward thanks", func(t *testing.T) {
		e.act("volunteer", w.Wish.ID, ActClaim, Input{})
		e.act("volunteer", w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{e.upload("volunteer")}, Hours: "0.5"})
		// Both the resident and the steward who posted are told.
		for _, name := range []string{"resident", "steward"} {
			if got := fmt.Sprint(e.messages(name)); got != "[wish.claim wish.fulfil]" {
				t.Fatalf("%s told %s", name, got)
			}
		}
		_, err = e.svc.Act(e.Ctx, e.Actor("grid3"), w.Wish.ID, ActThank, Input{})
		servicetest.WantCode(t, err, "out_of_scope")
		v := e.act("steward", w.Wish.ID, ActThank, Input{})
		if v.Wish.State != model.WishThanked || v.Wish.ThankedBy != e.Users["steward"] {
			t.Fatalf("thanked %+v", v.Wish)
		}
	})
}

// Community 2's staff and volunteers neither see nor claim community 0's
// wishes; the resident cannot claim their own.
func TestWishScope(t *testing.T) {
	e := newEnv(t)
	com2 := e.Communities[1]
	e.Grant("community2", model.RoleVolunteer, model.ScopeCommunity, com2.ID, com2.Ancestry)
	// A party branch of compound 0 covers it; one of compound 1 does not.
	e.Grant("committee", model.RolePartyBranch, model.ScopeCompound, e.Compounds[1].ID, e.Compounds[1].Ancestry)
	w := e.post("resident")

	var err error
	var list service.Paged[View]
	e.Step(t, "another community and a branch elsewhere neither see nor claim", func(t *testing.T) {
		_, err = e.svc.Get(e.Ctx, e.Actor("community2"), w.Wish.ID)
		servicetest.WantCode(t, err, "out_of_scope")
		_, err = e.svc.Act(e.Ctx, e.Actor("community2"), w.Wish.ID, ActClaim, Input{})
		servicetest.WantCode(t, err, "out_of_scope")
		_, err = e.svc.Act(e.Ctx, e.Actor("committee"), w.Wish.ID, ActClaim, Input{})
		servicetest.WantCode(t, err, "out_of_scope")
		list, err = e.svc.List(e.Ctx, e.Actor("community2"), Filter{List: ListOpen}, service.Page{Limit: 10})
		if err != nil || len(list.Items) != 0 {
			t.Fatalf("community2 open list %d %v", len(list.Items), err)
		}
		list, err = e.svc.List(e.Ctx, e.Actor("community2"), Filter{List: ListAll}, service.Page{Limit: 10})
		if err != nil || len(list.Items) != 0 {
			t.Fatalf("community2 all list %d %v", len(list.Items), err)
		}
	})

	e.Step(t, "lists follow the grants", func(t *testing.T) {
		list, err = e.svc.List(e.Ctx, e.Actor("community"), Filter{List: ListAll}, service.Page{Limit: 10})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("community all list %d %v", len(list.Items), err)
		}
		_, err = e.svc.List(e.Ctx, e.Actor("resident"), Filter{List: ListOpen}, service.Page{Limit: 10})
		servicetest.WantCode(t, err, "not_helper")
		_, err = e.svc.List(e.Ctx, e.Actor("volunteer"), Filter{List: ListAll}, service.Page{Limit: 10})
		servicetest.WantCode(t, err, "not_staff")
	})

	e.Step(t, "no one claims their own wish, nor without a helper's grant", func(t *testing.T) {
		// A resident who is also a volunteer cannot claim their own wish.
		e.Grant("resident", model.RoleVolunteer, model.ScopeCommunity, e.Communities[0].ID, e.Communities[0].Ancestry)
		_, err = e.svc.Act(e.Ctx, e.Actor("resident"), w.Wish.ID, ActClaim, Input{})
		servicetest.WantCode(t, err, "own_wish")
		// A staff member who is not a volunteer cannot claim.
		_, err = e.svc.Act(e.Ctx, e.Actor("community"), w.Wish.ID, ActClaim, Input{})
		servicetest.WantCode(t, err, "not_helper")
	})
}

func TestWishWithdrawReleaseAndStates(t *testing.T) {
	e := newEnv(t)
	e.Grant("grid", model.RolePartyBranch, model.ScopeCompound, e.Compounds[0].ID, e.Compounds[0].Ancestry)
	w := e.post("resident")
	var err error
	var v View
	e.Step(t, "one claimer at a time; a claimed wish is not withdrawn", func(t *testing.T) {
		_, err = e.svc.Act(e.Ctx, e.Actor("volunteer"), w.Wish.ID, ActWithdraw, Input{})
		servicetest.WantCode(t, err, "not_wish_owner")
		e.act("volunteer", w.Wish.ID, ActClaim, Input{})
		_, err = e.svc.Act(e.Ctx, e.Actor("grid"), w.Wish.ID, ActClaim, Input{})
		servicetest.WantCode(t, err, "already_claimed")
		_, err = e.svc.Act(e.Ctx, e.Actor("resident"), w.Wish.ID, ActWithdraw, Input{})
		servicetest.WantCode(t, err, "state_conflict")
		_, err = e.svc.Act(e.Ctx, e.Actor("grid"), w.Wish.ID, ActRelease, Input{})
		servicetest.WantCode(t, err, "not_claimer")
	})

	e.Step(t, "released, it is claimed again, each claim told", func(t *testing.T) {
		v = e.act("volunteer", w.Wish.ID, ActRelease, Input{})
		if v.Wish.State != model.WishOpen || v.Wish.ClaimerID != 0 {
			t.Fatalf("released %+v", v.Wish)
		}
		// The party member takes it over; their role is kept.
		v = e.act("grid", w.Wish.ID, ActClaim, Input{})
		if v.Wish.ClaimerRole != model.RolePartyBranch {
			t.Fatalf("claimer role %s", v.Wish.ClaimerRole)
		}
		// Both claims were told: each carries its own version in its key.
		if got := fmt.Sprint(e.messages("resident")); got != "[wish.claim wish.claim]" {
			t.Fatalf("resident told %s", got)
		}
	})

	e.Step(t, "the author withdraws an open wish; then nothing more", func(t *testing.T) {
		e.act("grid", w.Wish.ID, ActRelease, Input{})
		v = e.act("resident", w.Wish.ID, ActWithdraw, Input{})
		if v.Wish.State != model.WishWithdrawn || v.Wish.WithdrawnAt == nil {
			t.Fatalf("withdrawn %+v", v.Wish)
		}
		_, err = e.svc.Act(e.Ctx, e.Actor("volunteer"), w.Wish.ID, ActClaim, Input{})
		servicetest.WantCode(t, err, "state_conflict")
		_, err = e.svc.Act(e.Ctx, e.Actor("volunteer"), w.Wish.ID, "dance", Input{})
		servicetest.WantCode(t, err, "bad_action")
		_, err = e.svc.Act(e.Ctx, e.Actor("volunteer"), w.Wish.ID, ActClaim, Input{Note: "我来"})
		servicetest.WantCode(t, err, "unexpected_field")
		_, err = e.svc.Act(e.Ctx, e.Actor("volunteer"), 999999, ActClaim, Input{})
		servicetest.WantCode(t, err, "wish_not_found")
	})
}

func TestWishTextCheckAndInput(t *testing.T) {
	e := newEnv(t)
	e.Step(t, "risky text is refused, text for review flagged", func(t *testing.T) {
		_, _, err := e.svc.Post(e.Ctx, e.Actor("resident"), PostInput{HouseholdID: e.Households[0].ID,
			Title: "帮忙", Detail: "内容 " + wechat.SandboxRisky})
		servicetest.WantCode(t, err, "content_risky")
		var n int64
		e.DB.Model(&model.Wish{}).Count(&n)
		if n != 0 {
			t.Fatal("a risky wish was stored")
		}
		w := e.post("resident", func(in *PostInput) { in.Detail = "请人陪我去医院 " + wechat.SandboxReview })
		if !w.Wish.Flagged {
			t.Fatal("a wish for review is not flagged")
		}
		var check model.ContentCheck
		if err := e.DB.Where("subject = ?", fmt.Sprintf("wish:%d", w.Wish.ID)).Take(&check).Error; err != nil || check.State != model.CheckReview {
			t.Fatalf("content check %+v %v", check, err)
		}
	})

	e.Step(t, "bad input", func(t *testing.T) {
		for _, bad := range []PostInput{
			{HouseholdID: e.Households[0].ID, Title: ""},
			{HouseholdID: e.Households[0].ID, Title: "这是一个超过三十个字的心愿标题这是一个超过三十个字的心愿标题啊"},
			{HouseholdID: 0, Title: "帮忙"},
			{HouseholdID: e.Households[0].ID, Title: "帮忙", PhotoIDs: []int64{1, 1}},
			{HouseholdID: e.Households[0].ID, Title: "帮忙", IdemKey: "有空格 的键"},
		} {
			if _, _, err := e.svc.Post(e.Ctx, e.Actor("resident"), bad); service.KindOf(err) != service.KindInvalid {
				t.Errorf("%+v: %v", bad, err)
			}
		}
	})

	e.Step(t, "a double tap with one Idempotency-Key returns the first wish", func(t *testing.T) {
		// Idempotency-Key: a double tap returns the first wish.
		in := PostInput{HouseholdID: e.Households[0].ID, Title: "修自行车", IdemKey: "wish-1"}
		first, created, err := e.svc.Post(e.Ctx, e.Actor("resident"), in)
		if err != nil || !created {
			t.Fatal(err)
		}
		again, created, err := e.svc.Post(e.Ctx, e.Actor("resident"), in)
		if err != nil || created || again.Wish.ID != first.Wish.ID {
			t.Fatalf("repeat %d created %v %v", again.Wish.ID, created, err)
		}
	})

	e.Step(t, "hours are read exactly", func(t *testing.T) {
		for _, h := range []string{"0", "48.01", "1.234", "abc", "-1", "", "100"} {
			if _, err := ParseHours(h); err == nil {
				t.Errorf("hours %q accepted", h)
			}
		}
		for h, want := range map[string]int64{"1.5": 150, "0.25": 25, "48": 4800, "2.05": 205} {
			if got, err := ParseHours(h); err != nil || got != want {
				t.Errorf("hours %q = %d %v", h, got, err)
			}
		}
		if FormatHours(205) != "2.05" || FormatHours(5) != "0.05" {
			t.Error("FormatHours")
		}
	})
}

func TestWishHoursPerVolunteerByPeriod(t *testing.T) {
	e := newEnv(t)
	com := e.Communities[0]
	e.Grant("grid", model.RoleVolunteer, model.ScopeCommunity, com.ID, com.Ancestry)
	start := e.Clock.Now()
	fulfil := func(name, hours string, at time.Time) {
		e.Clock.Set(at)
		w := e.post("resident")
		e.act(name, w.Wish.ID, ActClaim, Input{})
		e.act(name, w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{e.upload(name)}, Hours: hours})
	}
	fulfil("volunteer", "2", start)
	fulfil("volunteer", "1.25", start.Add(24*time.Hour))
	fulfil("grid", "3", start.Add(48*time.Hour))
	// Claimed but not fulfilled: no hours.
	w := e.post("resident")
	e.act("volunteer", w.Wish.ID, ActClaim, Input{})

	hours := func(from, to time.Time, p service.Page) HoursPage {
		e.T.Helper()
		h, err := e.svc.Hours(e.Ctx, e.Actor("community"), HoursFilter{CommunityID: com.ID, From: from, To: to}, p)
		if err != nil {
			e.T.Fatal(err)
		}
		return h
	}
	e.Step(t, "every reported hour, none confirmed yet", func(t *testing.T) {
		all := hours(time.Time{}, time.Time{}, service.Page{Limit: 10})
		byUser := map[int64]VolunteerHours{}
		for _, h := range all.Items {
			byUser[h.UserID] = h
		}
		if v := byUser[e.Users["volunteer"]]; v.HoursCenti != 325 || v.Wishes != 2 {
			t.Fatalf("volunteer %+v", v)
		}
		if g := byUser[e.Users["grid"]]; g.HoursCenti != 300 || g.Wishes != 1 {
			t.Fatalf("grid %+v", g)
		}
		if all.TotalHoursCenti != 625 || all.TotalWishes != 3 {
			t.Fatalf("totals %d h %d wishes", all.TotalHoursCenti, all.TotalWishes)
		}
		// Nobody has thanked yet: every hour is the volunteers' own report.
		if all.TotalConfirmed != 0 || byUser[e.Users["volunteer"]].ConfirmedCenti != 0 {
			t.Fatalf("confirmed before any thanks: %+v", all)
		}
	})

	e.Step(t, "a period", func(t *testing.T) {
		// The first day only.
		day := hours(start, start.Add(24*time.Hour), service.Page{Limit: 10})
		if len(day.Items) != 1 || day.Items[0].HoursCenti != 200 || day.TotalWishes != 1 {
			t.Fatalf("first day %+v", day)
		}
	})

	e.Step(t, "one volunteer a page", func(t *testing.T) {
		// Paged one volunteer at a time.
		p1 := hours(time.Time{}, time.Time{}, service.Page{Limit: 1})
		p2 := hours(time.Time{}, time.Time{}, service.Page{Limit: 1, After: p1.Items[0].UserID})
		if !p1.More || p2.More || len(p2.Items) != 1 || p1.Items[0].UserID == p2.Items[0].UserID {
			t.Fatalf("pages %+v / %+v", p1, p2)
		}
		_, err := e.svc.Hours(e.Ctx, e.Actor("community"), HoursFilter{CommunityID: com.ID, From: start, To: start}, service.Page{Limit: 10})
		servicetest.WantCode(t, err, "bad_period")
	})
}

// Volunteers press "claim" at the same moment: one wins, the others get
// 409, and exactly one claimer is stored. MariaDB only: the SQLite test
// database has a single connection and no row locks.
func TestWishConcurrentClaims(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB: the SQLite test database has a single connection")
	}
	e := newEnv(t)
	com := e.Communities[0]
	names := []string{"volunteer", "grid", "duty", "steward"}
	for _, n := range names[1:] {
		e.Grant(n, model.RoleVolunteer, model.ScopeCommunity, com.ID, com.Ancestry)
	}
	actors := make([]*service.Actor, len(names))
	for i, n := range names {
		actors[i] = e.Actor(n)
	}
	for round := 0; round < 10; round++ {
		w := e.post("resident")
		var wg sync.WaitGroup
		errs := make([]error, len(actors))
		start := make(chan struct{})
		for i, a := range actors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = e.svc.Act(e.Ctx, a, w.Wish.ID, ActClaim, Input{})
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			default:
				servicetest.WantCode(t, err, "already_claimed")
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d claims won", round, won)
		}
		var got model.Wish
		if err := e.DB.Take(&got, w.Wish.ID).Error; err != nil || got.ClaimerID == 0 || got.Version != 2 {
			t.Fatalf("round %d: stored %+v %v", round, got, err)
		}
		var told int64
		e.DB.Model(&model.Message{}).Where("event = ? AND user_id = ?", "wish.claim", e.Users["resident"]).Count(&told)
		if told != int64(round+1) {
			t.Fatalf("round %d: resident told %d times", round, told)
		}
	}
}

// A wish stored while WeChat could not check it is checked later; found
// risky, it is flagged and leaves the volunteers' list.
func TestLateRiskyVerdictWithdrawsAnOpenWish(t *testing.T) {
	e := newEnv(t)
	chk := &wechattest.LateChecker{}
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	msgs, err := message.New(e.DB, e.Clock, chk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = New(e.DB, e.Clock, msgs, photo.NewLocalStorage(t.TempDir()))
	recheck := message.NewRecheck(msgs, map[string]message.LateVerdict{"wish": e.svc.ApplyLateVerdict})
	w := e.post("resident")
	if w.Wish.Flagged || w.Wish.State != model.WishOpen {
		t.Fatalf("stored %+v", w.Wish)
	}
	chk.Verdict = "risky"
	e.Clock.Advance(time.Hour)
	if n, err := recheck.RecheckOnce(e.Ctx); err != nil || n != 1 {
		t.Fatalf("recheck: %d %v", n, err)
	}
	var got model.Wish
	if err := e.DB.Take(&got, w.Wish.ID).Error; err != nil {
		t.Fatal(err)
	}
	if !got.Flagged || got.State != model.WishWithdrawn {
		t.Fatalf("after a risky verdict: flagged %v, state %s", got.Flagged, got.State)
	}
}
