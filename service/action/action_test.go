package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/photo"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

// env is the action service over the demo city of the shared harness,
// with the real message and photo services.
type env struct {
	*servicetest.City
	svc    *Service
	photos *photo.Service
	orders int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t)
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), message.Config{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	photos := photo.New(c.DB, photo.NewLocalStorage(t.TempDir()), c.Clock, 1<<20, 0)
	return &env{City: c, svc: New(c.DB, c.Clock, msgs, photos, Options{}), photos: photos}
}

// firmItem is a valid inspection item for the firm in compound 0, due in
// a week.
func (e *env) firmItem() CreateInput {
	return CreateInput{Title: "金日天玺2号楼消防通道堆放杂物", Detail: "月考发现：2号楼东侧消防通道堆放装修垃圾",
		OwnerKind: model.OwnerFirm, OwnerID: e.City.Firm.ID, DueDate: "2026-11-30",
		SourceKind: model.SourceInspection, CompoundID: e.City.Compounds[0].ID}
}

func (e *env) create(name string, in CreateInput) View {
	e.T.Helper()
	v, created, err := e.svc.Create(e.Ctx, e.Actor(name), in)
	if err != nil {
		e.T.Fatalf("create by %s: %v", name, err)
	}
	if !created && in.IdemKey == "" {
		e.T.Fatalf("create by %s: not created", name)
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

// upload stores a real PNG of the user through the photo service.
func (e *env) upload(name string) int64 {
	e.T.Helper()
	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4)))
	p, err := e.photos.Upload(e.Ctx, e.Actor(name), "site.png", "image/png", img.Bytes())
	if err != nil {
		e.T.Fatal(err)
	}
	return p.ID
}

func (e *env) history(id int64) []model.ActionItemEvent {
	e.T.Helper()
	var evs []model.ActionItemEvent
	if err := e.DB.Where("item_id = ?", id).Order("id").Find(&evs).Error; err != nil {
		e.T.Fatal(err)
	}
	return evs
}

// inbox counts the messages of an event a demo user has.
func (e *env) inbox(name, event string) int {
	e.T.Helper()
	var n int64
	if err := e.DB.Model(&model.Message{}).Where("user_id = ? AND event = ?", e.City.Users[name], event).Count(&n).Error; err != nil {
		e.T.Fatal(err)
	}
	return int(n)
}

// The whole lifecycle: the community raises an item for the firm, the
// manager claims it, the worker marks it done with evidence, the
// community sends it back once and then verifies it. Every step appends
// exactly one history row and leaves the earlier rows as they were.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	v := e.create("community", e.firmItem())
	if v.State != model.ActionOpen || v.OrganiserID != e.City.Users["community"] || v.ScopeKind != model.ScopeCompound ||
		v.CompoundID != e.City.Compounds[0].ID || v.CommunityID != e.City.Communities[0].ID || v.StreetID != e.City.StreetID {
		t.Fatalf("created %+v", v.ActionItem)
	}
	if v.DueDate != "2026-11-30" || !v.DueAt.Equal(time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("due %s / %s", v.DueDate, v.DueAt)
	}
	if v.OwnerName != e.City.Firm.Name || v.PlaceName != e.City.Compounds[0].Name || v.SourceLabel != "检查" {
		t.Fatalf("names %q %q %q", v.OwnerName, v.PlaceName, v.SourceLabel)
	}
	if e.inbox("manager", "action_item.create") != 1 || e.inbox("worker", "action_item.create") != 0 {
		t.Fatal("the firm's manager (only) should hear of the new item")
	}
	var push model.Outbox
	if err := e.DB.Where("event = ? AND user_id = ?", "action_item.create", e.City.Users["manager"]).Take(&push).Error; err != nil {
		t.Fatal(err)
	}
	if push.Kind != message.KindNewReport || !strings.Contains(push.Payload, `"place":"金日天玺"`) ||
		!strings.Contains(push.Payload, `"number":"`+v.Number+`"`) {
		t.Fatalf("push %s %s", push.Kind, push.Payload)
	}
	id := v.ID
	ledger := e.history(id)
	step := func(name, action string, in Input, state string) View {
		t.Helper()
		v := e.act(name, id, action, in)
		if v.State != state {
			t.Fatalf("%s: state %s, want %s", action, v.State, state)
		}
		now := e.history(id)
		if len(now) != len(ledger)+1 {
			t.Fatalf("%s: history %d → %d rows", action, len(ledger), len(now))
		}
		for i := range ledger {
			if !reflect.DeepEqual(now[i], ledger[i]) {
				t.Fatalf("%s: history row %d changed", action, i)
			}
		}
		last := now[len(now)-1]
		if last.Action != action || last.ActorID != e.City.Users[name] || last.ToState != state {
			t.Fatalf("%s: history row %+v", action, last)
		}
		ledger = now
		return v
	}
	v = step("manager", ActClaim, Input{Note: "本周内清理"}, model.ActionClaimed)
	if v.ClaimedBy != e.City.Users["manager"] || v.ClaimedAt == nil || v.ClaimedByName == "" {
		t.Fatalf("claimed %+v", v.ActionItem)
	}
	p1 := e.upload("worker")
	v = step("worker", ActDone, Input{Evidence: "杂物已清运，通道畅通", PhotoIDs: []int64{p1}}, model.ActionDone)
	if v.DoneBy != e.City.Users["worker"] || v.Evidence != "杂物已清运，通道畅通" || !reflect.DeepEqual(v.PhotoIDs, []int64{p1}) {
		t.Fatalf("done %+v", v.ActionItem)
	}
	if e.inbox("community", "action_item.done") != 1 {
		t.Fatal("the organiser should hear the work is done")
	}
	// Anyone who sees the item sees its evidence photo.
	_, rc, err := e.svc.EvidencePhoto(e.Ctx, e.Actor("street"), id, p1)
	if err != nil {
		t.Fatalf("street opens the evidence: %v", err)
	}
	rc.Close()
	if _, _, err := e.svc.EvidencePhoto(e.Ctx, e.Actor("street"), id, p1+1000); service.KindOf(err) != service.KindNotFound {
		t.Fatalf("a photo that is not evidence: %v", err)
	}
	v = step("community", ActSendBack, Input{Reason: "东侧仍有两袋垃圾"}, model.ActionClaimed)
	if v.DoneAt != nil || v.Evidence != "" || v.SendBacks != 1 || v.ClaimedBy != e.City.Users["manager"] {
		t.Fatalf("sent back %+v", v.ActionItem)
	}
	if e.inbox("manager", "action_item.send_back") != 1 || e.inbox("worker", "action_item.send_back") != 1 {
		t.Fatal("the claimer and the worker should hear of the send-back")
	}
	step("manager", ActDone, Input{Evidence: "已全部清运"}, model.ActionDone)
	v = step("community", ActVerify, Input{Note: "现场复核通过"}, model.ActionVerified)
	if v.VerifiedBy != e.City.Users["community"] || v.VerifiedAt == nil || v.Overdue {
		t.Fatalf("verified %+v", v.ActionItem)
	}
	if len(v.History) != 6 || v.History[0].Action != ActCreate || v.History[3].Note != "东侧仍有两袋垃圾" {
		t.Fatalf("history %+v", v.History)
	}
	// Nothing moves a verified item.
	for _, a := range []struct{ name, action string }{{"manager", ActClaim}, {"worker", ActDone}, {"community", ActVerify}} {
		_, err := e.svc.Act(e.Ctx, e.Actor(a.name), id, a.action, Input{Evidence: "x"})
		servicetest.WantErr(t, err, service.KindConflict, "state_conflict")
	}
}

