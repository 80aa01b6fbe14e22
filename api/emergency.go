package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service/order"
)

// emergencyRoutes registers the one-key emergency call (一键呼叫, 民呼社应),
// the register of vulnerable people it serves, and manual escalation of
// orders along the 四议 ladder.
func (h *handlers) emergencyRoutes(authed *gin.RouterGroup) {
	authed.POST("/emergency/vulnerable", h.idempotent(h.registerVulnerable))
	authed.GET("/emergency/vulnerable", h.listVulnerable)
	authed.DELETE("/emergency/vulnerable/:id", h.removeVulnerable)
	authed.GET("/emergency/targets", h.emergencyTargets)

	authed.POST("/emergency/calls", h.raiseCall)
	authed.GET("/emergency/calls", h.openCalls)
	authed.GET("/emergency/calls/:id", h.getCall)
	authed.POST("/emergency/calls/:id/acknowledge", h.respondCall(order.CallAcknowledge))
	authed.POST("/emergency/calls/:id/arrive", h.respondCall(order.CallArrive))
	authed.POST("/emergency/calls/:id/resolve", h.respondCall(order.CallResolve))

	authed.POST("/orders/:id/escalate", h.escalateOrder)
}

type emergencyContact struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Relation string `json:"relation"`
}

type registerVulnerableRequest struct {
	UserID      int64              `json:"user_id"`
	HouseholdID int64              `json:"household_id"`
	Name        string             `json:"name"`
	Kind        string             `json:"kind"`
	Note        string             `json:"note" text:"block"`
	Contacts    []emergencyContact `json:"contacts"`
}

type vulnerableResponse struct {
	ID           int64              `json:"id"`
	UserID       int64              `json:"user_id,omitempty"`
	Name         string             `json:"name"`
	Kind         string             `json:"kind"`
	Note         string             `json:"note,omitempty"`
	Contacts     []emergencyContact `json:"contacts"`
	HouseholdID  int64              `json:"household_id"`
	Address      string             `json:"address"`
	CompoundName string             `json:"compound_name"`
	BuildingName string             `json:"building_name"`
	Unit         string             `json:"unit"`
	Room         string             `json:"room"`
	CommunityID  int64              `json:"community_id"`
	GridID       int64              `json:"grid_id"`
	BuildingID   int64              `json:"building_id"`
	RegisteredBy int64              `json:"registered_by"`
	CreatedAt    string             `json:"created_at"`
}

func newVulnerableResponse(v order.VulnerableView) vulnerableResponse {
	cs := make([]emergencyContact, 0, len(v.Contacts))
	for _, c := range v.Contacts {
		cs = append(cs, emergencyContact{Name: c.Name, Phone: c.Phone, Relation: c.Relation})
	}
	return vulnerableResponse{
		ID: v.ID, UserID: v.UserID, Name: v.Name, Kind: v.Kind, Note: v.Note, Contacts: cs,
		HouseholdID: v.HouseholdID, Address: v.Address(), CompoundName: v.CompoundName, BuildingName: v.BuildingName,
		Unit: v.Unit, Room: v.Room, CommunityID: v.CommunityID, GridID: v.GridID, BuildingID: v.BuildingID,
		RegisteredBy: v.RegisteredBy, CreatedAt: ts(v.CreatedAt),
	}
}

func (h *handlers) registerVulnerable(c *gin.Context) {
	var req registerVulnerableRequest
	if !bindJSON(c, &req) {
		return
	}
	in := order.VulnerableInput{UserID: req.UserID, HouseholdID: req.HouseholdID, Name: req.Name, Kind: req.Kind, Note: req.Note}
	for _, ct := range req.Contacts {
		in.Contacts = append(in.Contacts, model.EmergencyContact{Name: ct.Name, Phone: ct.Phone, Relation: ct.Relation})
	}
	v, err := h.Order.RegisterVulnerable(c.Request.Context(), actor(c), in)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, newVulnerableResponse(v))
}

func (h *handlers) listVulnerable(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	gridID, ok := queryID(c, "grid_id")
	if !ok {
		return
	}
	res, err := h.Order.Vulnerables(c.Request.Context(), actor(c), gridID, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v order.VulnerableView) int64 { return v.ID }, newVulnerableResponse))
}

