package order

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/photo"
)

// MaxPhotos is how many photos one report or step may carry.
const MaxPhotos = photo.MaxAttached

// SubmitInput is a new order. A resident gives a household of theirs or a
// compound they live in (a public place); staff submitting for a resident
// also give ResidentID; a patrol report gives a compound or household and
// no resident.
type SubmitInput struct {
	CategoryID  int64
	Description string
	Place       string
	HouseholdID int64
	CompoundID  int64
	ResidentID  int64
	Channel     string // self (default), on_behalf, phone, patrol
	PhotoIDs    []int64
	IdemKey     string // the Idempotency-Key header
}

var (
	errSubmitCategory    = service.Invalid("bad_category", "请选择有效的工单类别")
	errSubmitNotAllowed  = service.Forbidden("category_not_allowed", "您不能提交该类别的工单")
	errSubmitDescription = service.Invalid("bad_description", "问题描述须为 1 到 1000 个字")
	errSubmitPlace       = service.Invalid("bad_place", "位置说明不能超过 100 个字")
	errSubmitWhere       = service.Invalid("place_required", "请选择自己的房屋，或所在小区的公共区域（只选其一）")
	errSubmitChannel     = service.Invalid("bad_channel", "提交渠道只能是 self、on_behalf、phone 或 patrol")
	errSubmitPhotos      = photo.ErrBadPhotos
	errSubmitNotResident = service.Forbidden("not_resident", "您不是该房屋或小区的住户")
	errSubmitResident    = service.Invalid("resident_required", "代报须指明居民；本人提交和巡查上报不能指定居民")
	errSubmitOnBehalf    = service.Forbidden("not_on_behalf", "只有该楼栋的楼栋长或该网格的网格员可以代居民上报")
	errSubmitPatrol      = service.Forbidden("not_patrol", "只有该网格的网格员可以巡查上报")
	errSubmitTheirPlace  = service.Unprocessable("not_resident_there", "该居民不住在所选房屋或小区")
)

// Submit files a new order. It returns created=false, and the first order,
// when the author already submitted one with the same Idempotency-Key.
func (s *Service) Submit(ctx context.Context, a *service.Actor, in SubmitInput) (View, bool, error) {
	if a == nil {
		return View{}, false, service.ErrUnauthenticated
	}
	if err := checkSubmitInput(&in); err != nil {
		return View{}, false, err
	}
	if in.IdemKey != "" {
		if o, ok, err := model.ByIdemKey[model.Order](ctx, s.db, "author_id", a.UserID, in.IdemKey); err != nil || ok {
			return s.viewAfterWrite(ctx, a, o, err)
		}
	}
	cat, err := s.opts.Names.Category(ctx, s.db, in.CategoryID)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return View{}, false, errSubmitCategory
		}
		return View{}, false, err
	}
	if !cat.Active || len(submitters(cat)) == 0 {
		return View{}, false, errSubmitCategory
	}
	o, role, err := s.placeOrder(ctx, a, cat, in)
	if err != nil {
		return View{}, false, err
	}
	// The description passes WeChat's text check before it is stored.
	verdict, err := s.msgs.CheckText(ctx, a.UserID, message.SceneForum, in.Description)
	if err != nil {
		return View{}, false, err
	}
	// Deadlines are armed inside the transaction: the calendar is read
	// before it (SQLite has one connection).
	cal, err := s.workCalendar(ctx, cat)
	if err != nil {
		return View{}, false, err
	}
	// The number is taken before the transaction, so the day's counter
	// row is not locked while the order is written; a submit that fails
	// below leaves a gap in the day's numbers.
	if o.Number, err = s.numbers.take(ctx, s.clock.Now().UTC()); err != nil {
		return View{}, false, err
	}
	base := o
	// A deadlock victim (MySQL) is rolled back whole: try again.
	err = model.InTxRetry(ctx, s.db, 3, func(tx *gorm.DB) error {
		o = base
		if err := s.create(ctx, tx, &o, cat, cal, role, in.PhotoIDs); err != nil {
			return err
		}
		rec := message.CheckRecord{Subject: fmt.Sprintf("order:%d:description", o.ID), UserID: a.UserID,
			Scene: message.SceneForum, Text: o.Description, Ancestry: o.Ancestry}
		return s.msgs.RecordCheck(ctx, tx, rec, verdict)
	})
	if errors.Is(err, model.ErrDuplicate) && in.IdemKey != "" {
		// A concurrent double submit with the same key: the other one won.
		prev, ok, ferr := model.ByIdemKey[model.Order](ctx, s.db, "author_id", a.UserID, in.IdemKey)
		if ferr == nil && ok {
			return s.viewAfterWrite(ctx, a, prev, nil)
		}
	}
	if err != nil {
		return View{}, false, err
	}
	v, _, err := s.viewAfterWrite(ctx, a, o, nil)
	return v, true, err
}

