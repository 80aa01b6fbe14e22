package order

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// View is an order as one viewer may see it: privacy is already applied
// (hidden ids are 0, hidden names and phones empty or masked).
type View struct {
	model.Order
	CategoryName  string
	CompoundName  string
	GridName      string
	BuildingName  string
	HouseholdName string // "1号楼1单元101"
	AuthorName    string
	ResidentName  string
	ResidentPhone string
	HandlerName   string
	AssigneeName  string
	// Light is the traffic light of the current step ("" without a
	// deadline): green, yellow from 80% of the budget, red overdue.
	Light string
	// IdentityHidden says the viewer may not know who reported it.
	IdentityHidden bool
	// NameMasked says names are masked until the handler accepts.
	NameMasked bool
	// CalendarMissing says the step's deadline counts working days of a
	// year whose calendar is not loaded: they were counted as a plain week,
	// holidays as worked, and the deadline may come too early.
	CalendarMissing bool
	// InspectionID and InspectionItemID name the inspection item that
	// raised the order (channel inspection), for one order.
	InspectionID, InspectionItemID int64
	// Timeline and Handlers are filled for one order, not for lists.
	Timeline []EventView
	Handlers []HandlerStep
}

// EventView is one timeline row as the viewer may see it.
type EventView struct {
	model.OrderEvent
	ActorName    string
	HandlerName  string
	AssigneeName string
	PhotoIDs     []int64
}

// HandlerStep is one link of the chain of handlers: who passed the order
// to whom (a dispatch, return, assignment or escalation).
type HandlerStep struct {
	At           time.Time
	Action       string
	ActorID      int64
	ActorName    string
	ActorRole    string
	Level        string
	HandlerKind  string
	HandlerID    int64
	HandlerName  string
	AssigneeID   int64
	AssigneeName string
}

var errPhotoMissing = service.NotFound("photo_not_found", "照片不存在") // the photo service's own answer

// OpenPhoto returns a photo and its bytes for the actor. Its uploader may
// always see it; anyone else only when it is attached to an order they may
// see. Everyone else gets 404, not 403: photo ids are sequential and must
// not be probed.
func (s *Service) OpenPhoto(ctx context.Context, a *service.Actor, id int64) (model.Photo, io.ReadCloser, error) {
	if a == nil {
		return model.Photo{}, nil, service.ErrUnauthenticated
	}
	if s.photos == nil {
		return model.Photo{}, nil, errPhotoMissing
	}
	p, err := s.photos.Find(ctx, id)
	if err != nil {
		return model.Photo{}, nil, err
	}
	if p.UploaderID != a.UserID {
		if p.OrderID == 0 {
			return model.Photo{}, nil, errPhotoMissing
		}
		o, err := s.order(ctx, s.db, p.OrderID)
		if errors.Is(err, errOrderMissing) || (err == nil && !canSee(a, &o)) {
			return model.Photo{}, nil, errPhotoMissing
		}
		if err != nil {
			return model.Photo{}, nil, err
		}
	}
	return s.photos.OpenChecked(ctx, id)
}

// Get returns one order with its timeline and chain of handlers.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	if a == nil {
		return View{}, service.ErrUnauthenticated
	}
	o, err := s.order(ctx, s.db, id)
	if err != nil {
		return View{}, err
	}
	if !canSee(a, &o) {
		return View{}, errOrderHidden
	}
	vs, err := s.views(ctx, a, []model.Order{o}, true)
	if err != nil {
		return View{}, err
	}
	return vs[0], nil
}

// Queues of orders per role.
const (
	QueueMine       = "mine"        // the resident's (or author's) own orders
	QueueToVerify   = "to_verify"   // grid worker: new reports in my grids
	QueueToDispatch = "to_dispatch" // dispatchers: waiting at my level
	QueueFirm       = "firm"        // handlers: to accept and in hand
	QueueAssigned   = "assigned"    // firm worker: assigned to me
	QueueToConfirm  = "to_confirm"  // grid worker: completed, to confirm
	QueueAll        = "all"         // everything I may see
)

