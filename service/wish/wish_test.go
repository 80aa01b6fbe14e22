package wish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/demo"
	"redprop/service/message"
	"redprop/service/photo"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// env is the wish service over the demo city, the sandbox messages
// service, real photo storage and a fake clock (Monday 2026-11-23, 10:00
// Beijing).
type env struct {
	t      *testing.T
	ctx    context.Context
	db     *gorm.DB
	clock  *service.FakeClock
	photos *photo.Service
	svc    *Service
	city   *demo.City
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db := dbtest.Open(t)
	clock := service.NewFakeClock(time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC))
	city, err := demo.Load(ctx, db, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	msgs, err := message.New(db, clock, wechat.NewSandbox(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := photo.NewLocalStorage(t.TempDir())
	return &env{t: t, ctx: ctx, db: db, clock: clock, photos: photo.New(db, store, clock, 1<<20),
		svc: New(db, clock, msgs, store), city: city}
}

func (e *env) actor(name string) *service.Actor {
	e.t.Helper()
	id, ok := e.city.Users[name]
	if !ok {
		e.t.Fatalf("no demo user %q", name)
	}
	a := &service.Actor{UserID: id}
	if err := e.db.Where("user_id = ? AND revoked_at IS NULL", id).Find(&a.Grants).Error; err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) grant(name, role, kind string, scopeID int64, anc model.Ancestry) {
	e.t.Helper()
	g := model.Grant{UserID: e.city.Users[name], Role: role, ScopeKind: kind, ScopeID: scopeID, Ancestry: anc}
	if err := e.db.Create(&g).Error; err != nil {
		e.t.Fatal(err)
	}
}

// upload stores a real 2×2 PNG of the user through the photo service.
func (e *env) upload(name string) int64 {
	e.t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		e.t.Fatal(err)
	}
	p, err := e.photos.Upload(e.ctx, e.actor(name), "a.png", "image/png", buf.Bytes())
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

func (e *env) post(name string, mod ...func(*PostInput)) View {
	e.t.Helper()
	in := PostInput{HouseholdID: e.city.Households[0].ID, Title: "想请人帮忙换个灯泡", Detail: "厨房灯泡坏了，我够不着"}
	for _, m := range mod {
		m(&in)
	}
	v, created, err := e.svc.Post(e.ctx, e.actor(name), in)
	if err != nil || !created {
		e.t.Fatalf("post by %s: %v (created %v)", name, err, created)
	}
	return v
}

func (e *env) act(name string, id int64, action string, in Input) View {
	e.t.Helper()
	v, err := e.svc.Act(e.ctx, e.actor(name), id, action, in)
	if err != nil {
		e.t.Fatalf("%s by %s: %v", action, name, err)
	}
	return v
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var se *service.Error
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// messages returns the events told to a user, oldest first.
func (e *env) messages(name string) []string {
	e.t.Helper()
	var evs []string
	if err := e.db.Model(&model.Message{}).Where("user_id = ?", e.city.Users[name]).Order("id").Pluck("event", &evs).Error; err != nil {
		e.t.Fatal(err)
	}
	return evs
}

func TestWishFromPostToThanks(t *testing.T) {
	e := newEnv(t)
	mine := e.upload("resident")
	w := e.post("resident", func(in *PostInput) { in.PhotoIDs = []int64{mine} })
	if w.Wish.State != model.WishOpen || w.Wish.Channel != "self" || w.Wish.ResidentID != e.city.Users["resident"] ||
		w.HouseholdLabel != "金日天玺1号楼1单元101" || w.Wish.Flagged {
		t.Fatalf("posted %+v", w)
	}
	// The community's volunteer sees it among the open wishes.
	list, err := e.svc.List(e.ctx, e.actor("volunteer"), Filter{List: ListOpen}, service.Page{Limit: 10})
	if err != nil || len(list.Items) != 1 || list.Items[0].Wish.ID != w.Wish.ID {
		t.Fatalf("open list %+v %v", list.Items, err)
	}
	// And the resident's photo, which the photo service keeps to its uploader.
	_, rc, err := e.svc.Photo(e.ctx, e.actor("volunteer"), w.Wish.ID, mine)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()

	v := e.act("volunteer", w.Wish.ID, ActClaim, Input{})
	if v.Wish.State != model.WishClaimed || v.Wish.ClaimerID != e.city.Users["volunteer"] || v.Wish.ClaimerRole != model.RoleVolunteer ||
		v.ClaimerName != "志愿者郑阿姨" || v.ResidentPhone == "" {
		t.Fatalf("claimed %+v", v)
	}
	// Only the claimer fulfils, with a photo and the hours.
	_, err = e.svc.Act(e.ctx, e.actor("resident"), w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{e.upload("resident")}, Hours: "1"})
	wantCode(t, err, "not_claimer")
	_, err = e.svc.Act(e.ctx, e.actor("volunteer"), w.Wish.ID, ActFulfil, Input{Hours: "1.5"})
	wantCode(t, err, "photos_required")
	_, err = e.svc.Act(e.ctx, e.actor("volunteer"), w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{mine}, Hours: "1.5"})
	wantCode(t, err, "photo_unavailable") // someone else's photo
	done := e.upload("volunteer")
	e.clock.Advance(2 * time.Hour)
	v = e.act("volunteer", w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{done}, Hours: "1.5", Note: "已更换为节能灯"})
	if v.Wish.State != model.WishFulfilled || v.Wish.HoursCenti != 150 || v.Wish.FulfilledAt == nil || len(v.Wish.FulfilPhotos) != 1 {
		t.Fatalf("fulfilled %+v", v.Wish)
	}
	// The resident sees the proof.
	p, rc, err := e.svc.Photo(e.ctx, e.actor("resident"), w.Wish.ID, done)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rc)
	rc.Close()
	if int64(len(raw)) != p.Size || p.ID != done {
		t.Fatalf("photo %d bytes of %d", len(raw), p.Size)
	}
	// A second fulfilment is a state conflict.
	_, err = e.svc.Act(e.ctx, e.actor("volunteer"), w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{done}, Hours: "1"})
	wantCode(t, err, "state_conflict")

	v = e.act("resident", w.Wish.ID, ActThank, Input{Note: "谢谢郑阿姨！"})
	if v.Wish.State != model.WishThanked || v.Wish.ThankedBy != e.city.Users["resident"] || v.Wish.ThanksNote != "谢谢郑阿姨！" {
		t.Fatalf("thanked %+v", v.Wish)
	}
	if got := fmt.Sprint(e.messages("resident")); got != "[wish.claim wish.fulfil]" {
		t.Fatalf("resident told %s", got)
	}
	if got := fmt.Sprint(e.messages("volunteer")); got != "[wish.thank]" {
		t.Fatalf("volunteer told %s", got)
	}

	// The community's records: hours per volunteer.
	h, err := e.svc.Hours(e.ctx, e.actor("community"), HoursFilter{CommunityID: e.city.Communities[0].ID}, service.Page{Limit: 10})
	if err != nil || len(h.Items) != 1 || h.Items[0].UserID != e.city.Users["volunteer"] || h.Items[0].HoursCenti != 150 ||
		h.Items[0].Wishes != 1 || h.Items[0].Name != "志愿者郑阿姨" || h.TotalHoursCenti != 150 ||
		h.Items[0].ConfirmedCenti != 150 || h.TotalConfirmed != 150 {
		t.Fatalf("hours %+v %v", h, err)
	}
	_, err = e.svc.Hours(e.ctx, e.actor("community2"), HoursFilter{CommunityID: e.city.Communities[0].ID}, service.Page{Limit: 10})
	wantCode(t, err, "out_of_scope")
	_, err = e.svc.Hours(e.ctx, e.actor("volunteer"), HoursFilter{CommunityID: e.city.Communities[0].ID}, service.Page{Limit: 10})
	wantCode(t, err, "out_of_scope")
}

