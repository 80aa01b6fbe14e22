package score_test

import (
	"fmt"
	"testing"
	"time"

	"redprop/model"
	"redprop/service/calendar"
	"redprop/service/servicetest"
)

// bj is a Beijing time of 2026.
func bj(month time.Month, day, hour, minute int) time.Time {
	return time.Date(2026, month, day, hour, minute, 0, 0, calendar.Beijing).UTC()
}

// ev is one timeline row of a fixture order.
type ev struct {
	action, from string
	at           time.Time
}

// fixture builds orders and their timelines straight in the tables, so
// that every fact of the hand-computed figures is written out here.
type fixture struct {
	c         *servicetest.City
	repair    model.Category
	complaint model.Category
	n         int
	ids       map[string]int64
}

func newFixture(t *testing.T) *fixture {
	c := servicetest.New(t)
	f := &fixture{c: c, ids: map[string]int64{}}
	f.repair = model.Category{Code: "repair", Name: "报修", Submitters: "resident", AcceptMinutes: 60, CompleteMinutes: 1440}
	f.complaint = model.Category{Code: "complaint", Name: "投诉物业", Submitters: "resident", ComplaintAgainstFirm: true}
	servicetest.Must(t, c.DB.Create(&f.repair).Error)
	servicetest.Must(t, c.DB.Create(&f.complaint).Error)
	return f
}

// order stores an order of the firm in compound i with its timeline;
// rating > 0 closes it rated at ratedAt.
func (f *fixture) order(name string, compound int, cat model.Category, created time.Time, rating int, ratedAt time.Time, evs ...ev) int64 {
	f.c.T.Helper()
	f.n++
	comp := f.c.Compounds[compound]
	anc := comp.Ancestry
	anc.CompoundID = comp.ID
	anc.GridID = f.c.Grids[compound].ID
	o := model.Order{Number: fmt.Sprintf("GD2026%08d", f.n), CategoryID: cat.ID, CategoryCode: cat.Code,
		State: model.StateInProgress, Level: model.OrderLevelCommunity, Channel: model.ChannelSelf,
		AuthorID: f.c.UserID("resident"), Description: name, Ancestry: anc}
	o.CreatedAt, o.UpdatedAt = created, created
	if len(evs) > 0 {
		o.HandlerKind, o.HandlerID = model.HandlerFirm, f.c.Firm.ID
	}
	if rating > 0 {
		o.State, o.RatingOverall = model.StateClosed, rating
		at := ratedAt
		o.ClosedAt = &at
	}
	servicetest.Must(f.c.T, f.c.DB.Create(&o).Error)
	rows := []model.OrderEvent{{OrderID: o.ID, Action: "submit", ToState: model.StateSubmitted, CreatedAt: created}}
	for _, e := range evs {
		rows = append(rows, model.OrderEvent{OrderID: o.ID, Action: e.action, FromState: e.from,
			HandlerKind: model.HandlerFirm, HandlerID: f.c.Firm.ID, CreatedAt: e.at})
	}
	if rating > 0 {
		rows = append(rows, model.OrderEvent{OrderID: o.ID, Action: "rate", FromState: model.StateConfirmed,
			ToState: model.StateClosed, HandlerKind: model.HandlerFirm, HandlerID: f.c.Firm.ID, CreatedAt: ratedAt})
	}
	servicetest.Must(f.c.T, f.c.DB.Create(&rows).Error)
	f.ids[name] = o.ID
	return o.ID
}

// item stores an action item owned by the firm in compound i.
func (f *fixture) item(name string, compound int, due time.Time, done *time.Time) int64 {
	f.c.T.Helper()
	comp := f.c.Compounds[compound]
	anc := comp.Ancestry
	anc.CompoundID = comp.ID
	it := model.ActionItem{Title: name, OwnerKind: model.OwnerFirm, OwnerID: f.c.Firm.ID, DueAt: due,
		SourceKind: model.SourceInspection, ScopeKind: model.ScopeCompound, ScopeID: comp.ID, Ancestry: anc,
		OrganiserID: f.c.UserID("community"), CreatorID: f.c.UserID("community"), State: model.ActionClaimed}
	if done != nil {
		it.State, it.DoneAt = model.ActionDone, done
	}
	servicetest.Must(f.c.T, f.c.DB.Create(&it).Error)
	f.ids[name] = it.ID
	return it.ID
}

