package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/inspection"
	"redprop/service/order"
)

// inspectionRoutes registers checklists and their versions, inspections
// (日查 / 月考 / 季评) with the firm's answers, and the rectifications of
// bad ratings (差评整改) with the community's queue.
func (h *handlers) inspectionRoutes(authed *gin.RouterGroup) {
	authed.GET("/checklists", h.listChecklists)
	authed.POST("/checklists", h.idempotent(h.createChecklist))
	authed.GET("/checklists/:id", h.getChecklist)
	authed.POST("/checklists/:id/versions", h.idempotent(h.addChecklistVersion))
	// The Idempotency-Key is also kept on the inspection itself.
	authed.POST("/inspections", h.idempotentOrPass(h.createInspection))
	authed.GET("/inspections", h.listInspections)
	authed.GET("/inspections/:id", h.getInspection)
	authed.POST("/inspections/:id/items/:item_id/answer", h.answerInspectionItem)
	authed.GET("/inspections/:id/photos/:photo_id", h.getInspectionPhoto)
	authed.GET("/rectifications", h.listRectifications)
	authed.GET("/rectifications/:id", h.getRectification)
	authed.POST("/rectifications/:id/report", h.reportRectification)
	authed.POST("/rectifications/:id/confirm", h.answerRectification(true))
	authed.POST("/rectifications/:id/not-fixed", h.answerRectification(false))
}

type checklistItemRequest struct {
	Section  string `json:"section"`
	Title    string `json:"title"`
	Standard string `json:"standard" text:"block"`
	Points   int    `json:"points"`
	Rule     string `json:"rule"`
}

type createChecklistRequest struct {
	Name      string                 `json:"name"`
	ScopeKind string                 `json:"scope_kind"`
	ScopeID   int64                  `json:"scope_id"`
	Note      string                 `json:"note"`
	Items     []checklistItemRequest `json:"items"`
}

type checklistVersionRequest struct {
	Note  string                 `json:"note"`
	Items []checklistItemRequest `json:"items"`
}

func itemInputs(items []checklistItemRequest) []inspection.ItemInput {
	out := make([]inspection.ItemInput, len(items))
	for i, it := range items {
		out[i] = inspection.ItemInput{Section: it.Section, Title: it.Title, Standard: it.Standard, Points: it.Points, Rule: it.Rule}
	}
	return out
}

type checklistItemResponse struct {
	ID          int64  `json:"id"`
	Section     string `json:"section"`
	SectionName string `json:"section_name"`
	Title       string `json:"title"`
	Standard    string `json:"standard"`
	Points      int    `json:"points"`
	Rule        string `json:"rule"`
}

type checklistVersionResponse struct {
	ID          int64  `json:"id"`
	Number      int    `json:"number"`
	Note        string `json:"note"`
	TotalPoints int    `json:"total_points"`
	CreatedAt   string `json:"created_at"`
}

