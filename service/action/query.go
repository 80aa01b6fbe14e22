package action

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// View is an item with the names a person reads it by.
type View struct {
	model.ActionItem
	Number         string
	DueDate        string // Beijing date
	OwnerName      string
	PlaceName      string // the compound or community
	SourceLabel    string // 会议「…」, 工单 GD…, 检查
	OrganiserName  string
	CreatorName    string
	ClaimedByName  string
	DoneByName     string
	VerifiedByName string
	PhotoIDs       []int64
	// History is the item's ledger, oldest first.
	History []EventView
}

// EventView is one history row with its actor's name.
type EventView struct {
	model.ActionItemEvent
	ActorName string
	PhotoIDs  []int64
}

// Filter narrows the ledger. Zero values do not filter.
type Filter struct {
	States      []string
	OwnerKind   string
	OwnerID     int64
	Overdue     *bool
	SourceKind  string
	SourceID    int64
	StreetID    int64
	CommunityID int64
	CompoundID  int64
	From, To    *time.Time // raised in [From, To)
}

var (
	errFilterState  = service.Invalid("bad_state", "事项状态只能是 open、claimed、done 或 verified")
	errFilterOwner  = service.Invalid("bad_owner_kind", "责任单位类型只能是 firm、committee、department 或 community")
	errFilterSource = service.Invalid("bad_source_kind", "来源只能是 meeting、inspection 或 order")
	errFilterRange  = service.Invalid("bad_range", "开始日期须早于结束日期")
	errFilterIDs    = service.Invalid("bad_query", "编号须为正整数")
)

func (f Filter) check() error {
	for _, st := range f.States {
		if !slices.Contains(States, st) {
			return errFilterState
		}
	}
	if f.OwnerKind != "" && !slices.Contains(OwnerKinds, f.OwnerKind) {
		return errFilterOwner
	}
	if f.SourceKind != "" && !slices.Contains(SourceKinds, f.SourceKind) {
		return errFilterSource
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		return errFilterRange
	}
	for _, id := range []int64{f.OwnerID, f.SourceID, f.StreetID, f.CommunityID, f.CompoundID} {
		if id < 0 {
			return errFilterIDs
		}
	}
	return nil
}

// query is the actor's part of the ledger under f; ok is false when the
// actor may see no item at all.
func (s *Service) query(a *service.Actor, f Filter) (model.ActionItemQuery, bool, error) {
	if a == nil {
		return model.ActionItemQuery{}, false, service.ErrUnauthenticated
	}
	if err := f.check(); err != nil {
		return model.ActionItemQuery{}, false, err
	}
	r := reach(a)
	if r.Empty() {
		return model.ActionItemQuery{}, false, nil
	}
	return model.ActionItemQuery{
		Reach: r, States: f.States, OwnerKind: f.OwnerKind, OwnerID: f.OwnerID, Overdue: f.Overdue,
		SourceKind: f.SourceKind, SourceID: f.SourceID, StreetID: f.StreetID, CommunityID: f.CommunityID,
		CompoundID: f.CompoundID, From: f.From, To: f.To,
	}, true, nil
}

// List returns one page of the ledger the actor may see, newest first,
// each item with its history.
func (s *Service) List(ctx context.Context, a *service.Actor, f Filter, p service.Page) (service.Paged[View], error) {
	q, ok, err := s.query(a, f)
	if err != nil || !ok {
		return service.Paged[View]{Items: []View{}}, err
	}
	if p.Limit <= 0 || p.Limit > 100 {
		p.Limit = 20
	}
	rows, err := model.ActionItemPage(ctx, s.db, q, p.After, p.Limit+1)
	if err != nil {
		return service.Paged[View]{}, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.views(ctx, s.db, page.Items, true)
	if err != nil {
		return service.Paged[View]{}, err
	}
	return service.Paged[View]{Items: vs, More: page.More}, nil
}

// Get returns one item with its history.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	it, err := s.seen(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, s.db, []model.ActionItem{it}, true)
	if err != nil {
		return View{}, err
	}
	return vs[0], nil
}

// seen loads one item the actor may see (404 when missing, 403 when not
// theirs to see).
func (s *Service) seen(ctx context.Context, a *service.Actor, id int64) (model.ActionItem, error) {
	if a == nil {
		return model.ActionItem{}, service.ErrUnauthenticated
	}
	it, err := load(ctx, s.db, id)
	if err != nil {
		return it, err
	}
	rel, err := s.relationOf(ctx, s.db, a, &it)
	if err != nil {
		return it, err
	}
	if !rel.sees() {
		return it, errItemHidden
	}
	return it, nil
}

// EvidencePhoto opens a photo given as evidence of an item, for anyone who
// may see the item. The photo is opened for its uploader: the done step
// checked that the photo is theirs.
func (s *Service) EvidencePhoto(ctx context.Context, a *service.Actor, itemID, photoID int64) (model.Photo, io.ReadCloser, error) {
	if _, err := s.seen(ctx, a, itemID); err != nil {
		return model.Photo{}, nil, err
	}
	evs, err := model.ActionEvents(ctx, s.db, []int64{itemID}, ActDone)
	if err != nil {
		return model.Photo{}, nil, err
	}
	for _, ev := range evs {
		if slices.Contains(splitIDs(ev.Photos), photoID) && s.photos != nil {
			return s.photos.Open(ctx, &service.Actor{UserID: ev.ActorID}, photoID)
		}
	}
	return model.Photo{}, nil, service.NotFound("photo_not_found", "照片不存在")
}

