package disclosure

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/receipt"
)

// SubjectDisclosure is the receipts' subject kind of a board version.
const SubjectDisclosure = "disclosure"

// Receipts is what boards need of the receipts capability: delivering a
// version to the compound's households inside the publishing transaction,
// a resident's read, and the counts and the households not reached.
// *receipt.Service implements it.
type Receipts interface {
	Deliver(ctx context.Context, tx *gorm.DB, subj receipt.Subject, scope receipt.Scope, opt receipt.Options) (receipt.Delivery, error)
	Read(ctx context.Context, tx *gorm.DB, subj receipt.Subject, userID int64) ([]model.Receipt, error)
	Unmarked(ctx context.Context, db *gorm.DB, subjs []receipt.Subject, userID int64, confirm bool) ([]receipt.Subject, error)
	Tally(ctx context.Context, subj receipt.Subject, within []model.Place) (receipt.Tally, error)
	NotReached(ctx context.Context, subj receipt.Subject, f receipt.Filter, p service.Page) (service.Paged[receipt.Door], error)
	ExportNotReached(ctx context.Context, subj receipt.Subject, f receipt.Filter) (*receipt.Workbook, error)
	TellInPerson(ctx context.Context, tx *gorm.DB, a *service.Actor, subj receipt.Subject, in receipt.InPerson) (model.Receipt, error)
}

func subject(id int64) receipt.Subject { return receipt.Subject{Kind: SubjectDisclosure, ID: id} }

// tell delivers a new version to every household of the compound, one
// notice each to its registered members, inside the publishing
// transaction: a version is never published without its receipts. A
// compound without households yet has nobody to tell.
func (s *Service) tell(ctx context.Context, tx *gorm.DB, d *model.Disclosure, c model.Compound) error {
	if s.receipts == nil {
		return nil
	}
	has, err := model.HasHouseholds(ctx, tx, c.ID)
	if err != nil || !has {
		return err
	}
	v := View{Disclosure: *d}
	title := fmt.Sprintf("%s%s已公示", c.Name, v.Title())
	body := fmt.Sprintf("%s更新了%s，请在小程序中查看。", c.Name, v.Title())
	if d.Version > 1 {
		title = fmt.Sprintf("%s%s已更正（第 %d 版）", c.Name, v.Title(), d.Version)
		body = fmt.Sprintf("%s更正了%s，更正原因：%s", c.Name, v.Title(), d.Reason)
	}
	if d.Section == model.DisclosureRevenue && d.CountersignedAt == nil {
		body += "（尚未会签）"
	}
	id := strconv.FormatInt(d.ID, 10)
	_, err = s.receipts.Deliver(ctx, tx, subject(d.ID), receipt.Scope{Kind: receipt.ScopeCompound, IDs: []int64{c.ID}},
		receipt.Options{Event: "disclosure.published", Title: title, Body: body, Push: true,
			Fields: map[string]string{message.FieldTitle: title, message.FieldBody: body, message.FieldPublisher: "物业服务中心",
				message.FieldPlace: c.Name, message.FieldTime: d.PublishedAt.UTC().Format("2006-01-02T15:04:05Z07:00"), "disclosure_id": id},
			Page: "pages/disclosure/detail?id=" + id})
	return err
}

// markRead records, for a resident who opened versions, the read on the
// receipts of their households. Staff and firms reading leave no mark;
// a version their household was not told of (published before they
// moved in) neither.
// Versions read already write nothing and open no transaction.
func (s *Service) markRead(ctx context.Context, a *service.Actor, ids ...int64) error {
	if s.receipts == nil || a == nil || len(ids) == 0 {
		return nil
	}
	subjs := make([]receipt.Subject, len(ids))
	for i, id := range ids {
		subjs[i] = subject(id)
	}
	unread, err := s.receipts.Unmarked(ctx, s.db, subjs, a.UserID, false)
	if err != nil || len(unread) == 0 {
		return err
	}
	return model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		for _, sj := range unread {
			if _, err := s.receipts.Read(ctx, tx, sj, a.UserID); err != nil && !errors.Is(err, receipt.ErrNotTold) {
				return err
			}
		}
		return nil
	})
}

// Roles that see who was told of a version: those who publish and
// countersign, and the staff who knock on doors.
var reachRoles = []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff,
	model.RolePlatformAdmin, model.RoleGridWorker, model.RoleBuildingSteward, model.RoleCommittee}

var errNotPublisher = service.Forbidden("not_publisher", "只有发布方、业委会、社区工作人员、网格员和楼栋长可以查看送达情况")