// Who may do what: members of the owner organisation claim and do; only
// the organiser verifies or sends back; others are refused and nothing
// changes.
func TestWhoMayAct(t *testing.T) {
	e := newEnv(t)
	e.Step(t, "a firm's item", func(t *testing.T) { whoMayActOnFirmItem(t, e) })
	e.Step(t, "each owner kind has its own members", func(t *testing.T) {
		owners := []struct {
			kind    string
			id      int64
			member  string
			outside string
		}{
			{model.OwnerCommittee, e.City.Committee.ID, "committee", "manager"},
			{model.OwnerDepartment, e.City.Department.ID, "department", "committee"},
			{model.OwnerCommunity, e.City.Communities[0].ID, "community", "department"},
		}
		for _, o := range owners {
			t.Run(o.kind, func(t *testing.T) {
				in := e.firmItem()
				in.OwnerKind, in.OwnerID = o.kind, o.id
				id := e.create("community", in).ID
				_, err := e.svc.Act(e.Ctx, e.Actor(o.outside), id, ActClaim, Input{})
				if service.KindOf(err) != service.KindForbidden {
					t.Fatalf("%s claims a %s item: %v", o.outside, o.kind, err)
				}
				if v := e.act(o.member, id, ActClaim, Input{}); v.State != model.ActionClaimed {
					t.Fatalf("%s claims: %s", o.member, v.State)
				}
			})
		}
	})
}

// whoMayActOnFirmItem takes a firm's item through its steps, each tried
// first by those who may not take it.
func whoMayActOnFirmItem(t *testing.T, e *env) {
	id := e.create("community", e.firmItem()).ID
	for _, name := range []string{"community", "committee", "department", "grid"} {
		_, err := e.svc.Act(e.Ctx, e.Actor(name), id, ActClaim, Input{})
		if service.KindOf(err) != service.KindForbidden {
			t.Fatalf("%s claims a firm's item: %v", name, err)
		}
	}
	_, err := e.svc.Act(e.Ctx, e.Actor("community2"), id, ActClaim, Input{})
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	_, err = e.svc.Act(e.Ctx, e.Actor("resident"), id, ActClaim, Input{})
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	_, err = e.svc.Act(e.Ctx, e.Actor("manager"), id, ActDone, Input{Evidence: "已处理"})
	servicetest.WantErr(t, err, service.KindConflict, "state_conflict")
	e.act("worker", id, ActClaim, Input{})
	_, err = e.svc.Act(e.Ctx, e.Actor("manager"), id, ActClaim, Input{})
	servicetest.WantErr(t, err, service.KindConflict, "state_conflict")
	// Evidence photos must be the actor's own.
	other := e.upload("manager")
	_, err = e.svc.Act(e.Ctx, e.Actor("worker"), id, ActDone, Input{Evidence: "已处理", PhotoIDs: []int64{other}})
	servicetest.WantErr(t, err, service.KindUnprocessable, "photo_unavailable")
	e.act("manager", id, ActDone, Input{Evidence: "已处理", PhotoIDs: []int64{other}})
	_, err = e.svc.Act(e.Ctx, e.Actor("manager"), id, ActVerify, Input{})
	servicetest.WantErr(t, err, service.KindForbidden, "own_work")
	for _, name := range []string{"street", "committee"} {
		_, err := e.svc.Act(e.Ctx, e.Actor(name), id, ActVerify, Input{})
		servicetest.WantErr(t, err, service.KindForbidden, "not_organiser")
	}
	if got := len(e.history(id)); got != 3 {
		t.Fatalf("history has %d rows, want create, claim, done", got)
	}
}

