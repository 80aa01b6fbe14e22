package inspection

import (
	"errors"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/action"
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/order"
	"redprop/service/photo"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

type env struct {
	*servicetest.City
	svc     *Service
	actions *action.Service
	orders  *order.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t, order.SeedCategories)
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), message.Config{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	photos := photo.New(c.DB, photo.NewLocalStorage(t.TempDir()), c.Clock, 1<<20, 0)
	orders := order.New(c.DB, c.Clock, calendar.New(c.DB, c.Clock), photos, msgs, order.Options{})
	actions := action.New(c.DB, c.Clock, msgs, photos, action.Options{})
	return &env{City: c, svc: New(c.DB, c.Clock, orders, actions, photos), actions: actions, orders: orders}
}

// sheet is the default checklist in force at compound 0.
func (e *env) sheet() ChecklistView {
	e.T.Helper()
	list, err := e.svc.InForce(e.Ctx, e.Actor("community"), e.Compounds[0].ID)
	if err != nil || len(list) == 0 {
		e.T.Fatalf("in force: %v %v", list, err)
	}
	v, err := e.svc.Checklist(e.Ctx, e.Actor("community"), list[0].ID, 0)
	if err != nil {
		e.T.Fatal(err)
	}
	return v
}

func (e *env) count(table any) int64 {
	e.T.Helper()
	var n int64
	if err := e.DB.Model(table).Count(&n).Error; err != nil {
		e.T.Fatal(err)
	}
	return n
}

func TestDefaultChecklist(t *testing.T) {
	e := newEnv(t)
	v := e.sheet()
	if v.ScopeKind != model.ScopeAll || v.Version.Number != 1 || v.Version.TotalPoints != 100 || len(v.Items) != 16 {
		t.Fatalf("default sheet %s v%d, %d points, %d items", v.ScopeKind, v.Version.Number, v.Version.TotalPoints, len(v.Items))
	}
	sections := map[string]bool{}
	for _, it := range v.Items {
		sections[it.Section] = true
	}
	if len(sections) != len(Sections) {
		t.Fatalf("sections %v", sections)
	}
	// Everyone with a grant reads it; the resident has none.
	if _, err := e.svc.Checklist(e.Ctx, e.Actor("manager"), v.ID, 0); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Checklist(e.Ctx, e.Actor("resident"), v.ID, 0)
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	_, err = e.svc.AddVersion(e.Ctx, e.Actor("city"), v.ID, VersionInput{Items: []ItemInput{{Section: model.SectionParty, Title: "x", Points: 1, Rule: model.RuleWhole}}})
	servicetest.WantErr(t, err, service.KindForbidden, "checklist_forbidden")
}

