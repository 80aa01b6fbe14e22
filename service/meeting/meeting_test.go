package meeting_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/meeting"
	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat"
	"redprop/service/wechat/wechattest"
)

// env is the meetings service over the demo city of the shared harness
// and the sandbox messages service.
type env struct {
	*servicetest.City
	msgs *message.Service
	svc  *meeting.Service
}

func newEnv(t *testing.T, opts meeting.Options) *env {
	t.Helper()
	c := servicetest.New(t)
	rdb, prefix := dbtest.Redis(t)
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), message.Config{Sandbox: true, BatchSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	opts.RedisPrefix = prefix
	svc, err := meeting.New(c.DB, rdb, c.Clock, msgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{City: c, msgs: msgs, svc: svc}
}

// at is a time on the fake clock's Beijing calendar: day offset, hh:mm.
func (e *env) at(days, hour, minute int) time.Time {
	d := e.Clock.Now().In(calendar.Beijing)
	return time.Date(d.Year(), d.Month(), d.Day()+days, hour, minute, 0, 0, d.Location()).UTC()
}

// joint is the demo joint meeting: the community's staff with the
// committee of compound 0, the firm's managers, the stewards of grid 0
// and the resident, on Wednesday 14:30–16:00.
func (e *env) joint() meeting.CreateInput {
	c := e.City
	return meeting.CreateInput{
		Kind: model.MeetingJoint, Title: "金日天玺红色物业联席会议", ScopeKind: model.ScopeCommunity, ScopeID: c.Communities[0].ID,
		StartsAt: e.at(2, 14, 30), EndsAt: e.at(2, 16, 0), Place: "双语社区党群服务中心二楼会议室",
		Agenda:  []model.AgendaItem{{Title: "通报本月工单办理情况", Presenter: "社区张书记", Minutes: 15}, {Title: "地下车库漏水整改"}},
		UserIDs: []int64{c.Users["resident"]},
		Groups: []meeting.GroupInput{
			{Kind: model.GroupCompoundCommittee, TargetID: c.Compounds[0].ID},
			{Kind: model.GroupFirmManagers, TargetID: c.Firm.ID},
			{Kind: model.GroupGridStewards, TargetID: c.Grids[0].ID},
		},
	}
}

func (e *env) create(name string, in meeting.CreateInput) meeting.View {
	e.T.Helper()
	v, _, err := e.svc.Create(e.Ctx, e.Actor(name), in)
	if err != nil {
		e.T.Fatal(err)
	}
	return v
}

func (e *env) schedule(name string, id int64) meeting.View {
	e.T.Helper()
	v, err := e.svc.Schedule(e.Ctx, e.Actor(name), id)
	if err != nil {
		e.T.Fatal(err)
	}
	return v
}

// outbox returns the outbox rows of one event key prefix.
func (e *env) outbox(where string, args ...any) []model.Outbox {
	e.T.Helper()
	var rows []model.Outbox
	if err := e.DB.Where(where, args...).Order("id").Find(&rows).Error; err != nil {
		e.T.Fatal(err)
	}
	return rows
}

// deliverAll runs the message worker until it finds nothing due.
func (e *env) deliverAll() {
	e.T.Helper()
	for range 1000 {
		st, err := e.msgs.DeliverOnce(e.Ctx)
		if err != nil {
			e.T.Fatal(err)
		}
		if st.Claimed == 0 {
			return
		}
	}
	e.T.Fatal("outbox never drained")
}

func TestScheduleTellsEveryParticipantOnce(t *testing.T) {
	e := newEnv(t, meeting.Options{})
	c := e.City
	in := e.joint()
	// The steward is also invited by name: still one invitation.
	in.UserIDs = append(in.UserIDs, c.Users["steward"])
	v := e.create("community", in)
	if v.State != model.MeetingDraft || v.OrganiserRole != model.RoleCommunityStaff || v.CommunityID != c.Communities[0].ID ||
		v.ScopeName != "双语社区" || v.OrganiserName != "社区张书记" || len(v.Agenda) != 2 || len(v.Groups) != 3 {
		t.Fatalf("draft %+v", v)
	}
	if n := len(e.outbox("1 = 1")); n != 0 {
		t.Fatalf("a draft told %d people", n)
	}
	v = e.schedule("community", v.ID)
	if v.State != model.MeetingScheduled || v.Counts == nil || v.Counts.Invited != 4 || v.Counts.Pending != 4 {
		t.Fatalf("scheduled %+v counts %+v", v.Meeting, v.Counts)
	}
	want := map[int64]bool{c.Users["resident"]: true, c.Users["steward"]: true, c.Users["committee"]: true, c.Users["manager"]: true}
	notices := e.outbox("event = ?", meeting.EventScheduled)
	if len(notices) != len(want) {
		t.Fatalf("%d notices, want %d", len(notices), len(want))
	}
	for _, o := range notices {
		if !want[o.UserID] || o.Kind != message.KindMeeting || o.State != model.OutboxPending {
			t.Fatalf("notice %+v", o)
		}
		delete(want, o.UserID)
	}
	// Reminders 24 h and 2 h before Wednesday 14:30, not yet in the inbox.
	rem := e.outbox("event = ?", meeting.EventReminder)
	if len(rem) != 8 {
		t.Fatalf("%d reminders, want 8", len(rem))
	}
	for _, o := range rem {
		if !o.InboxPending || o.CancelKey != fmt.Sprintf("meeting:%d", v.ID) ||
			(!o.DueAt.Equal(e.at(1, 14, 30)) && !o.DueAt.Equal(e.at(2, 12, 30))) {
			t.Fatalf("reminder %+v", o)
		}
	}
	var inbox int64
	e.DB.Model(&model.Message{}).Where("event = ? AND user_id = ?", meeting.EventScheduled, c.Users["resident"]).Count(&inbox)
	if inbox != 1 {
		t.Fatalf("resident's inbox has %d notices", inbox)
	}
	e.Step(t, "the delivered notice names the meeting", func(t *testing.T) {
		// The delivered notice names the meeting, its time and place.
		e.deliverAll()
		var push model.SandboxPush
		if err := e.DB.Where("user_id = ? AND event = ?", c.Users["resident"], meeting.EventScheduled).Take(&push).Error; err != nil {
			t.Fatal(err)
		}
		if push.Kind != message.KindMeeting || push.Page != fmt.Sprintf("pages/meeting/detail?id=%d", v.ID) {
			t.Fatalf("push %+v", push)
		}
	})
	e.Step(t, "scheduling twice tells nobody again", func(t *testing.T) {
		// Scheduling twice is a conflict and tells nobody again.
		_, err := e.svc.Schedule(e.Ctx, e.Actor("community"), v.ID)
		servicetest.WantErr(t, err, service.KindConflict, "state_conflict")
		if n := len(e.outbox("event = ?", meeting.EventScheduled)); n != 4 {
			t.Fatalf("%d notices after a second schedule", n)
		}
	})
}

// bigCompound adds a compound of households (one resident each) in
// community 0 with its own grid, in bulk, and returns it with its grid
// and the ids of its residents.
func (e *env) bigCompound(households int) (model.Compound, model.Grid, []int64) {
	e.T.Helper()
	anc := e.City.Communities[0].Ancestry
	comp := model.Compound{Name: "幸福里", Ancestry: anc}
	if err := e.DB.Create(&comp).Error; err != nil {
		e.T.Fatal(err)
	}
	comp.CompoundID = comp.ID
	e.DB.Model(&comp).Update("compound_id", comp.ID)
	grid := model.Grid{Name: "双语社区第9网格", Ancestry: anc}
	if err := e.DB.Create(&grid).Error; err != nil {
		e.T.Fatal(err)
	}
	grid.GridID = grid.ID
	e.DB.Model(&grid).Update("grid_id", grid.ID)
	const perBuilding = 100
	var users []model.User
	for i := range households {
		users = append(users, model.User{DisplayName: fmt.Sprintf("居民%04d", i), Phone: fmt.Sprintf("1390000%04d", i)})
	}
	if err := e.DB.CreateInBatches(&users, 500).Error; err != nil {
		e.T.Fatal(err)
	}
	var hs []model.Household
	var buildings []model.Building
	for b := 0; b*perBuilding < households; b++ {
		banc := comp.Ancestry
		banc.GridID = grid.ID
		bld := model.Building{Name: fmt.Sprintf("%d号楼", b+1), Ancestry: banc}
		if err := e.DB.Create(&bld).Error; err != nil {
			e.T.Fatal(err)
		}
		bld.BuildingID = bld.ID
		buildings = append(buildings, bld)
		for k := 0; k < perBuilding && b*perBuilding+k < households; k++ {
			hs = append(hs, model.Household{Unit: "1", Room: fmt.Sprint(101 + k), AreaCentiM2: 9000, Ancestry: bld.Ancestry})
		}
	}
	if err := e.DB.CreateInBatches(&hs, 500).Error; err != nil {
		e.T.Fatal(err)
	}
	res := make([]model.Residency, len(hs))
	ids := make([]int64, len(hs))
	for i, h := range hs {
		res[i] = model.Residency{UserID: users[i].ID, HouseholdID: h.ID, Relation: model.RelationOwner, Ancestry: h.Ancestry}
		ids[i] = users[i].ID
	}
	if err := e.DB.CreateInBatches(&res, 500).Error; err != nil {
		e.T.Fatal(err)
	}
	// Resident 0 chairs the committee, resident 1 is a steward of
	// building 0, and resident 2 owns a second flat: all are in two
	// groups (or two rows of one).
	extra := []model.Grant{
		{UserID: ids[0], Role: model.RoleCommittee, ScopeKind: model.ScopeCompound, ScopeID: comp.ID, Ancestry: comp.Ancestry},
		{UserID: ids[1], Role: model.RoleBuildingSteward, ScopeKind: model.ScopeBuilding, ScopeID: buildings[0].ID, Ancestry: buildings[0].Ancestry},
	}
	if err := e.DB.Create(&extra).Error; err != nil {
		e.T.Fatal(err)
	}
	second := model.Household{Unit: "2", Room: "101", AreaCentiM2: 9000, Ancestry: buildings[0].Ancestry}
	if err := e.DB.Create(&second).Error; err != nil {
		e.T.Fatal(err)
	}
	if err := e.DB.Create(&model.Residency{UserID: ids[2], HouseholdID: second.ID, Relation: model.RelationOwner, Ancestry: second.Ancestry}).Error; err != nil {
		e.T.Fatal(err)
	}
	return comp, grid, ids
}

func TestGroupExpansionStreamsBatchesAndTellsOnce(t *testing.T) {
	const households, batch = 5000, 500
	e := newEnv(t, meeting.Options{BatchSize: batch})
	comp, grid, residents := e.bigCompound(households)
	batches := map[string]int{}
	e.svc.OnBatch(func(source string, n int) {
		if n > batch {
			t.Errorf("%s batch of %d rows, over %d", source, n, batch)
		}
		batches[source]++
	})
	in := meeting.CreateInput{
		Kind: model.MeetingTalk, Title: "幸福里每周说事", ScopeKind: model.ScopeCompound, ScopeID: comp.ID,
		StartsAt: e.at(3, 19, 0), EndsAt: e.at(3, 20, 30), Place: "幸福里小区广场",
		UserIDs: []int64{residents[10], e.City.Users["grid"]},
		Groups: []meeting.GroupInput{
			{Kind: model.GroupCompoundResidents, TargetID: comp.ID},
			{Kind: model.GroupCompoundCommittee, TargetID: comp.ID},
			{Kind: model.GroupGridStewards, TargetID: grid.ID},
		},
	}
	v := e.create("community", in)
	v = e.schedule("community", v.ID)
	want := int64(households + 1) // everyone living there, and the grid worker
	if v.Counts.Invited != want {
		t.Fatalf("%d invited, want %d", v.Counts.Invited, want)
	}
	// Each participant has exactly one notice in the outbox and the inbox.
	type row struct {
		UserID int64
		N      int64
	}
	var dup []row
	if err := e.DB.Model(&model.Outbox{}).Select("user_id, COUNT(*) AS n").Where("event = ?", meeting.EventScheduled).
		Group("user_id").Having("COUNT(*) > 1").Scan(&dup).Error; err != nil {
		t.Fatal(err)
	}
	if len(dup) > 0 {
		t.Fatalf("%d people have more than one notice, e.g. %+v", len(dup), dup[0])
	}
	var outbox, inbox, reminders int64
	e.DB.Model(&model.Outbox{}).Where("event = ?", meeting.EventScheduled).Count(&outbox)
	e.DB.Model(&model.Message{}).Where("event = ?", meeting.EventScheduled).Count(&inbox)
	e.DB.Model(&model.Outbox{}).Where("event = ?", meeting.EventReminder).Count(&reminders)
	if outbox != want || inbox != want || reminders != 2*want {
		t.Fatalf("outbox %d, inbox %d, reminders %d; want %d, %d, %d", outbox, inbox, reminders, want, want, 2*want)
	}
	// Members were read in keyset batches, never all at once.
	if batches["group"] < households/batch || batches["notify"] < int(want)/batch+1 {
		t.Fatalf("batches %v: want ≥ %d group and ≥ %d notify batches", batches, households/batch, int(want)/batch+1)
	}
	groups := map[string]model.MeetingGroup{}
	for _, g := range v.Groups {
		groups[g.Kind] = g
	}
	res, com, st := groups[model.GroupCompoundResidents], groups[model.GroupCompoundCommittee], groups[model.GroupGridStewards]
	// Residents: 5,001 residencies (one owner has two flats), 5,000 people,
	// one of whom was already invited by name.
	if res.Found != households+1 || res.Added != households-1 || com.Found != 1 || com.Added != 0 || st.Found != 1 || st.Added != 0 ||
		res.ExpandedAt == nil || res.Name != "幸福里全体居民" {
		t.Fatalf("groups %+v", v.Groups)
	}
}

func TestCancelledMeetingRemindersAreNeverSent(t *testing.T) {
	e := newEnv(t, meeting.Options{})
	v := e.create("community", e.joint())
	e.schedule("community", v.ID)
	e.deliverAll() // the notices go out
	var before int64
	e.DB.Model(&model.SandboxPush{}).Select("COALESCE(MAX(id), 0)").Scan(&before)
	if _, err := e.svc.Cancel(e.Ctx, e.Actor("community"), v.ID, "台风预警，改期另行通知"); err != nil {
		t.Fatal(err)
	}
	rem := e.outbox("event = ?", meeting.EventReminder)
	if len(rem) != 8 {
		t.Fatalf("%d reminders", len(rem))
	}
	for _, o := range rem {
		if o.State != model.OutboxCancelled {
			t.Fatalf("reminder %d is %s after the cancellation", o.ID, o.State)
		}
	}
	// Past the meeting's start, the worker sends the cancellation notices
	// and nothing else.
	e.Clock.Advance(72 * time.Hour)
	e.deliverAll()
	var pushes []model.SandboxPush
	if err := e.DB.Where("id > ?", before).Order("id").Find(&pushes).Error; err != nil {
		t.Fatal(err)
	}
	if len(pushes) != 4 {
		t.Fatalf("%d pushes after the cancellation, want the 4 notices", len(pushes))
	}
	for _, p := range pushes {
		if p.Event != meeting.EventCancelled {
			t.Fatalf("push %s after the cancellation", p.Event)
		}
	}
	var inbox int64
	e.DB.Model(&model.Message{}).Where("event = ?", meeting.EventReminder).Count(&inbox)
	if inbox != 0 {
		t.Fatalf("%d cancelled reminders reached an inbox", inbox)
	}
	var m model.Message
	e.DB.Where("user_id = ? AND event = ?", e.City.Users["resident"], meeting.EventCancelled).Take(&m)
	if m.Title != "会议取消：金日天玺红色物业联席会议" {
		t.Fatalf("cancellation message %+v", m)
	}
	e.Step(t, "a cancelled meeting takes no more changes", func(t *testing.T) {
		// A cancelled meeting takes no more changes.
		_, err := e.svc.Hold(e.Ctx, e.Actor("community"), v.ID)
		servicetest.WantErr(t, err, service.KindConflict, "state_conflict")
	})
}

func TestChangeOfTimeRearmsReminders(t *testing.T) {
	e := newEnv(t, meeting.Options{})
	v := e.create("community", e.joint())
	e.schedule("community", v.ID)
	later, end := e.at(4, 9, 0), e.at(4, 11, 0)
	v, err := e.svc.Update(e.Ctx, e.Actor("community"), v.ID, meeting.Patch{StartsAt: &later, EndsAt: &end})
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 2 || v.State != model.MeetingScheduled {
		t.Fatalf("changed %+v", v.Meeting)
	}
	old := e.outbox("event = ? AND event_key LIKE ?", meeting.EventReminder, fmt.Sprintf("meeting:%d:remind:1:%%", v.ID))
	fresh := e.outbox("event = ? AND event_key LIKE ?", meeting.EventReminder, fmt.Sprintf("meeting:%d:remind:2:%%", v.ID))
	if len(old) != 8 || len(fresh) != 8 {
		t.Fatalf("%d old and %d new reminders", len(old), len(fresh))
	}
	for _, o := range old {
		if o.State != model.OutboxCancelled {
			t.Fatalf("old reminder %s", o.State)
		}
	}
	for _, o := range fresh {
		if o.State != model.OutboxPending || (!o.DueAt.Equal(later.Add(-24*time.Hour)) && !o.DueAt.Equal(later.Add(-2*time.Hour))) {
			t.Fatalf("new reminder %+v", o)
		}
	}
	if n := len(e.outbox("event = ?", meeting.EventChanged)); n != 4 {
		t.Fatalf("%d change notices", n)
	}
	e.Step(t, "an agenda edit tells nobody", func(t *testing.T) {
		// An agenda edit tells nobody and keeps the reminders.
		agenda := []model.AgendaItem{{Title: "增补：电梯维保"}}
		if v, err = e.svc.Update(e.Ctx, e.Actor("community"), v.ID, meeting.Patch{Agenda: &agenda}); err != nil || v.Version != 2 ||
			len(v.Agenda) != 1 || v.Agenda[0].Title != "增补：电梯维保" || !v.StartsAt.Equal(later) {
			t.Fatalf("agenda edit: %v %+v", err, v.Meeting)
		}
		if n := len(e.outbox("event = ? AND state = ?", meeting.EventReminder, model.OutboxPending)); n != 8 {
			t.Fatalf("%d pending reminders after an agenda edit", n)
		}
	})
	e.Step(t, "only the re-armed reminders go out", func(t *testing.T) {
		// At the new 24-hour mark only the re-armed reminder goes out.
		e.deliverAll()
		e.Clock.Set(later.Add(-24 * time.Hour))
		e.deliverAll()
		var sent []model.Outbox
		e.DB.Where("event = ? AND state = ?", meeting.EventReminder, model.OutboxSkipped).Find(&sent)
		if len(sent) != 4 {
			t.Fatalf("%d reminders delivered at the 24-hour mark, want 4", len(sent))
		}
		for _, o := range sent {
			if o.EventKey != fmt.Sprintf("meeting:%d:remind:2:1440", v.ID) {
				t.Fatalf("delivered %s", o.EventKey)
			}
		}
		var inbox model.Message
		if err := e.DB.Where("user_id = ? AND event = ?", e.City.Users["resident"], meeting.EventReminder).Take(&inbox).Error; err != nil {
			t.Fatal(err)
		}
	})
	e.Step(t, "a time in the past is refused", func(t *testing.T) {
		// A time in the past is refused.
		past, pastEnd := e.Clock.Now().Add(-time.Hour), e.Clock.Now()
		_, err = e.svc.Update(e.Ctx, e.Actor("community"), v.ID, meeting.Patch{StartsAt: &past, EndsAt: &pastEnd})
		servicetest.WantErr(t, err, service.KindUnprocessable, "time_passed")
	})
}

func TestSignIn(t *testing.T) {
	e := newEnv(t, meeting.Options{SignInTries: 3})
	v := e.create("community", e.joint())
	e.schedule("community", v.ID)
	org, res := e.Actor("community"), e.Actor("resident")
	_, err := e.svc.Hold(e.Ctx, org, v.ID)
	servicetest.WantErr(t, err, service.KindUnprocessable, "too_early")
	_, err = e.svc.SignIn(e.Ctx, res, v.ID, "123456")
	servicetest.WantErr(t, err, service.KindUnprocessable, "code_expired")

	e.Clock.Set(v.StartsAt.Add(-30 * time.Minute))
	v, err = e.svc.Hold(e.Ctx, org, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != model.MeetingHeld || len(v.SignInCode) != 6 || !v.SignInUntil.Equal(v.EndsAt) {
		t.Fatalf("held %+v", v.Meeting)
	}
	e.Step(t, "the code is for managers, and guesses are limited", func(t *testing.T) {
		// Participants do not see the code; the reminder still waiting is withdrawn.
		if pv, _ := e.svc.Get(e.Ctx, res, v.ID); pv.SignInCode != "" || pv.Counts != nil {
			t.Fatalf("participant view %+v", pv)
		}
		if n := len(e.outbox("event = ? AND state = ?", meeting.EventReminder, model.OutboxPending)); n != 0 {
			t.Fatalf("%d reminders pending after the meeting opened", n)
		}
		wrong := "000000"
		if v.SignInCode == wrong {
			wrong = "000001"
		}
		_, err = e.svc.SignIn(e.Ctx, res, v.ID, "12a456")
		servicetest.WantErr(t, err, service.KindInvalid, "bad_code")
		for range 3 {
			_, err = e.svc.SignIn(e.Ctx, res, v.ID, wrong)
			servicetest.WantErr(t, err, service.KindUnprocessable, "wrong_code")
		}
		_, err = e.svc.SignIn(e.Ctx, res, v.ID, v.SignInCode)
		servicetest.WantErr(t, err, service.KindRateLimited, "sign_in_rate_limited")
	})
	e.Step(t, "participants sign in with the code", func(t *testing.T) {
		// Another participant signs in with the code; someone not invited cannot.
		p, err := e.svc.SignIn(e.Ctx, e.Actor("committee"), v.ID, v.SignInCode)
		if err != nil || p.SignedInAt == nil || p.SignedInBy != e.City.Users["committee"] {
			t.Fatalf("sign in: %v %+v", err, p)
		}
		_, err = e.svc.SignIn(e.Ctx, e.Actor("grid"), v.ID, v.SignInCode)
		servicetest.WantErr(t, err, service.KindNotFound, "meeting_not_found")
	})
	e.Step(t, "the organiser signs a participant in", func(t *testing.T) {
		// The organiser signs the resident in.
		p, err := e.svc.SignInFor(e.Ctx, org, v.ID, e.City.Users["resident"])
		if err != nil || p.SignedInBy != org.UserID {
			t.Fatalf("sign in for: %v %+v", err, p)
		}
		_, err = e.svc.SignInFor(e.Ctx, org, v.ID, e.City.Users["grid"])
		servicetest.WantErr(t, err, service.KindNotFound, "participant_not_found")
	})
	e.Step(t, "a walk-in is signed in and told nothing", func(t *testing.T) {
		// A walk-in is added at the venue (told nothing) and signed in.
		var told int64
		e.DB.Model(&model.Outbox{}).Count(&told)
		if _, err := e.svc.AddInvitees(e.Ctx, org, v.ID, []int64{e.City.Users["grid"]}, nil); err != nil {
			t.Fatal(err)
		}
		if p, err := e.svc.SignInFor(e.Ctx, org, v.ID, e.City.Users["grid"]); err != nil || p.SignedInAt == nil {
			t.Fatalf("walk-in: %v %+v", err, p)
		}
		var after int64
		e.DB.Model(&model.Outbox{}).Count(&after)
		if after != told {
			t.Fatalf("a walk-in was told %d things", after-told)
		}
	})
	e.Step(t, "after the end the code no longer works", func(t *testing.T) {
		// After the end the code no longer works.
		e.Clock.Set(v.EndsAt)
		_, err = e.svc.SignIn(e.Ctx, e.Actor("manager"), v.ID, v.SignInCode)
		servicetest.WantErr(t, err, service.KindUnprocessable, "code_expired")
		v, _ = e.svc.Get(e.Ctx, org, v.ID)
		if v.Counts.SignedIn != 3 {
			t.Fatalf("counts %+v", v.Counts)
		}
	})
}

func TestRSVPCounts(t *testing.T) {
	e := newEnv(t, meeting.Options{})
	v := e.create("community", e.joint())
	_, err := e.svc.RSVP(e.Ctx, e.Actor("resident"), v.ID, model.RSVPAttending, "")
	servicetest.WantErr(t, err, service.KindNotFound, "meeting_not_found") // a draft is nobody's business yet
	e.schedule("community", v.ID)
	if _, err := e.svc.RSVP(e.Ctx, e.Actor("resident"), v.ID, model.RSVPAttending, ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.RSVP(e.Ctx, e.Actor("manager"), v.ID, model.RSVPDeclined, " ")
	servicetest.WantErr(t, err, service.KindInvalid, "bad_reason")
	_, err = e.svc.RSVP(e.Ctx, e.Actor("manager"), v.ID, "maybe", "")
	servicetest.WantErr(t, err, service.KindInvalid, "bad_answer")
	_, err = e.svc.RSVP(e.Ctx, e.Actor("manager"), v.ID, model.RSVPDeclined, "出差 "+wechat.SandboxRisky)
	servicetest.WantErr(t, err, service.KindUnprocessable, "content_risky")
	p, err := e.svc.RSVP(e.Ctx, e.Actor("manager"), v.ID, model.RSVPDeclined, "当天在市里培训，由副经理参加")
	if err != nil || p.RSVP != model.RSVPDeclined || p.DeclineReason == "" {
		t.Fatalf("decline: %v %+v", err, p)
	}
	e.Step(t, "the organiser has no answer to give", func(t *testing.T) {
		// The organiser is not on the list: no answer to give.
		_, err = e.svc.RSVP(e.Ctx, e.Actor("community"), v.ID, model.RSVPAttending, "")
		servicetest.WantErr(t, err, service.KindForbidden, "not_participant")
		v, _ = e.svc.Get(e.Ctx, e.Actor("community"), v.ID)
		if c := v.Counts; c.Invited != 4 || c.Attending != 1 || c.Declined != 1 || c.Pending != 2 {
			t.Fatalf("counts %+v", c)
		}
	})
	e.Step(t, "changing one's mind moves the counts", func(t *testing.T) {
		// Changing one's mind moves the counts.
		if _, err := e.svc.RSVP(e.Ctx, e.Actor("manager"), v.ID, model.RSVPAttending, ""); err != nil {
			t.Fatal(err)
		}
		v, _ = e.svc.Get(e.Ctx, e.Actor("community"), v.ID)
		if c := v.Counts; c.Attending != 2 || c.Declined != 0 {
			t.Fatalf("counts %+v", c)
		}
	})
	e.Step(t, "participants by answer, in pages", func(t *testing.T) {
		declined := model.RSVPAttending
		page, err := e.svc.Participants(e.Ctx, e.Actor("community"), v.ID, meeting.ParticipantFilter{RSVP: declined}, service.Page{Limit: 1})
		if err != nil || len(page.Items) != 1 || !page.More {
			t.Fatalf("participants page: %v %+v", err, page)
		}
		next, err := e.svc.Participants(e.Ctx, e.Actor("community"), v.ID, meeting.ParticipantFilter{RSVP: declined},
			service.Page{After: page.Items[0].ID, Limit: 1})
		if err != nil || len(next.Items) != 1 || next.More || next.Items[0].UserID == page.Items[0].UserID {
			t.Fatalf("second page: %v %+v", err, next)
		}
		_, err = e.svc.Participants(e.Ctx, e.Actor("resident"), v.ID, meeting.ParticipantFilter{}, service.Page{Limit: 10})
		servicetest.WantErr(t, err, service.KindForbidden, "not_organiser")
	})
}

func TestMinutesVersions(t *testing.T) {
	e := newEnv(t, meeting.Options{})
	v := e.create("community", e.joint())
	e.schedule("community", v.ID)
	org := e.Actor("community")
	_, err := e.svc.PublishMinutes(e.Ctx, org, v.ID, meeting.MinutesInput{Text: "会议决定……"})
	servicetest.WantErr(t, err, service.KindUnprocessable, "minutes_not_allowed")
	e.Clock.Set(v.StartsAt)
	if _, err := e.svc.Hold(e.Ctx, org, v.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Close(e.Ctx, org, v.ID)
	servicetest.WantErr(t, err, service.KindConflict, "state_conflict")
	_, err = e.svc.PublishMinutes(e.Ctx, org, v.ID, meeting.MinutesInput{Text: "会议决定……", Correction: "改错字"})
	servicetest.WantErr(t, err, service.KindInvalid, "correction_not_allowed")
	_, err = e.svc.PublishMinutes(e.Ctx, e.Actor("manager"), v.ID, meeting.MinutesInput{Text: "会议决定……"})
	servicetest.WantErr(t, err, service.KindForbidden, "not_organiser")
	first := "一、车库漏水由物业于 12 月 5 日前完成整改。二、业委会监督。"
	m1, err := e.svc.PublishMinutes(e.Ctx, org, v.ID, meeting.MinutesInput{Text: first,
		Attachments: []model.MeetingAttachment{{Name: "签到表", URL: "https://example.cn/sign.pdf"}}})
	if err != nil || m1.Version != 1 {
		t.Fatalf("minutes: %v %+v", err, m1)
	}
	_, err = e.svc.PublishMinutes(e.Ctx, org, v.ID, meeting.MinutesInput{Text: "改过的纪要"})
	servicetest.WantErr(t, err, service.KindInvalid, "correction_required")
	m2, err := e.svc.PublishMinutes(e.Ctx, org, v.ID, meeting.MinutesInput{Text: "一、车库漏水由物业于 12 月 8 日前完成整改。二、业委会监督。",
		Correction: "整改期限应为 12 月 8 日"})
	if err != nil || m2.Version != 2 {
		t.Fatalf("correction: %v %+v", err, m2)
	}
	e.Step(t, "both versions are kept and told", func(t *testing.T) {
		list, err := e.svc.Minutes(e.Ctx, e.Actor("resident"), v.ID)
		if err != nil || len(list) != 2 || list[0].Text != first || list[0].Attachments[0].Name != "签到表" || list[1].Correction == "" {
			t.Fatalf("minutes list: %v %+v", err, list)
		}
		if n := len(e.outbox("event = ?", meeting.EventMinutes)); n != 8 {
			t.Fatalf("%d minutes notices, want 2 × 4", n)
		}
	})
	e.Step(t, "a closed meeting takes no more minutes", func(t *testing.T) {
		v, err = e.svc.Close(e.Ctx, org, v.ID)
		if err != nil || v.State != model.MeetingClosed || v.Minutes != 2 {
			t.Fatalf("close: %v %+v", err, v.Meeting)
		}
		_, err = e.svc.PublishMinutes(e.Ctx, org, v.ID, meeting.MinutesInput{Text: "再改", Correction: "又错了"})
		servicetest.WantErr(t, err, service.KindUnprocessable, "minutes_not_allowed")
	})
}

func TestScopeAndInvitees(t *testing.T) {
	e := newEnv(t, meeting.Options{})
	c := e.City
	v := e.create("community", e.joint())
	other := e.Actor("community2")
	_, err := e.svc.Get(e.Ctx, other, v.ID)
	servicetest.WantErr(t, err, service.KindNotFound, "meeting_not_found")
	title := "改名"
	_, err = e.svc.Update(e.Ctx, other, v.ID, meeting.Patch{Title: &title})
	servicetest.WantErr(t, err, service.KindNotFound, "meeting_not_found")
	_, err = e.svc.Schedule(e.Ctx, other, v.ID)
	servicetest.WantErr(t, err, service.KindNotFound, "meeting_not_found")
	page, err := e.svc.List(e.Ctx, other, meeting.Filter{Queue: meeting.QueueScope}, service.Page{Limit: 10})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("community2's scope list: %v %d", err, len(page.Items))
	}
	e.Step(t, "the street above sees it", func(t *testing.T) {
		// The street above sees it in its scope; the organiser in theirs.
		page, err = e.svc.List(e.Ctx, e.Actor("street"), meeting.Filter{Queue: meeting.QueueScope}, service.Page{Limit: 10})
		if err != nil || len(page.Items) != 1 || !page.Items[0].Manager {
			t.Fatalf("street's scope list: %v %+v", err, page)
		}
	})
	in := e.joint()
	in.ScopeID = c.Communities[1].ID
	_, _, err = e.svc.Create(e.Ctx, e.Actor("community"), in)
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	_, _, err = e.svc.Create(e.Ctx, e.Actor("resident"), e.joint())
	servicetest.WantErr(t, err, service.KindForbidden, "not_organiser_role")
	// The committee calls an assembly of its own compound only.
	assembly := meeting.CreateInput{Kind: model.MeetingAssembly, Title: "金日天玺业主大会", ScopeKind: model.ScopeCompound,
		ScopeID: c.Compounds[0].ID, StartsAt: e.at(7, 9, 0), EndsAt: e.at(7, 11, 0), Place: "小区会所",
		Groups: []meeting.GroupInput{{Kind: model.GroupCompoundResidents, TargetID: c.Compounds[0].ID}}}
	if _, _, err := e.svc.Create(e.Ctx, e.Actor("committee"), assembly); err != nil {
		t.Fatal(err)
	}
	assembly.ScopeID = c.Compounds[1].ID
	_, _, err = e.svc.Create(e.Ctx, e.Actor("committee"), assembly)
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")

	cases := []struct {
		name string
		edit func(*meeting.CreateInput)
		code string
	}{
		{"a resident of community 1", func(in *meeting.CreateInput) { in.UserIDs = []int64{c.Users["resident2"]} }, "participant_out_of_scope"},
		{"community 1's grid worker", func(in *meeting.CreateInput) { in.UserIDs = []int64{c.Users["grid3"]} }, "participant_out_of_scope"},
		{"no such user", func(in *meeting.CreateInput) { in.UserIDs = []int64{999999} }, "participant_out_of_scope"},
		{"residents of compound 2", func(in *meeting.CreateInput) {
			in.Groups = []meeting.GroupInput{{Kind: model.GroupCompoundResidents, TargetID: c.Compounds[2].ID}}
		}, "group_out_of_scope"},
		{"stewards of community 1's grid", func(in *meeting.CreateInput) {
			in.Groups = []meeting.GroupInput{{Kind: model.GroupGridStewards, TargetID: c.Grids[2].ID}}
		}, "group_out_of_scope"},
		{"a missing compound", func(in *meeting.CreateInput) {
			in.Groups = []meeting.GroupInput{{Kind: model.GroupCompoundCommittee, TargetID: 999999}}
		}, "group_out_of_scope"},
		{"a photo of someone else", func(in *meeting.CreateInput) {
			in.Attachments = []model.MeetingAttachment{{Name: "现场照片", PhotoID: 999999}}
		}, "photo_unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := e.joint()
			tc.edit(&in)
			_, _, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
			var se *service.Error
			if !errors.As(err, &se) || se.Code != tc.code {
				t.Errorf("%v, want %s", err, tc.code)
			}
		})
	}
	e.Step(t, "a firm without a contract in the scope", func(t *testing.T) {
		// Community 1 has no contract with the firm: its managers are not its business.
		in = e.joint()
		in.ScopeID, in.UserIDs = c.Communities[1].ID, nil
		in.Groups = []meeting.GroupInput{{Kind: model.GroupFirmManagers, TargetID: c.Firm.ID}}
		_, _, err = e.svc.Create(e.Ctx, e.Actor("community2"), in)
		servicetest.WantErr(t, err, service.KindUnprocessable, "group_out_of_scope")
	})
	e.Step(t, "staff over the scope and serving firms by name", func(t *testing.T) {
		// The street staff and the firm's manager may be invited by name.
		in = e.joint()
		in.UserIDs = []int64{c.Users["street"], c.Users["manager"], c.Users["steward"]}
		if _, _, err := e.svc.Create(e.Ctx, e.Actor("community"), in); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDraftEditsAndIdempotency(t *testing.T) {
	e := newEnv(t, meeting.Options{Reminders: []time.Duration{}})
	c := e.City
	in := e.joint()
	in.IdemKey = "mtg-1"
	first, created, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
	if err != nil || !created {
		t.Fatalf("create: %v %v", err, created)
	}
	again, created, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("repeat: %v created=%v id=%d want %d", err, created, again.ID, first.ID)
	}
	e.Step(t, "a draft's people and groups come and go", func(t *testing.T) {
		// In a draft, people and groups come and go.
		if err := e.svc.RemoveParticipant(e.Ctx, e.Actor("community"), first.ID, c.Users["resident"]); err != nil {
			t.Fatal(err)
		}
		for _, g := range first.Groups {
			if g.Kind != model.GroupFirmManagers {
				if err := e.svc.RemoveGroup(e.Ctx, e.Actor("community"), first.ID, g.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		v := e.schedule("community", first.ID)
		if v.Counts.Invited != 1 || len(e.outbox("event = ?", meeting.EventReminder)) != 0 {
			t.Fatalf("scheduled %+v counts %+v", v.Meeting, v.Counts)
		}
	})
	e.Step(t, "a sent meeting keeps its list; newcomers alone are told", func(t *testing.T) {
		err = e.svc.RemoveParticipant(e.Ctx, e.Actor("community"), first.ID, c.Users["manager"])
		servicetest.WantErr(t, err, service.KindConflict, "not_draft")
		// Invited after sending: only the newcomers are told.
		v, err := e.svc.AddInvitees(e.Ctx, e.Actor("community"), first.ID, []int64{c.Users["resident"], c.Users["manager"]},
			[]meeting.GroupInput{{Kind: model.GroupCompoundCommittee, TargetID: c.Compounds[0].ID}})
		if err != nil || v.Counts.Invited != 3 {
			t.Fatalf("add: %v %+v", err, v.Counts)
		}
		notices := e.outbox("event = ?", meeting.EventScheduled)
		if len(notices) != 3 {
			t.Fatalf("%d notices", len(notices))
		}
	})
	e.Step(t, "a meeting with nobody to tell is not sent", func(t *testing.T) {
		// A meeting with nobody to tell is not sent.
		in = e.joint()
		in.UserIDs, in.Groups = nil, []meeting.GroupInput{{Kind: model.GroupCompoundBranch, TargetID: c.Compounds[0].ID}}
		empty := e.create("community", in)
		_, err = e.svc.Schedule(e.Ctx, e.Actor("community"), empty.ID)
		servicetest.WantErr(t, err, service.KindUnprocessable, "no_participants")
	})
}

func TestConcurrentTransitionsOneWins(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("SQLite has one connection and drops FOR UPDATE: races need MariaDB")
	}
	e := newEnv(t, meeting.Options{})
	org, street := e.Actor("community"), e.Actor("street")
	v := e.create("community", e.joint())
	// Two managers send the same draft at once; then one cancels while
	// the other opens it.
	run := func(fs ...func() error) []error {
		var wg sync.WaitGroup
		errs := make([]error, len(fs))
		start := make(chan struct{})
		for i, f := range fs {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; errs[i] = f() }()
		}
		close(start)
		wg.Wait()
		return errs
	}
	errs := run(
		func() error { _, err := e.svc.Schedule(e.Ctx, org, v.ID); return err },
		func() error { _, err := e.svc.Schedule(e.Ctx, street, v.ID); return err },
	)
	if n := slices.IndexFunc(errs, func(err error) bool { return err == nil }); n < 0 || errs[1-n] == nil {
		t.Fatalf("both or neither scheduled: %v", errs)
	}
	servicetest.WantErr(t, errs[slices.IndexFunc(errs, func(err error) bool { return err != nil })], service.KindConflict, "state_conflict")
	if n := len(e.outbox("event = ?", meeting.EventScheduled)); n != 4 {
		t.Fatalf("%d notices after two schedules, want 4", n)
	}
	e.Clock.Set(v.StartsAt.Add(-30 * time.Minute))
	errs = run(
		func() error { _, err := e.svc.Cancel(e.Ctx, org, v.ID, ""); return err },
		func() error { _, err := e.svc.Hold(e.Ctx, street, v.ID); return err },
	)
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("cancel and hold: %v", errs)
	}
	got, _ := e.svc.Get(e.Ctx, org, v.ID)
	if (errs[0] == nil) != (got.State == model.MeetingCancelled) {
		t.Fatalf("state %s after %v", got.State, errs)
	}
}

func TestParseReminders(t *testing.T) {
	for in, want := range map[string][]time.Duration{
		"": nil, "none": {}, "24h,2h": {24 * time.Hour, 2 * time.Hour}, " 90m ": {90 * time.Minute},
	} {
		got, err := meeting.ParseReminders(in)
		if err != nil || !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"1d", "-2h", "30s", "24h,,2h"} {
		if _, err := meeting.ParseReminders(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := meeting.New(nil, nil, nil, nil, meeting.Options{Reminders: []time.Duration{time.Second}}); err == nil {
		t.Error("a reminder of one second accepted")
	}
}

// Who manages a meeting: its organiser while they hold the role they
// called it in, and staff over its scope; not a committee member of a
// compound the community's meeting concerns.
func TestManagersAreOrganiserAndStaff(t *testing.T) {
	e := newEnv(t, meeting.Options{})
	in := e.joint()
	in.ScopeKind, in.ScopeID = model.ScopeCompound, e.City.Compounds[0].ID
	v := e.create("community", in)
	e.schedule("community", v.Meeting.ID)
	_, err := e.svc.Cancel(e.Ctx, e.Actor("committee"), v.Meeting.ID, "改期")
	servicetest.WantErr(t, err, service.KindForbidden, "not_organiser")
	// The street manages every meeting under it.
	if _, err := e.svc.Get(e.Ctx, e.Actor("street"), v.Meeting.ID); err != nil {
		t.Fatalf("street: %v", err)
	}
	e.Step(t, "a committee member's own meeting until they leave", func(t *testing.T) {
		// A committee member's own meeting is theirs until they leave the committee.
		in = e.joint()
		in.ScopeKind, in.ScopeID, in.Groups = model.ScopeCompound, e.City.Compounds[0].ID, nil
		own := e.create("committee", in)
		if _, err := e.svc.Update(e.Ctx, e.Actor("committee"), own.Meeting.ID, meeting.Patch{Note: ptr("带好身份证")}); err != nil {
			t.Fatalf("organiser edit: %v", err)
		}
		if err := e.DB.Model(&model.Grant{}).Where("user_id = ? AND role = ?", e.City.Users["committee"], model.RoleCommittee).
			Update("revoked_at", e.Clock.Now()).Error; err != nil {
			t.Fatal(err)
		}
		e.Forget("committee")
		_, err = e.svc.Update(e.Ctx, e.Actor("committee"), own.Meeting.ID, meeting.Patch{Note: ptr("改为线上")})
		if service.KindOf(err) != service.KindForbidden && service.KindOf(err) != service.KindNotFound {
			t.Fatalf("a former committee member edited the meeting: %v", err)
		}
		if _, err := e.svc.Update(e.Ctx, e.Actor("community"), own.Meeting.ID, meeting.Patch{Note: ptr("改为线上")}); err != nil {
			t.Fatalf("the community takes over: %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// A decline reason stored while WeChat could not check it, found risky
// later, is hidden from the organiser.
func TestLateRiskyDeclineReasonIsHidden(t *testing.T) {
	e := newEnv(t, meeting.Options{})
	chk := &wechattest.LateChecker{}
	msgs, err := message.New(e.DB, e.Clock, chk, message.Config{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := dbtest.Redis(t)
	if e.svc, err = meeting.New(e.DB, rdb, e.Clock, msgs, meeting.Options{RedisPrefix: prefix}); err != nil {
		t.Fatal(err)
	}
	recheck := message.NewRecheck(msgs, map[string]message.LateVerdict{"meeting": e.svc.ApplyLateVerdict})
	v := e.create("community", e.joint())
	e.schedule("community", v.Meeting.ID)
	if _, err := e.svc.RSVP(e.Ctx, e.Actor("resident"), v.Meeting.ID, model.RSVPDeclined, "那天要去医院复查"); err != nil {
		t.Fatal(err)
	}
	chk.Verdict = "risky"
	e.Clock.Advance(time.Hour)
	if n, err := recheck.RecheckOnce(e.Ctx); err != nil || n != 1 {
		t.Fatalf("recheck: %d %v", n, err)
	}
	var p model.MeetingParticipant
	if err := e.DB.Where("meeting_id = ? AND user_id = ?", v.Meeting.ID, e.City.Users["resident"]).Take(&p).Error; err != nil {
		t.Fatal(err)
	}
	if p.RSVP != model.RSVPDeclined || p.DeclineReason == "那天要去医院复查" {
		t.Fatalf("participant %+v", p)
	}
}