// What each person sees of the ledger.
func TestScope(t *testing.T) {
	e := newEnv(t)
	mine := e.create("community", e.firmItem())
	in := e.firmItem()
	in.OwnerKind, in.OwnerID, in.CompoundID = model.OwnerCommunity, e.City.Communities[1].ID, 0
	in.CommunityID = e.City.Communities[1].ID
	theirs := e.create("community2", in)
	ids := func(t *testing.T, name string, f Filter) []int64 {
		t.Helper()
		res, err := e.svc.List(e.Ctx, e.Actor(name), f, service.Page{Limit: 100})
		if err != nil {
			t.Fatalf("%s lists: %v", name, err)
		}
		out := []int64{}
		for _, v := range res.Items {
			out = append(out, v.ID)
		}
		return out
	}
	cases := map[string][]int64{
		"community":  {mine.ID},
		"community2": {theirs.ID},
		"street":     {theirs.ID, mine.ID},
		"city":       {theirs.ID, mine.ID},
		"admin":      {theirs.ID, mine.ID},
		"manager":    {mine.ID}, // the owner firm
		"worker":     {mine.ID},
		"committee":  {mine.ID}, // compound 0's committee oversees its compound
		"department": {},
		"grid":       {},
		"resident":   {},
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ids(t, name, Filter{}); !reflect.DeepEqual(got, want) {
				t.Errorf("%s sees %v, want %v", name, got, want)
			}
		})
	}
	e.Step(t, "one item", func(t *testing.T) {
		if _, err := e.svc.Get(e.Ctx, e.Actor("community2"), mine.ID); service.KindOf(err) != service.KindForbidden {
			t.Fatalf("community2 reads community's item: %v", err)
		}
		if _, err := e.svc.Get(e.Ctx, e.Actor("street"), 99999); service.KindOf(err) != service.KindNotFound {
			t.Fatalf("missing item: %v", err)
		}
	})
	e.Step(t, "narrowed", func(t *testing.T) {
		if got := ids(t, "street", Filter{CommunityID: e.City.Communities[1].ID}); !reflect.DeepEqual(got, []int64{theirs.ID}) {
			t.Fatalf("street narrowed to community 1: %v", got)
		}
	})
}

// The ledger's filters and keyset pages.
func TestLedgerFilters(t *testing.T) {
	e := newEnv(t)
	var all []int64
	for i := 0; i < 5; i++ {
		all = append(all, e.create("community", e.firmItem()).ID)
		e.Clock.Advance(24 * time.Hour)
	}
	in := e.firmItem()
	in.OwnerKind, in.OwnerID = model.OwnerCommittee, e.City.Committee.ID
	in.DueDate = "2026-12-31"
	comm := e.create("community", in).ID
	e.act("manager", all[0], ActClaim, Input{})
	e.act("manager", all[1], ActClaim, Input{})
	e.act("worker", all[1], ActDone, Input{Evidence: "已处理"})

	list := func(t *testing.T, f Filter, p service.Page) service.Paged[View] {
		t.Helper()
		res, err := e.svc.List(e.Ctx, e.Actor("community"), f, p)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	ids := func(res service.Paged[View]) []int64 {
		out := []int64{}
		for _, v := range res.Items {
			out = append(out, v.ID)
		}
		return out
	}
	yes := true
	from := time.Date(2026, 11, 24, 0, 0, 0, 0, calendar.Beijing)
	to := time.Date(2026, 11, 26, 0, 0, 0, 0, calendar.Beijing)
	cases := []struct {
		name string
		f    Filter
		want []int64
	}{
		{"claimed or done", Filter{States: []string{model.ActionClaimed, model.ActionDone}}, []int64{all[1], all[0]}},
		{"committee", Filter{OwnerKind: model.OwnerCommittee}, []int64{comm}},
		{"the firm", Filter{OwnerKind: model.OwnerFirm, OwnerID: e.City.Firm.ID}, []int64{all[4], all[3], all[2], all[1], all[0]}},
		{"raised 24–25 Nov", Filter{From: &from, To: &to}, []int64{all[2], all[1]}},
		{"none overdue", Filter{Overdue: &yes}, []int64{}},
		{"orders", Filter{SourceKind: model.SourceOrder}, []int64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ids(list(t, c.f, service.Page{Limit: 100})); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%v, want %v", got, c.want)
			}
		})
	}
	e.Step(t, "pages of two, newest first, each item once", func(t *testing.T) {
		var seen []int64
		p := service.Page{Limit: 2}
		for {
			res := list(t, Filter{}, p)
			seen = append(seen, ids(res)...)
			if !res.More {
				break
			}
			p.After = res.Items[len(res.Items)-1].ID
		}
		want := []int64{comm, all[4], all[3], all[2], all[1], all[0]}
		if !reflect.DeepEqual(seen, want) {
			t.Fatalf("pages %v, want %v", seen, want)
		}
	})
	e.Step(t, "bad filters", func(t *testing.T) {
		for _, f := range []Filter{{States: []string{"closed"}}, {OwnerKind: "school"}, {SourceKind: "call"}, {From: &to, To: &from}} {
			if _, err := e.svc.List(e.Ctx, e.Actor("community"), f, service.Page{Limit: 10}); service.KindOf(err) != service.KindInvalid {
				t.Errorf("filter %+v: %v", f, err)
			}
		}
	})
}