// quarter3 writes the hand-computed fixture of 2026Q3 (Beijing
// [07-01, 10-01)). In compound 0:
//
//	o1 accepted and completed in time, confirmed, rated 5
//	o2 accept step late, completion late, confirmed after, rated 2
//	o3 completed, sent back, completed again, confirmed in time, rated 4
//	o4 accepted in time, completion marked overdue on 09-30, not completed
//	o5 completed on 09-30 23:00, confirmed only in October (rated then)
//	o6 accepted in June (Q2), completed and confirmed in July
//	o7 dispatched 09-30 23:30, accepted 10-01 00:30: nothing due in Q3
//	o8 a complaint about the firm
//
// and in compound 1 two orders done well (o9, o10). Two action items of
// the firm in compound 0 fall due: one done in time, one not.
func (f *fixture) quarter3() {
	r := f.repair
	f.order("o1", 0, r, bj(7, 1, 9, 0), 5, bj(7, 3, 9, 0),
		ev{"dispatch", "verified", bj(7, 1, 9, 10)}, ev{"accept", "dispatched", bj(7, 1, 9, 30)},
		ev{"complete", "in_progress", bj(7, 2, 9, 0)}, ev{"confirm", "completed", bj(7, 2, 12, 0)})
	f.order("o2", 0, r, bj(7, 5, 8, 0), 2, bj(7, 11, 9, 0),
		ev{"dispatch", "verified", bj(7, 5, 8, 10)}, ev{"overdue", "dispatched", bj(7, 5, 9, 10)},
		ev{"accept", "dispatched", bj(7, 6, 9, 0)}, ev{"overdue", "in_progress", bj(7, 8, 9, 0)},
		ev{"complete", "in_progress", bj(7, 9, 9, 0)}, ev{"confirm", "completed", bj(7, 10, 9, 0)})
	f.order("o3", 0, r, bj(7, 31, 8, 0), 4, bj(8, 5, 9, 0),
		ev{"dispatch", "verified", bj(7, 31, 8, 10)}, ev{"accept", "dispatched", bj(7, 31, 8, 30)},
		ev{"complete", "in_progress", bj(8, 1, 9, 0)}, ev{"rework", "completed", bj(8, 2, 9, 0)},
		ev{"complete", "in_progress", bj(8, 3, 9, 0)}, ev{"confirm", "completed", bj(8, 4, 9, 0)})
	f.order("o4", 0, r, bj(8, 10, 8, 0), 0, time.Time{},
		ev{"dispatch", "verified", bj(8, 10, 8, 10)}, ev{"accept", "dispatched", bj(8, 10, 8, 30)},
		ev{"overdue", "in_progress", bj(9, 30, 10, 0)})
	f.order("o5", 0, r, bj(9, 29, 8, 0), 5, bj(10, 3, 9, 0),
		ev{"dispatch", "verified", bj(9, 29, 8, 10)}, ev{"accept", "dispatched", bj(9, 29, 8, 30)},
		ev{"complete", "in_progress", bj(9, 30, 23, 0)}, ev{"confirm", "completed", bj(10, 2, 9, 0)})
	f.order("o6", 0, r, bj(6, 20, 8, 0), 0, time.Time{},
		ev{"dispatch", "verified", bj(6, 20, 8, 10)}, ev{"accept", "dispatched", bj(6, 20, 8, 30)},
		ev{"complete", "in_progress", bj(7, 3, 9, 0)}, ev{"confirm", "completed", bj(7, 4, 9, 0)})
	f.order("o7", 0, r, bj(9, 30, 23, 0), 0, time.Time{},
		ev{"dispatch", "verified", bj(9, 30, 23, 30)}, ev{"accept", "dispatched", bj(10, 1, 0, 30)})
	f.order("o8", 0, f.complaint, bj(8, 20, 10, 0), 0, time.Time{})
	for _, name := range []string{"o9", "o10"} {
		f.order(name, 1, r, bj(8, 1, 8, 0), 5, bj(8, 3, 9, 0),
			ev{"dispatch", "verified", bj(8, 1, 8, 10)}, ev{"accept", "dispatched", bj(8, 1, 8, 20)},
			ev{"complete", "in_progress", bj(8, 2, 8, 0)}, ev{"confirm", "completed", bj(8, 2, 10, 0)})
	}
	done := bj(8, 14, 10, 0)
	f.item("i1", 0, bj(8, 15, 23, 59), &done)
	f.item("i2", 0, bj(9, 1, 23, 59), nil)
	f.inspection("n1", 0, bj(8, 5, 10, 0), 90, 100)
	f.inspection("n2", 0, bj(9, 5, 10, 0), 40, 50)
	f.inspection("n0", 0, bj(6, 5, 10, 0), 10, 100) // in Q2
	late, early := bj(8, 12, 10, 0), bj(8, 19, 10, 0)
	f.rectification("r1", "o2", 1, bj(8, 10, 23, 59), &late)
	f.rectification("r2", "o2", 2, bj(8, 20, 23, 59), &early)
}

// inspection stores a scored inspection of the firm in compound i.
func (f *fixture) inspection(name string, compound int, at time.Time, earned, possible int) {
	f.c.T.Helper()
	comp := f.c.Compounds[compound]
	anc := comp.Ancestry
	anc.CompoundID = comp.ID
	in := model.Inspection{Kind: model.InspectionMonthly, ChecklistID: 1, ChecklistVersionID: 1, ChecklistNumber: 1,
		FirmID: f.c.Firm.ID, Ancestry: anc, InspectorID: f.c.UserID("community"), InspectorRole: model.RoleCommunityStaff,
		InspectedAt: at, Earned: earned, Possible: possible, Score: float64(earned) * 100 / float64(possible), Scored: true}
	servicetest.Must(f.c.T, f.c.DB.Create(&in).Error)
	f.ids[name] = in.ID
}

// rectification stores a rating rectification of an order of the firm.
func (f *fixture) rectification(name, order string, round int, due time.Time, reported *time.Time) {
	f.c.T.Helper()
	o, err := model.ByID[model.Order](f.c.Ctx, f.c.DB, f.ids[order])
	servicetest.Must(f.c.T, err)
	r := model.Rectification{OrderID: o.ID, Round: round, OrderNumber: o.Number, Rating: 2, OwnerKind: model.OwnerFirm,
		OwnerID: f.c.Firm.ID, FirmID: f.c.Firm.ID, Ancestry: o.Ancestry, State: model.RectOpen, OpenedAt: due.AddDate(0, 0, -7),
		DueAt: due, ReportedAt: reported}
	if reported != nil {
		r.State = model.RectReported
	}
	servicetest.Must(f.c.T, f.c.DB.Create(&r).Error)
	f.ids[name] = r.ID
}
