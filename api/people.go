package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/org"
)

// peopleRoutes registers residency applications, invitations and grants.
func (h *handlers) peopleRoutes(authed *gin.RouterGroup) {
	authed.POST("/applications", h.idempotent(h.applyForHousehold))
	authed.GET("/applications", h.pendingApplications)
	authed.GET("/me/applications", h.myApplications)
	authed.GET("/applications/:id", h.getApplication)
	authed.POST("/applications/:id/approve", h.approveApplication)
	authed.POST("/applications/:id/reject", h.rejectApplication)
	authed.POST("/applications/:id/withdraw", h.withdrawApplication)
	authed.GET("/households/:id/residents", h.householdResidents)
	authed.DELETE("/residencies/:id", h.removeResidency)

	authed.POST("/invitations", h.idempotent(h.createInvitation))
	authed.GET("/invitations", h.myInvitations)
	authed.POST("/invitations/redeem", h.redeemInvitation)
	authed.POST("/invitations/:id/revoke", h.revokeInvitation)

	authed.GET("/grants", h.listGrants)
	authed.POST("/grants/:id/revoke", h.revokeGrant)
}

var errPeopleExpiry = service.Invalid("bad_expiry", "有效期格式不正确：expires_in 为秒数，expires_at 为 RFC 3339 时间")

// peopleNoBody accepts no body or an empty JSON object.
func peopleNoBody(c *gin.Context) bool {
	if c.Request.ContentLength == 0 {
		return true
	}
	var none struct{}
	return bindJSON(c, &none)
}

type applyRequest struct {
	HouseholdID int64  `json:"household_id"`
	Relation    string `json:"relation"`
	Note        string `json:"note" text:"block"`
}

type applicationViewResponse struct {
	applicationResponse
	ApplicantName string `json:"applicant_name"`
	Unit          string `json:"unit"`
	Room          string `json:"room"`
	BuildingName  string `json:"building_name"`
	CompoundName  string `json:"compound_name"`
}

func newApplicationViewResponse(v org.ApplicationView) applicationViewResponse {
	return applicationViewResponse{
		applicationResponse: newApplicationResponse(v.ResidencyApplication),
		ApplicantName:       v.ApplicantName, Unit: v.Unit, Room: v.Room,
		BuildingName: v.BuildingName, CompoundName: v.CompoundName,
	}
}

func applicationViewID(v org.ApplicationView) int64 { return v.ID }

func (h *handlers) applyForHousehold(c *gin.Context) {
	var req applyRequest
	if !bindJSON(c, &req) {
		return
	}
	app, err := h.Org.Apply(c.Request.Context(), actor(c), org.ApplyInput{HouseholdID: req.HouseholdID, Relation: req.Relation, Note: req.Note})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, newApplicationResponse(app))
}

func (h *handlers) pendingApplications(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	var f org.ApplicationFilter
	if f.BuildingID, ok = queryID(c, "building_id"); !ok {
		return
	}
	if f.GridID, ok = queryID(c, "grid_id"); !ok {
		return
	}
	res, err := h.Org.PendingApplications(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, applicationViewID, newApplicationViewResponse))
}

func (h *handlers) myApplications(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Org.MyApplications(c.Request.Context(), actor(c), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, applicationViewID, newApplicationViewResponse))
}

func (h *handlers) getApplication(c *gin.Context) {
	byID(c, h.Org.GetApplication, newApplicationViewResponse)
}

func (h *handlers) approveApplication(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok || !peopleNoBody(c) {
		return
	}
	app, err := h.Org.ApproveApplication(c.Request.Context(), actor(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newApplicationResponse(app))
}

type rejectRequest struct {
	Reason string `json:"reason" text:"block"`
}

func (h *handlers) rejectApplication(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req rejectRequest
	if !bindJSON(c, &req) {
		return
	}
	app, err := h.Org.RejectApplication(c.Request.Context(), actor(c), id, req.Reason)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newApplicationResponse(app))
}