func (s *Service) viewAfterWrite(ctx context.Context, a *service.Actor, o model.Order, err error) (View, bool, error) {
	if err != nil {
		return View{}, false, err
	}
	vs, err := s.views(ctx, a, []model.Order{o}, false)
	if err != nil {
		return View{}, false, err
	}
	return vs[0], false, nil
}

func checkSubmitInput(in *SubmitInput) error {
	in.Description = strings.TrimSpace(in.Description)
	in.Place = strings.TrimSpace(in.Place)
	if in.CategoryID <= 0 {
		return errSubmitCategory
	}
	if n := utf8.RuneCountInString(in.Description); n == 0 || n > 1000 {
		return errSubmitDescription
	}
	if utf8.RuneCountInString(in.Place) > 100 {
		return errSubmitPlace
	}
	if (in.HouseholdID == 0) == (in.CompoundID == 0) || in.HouseholdID < 0 || in.CompoundID < 0 || in.ResidentID < 0 {
		return errSubmitWhere
	}
	if in.Channel == "" {
		in.Channel = model.ChannelSelf
	}
	if !slices.Contains([]string{model.ChannelSelf, model.ChannelOnBehalf, model.ChannelPhone, model.ChannelPatrol}, in.Channel) {
		return errSubmitChannel
	}
	if err := photo.CheckIDs(in.PhotoIDs, 0); err != nil {
		return err
	}
	if err := service.CheckIdemKey(in.IdemKey); err != nil {
		return err
	}
	return nil
}

// placeOrder decides where the order is, for whom, and in which role its
// author files it; it checks that the author may.
func (s *Service) placeOrder(ctx context.Context, a *service.Actor, cat model.Category, in SubmitInput) (model.Order, string, error) {
	o := model.Order{CategoryID: cat.ID, CategoryCode: cat.Code, Channel: in.Channel, AuthorID: a.UserID,
		HouseholdID: in.HouseholdID, Place: in.Place, Description: in.Description,
		State: model.StateSubmitted, Level: model.OrderLevelGrid, Version: 1}
	if in.IdemKey != "" {
		k := in.IdemKey
		o.IdemKey = &k
	}
	allowed := submitters(cat)
	switch in.Channel {
	case model.ChannelSelf:
		if in.ResidentID != 0 && in.ResidentID != a.UserID {
			return o, "", errSubmitResident
		}
		if !slices.Contains(allowed, SubmitterResident) {
			return o, "", errSubmitNotAllowed
		}
		anc, err := s.residentPlace(ctx, a, a.UserID, in)
		if err != nil {
			return o, "", err
		}
		if anc == nil {
			return o, "", errSubmitNotResident
		}
		if in.CompoundID != 0 {
			anc.BuildingID = 0
		}
		o.ResidentID, o.Ancestry = a.UserID, *anc
		return o, SubmitterResident, nil
	case model.ChannelOnBehalf, model.ChannelPhone:
		if in.ResidentID == 0 {
			return o, "", errSubmitResident
		}
		anc, err := s.residentPlace(ctx, a, in.ResidentID, in)
		if err != nil {
			return o, "", err
		}
		if anc == nil {
			return o, "", errSubmitTheirPlace
		}
		// The resident's own building and grid decide who may speak for
		// them, also for a public place of their compound.
		t := service.Target{Kind: model.ScopeBuilding, ID: anc.BuildingID, Ancestry: *anc}
		role := ""
		for _, r := range []string{SubmitterGrid, SubmitterSteward} {
			if slices.Contains(allowed, r) && a.Can(t, r) {
				role = r
				break
			}
		}
		if role == "" {
			if a.Can(t, SubmitterGrid, SubmitterSteward) {
				return o, "", errSubmitNotAllowed
			}
			return o, "", errSubmitOnBehalf
		}
		if in.CompoundID != 0 {
			anc.BuildingID = 0
		}
		o.ResidentID, o.Ancestry = in.ResidentID, *anc
		return o, role, nil
	default: // patrol
		if in.ResidentID != 0 {
			return o, "", errSubmitResident
		}
		anc, err := s.patrolPlace(ctx, a, in)
		if err != nil {
			return o, "", err
		}
		if !slices.Contains(allowed, SubmitterGrid) {
			return o, "", errSubmitNotAllowed
		}
		o.Ancestry = anc
		o.State, o.Level = model.StateVerified, model.OrderLevelCommunity
		return o, SubmitterGrid, nil
	}
}