// within is the part of the compound whose receipts the actor sees: all
// of it for the publishing firm and staff over the compound, else the
// grid worker's grid or the steward's building.
func (s *Service) within(ctx context.Context, a *service.Actor, d model.Disclosure, c model.Compound) ([]model.Place, error) {
	if err := s.mayRead(ctx, a, c); err != nil {
		return nil, err
	}
	if d.FirmID != 0 && a.Can(service.Target{Kind: model.ScopeFirm, ID: d.FirmID}, model.RoleFirmManager) {
		return nil, nil
	}
	wide := []string{model.RoleCommunityStaff, model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff,
		model.RolePlatformAdmin, model.RoleCommittee}
	if a.Can(compoundTarget(c), wide...) {
		return nil, nil
	}
	var places []model.Place
	for _, g := range a.Scopes(model.RoleGridWorker, model.RoleBuildingSteward) {
		if g.ScopeKind == model.ScopeGrid || g.ScopeKind == model.ScopeBuilding {
			places = append(places, model.Place{Kind: g.ScopeKind, ID: g.ScopeID})
		}
	}
	if len(places) == 0 {
		return nil, errNotPublisher
	}
	return places, nil
}

// Reach is who was told of a version: its counts, by building.
func (s *Service) Reach(ctx context.Context, a *service.Actor, id int64) (receipt.Tally, error) {
	d, c, err := s.take(ctx, a, id)
	if err != nil {
		return receipt.Tally{}, err
	}
	w, err := s.within(ctx, a, d, c)
	if err != nil || s.receipts == nil {
		return receipt.Tally{}, err
	}
	t, err := s.receipts.Tally(ctx, subject(id), w)
	if err != nil || w == nil {
		return t, err
	}
	// A grid worker or steward sees their buildings' counts only: the
	// whole is the sum of those.
	t.Counts = receipt.Counts{}
	for _, b := range t.Buildings {
		t.Counts = addCounts(t.Counts, b.Counts)
	}
	return t, nil
}

func addCounts(a, b receipt.Counts) receipt.Counts {
	return receipt.Counts{Households: a.Households + b.Households, Delivered: a.Delivered + b.Delivered,
		Unregistered: a.Unregistered + b.Unregistered, Pushed: a.Pushed + b.Pushed, Read: a.Read + b.Read,
		Confirmed: a.Confirmed + b.Confirmed, InPerson: a.InPerson + b.InPerson, Reached: a.Reached + b.Reached,
		NotReached: a.NotReached + b.NotReached}
}

// NotReached lists the households of the compound not yet reached by a
// version, door by door.
func (s *Service) NotReached(ctx context.Context, a *service.Actor, id, buildingID int64, unit string, p service.Page) (service.Paged[receipt.Door], error) {
	d, c, err := s.take(ctx, a, id)
	if err != nil {
		return service.Paged[receipt.Door]{}, err
	}
	w, err := s.within(ctx, a, d, c)
	if err != nil || s.receipts == nil {
		return service.Paged[receipt.Door]{}, err
	}
	return s.receipts.NotReached(ctx, subject(id), receipt.Filter{BuildingID: buildingID, Unit: unit, Within: w}, p)
}

var errNoReceipts = service.Unavailable("receipts_unavailable", "送达记录暂不可用")

// ExportNotReached is the list of doors not reached as an .xlsx workbook,
// for the steward to print; the same readers as NotReached.
func (s *Service) ExportNotReached(ctx context.Context, a *service.Actor, id, buildingID int64, unit string) (*receipt.Workbook, View, error) {
	d, c, err := s.take(ctx, a, id)
	if err != nil {
		return nil, View{}, err
	}
	w, err := s.within(ctx, a, d, c)
	if err != nil {
		return nil, View{}, err
	}
	if s.receipts == nil {
		return nil, View{}, errNoReceipts
	}
	wb, err := s.receipts.ExportNotReached(ctx, subject(id), receipt.Filter{BuildingID: buildingID, Unit: unit, Within: w})
	return wb, View{Disclosure: d, CompoundName: c.Name}, err
}

// TellInPerson records that the building steward (or grid worker) told a
// household of a version at its door: who, when, note. It counts as
// reached.
func (s *Service) TellInPerson(ctx context.Context, a *service.Actor, id, householdID int64, note string, at time.Time) (model.Receipt, error) {
	if _, _, err := s.take(ctx, a, id); err != nil {
		return model.Receipt{}, err
	}
	if s.receipts == nil {
		return model.Receipt{}, errNoReceipts
	}
	var r model.Receipt
	err := model.InTxRetry(ctx, s.db, 3, func(tx *gorm.DB) error {
		var err error
		r, err = s.receipts.TellInPerson(ctx, tx, a, subject(id), receipt.InPerson{HouseholdID: householdID, Note: note, At: at})
		return err
	})
	return r, err
}
