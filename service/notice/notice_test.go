package notice_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/notice"
	"redprop/service/receipt"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

type env struct {
	*servicetest.City
	msgs *message.Service
	svc  *notice.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t)
	e := &env{City: c}
	e.msgs, e.svc = e.instance()
	return e
}

// instance builds one more notice service over the same database: a
// second server process, as far as the database can tell.
func (e *env) instance() (*message.Service, *notice.Service) {
	e.T.Helper()
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	msgs, err := message.New(e.DB, e.Clock, wechat.NewSandbox(), cfg)
	servicetest.Must(e.T, err)
	return msgs, notice.New(e.DB, e.Clock, msgs, receipt.New(e.DB, e.Clock, msgs), nil, nil)
}

func waterCut(as, kind string, ids ...int64) notice.CreateInput {
	return notice.CreateInput{As: as, ScopeKind: kind, ScopeIDs: ids, Title: "停水通知",
		Body: "因管网维修，12月3日 9:00–17:00 停水，请提前储水。", Push: true, NeedsConfirm: true}
}

func (e *env) create(name string, in notice.CreateInput) notice.View {
	e.T.Helper()
	v, created, err := e.svc.Create(e.Ctx, e.Actor(name), in)
	servicetest.Must(e.T, err)
	if !created {
		e.T.Fatal("not created")
	}
	return v
}

func (e *env) count(table any, where string, args ...any) int64 {
	e.T.Helper()
	var n int64
	servicetest.Must(e.T, e.DB.Model(table).Where(where, args...).Count(&n).Error)
	return n
}

