package inspection

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/action"
	"redprop/service/calendar"
	"redprop/service/order"
	"redprop/service/photo"
)

// Raise kinds: what a failed item raises in the inspection's own step.
const (
	RaiseOrder  = "order"
	RaiseAction = "action"
)

// ResultInput is the inspector's result of one checklist item.
type ResultInput struct {
	ItemID   int64 // the checklist item
	Result   string
	Deduct   int
	Note     string
	PhotoIDs []int64
	Raise    *RaiseInput
}

// RaiseInput asks a failed item to raise an order dispatched to the firm
// (due date optional) or an action item owned by it (due date required).
type RaiseInput struct {
	Kind         string
	DueDate      string // YYYY-MM-DD, a Beijing date
	Text         string // the order's description or the item's title; default from the item
	CategoryCode string // orders only; default by section
}

// CreateInput is a new inspection. Items not listed take DefaultResult
// when it is set; otherwise every item of the checklist version must be
// listed once.
type CreateInput struct {
	CompoundID    int64
	Kind          string
	ChecklistID   int64 // 0: the nearest in force at the compound
	InspectedAt   *time.Time
	Notes         string
	PhotoIDs      []int64
	Items         []ResultInput
	DefaultResult string
	IdemKey       string
}

// MaxPhotos bounds the photos of an inspection and of one item.
const MaxPhotos = photo.MaxAttached

var (
	errKind           = service.Invalid("bad_kind", "检查类型只能是 daily（日查）、monthly（月考）或 quarterly（季评）")
	errCompound       = service.Invalid("compound_required", "请指定被检查的小区")
	errCompoundGone   = service.NotFound("compound_not_found", "小区不存在")
	errCompoundHidden = service.Forbidden("out_of_scope", "该小区不在您的管辖范围内")
	errInspector      = service.Forbidden("inspect_forbidden", "只有该小区所在社区或街道的工作人员可以检查")
	errNoFirm         = service.Unprocessable("no_firm", "该小区目前没有签约的物业企业，无法检查其服务")
	errNoChecklist    = service.Unprocessable("no_checklist", "该小区没有可用的检查表")
	errChecklistUse   = service.Unprocessable("checklist_not_in_force", "该检查表不适用于此小区或已停用")
	errWhen           = service.Invalid("bad_inspected_at", "检查时间不能晚于现在，也不能早于 31 天前")
	errNotes          = service.Invalid("bad_notes", "检查说明不能超过 1000 个字")
	errPhotos         = photo.ErrBadPhotos
	errPhotoOwn       = service.Unprocessable("photo_unavailable", "照片不存在或不是您上传的")
	errItemUnknown    = service.Invalid("bad_item", "检查结果中有不属于该检查表版本的检查项，或同一项填写了两次")
	errItemMissing    = service.Invalid("items_incomplete", "请为检查表的每一项填写结果（或指定 default_result）")
	errResult         = service.Invalid("bad_result", "检查结果只能是 pass（合格）、deduct（扣分）或 na（不适用）")
	errDeduct         = service.Invalid("bad_deduct", "扣分须为 1 到该项分值之间的整数（整项扣分的检查项须扣全部分值）；合格和不适用的项不能扣分")
	errItemNote       = service.Invalid("bad_item_note", "检查项说明不能超过 500 个字")
	errRaiseKind      = service.Invalid("bad_raise", "只有扣分的检查项可以生成整改，类型只能是 order（工单）或 action（整改事项）")
	errRaiseText      = service.Invalid("bad_raise_text", "整改说明不能超过 100 个字")
	errRaiseDue       = service.Invalid("bad_due_date", "截止日期须为今天以后一年以内的 YYYY-MM-DD 日期")
)