func (h *handlers) withdrawApplication(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok || !peopleNoBody(c) {
		return
	}
	app, err := h.Org.WithdrawApplication(c.Request.Context(), actor(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newApplicationResponse(app))
}

type residentResponse struct {
	ResidencyID int64  `json:"residency_id"`
	UserID      int64  `json:"user_id"`
	DisplayName string `json:"display_name"`
	Relation    string `json:"relation"`
	Since       string `json:"since"`
}

func (h *handlers) householdResidents(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	rows, err := h.Org.HouseholdResidents(c.Request.Context(), actor(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]residentResponse, 0, len(rows))
	for _, r := range rows {
		out = append(out, residentResponse{ResidencyID: r.ID, UserID: r.UserID, DisplayName: r.DisplayName, Relation: r.Relation, Since: ts(r.CreatedAt)})
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (h *handlers) removeResidency(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if err := h.Org.RemoveResidency(c.Request.Context(), actor(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type invitationRequest struct {
	Role      string  `json:"role"`
	ScopeKind string  `json:"scope_kind"`
	ScopeID   int64   `json:"scope_id"`
	ExpiresIn *int64  `json:"expires_in"` // seconds
	ExpiresAt *string `json:"expires_at"` // RFC 3339
	MaxUses   *int    `json:"max_uses"`
	Note      string  `json:"note" text:"block"`
}

type invitationResponse struct {
	ID        int64   `json:"id"`
	Code      string  `json:"code"`
	Role      string  `json:"role"`
	ScopeKind string  `json:"scope_kind"`
	ScopeID   int64   `json:"scope_id"`
	ExpiresAt string  `json:"expires_at"`
	MaxUses   int     `json:"max_uses"`
	Uses      int     `json:"uses"`
	Note      string  `json:"note"`
	State     string  `json:"state"`
	CreatedAt string  `json:"created_at"`
	RevokedAt *string `json:"revoked_at,omitempty"`
}

func (h *handlers) newInvitationResponse(inv model.Invitation) invitationResponse {
	return invitationResponse{
		ID: inv.ID, Code: inv.Code, Role: inv.Role, ScopeKind: inv.ScopeKind, ScopeID: inv.ScopeID,
		ExpiresAt: ts(inv.ExpiresAt), MaxUses: inv.MaxUses, Uses: inv.Uses, Note: inv.Note,
		State: h.Org.InvitationState(inv), CreatedAt: ts(inv.CreatedAt), RevokedAt: tsp(inv.RevokedAt),
	}
}

func (h *handlers) createInvitation(c *gin.Context) {
	var req invitationRequest
	if !bindJSON(c, &req) {
		return
	}
	in := org.InvitationInput{Role: req.Role, ScopeKind: req.ScopeKind, ScopeID: req.ScopeID, MaxUses: 1, Note: req.Note}
	if req.MaxUses != nil {
		in.MaxUses = *req.MaxUses
	}
	if req.ExpiresIn != nil {
		// Bounded before converting so that a huge number cannot overflow
		// into a valid-looking duration; the service applies the real limit.
		if *req.ExpiresIn <= 0 || *req.ExpiresIn > int64(10*365*24*3600) {
			fail(c, errPeopleExpiry)
			return
		}
		in.ExpiresIn = time.Duration(*req.ExpiresIn) * time.Second
	}
	if req.ExpiresAt != nil {
		at, err := parseTime(*req.ExpiresAt)
		if err != nil {
			fail(c, errPeopleExpiry)
			return
		}
		in.ExpiresAt = &at
	}
	inv, err := h.Org.CreateInvitation(c.Request.Context(), actor(c), in)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, h.newInvitationResponse(inv))
}

func (h *handlers) myInvitations(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Org.MyInvitations(c.Request.Context(), actor(c), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(i model.Invitation) int64 { return i.ID }, h.newInvitationResponse))
}

func (h *handlers) redeemInvitation(c *gin.Context) {
	var req codeRequest
	if !bindJSON(c, &req) {
		return
	}
	g, err := h.Org.Redeem(c.Request.Context(), actor(c), req.Code)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, newGrantResponse(g))
}

func (h *handlers) revokeInvitation(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok || !peopleNoBody(c) {
		return
	}
	inv, err := h.Org.RevokeInvitation(c.Request.Context(), actor(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.newInvitationResponse(inv))
}

type grantViewResponse struct {
	grantResponse
	DisplayName  string  `json:"display_name"`
	InvitationID int64   `json:"invitation_id,omitempty"`
	RevokedAt    *string `json:"revoked_at,omitempty"`
}

func newGrantViewResponse(g org.GrantView) grantViewResponse {
	return grantViewResponse{grantResponse: newGrantResponse(g.Grant), DisplayName: g.DisplayName,
		InvitationID: g.InvitationID, RevokedAt: tsp(g.RevokedAt)}
}

func (h *handlers) listGrants(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f := org.GrantFilter{Role: c.Query("role"), ScopeKind: c.Query("scope_kind")}
	if f.UserID, ok = queryID(c, "user_id"); !ok {
		return
	}
	if f.ScopeID, ok = queryID(c, "scope_id"); !ok {
		return
	}
	revoked, ok := queryBool(c, "include_revoked")
	if !ok {
		return
	}
	f.IncludeRevoked = revoked != nil && *revoked
	res, err := h.Org.ListGrants(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(g org.GrantView) int64 { return g.ID }, newGrantViewResponse))
}

func (h *handlers) revokeGrant(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok || !peopleNoBody(c) {
		return
	}
	g, err := h.Org.RevokeGrant(c.Request.Context(), actor(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	resp := newGrantViewResponse(org.GrantView{Grant: g})
	c.JSON(http.StatusOK, resp)
}