func TestWishStewardPostsAndThanksForAResident(t *testing.T) {
	e := newEnv(t)
	resident := e.city.Users["resident"]
	w := e.post("steward", func(in *PostInput) { in.ResidentID = resident })
	if w.Wish.Channel != "on_behalf" || w.Wish.AuthorID != e.city.Users["steward"] || w.Wish.ResidentID != resident {
		t.Fatalf("posted %+v", w.Wish)
	}
	// The resident sees it among their own.
	list, err := e.svc.List(e.ctx, e.actor("resident"), Filter{}, service.Page{Limit: 10})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("mine %d %v", len(list.Items), err)
	}
	// Not for someone of another building, nor by a grid worker of another grid.
	_, _, err = e.svc.Post(e.ctx, e.actor("steward"), PostInput{HouseholdID: e.city.Households[16].ID,
		ResidentID: e.city.Users["resident2"], Title: "买菜"})
	wantCode(t, err, "not_on_behalf")
	_, _, err = e.svc.Post(e.ctx, e.actor("grid3"), PostInput{HouseholdID: e.city.Households[0].ID, ResidentID: resident, Title: "买菜"})
	wantCode(t, err, "not_on_behalf")
	_, _, err = e.svc.Post(e.ctx, e.actor("steward"), PostInput{HouseholdID: e.city.Households[1].ID, ResidentID: resident, Title: "买菜"})
	wantCode(t, err, "not_resident_there")
	_, _, err = e.svc.Post(e.ctx, e.actor("resident2"), PostInput{HouseholdID: e.city.Households[0].ID, Title: "买菜"})
	wantCode(t, err, "not_resident")

	e.act("volunteer", w.Wish.ID, ActClaim, Input{})
	e.act("volunteer", w.Wish.ID, ActFulfil, Input{PhotoIDs: []int64{e.upload("volunteer")}, Hours: "0.5"})
	// Both the resident and the steward who posted are told.
	for _, name := range []string{"resident", "steward"} {
		if got := fmt.Sprint(e.messages(name)); got != "[wish.claim wish.fulfil]" {
			t.Fatalf("%s told %s", name, got)
		}
	}
	_, err = e.svc.Act(e.ctx, e.actor("grid3"), w.Wish.ID, ActThank, Input{})
	wantCode(t, err, "out_of_scope")
	v := e.act("steward", w.Wish.ID, ActThank, Input{})
	if v.Wish.State != model.WishThanked || v.Wish.ThankedBy != e.city.Users["steward"] {
		t.Fatalf("thanked %+v", v.Wish)
	}
}