// Create records an inspection; failed items that ask for it raise an
// order or an action item in the same transaction. created is false when
// the inspector already recorded one with the same Idempotency-Key.
func (s *Service) Create(ctx context.Context, a *service.Actor, in CreateInput) (View, bool, error) {
	if a == nil {
		return View{}, false, service.ErrUnauthenticated
	}
	now := s.clock.Now().UTC()
	if err := checkCreate(&in, now); err != nil {
		return View{}, false, err
	}
	if in.IdemKey != "" {
		if ins, ok, err := model.ByIdemKey[model.Inspection](ctx, s.db, "inspector_id", a.UserID, in.IdemKey); err != nil || ok {
			return s.afterWrite(ctx, a, ins, false, err)
		}
	}
	comp, err := s.compound(ctx, in.CompoundID)
	if err != nil {
		return View{}, false, err
	}
	g, ok := a.GrantFor(service.TargetOf(model.ScopeCompound, comp.ID, comp.Ancestry), inspectorRoles...)
	if !ok {
		return View{}, false, errInspector
	}
	when := now
	if in.InspectedAt != nil {
		when = in.InspectedAt.UTC()
	}
	// The firm inspected is the one serving the compound on the day of the
	// inspection, which may be before a change of contract.
	firm, err := model.ContractedFirm(ctx, s.db, comp.ID, beijingDate(when))
	if err != nil {
		return View{}, false, err
	}
	if firm == 0 {
		return View{}, false, errNoFirm
	}
	cl, err := s.checklistFor(ctx, comp, in.ChecklistID)
	if err != nil {
		return View{}, false, err
	}
	items, err := model.ChecklistItemsOf(ctx, s.db, cl.LatestID)
	if err != nil {
		return View{}, false, err
	}
	if err := s.checkPhotos(ctx, a.UserID, in); err != nil {
		return View{}, false, err
	}
	ins := model.Inspection{Kind: in.Kind, ChecklistID: cl.ID, ChecklistVersionID: cl.LatestID, ChecklistNumber: cl.Latest,
		FirmID: firm, Ancestry: comp.Ancestry, InspectorID: a.UserID, InspectorRole: g.Role, InspectedAt: when,
		Notes: in.Notes, Photos: joinIDs(in.PhotoIDs)}
	ins.CreatedAt, ins.UpdatedAt = now, now
	if in.IdemKey != "" {
		k := in.IdemKey
		ins.IdemKey = &k
	}
	rows, err := results(&ins, items, in)
	if err != nil {
		return View{}, false, err
	}
	// What failed items raise is checked and prepared before the
	// transaction, and written inside it.
	orders := map[int]*order.Raised{}
	acts := map[int]*action.Prepared{}
	for _, r := range in.Items {
		if r.Raise == nil {
			continue
		}
		k := slices.IndexFunc(rows, func(x model.InspectionItem) bool { return x.ChecklistItemID == r.ItemID })
		row := rows[k]
		if r.Raise.Kind == RaiseOrder {
			p, err := s.orders.PrepareRaise(ctx, a, s.orderOf(&ins, &row, r, comp, g.Role, now))
			if err != nil {
				return View{}, false, err
			}
			orders[k] = p
		} else {
			p, err := s.actions.PrepareRaise(ctx, a, actionOf(&ins, &row, r))
			if err != nil {
				return View{}, false, err
			}
			acts[k] = p
		}
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.Create(ctx, tx, &ins); err != nil {
			return err
		}
		for k := range rows {
			rows[k].InspectionID = ins.ID
			if p := orders[k]; p != nil {
				o, err := p.Commit(ctx, tx)
				if err != nil {
					return err
				}
				rows[k].OrderID = o.ID
			}
			if p := acts[k]; p != nil {
				it, err := p.Commit(ctx, tx, ins.ID)
				if err != nil {
					return err
				}
				rows[k].ActionItemID = it.ID
			}
		}
		return model.Create(ctx, tx, &rows)
	})
	if errors.Is(err, model.ErrDuplicate) && in.IdemKey != "" {
		prev, ok, ferr := model.ByIdemKey[model.Inspection](ctx, s.db, "inspector_id", a.UserID, in.IdemKey)
		if ferr == nil && ok {
			return s.afterWrite(ctx, a, prev, false, nil)
		}
	}
	if err != nil {
		return View{}, false, fmt.Errorf("create inspection: %w", err)
	}
	return s.afterWrite(ctx, a, ins, true, nil)
}

func (s *Service) afterWrite(ctx context.Context, a *service.Actor, ins model.Inspection, created bool, err error) (View, bool, error) {
	if err != nil {
		return View{}, false, err
	}
	v, err := s.Get(ctx, a, ins.ID)
	return v, created, err
}

