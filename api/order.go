package api

import (
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/order"
)

// orderRoutes registers categories, submitting, queues, one order, and
// one endpoint per transition of the order loop.
func (h *handlers) orderRoutes(authed *gin.RouterGroup) {
	authed.GET("/order-categories", h.listOrderCategories)
	authed.PATCH("/order-categories/:id", h.updateOrderCategory)

	authed.POST("/orders", h.submitOrder)
	authed.GET("/orders", h.listOrders)
	authed.GET("/orders/:id", h.getOrder)
	for _, a := range order.Actions() {
		authed.POST("/orders/:id/"+a, h.orderAction(a))
	}
}

var errOrderTime = service.Invalid("bad_deadline", "办结时限须为 RFC 3339 时间，如 2026-11-25T18:00:00+08:00")

// ---- categories

type orderCategoryResponse struct {
	ID                   int64    `json:"id"`
	Code                 string   `json:"code"`
	Name                 string   `json:"name"`
	ParentCode           string   `json:"parent_code,omitempty"`
	Submitters           []string `json:"submitters"`
	AutoDispatch         string   `json:"auto_dispatch"`
	AutoDepartmentKind   string   `json:"auto_department_kind,omitempty"`
	VerifyMinutes        int      `json:"verify_minutes"`
	DispatchMinutes      int      `json:"dispatch_minutes"`
	AcceptMinutes        int      `json:"accept_minutes"`
	CompleteMinutes      int      `json:"complete_minutes"`
	ConfirmMinutes       int      `json:"confirm_minutes"`
	WorkingTime          bool     `json:"working_time"`
	EscalateOnBreach     bool     `json:"escalate_on_breach"`
	AutoCloseHours       int      `json:"auto_close_hours"`
	PhotosRequired       bool     `json:"photos_required"`
	ComplaintAgainstFirm bool     `json:"complaint_against_firm"`
	Active               bool     `json:"active"`
	SortOrder            int      `json:"sort_order"`
}

func newOrderCategoryResponse(c model.Category) orderCategoryResponse {
	subs := []string{}
	if c.Submitters != "" {
		subs = strings.Split(c.Submitters, ",")
	}
	return orderCategoryResponse{
		ID: c.ID, Code: c.Code, Name: c.Name, ParentCode: c.ParentCode, Submitters: subs,
		AutoDispatch: c.AutoDispatch, AutoDepartmentKind: c.AutoDepartmentKind,
		VerifyMinutes: c.VerifyMinutes, DispatchMinutes: c.DispatchMinutes, AcceptMinutes: c.AcceptMinutes,
		CompleteMinutes: c.CompleteMinutes, ConfirmMinutes: c.ConfirmMinutes, WorkingTime: c.WorkingTime,
		EscalateOnBreach: c.EscalateOnBreach, AutoCloseHours: c.AutoCloseHours, PhotosRequired: c.PhotosRequired,
		ComplaintAgainstFirm: c.ComplaintAgainstFirm, Active: c.Active, SortOrder: c.SortOrder,
	}
}

