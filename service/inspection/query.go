package inspection

import (
	"context"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// View is an inspection with its items and the names a reader needs.
type View struct {
	model.Inspection
	Items         []model.InspectionItem
	ChecklistName string
	FirmName      string
	CompoundName  string
	InspectorName string
	// Orders maps the ids of the raised orders to their numbers.
	Orders map[int64]string
}

// Filter narrows a list of inspections.
type Filter struct {
	Kind        string
	FirmID      int64
	CommunityID int64
	CompoundID  int64
	From, To    *time.Time
}

var (
	errMissing      = service.NotFound("inspection_not_found", "检查记录不存在")
	errHidden       = service.Forbidden("out_of_scope", "该检查记录不在您的管辖范围内")
	errItemGone     = service.NotFound("inspection_item_not_found", "该检查记录没有此检查项")
	errAnswerRole   = service.Forbidden("answer_forbidden", "只有被检查物业企业的经理可以答复")
	errAnswerText   = service.Invalid("bad_answer", "答复须为 1 到 1000 个字")
	errAnswerPassed = service.Unprocessable("answer_not_needed", "只有扣分的检查项需要答复")
	errAnswered     = service.Conflict("already_answered", "该检查项已答复，答复不能修改")
	errPhotoGone    = service.NotFound("photo_not_found", "照片不存在")
	errFilterKind   = service.Invalid("bad_kind", "检查类型只能是 daily、monthly 或 quarterly")
)

func (s *Service) load(ctx context.Context, a *service.Actor, id int64) (model.Inspection, error) {
	if a == nil {
		return model.Inspection{}, service.ErrUnauthenticated
	}
	ins, err := model.ByID[model.Inspection](ctx, s.db, id)
	if err != nil {
		return ins, service.OrNotFound(err, errMissing)
	}
	if !sees(a, &ins) {
		return ins, errHidden
	}
	return ins, nil
}

// Get reads one inspection with its items.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	ins, err := s.load(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, []model.Inspection{ins}, true)
	if err != nil {
		return View{}, err
	}
	return vs[0], nil
}

// List reads a page of the inspections the actor may see, newest first.
func (s *Service) List(ctx context.Context, a *service.Actor, f Filter, p service.Page) (service.Paged[View], error) {
	if a == nil {
		return service.Paged[View]{}, service.ErrUnauthenticated
	}
	if f.Kind != "" && !slices.Contains(Kinds, f.Kind) {
		return service.Paged[View]{}, errFilterKind
	}
	r := reach(a)
	if r.Empty() {
		return service.Paged[View]{Items: []View{}}, nil
	}
	q := model.InspectionQuery{Reach: r, Kind: f.Kind, FirmID: f.FirmID, CommunityID: f.CommunityID,
		CompoundID: f.CompoundID, From: f.From, To: f.To}
	page, err := model.InspectionsPage(ctx, s.db, q, p)
	if err != nil {
		return service.Paged[View]{}, err
	}
	vs, err := s.views(ctx, page.Items, false)
	return service.Paged[View]{Items: vs, More: page.More}, err
}

// views adds names (and, with items, the rows of each inspection).
func (s *Service) views(ctx context.Context, list []model.Inspection, withItems bool) ([]View, error) {
	out := make([]View, len(list))
	var ids, firms, comps, users, checklists []int64
	for _, ins := range list {
		ids, firms, comps = append(ids, ins.ID), append(firms, ins.FirmID), append(comps, ins.CompoundID)
		users, checklists = append(users, ins.InspectorID), append(checklists, ins.ChecklistID)
	}
	names, err := model.NamesOfAll(ctx, s.db,
		model.NameSet{Table: &model.Firm{}, Col: "name", IDs: firms},
		model.NameSet{Table: &model.Compound{}, Col: "name", IDs: comps},
		model.NameSet{Table: &model.User{}, Col: "display_name", IDs: users},
		model.NameSet{Table: &model.Checklist{}, Col: "name", IDs: checklists})
	if err != nil {
		return nil, err
	}
	var items []model.InspectionItem
	if withItems {
		if items, err = model.InspectionItemsOf(ctx, s.db, ids); err != nil {
			return nil, err
		}
	}
	var orderIDs []int64
	for _, it := range items {
		if it.OrderID != 0 {
			orderIDs = append(orderIDs, it.OrderID)
		}
	}
	heads, err := model.OrderHeads(ctx, s.db, orderIDs)
	if err != nil {
		return nil, err
	}
	numbers := map[int64]string{}
	for _, o := range heads {
		numbers[o.ID] = o.Number
	}
	for i, ins := range list {
		v := View{Inspection: ins, FirmName: names[0][ins.FirmID], CompoundName: names[1][ins.CompoundID],
			InspectorName: names[2][ins.InspectorID], ChecklistName: names[3][ins.ChecklistID],
			Items: []model.InspectionItem{}, Orders: map[int64]string{}}
		for _, it := range items {
			if it.InspectionID == ins.ID {
				v.Items = append(v.Items, it)
				if it.OrderID != 0 {
					v.Orders[it.OrderID] = numbers[it.OrderID]
				}
			}
		}
		out[i] = v
	}
	return out, nil
}

// Answer writes the firm manager's answer to a failed item (once).
func (s *Service) Answer(ctx context.Context, a *service.Actor, id, itemID int64, text string) (View, error) {
	ins, err := s.load(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	if !a.Can(firmTarget(ins.FirmID), model.RoleFirmManager) {
		return View{}, errAnswerRole
	}
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n == 0 || n > 1000 {
		return View{}, errAnswerText
	}
	it, err := model.ByID[model.InspectionItem](ctx, s.db, itemID)
	if err != nil || it.InspectionID != ins.ID {
		return View{}, service.OrNotFound(orGone(err), errItemGone)
	}
	if it.Result != model.ResultDeduct {
		return View{}, errAnswerPassed
	}
	if it.AnsweredBy != 0 {
		return View{}, errAnswered
	}
	now := s.clock.Now().UTC()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		n, err := model.AnswerInspectionItem(ctx, tx, it.ID, text, a.UserID, now)
		if err != nil {
			return err
		}
		if n == 0 {
			return errAnswered
		}
		return nil
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// orGone makes a missing row of another inspection look like a missing row.
func orGone(err error) error {
	if err == nil {
		return model.ErrNotFound
	}
	return err
}

// Photo opens a photo of an inspection (its own or one of an item's) for
// a reader of the inspection.
func (s *Service) Photo(ctx context.Context, a *service.Actor, id, photoID int64) (model.Photo, io.ReadCloser, error) {
	ins, err := s.load(ctx, a, id)
	if err != nil {
		return model.Photo{}, nil, err
	}
	ids := splitIDs(ins.Photos)
	items, err := model.InspectionItemsOf(ctx, s.db, []int64{ins.ID})
	if err != nil {
		return model.Photo{}, nil, err
	}
	for _, it := range items {
		ids = append(ids, splitIDs(it.Photos)...)
	}
	if !slices.Contains(ids, photoID) || s.photos == nil {
		return model.Photo{}, nil, errPhotoGone
	}
	return s.photos.OpenChecked(ctx, photoID)
}

// PhotoIDs lists the photo ids a stored list holds.
func PhotoIDs(list string) []int64 { return splitIDs(list) }