func TestNoticeToFiveThousandHouseholds(t *testing.T) {
	e := newEnv(t)
	big := e.BigCompound("万家小区", 25, 2, 100, 40)
	var v notice.View
	e.Step(t, "the community publishes a water cut with confirmation", func(t *testing.T) {
		v = e.create("community", waterCut(notice.ByCommunity, notice.ScopeCompound, big.Compound.ID))
		if v.State != model.NoticePublished || v.Households != 5000 || v.PublisherName != e.Communities[0].Name {
			t.Fatalf("notice %+v", v.Notice)
		}
	})
	key := receipt.Subject{Kind: model.SubjectNotice, ID: v.ID}.Key()
	e.Step(t, "each household one receipt, each member one inbox message", func(t *testing.T) {
		var dup int64
		e.DB.Raw("SELECT COUNT(*) FROM (SELECT household_id FROM receipts WHERE subject_kind = 'notice' AND subject_id = ? GROUP BY household_id HAVING COUNT(*) > 1) x", v.ID).Scan(&dup)
		if n := e.count(&model.Receipt{}, "subject_kind = ? AND subject_id = ?", model.SubjectNotice, v.ID); n != 5000 || dup != 0 {
			t.Fatalf("%d receipts, %d households with more than one", n, dup)
		}
		var dupMsg int64
		e.DB.Raw("SELECT COUNT(*) FROM (SELECT user_id FROM messages WHERE event_key = ? GROUP BY user_id HAVING COUNT(*) > 1) x", key).Scan(&dupMsg)
		if n := e.count(&model.Message{}, "event_key = ?", key); n != int64(len(big.Resident)) || dupMsg != 0 {
			t.Fatalf("%d inbox messages (want %d), %d users twice", n, len(big.Resident), dupMsg)
		}
		if n := e.count(&model.Outbox{}, "event_key = ?", key); n != int64(len(big.Resident)) {
			t.Fatalf("%d pushes queued, want %d", n, len(big.Resident))
		}
	})
	b0 := big.Buildings[0]
	steward := e.stewardOf(b0)
	e.Step(t, "residents open and confirm; the steward knocks; counts equal a brute-force count", func(t *testing.T) {
		for i, h := range big.Households[:60] {
			uid, ok := big.Resident[h.ID]
			if !ok {
				continue
			}
			a := e.User(uid)
			var err error
			if i%3 == 0 {
				_, err = e.svc.Confirm(e.Ctx, a, v.ID)
			} else {
				_, err = e.svc.Read(e.Ctx, a, v.ID)
			}
			servicetest.Must(t, err)
		}
		// Opened again, read and confirmed already: nothing is written.
		var again int64
		for i, h := range big.Households[:60] {
			if uid, ok := big.Resident[h.ID]; ok && i%3 == 0 {
				again = uid
				break
			}
		}
		n := dbtest.CountStatements(t, e.DB)
		n.On.Store(true)
		for _, mark := range []func(context.Context, *service.Actor, int64) (notice.View, error){e.svc.Read, e.svc.Confirm} {
			_, err := mark(e.Ctx, e.User(again), v.ID)
			servicetest.Must(t, err)
		}
		n.On.Store(false)
		_, sql := n.Take()
		for _, q := range sql {
			if strings.Contains(q, "FOR UPDATE") || strings.HasPrefix(q, "UPDATE") || strings.HasPrefix(q, "INSERT") {
				t.Fatalf("opening a confirmed notice again wrote: %s", q)
			}
		}
		// A second member of that household, whose own inbox message is
		// still unread, opens it: the receipt has nothing new, the
		// message is marked read.
		var home model.Residency
		servicetest.Must(t, e.DB.Where("user_id = ?", again).First(&home).Error)
		other := model.User{DisplayName: "同户家属"}
		servicetest.Must(t, e.DB.Create(&other).Error)
		servicetest.Must(t, e.DB.Create(&model.Residency{UserID: other.ID, HouseholdID: home.HouseholdID, Relation: model.RelationFamily,
			Ancestry: home.Ancestry}).Error)
		key := "notice:" + strconv.FormatInt(v.ID, 10)
		servicetest.Must(t, e.DB.Create(&model.Message{UserID: other.ID, Kind: "notice", Event: "notice.published", Title: "通知",
			EventKey: &key}).Error)
		_, err := e.svc.Read(e.Ctx, e.User(other.ID), v.ID)
		servicetest.Must(t, err)
		var msg model.Message
		servicetest.Must(t, e.DB.Where("user_id = ? AND event_key = ?", other.ID, key).First(&msg).Error)
		if msg.ReadAt == nil {
			t.Fatal("the second member's inbox message stayed unread")
		}
		// The 40th household has nobody registered: the steward tells it.
		_, err = e.svc.TellInPerson(e.Ctx, steward, v.ID, receipt.InPerson{HouseholdID: big.Households[39].ID, Note: "敲门告知户主"})
		servicetest.Must(t, err)
		_, err = e.svc.TellInPerson(e.Ctx, steward, v.ID, receipt.InPerson{HouseholdID: big.Households[70].ID, Note: "电话告知"})
		servicetest.Must(t, err)
		_, err = e.svc.TellInPerson(e.Ctx, steward, v.ID, receipt.InPerson{HouseholdID: big.Households[70].ID, Note: "再次告知"})
		servicetest.WantErr(t, err, service.KindConflict, "told_in_person_already")
		// Another building's household is not this steward's.
		_, err = e.svc.TellInPerson(e.Ctx, steward, v.ID, receipt.InPerson{HouseholdID: big.Households[300].ID, Note: "告知"})
		servicetest.WantErr(t, err, service.KindForbidden, "not_steward")

		tl, err := e.svc.Tally(e.Ctx, e.Actor("community"), v.ID)
		servicetest.Must(t, err)
		brute := func(where string, args ...any) int64 {
			return e.count(&model.Receipt{}, "subject_kind = 'notice' AND subject_id = ? AND "+where, append([]any{v.ID}, args...)...)
		}
		want := receipt.Counts{Households: 5000, Delivered: brute("members > 0"), Unregistered: brute("members = 0"),
			Pushed: brute("push = ?", model.ReceiptPushQueued), Read: brute("read_at IS NOT NULL"),
			Confirmed: brute("confirmed = ?", true), InPerson: brute("in_person_at IS NOT NULL"), Reached: brute("reached = ?", true)}
		want.NotReached = 5000 - want.Reached
		if tl.Counts != want {
			t.Fatalf("counts %+v, brute force %+v", tl.Counts, want)
		}
		// 60 households of building 1 less the one unregistered (the 40th),
		// which the steward told, plus the 71st; every third confirmed but
		// the 40th.
		if want.Reached != 61 || want.Confirmed != 19 || want.InPerson != 2 {
			t.Fatalf("reached %d confirmed %d in person %d", want.Reached, want.Confirmed, want.InPerson)
		}
	})
	e.Step(t, "the steward's not-reached list is their building's, door by door", func(t *testing.T) {
		var got []int64
		p := service.Page{Limit: 50}
		for {
			page, err := e.svc.NotReached(e.Ctx, steward, v.ID, receipt.Filter{}, p)
			servicetest.Must(t, err)
			for _, d := range page.Items {
				got = append(got, d.HouseholdID)
			}
			if !page.More {
				break
			}
			p.After = page.Items[len(page.Items)-1].ID
		}
		var want []int64
		for i, h := range big.Households[:200] {
			if i < 60 || i == 70 {
				continue
			}
			want = append(want, h.ID)
		}
		if len(got) != len(want) {
			t.Fatalf("%d doors, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("door %d: household %d, want %d", i, got[i], want[i])
			}
		}
		tl, err := e.svc.Tally(e.Ctx, steward, v.ID)
		servicetest.Must(t, err)
		if len(tl.Buildings) != 1 || tl.Buildings[0].BuildingID != b0.ID || tl.Buildings[0].NotReached != int64(len(want)) {
			t.Fatalf("steward's buildings %+v", tl.Buildings)
		}
	})
	e.Step(t, "a resident of another compound sees nothing of it", func(t *testing.T) {
		_, err := e.svc.Get(e.Ctx, e.Actor("resident2"), v.ID)
		servicetest.WantErr(t, err, service.KindNotFound, "notice_not_found")
		page, err := e.svc.List(e.Ctx, e.Actor("resident2"), notice.Filter{}, service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) != 0 {
			t.Fatalf("resident2 lists %d notices", len(page.Items))
		}
		_, err = e.svc.Tally(e.Ctx, e.User(big.Resident[big.Households[0].ID]), v.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "not_notice_staff")
	})
}