// Community 2's staff and volunteers neither see nor claim community 0's
// wishes; the resident cannot claim their own.
func TestWishScope(t *testing.T) {
	e := newEnv(t)
	com2 := e.city.Communities[1]
	e.grant("community2", model.RoleVolunteer, model.ScopeCommunity, com2.ID, com2.Ancestry)
	// A party branch of compound 0 covers it; one of compound 1 does not.
	e.grant("committee", model.RolePartyBranch, model.ScopeCompound, e.city.Compounds[1].ID, e.city.Compounds[1].Ancestry)
	w := e.post("resident")

	_, err := e.svc.Get(e.ctx, e.actor("community2"), w.Wish.ID)
	wantCode(t, err, "out_of_scope")
	_, err = e.svc.Act(e.ctx, e.actor("community2"), w.Wish.ID, ActClaim, Input{})
	wantCode(t, err, "out_of_scope")
	_, err = e.svc.Act(e.ctx, e.actor("committee"), w.Wish.ID, ActClaim, Input{})
	wantCode(t, err, "out_of_scope")
	list, err := e.svc.List(e.ctx, e.actor("community2"), Filter{List: ListOpen}, service.Page{Limit: 10})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("community2 open list %d %v", len(list.Items), err)
	}
	list, err = e.svc.List(e.ctx, e.actor("community2"), Filter{List: ListAll}, service.Page{Limit: 10})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("community2 all list %d %v", len(list.Items), err)
	}
	list, err = e.svc.List(e.ctx, e.actor("community"), Filter{List: ListAll}, service.Page{Limit: 10})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("community all list %d %v", len(list.Items), err)
	}
	_, err = e.svc.List(e.ctx, e.actor("resident"), Filter{List: ListOpen}, service.Page{Limit: 10})
	wantCode(t, err, "not_helper")
	_, err = e.svc.List(e.ctx, e.actor("volunteer"), Filter{List: ListAll}, service.Page{Limit: 10})
	wantCode(t, err, "not_staff")

	// A resident who is also a volunteer cannot claim their own wish.
	e.grant("resident", model.RoleVolunteer, model.ScopeCommunity, e.city.Communities[0].ID, e.city.Communities[0].Ancestry)
	_, err = e.svc.Act(e.ctx, e.actor("resident"), w.Wish.ID, ActClaim, Input{})
	wantCode(t, err, "own_wish")
	// A staff member who is not a volunteer cannot claim.
	_, err = e.svc.Act(e.ctx, e.actor("community"), w.Wish.ID, ActClaim, Input{})
	wantCode(t, err, "not_helper")
}