func (h *handlers) listOrderCategories(c *gin.Context) {
	inactive, ok := queryBool(c, "include_inactive")
	if !ok {
		return
	}
	cats, err := h.Order.Categories(c.Request.Context(), actor(c), inactive != nil && *inactive)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]orderCategoryResponse, 0, len(cats))
	for _, cat := range cats {
		out = append(out, newOrderCategoryResponse(cat))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type orderCategoryPatch struct {
	Name                 *string   `json:"name"`
	Submitters           *[]string `json:"submitters"`
	AutoDispatch         *string   `json:"auto_dispatch"`
	AutoDepartmentKind   *string   `json:"auto_department_kind"`
	VerifyMinutes        *int      `json:"verify_minutes"`
	DispatchMinutes      *int      `json:"dispatch_minutes"`
	AcceptMinutes        *int      `json:"accept_minutes"`
	CompleteMinutes      *int      `json:"complete_minutes"`
	ConfirmMinutes       *int      `json:"confirm_minutes"`
	WorkingTime          *bool     `json:"working_time"`
	EscalateOnBreach     *bool     `json:"escalate_on_breach"`
	AutoCloseHours       *int      `json:"auto_close_hours"`
	PhotosRequired       *bool     `json:"photos_required"`
	ComplaintAgainstFirm *bool     `json:"complaint_against_firm"`
	Active               *bool     `json:"active"`
	SortOrder            *int      `json:"sort_order"`
}

func (h *handlers) updateOrderCategory(c *gin.Context) {
	patchByID(c, func(id int64, r orderCategoryPatch) (model.Category, error) {
		return h.Order.UpdateCategory(c.Request.Context(), actor(c), id, order.CategoryPatch{
			Name: r.Name, Submitters: r.Submitters, AutoDispatch: r.AutoDispatch, AutoDepartmentKind: r.AutoDepartmentKind,
			VerifyMinutes: r.VerifyMinutes, DispatchMinutes: r.DispatchMinutes, AcceptMinutes: r.AcceptMinutes,
			CompleteMinutes: r.CompleteMinutes, ConfirmMinutes: r.ConfirmMinutes, WorkingTime: r.WorkingTime,
			EscalateOnBreach: r.EscalateOnBreach, AutoCloseHours: r.AutoCloseHours, PhotosRequired: r.PhotosRequired,
			ComplaintAgainstFirm: r.ComplaintAgainstFirm, Active: r.Active, SortOrder: r.SortOrder,
		})
	}, newOrderCategoryResponse)
}

// ---- orders

type submitOrderRequest struct {
	CategoryID  int64   `json:"category_id"`
	Description string  `json:"description" text:"block"`
	Place       string  `json:"place"`
	HouseholdID int64   `json:"household_id"`
	CompoundID  int64   `json:"compound_id"`
	ResidentID  int64   `json:"resident_id"`
	Channel     string  `json:"channel"`
	PhotoIDs    []int64 `json:"photo_ids"`
}

type orderRatingResponse struct {
	Overall    int    `json:"overall"`
	Timeliness int    `json:"timeliness,omitempty"`
	Attitude   int    `json:"attitude,omitempty"`
	Comment    string `json:"comment,omitempty"`
}

type orderResponse struct {
	ID             int64   `json:"id"`
	Number         string  `json:"number"`
	CategoryID     int64   `json:"category_id"`
	CategoryCode   string  `json:"category_code"`
	CategoryName   string  `json:"category_name"`
	State          string  `json:"state"`
	Level          string  `json:"level"`
	Channel        string  `json:"channel"`
	Light          string  `json:"light,omitempty"`
	Overdue        bool    `json:"overdue"`
	Breaches       int     `json:"breaches"` // steps that ran past their deadline
	Version        int64   `json:"version"`
	AuthorID       int64   `json:"author_id,omitempty"`
	AuthorName     string  `json:"author_name,omitempty"`
	ResidentID     int64   `json:"resident_id,omitempty"`
	ResidentName   string  `json:"resident_name,omitempty"`
	ResidentPhone  string  `json:"resident_phone,omitempty"`
	IdentityHidden bool    `json:"identity_hidden,omitempty"`
	NameMasked     bool    `json:"name_masked,omitempty"`
	CommunityID    int64   `json:"community_id"`
	CompoundID     int64   `json:"compound_id"`
	CompoundName   string  `json:"compound_name"`
	GridID         int64   `json:"grid_id"`
	GridName       string  `json:"grid_name"`
	BuildingID     int64   `json:"building_id,omitempty"`
	BuildingName   string  `json:"building_name,omitempty"`
	HouseholdID    int64   `json:"household_id,omitempty"`
	HouseholdName  string  `json:"household_name,omitempty"`
	Place          string  `json:"place,omitempty"`
	Description    string  `json:"description"`
	HandlerKind    string  `json:"handler_kind,omitempty"`
	HandlerID      int64   `json:"handler_id,omitempty"`
	HandlerName    string  `json:"handler_name,omitempty"`
	AssigneeID     int64   `json:"assignee_id,omitempty"`
	AssigneeName   string  `json:"assignee_name,omitempty"`
	DuplicateOf    int64   `json:"duplicate_of,omitempty"`
	StepStartedAt  *string `json:"step_started_at"`
	StepDeadline   *string `json:"step_deadline"`
	DueAt          *string `json:"due_at,omitempty"`
	// CalendarMissing: the deadline counted a year without a loaded
	// working calendar as a plain week.
	CalendarMissing bool                   `json:"calendar_missing,omitempty"`
	PausedAt        *string                `json:"paused_at,omitempty"`
	PauseReason     string                 `json:"pause_reason,omitempty"`
	Rating          *orderRatingResponse   `json:"rating,omitempty"`
	CreatedAt       string                 `json:"created_at"`
	UpdatedAt       string                 `json:"updated_at"`
	CompletedAt     *string                `json:"completed_at,omitempty"`
	ConfirmedAt     *string                `json:"confirmed_at,omitempty"`
	ClosedAt        *string                `json:"closed_at,omitempty"`
	Timeline        []orderEventResponse   `json:"timeline,omitempty"`
	Handlers        []orderHandlerResponse `json:"handlers,omitempty"`
	// The inspection item that raised the order (channel inspection).
	InspectionID     int64 `json:"inspection_id,omitempty"`
	InspectionItemID int64 `json:"inspection_item_id,omitempty"`
}

type orderEventResponse struct {
	ID           int64   `json:"id"`
	Action       string  `json:"action"`
	ActorID      int64   `json:"actor_id,omitempty"`
	ActorName    string  `json:"actor_name,omitempty"`
	Role         string  `json:"role"`
	FromState    string  `json:"from_state,omitempty"`
	ToState      string  `json:"to_state"`
	FromLevel    string  `json:"from_level,omitempty"`
	ToLevel      string  `json:"to_level"`
	HandlerKind  string  `json:"handler_kind,omitempty"`
	HandlerID    int64   `json:"handler_id,omitempty"`
	HandlerName  string  `json:"handler_name,omitempty"`
	AssigneeID   int64   `json:"assignee_id,omitempty"`
	AssigneeName string  `json:"assignee_name,omitempty"`
	Note         string  `json:"note,omitempty"`
	PhotoIDs     []int64 `json:"photo_ids"`
	At           string  `json:"at"`
}

type orderHandlerResponse struct {
	At           string `json:"at"`
	Action       string `json:"action"`
	ActorID      int64  `json:"actor_id,omitempty"`
	ActorName    string `json:"actor_name,omitempty"`
	ActorRole    string `json:"actor_role"`
	Level        string `json:"level"`
	HandlerKind  string `json:"handler_kind,omitempty"`
	HandlerID    int64  `json:"handler_id,omitempty"`
	HandlerName  string `json:"handler_name,omitempty"`
	AssigneeID   int64  `json:"assignee_id,omitempty"`
	AssigneeName string `json:"assignee_name,omitempty"`
}

func newOrderResponse(v order.View) orderResponse {
	o := v.Order
	r := orderResponse{
		ID: o.ID, Number: o.Number, CategoryID: o.CategoryID, CategoryCode: o.CategoryCode, CategoryName: v.CategoryName,
		State: o.State, Level: o.Level, Channel: o.Channel, Light: v.Light, Overdue: o.Overdue, Breaches: o.Breaches, Version: o.Version,
		AuthorID: o.AuthorID, AuthorName: v.AuthorName, ResidentID: o.ResidentID, ResidentName: v.ResidentName,
		ResidentPhone: v.ResidentPhone, IdentityHidden: v.IdentityHidden, NameMasked: v.NameMasked,
		CommunityID: o.CommunityID, CompoundID: o.CompoundID, CompoundName: v.CompoundName, GridID: o.GridID,
		GridName: v.GridName, BuildingID: o.BuildingID, BuildingName: v.BuildingName, HouseholdID: o.HouseholdID,
		HouseholdName: v.HouseholdName, Place: o.Place, Description: o.Description,
		HandlerKind: o.HandlerKind, HandlerID: o.HandlerID, HandlerName: v.HandlerName,
		AssigneeID: o.AssigneeID, AssigneeName: v.AssigneeName, DuplicateOf: o.DuplicateOf,
		StepStartedAt: tsp(o.StepStartedAt), StepDeadline: tsp(o.StepDeadline), DueAt: tsp(o.DueAt), CalendarMissing: v.CalendarMissing,
		PausedAt: tsp(o.PausedAt), PauseReason: o.PauseReason, CreatedAt: ts(o.CreatedAt), UpdatedAt: ts(o.UpdatedAt),
		CompletedAt: tsp(o.CompletedAt), ConfirmedAt: tsp(o.ConfirmedAt), ClosedAt: tsp(o.ClosedAt),
		InspectionID: v.InspectionID, InspectionItemID: v.InspectionItemID,
	}
	if o.RatingOverall > 0 {
		r.Rating = &orderRatingResponse{Overall: o.RatingOverall, Timeliness: o.RatingTimely,
			Attitude: o.RatingAttitude, Comment: o.RatingComment}
	}
	if v.Timeline != nil {
		r.Timeline = make([]orderEventResponse, 0, len(v.Timeline))
		for _, e := range v.Timeline {
			r.Timeline = append(r.Timeline, orderEventResponse{
				ID: e.ID, Action: e.Action, ActorID: e.ActorID, ActorName: e.ActorName, Role: e.Role,
				FromState: e.FromState, ToState: e.ToState, FromLevel: e.FromLevel, ToLevel: e.ToLevel,
				HandlerKind: e.HandlerKind, HandlerID: e.HandlerID, HandlerName: e.HandlerName,
				AssigneeID: e.AssigneeID, AssigneeName: e.AssigneeName, Note: e.Note, PhotoIDs: e.PhotoIDs,
				At: ts(e.CreatedAt),
			})
		}
		r.Handlers = make([]orderHandlerResponse, 0, len(v.Handlers))
		for _, s := range v.Handlers {
			r.Handlers = append(r.Handlers, orderHandlerResponse{
				At: ts(s.At), Action: s.Action, ActorID: s.ActorID, ActorName: s.ActorName, ActorRole: s.ActorRole,
				Level: s.Level, HandlerKind: s.HandlerKind, HandlerID: s.HandlerID, HandlerName: s.HandlerName,
				AssigneeID: s.AssigneeID, AssigneeName: s.AssigneeName,
			})
		}
	}
	return r
}

func (h *handlers) submitOrder(c *gin.Context) {
	var req submitOrderRequest
	if !bindJSON(c, &req) {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	v, created, err := h.Order.Submit(c.Request.Context(), actor(c), order.SubmitInput{
		CategoryID: req.CategoryID, Description: req.Description, Place: req.Place, HouseholdID: req.HouseholdID,
		CompoundID: req.CompoundID, ResidentID: req.ResidentID, Channel: req.Channel, PhotoIDs: req.PhotoIDs,
		IdemKey: key,
	})
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newOrderResponse(v))
}

func (h *handlers) listOrders(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f := order.Filter{Queue: c.DefaultQuery("queue", order.QueueMine), Category: c.Query("category")}
	if raw := c.Query("state"); raw != "" {
		f.States = strings.Split(raw, ",")
	}
	if f.CompoundID, ok = queryID(c, "compound_id"); !ok {
		return
	}
	if f.GridID, ok = queryID(c, "grid_id"); !ok {
		return
	}
	f.Level = c.Query("level")
	if f.Overdue, ok = queryBool(c, "overdue"); !ok {
		return
	}
	if f.From, ok = queryDate(c, "from", false); !ok {
		return
	}
	if f.To, ok = queryDate(c, "to", true); !ok {
		return
	}
	res, err := h.Order.List(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v order.View) int64 { return v.ID }, newOrderResponse))
}