// residentPlace returns where userID's report is: their household, or a
// public place of a compound they live in (with their own grid and
// building, for scope checks; the caller clears the building). Nil when
// they do not live there. The actor's own homes come with the actor.
func (s *Service) residentPlace(ctx context.Context, a *service.Actor, userID int64, in SubmitInput) (*model.Ancestry, error) {
	if userID == a.UserID && a.HomesKnown {
		for _, r := range a.Homes { // oldest first, as ResidencyIn picks
			if (in.HouseholdID != 0 && r.HouseholdID == in.HouseholdID) || (in.HouseholdID == 0 && r.CompoundID == in.CompoundID) {
				return &r.Ancestry, nil
			}
		}
		return nil, nil
	}
	r, found, err := model.ResidencyIn(ctx, s.db, userID, in.HouseholdID, in.CompoundID)
	if err != nil || !found {
		return nil, err
	}
	return &r.Ancestry, nil
}

// patrolPlace finds the place of a patrol report in one of the grid
// worker's grids.
func (s *Service) patrolPlace(ctx context.Context, a *service.Actor, in SubmitInput) (model.Ancestry, error) {
	if in.HouseholdID != 0 {
		h, err := model.ByID[model.Household](ctx, s.db, in.HouseholdID)
		if err != nil {
			if errors.Is(err, model.ErrNotFound) {
				return model.Ancestry{}, errSubmitWhere
			}
			return model.Ancestry{}, err
		}
		if !a.Can(service.Target{Kind: "household", ID: h.ID, Ancestry: h.Ancestry}, SubmitterGrid) {
			return model.Ancestry{}, errSubmitPatrol
		}
		return h.Ancestry, nil
	}
	bs, err := model.BuildingsOfCompound(ctx, s.db, in.CompoundID)
	if err != nil {
		return model.Ancestry{}, err
	}
	for _, b := range bs {
		if a.Can(service.Target{Kind: model.ScopeBuilding, ID: b.ID, Ancestry: b.Ancestry}, SubmitterGrid) {
			anc := b.Ancestry
			anc.BuildingID = 0
			return anc, nil
		}
	}
	return model.Ancestry{}, errSubmitPatrol
}

// create stores and announces a new order, numbered already, inside tx,
// and dispatches it at once where its category says so.
func (s *Service) create(ctx context.Context, tx *gorm.DB, o *model.Order, cat model.Category, cal *calendar.Calendar,
	role string, photos []int64) error {
	now := s.clock.Now().UTC()
	o.CreatedAt, o.UpdatedAt = now, now
	armStep(o, cat, now, cal)
	if err := model.Create(ctx, tx, o); err != nil {
		return err
	}
	if err := s.attach(ctx, tx, o.AuthorID, photos, o.ID); err != nil {
		return err
	}
	if err := s.appendEvent(ctx, tx, o, model.OrderEvent{Action: ActSubmit, ActorID: o.AuthorID, Role: role,
		Note: o.Channel, Photos: joinIDs(photos), CreatedAt: now}); err != nil {
		return err
	}
	if cat.AutoDispatch != "" {
		done, err := s.autoDispatch(ctx, tx, o, cat, cal, now)
		if err != nil || done {
			return err
		}
	}
	event := "submitted"
	if o.Channel == model.ChannelPatrol {
		event = "patrol"
	}
	return s.notifyIn(ctx, tx, o, event, &cat)
}

