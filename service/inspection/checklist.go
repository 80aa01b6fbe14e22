package inspection

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// ItemInput is one line of a new checklist version.
type ItemInput struct {
	Section  string
	Title    string
	Standard string
	Points   int
	Rule     string
}

// ChecklistInput is a new checklist with its first version.
type ChecklistInput struct {
	Name      string
	ScopeKind string // city or street (the default sheet is the platform's)
	ScopeID   int64
	Note      string
	Items     []ItemInput
}

// VersionInput is a new version of a checklist: its whole content.
type VersionInput struct {
	Note  string
	Items []ItemInput
}

// ChecklistView is a checklist with one of its versions, that version's
// items and the list of all its versions.
type ChecklistView struct {
	model.Checklist
	Version  model.ChecklistVersion
	Items    []model.ChecklistItem
	Versions []model.ChecklistVersion
}

// MaxItems bounds the items of one checklist version.
const MaxItems = 100

var (
	errChecklistMissing = service.NotFound("checklist_not_found", "检查表不存在")
	errChecklistVersion = service.NotFound("checklist_version_not_found", "检查表没有该版本")
	errChecklistHidden  = service.Forbidden("out_of_scope", "该检查表不在您的管辖范围内")
	errChecklistManage  = service.Forbidden("checklist_forbidden", "只有该市的市级工作人员或该街道的工作人员可以维护检查表")
	errChecklistName    = service.Invalid("bad_name", "检查表名称须为 1 到 60 个字")
	errChecklistScope   = service.Invalid("bad_scope", "检查表的范围只能是 city（市）或 street（街道），并须指明编号")
	errChecklistNote    = service.Invalid("bad_note", "版本说明不能超过 200 个字")
	errChecklistItems   = service.Invalid("bad_items", "检查表须有 1 到 100 个检查项")
	errItemSection      = service.Invalid("bad_section", "检查项的类别只能是 environment、order_security、facilities、greenery、fire_safety、service_attitude 或 party_building")
	errItemTitle        = service.Invalid("bad_item_title", "检查项名称须为 1 到 100 个字，同一版本内不能重复")
	errItemStandard     = service.Invalid("bad_standard", "检查标准不能超过 500 个字")
	errItemPoints       = service.Invalid("bad_points", "检查项分值须为 1 到 100 的整数")
	errItemRule         = service.Invalid("bad_rule", "扣分规则只能是 whole（不合格扣全部分值）或 partial（按情况扣 1 至全部分值）")
	errScopeGone        = service.Unprocessable("scope_not_found", "所指定的市或街道不存在")
	errVersionRace      = service.Conflict("version_conflict", "检查表刚刚有了新版本，请刷新后重试")
)

// checkItems validates and normalises the items of a version; it returns
// their total points.
func checkItems(note string, items []ItemInput) (string, []model.ChecklistItem, int, error) {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > 200 {
		return "", nil, 0, errChecklistNote
	}
	if len(items) == 0 || len(items) > MaxItems {
		return "", nil, 0, errChecklistItems
	}
	out := make([]model.ChecklistItem, 0, len(items))
	total := 0
	seen := map[string]bool{}
	for i, in := range items {
		title, std := strings.TrimSpace(in.Title), strings.TrimSpace(in.Standard)
		if !slices.Contains(Sections, in.Section) {
			return "", nil, 0, errItemSection
		}
		if n := utf8.RuneCountInString(title); n == 0 || n > 100 || seen[title] {
			return "", nil, 0, errItemTitle
		}
		seen[title] = true
		if utf8.RuneCountInString(std) > 500 {
			return "", nil, 0, errItemStandard
		}
		if in.Points < 1 || in.Points > 100 {
			return "", nil, 0, errItemPoints
		}
		if in.Rule != model.RuleWhole && in.Rule != model.RulePartial {
			return "", nil, 0, errItemRule
		}
		total += in.Points
		out = append(out, model.ChecklistItem{Section: in.Section, Title: title, Standard: std, Points: in.Points,
			Rule: in.Rule, SortOrder: i + 1})
	}
	return note, out, total, nil
}