func (h *handlers) removeVulnerable(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if err := h.Order.RemoveVulnerable(c.Request.Context(), actor(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type callTargetResponse struct {
	vulnerableResponse
	OpenCallID int64 `json:"open_call_id,omitempty"`
}

func (h *handlers) emergencyTargets(c *gin.Context) {
	ts, err := h.Order.CallTargets(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]callTargetResponse, 0, len(ts))
	for _, t := range ts {
		out = append(out, callTargetResponse{vulnerableResponse: newVulnerableResponse(t.VulnerableView), OpenCallID: t.OpenCallID})
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type raiseCallRequest struct {
	HouseholdID int64  `json:"household_id"`
	Note        string `json:"note" text:"block"`
}

type callResponse struct {
	ID             int64              `json:"id"`
	Status         string             `json:"status"`
	OrderID        int64              `json:"order_id"`
	OrderNumber    string             `json:"order_number"`
	OrderState     string             `json:"order_state"`
	OrderLevel     string             `json:"order_level"`
	CallerID       int64              `json:"caller_id"`
	CallerName     string             `json:"caller_name,omitempty"`
	CallerPhone    string             `json:"caller_phone,omitempty"`
	Note           string             `json:"note,omitempty"`
	Vulnerable     vulnerableResponse `json:"vulnerable"`
	AlertCount     int                `json:"alert_count"`
	LastAlertAt    string             `json:"last_alert_at"`
	CreatedAt      string             `json:"created_at"`
	AcknowledgedAt *string            `json:"acknowledged_at"`
	AcknowledgedBy int64              `json:"acknowledged_by,omitempty"`
	ArrivedAt      *string            `json:"arrived_at"`
	ArrivedBy      int64              `json:"arrived_by,omitempty"`
	ResolvedAt     *string            `json:"resolved_at"`
	ResolvedBy     int64              `json:"resolved_by,omitempty"`
	EscalatedAt    *string            `json:"escalated_at"`
}

func newCallResponse(v order.CallView) callResponse {
	return callResponse{
		ID: v.ID, Status: v.Status(), OrderID: v.OrderID, OrderNumber: v.OrderNumber, OrderState: v.OrderState,
		OrderLevel: v.OrderLevel, CallerID: v.CallerID, CallerName: v.CallerName, CallerPhone: v.CallerPhone,
		Note: v.Note, Vulnerable: newVulnerableResponse(v.Vulnerable), AlertCount: v.AlertCount,
		LastAlertAt: ts(v.LastAlertAt), CreatedAt: ts(v.CreatedAt),
		AcknowledgedAt: tsp(v.AcknowledgedAt), AcknowledgedBy: v.AcknowledgedBy,
		ArrivedAt: tsp(v.ArrivedAt), ArrivedBy: v.ArrivedBy, ResolvedAt: tsp(v.ResolvedAt), ResolvedBy: v.ResolvedBy,
		EscalatedAt: tsp(v.EscalatedAt),
	}
}

// raiseCall needs no body: one tap of the button. A repeated tap (with or
// without the same Idempotency-Key) finds the household's open call and
// answers 200 with it.
func (h *handlers) raiseCall(c *gin.Context) {
	var req raiseCallRequest
	if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
		return
	}
	v, created, err := h.Order.Call(c.Request.Context(), actor(c), order.CallInput{HouseholdID: req.HouseholdID, Note: req.Note})
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newCallResponse(v))
}

func (h *handlers) openCalls(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Order.OpenCalls(c.Request.Context(), actor(c), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v order.CallView) int64 { return v.ID }, newCallResponse))
}

func (h *handlers) getCall(c *gin.Context) {
	byID(c, h.Order.EmergencyCall, newCallResponse)
}

type respondCallRequest struct {
	Note string `json:"note" text:"block"`
}

// respondCall handles acknowledge, arrive and resolve; each takes an
// optional note.
func (h *handlers) respondCall(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		var req respondCallRequest
		if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
			return
		}
		v, err := h.Order.RespondCall(c.Request.Context(), actor(c), id, action, req.Note)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, newCallResponse(v))
	}
}

type escalateOrderRequest struct {
	Reason string `json:"reason" text:"block"`
}

func (h *handlers) escalateOrder(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req escalateOrderRequest
	if !bindJSON(c, &req) {
		return
	}
	v, err := h.Order.Escalate(c.Request.Context(), actor(c), id, req.Reason)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newOrderResponse(v))
}