func TestWishWithdrawReleaseAndStates(t *testing.T) {
	e := newEnv(t)
	e.grant("grid", model.RolePartyBranch, model.ScopeCompound, e.city.Compounds[0].ID, e.city.Compounds[0].Ancestry)
	w := e.post("resident")
	_, err := e.svc.Act(e.ctx, e.actor("volunteer"), w.Wish.ID, ActWithdraw, Input{})
	wantCode(t, err, "not_wish_owner")
	e.act("volunteer", w.Wish.ID, ActClaim, Input{})
	_, err = e.svc.Act(e.ctx, e.actor("grid"), w.Wish.ID, ActClaim, Input{})
	wantCode(t, err, "already_claimed")
	_, err = e.svc.Act(e.ctx, e.actor("resident"), w.Wish.ID, ActWithdraw, Input{})
	wantCode(t, err, "state_conflict")
	_, err = e.svc.Act(e.ctx, e.actor("grid"), w.Wish.ID, ActRelease, Input{})
	wantCode(t, err, "not_claimer")
	v := e.act("volunteer", w.Wish.ID, ActRelease, Input{})
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
	e.act("grid", w.Wish.ID, ActRelease, Input{})
	v = e.act("resident", w.Wish.ID, ActWithdraw, Input{})
	if v.Wish.State != model.WishWithdrawn || v.Wish.WithdrawnAt == nil {
		t.Fatalf("withdrawn %+v", v.Wish)
	}
	_, err = e.svc.Act(e.ctx, e.actor("volunteer"), w.Wish.ID, ActClaim, Input{})
	wantCode(t, err, "state_conflict")
	_, err = e.svc.Act(e.ctx, e.actor("volunteer"), w.Wish.ID, "dance", Input{})
	wantCode(t, err, "bad_action")
	_, err = e.svc.Act(e.ctx, e.actor("volunteer"), w.Wish.ID, ActClaim, Input{Note: "我来"})
	wantCode(t, err, "unexpected_field")
	_, err = e.svc.Act(e.ctx, e.actor("volunteer"), 999999, ActClaim, Input{})
	wantCode(t, err, "wish_not_found")
}