// autoDispatch hands a fresh order to the handler its category names. It
// reports false when there is none (a compound without a contracted firm):
// the order then takes the ordinary way through the grid and community.
func (s *Service) autoDispatch(ctx context.Context, tx *gorm.DB, o *model.Order, cat model.Category, cal *calendar.Calendar, now time.Time) (bool, error) {
	var kind string
	var id int64
	switch cat.AutoDispatch {
	case model.HandlerFirm:
		firm, err := contractedFirm(ctx, tx, o.CompoundID, now)
		if err != nil || firm == 0 {
			return false, err
		}
		kind, id = model.HandlerFirm, firm
	case model.HandlerDepartment:
		dept, err := nearestDepartment(ctx, tx, cat.AutoDepartmentKind, o.Ancestry)
		if err != nil || dept == 0 {
			return false, err
		}
		kind, id = model.HandlerDepartment, dept
	case model.HandlerVolunteer:
		kind, id = model.HandlerVolunteer, o.CommunityID
	default:
		return false, nil
	}
	next := *o
	next.State, next.Level, next.HandlerKind, next.HandlerID = model.StateDispatched, model.OrderLevelCommunity, kind, id
	armStep(&next, cat, now, cal)
	m := &move{prev: *o, next: next, now: now, action: ActAutoDispatch, role: roleSystem, events: []string{"dispatched"}}
	if err := s.move(ctx, tx, m); err != nil {
		return false, err
	}
	*o = m.next
	return true, nil
}

// contractedFirm is the firm whose contract covers compound on now's
// Beijing date (0 when none).
func contractedFirm(ctx context.Context, db *gorm.DB, compoundID int64, now time.Time) (int64, error) {
	if compoundID == 0 {
		return 0, nil
	}
	return model.ContractedFirm(ctx, db, compoundID, beijingDay(now))
}

// nearestDepartment is the department of kind closest above the place:
// the community's own, else the street's, the district's, the city's.
func nearestDepartment(ctx context.Context, db *gorm.DB, kind string, anc model.Ancestry) (int64, error) {
	ds, err := model.DepartmentsOfKind(ctx, db, kind, anc.CityID)
	if err != nil {
		return 0, err
	}
	best, bestRank := int64(0), -1
	for _, d := range ds {
		if !departmentCovers(d.Ancestry, anc) {
			continue
		}
		rank := 0
		for _, id := range []int64{d.DistrictID, d.StreetID, d.CommunityID} {
			if id != 0 {
				rank++
			}
		}
		if rank > bestRank {
			best, bestRank = d.ID, rank
		}
	}
	return best, nil
}

// departmentCovers reports whether a department attached at dep serves a
// place at anc: it sits on the place's own branch of the tree.
func departmentCovers(dep, anc model.Ancestry) bool {
	return dep.CityID == anc.CityID &&
		(dep.DistrictID == 0 || dep.DistrictID == anc.DistrictID) &&
		(dep.StreetID == 0 || dep.StreetID == anc.StreetID) &&
		(dep.CommunityID == 0 || dep.CommunityID == anc.CommunityID)
}

// attach claims uploaded photos for the order inside tx.
func (s *Service) attach(ctx context.Context, tx *gorm.DB, uploader int64, ids []int64, orderID int64) error {
	if len(ids) == 0 {
		return nil
	}
	if s.photos == nil {
		return service.Unprocessable("photos_unavailable", "暂不支持上传照片")
	}
	return s.photos.Attach(ctx, tx, uploader, ids, orderID)
}

// beijingDay is today's date in Beijing as contract dates store it
// (midnight UTC of the calendar day).
func beijingDay(now time.Time) time.Time {
	y, m, d := now.In(calendar.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ",")
}

// ApplyLateVerdict takes, inside tx, a verdict WeChat's text check reached
// after an order's description or rating comment was stored (WeChat could
// not be asked at the time): risky text is hidden; text for review stays,
// and the community sees the verdict among its content checks.
func (s *Service) ApplyLateVerdict(ctx context.Context, tx *gorm.DB, subject, state string) error {
	if state != model.CheckRisky {
		return nil
	}
	var id int64
	var field string
	if _, err := fmt.Sscanf(subject, "order:%d:%s", &id, &field); err != nil || id <= 0 {
		return nil
	}
	if field != "description" && field != "rating" {
		return nil
	}
	// The row is locked first: the verdict must not lose to a move in
	// between, so the compare-and-set below cannot lose either.
	o, err := model.LockByID[model.Order](ctx, tx, id)
	if errors.Is(err, model.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	next := o
	if field == "description" {
		next.Description = message.HiddenText
	} else {
		next.RatingComment = message.HiddenText
	}
	return s.move(ctx, tx, &move{prev: o, next: next, now: s.clock.Now().UTC(), quiet: true})
}