// Bad inputs are refused with a Chinese message and write nothing.
func TestCreateRefusals(t *testing.T) {
	e := newEnv(t)
	mod := func(f func(in *CreateInput)) CreateInput {
		in := e.firmItem()
		f(&in)
		return in
	}
	cases := []struct {
		name  string
		actor string
		in    CreateInput
		kind  service.Kind
		code  string
	}{
		{"empty title", "community", mod(func(in *CreateInput) { in.Title = "  " }), service.KindInvalid, "bad_title"},
		{"long title", "community", mod(func(in *CreateInput) { in.Title = string(make([]rune, 101)) }), service.KindInvalid, "bad_title"},
		{"owner kind", "community", mod(func(in *CreateInput) { in.OwnerKind = "school" }), service.KindInvalid, "bad_owner_kind"},
		{"no owner", "community", mod(func(in *CreateInput) { in.OwnerID = 0 }), service.KindInvalid, "bad_owner"},
		{"source kind", "community", mod(func(in *CreateInput) { in.SourceKind = "call" }), service.KindInvalid, "bad_source_kind"},
		{"meeting without id", "community", mod(func(in *CreateInput) { in.SourceKind = model.SourceMeeting }), service.KindInvalid, "bad_source"},
		{"due format", "community", mod(func(in *CreateInput) { in.DueDate = "30/11/2026" }), service.KindInvalid, "bad_due_date"},
		{"due past", "community", mod(func(in *CreateInput) { in.DueDate = "2026-11-22" }), service.KindInvalid, "due_date_past"},
		{"due far", "community", mod(func(in *CreateInput) { in.DueDate = "2029-01-01" }), service.KindInvalid, "due_date_far"},
		{"both places", "community", mod(func(in *CreateInput) { in.CommunityID = e.City.Communities[0].ID }), service.KindInvalid, "bad_scope"},
		{"no place", "community", mod(func(in *CreateInput) { in.CompoundID = 0 }), service.KindInvalid, "scope_required"},
		{"unknown compound", "community", mod(func(in *CreateInput) { in.CompoundID = 99999 }), service.KindUnprocessable, "scope_not_found"},
		{"idempotency key", "community", mod(func(in *CreateInput) { in.IdemKey = "有 空格" }), service.KindInvalid, "bad_idempotency_key"},
		{"other community", "community2", e.firmItem(), service.KindForbidden, "create_forbidden"},
		{"a firm", "manager", e.firmItem(), service.KindForbidden, "create_forbidden"},
		{"firm not serving", "community2", mod(func(in *CreateInput) { in.CompoundID = e.City.Compounds[2].ID }), service.KindUnprocessable, "firm_not_serving"},
		{"unknown firm", "community", mod(func(in *CreateInput) { in.OwnerID = 99999 }), service.KindUnprocessable, "owner_not_found"},
		{"committee elsewhere", "community", mod(func(in *CreateInput) {
			in.OwnerKind, in.OwnerID, in.CompoundID = model.OwnerCommittee, e.City.Committee.ID, e.City.Compounds[1].ID
		}), service.KindUnprocessable, "committee_outside_scope"},
		{"another community owns", "community", mod(func(in *CreateInput) {
			in.OwnerKind, in.OwnerID = model.OwnerCommunity, e.City.Communities[1].ID
		}), service.KindUnprocessable, "community_outside_scope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := e.svc.Create(e.Ctx, e.Actor(c.actor), c.in)
			var se *service.Error
			if !errors.As(err, &se) || se.Kind != c.kind || se.Code != c.code {
				t.Fatalf("%v, want %s", err, c.code)
			}
			if !hasHan(se.Message) {
				t.Errorf("message %q is not Chinese", se.Message)
			}
		})
	}
	var n int64
	e.DB.Model(&model.ActionItem{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d items written by refused requests", n)
	}
	// The street may raise items anywhere in it, the department owning
	// those of its area.
	in := mod(func(in *CreateInput) {
		in.OwnerKind, in.OwnerID, in.CompoundID = model.OwnerDepartment, e.City.Department.ID, e.City.Compounds[2].ID
	})
	if v := e.create("street", in); v.OwnerName != e.City.Department.Name {
		t.Fatalf("department item: %+v", v.ActionItem)
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

// The same Idempotency-Key gives back the first item.
func TestIdempotentCreate(t *testing.T) {
	e := newEnv(t)
	in := e.firmItem()
	in.IdemKey = "joint-2026q4-1"
	first, created, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	in.Title = "换了标题"
	again, created, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
	if err != nil || created || again.ID != first.ID || again.Title != first.Title {
		t.Fatalf("again: %v %v %+v", created, err, again.ActionItem)
	}
	var n int64
	e.DB.Model(&model.ActionItem{}).Count(&n)
	if n != 1 || len(e.history(first.ID)) != 1 || e.inbox("manager", "action_item.create") != 1 {
		t.Fatalf("%d items, %d history rows, %d notices", n, len(e.history(first.ID)), e.inbox("manager", "action_item.create"))
	}
	// Another person's same key is their own.
	e.Grant("duty", model.RoleCommunityStaff, model.ScopeCommunity, e.City.Communities[0].ID, e.City.Communities[0].Ancestry)
	other, created, err := e.svc.Create(e.Ctx, e.Actor("duty"), in)
	if err != nil || !created || other.ID == first.ID {
		t.Fatalf("another creator: %v %v", created, err)
	}
}

// insertOrder files an order in compound 0 directly.
func (e *env) insertOrder(state string) model.Order {
	e.T.Helper()
	e.orders++
	o := model.Order{Number: fmt.Sprintf("GD20261123%04d", e.orders), CategoryID: 1, CategoryCode: "environment", State: state,
		Level: model.OrderLevelCommunity, Channel: model.ChannelSelf, AuthorID: e.City.Users["resident"],
		ResidentID: e.City.Users["resident"], Description: "小区东门外占道经营，多次劝离无效", Ancestry: e.City.Buildings[0].Ancestry}
	if err := e.DB.Create(&o).Error; err != nil {
		e.T.Fatal(err)
	}
	return o
}

// An order the community cannot close alone becomes an item of its
// compound; the order and its timeline stay as they were.
func TestFromOrder(t *testing.T) {
	e := newEnv(t)
	o := e.insertOrder(model.StateVerified)
	ev := model.OrderEvent{OrderID: o.ID, Action: "submit", ActorID: o.AuthorID, ToState: o.State, CreatedAt: e.Clock.Now()}
	e.DB.Create(&ev)
	var before model.Order
	e.DB.Take(&before, o.ID)
	in := CreateInput{Title: "东门外占道经营需执法队处置", OwnerKind: model.OwnerDepartment, OwnerID: e.City.Department.ID,
		DueDate: "2026-12-05", SourceKind: model.SourceOrder, SourceID: o.ID}
	v := e.create("community", in)
	if v.SourceID != o.ID || v.CompoundID != e.City.Compounds[0].ID || v.ScopeKind != model.ScopeCompound ||
		v.GridID != 0 || v.BuildingID != 0 || v.SourceLabel != "工单 "+o.Number {
		t.Fatalf("from order: %+v (%s)", v.ActionItem, v.SourceLabel)
	}
	var after model.Order
	e.DB.Take(&after, o.ID)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("the order changed:\n%+v\n%+v", before, after)
	}
	var evs int64
	e.DB.Model(&model.OrderEvent{}).Where("order_id = ?", o.ID).Count(&evs)
	if evs != 1 {
		t.Fatalf("the order's timeline has %d rows", evs)
	}
	e.Step(t, "who may not and what may not become an item", func(t *testing.T) {
		_, _, err := e.svc.Create(e.Ctx, e.Actor("community2"), in)
		servicetest.WantErr(t, err, service.KindForbidden, "create_forbidden")
		_, _, err = e.svc.Create(e.Ctx, e.Actor("grid"), in)
		servicetest.WantErr(t, err, service.KindForbidden, "create_forbidden")
		in.SourceID = 99999
		_, _, err = e.svc.Create(e.Ctx, e.Actor("community"), in)
		servicetest.WantErr(t, err, service.KindNotFound, "order_not_found")
		in.SourceID = e.insertOrder(model.StateCancelled).ID
		_, _, err = e.svc.Create(e.Ctx, e.Actor("community"), in)
		servicetest.WantErr(t, err, service.KindUnprocessable, "order_not_open")
		in.SourceID, in.CompoundID = o.ID, e.City.Compounds[1].ID
		_, _, err = e.svc.Create(e.Ctx, e.Actor("community"), in)
		servicetest.WantErr(t, err, service.KindUnprocessable, "scope_outside_source")
	})
}

// insertMeeting records a meeting of compound 0 organised by a demo user.
func (e *env) insertMeeting(organiser, state string) model.Meeting {
	e.T.Helper()
	start := e.Clock.Now().Add(-2 * time.Hour)
	m := model.Meeting{Kind: model.MeetingJoint, Title: "四季度物业联席会议", OrganiserID: e.City.Users[organiser],
		OrganiserRole: model.RoleCommittee, ScopeKind: model.ScopeCompound, ScopeID: e.City.Compounds[0].ID,
		Ancestry: e.City.Compounds[0].Ancestry, State: state, StartsAt: start, EndsAt: start.Add(time.Hour)}
	if err := e.DB.Create(&m).Error; err != nil {
		e.T.Fatal(err)
	}
	return m
}

// A meeting's resolution: its organiser verifies, whoever records it.
func TestFromMeeting(t *testing.T) {
	e := newEnv(t)
	m := e.insertMeeting("committee", model.MeetingHeld)
	in := CreateInput{Title: "更换3号门禁", OwnerKind: model.OwnerFirm, OwnerID: e.City.Firm.ID, DueDate: "2026-12-15",
		SourceKind: model.SourceMeeting, SourceID: m.ID}
	byCommittee := e.create("committee", in)
	byCommunity := e.create("community", in)
	for _, v := range []View{byCommittee, byCommunity} {
		if v.OrganiserID != e.City.Users["committee"] || v.CompoundID != e.City.Compounds[0].ID ||
			v.SourceLabel != "会议「四季度物业联席会议」" {
			t.Fatalf("from meeting: %+v %s", v.ActionItem, v.SourceLabel)
		}
	}
	if byCommunity.CreatorID != e.City.Users["community"] {
		t.Fatal("creator lost")
	}
	e.act("manager", byCommunity.ID, ActClaim, Input{})
	e.act("manager", byCommunity.ID, ActDone, Input{Evidence: "门禁已更换"})
	_, err := e.svc.Act(e.Ctx, e.Actor("community"), byCommunity.ID, ActVerify, Input{})
	servicetest.WantErr(t, err, service.KindForbidden, "not_organiser")
	if v := e.act("committee", byCommunity.ID, ActVerify, Input{}); v.State != model.ActionVerified {
		t.Fatalf("verify: %s", v.State)
	}

	e.Step(t, "who may not and which meetings may not", func(t *testing.T) {
		_, _, err = e.svc.Create(e.Ctx, e.Actor("community2"), in)
		servicetest.WantErr(t, err, service.KindForbidden, "create_forbidden")
		_, _, err = e.svc.Create(e.Ctx, e.Actor("manager"), in)
		servicetest.WantErr(t, err, service.KindForbidden, "create_forbidden")
		in2 := in
		in2.CompoundID = e.City.Compounds[1].ID
		_, _, err = e.svc.Create(e.Ctx, e.Actor("committee"), in2)
		servicetest.WantErr(t, err, service.KindUnprocessable, "scope_outside_source")
		in2 = in
		for _, st := range []string{model.MeetingDraft, model.MeetingScheduled, model.MeetingCancelled} {
			in2.SourceID = e.insertMeeting("committee", st).ID
			_, _, err = e.svc.Create(e.Ctx, e.Actor("committee"), in2)
			servicetest.WantErr(t, err, service.KindUnprocessable, "meeting_not_held")
		}
		in2.SourceID = 99999
		_, _, err = e.svc.Create(e.Ctx, e.Actor("committee"), in2)
		servicetest.WantErr(t, err, service.KindNotFound, "meeting_not_found")
	})
}

// The overdue tick marks an item once, writes one history row and tells
// the organiser once, however often it runs; items done in time or not
// yet due are left alone.
func TestTickOverdueOnce(t *testing.T) {
	e := newEnv(t)
	late := e.create("community", e.firmItem()).ID
	claimed := e.create("community", e.firmItem()).ID
	e.act("manager", claimed, ActClaim, Input{})
	finished := e.create("community", e.firmItem()).ID
	e.act("manager", finished, ActClaim, Input{})
	e.act("manager", finished, ActDone, Input{Evidence: "已处理"})
	in := e.firmItem()
	in.DueDate = "2026-12-31"
	later := e.create("community", in).ID

	if n, err := e.svc.Tick(e.Ctx); err != nil || n != 0 {
		t.Fatalf("tick before the due date: %d %v", n, err)
	}
	e.Clock.Set(time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)) // 2026-12-01 00:00 Beijing
	for i, want := range []int{2, 0, 0} {
		n, err := e.svc.Tick(e.Ctx)
		if err != nil || n != want {
			t.Fatalf("tick %d: marked %d (%v), want %d", i, n, err, want)
		}
	}
	for id, want := range map[int64]bool{late: true, claimed: true, finished: false, later: false} {
		it, _ := load(e.Ctx, e.DB, id)
		if it.Overdue != want {
			t.Errorf("item %d overdue %v, want %v", id, it.Overdue, want)
		}
		rows := 0
		for _, ev := range e.history(id) {
			if ev.Action == ActOverdue {
				rows++
				if ev.ActorID != 0 || ev.FromState != it.State || ev.ToState != it.State {
					t.Errorf("overdue row %+v", ev)
				}
			}
		}
		if (rows == 1) != want || rows > 1 {
			t.Errorf("item %d has %d overdue rows", id, rows)
		}
	}
	if got := e.inbox("community", "action_item.overdue"); got != 2 {
		t.Fatalf("organiser has %d overdue notices, want 2", got)
	}
	var outbox int64
	e.DB.Model(&model.Outbox{}).Where("event = ?", "action_item.overdue").Count(&outbox)
	if outbox != 2 {
		t.Fatalf("%d overdue pushes queued, want 2", outbox)
	}
	e.Step(t, "work finished after the due date", func(t *testing.T) {
		// Work finished after the due date is overdue too.
		e.act("manager", claimed, ActDone, Input{Evidence: "迟了两天"})
		e.act("manager", later, ActClaim, Input{})
		e.Clock.Set(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
		if v := e.act("manager", later, ActDone, Input{Evidence: "迟了"}); !v.Overdue {
			t.Fatal("late work not marked overdue")
		}
		yes := true
		res, err := e.svc.List(e.Ctx, e.Actor("community"), Filter{Overdue: &yes}, service.Page{Limit: 10})
		if err != nil || len(res.Items) != 3 {
			t.Fatalf("overdue filter: %d items, %v", len(res.Items), err)
		}
	})
}

// Two scheduler instances at once still mark and report each item once.
func TestTickTwoInstances(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrent ticks need MariaDB: SQLite serialises every writer on one connection")
	}
	e := newEnv(t)
	for i := 0; i < 20; i++ {
		e.create("community", e.firmItem())
	}
	e.Clock.Set(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	other := New(e.DB, e.Clock, e.svc.msgs, e.photos, Options{})
	var wg sync.WaitGroup
	counts := make([]int, 2)
	for i, s := range []*Service{e.svc, other} {
		wg.Add(1)
		go func(i int, s *Service) {
			defer wg.Done()
			n, err := s.Tick(e.Ctx)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		}(i, s)
	}
	wg.Wait()
	if counts[0]+counts[1] != 20 {
		t.Fatalf("marked %v, want 20 in all", counts)
	}
	var rows, msgs int64
	e.DB.Model(&model.ActionItemEvent{}).Where("action = ?", ActOverdue).Count(&rows)
	e.DB.Model(&model.Message{}).Where("event = ?", "action_item.overdue").Count(&msgs)
	if rows != 20 || msgs != 20 {
		t.Fatalf("%d overdue rows and %d notices, want 20 each", rows, msgs)
	}
}

// Two members claim at once: one wins, the other gets 409 with the
// state the winner left; the history has one claim.
func TestClaimRace(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("races need MariaDB: SQLite serialises every writer on one connection")
	}
	e := newEnv(t)
	a, b := e.Actor("manager"), e.Actor("worker")
	for round := 0; round < 10; round++ {
		id := e.create("community", e.firmItem()).ID
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, who := range []*service.Actor{a, b} {
			wg.Add(1)
			go func(i int, who *service.Actor) {
				defer wg.Done()
				<-start
				_, errs[i] = e.svc.Act(e.Ctx, who, id, ActClaim, Input{})
			}(i, who)
		}
		close(start)
		wg.Wait()
		won, lost := 0, 0
		for _, err := range errs {
			var se *service.Error
			switch {
			case err == nil:
				won++
			case errors.As(err, &se) && se.Kind == service.KindConflict:
				lost++
				if d, _ := se.Detail.(map[string]any); d["state"] != model.ActionClaimed {
					t.Fatalf("loser sees %v", se.Detail)
				}
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 || lost != 1 {
			t.Fatalf("round %d: %d won, %d lost", round, won, lost)
		}
		claims := 0
		for _, ev := range e.history(id) {
			if ev.Action == ActClaim {
				claims++
			}
		}
		if claims != 1 {
			t.Fatalf("round %d: %d claim rows", round, claims)
		}
	}
}

// The export holds one header row and one row per item the actor sees,
// with the item's values in Chinese.
func TestExport(t *testing.T) {
	e := newEnv(t)
	first := e.create("community", e.firmItem())
	e.act("manager", first.ID, ActClaim, Input{})
	e.act("worker", first.ID, ActDone, Input{Evidence: "杂物已清运"})
	e.Clock.Advance(time.Hour)
	e.act("community", first.ID, ActVerify, Input{})
	in := e.firmItem()
	in.Title, in.OwnerKind, in.OwnerID = "业委会公示维修资金使用情况", model.OwnerCommittee, e.City.Committee.ID
	second := e.create("community", in)
	in2 := e.firmItem()
	in2.OwnerKind, in2.OwnerID, in2.CompoundID = model.OwnerCommunity, e.City.Communities[1].ID, 0
	in2.CommunityID = e.City.Communities[1].ID
	e.create("community2", in2) // not community's to see

	wb, err := e.svc.Export(e.Ctx, e.Actor("community"), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	var buf bytes.Buffer
	if _, err := wb.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if wb.Rows != 2 || wb.Filename != "整改台账_20261123.xlsx" {
		t.Fatalf("%d rows, file %q", wb.Rows, wb.Filename)
	}
	rows := readSheet(t, buf.Bytes())
	want := [][]string{
		{"编号", "事项", "所属小区/社区", "责任单位", "截止日期", "状态", "是否逾期", "认领人", "办结时间", "验收时间", "来源", "整改情况"},
		{"ZG20261123-2", "业委会公示维修资金使用情况", "金日天玺", "金日天玺业主委员会", "2026-11-30", "待认领", "否", "", "", "", "检查", ""},
		{"ZG20261123-1", "金日天玺2号楼消防通道堆放杂物", "金日天玺", "红心物业服务有限公司", "2026-11-30", "已验收", "否",
			"物业经理孙经理", "2026-11-23 10:00", "2026-11-23 11:00", "检查", "杂物已清运"},
	}
	want[1][0] = Number(second.ActionItem)
	want[2][0] = Number(first.ActionItem)
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("sheet:\n%q\nwant\n%q", rows, want)
	}
	// The second sheet is each item's history, items in the same order.
	x, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	hist, err := x.GetRows(HistorySheet)
	x.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range hist[1:] {
		got = append(got, r[0]+" "+r[2]+" "+r[3])
	}
	wantHist := []string{
		want[1][0] + " 登记 社区张书记",
		want[2][0] + " 登记 社区张书记", want[2][0] + " 认领 物业经理孙经理", want[2][0] + " 办结 维修工周师傅", want[2][0] + " 验收 社区张书记",
	}
	if hist[0][0] != "编号" || fmt.Sprint(got) != fmt.Sprint(wantHist) {
		t.Fatalf("history sheet:\n%q\nwant\n%q", got, wantHist)
	}

	e.Step(t, "over the cap", func(t *testing.T) {
		// Over the cap: refused before anything is built.
		small := New(e.DB, e.Clock, nil, nil, Options{ExportMaxRows: 1})
		_, err = small.Export(e.Ctx, e.Actor("community"), Filter{})
		servicetest.WantErr(t, err, service.KindUnprocessable, "export_too_large")
		if wb, err := small.Export(e.Ctx, e.Actor("community"), Filter{States: []string{model.ActionOpen}}); err != nil || wb.Rows != 1 {
			t.Fatalf("narrowed export: %v", err)
		} else {
			wb.Close()
		}
	})
	e.Step(t, "someone who sees nothing", func(t *testing.T) {
		// Someone who sees nothing gets a header row only.
		wb2, err := e.svc.Export(e.Ctx, e.Actor("resident"), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		defer wb2.Close()
		buf.Reset()
		wb2.WriteTo(&buf)
		if rows := readSheet(t, buf.Bytes()); len(rows) != 1 {
			t.Fatalf("resident's export has %d rows", len(rows))
		}
	})
}

func readSheet(t *testing.T, raw []byte) [][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("open export: %v", err)
	}
	defer f.Close()
	if sheets := f.GetSheetList(); len(sheets) != 2 || sheets[0] != SheetName || sheets[1] != HistorySheet {
		t.Fatalf("sheets %v", sheets)
	}
	rows, err := f.GetRows(SheetName)
	if err != nil {
		t.Fatal(err)
	}
	// GetRows drops trailing empty cells; pad to the header's width.
	for i := range rows {
		for len(rows[i]) < len(exportColumns) {
			rows[i] = append(rows[i], "")
		}
	}
	if w, err := f.GetColWidth(SheetName, "B"); err != nil || w != 36 {
		t.Fatalf("column B width %v (%v)", w, err)
	}
	// Set up for printing: landscape, one page wide, the header on every page.
	if pl, err := f.GetPageLayout(SheetName); err != nil || pl.Orientation == nil || *pl.Orientation != "landscape" ||
		pl.FitToWidth == nil || *pl.FitToWidth != 1 {
		t.Fatalf("page layout %+v (%v)", pl, err)
	}
	if sp, err := f.GetSheetProps(SheetName); err != nil || sp.FitToPage == nil || !*sp.FitToPage {
		t.Fatalf("sheet props %+v (%v)", sp, err)
	}
	titles := false
	for _, dn := range f.GetDefinedName() {
		titles = titles || (dn.Name == "_xlnm.Print_Titles" && dn.RefersTo == SheetName+"!$1:$1")
	}
	if !titles {
		t.Fatalf("no print titles: %+v", f.GetDefinedName())
	}
	return rows
}

// An export bigger than one read batch: every item once, newest first.
func TestExportManyRows(t *testing.T) {
	e := newEnv(t)
	proto, _, err := e.svc.Create(e.Ctx, e.Actor("community"), e.firmItem())
	if err != nil {
		t.Fatal(err)
	}
	const extra = 2*exportBatch + 34
	rows := make([]model.ActionItem, extra)
	for i := range rows {
		rows[i] = proto.ActionItem
		rows[i].ID, rows[i].IdemKey = 0, nil
		rows[i].Title = fmt.Sprintf("第%d项", i+1)
	}
	if err := e.DB.CreateInBatches(rows, 200).Error; err != nil {
		t.Fatal(err)
	}
	wb, err := e.svc.Export(e.Ctx, e.Actor("street"), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	var buf bytes.Buffer
	if _, err := wb.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	got := readSheet(t, buf.Bytes())
	if wb.Rows != extra+1 || len(got) != extra+2 {
		t.Fatalf("%d items, %d sheet rows, want %d", wb.Rows, len(got), extra+1)
	}
	if got[1][1] != fmt.Sprintf("第%d项", extra) || got[len(got)-2][1] != "第1项" || got[len(got)-1][1] != proto.Title {
		t.Fatalf("order: %q … %q, %q", got[1][1], got[len(got)-2][1], got[len(got)-1][1])
	}
}

// Exports hold tens of MB each at the cap: one instance builds a bounded
// number at once and refuses the next with 429 until one is written out.
func TestExportsAreBoundedPerInstance(t *testing.T) {
	e := newEnv(t)
	svc := New(e.DB, e.Clock, e.svc.msgs, e.photos, Options{Exports: 1})
	first, err := svc.Export(e.Ctx, e.Actor("community"), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Export(e.Ctx, e.Actor("street"), Filter{})
	servicetest.WantErr(t, err, service.KindRateLimited, "export_busy")
	// A refused export (out of scope) does not keep its place either.
	first.Close()
	if _, err := svc.Export(e.Ctx, nil, Filter{}); err == nil {
		t.Fatal("export without an actor")
	}
	again, err := svc.Export(e.Ctx, e.Actor("street"), Filter{})
	if err != nil {
		t.Fatalf("after the first was written: %v", err)
	}
	again.Close()
}

// Organisers act for an organisation: a community worker whose grant was
// revoked keeps nothing of its items, and nobody verifies their own work.
func TestOrganiserNeedsALiveGrantAndCannotVerifyOwnWork(t *testing.T) {
	e := newEnv(t)
	in := e.firmItem()
	in.OwnerKind, in.OwnerID, in.CompoundID, in.CommunityID = model.OwnerCommunity, e.City.Communities[0].ID, 0, e.City.Communities[0].ID
	it := e.create("community", in)
	e.act("community", it.ID, ActClaim, Input{})
	e.act("community", it.ID, ActDone, Input{Evidence: "已清理"})
	_, err := e.svc.Act(e.Ctx, e.Actor("community"), it.ID, ActVerify, Input{})
	servicetest.WantErr(t, err, service.KindForbidden, "own_work")
	// The organiser did the work: another holder of a ledger role over the
	// item decides, so the item does not stay undecided.
	if v := e.act("street", it.ID, ActVerify, Input{}); v.State != model.ActionVerified {
		t.Fatalf("verified by the street: %s", v.State)
	}

	e.Step(t, "a revoked organiser keeps nothing", func(t *testing.T) {
		other := e.create("community", e.firmItem())
		if err := e.DB.Model(&model.Grant{}).Where("user_id = ?", e.City.Users["community"]).
			Update("revoked_at", e.Clock.Now()).Error; err != nil {
			t.Fatal(err)
		}
		e.Forget("community")
		if _, err := e.svc.Get(e.Ctx, e.Actor("community"), other.ID); err == nil {
			t.Fatal("a former community worker still sees the items they raised")
		}
		page, err := e.svc.List(e.Ctx, e.Actor("community"), Filter{}, service.Page{Limit: 10})
		if err != nil || len(page.Items) != 0 {
			t.Fatalf("former worker's ledger: %d items, %v", len(page.Items), err)
		}
	})
}

// The tick reports through the logger it was given: a pass that marked
// items is an info line there, a failed pass an error line.
func TestTickLogsThroughOptions(t *testing.T) {
	e := newEnv(t)
	e.create("community", e.firmItem())
	e.Clock.Set(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	// run runs the loop until its first log line and returns that line.
	run := func(t *testing.T, db *gorm.DB) string {
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(e.Ctx, 30*time.Second)
		defer cancel()
		log := slog.New(stopAfter{slog.NewJSONHandler(&out, nil), cancel})
		New(db, e.Clock, e.svc.msgs, e.photos, Options{Log: log}).Run(ctx, time.Hour)
		if ctx.Err() == context.DeadlineExceeded {
			t.Fatal("the tick logged nothing")
		}
		return out.String()
	}
	e.Step(t, "a marking pass", func(t *testing.T) {
		if line := run(t, e.DB); !strings.Contains(line, `"level":"INFO"`) || !strings.Contains(line, `"overdue":1`) {
			t.Fatalf("log line %s", line)
		}
	})
	e.Step(t, "a failed pass", func(t *testing.T) {
		// A database without the tables: every query of the pass fails.
		empty, err := model.Open("", "file:action-tick-broken?mode=memory", nil)
		if err != nil {
			t.Fatal(err)
		}
		if sqlDB, err := empty.DB(); err == nil {
			t.Cleanup(func() { sqlDB.Close() })
		}
		if line := run(t, empty); !strings.Contains(line, `"level":"ERROR"`) || !strings.Contains(line, "action item tick failed") {
			t.Fatalf("log line %s", line)
		}
	})
}

// stopAfter is a log handler that ends the loop after its first line.
type stopAfter struct {
	slog.Handler
	stop context.CancelFunc
}

func (h stopAfter) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	h.stop()
	return err
}