// checkCreate validates what needs no database.
func checkCreate(in *CreateInput, now time.Time) error {
	if !slices.Contains(Kinds, in.Kind) {
		return errKind
	}
	if in.CompoundID <= 0 {
		return errCompound
	}
	if in.ChecklistID < 0 {
		return errChecklistUse
	}
	if t := in.InspectedAt; t != nil && (t.After(now) || t.Before(now.AddDate(0, 0, -31))) {
		return errWhen
	}
	in.Notes = strings.TrimSpace(in.Notes)
	if utf8.RuneCountInString(in.Notes) > 1000 {
		return errNotes
	}
	if err := photo.CheckIDs(in.PhotoIDs, 0); err != nil {
		return err
	}
	if in.DefaultResult != "" && in.DefaultResult != model.ResultPass && in.DefaultResult != model.ResultNA {
		return errResult
	}
	for i := range in.Items {
		r := &in.Items[i]
		r.Note = strings.TrimSpace(r.Note)
		if utf8.RuneCountInString(r.Note) > 500 {
			return errItemNote
		}
		if err := photo.CheckIDs(r.PhotoIDs, 0); err != nil {
			return err
		}
		if r.Raise != nil {
			if r.Result != model.ResultDeduct || (r.Raise.Kind != RaiseOrder && r.Raise.Kind != RaiseAction) {
				return errRaiseKind
			}
			r.Raise.Text = strings.TrimSpace(r.Raise.Text)
			if utf8.RuneCountInString(r.Raise.Text) > 100 {
				return errRaiseText
			}
			due := strings.TrimSpace(r.Raise.DueDate)
			if due == "" && r.Raise.Kind == RaiseAction {
				return errRaiseDue
			}
			if due != "" {
				day, err := time.ParseInLocation(time.DateOnly, due, calendar.Beijing)
				today := beijingMidnight(now)
				if err != nil || day.Before(today) || day.After(today.AddDate(1, 0, 0)) {
					return errRaiseDue
				}
			}
			r.Raise.DueDate = due
		}
	}
	if err := service.CheckIdemKey(in.IdemKey); err != nil {
		return err
	}
	return nil
}