// Filter narrows a queue.
type Filter struct {
	Queue      string
	States     []string
	Category   string // a code; "repair" also matches its sub-kinds
	CompoundID int64
	GridID     int64
	Level      string // grid, community, street or city: who owns it now
	Overdue    *bool
	From, To   *time.Time // created in [From, To)
}

var (
	errQueue       = service.Invalid("bad_queue", "队列只能是 mine、to_verify、to_dispatch、firm、assigned、to_confirm 或 all")
	errQueueRole   = service.Forbidden("queue_forbidden", "您没有该队列对应的角色")
	errFilterState = service.Invalid("bad_state", "工单状态不正确或重复")
	errFilterCat   = service.Invalid("bad_category", "工单类别编码不正确")
	errFilterLevel = service.Invalid("bad_level", "层级只能是 grid、community、street 或 city")
)

// AllStates lists every order state.
var AllStates = []string{model.StateSubmitted, model.StateVerified, model.StateDispatched, model.StateAccepted,
	model.StateInProgress, model.StateCompleted, model.StateConfirmed, model.StateClosed, model.StateRejected,
	model.StateMerged, model.StateCancelled}

// List returns one page of a queue, newest first.
func (s *Service) List(ctx context.Context, a *service.Actor, f Filter, p service.Page) (service.Paged[View], error) {
	q, err := listQuery(a, f)
	if err != nil {
		return service.Paged[View]{}, err
	}
	q.Before = p.After
	if p.Limit <= 0 {
		p.Limit = 20
	}
	q.Limit = p.Limit + 1
	rows, err := model.ListOrders(ctx, s.db, q)
	if err != nil {
		return service.Paged[View]{}, err
	}
	page := service.Cut(rows, p.Limit)
	vs, err := s.views(ctx, a, page.Items, false)
	if err != nil {
		return service.Paged[View]{}, err
	}
	return service.Paged[View]{Items: vs, More: page.More}, nil
}

// listQuery is the query of a queue and filter for the actor.
func listQuery(a *service.Actor, f Filter) (model.OrderQuery, error) {
	if a == nil {
		return model.OrderQuery{}, service.ErrUnauthenticated
	}
	for i, st := range f.States {
		// Each state once: a list names at most every state, and what is
		// kept of it (an export job's request) stays bounded.
		if !slices.Contains(AllStates, st) || slices.Contains(f.States[:i], st) {
			return model.OrderQuery{}, errFilterState
		}
	}
	if len(f.Category) > 40 {
		return model.OrderQuery{}, errFilterCat
	}
	if f.Level != "" && !slices.Contains([]string{model.OrderLevelGrid, model.OrderLevelCommunity, model.OrderLevelStreet, model.OrderLevelCity}, f.Level) {
		return model.OrderQuery{}, errFilterLevel
	}
	scopes, states, fixed, err := queueScope(a, f.Queue)
	if err != nil {
		return model.OrderQuery{}, err
	}
	q := model.OrderQuery{Scopes: scopes, Category: f.Category, CompoundID: f.CompoundID, GridID: f.GridID, Level: f.Level,
		Overdue: f.Overdue, From: f.From, To: f.To}
	switch {
	case len(f.States) > 0 && fixed:
		q.States = [][]string{states, f.States}
	case len(f.States) > 0:
		q.States = [][]string{f.States}
	case len(states) > 0:
		q.States = [][]string{states}
	}
	return q, nil
}

// names batch-loads the display names views need: one query per table,
// whatever the number of orders.
type names struct {
	users      map[int64]model.User
	categories map[int64]model.Category
	compounds  map[int64]string
	grids      map[int64]string
	buildings  map[int64]string
	households map[int64]model.Household
	firms      map[int64]string
	depts      map[int64]string
	regions    map[int64]string
	// contracted holds the firm–compound pairs of the orders whose firm
	// still serves the compound (within the grace): only those firms see
	// who reported.
	contracted map[model.FirmCompound]bool
}

type idSet map[int64]bool

func (s idSet) add(ids ...int64) {
	for _, id := range ids {
		if id != 0 {
			s[id] = true
		}
	}
}