func TestWishTextCheckAndInput(t *testing.T) {
	e := newEnv(t)
	_, _, err := e.svc.Post(e.ctx, e.actor("resident"), PostInput{HouseholdID: e.city.Households[0].ID,
		Title: "帮忙", Detail: "内容 " + wechat.SandboxRisky})
	wantCode(t, err, "content_risky")
	var n int64
	e.db.Model(&model.Wish{}).Count(&n)
	if n != 0 {
		t.Fatal("a risky wish was stored")
	}
	w := e.post("resident", func(in *PostInput) { in.Detail = "请人陪我去医院 " + wechat.SandboxReview })
	if !w.Wish.Flagged {
		t.Fatal("a wish for review is not flagged")
	}
	var check model.ContentCheck
	if err := e.db.Where("subject = ?", fmt.Sprintf("wish:%d", w.Wish.ID)).Take(&check).Error; err != nil || check.State != model.CheckReview {
		t.Fatalf("content check %+v %v", check, err)
	}
	for _, bad := range []PostInput{
		{HouseholdID: e.city.Households[0].ID, Title: ""},
		{HouseholdID: e.city.Households[0].ID, Title: "这是一个超过三十个字的心愿标题这是一个超过三十个字的心愿标题啊"},
		{HouseholdID: 0, Title: "帮忙"},
		{HouseholdID: e.city.Households[0].ID, Title: "帮忙", PhotoIDs: []int64{1, 1}},
		{HouseholdID: e.city.Households[0].ID, Title: "帮忙", IdemKey: "有空格 的键"},
	} {
		if _, _, err := e.svc.Post(e.ctx, e.actor("resident"), bad); service.KindOf(err) != service.KindInvalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	// Idempotency-Key: a double tap returns the first wish.
	in := PostInput{HouseholdID: e.city.Households[0].ID, Title: "修自行车", IdemKey: "wish-1"}
	first, created, err := e.svc.Post(e.ctx, e.actor("resident"), in)
	if err != nil || !created {
		t.Fatal(err)
	}
	again, created, err := e.svc.Post(e.ctx, e.actor("resident"), in)
	if err != nil || created || again.Wish.ID != first.Wish.ID {
		t.Fatalf("repeat %d created %v %v", again.Wish.ID, created, err)
	}
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
}

func TestWishHoursPerVolunteerByPeriod(t *testing.T) {
	e := newEnv(t)
	com := e.city.Communities[0]
	e.grant("grid", model.RoleVolunteer, model.ScopeCommunity, com.ID, com.Ancestry)
	start := e.clock.Now()
	fulfil := func(name, hours string, at time.Time) {
		e.clock.Set(at)
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
		t.Helper()
		h, err := e.svc.Hours(e.ctx, e.actor("community"), HoursFilter{CommunityID: com.ID, From: from, To: to}, p)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	all := hours(time.Time{}, time.Time{}, service.Page{Limit: 10})
	byUser := map[int64]VolunteerHours{}
	for _, h := range all.Items {
		byUser[h.UserID] = h
	}
	if v := byUser[e.city.Users["volunteer"]]; v.HoursCenti != 325 || v.Wishes != 2 {
		t.Fatalf("volunteer %+v", v)
	}
	if g := byUser[e.city.Users["grid"]]; g.HoursCenti != 300 || g.Wishes != 1 {
		t.Fatalf("grid %+v", g)
	}
	if all.TotalHoursCenti != 625 || all.TotalWishes != 3 {
		t.Fatalf("totals %d h %d wishes", all.TotalHoursCenti, all.TotalWishes)
	}
	// Nobody has thanked yet: every hour is the volunteers' own report.
	if all.TotalConfirmed != 0 || byUser[e.city.Users["volunteer"]].ConfirmedCenti != 0 {
		t.Fatalf("confirmed before any thanks: %+v", all)
	}
	// The first day only.
	day := hours(start, start.Add(24*time.Hour), service.Page{Limit: 10})
	if len(day.Items) != 1 || day.Items[0].HoursCenti != 200 || day.TotalWishes != 1 {
		t.Fatalf("first day %+v", day)
	}
	// Paged one volunteer at a time.
	p1 := hours(time.Time{}, time.Time{}, service.Page{Limit: 1})
	p2 := hours(time.Time{}, time.Time{}, service.Page{Limit: 1, After: p1.Items[0].UserID})
	if !p1.More || p2.More || len(p2.Items) != 1 || p1.Items[0].UserID == p2.Items[0].UserID {
		t.Fatalf("pages %+v / %+v", p1, p2)
	}
	_, err := e.svc.Hours(e.ctx, e.actor("community"), HoursFilter{CommunityID: com.ID, From: start, To: start}, service.Page{Limit: 10})
	wantCode(t, err, "bad_period")
}

// Volunteers press "claim" at the same moment: one wins, the others get
// 409, and exactly one claimer is stored. MariaDB only: the SQLite test
// database has a single connection and no row locks.
func TestWishConcurrentClaims(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency needs MariaDB: the SQLite test database has a single connection")
	}
	e := newEnv(t)
	com := e.city.Communities[0]
	names := []string{"volunteer", "grid", "duty", "steward"}
	for _, n := range names[1:] {
		e.grant(n, model.RoleVolunteer, model.ScopeCommunity, com.ID, com.Ancestry)
	}
	actors := make([]*service.Actor, len(names))
	for i, n := range names {
		actors[i] = e.actor(n)
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
				_, errs[i] = e.svc.Act(e.ctx, a, w.Wish.ID, ActClaim, Input{})
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
				wantCode(t, err, "already_claimed")
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d claims won", round, won)
		}
		var got model.Wish
		if err := e.db.Take(&got, w.Wish.ID).Error; err != nil || got.ClaimerID == 0 || got.Version != 2 {
			t.Fatalf("round %d: stored %+v %v", round, got, err)
		}
		var told int64
		e.db.Model(&model.Message{}).Where("event = ? AND user_id = ?", "wish.claim", e.city.Users["resident"]).Count(&told)
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
	msgs, err := message.New(e.db, e.clock, chk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = New(e.db, e.clock, msgs, photo.NewLocalStorage(t.TempDir()))
	recheck := message.NewRecheck(msgs, map[string]message.LateVerdict{"wish": e.svc.ApplyLateVerdict})
	w := e.post("resident")
	if w.Wish.Flagged || w.Wish.State != model.WishOpen {
		t.Fatalf("stored %+v", w.Wish)
	}
	chk.Verdict = "risky"
	e.clock.Advance(time.Hour)
	if n, err := recheck.RecheckOnce(e.ctx); err != nil || n != 1 {
		t.Fatalf("recheck: %d %v", n, err)
	}
	var got model.Wish
	if err := e.db.Take(&got, w.Wish.ID).Error; err != nil {
		t.Fatal(err)
	}
	if !got.Flagged || got.State != model.WishWithdrawn {
		t.Fatalf("after a risky verdict: flagged %v, state %s", got.Flagged, got.State)
	}
}