func TestScheduledNoticePublishesOnceWithTwoSchedulers(t *testing.T) {
	e := newEnv(t)
	big := e.BigCompound("定时小区", 4, 2, 25, 0)
	at := e.Clock.Now().Add(2 * time.Hour)
	in := waterCut(notice.ByCommunity, notice.ScopeCompound, big.Compound.ID)
	in.PublishAt = &at
	v := e.create("community", in)
	if v.State != model.NoticeScheduled || e.count(&model.Receipt{}, "subject_id = ?", v.ID) != 0 {
		t.Fatalf("scheduled notice %+v told before its time", v.Notice)
	}
	_, other := e.instance()
	if n, err := e.svc.PublishDue(e.Ctx); err != nil || n != 0 {
		t.Fatalf("published %d (%v) before its time", n, err)
	}
	e.Clock.Advance(2*time.Hour + time.Second)
	var wg sync.WaitGroup
	counts := make([]int, 8)
	errs := make([]error, 8)
	for i := range counts {
		svc := e.svc
		if i%2 == 1 {
			svc = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = svc.PublishDue(e.Ctx)
		}()
	}
	wg.Wait()
	total := 0
	for i, n := range counts {
		servicetest.Must(t, errs[i])
		total += n
	}
	if total != 1 {
		t.Fatalf("published %d times", total)
	}
	if n := e.count(&model.Receipt{}, "subject_kind = 'notice' AND subject_id = ?", v.ID); n != 200 {
		t.Fatalf("%d receipts, want 200", n)
	}
	if n := e.count(&model.Message{}, "event_key = ?", "notice:"+itoa(v.ID)); n != 200 {
		t.Fatalf("%d inbox messages, want 200", n)
	}
	got, err := e.svc.Get(e.Ctx, e.Actor("community"), v.ID)
	servicetest.Must(t, err)
	if got.State != model.NoticePublished || got.Households != 200 {
		t.Fatalf("after the tick %+v", got.Notice)
	}
}