func (s idSet) list() []int64 {
	out := make([]int64, 0, len(s))
	for id := range s {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// views converts orders for the viewer; with detail it adds the timeline
// and the chain of handlers (meant for a single order).
func (s *Service) views(ctx context.Context, a *service.Actor, orders []model.Order, detail bool) ([]View, error) {
	db := s.db
	var events []model.OrderEvent
	if detail && len(orders) > 0 {
		ids := make([]int64, len(orders))
		for i, o := range orders {
			ids[i] = o.ID
		}
		var err error
		if events, err = model.OrderEventsOf(ctx, db, ids); err != nil {
			return nil, err
		}
	}
	users, cats, comps, grids, blds, hhs := idSet{}, idSet{}, idSet{}, idSet{}, idSet{}, idSet{}
	firms, depts, regions := idSet{}, idSet{}, idSet{}
	handler := func(kind string, id int64) {
		switch kind {
		case model.HandlerFirm:
			firms.add(id)
		case model.HandlerDepartment:
			depts.add(id)
		case model.HandlerVolunteer:
			regions.add(id)
		case model.HandlerGrid:
			grids.add(id)
		}
	}
	for _, o := range orders {
		users.add(o.AuthorID, o.ResidentID, o.AssigneeID)
		cats.add(o.CategoryID)
		comps.add(o.CompoundID)
		grids.add(o.GridID)
		blds.add(o.BuildingID)
		hhs.add(o.HouseholdID)
		handler(o.HandlerKind, o.HandlerID)
	}
	for _, e := range events {
		users.add(e.ActorID, e.AssigneeID)
		handler(e.HandlerKind, e.HandlerID)
	}
	n := names{users: map[int64]model.User{}, categories: map[int64]model.Category{}, households: map[int64]model.Household{}}
	// Every name of the page in one statement, none once they are cached:
	// people, categories, households, places and handlers. A household's
	// building is the order's own (its ancestry comes from the household);
	// another one is read after.
	fs, err := s.opts.Names.Fields(ctx, db,
		model.FieldSet{Table: &model.User{}, Cols: []string{"display_name", "phone"}, IDs: users.list()},
		model.FieldSet{Table: &model.Category{}, Cols: []string{"name", "working_time", "complaint_against_firm"}, IDs: cats.list()},
		model.FieldSet{Table: &model.Household{}, Cols: []string{"unit", "room", "building_id"}, IDs: hhs.list()},
		model.FieldSet{Table: &model.Compound{}, Cols: []string{"name"}, IDs: comps.list()},
		model.FieldSet{Table: &model.Grid{}, Cols: []string{"name"}, IDs: grids.list()},
		model.FieldSet{Table: &model.Building{}, Cols: []string{"name"}, IDs: blds.list()},
		model.FieldSet{Table: &model.Firm{}, Cols: []string{"name"}, IDs: firms.list()},
		model.FieldSet{Table: &model.Department{}, Cols: []string{"name"}, IDs: depts.list()},
		model.FieldSet{Table: &model.Region{}, Cols: []string{"name"}, IDs: regions.list()})
	if err != nil {
		return nil, err
	}
	truth := func(v string) bool { return v == "1" || v == "true" }
	for id, v := range fs[0] {
		n.users[id] = model.User{Base: model.Base{ID: id}, DisplayName: v[0], Phone: v[1]}
	}
	var cs []model.Category
	for id, v := range fs[1] {
		c := model.Category{Name: v[0], WorkingTime: truth(v[1]), ComplaintAgainstFirm: truth(v[2])}
		c.ID = id
		n.categories[id] = c
		cs = append(cs, c)
	}
	plain := func(m map[int64][]string) map[int64]string {
		out := make(map[int64]string, len(m))
		for id, v := range m {
			out[id] = v[0]
		}
		return out
	}
	n.compounds, n.grids, n.buildings = plain(fs[3]), plain(fs[4]), plain(fs[5])
	n.firms, n.depts, n.regions = plain(fs[6]), plain(fs[7]), plain(fs[8])
	more := idSet{}
	for id, v := range fs[2] {
		b, _ := strconv.ParseInt(v[2], 10, 64)
		n.households[id] = model.Household{Base: model.Base{ID: id}, Unit: v[0], Room: v[1], Ancestry: model.Ancestry{BuildingID: b}}
		if _, ok := n.buildings[b]; !ok && b > 0 {
			more.add(b)
		}
	}
	if len(more) > 0 {
		bs, err := s.opts.Names.Fields(ctx, db, model.FieldSet{Table: &model.Building{}, Cols: []string{"name"}, IDs: more.list()})
		if err != nil {
			return nil, err
		}
		maps.Copy(n.buildings, plain(bs[0]))
	}
	if n.contracted, err = s.firmsContracted(ctx, a, orders); err != nil {
		return nil, err
	}
	byOrder := map[int64][]model.OrderEvent{}
	for _, e := range events {
		byOrder[e.OrderID] = append(byOrder[e.OrderID], e)
	}
	var cal *calendar.Calendar
	for _, c := range cs {
		if c.WorkingTime && s.cal != nil {
			if cal, err = s.cal.Current(ctx); err != nil {
				return nil, fmt.Errorf("working calendar: %w", err)
			}
			break
		}
	}
	now := s.clock.Now().UTC()
	out := make([]View, len(orders))
	for i, o := range orders {
		out[i] = n.view(a, o, byOrder[o.ID], detail)
		out[i].Light = light(o, cal, n.categories[o.CategoryID].WorkingTime, now)
		out[i].CalendarMissing = calendarMissing(o, cal, n.categories[o.CategoryID].WorkingTime)
		if detail && o.Channel == model.ChannelInspection {
			// The way back to the inspection item that raised the order.
			it, found, err := model.InspectionItemOfOrder(ctx, db, o.ID)
			if err != nil {
				return nil, err
			}
			if found {
				out[i].InspectionID, out[i].InspectionItemID = it.InspectionID, it.ID
			}
		}
	}
	return out, nil
}

func (n names) handlerName(kind string, id int64) string {
	switch kind {
	case model.HandlerFirm:
		return n.firms[id]
	case model.HandlerDepartment:
		return n.depts[id]
	case model.HandlerVolunteer:
		if name := n.regions[id]; name != "" {
			return name + "志愿者队伍"
		}
	case model.HandlerGrid:
		return n.grids[id]
	}
	return ""
}

// view applies the privacy rules of DESIGN.md §4 for viewer a.
func (n names) view(a *service.Actor, o model.Order, events []model.OrderEvent, detail bool) View {
	cat := n.categories[o.CategoryID]
	rel := relationOf(a, &o)
	v := View{Order: o, CategoryName: cat.Name, CompoundName: n.compounds[o.CompoundID], GridName: n.grids[o.GridID],
		HandlerName: n.handlerName(o.HandlerKind, o.HandlerID), AssigneeName: n.users[o.AssigneeID].DisplayName}
	v.IdemKey = nil
	if h, ok := n.households[o.HouseholdID]; ok {
		v.BuildingName = n.buildings[h.BuildingID]
		v.HouseholdName = v.BuildingName + h.Unit + "单元" + h.Room
	} else {
		v.BuildingName = n.buildings[o.BuildingID]
	}
	v.AuthorName = n.users[o.AuthorID].DisplayName
	v.ResidentName = n.users[o.ResidentID].DisplayName
	v.ResidentPhone = n.users[o.ResidentID].Phone
	reporter := func(id int64) bool { return id != 0 && (id == o.AuthorID || id == o.ResidentID) }
	// name gives how the viewer may see a person of the order.
	name := func(id int64) (int64, string) { return id, n.users[id].DisplayName }
	switch {
	case rel.own:
		// The reporters themselves see everything.
	case cat.ComplaintAgainstFirm && rel.firm:
		// Before any other role the viewer holds: a firm's manager who is
		// also a building steward or community worker (交叉任职) still
		// never learns who complained about the firm.
		v.IdentityHidden = true
		v.AuthorID, v.ResidentID, v.HouseholdID, v.BuildingID = 0, 0, 0, 0
		v.AuthorName, v.ResidentName, v.ResidentPhone, v.HouseholdName, v.BuildingName = "", "", "", "", ""
		name = func(id int64) (int64, string) {
			if reporter(id) {
				return 0, ""
			}
			return id, n.users[id].DisplayName
		}
	case rel.official:
		// Staff of the tree see everything.
	case (!accepted(o.State) || (o.HandlerKind == model.HandlerVolunteer && a.UserID != o.AssigneeID) ||
		(o.HandlerKind == model.HandlerFirm && !n.contracted[model.FirmCompound{FirmID: o.HandlerID, CompoundID: o.CompoundID}])) &&
		o.ResidentID != 0:
		// Until the handler accepts, the resident is a masked name without
		// a phone; staff who reported for them keep their name. Of a
		// volunteer team, only the volunteer who took it up learns more.
		// A firm whose contract with the compound has ended (beyond the
		// grace) is back to the masked name, even on orders it handled.
		v.NameMasked = true
		v.ResidentName, v.ResidentPhone = maskName(v.ResidentName), ""
		if o.AuthorID == o.ResidentID {
			v.AuthorName = v.ResidentName
		}
		name = func(id int64) (int64, string) {
			if id == o.ResidentID {
				return id, maskName(n.users[id].DisplayName)
			}
			return id, n.users[id].DisplayName
		}
	}
	if !detail {
		return v
	}
	v.Timeline = make([]EventView, 0, len(events))
	lastKind, lastID, lastAssignee, lastLevel := "", int64(0), int64(0), ""
	for i, e := range events {
		ev := EventView{OrderEvent: e, HandlerName: n.handlerName(e.HandlerKind, e.HandlerID),
			AssigneeName: n.users[e.AssigneeID].DisplayName, PhotoIDs: splitIDs(e.Photos)}
		ev.ActorID, ev.ActorName = name(e.ActorID)
		v.Timeline = append(v.Timeline, ev)
		changed := e.HandlerKind != lastKind || e.HandlerID != lastID || e.AssigneeID != lastAssignee ||
			(i > 0 && e.ToLevel != lastLevel)
		if changed && i > 0 || (i == 0 && e.HandlerKind != "") {
			v.Handlers = append(v.Handlers, HandlerStep{At: e.CreatedAt, Action: e.Action, ActorID: ev.ActorID,
				ActorName: ev.ActorName, ActorRole: e.Role, Level: e.ToLevel, HandlerKind: e.HandlerKind,
				HandlerID: e.HandlerID, HandlerName: ev.HandlerName, AssigneeID: e.AssigneeID, AssigneeName: ev.AssigneeName})
		}
		lastKind, lastID, lastAssignee, lastLevel = e.HandlerKind, e.HandlerID, e.AssigneeID, e.ToLevel
	}
	return v
}

// firmsContracted finds which firms handling the orders still serve their
// compounds, for a viewer who speaks for a firm; others need no answer
// (staff and the reporters see identities, everyone else cannot see a
// firm's order).
func (s *Service) firmsContracted(ctx context.Context, a *service.Actor, orders []model.Order) (map[model.FirmCompound]bool, error) {
	mine := idSet{}
	mine.add(scopeIDs(a, model.RoleFirmManager, model.ScopeFirm)...)
	mine.add(scopeIDs(a, model.RoleFirmWorker, model.ScopeFirm)...)
	firms, comps := idSet{}, idSet{}
	for _, o := range orders {
		if o.HandlerKind == model.HandlerFirm && mine[o.HandlerID] {
			firms.add(o.HandlerID)
			comps.add(o.CompoundID)
		}
	}
	now := s.clock.Now().In(calendar.Beijing)
	y, m, d := now.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return model.FirmsContracted(ctx, s.db, firms.list(), comps.list(), day, day.Add(-s.opts.FirmContractGrace))
}

// maskName keeps the first character: 杨阿姨 → 杨**.
func maskName(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return ""
	}
	return string(r[0]) + "**"
}

func splitIDs(s string) []int64 {
	if s == "" {
		return []int64{}
	}
	parts := strings.Split(s, ",")
	out := make([]int64, 0, len(parts))
	for _, p := range parts {
		if id, err := strconv.ParseInt(p, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// calendarMissing reports whether o's step deadline was counted in working
// days over a year the calendar does not know.
func calendarMissing(o model.Order, cal *calendar.Calendar, workingTime bool) bool {
	if !workingTime || cal == nil || o.StepStartedAt == nil || o.StepDeadline == nil {
		return false
	}
	return !cal.Covers(*o.StepStartedAt, *o.StepDeadline)
}