// CreateChecklist adds a checklist of a city or street with its first
// version.
func (s *Service) CreateChecklist(ctx context.Context, a *service.Actor, in ChecklistInput) (ChecklistView, error) {
	if a == nil {
		return ChecklistView{}, service.ErrUnauthenticated
	}
	name := strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(name); n == 0 || n > 60 {
		return ChecklistView{}, errChecklistName
	}
	if (in.ScopeKind != model.ScopeCity && in.ScopeKind != model.ScopeStreet) || in.ScopeID <= 0 {
		return ChecklistView{}, errChecklistScope
	}
	note, items, total, err := checkItems(in.Note, in.Items)
	if err != nil {
		return ChecklistView{}, err
	}
	r, err := model.TakeRegion(ctx, s.db, in.ScopeID, in.ScopeKind)
	if errors.Is(err, model.ErrNotFound) {
		return ChecklistView{}, errScopeGone
	}
	if err != nil {
		return ChecklistView{}, err
	}
	if !managesChecklist(a, r.Level, r.ID, r.Ancestry) {
		return ChecklistView{}, errChecklistManage
	}
	now := s.clock.Now().UTC()
	cl := model.Checklist{Name: name, ScopeKind: r.Level, ScopeID: r.ID, CityID: r.CityID, CreatorID: a.UserID, Active: true}
	if r.Level == model.ScopeCity {
		cl.CityID = r.ID
	} else {
		cl.StreetID = r.ID
	}
	cl.CreatedAt, cl.UpdatedAt = now, now
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.Create(ctx, tx, &cl); err != nil {
			return err
		}
		_, err := s.addVersion(ctx, tx, &cl, a.UserID, note, items, total)
		return err
	})
	if err != nil {
		return ChecklistView{}, err
	}
	return s.Checklist(ctx, a, cl.ID, 0)
}

// AddVersion writes a new version of a checklist; earlier versions, and
// the inspections that used them, are untouched.
func (s *Service) AddVersion(ctx context.Context, a *service.Actor, id int64, in VersionInput) (ChecklistView, error) {
	if a == nil {
		return ChecklistView{}, service.ErrUnauthenticated
	}
	cl, err := s.checklist(ctx, id)
	if err != nil {
		return ChecklistView{}, err
	}
	if !readsChecklist(a, &cl) {
		return ChecklistView{}, errChecklistHidden
	}
	anc, err := s.scopeAncestry(ctx, &cl)
	if err != nil {
		return ChecklistView{}, err
	}
	if cl.ScopeKind == model.ScopeAll && !a.IsAdmin() || !managesChecklist(a, cl.ScopeKind, cl.ScopeID, anc) {
		return ChecklistView{}, errChecklistManage
	}
	note, items, total, err := checkItems(in.Note, in.Items)
	if err != nil {
		return ChecklistView{}, err
	}
	var number int
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		number, err = s.addVersion(ctx, tx, &cl, a.UserID, note, items, total)
		return err
	})
	if errors.Is(err, model.ErrDuplicate) {
		return ChecklistView{}, errVersionRace
	}
	if err != nil {
		return ChecklistView{}, err
	}
	return s.Checklist(ctx, a, cl.ID, number)
}

// addVersion writes the next version of cl inside tx and makes it the
// latest (a compare-and-set on the latest number: of two editors at once,
// one wins and the other gets 409).
func (s *Service) addVersion(ctx context.Context, tx *gorm.DB, cl *model.Checklist, by int64, note string,
	items []model.ChecklistItem, total int) (int, error) {
	now := s.clock.Now().UTC()
	v := model.ChecklistVersion{ChecklistID: cl.ID, Number: cl.Latest + 1, Note: note, TotalPoints: total,
		CreatorID: by, CreatedAt: now}
	if err := model.Create(ctx, tx, &v); err != nil {
		return 0, err
	}
	for i := range items {
		items[i].VersionID = v.ID
	}
	if err := model.Create(ctx, tx, &items); err != nil {
		return 0, err
	}
	n, err := model.AdvanceChecklist(ctx, tx, cl.ID, cl.Latest, v.Number, v.ID, now)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errVersionRace
	}
	return v.Number, nil
}