func TestNoticeScopeRules(t *testing.T) {
	e := newEnv(t)
	comp0, comp2 := e.Compounds[0], e.Compounds[2]
	e.Step(t, "a firm publishes for its contracted compounds only", func(t *testing.T) {
		v := e.create("manager", waterCut(notice.ByFirm, notice.ScopeCompound, comp0.ID))
		if v.PublisherName != e.Firm.Name || v.Households != 8 {
			t.Fatalf("firm notice %+v", v.Notice)
		}
		_, _, err := e.svc.Create(e.Ctx, e.Actor("manager"), waterCut(notice.ByFirm, notice.ScopeCompound, comp2.ID))
		servicetest.WantErr(t, err, service.KindForbidden, "no_contract")
		_, _, err = e.svc.Create(e.Ctx, e.Actor("manager"), waterCut(notice.ByFirm, notice.ScopeCommunity, e.Communities[0].ID))
		servicetest.WantErr(t, err, service.KindForbidden, "firm_scope")
		// Once the contract has ended, its compound is refused too.
		servicetest.Must(t, e.DB.Model(&model.Contract{}).Where("compound_id = ?", comp0.ID).
			Update("ends_on", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)).Error)
		_, _, err = e.svc.Create(e.Ctx, e.Actor("manager"), waterCut(notice.ByFirm, notice.ScopeBuilding, e.Buildings[0].ID))
		servicetest.WantErr(t, err, service.KindForbidden, "no_contract")
	})
	e.Step(t, "publishers stay in their own scope", func(t *testing.T) {
		_, _, err := e.svc.Create(e.Ctx, e.Actor("community"), waterCut(notice.ByCommunity, notice.ScopeCompound, comp2.ID))
		servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
		_, _, err = e.svc.Create(e.Ctx, e.Actor("committee"), waterCut(notice.ByCommittee, notice.ScopeCompound, e.Compounds[1].ID))
		servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
		_, _, err = e.svc.Create(e.Ctx, e.Actor("resident"), waterCut(notice.ByCommunity, notice.ScopeCompound, comp0.ID))
		servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
		_, _, err = e.svc.Create(e.Ctx, e.Actor("community"), waterCut(notice.ByStreet, notice.ScopeStreet, e.StreetID))
		servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
		v := e.create("committee", waterCut(notice.ByCommittee, notice.ScopeBuildings, e.Buildings[0].ID, e.Buildings[1].ID))
		if v.PublisherName != e.Committee.Name || v.Households != 8 {
			t.Fatalf("committee notice %+v", v.Notice)
		}
		e.Grant("volunteer", model.RolePartyBranch, model.ScopeCommunity, e.Communities[0].ID, e.Communities[0].Ancestry)
		v = e.create("volunteer", waterCut(notice.ByPartyBranch, notice.ScopeBuilding, e.Buildings[2].ID))
		if v.PublisherName != e.Communities[0].Name+"党支部" || v.Households != 4 {
			t.Fatalf("party branch notice %+v", v.Notice)
		}
		v = e.create("street", waterCut(notice.ByStreet, notice.ScopeStreet, e.StreetID))
		if v.Households != int64(len(e.Households)) {
			t.Fatalf("street notice told %d households", v.Households)
		}
	})
	e.Step(t, "a resident of compound A never sees B's notices", func(t *testing.T) {
		b := e.create("community2", waterCut(notice.ByCommunity, notice.ScopeCompound, comp2.ID))
		page, err := e.svc.List(e.Ctx, e.Actor("resident"), notice.Filter{}, service.Page{Limit: 100})
		servicetest.Must(t, err)
		for _, it := range page.Items {
			if it.ID == b.ID || it.CompoundID != 0 && it.CompoundID != comp0.ID {
				t.Fatalf("resident of %s lists notice %d of compound %d", comp0.Name, it.ID, it.CompoundID)
			}
		}
		// The committee's buildings 1–2, the firm's and the street's reached
		// the resident's household (building 1); the party branch's did not.
		if len(page.Items) != 3 {
			t.Fatalf("resident lists %d notices, want 3", len(page.Items))
		}
		_, err = e.svc.Get(e.Ctx, e.Actor("resident"), b.ID)
		servicetest.WantErr(t, err, service.KindNotFound, "notice_not_found")
		_, err = e.svc.Read(e.Ctx, e.Actor("resident"), b.ID)
		servicetest.WantErr(t, err, service.KindNotFound, "notice_not_found")
		got, err := e.svc.Get(e.Ctx, e.Actor("resident2"), b.ID)
		servicetest.Must(t, err)
		if len(got.Receipts) != 1 || got.Manage {
			t.Fatalf("resident2's view %+v", got)
		}
		// Staff lists: the grid worker of 金日天玺 follows the notices of
		// its community and its street's, never 光安社区's; 光安社区's staff
		// their community's; the street every one.
		staffList := func(name string) map[int64]bool {
			page, err := e.svc.List(e.Ctx, e.Actor(name), notice.Filter{List: notice.ListStaff}, service.Page{Limit: 100})
			servicetest.Must(t, err)
			out := map[int64]bool{}
			for _, it := range page.Items {
				out[it.ID] = true
			}
			return out
		}
		if l := staffList("grid"); l[b.ID] || len(l) != 4 {
			t.Fatalf("grid worker's list %v (community 2's notice %d)", l, b.ID)
		}
		if l := staffList("community2"); !l[b.ID] || len(l) != 1 {
			t.Fatalf("光安社区's list %v", l)
		}
		if l := staffList("street"); len(l) != 5 {
			t.Fatalf("street's list %v", l)
		}
		if l := staffList("resident"); len(l) != 0 {
			t.Fatalf("a resident's staff list %v", l)
		}
	})
}