type checklistResponse struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	ScopeKind string `json:"scope_kind"`
	ScopeID   int64  `json:"scope_id"`
	Latest    int    `json:"latest"`
	Active    bool   `json:"active"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

type checklistDetailResponse struct {
	checklistResponse
	Version  checklistVersionResponse   `json:"version"`
	Items    []checklistItemResponse    `json:"items"`
	Versions []checklistVersionResponse `json:"versions"`
}

func newChecklistResponse(c model.Checklist) checklistResponse {
	return checklistResponse{ID: c.ID, Name: c.Name, ScopeKind: c.ScopeKind, ScopeID: c.ScopeID, Latest: c.Latest,
		Active: c.Active, CreatedAt: ts(c.CreatedAt), UpdatedAt: ts(c.UpdatedAt)}
}

func newVersionResponse(v model.ChecklistVersion) checklistVersionResponse {
	return checklistVersionResponse{ID: v.ID, Number: v.Number, Note: v.Note, TotalPoints: v.TotalPoints, CreatedAt: ts(v.CreatedAt)}
}

func newChecklistDetail(v inspection.ChecklistView) checklistDetailResponse {
	r := checklistDetailResponse{checklistResponse: newChecklistResponse(v.Checklist), Version: newVersionResponse(v.Version),
		Items: []checklistItemResponse{}, Versions: []checklistVersionResponse{}}
	for _, it := range v.Items {
		r.Items = append(r.Items, checklistItemResponse{ID: it.ID, Section: it.Section, SectionName: inspection.SectionName(it.Section),
			Title: it.Title, Standard: it.Standard, Points: it.Points, Rule: it.Rule})
	}
	for _, ver := range v.Versions {
		r.Versions = append(r.Versions, newVersionResponse(ver))
	}
	return r
}

func (h *handlers) listChecklists(c *gin.Context) {
	compound, ok := queryID(c, "compound_id")
	if !ok {
		return
	}
	if compound > 0 {
		list, err := h.Inspection.InForce(c.Request.Context(), actor(c), compound)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, newPage(service.Paged[model.Checklist]{Items: list},
			func(cl model.Checklist) int64 { return cl.ID }, newChecklistResponse))
		return
	}
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Inspection.Checklists(c.Request.Context(), actor(c), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(cl model.Checklist) int64 { return cl.ID }, newChecklistResponse))
}

func (h *handlers) createChecklist(c *gin.Context) {
	createJSON(c, func(req createChecklistRequest) (inspection.ChecklistView, error) {
		return h.Inspection.CreateChecklist(c.Request.Context(), actor(c), inspection.ChecklistInput{
			Name: req.Name, ScopeKind: req.ScopeKind, ScopeID: req.ScopeID, Note: req.Note, Items: itemInputs(req.Items)})
	}, newChecklistDetail)
}

var errBadVersion = service.Invalid("bad_query", "查询参数 version 须为正整数")

func (h *handlers) getChecklist(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	number := 0
	if raw := c.Query("version"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n <= 0 {
			fail(c, errBadVersion)
			return
		}
		number = n
	}
	v, err := h.Inspection.Checklist(c.Request.Context(), actor(c), id, number)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newChecklistDetail(v))
}

func (h *handlers) addChecklistVersion(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req checklistVersionRequest
	if !bindJSON(c, &req) {
		return
	}
	v, err := h.Inspection.AddVersion(c.Request.Context(), actor(c), id, inspection.VersionInput{Note: req.Note, Items: itemInputs(req.Items)})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, newChecklistDetail(v))
}

type raiseRequest struct {
	Kind         string `json:"kind"`
	DueDate      string `json:"due_date"`
	Text         string `json:"text"`
	CategoryCode string `json:"category_code"`
}

type inspectionResultRequest struct {
	ItemID   int64         `json:"item_id"`
	Result   string        `json:"result"`
	Deduct   int           `json:"deduct"`
	Note     string        `json:"note" text:"block"`
	PhotoIDs []int64       `json:"photo_ids"`
	Raise    *raiseRequest `json:"raise"`
}

type createInspectionRequest struct {
	CompoundID    int64                     `json:"compound_id"`
	Kind          string                    `json:"kind"`
	ChecklistID   int64                     `json:"checklist_id"`
	InspectedAt   string                    `json:"inspected_at"`
	Notes         string                    `json:"notes" text:"block"`
	PhotoIDs      []int64                   `json:"photo_ids"`
	DefaultResult string                    `json:"default_result"`
	Items         []inspectionResultRequest `json:"items"`
}

type inspectionItemResponse struct {
	ID              int64   `json:"id"`
	ChecklistItemID int64   `json:"checklist_item_id"`
	Section         string  `json:"section"`
	SectionName     string  `json:"section_name"`
	Title           string  `json:"title"`
	Points          int     `json:"points"`
	Rule            string  `json:"rule"`
	Result          string  `json:"result"`
	Deduct          int     `json:"deduct"`
	Note            string  `json:"note"`
	PhotoIDs        []int64 `json:"photo_ids"`
	OrderID         int64   `json:"order_id,omitempty"`
	OrderNumber     string  `json:"order_number,omitempty"`
	ActionItemID    int64   `json:"action_item_id,omitempty"`
	Answer          string  `json:"answer,omitempty"`
	AnsweredBy      int64   `json:"answered_by,omitempty"`
	AnsweredAt      *string `json:"answered_at"`
}

type inspectionResponse struct {
	ID               int64                    `json:"id"`
	Kind             string                   `json:"kind"`
	KindName         string                   `json:"kind_name"`
	ChecklistID      int64                    `json:"checklist_id"`
	ChecklistName    string                   `json:"checklist_name"`
	ChecklistVersion int                      `json:"checklist_version"`
	FirmID           int64                    `json:"firm_id"`
	FirmName         string                   `json:"firm_name"`
	StreetID         int64                    `json:"street_id"`
	CommunityID      int64                    `json:"community_id"`
	CompoundID       int64                    `json:"compound_id"`
	CompoundName     string                   `json:"compound_name"`
	InspectorID      int64                    `json:"inspector_id"`
	InspectorName    string                   `json:"inspector_name"`
	InspectorRole    string                   `json:"inspector_role"`
	InspectedAt      string                   `json:"inspected_at"`
	Notes            string                   `json:"notes"`
	PhotoIDs         []int64                  `json:"photo_ids"`
	Earned           int                      `json:"earned"`
	Possible         int                      `json:"possible"`
	Score            *float64                 `json:"score"`
	Failed           int                      `json:"failed"`
	CreatedAt        string                   `json:"created_at"`
	Items            []inspectionItemResponse `json:"items"`
}

func newInspectionResponse(v inspection.View) inspectionResponse {
	in := v.Inspection
	r := inspectionResponse{ID: in.ID, Kind: in.Kind, KindName: inspection.KindName(in.Kind), ChecklistID: in.ChecklistID,
		ChecklistName: v.ChecklistName, ChecklistVersion: in.ChecklistNumber, FirmID: in.FirmID, FirmName: v.FirmName,
		StreetID: in.StreetID, CommunityID: in.CommunityID, CompoundID: in.CompoundID, CompoundName: v.CompoundName,
		InspectorID: in.InspectorID, InspectorName: v.InspectorName, InspectorRole: in.InspectorRole,
		InspectedAt: ts(in.InspectedAt), Notes: in.Notes, PhotoIDs: inspection.PhotoIDs(in.Photos), Earned: in.Earned,
		Possible: in.Possible, Failed: in.Failed, CreatedAt: ts(in.CreatedAt), Items: []inspectionItemResponse{}}
	if in.Scored {
		score := in.Score
		r.Score = &score
	}
	for _, it := range v.Items {
		r.Items = append(r.Items, inspectionItemResponse{ID: it.ID, ChecklistItemID: it.ChecklistItemID, Section: it.Section,
			SectionName: inspection.SectionName(it.Section), Title: it.Title, Points: it.Points, Rule: it.Rule,
			Result: it.Result, Deduct: it.Deduct, Note: it.Note, PhotoIDs: inspection.PhotoIDs(it.Photos),
			OrderID: it.OrderID, OrderNumber: v.Orders[it.OrderID], ActionItemID: it.ActionItemID, Answer: it.Answer,
			AnsweredBy: it.AnsweredBy, AnsweredAt: tsp(it.AnsweredAt)})
	}
	return r
}

var errInspectedAt = service.Invalid("bad_inspected_at", "检查时间须为 RFC 3339 格式，如 2026-11-23T10:00:00+08:00")

func (h *handlers) createInspection(c *gin.Context) {
	var req createInspectionRequest
	if !bindJSON(c, &req) {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	in := inspection.CreateInput{CompoundID: req.CompoundID, Kind: req.Kind, ChecklistID: req.ChecklistID,
		Notes: req.Notes, PhotoIDs: req.PhotoIDs, DefaultResult: req.DefaultResult, IdemKey: key}
	if req.InspectedAt != "" {
		t, err := parseTime(req.InspectedAt)
		if err != nil {
			fail(c, errInspectedAt)
			return
		}
		in.InspectedAt = &t
	}
	for _, r := range req.Items {
		ri := inspection.ResultInput{ItemID: r.ItemID, Result: r.Result, Deduct: r.Deduct, Note: r.Note, PhotoIDs: r.PhotoIDs}
		if r.Raise != nil {
			ri.Raise = &inspection.RaiseInput{Kind: r.Raise.Kind, DueDate: r.Raise.DueDate, Text: r.Raise.Text,
				CategoryCode: r.Raise.CategoryCode}
		}
		in.Items = append(in.Items, ri)
	}
	v, created, err := h.Inspection.Create(c.Request.Context(), actor(c), in)
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newInspectionResponse(v))
}

func (h *handlers) listInspections(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f := inspection.Filter{Kind: c.Query("kind")}
	for _, q := range []struct {
		name string
		dst  *int64
	}{{"firm_id", &f.FirmID}, {"community_id", &f.CommunityID}, {"compound_id", &f.CompoundID}} {
		if *q.dst, ok = queryID(c, q.name); !ok {
			return
		}
	}
	if f.From, ok = queryDate(c, "from", false); !ok {
		return
	}
	if f.To, ok = queryDate(c, "to", true); !ok {
		return
	}
	res, err := h.Inspection.List(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v inspection.View) int64 { return v.ID }, newInspectionResponse))
}

func (h *handlers) getInspection(c *gin.Context) {
	byID(c, h.Inspection.Get, newInspectionResponse)
}

type answerRequest struct {
	Answer string `json:"answer" text:"block"`
}

func (h *handlers) answerInspectionItem(c *gin.Context) {
	id, item, ok := pathIDs(c, "id", "item_id")
	if !ok {
		return
	}
	var req answerRequest
	if !bindJSON(c, &req) {
		return
	}
	v, err := h.Inspection.Answer(c.Request.Context(), actor(c), id, item, req.Answer)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newInspectionResponse(v))
}

func (h *handlers) getInspectionPhoto(c *gin.Context) {
	id, pid, ok := pathIDs(c, "id", "photo_id")
	if !ok {
		return
	}
	p, rc, err := h.Inspection.Photo(c.Request.Context(), actor(c), id, pid)
	servePhoto(c, p, rc, err)
}

type rectificationResponse struct {
	ID           int64   `json:"id"`
	OrderID      int64   `json:"order_id"`
	OrderNumber  string  `json:"order_number"`
	Round        int     `json:"round"`
	Rating       int     `json:"rating"`
	State        string  `json:"state"`
	OwnerKind    string  `json:"owner_kind"`
	OwnerID      int64   `json:"owner_id"`
	OwnerName    string  `json:"owner_name"`
	FirmID       int64   `json:"firm_id,omitempty"`
	StreetID     int64   `json:"street_id"`
	CommunityID  int64   `json:"community_id"`
	CompoundID   int64   `json:"compound_id"`
	CompoundName string  `json:"compound_name"`
	OpenedAt     string  `json:"opened_at"`
	DueAt        string  `json:"due_at"`
	Late         bool    `json:"late"`
	Report       string  `json:"report"`
	PhotoIDs     []int64 `json:"photo_ids"`
	ReportedBy   int64   `json:"reported_by,omitempty"`
	ReportedAt   *string `json:"reported_at"`
	RevisitNote  string  `json:"revisit_note"`
	RevisitedBy  int64   `json:"revisited_by,omitempty"`
	RevisitedAt  *string `json:"revisited_at"`
	ResidentNote string  `json:"resident_note"`
	AnsweredAt   *string `json:"answered_at"`
	ClosedAt     *string `json:"closed_at"`
	Version      int64   `json:"version"`
}

func newRectificationResponse(v order.RectView) rectificationResponse {
	r := v.Rectification
	return rectificationResponse{ID: r.ID, OrderID: r.OrderID, OrderNumber: r.OrderNumber, Round: r.Round, Rating: r.Rating,
		State: r.State, OwnerKind: r.OwnerKind, OwnerID: r.OwnerID, OwnerName: v.OwnerName, FirmID: r.FirmID,
		StreetID: r.StreetID, CommunityID: r.CommunityID, CompoundID: r.CompoundID, CompoundName: v.CompoundName,
		OpenedAt: ts(r.OpenedAt), DueAt: ts(r.DueAt), Late: v.Late, Report: r.Report, PhotoIDs: v.PhotoIDs,
		ReportedBy: r.ReportedBy, ReportedAt: tsp(r.ReportedAt), RevisitNote: r.RevisitNote, RevisitedBy: r.RevisitedBy,
		RevisitedAt: tsp(r.RevisitedAt), ResidentNote: r.ResidentNote, AnsweredAt: tsp(r.AnsweredAt),
		ClosedAt: tsp(r.ClosedAt), Version: r.Version}
}

func (h *handlers) listRectifications(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	var f order.RectFilter
	if raw := c.Query("state"); raw != "" {
		f.States = strings.Split(raw, ",")
	}
	for _, q := range []struct {
		name string
		dst  *int64
	}{{"order_id", &f.OrderID}, {"firm_id", &f.FirmID}, {"community_id", &f.CommunityID}, {"compound_id", &f.CompoundID}} {
		if *q.dst, ok = queryID(c, q.name); !ok {
			return
		}
	}
	for _, q := range []struct {
		name string
		dst  *bool
	}{{"late", &f.Late}, {"queue", &f.Queue}} {
		b, ok := queryBool(c, q.name)
		if !ok {
			return
		}
		*q.dst = b != nil && *b
	}
	res, err := h.Order.Rectifications(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v order.RectView) int64 { return v.ID }, newRectificationResponse))
}

func (h *handlers) getRectification(c *gin.Context) {
	byID(c, h.Order.Rectification, newRectificationResponse)
}

type reportRectificationRequest struct {
	Report   string  `json:"report" text:"block"`
	PhotoIDs []int64 `json:"photo_ids"`
}

func (h *handlers) reportRectification(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req reportRectificationRequest
	if !bindJSON(c, &req) {
		return
	}
	v, err := h.Order.ReportRectification(c.Request.Context(), actor(c), id, req.Report, req.PhotoIDs)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newRectificationResponse(v))
}

type answerRectificationRequest struct {
	Note string `json:"note" text:"block"`
}

func (h *handlers) answerRectification(fixed bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		var req answerRectificationRequest
		if !bindJSON(c, &req) {
			return
		}
		v, err := h.Order.AnswerRectification(c.Request.Context(), actor(c), id, fixed, req.Note)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, newRectificationResponse(v))
	}
}