// scopeAncestry is the place of a checklist's city or street.
func (s *Service) scopeAncestry(ctx context.Context, cl *model.Checklist) (model.Ancestry, error) {
	if cl.ScopeKind == model.ScopeAll {
		return model.Ancestry{}, nil
	}
	r, err := model.TakeRegion(ctx, s.db, cl.ScopeID, cl.ScopeKind)
	if err != nil {
		return model.Ancestry{}, err
	}
	anc := r.Ancestry
	anc.Set(r.Level, r.ID)
	return anc, nil
}

func (s *Service) checklist(ctx context.Context, id int64) (model.Checklist, error) {
	cl, err := model.ByID[model.Checklist](ctx, s.db, id)
	return cl, service.OrNotFound(err, errChecklistMissing)
}

// Checklist reads a checklist with version number (0: the latest).
func (s *Service) Checklist(ctx context.Context, a *service.Actor, id int64, number int) (ChecklistView, error) {
	if a == nil {
		return ChecklistView{}, service.ErrUnauthenticated
	}
	cl, err := s.checklist(ctx, id)
	if err != nil {
		return ChecklistView{}, err
	}
	if !readsChecklist(a, &cl) {
		return ChecklistView{}, errChecklistHidden
	}
	if number <= 0 {
		number = cl.Latest
	}
	v, err := model.ChecklistVersionOf(ctx, s.db, cl.ID, number)
	if err != nil {
		return ChecklistView{}, service.OrNotFound(err, errChecklistVersion)
	}
	items, err := model.ChecklistItemsOf(ctx, s.db, v.ID)
	if err != nil {
		return ChecklistView{}, err
	}
	vs, err := model.ChecklistVersions(ctx, s.db, cl.ID)
	if err != nil {
		return ChecklistView{}, err
	}
	return ChecklistView{Checklist: cl, Version: v, Items: items, Versions: vs}, nil
}

// Checklists lists a page of the checklists the actor may read: the
// defaults and those of the cities and streets of their grants.
func (s *Service) Checklists(ctx context.Context, a *service.Actor, p service.Page) (service.Paged[model.Checklist], error) {
	if a == nil {
		return service.Paged[model.Checklist]{}, service.ErrUnauthenticated
	}
	f := model.ChecklistFilter{Scopes: []model.Place{{Kind: model.ScopeAll}}}
	for _, g := range a.Grants {
		if g.ScopeKind == model.ScopePlatform {
			f.All = true
			break
		}
		city := g.CityID
		if g.ScopeKind == model.ScopeCity {
			city = g.ScopeID
		}
		if city != 0 {
			f.Scopes = append(f.Scopes, model.Place{Kind: model.ScopeCity, ID: city})
		}
	}
	return model.ChecklistsPage(ctx, s.db, f, p)
}

// InForce lists the checklists in force at a compound, nearest scope
// first (the street's, the city's, the default): the first is the one an
// inspection uses unless it names another.
func (s *Service) InForce(ctx context.Context, a *service.Actor, compoundID int64) ([]model.Checklist, error) {
	if a == nil {
		return nil, service.ErrUnauthenticated
	}
	comp, err := s.compound(ctx, compoundID)
	if err != nil {
		return nil, err
	}
	if !a.Can(service.TargetOf(model.ScopeCompound, comp.ID, comp.Ancestry), officialRoles...) &&
		!s.firmServes(ctx, a, comp.ID) {
		return nil, errCompoundHidden
	}
	return model.ChecklistsFor(ctx, s.db, comp.CityID, comp.StreetID)
}