// names resolves the ids a page of items refers to, one query per table.
type names struct {
	users, firms, committees, departments, regions, compounds, orders, meetings map[int64]string
}

func collect(ids map[int64]bool) []int64 {
	out := make([]int64, 0, len(ids))
	for id := range ids {
		if id > 0 {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// nameMap reads id → col of table for ids.
func nameMap(ctx context.Context, db *gorm.DB, table any, col string, ids map[int64]bool) (map[int64]string, error) {
	return model.NamesOf(ctx, db, table, col, collect(ids))
}

func (s *Service) names(ctx context.Context, db *gorm.DB, items []model.ActionItem, evs []model.ActionItemEvent) (names, error) {
	want := map[string]map[int64]bool{}
	add := func(kind string, id int64) {
		if want[kind] == nil {
			want[kind] = map[int64]bool{}
		}
		want[kind][id] = true
	}
	for _, it := range items {
		for _, u := range []int64{it.OrganiserID, it.CreatorID, it.ClaimedBy, it.DoneBy, it.VerifiedBy} {
			add("user", u)
		}
		add(it.OwnerKind, it.OwnerID)
		add(it.ScopeKind, it.ScopeID)
		add(it.SourceKind, it.SourceID)
	}
	for _, ev := range evs {
		add("user", ev.ActorID)
	}
	var n names
	var err error
	// Owner communities and places that are communities share one key.
	regions := want[model.OwnerCommunity]
	steps := []struct {
		dst   *map[int64]string
		table any
		col   string
		ids   map[int64]bool
	}{
		{&n.users, &model.User{}, "display_name", want["user"]},
		{&n.firms, &model.Firm{}, "name", want[model.OwnerFirm]},
		{&n.committees, &model.Committee{}, "name", want[model.OwnerCommittee]},
		{&n.departments, &model.Department{}, "name", want[model.OwnerDepartment]},
		{&n.regions, &model.Region{}, "name", regions},
		{&n.compounds, &model.Compound{}, "name", want[model.ScopeCompound]},
		{&n.orders, &model.Order{}, "number", want[model.SourceOrder]},
	}
	for _, st := range steps {
		if *st.dst, err = nameMap(ctx, db, st.table, st.col, st.ids); err != nil {
			return n, err
		}
	}
	if n.meetings, err = s.meetingTitles(ctx, db, want[model.SourceMeeting]); err != nil {
		return n, err
	}
	return n, nil
}

func (n names) owner(it model.ActionItem) string {
	switch it.OwnerKind {
	case model.OwnerFirm:
		return n.firms[it.OwnerID]
	case model.OwnerCommittee:
		return n.committees[it.OwnerID]
	case model.OwnerDepartment:
		return n.departments[it.OwnerID]
	case model.OwnerCommunity:
		return n.regions[it.OwnerID]
	}
	return ""
}

func (n names) place(it model.ActionItem) string {
	if it.ScopeKind == model.ScopeCompound {
		return n.compounds[it.ScopeID]
	}
	return n.regions[it.ScopeID]
}

func (n names) source(it model.ActionItem) string {
	switch it.SourceKind {
	case model.SourceMeeting:
		if t := n.meetings[it.SourceID]; t != "" {
			return "会议「" + t + "」"
		}
		return "会议"
	case model.SourceOrder:
		if num := n.orders[it.SourceID]; num != "" {
			return "工单 " + num
		}
		return "工单"
	case model.SourceInspection:
		if it.SourceID > 0 {
			return fmt.Sprintf("检查（第 %d 号）", it.SourceID)
		}
		return "检查"
	}
	return it.SourceKind
}

// views names items; with history, each carries its history rows.
func (s *Service) views(ctx context.Context, db *gorm.DB, items []model.ActionItem, history bool) ([]View, error) {
	var evs []model.ActionItemEvent
	if history && len(items) > 0 {
		ids := make([]int64, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		var err error
		if evs, err = model.ActionEvents(ctx, db, ids, ""); err != nil {
			return nil, fmt.Errorf("action item history: %w", err)
		}
	}
	n, err := s.names(ctx, db, items, evs)
	if err != nil {
		return nil, err
	}
	byItem := map[int64][]EventView{}
	for _, ev := range evs {
		byItem[ev.ItemID] = append(byItem[ev.ItemID], EventView{ActionItemEvent: ev, ActorName: n.users[ev.ActorID],
			PhotoIDs: splitIDs(ev.Photos)})
	}
	out := make([]View, len(items))
	for i, it := range items {
		v := View{
			ActionItem: it, Number: Number(it), DueDate: DueDate(it), OwnerName: n.owner(it), PlaceName: n.place(it),
			SourceLabel: n.source(it), OrganiserName: n.users[it.OrganiserID], CreatorName: n.users[it.CreatorID],
			ClaimedByName: n.users[it.ClaimedBy], DoneByName: n.users[it.DoneBy], VerifiedByName: n.users[it.VerifiedBy],
			PhotoIDs: splitIDs(it.Photos),
		}
		if history {
			v.History = byItem[it.ID]
			if v.History == nil {
				v.History = []EventView{}
			}
		}
		out[i] = v
	}
	return out, nil
}