func TestWithdrawAndBadInputs(t *testing.T) {
	e := newEnv(t)
	comp0 := e.Compounds[0]
	v := e.create("community", waterCut(notice.ByCommunity, notice.ScopeCompound, comp0.ID))
	e.Step(t, "bad inputs are refused and write nothing", func(t *testing.T) {
		past := e.Clock.Now().Add(-time.Hour)
		far := e.Clock.Now().Add(100 * 24 * time.Hour)
		cases := []struct {
			name string
			mod  func(*notice.CreateInput)
			kind service.Kind
			code string
		}{
			{"no title", func(in *notice.CreateInput) { in.Title = "  " }, service.KindInvalid, "bad_title"},
			{"long title", func(in *notice.CreateInput) { in.Title = string(make([]rune, 61)) }, service.KindInvalid, "bad_title"},
			{"no body", func(in *notice.CreateInput) { in.Body = "" }, service.KindInvalid, "bad_body"},
			{"unknown publisher", func(in *notice.CreateInput) { in.As = "mayor" }, service.KindInvalid, "bad_publisher"},
			{"unknown scope", func(in *notice.CreateInput) { in.ScopeKind = "grid" }, service.KindInvalid, "bad_scope"},
			{"two compounds", func(in *notice.CreateInput) { in.ScopeIDs = []int64{comp0.ID, e.Compounds[1].ID} }, service.KindInvalid, "bad_scope_ids"},
			{"missing compound", func(in *notice.CreateInput) { in.ScopeIDs = []int64{999999} }, service.KindUnprocessable, "scope_not_found"},
			{"buildings of two compounds", func(in *notice.CreateInput) {
				in.ScopeKind, in.ScopeIDs = notice.ScopeBuildings, []int64{e.Buildings[0].ID, e.Buildings[2].ID}
			}, service.KindUnprocessable, "buildings_spread"},
			{"publish in the past", func(in *notice.CreateInput) { in.PublishAt = &past }, service.KindInvalid, "bad_publish_at"},
			{"publish too far ahead", func(in *notice.CreateInput) { in.PublishAt = &far }, service.KindInvalid, "bad_publish_at"},
			{"expires before it is up", func(in *notice.CreateInput) { in.ExpiresAt = &past }, service.KindInvalid, "bad_expires_at"},
			{"someone else's photo", func(in *notice.CreateInput) { in.PhotoIDs = []int64{e.Photo("resident")} }, service.KindUnprocessable, "photo_unavailable"},
			{"duplicate photo", func(in *notice.CreateInput) { p := e.Photo("community"); in.PhotoIDs = []int64{p, p} }, service.KindInvalid, "bad_photos"},
		}
		before := e.count(&model.Notice{}, "1 = 1")
		for _, c := range cases {
			in := waterCut(notice.ByCommunity, notice.ScopeCompound, comp0.ID)
			c.mod(&in)
			_, _, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
			if err == nil {
				t.Fatalf("%s: accepted", c.name)
			}
			servicetest.WantErr(t, err, c.kind, c.code)
		}
		if n := e.count(&model.Notice{}, "1 = 1"); n != before {
			t.Fatalf("%d notices written by refused requests", n-before)
		}
	})
	e.Step(t, "the same Idempotency-Key answers the first notice", func(t *testing.T) {
		in := waterCut(notice.ByCommunity, notice.ScopeBuilding, e.Buildings[0].ID)
		in.IdemKey = "tap-1"
		first, created, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
		servicetest.Must(t, err)
		again, created2, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
		servicetest.Must(t, err)
		if !created || created2 || again.ID != first.ID {
			t.Fatalf("second create %d (created %v), first %d", again.ID, created2, first.ID)
		}
	})
	e.Step(t, "confirming a notice that does not ask is refused", func(t *testing.T) {
		in := waterCut(notice.ByCommunity, notice.ScopeCompound, comp0.ID)
		in.NeedsConfirm = false
		plain := e.create("community", in)
		_, err := e.svc.Confirm(e.Ctx, e.Actor("resident"), plain.ID)
		servicetest.WantErr(t, err, service.KindUnprocessable, "confirm_not_asked")
	})
	e.Step(t, "a resident may not withdraw; staff withdraw, the notice stays as withdrawn", func(t *testing.T) {
		_, err := e.svc.Withdraw(e.Ctx, e.Actor("resident"), v.ID, "不需要")
		servicetest.WantErr(t, err, service.KindForbidden, "not_notice_manager")
		_, err = e.svc.Withdraw(e.Ctx, e.Actor("community"), v.ID, " ")
		servicetest.WantErr(t, err, service.KindInvalid, "bad_reason")
		w, err := e.svc.Withdraw(e.Ctx, e.Actor("community"), v.ID, "维修改期")
		servicetest.Must(t, err)
		if w.State != model.NoticeWithdrawn || w.WithdrawReason != "维修改期" {
			t.Fatalf("withdrawn %+v", w.Notice)
		}
		key := "notice:" + itoa(v.ID)
		if n := e.count(&model.Outbox{}, "event_key = ? AND state <> ?", key, model.OutboxCancelled); n != 0 {
			t.Fatalf("%d pushes of a withdrawn notice still due", n)
		}
		_, err = e.svc.Withdraw(e.Ctx, e.Actor("street"), v.ID, "再次撤回")
		servicetest.WantErr(t, err, service.KindConflict, "notice_withdrawn")
		_, err = e.svc.Read(e.Ctx, e.Actor("resident"), v.ID)
		servicetest.WantErr(t, err, service.KindConflict, "notice_not_published")
		page, err := e.svc.List(e.Ctx, e.Actor("resident"), notice.Filter{}, service.Page{})
		servicetest.Must(t, err)
		for _, it := range page.Items {
			if it.ID == v.ID {
				t.Fatal("a withdrawn notice is on the resident's list")
			}
		}
		got, err := e.svc.Get(e.Ctx, e.Actor("resident"), v.ID)
		servicetest.Must(t, err)
		if got.State != model.NoticeWithdrawn {
			t.Fatalf("state %s", got.State)
		}
	})
	e.Step(t, "a scheduled notice withdrawn is never published", func(t *testing.T) {
		at := e.Clock.Now().Add(time.Hour)
		in := waterCut(notice.ByCommunity, notice.ScopeCompound, comp0.ID)
		in.PublishAt = &at
		s := e.create("community", in)
		_, err := e.svc.Withdraw(e.Ctx, e.Actor("community"), s.ID, "取消")
		servicetest.Must(t, err)
		e.Clock.Advance(2 * time.Hour)
		n, err := e.svc.PublishDue(e.Ctx)
		servicetest.Must(t, err)
		if n != 0 || e.count(&model.Receipt{}, "subject_kind = 'notice' AND subject_id = ?", s.ID) != 0 {
			t.Fatal("a withdrawn scheduled notice was published")
		}
	})
}

func (e *env) stewardOf(b model.Building) *service.Actor {
	e.T.Helper()
	u := model.User{DisplayName: "楼栋长"}
	servicetest.Must(e.T, e.DB.Create(&u).Error)
	g := model.Grant{UserID: u.ID, Role: model.RoleBuildingSteward, ScopeKind: model.ScopeBuilding, ScopeID: b.ID, Ancestry: b.Ancestry}
	servicetest.Must(e.T, e.DB.Create(&g).Error)
	return e.User(u.ID)
}

func itoa(n int64) string { return receipt.Subject{Kind: "x", ID: n}.Key()[2:] }