func (h *handlers) getOrder(c *gin.Context) {
	byID(c, h.Order.Get, newOrderResponse)
}

// orderActionRequest is the body of every transition. A field's `for`
// tag names the actions that take it: any other action refuses it (400
// unexpected_field) rather than ignore it. A note goes with every action.
type orderActionRequest struct {
	Note        *string  `json:"note" text:"block"`
	Reason      *string  `json:"reason" for:"reject,return,pause,rework,cancel" text:"block"`
	PhotoIDs    *[]int64 `json:"photo_ids" for:"resolve,progress,complete"`
	DuplicateOf *int64   `json:"duplicate_of" for:"merge"`
	HandlerKind *string  `json:"handler_kind" for:"dispatch"`
	HandlerID   *int64   `json:"handler_id" for:"dispatch"`
	Deadline    *string  `json:"deadline" for:"dispatch"`
	WorkerID    *int64   `json:"worker_id" for:"assign,reassign"`
	Overall     *int     `json:"overall" for:"rate"`
	Timeliness  *int     `json:"timeliness" for:"rate"`
	Attitude    *int     `json:"attitude" for:"rate"`
	Comment     *string  `json:"comment" for:"rate" text:"block"`
	Reopen      *bool    `json:"reopen" for:"revisit"`
}

// refuseOthers answers the first field given that action does not take.
func (r orderActionRequest) refuseOthers(action string) error {
	v := reflect.ValueOf(r)
	for _, f := range reflect.VisibleFields(v.Type()) {
		takers, limited := f.Tag.Lookup("for")
		if !limited || v.FieldByIndex(f.Index).IsNil() || slices.Contains(strings.Split(takers, ","), action) {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		return service.Invalid("unexpected_field", "此操作不接受字段 "+name)
	}
	return nil
}

func (h *handlers) orderAction(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		var req orderActionRequest
		if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
			return
		}
		in, err := req.input(action)
		if err != nil {
			fail(c, err)
			return
		}
		v, err := h.Order.Act(c.Request.Context(), actor(c), id, action, in)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, newOrderResponse(v))
	}
}

func (r orderActionRequest) input(action string) (order.Input, error) {
	var in order.Input
	if err := r.refuseOthers(action); err != nil {
		return in, err
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	num := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	small := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	in.Note, in.Reason, in.Comment, in.HandlerKind = str(r.Note), str(r.Reason), str(r.Comment), str(r.HandlerKind)
	in.DuplicateOf, in.HandlerID, in.WorkerID = num(r.DuplicateOf), num(r.HandlerID), num(r.WorkerID)
	in.Overall, in.Timeliness, in.Attitude = small(r.Overall), small(r.Timeliness), small(r.Attitude)
	if r.PhotoIDs != nil {
		in.PhotoIDs = *r.PhotoIDs
	}
	if r.Reopen != nil {
		in.Reopen = *r.Reopen
	}
	if r.Deadline != nil {
		t, err := parseTime(*r.Deadline)
		if err != nil {
			return in, errOrderTime
		}
		in.Deadline = &t
	}
	return in, nil
}
