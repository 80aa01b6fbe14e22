package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service/auth"
)

func (h *handlers) authRoutes(public, authed *gin.RouterGroup) {
	public.POST("/auth/login", h.login)
	public.POST("/auth/refresh", h.refresh)
	authed.POST("/auth/logout", h.logout)
	authed.GET("/me", h.me)
	authed.PUT("/me/phone", h.bindPhone)
	authed.PUT("/me/name", h.setName)
}

type loginRequest struct {
	Code string `json:"code"`
}

type tokensResponse struct {
	AccessToken      string        `json:"access_token"`
	AccessExpiresAt  string        `json:"access_expires_at"`
	RefreshToken     string        `json:"refresh_token"`
	RefreshExpiresAt string        `json:"refresh_expires_at"`
	User             *userResponse `json:"user,omitempty"`
}

type userResponse struct {
	ID          int64  `json:"id"`
	DisplayName string `json:"display_name"`
	Phone       string `json:"phone"`
	PhoneBound  bool   `json:"phone_bound"`
}

func newUserResponse(u model.User) *userResponse {
	return &userResponse{ID: u.ID, DisplayName: u.DisplayName, Phone: u.Phone, PhoneBound: u.Phone != ""}
}

func newTokensResponse(t auth.Tokens) tokensResponse {
	return tokensResponse{
		AccessToken: t.AccessToken, AccessExpiresAt: ts(t.AccessExpiresAt),
		RefreshToken: t.RefreshToken, RefreshExpiresAt: ts(t.RefreshExpiresAt),
	}
}

func (h *handlers) login(c *gin.Context) {
	var req loginRequest
	if !bindJSON(c, &req) {
		return
	}
	tok, user, err := h.Auth.Login(c.Request.Context(), req.Code, c.ClientIP())
	if err != nil {
		fail(c, err)
		return
	}
	resp := newTokensResponse(tok)
	resp.User = newUserResponse(user)
	c.JSON(http.StatusOK, resp)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (h *handlers) refresh(c *gin.Context) {
	var req refreshRequest
	if !bindJSON(c, &req) {
		return
	}
	tok, err := h.Auth.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newTokensResponse(tok))
}

func (h *handlers) logout(c *gin.Context) {
	var req refreshRequest
	if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
		return
	}
	token := strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")
	if err := h.Auth.Logout(c.Request.Context(), token, req.RefreshToken); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type householdResponse struct {
	HouseholdID  int64  `json:"household_id"`
	Relation     string `json:"relation"`
	CompoundID   int64  `json:"compound_id"`
	CompoundName string `json:"compound_name"`
	BuildingID   int64  `json:"building_id"`
	BuildingName string `json:"building_name"`
	Unit         string `json:"unit"`
	Room         string `json:"room"`
	AreaM2       string `json:"area_m2"`
}

type applicationResponse struct {
	ID          int64   `json:"id"`
	UserID      int64   `json:"user_id"`
	HouseholdID int64   `json:"household_id"`
	Relation    string  `json:"relation"`
	Note        string  `json:"note,omitempty"`
	State       string  `json:"state"`
	Reason      string  `json:"reason,omitempty"`
	DecidedBy   int64   `json:"decided_by,omitempty"`
	DecidedAt   *string `json:"decided_at,omitempty"`
	CompoundID  int64   `json:"compound_id"`
	BuildingID  int64   `json:"building_id"`
	CreatedAt   string  `json:"created_at"`
}

func newApplicationResponse(a model.ResidencyApplication) applicationResponse {
	return applicationResponse{
		ID: a.ID, UserID: a.UserID, HouseholdID: a.HouseholdID, Relation: a.Relation, Note: a.Note,
		State: a.State, Reason: a.Reason, DecidedBy: a.DecidedBy, DecidedAt: tsp(a.DecidedAt),
		CompoundID: a.CompoundID, BuildingID: a.BuildingID, CreatedAt: ts(a.CreatedAt),
	}
}

type grantResponse struct {
	ID        int64  `json:"id"`
	UserID    int64  `json:"user_id"`
	Role      string `json:"role"`
	ScopeKind string `json:"scope_kind"`
	ScopeID   int64  `json:"scope_id"`
	CreatedAt string `json:"created_at"`
}

func newGrantResponse(g model.Grant) grantResponse {
	return grantResponse{ID: g.ID, UserID: g.UserID, Role: g.Role, ScopeKind: g.ScopeKind, ScopeID: g.ScopeID, CreatedAt: ts(g.CreatedAt)}
}

type meResponse struct {
	User         userResponse          `json:"user"` // a value: the caller always exists, never null
	Households   []householdResponse   `json:"households"`
	Applications []applicationResponse `json:"applications"`
	Grants       []grantResponse       `json:"grants"`
}

func (h *handlers) me(c *gin.Context) {
	m, err := h.Auth.Me(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	resp := meResponse{User: *newUserResponse(m.User), Households: []householdResponse{},
		Applications: []applicationResponse{}, Grants: []grantResponse{}}
	for _, hv := range m.Households {
		resp.Households = append(resp.Households, householdResponse{
			HouseholdID: hv.HouseholdID, Relation: hv.Relation, CompoundID: hv.CompoundID, CompoundName: hv.CompoundName,
			BuildingID: hv.BuildingID, BuildingName: hv.BuildingName, Unit: hv.Unit, Room: hv.Room,
			AreaM2: model.FormatArea(hv.AreaCentiM2),
		})
	}
	for _, a := range m.Applications {
		resp.Applications = append(resp.Applications, newApplicationResponse(a))
	}
	for _, g := range m.Grants {
		resp.Grants = append(resp.Grants, newGrantResponse(g))
	}
	c.JSON(http.StatusOK, resp)
}

type codeRequest struct {
	Code string `json:"code"`
}

func (h *handlers) bindPhone(c *gin.Context) {
	var req codeRequest
	if !bindJSON(c, &req) {
		return
	}
	u, err := h.Auth.BindPhone(c.Request.Context(), actor(c), req.Code)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(u))
}

type nameRequest struct {
	DisplayName string `json:"display_name"`
}

func (h *handlers) setName(c *gin.Context) {
	var req nameRequest
	if !bindJSON(c, &req) {
		return
	}
	u, err := h.Auth.SetName(c.Request.Context(), actor(c), req.DisplayName)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newUserResponse(u))
}