func TestChecklistVersions(t *testing.T) {
	e := newEnv(t)
	items := []ItemInput{
		{Section: model.SectionEnvironment, Title: "楼道保洁", Points: 60, Rule: model.RulePartial},
		{Section: model.SectionFireSafety, Title: "消防通道畅通", Points: 40, Rule: model.RuleWhole},
	}
	t.Run("refusals", func(t *testing.T) {
		in := ChecklistInput{Name: "文昌路街道检查表", ScopeKind: model.ScopeStreet, ScopeID: e.StreetID, Items: items}
		_, err := e.svc.CreateChecklist(e.Ctx, e.Actor("community"), in)
		servicetest.WantErr(t, err, service.KindForbidden, "checklist_forbidden")
		bad := []struct {
			mod  func(*ChecklistInput)
			code string
		}{
			{func(in *ChecklistInput) { in.Name = "" }, "bad_name"},
			{func(in *ChecklistInput) { in.ScopeKind = model.ScopeCommunity }, "bad_scope"},
			{func(in *ChecklistInput) { in.Items = nil }, "bad_items"},
			{func(in *ChecklistInput) {
				in.Items = []ItemInput{{Section: "roof", Title: "a", Points: 1, Rule: model.RuleWhole}}
			}, "bad_section"},
			{func(in *ChecklistInput) {
				in.Items = []ItemInput{{Section: model.SectionParty, Title: "a", Points: 0, Rule: model.RuleWhole}}
			}, "bad_points"},
			{func(in *ChecklistInput) {
				in.Items = []ItemInput{{Section: model.SectionParty, Title: "a", Points: 1, Rule: "some"}}
			}, "bad_rule"},
			{func(in *ChecklistInput) { in.Items = append(items[:1:1], items[0]) }, "bad_item_title"},
		}
		for _, b := range bad {
			in := ChecklistInput{Name: "文昌路街道检查表", ScopeKind: model.ScopeStreet, ScopeID: e.StreetID, Items: items}
			b.mod(&in)
			_, err := e.svc.CreateChecklist(e.Ctx, e.Actor("street"), in)
			servicetest.WantErr(t, err, service.KindInvalid, b.code)
		}
		in.ScopeID = 999999
		_, err = e.svc.CreateChecklist(e.Ctx, e.Actor("street"), in)
		servicetest.WantErr(t, err, service.KindUnprocessable, "scope_not_found")
	})
	v1, err := e.svc.CreateChecklist(e.Ctx, e.Actor("street"), ChecklistInput{Name: "文昌路街道检查表",
		ScopeKind: model.ScopeStreet, ScopeID: e.StreetID, Note: "首版", Items: items})
	if err != nil || v1.Version.Number != 1 || v1.Version.TotalPoints != 100 {
		t.Fatalf("create: %+v %v", v1.Version, err)
	}
	t.Run("the street's sheet is in force before the default", func(t *testing.T) {
		if got := e.sheet(); got.ID != v1.ID {
			t.Fatalf("in force %d, want %d", got.ID, v1.ID)
		}
		// Compound 2 lies in the same street.
		list, err := e.svc.InForce(e.Ctx, e.Actor("community2"), e.Compounds[2].ID)
		if err != nil || len(list) != 2 || list[0].ID != v1.ID || list[1].ScopeKind != model.ScopeAll {
			t.Fatalf("in force at compound 2: %+v %v", list, err)
		}
		_, err = e.svc.InForce(e.Ctx, e.Actor("community2"), e.Compounds[0].ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	})
	ins := e.inspect("community", CreateInput{CompoundID: e.Compounds[0].ID, Kind: model.InspectionDaily, DefaultResult: model.ResultPass})
	v2, err := e.svc.AddVersion(e.Ctx, e.Actor("street"), v1.ID, VersionInput{Note: "加党建",
		Items: append(items, ItemInput{Section: model.SectionParty, Title: "党员亮身份", Points: 10, Rule: model.RuleWhole})})
	if err != nil || v2.Version.Number != 2 || v2.Latest != 2 || len(v2.Items) != 3 || len(v2.Versions) != 2 {
		t.Fatalf("version 2: %+v %v", v2, err)
	}
	t.Run("an old version is never changed, and the inspection keeps it", func(t *testing.T) {
		old, err := e.svc.Checklist(e.Ctx, e.Actor("community"), v1.ID, 1)
		if err != nil || len(old.Items) != 2 || old.Version.TotalPoints != 100 || old.Items[0].ID != v1.Items[0].ID {
			t.Fatalf("version 1 now: %+v %v", old, err)
		}
		got, err := e.svc.Get(e.Ctx, e.Actor("community"), ins.ID)
		if err != nil || got.ChecklistNumber != 1 || got.ChecklistVersionID != v1.Version.ID || len(got.Items) != 2 {
			t.Fatalf("inspection %+v %v", got.Inspection, err)
		}
		next := e.inspect("community", CreateInput{CompoundID: e.Compounds[0].ID, Kind: model.InspectionDaily, DefaultResult: model.ResultPass})
		if next.ChecklistNumber != 2 || len(next.Items) != 3 {
			t.Fatalf("a new inspection uses v%d", next.ChecklistNumber)
		}
		_, err = e.svc.Checklist(e.Ctx, e.Actor("community"), v1.ID, 3)
		servicetest.WantErr(t, err, service.KindNotFound, "checklist_version_not_found")
	})
}

func (e *env) inspect(name string, in CreateInput) View {
	e.T.Helper()
	v, created, err := e.svc.Create(e.Ctx, e.Actor(name), in)
	if err != nil || (!created && in.IdemKey == "") {
		e.T.Fatalf("inspect by %s: %v", name, err)
	}
	return v
}

// itemOf finds an item of the default sheet by title.
func itemOf(v ChecklistView, title string) model.ChecklistItem {
	for _, it := range v.Items {
		if it.Title == title {
			return it
		}
	}
	panic("no item " + title)
}

func TestInspectionRaisesAndScores(t *testing.T) {
	e := newEnv(t)
	sheet := e.sheet()
	clean := itemOf(sheet, "楼道及公共区域保洁") // 8 points, partial
	fire := itemOf(sheet, "消防通道畅通")     // 6 points, whole
	green := itemOf(sheet, "绿地无侵占")     // 4 points, whole
	photo := e.Photo("community")
	in := CreateInput{CompoundID: e.Compounds[0].ID, Kind: model.InspectionMonthly, DefaultResult: model.ResultPass,
		Notes: "11月月考", PhotoIDs: []int64{photo}, IdemKey: "insp-1",
		Items: []ResultInput{
			{ItemID: clean.ID, Result: model.ResultDeduct, Deduct: 3, Note: "2号楼楼道有积尘",
				Raise: &RaiseInput{Kind: RaiseOrder, DueDate: "2026-11-25"}},
			{ItemID: fire.ID, Result: model.ResultDeduct, Note: "东侧通道堆放装修垃圾",
				Raise: &RaiseInput{Kind: RaiseAction, DueDate: "2026-11-30"}},
			{ItemID: green.ID, Result: model.ResultNA},
		}}
	v := e.inspect("community", in)
	t.Run("score over the applicable items, normalised to 100", func(t *testing.T) {
		// 100 points less the 4 not applicable; 3 and 6 deducted.
		if v.Possible != 96 || v.Earned != 87 || !v.Scored || v.Score != 90.63 || v.Failed != 2 {
			t.Fatalf("score %d/%d = %v (%v), failed %d", v.Earned, v.Possible, v.Score, v.Scored, v.Failed)
		}
		if v.FirmID != e.Firm.ID || v.InspectorRole != model.RoleCommunityStaff || v.ChecklistID != sheet.ID || len(v.Items) != 16 {
			t.Fatalf("inspection %+v", v.Inspection)
		}
	})
	var orderID, actionID int64
	for _, it := range v.Items {
		switch it.ChecklistItemID {
		case clean.ID:
			orderID = it.OrderID
		case fire.ID:
			actionID = it.ActionItemID
			if it.Deduct != 6 {
				t.Fatalf("a whole-rule item deducts all its points: %d", it.Deduct)
			}
		}
	}
	t.Run("the failed item raised an order dispatched to the firm", func(t *testing.T) {
		o, err := model.ByID[model.Order](e.Ctx, e.DB, orderID)
		if err != nil || o.State != model.StateDispatched || o.HandlerKind != model.HandlerFirm || o.HandlerID != e.Firm.ID ||
			o.Channel != model.ChannelInspection || o.CompoundID != e.Compounds[0].ID || o.CategoryCode != "environment" ||
			o.AuthorID != e.UserID("community") || o.DueAt == nil || v.Orders[orderID] != o.Number {
			t.Fatalf("raised order %+v %v", o, err)
		}
		if want := time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC); !o.DueAt.Equal(want) {
			t.Fatalf("due %v, want %v", o.DueAt, want)
		}
		it, found, err := model.InspectionItemOfOrder(e.Ctx, e.DB, orderID)
		if err != nil || !found || it.InspectionID != v.ID {
			t.Fatalf("the order's inspection item %+v %v", it, err)
		}
		// The firm takes it up like any other order.
		if _, err := e.orders.Act(e.Ctx, e.Actor("manager"), orderID, order.ActAccept, order.Input{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("and an action item owned by the firm, naming the inspection", func(t *testing.T) {
		a, err := e.actions.Get(e.Ctx, e.Actor("community"), actionID)
		if err != nil || a.OwnerKind != model.OwnerFirm || a.OwnerID != e.Firm.ID || a.SourceKind != model.SourceInspection ||
			a.SourceID != v.ID || a.CompoundID != e.Compounds[0].ID || a.DueDate != "2026-11-30" {
			t.Fatalf("action item %+v %v", a.ActionItem, err)
		}
	})
	t.Run("a retry with the same key is the first inspection", func(t *testing.T) {
		again, created, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
		if err != nil || created || again.ID != v.ID {
			t.Fatalf("retry: %d %v %v", again.ID, created, err)
		}
		if n := e.count(&model.Inspection{}); n != 1 {
			t.Fatalf("%d inspections", n)
		}
	})
	t.Run("one step: a raise that fails writes nothing", func(t *testing.T) {
		orders, actions := e.count(&model.Order{}), e.count(&model.ActionItem{})
		bad := in
		bad.IdemKey = ""
		bad.Items = []ResultInput{in.Items[1], {ItemID: clean.ID, Result: model.ResultDeduct, Deduct: 1,
			Raise: &RaiseInput{Kind: RaiseOrder, CategoryCode: "no_such"}}}
		_, _, err := e.svc.Create(e.Ctx, e.Actor("community"), bad)
		servicetest.WantErr(t, err, service.KindUnprocessable, "bad_category")
		if e.count(&model.Inspection{}) != 1 || e.count(&model.Order{}) != orders || e.count(&model.ActionItem{}) != actions {
			t.Fatal("a refused inspection left rows behind")
		}
	})
	t.Run("the firm's manager answers a failed item once", func(t *testing.T) {
		var failed, passed int64
		for _, it := range v.Items {
			if it.ChecklistItemID == clean.ID {
				failed = it.ID
			}
			if it.Result == model.ResultPass && passed == 0 {
				passed = it.ID
			}
		}
		_, err := e.svc.Answer(e.Ctx, e.Actor("worker"), v.ID, failed, "已安排保洁")
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.svc.Answer(e.Ctx, e.Actor("community"), v.ID, failed, "已安排保洁")
		servicetest.WantErr(t, err, service.KindForbidden, "answer_forbidden")
		_, err = e.svc.Answer(e.Ctx, e.Actor("manager"), v.ID, passed, "谢谢")
		servicetest.WantErr(t, err, service.KindUnprocessable, "answer_not_needed")
		_, err = e.svc.Answer(e.Ctx, e.Actor("manager"), v.ID, failed, "")
		servicetest.WantErr(t, err, service.KindInvalid, "bad_answer")
		got, err := e.svc.Answer(e.Ctx, e.Actor("manager"), v.ID, failed, "已安排保洁当日重新清扫")
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range got.Items {
			if it.ID == failed && (it.Answer != "已安排保洁当日重新清扫" || it.AnsweredBy != e.UserID("manager") || it.AnsweredAt == nil) {
				t.Fatalf("answer %+v", it)
			}
		}
		_, err = e.svc.Answer(e.Ctx, e.Actor("manager"), v.ID, failed, "改一下")
		servicetest.WantErr(t, err, service.KindConflict, "already_answered")
	})
	t.Run("photos: readers of the inspection only", func(t *testing.T) {
		_, _, err := e.svc.Photo(e.Ctx, e.Actor("community2"), v.ID, photo)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, _, err = e.svc.Photo(e.Ctx, e.Actor("manager"), v.ID, photo+1000)
		servicetest.WantErr(t, err, service.KindNotFound, "photo_not_found")
	})
}

func TestInspectionScopeAndInput(t *testing.T) {
	e := newEnv(t)
	sheet := e.sheet()
	clean := itemOf(sheet, "楼道及公共区域保洁")
	fire := itemOf(sheet, "消防通道畅通")
	base := func() CreateInput {
		return CreateInput{CompoundID: e.Compounds[0].ID, Kind: model.InspectionDaily, DefaultResult: model.ResultPass}
	}
	t.Run("who may inspect", func(t *testing.T) {
		for _, name := range []string{"community2", "grid", "manager", "resident"} {
			_, _, err := e.svc.Create(e.Ctx, e.Actor(name), base())
			servicetest.WantErr(t, err, service.KindForbidden, "inspect_forbidden")
		}
		in := base()
		in.CompoundID = e.Compounds[2].ID
		_, _, err := e.svc.Create(e.Ctx, e.Actor("community2"), in)
		servicetest.WantErr(t, err, service.KindUnprocessable, "no_firm")
		in.CompoundID = 999999
		_, _, err = e.svc.Create(e.Ctx, e.Actor("street"), in)
		servicetest.WantErr(t, err, service.KindNotFound, "compound_not_found")
		// Street staff inspect every compound of the street.
		if v := e.inspect("street", base()); v.InspectorRole != model.RoleStreetStaff {
			t.Fatalf("street inspection as %s", v.InspectorRole)
		}
	})
	t.Run("bad input is refused whole", func(t *testing.T) {
		cases := []struct {
			mod  func(*CreateInput)
			kind service.Kind
			code string
		}{
			{func(in *CreateInput) { in.Kind = "yearly" }, service.KindInvalid, "bad_kind"},
			{func(in *CreateInput) { in.DefaultResult = "" }, service.KindInvalid, "items_incomplete"},
			{func(in *CreateInput) { in.DefaultResult = model.ResultDeduct }, service.KindInvalid, "bad_result"},
			{func(in *CreateInput) { in.Items = []ResultInput{{ItemID: 999999, Result: model.ResultPass}} }, service.KindInvalid, "bad_item"},
			{func(in *CreateInput) {
				in.Items = []ResultInput{{ItemID: clean.ID, Result: model.ResultPass}, {ItemID: clean.ID, Result: model.ResultPass}}
			}, service.KindInvalid, "bad_item"},
			{func(in *CreateInput) {
				in.Items = []ResultInput{{ItemID: clean.ID, Result: model.ResultDeduct, Deduct: 9}}
			}, service.KindInvalid, "bad_deduct"},
			{func(in *CreateInput) { in.Items = []ResultInput{{ItemID: clean.ID, Result: model.ResultDeduct}} }, service.KindInvalid, "bad_deduct"},
			{func(in *CreateInput) {
				in.Items = []ResultInput{{ItemID: fire.ID, Result: model.ResultDeduct, Deduct: 2}}
			}, service.KindInvalid, "bad_deduct"},
			{func(in *CreateInput) {
				in.Items = []ResultInput{{ItemID: clean.ID, Result: model.ResultPass, Deduct: 1}}
			}, service.KindInvalid, "bad_deduct"},
			{func(in *CreateInput) { in.Items = []ResultInput{{ItemID: clean.ID, Result: "meh"}} }, service.KindInvalid, "bad_result"},
			{func(in *CreateInput) {
				in.Items = []ResultInput{{ItemID: clean.ID, Result: model.ResultPass, Raise: &RaiseInput{Kind: RaiseOrder}}}
			}, service.KindInvalid, "bad_raise"},
			{func(in *CreateInput) {
				in.Items = []ResultInput{{ItemID: clean.ID, Result: model.ResultDeduct, Deduct: 1, Raise: &RaiseInput{Kind: RaiseAction}}}
			}, service.KindInvalid, "bad_due_date"},
			{func(in *CreateInput) {
				in.Items = []ResultInput{{ItemID: clean.ID, Result: model.ResultDeduct, Deduct: 1, Raise: &RaiseInput{Kind: RaiseOrder, DueDate: "2026-11-01"}}}
			}, service.KindInvalid, "bad_due_date"},
			{func(in *CreateInput) { t := servicetest.Start.Add(time.Hour); in.InspectedAt = &t }, service.KindInvalid, "bad_inspected_at"},
			{func(in *CreateInput) { in.PhotoIDs = []int64{e.Photo("street")} }, service.KindUnprocessable, "photo_unavailable"},
			{func(in *CreateInput) { in.ChecklistID = 999999 }, service.KindUnprocessable, "checklist_not_in_force"},
		}
		before := e.count(&model.Inspection{})
		for _, c := range cases {
			in := base()
			c.mod(&in)
			_, _, err := e.svc.Create(e.Ctx, e.Actor("community"), in)
			var se *service.Error
			if !errors.As(err, &se) || se.Kind != c.kind || se.Code != c.code {
				t.Errorf("want %s, got %v", c.code, err)
			}
		}
		if e.count(&model.Inspection{}) != before {
			t.Fatal("a refused inspection was stored")
		}
	})
	t.Run("lists are scoped", func(t *testing.T) {
		e.inspect("community", base())
		list := func(name string, f Filter) int {
			t.Helper()
			p, err := e.svc.List(e.Ctx, e.Actor(name), f, service.Page{})
			if err != nil {
				t.Fatal(err)
			}
			return len(p.Items)
		}
		if list("community", Filter{}) != 2 || list("manager", Filter{}) != 2 || list("street", Filter{}) != 2 {
			t.Fatal("staff or the firm miss inspections")
		}
		if list("community2", Filter{}) != 0 || list("resident", Filter{}) != 0 || list("worker", Filter{}) != 0 {
			t.Fatal("outsiders see inspections")
		}
		if list("community", Filter{Kind: model.InspectionMonthly}) != 0 || list("community", Filter{CompoundID: e.Compounds[1].ID}) != 0 {
			t.Fatal("filters do not narrow")
		}
		p, err := e.svc.List(e.Ctx, e.Actor("community"), Filter{}, service.Page{Limit: 1})
		if err != nil || len(p.Items) != 1 || !p.More {
			t.Fatalf("page of 1: %d more %v %v", len(p.Items), p.More, err)
		}
		next, err := e.svc.List(e.Ctx, e.Actor("community"), Filter{}, service.Page{Limit: 1, After: p.Items[0].ID})
		if err != nil || len(next.Items) != 1 || next.More || next.Items[0].ID >= p.Items[0].ID {
			t.Fatalf("second page %+v %v", next, err)
		}
		_, err = e.svc.List(e.Ctx, e.Actor("community"), Filter{Kind: "weekly"}, service.Page{})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_kind")
		_, err = e.svc.Get(e.Ctx, e.Actor("community2"), p.Items[0].ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.svc.Get(e.Ctx, e.Actor("community"), 999999)
		servicetest.WantErr(t, err, service.KindNotFound, "inspection_not_found")
	})
	t.Run("scores read by the score card", func(t *testing.T) {
		rows, err := model.InspectionScores(e.Ctx, e.DB, e.Firm.ID, e.Compounds[0].ID, servicetest.Start.Add(-time.Hour), servicetest.Start.Add(time.Hour))
		if err != nil || len(rows) != 2 || rows[0].Score != 100 {
			t.Fatalf("scores %+v %v", rows, err)
		}
		means, err := model.InspectionMeans(e.Ctx, e.DB, servicetest.Start.Add(-time.Hour), servicetest.Start.Add(time.Hour))
		key := model.FirmCompound{FirmID: e.Firm.ID, CompoundID: e.Compounds[0].ID}
		if err != nil || len(means) != 1 || means[key] != (model.InspectionMean{Count: 2, Mean: 100}) {
			t.Fatalf("means %+v %v", means, err)
		}
	})
}

// A late record of a day when a firm served, under a contract since
// ended, is that firm's inspection, not the next one's (nor refused).
func TestInspectionGoesToTheFirmOfItsDay(t *testing.T) {
	e := newEnv(t)
	e.sheet()
	gone := model.Firm{Name: "前任物业公司", CityID: e.CityID}
	servicetest.Must(t, e.DB.Create(&gone).Error)
	day := func(d int) time.Time {
		y, m, dd := e.Clock.Now().AddDate(0, 0, d).In(calendar.Beijing).Date()
		return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
	}
	comp := e.Compounds[2]
	anc := comp.Ancestry
	anc.CompoundID = comp.ID
	servicetest.Must(t, e.DB.Create(&model.Contract{FirmID: gone.ID, StartsOn: day(-60), EndsOn: day(-5), Ancestry: anc}).Error)
	at := e.Clock.Now().AddDate(0, 0, -10)
	in := CreateInput{CompoundID: comp.ID, Kind: model.InspectionDaily, DefaultResult: model.ResultPass, InspectedAt: &at}
	v, _, err := e.svc.Create(e.Ctx, e.Actor("community2"), in)
	servicetest.Must(t, err)
	if v.FirmID != gone.ID {
		t.Fatalf("inspection of a day the ended contract covered went to firm %d, want %d", v.FirmID, gone.ID)
	}
	// Today nobody serves the compound.
	in.InspectedAt = nil
	_, _, err = e.svc.Create(e.Ctx, e.Actor("community2"), in)
	servicetest.WantErr(t, err, service.KindUnprocessable, "no_firm")
}