// checkPhotos makes sure every photo named is the inspector's own upload.
func (s *Service) checkPhotos(ctx context.Context, uploader int64, in CreateInput) error {
	all := slices.Clone(in.PhotoIDs)
	for _, r := range in.Items {
		all = append(all, r.PhotoIDs...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	if len(all) == 0 {
		return nil
	}
	own, err := model.OwnPhotoIDs(ctx, s.db, uploader, all)
	if err != nil {
		return err
	}
	if len(own) != len(all) {
		return errPhotoOwn
	}
	return nil
}

// results turns the inspector's input into one row per checklist item
// and scores the inspection: points earned over the applicable items,
// normalised to 100.
func results(ins *model.Inspection, items []model.ChecklistItem, in CreateInput) ([]model.InspectionItem, error) {
	byID := map[int64]ResultInput{}
	for _, r := range in.Items {
		if _, dup := byID[r.ItemID]; dup {
			return nil, errItemUnknown
		}
		byID[r.ItemID] = r
	}
	known := 0
	rows := make([]model.InspectionItem, 0, len(items))
	for _, it := range items {
		r, ok := byID[it.ID]
		if ok {
			known++
		} else if in.DefaultResult == "" {
			return nil, errItemMissing
		} else {
			r = ResultInput{ItemID: it.ID, Result: in.DefaultResult}
		}
		switch r.Result {
		case model.ResultPass, model.ResultNA:
			if r.Deduct != 0 {
				return nil, errDeduct
			}
		case model.ResultDeduct:
			if it.Rule == model.RuleWhole && r.Deduct == 0 {
				r.Deduct = it.Points
			}
			if r.Deduct < 1 || r.Deduct > it.Points || (it.Rule == model.RuleWhole && r.Deduct != it.Points) {
				return nil, errDeduct
			}
		default:
			return nil, errResult
		}
		if r.Result != model.ResultNA {
			ins.Possible += it.Points
			ins.Earned += it.Points - r.Deduct
		}
		if r.Result == model.ResultDeduct {
			ins.Failed++
		}
		rows = append(rows, model.InspectionItem{ChecklistItemID: it.ID, Section: it.Section, Title: it.Title,
			Points: it.Points, Rule: it.Rule, SortOrder: it.SortOrder, Result: r.Result, Deduct: r.Deduct,
			Note: r.Note, Photos: joinIDs(r.PhotoIDs)})
	}
	if known != len(byID) {
		return nil, errItemUnknown
	}
	if ins.Possible > 0 {
		ins.Scored = true
		ins.Score = math.Round(float64(ins.Earned)*10000/float64(ins.Possible)) / 100
	}
	return rows, nil
}

// orderOf is the order a failed item raises: for the compound's public
// place, dispatched to the firm inspected.
func (s *Service) orderOf(ins *model.Inspection, row *model.InspectionItem, r ResultInput, comp model.Compound, role string,
	now time.Time) order.RaiseInput {
	text := r.Raise.Text
	if text == "" {
		text = fmt.Sprintf("%s发现：%s（%s）扣 %d 分", KindName(ins.Kind), row.Title, SectionName(row.Section), row.Deduct)
	}
	if r.Note != "" {
		text += "。" + r.Note
	}
	cat := r.Raise.CategoryCode
	if cat == "" {
		cat = sectionCategory[row.Section]
	}
	in := order.RaiseInput{CategoryCode: cat, CompoundID: comp.ID, FirmID: ins.FirmID, Description: text,
		Place: comp.Name, Role: role, Note: "检查发现问题：" + row.Title}
	if r.Raise.DueDate != "" {
		day, _ := time.ParseInLocation(time.DateOnly, r.Raise.DueDate, calendar.Beijing)
		due := day.AddDate(0, 0, 1).UTC()
		in.Due = &due
	}
	return in
}

// actionOf is the action item a failed item raises: owned by the firm,
// for the compound.
func actionOf(ins *model.Inspection, row *model.InspectionItem, r ResultInput) action.CreateInput {
	title := r.Raise.Text
	if title == "" {
		title = service.CutRunes(fmt.Sprintf("%s整改：%s", KindName(ins.Kind), row.Title), 100)
	}
	detail := fmt.Sprintf("%s · %s，扣 %d 分（分值 %d）", SectionName(row.Section), row.Title, row.Deduct, row.Points)
	if r.Note != "" {
		detail += "。" + r.Note
	}
	return action.CreateInput{Title: title, Detail: detail, OwnerKind: model.OwnerFirm, OwnerID: ins.FirmID,
		DueDate: r.Raise.DueDate, SourceKind: model.SourceInspection, CompoundID: ins.CompoundID}
}

// checklistFor is the checklist an inspection of comp uses: the one
// named, if in force there, else the nearest in force.
func (s *Service) checklistFor(ctx context.Context, comp model.Compound, id int64) (model.Checklist, error) {
	list, err := model.ChecklistsFor(ctx, s.db, comp.CityID, comp.StreetID)
	if err != nil {
		return model.Checklist{}, err
	}
	if id == 0 {
		if len(list) == 0 {
			return model.Checklist{}, errNoChecklist
		}
		return list[0], nil
	}
	for _, c := range list {
		if c.ID == id {
			return c, nil
		}
	}
	return model.Checklist{}, errChecklistUse
}

func (s *Service) compound(ctx context.Context, id int64) (model.Compound, error) {
	if id <= 0 {
		return model.Compound{}, errCompound
	}
	c, err := model.ByID[model.Compound](ctx, s.db, id)
	return c, service.OrNotFound(err, errCompoundGone)
}

// firmServes reports whether the actor manages a firm under contract
// with the compound today.
func (s *Service) firmServes(ctx context.Context, a *service.Actor, compoundID int64) bool {
	firm, err := model.ContractedFirm(ctx, s.db, compoundID, beijingDate(s.clock.Now()))
	return err == nil && firm != 0 && a.Can(firmTarget(firm), model.RoleFirmManager)
}

// beijingDate is t's Beijing date as contract dates store it (midnight UTC).
func beijingDate(t time.Time) time.Time {
	y, m, d := t.In(calendar.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// beijingMidnight is the start of t's Beijing date.
func beijingMidnight(t time.Time) time.Time {
	y, m, d := t.In(calendar.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, calendar.Beijing)
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

func splitIDs(s string) []int64 {
	out := []int64{}
	for _, p := range strings.Split(s, ",") {
		if id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64); err == nil && id > 0 {
			out = append(out, id)
		}
	}
	return out
}
