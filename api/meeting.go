package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/meeting"
)

// meetingRoutes registers meetings: create and list, one meeting, its
// lifecycle, invitees, RSVP, sign-in and minutes.
func (h *handlers) meetingRoutes(authed *gin.RouterGroup) {
	authed.POST("/meetings", h.idempotent(h.createMeeting))
	authed.GET("/meetings", h.listMeetings)
	authed.GET("/meetings/:id", h.getMeeting)
	authed.PATCH("/meetings/:id", h.updateMeeting)
	authed.POST("/meetings/:id/schedule", h.meetingAction(h.Meeting.Schedule))
	authed.POST("/meetings/:id/hold", h.meetingAction(h.Meeting.Hold))
	authed.POST("/meetings/:id/close", h.meetingAction(h.Meeting.Close))
	authed.POST("/meetings/:id/cancel", h.cancelMeeting)
	authed.POST("/meetings/:id/sign-in-code", h.meetingAction(h.Meeting.RotateCode))

	authed.GET("/meetings/:id/participants", h.listMeetingParticipants)
	authed.POST("/meetings/:id/participants", h.inviteToMeeting)
	authed.DELETE("/meetings/:id/participants/:user_id", h.removeMeetingParticipant)
	authed.POST("/meetings/:id/participants/:user_id/sign-in", h.signInParticipant)
	authed.DELETE("/meetings/:id/groups/:group_id", h.removeMeetingGroup)

	authed.PUT("/meetings/:id/rsvp", h.rsvpMeeting)
	authed.POST("/meetings/:id/sign-in", h.signInMeeting)

	authed.GET("/meetings/:id/minutes", h.listMeetingMinutes)
	authed.GET("/meetings/:id/photos/:photo_id", h.getMeetingPhoto)
	authed.POST("/meetings/:id/minutes", h.idempotent(h.publishMeetingMinutes))
}

var (
	errMeetingTime = service.Invalid("bad_time", "时间须为 RFC 3339 格式，如 2026-11-25T14:30:00+08:00")
)

// ---- request and response types

type meetingAgendaItem struct {
	Title     string `json:"title"`
	Presenter string `json:"presenter,omitempty"`
	Minutes   int    `json:"minutes,omitempty"`
}

type meetingAttachment struct {
	Name    string `json:"name"`
	PhotoID int64  `json:"photo_id,omitempty"`
	URL     string `json:"url,omitempty"`
}

type meetingGroupInput struct {
	Kind     string `json:"kind"`
	TargetID int64  `json:"target_id"`
}

type createMeetingRequest struct {
	Kind        string              `json:"kind"`
	Title       string              `json:"title"`
	ScopeKind   string              `json:"scope_kind"`
	ScopeID     int64               `json:"scope_id"`
	StartsAt    string              `json:"starts_at"`
	EndsAt      string              `json:"ends_at"`
	Place       string              `json:"place"`
	OnlineURL   string              `json:"online_url"`
	Note        string              `json:"note" text:"block"`
	Agenda      []meetingAgendaItem `json:"agenda"`
	Attachments []meetingAttachment `json:"attachments"`
	UserIDs     []int64             `json:"user_ids"`
	Groups      []meetingGroupInput `json:"groups"`
}

type updateMeetingRequest struct {
	Title       *string              `json:"title"`
	StartsAt    *string              `json:"starts_at"`
	EndsAt      *string              `json:"ends_at"`
	Place       *string              `json:"place"`
	OnlineURL   *string              `json:"online_url"`
	Note        *string              `json:"note" text:"block"`
	Agenda      *[]meetingAgendaItem `json:"agenda"`
	Attachments *[]meetingAttachment `json:"attachments"`
}

type inviteRequest struct {
	UserIDs []int64             `json:"user_ids"`
	Groups  []meetingGroupInput `json:"groups"`
}

type meetingCounts struct {
	Invited   int64 `json:"invited"`
	Attending int64 `json:"attending"`
	Declined  int64 `json:"declined"`
	Pending   int64 `json:"pending"`
	SignedIn  int64 `json:"signed_in"`
}

type meetingGroupResponse struct {
	ID         int64   `json:"id"`
	Kind       string  `json:"kind"`
	TargetID   int64   `json:"target_id"`
	Name       string  `json:"name"`
	ExpandedAt *string `json:"expanded_at"`
	Found      int     `json:"found"`
	Added      int     `json:"added"`
}

// myMeetingResponse is the actor's own invitation.
type myMeetingResponse struct {
	RSVP          string  `json:"rsvp"`
	DeclineReason string  `json:"decline_reason,omitempty"`
	RespondedAt   *string `json:"responded_at"`
	SignedInAt    *string `json:"signed_in_at"`
}

type meetingResponse struct {
	ID            int64                  `json:"id"`
	Kind          string                 `json:"kind"`
	Title         string                 `json:"title"`
	State         string                 `json:"state"`
	OrganiserID   int64                  `json:"organiser_id"`
	OrganiserName string                 `json:"organiser_name"`
	OrganiserRole string                 `json:"organiser_role"`
	ScopeKind     string                 `json:"scope_kind"`
	ScopeID       int64                  `json:"scope_id"`
	ScopeName     string                 `json:"scope_name"`
	StreetID      int64                  `json:"street_id,omitempty"`
	CommunityID   int64                  `json:"community_id,omitempty"`
	CompoundID    int64                  `json:"compound_id,omitempty"`
	StartsAt      string                 `json:"starts_at"`
	EndsAt        string                 `json:"ends_at"`
	Place         string                 `json:"place,omitempty"`
	OnlineURL     string                 `json:"online_url,omitempty"`
	Note          string                 `json:"note,omitempty"`
	Agenda        []meetingAgendaItem    `json:"agenda"`
	Attachments   []meetingAttachment    `json:"attachments"`
	Version       int                    `json:"version"`
	Manager       bool                   `json:"manager"`
	SignInCode    string                 `json:"sign_in_code,omitempty"`
	SignInUntil   *string                `json:"sign_in_until,omitempty"`
	Me            *myMeetingResponse     `json:"me"`
	Counts        *meetingCounts         `json:"counts,omitempty"`
	Groups        []meetingGroupResponse `json:"groups,omitempty"`
	Minutes       int                    `json:"minutes_versions"`
	ScheduledAt   *string                `json:"scheduled_at"`
	HeldAt        *string                `json:"held_at"`
	MinutedAt     *string                `json:"minuted_at"`
	ClosedAt      *string                `json:"closed_at"`
	CancelledAt   *string                `json:"cancelled_at"`
	CancelReason  string                 `json:"cancel_reason,omitempty"`
	CreatedAt     string                 `json:"created_at"`
	UpdatedAt     string                 `json:"updated_at"`
}

func newMeetingResponse(v meeting.View) meetingResponse {
	m := v.Meeting
	r := meetingResponse{
		ID: m.ID, Kind: m.Kind, Title: m.Title, State: m.State, OrganiserID: m.OrganiserID, OrganiserName: v.OrganiserName,
		OrganiserRole: m.OrganiserRole, ScopeKind: m.ScopeKind, ScopeID: m.ScopeID, ScopeName: v.ScopeName,
		StreetID: m.StreetID, CommunityID: m.CommunityID, CompoundID: m.CompoundID,
		StartsAt: ts(m.StartsAt), EndsAt: ts(m.EndsAt), Place: m.Place, OnlineURL: m.OnlineURL, Note: m.Note,
		Agenda: newAgenda(m.Agenda), Attachments: newAttachments(m.Attachments), Version: m.Version,
		Manager: v.Manager, SignInCode: m.SignInCode, SignInUntil: tsp(m.SignInUntil), Minutes: v.Minutes,
		ScheduledAt: tsp(m.ScheduledAt), HeldAt: tsp(m.HeldAt), MinutedAt: tsp(m.MinutedAt), ClosedAt: tsp(m.ClosedAt),
		CancelledAt: tsp(m.CancelledAt), CancelReason: m.CancelReason, CreatedAt: ts(m.CreatedAt), UpdatedAt: ts(m.UpdatedAt),
	}
	if v.Me != nil {
		r.Me = &myMeetingResponse{RSVP: v.Me.RSVP, DeclineReason: v.Me.DeclineReason, RespondedAt: tsp(v.Me.RespondedAt),
			SignedInAt: tsp(v.Me.SignedInAt)}
	}
	if v.Counts != nil {
		c := meetingCounts(*v.Counts)
		r.Counts = &c
	}
	for _, g := range v.Groups {
		r.Groups = append(r.Groups, meetingGroupResponse{ID: g.ID, Kind: g.Kind, TargetID: g.TargetID, Name: g.Name,
			ExpandedAt: tsp(g.ExpandedAt), Found: g.Found, Added: g.Added})
	}
	return r
}

func newAgenda(items []model.AgendaItem) []meetingAgendaItem {
	out := make([]meetingAgendaItem, 0, len(items))
	for _, it := range items {
		out = append(out, meetingAgendaItem{Title: it.Title, Presenter: it.Presenter, Minutes: it.Minutes})
	}
	return out
}

func newAttachments(items []model.MeetingAttachment) []meetingAttachment {
	out := make([]meetingAttachment, 0, len(items))
	for _, it := range items {
		out = append(out, meetingAttachment{Name: it.Name, PhotoID: it.PhotoID, URL: it.URL})
	}
	return out
}

func agendaInput(items []meetingAgendaItem) []model.AgendaItem {
	out := make([]model.AgendaItem, 0, len(items))
	for _, it := range items {
		out = append(out, model.AgendaItem{Title: it.Title, Presenter: it.Presenter, Minutes: it.Minutes})
	}
	return out
}

func attachmentInput(items []meetingAttachment) []model.MeetingAttachment {
	out := make([]model.MeetingAttachment, 0, len(items))
	for _, it := range items {
		out = append(out, model.MeetingAttachment{Name: it.Name, PhotoID: it.PhotoID, URL: it.URL})
	}
	return out
}

func groupInput(gs []meetingGroupInput) []meeting.GroupInput {
	out := make([]meeting.GroupInput, 0, len(gs))
	for _, g := range gs {
		out = append(out, meeting.GroupInput{Kind: g.Kind, TargetID: g.TargetID})
	}
	return out
}

// meetingTime parses an RFC 3339 time ("" is the zero time).
func meetingTime(c *gin.Context, raw string) (time.Time, bool) {
	if raw == "" {
		return time.Time{}, true
	}
	t, err := parseTime(raw)
	if err != nil {
		fail(c, errMeetingTime)
		return time.Time{}, false
	}
	return t, true
}

// ---- meetings

func (h *handlers) createMeeting(c *gin.Context) {
	var req createMeetingRequest
	if !bindJSON(c, &req) {
		return
	}
	start, ok := meetingTime(c, req.StartsAt)
	if !ok {
		return
	}
	end, ok := meetingTime(c, req.EndsAt)
	if !ok {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	v, created, err := h.Meeting.Create(c.Request.Context(), actor(c), meeting.CreateInput{
		Kind: req.Kind, Title: req.Title, ScopeKind: req.ScopeKind, ScopeID: req.ScopeID, StartsAt: start, EndsAt: end,
		Place: req.Place, OnlineURL: req.OnlineURL, Note: req.Note, Agenda: agendaInput(req.Agenda),
		Attachments: attachmentInput(req.Attachments), UserIDs: req.UserIDs, Groups: groupInput(req.Groups),
		IdemKey: key,
	})
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newMeetingResponse(v))
}

func (h *handlers) listMeetings(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Meeting.List(c.Request.Context(), actor(c), meeting.Filter{Queue: c.Query("queue"), State: c.Query("state")}, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v meeting.View) int64 { return v.ID }, newMeetingResponse))
}

func (h *handlers) getMeeting(c *gin.Context) {
	byID(c, h.Meeting.Get, newMeetingResponse)
}

func (h *handlers) updateMeeting(c *gin.Context) {
	patchByID(c, func(id int64, req updateMeetingRequest) (meeting.View, error) {
		p := meeting.Patch{Title: req.Title, Place: req.Place, OnlineURL: req.OnlineURL, Note: req.Note}
		for _, f := range []struct {
			raw *string
			dst **time.Time
		}{{req.StartsAt, &p.StartsAt}, {req.EndsAt, &p.EndsAt}} {
			if f.raw == nil {
				continue
			}
			t, err := parseTime(*f.raw)
			if err != nil {
				return meeting.View{}, errMeetingTime
			}
			*f.dst = &t
		}
		if req.Agenda != nil {
			a := agendaInput(*req.Agenda)
			p.Agenda = &a
		}
		if req.Attachments != nil {
			a := attachmentInput(*req.Attachments)
			p.Attachments = &a
		}
		return h.Meeting.Update(c.Request.Context(), actor(c), id, p)
	}, newMeetingResponse)
}

// meetingAction serves a lifecycle step that takes no input.
func (h *handlers) meetingAction(step func(ctx context.Context, a *service.Actor, id int64) (meeting.View, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		v, err := step(c.Request.Context(), actor(c), id)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, newMeetingResponse(v))
	}
}

type cancelMeetingRequest struct {
	Reason string `json:"reason" text:"block"`
}

func (h *handlers) cancelMeeting(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req cancelMeetingRequest
	if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
		return
	}
	v, err := h.Meeting.Cancel(c.Request.Context(), actor(c), id, req.Reason)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newMeetingResponse(v))
}

// ---- participants

type participantResponse struct {
	ID             int64   `json:"id"`
	UserID         int64   `json:"user_id"`
	Name           string  `json:"name"`
	GroupID        int64   `json:"group_id,omitempty"`
	GroupName      string  `json:"group_name,omitempty"`
	RSVP           string  `json:"rsvp"`
	DeclineReason  string  `json:"decline_reason,omitempty"`
	RespondedAt    *string `json:"responded_at"`
	SignedInAt     *string `json:"signed_in_at"`
	SignedInBySelf bool    `json:"signed_in_by_self"`
}

func newParticipantResponse(p meeting.ParticipantView) participantResponse {
	return participantResponse{ID: p.ID, UserID: p.UserID, Name: p.Name, GroupID: p.GroupID, GroupName: p.GroupName,
		RSVP: p.RSVP, DeclineReason: p.DeclineReason, RespondedAt: tsp(p.RespondedAt), SignedInAt: tsp(p.SignedInAt),
		SignedInBySelf: p.SignedInBySelf}
}

// participationResponse is one invitation after an RSVP or a sign-in.
type participationResponse struct {
	MeetingID     int64   `json:"meeting_id"`
	UserID        int64   `json:"user_id"`
	RSVP          string  `json:"rsvp"`
	DeclineReason string  `json:"decline_reason,omitempty"`
	RespondedAt   *string `json:"responded_at"`
	SignedInAt    *string `json:"signed_in_at"`
	SignedInBy    int64   `json:"signed_in_by,omitempty"`
}

func newParticipationResponse(p model.MeetingParticipant) participationResponse {
	return participationResponse{MeetingID: p.MeetingID, UserID: p.UserID, RSVP: p.RSVP, DeclineReason: p.DeclineReason,
		RespondedAt: tsp(p.RespondedAt), SignedInAt: tsp(p.SignedInAt), SignedInBy: p.SignedInBy}
}

func (h *handlers) listMeetingParticipants(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	p, ok := page(c)
	if !ok {
		return
	}
	f := meeting.ParticipantFilter{RSVP: c.Query("rsvp")}
	if f.SignedIn, ok = queryBool(c, "signed_in"); !ok {
		return
	}
	res, err := h.Meeting.Participants(c.Request.Context(), actor(c), id, f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(p meeting.ParticipantView) int64 { return p.ID }, newParticipantResponse))
}

func (h *handlers) inviteToMeeting(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req inviteRequest
	if !bindJSON(c, &req) {
		return
	}
	v, err := h.Meeting.AddInvitees(c.Request.Context(), actor(c), id, req.UserIDs, groupInput(req.Groups))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newMeetingResponse(v))
}

func (h *handlers) removeMeetingParticipant(c *gin.Context) {
	id, userID, ok := pathIDs(c, "id", "user_id")
	if !ok {
		return
	}
	if err := h.Meeting.RemoveParticipant(c.Request.Context(), actor(c), id, userID); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handlers) removeMeetingGroup(c *gin.Context) {
	id, groupID, ok := pathIDs(c, "id", "group_id")
	if !ok {
		return
	}
	if err := h.Meeting.RemoveGroup(c.Request.Context(), actor(c), id, groupID); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handlers) signInParticipant(c *gin.Context) {
	id, userID, ok := pathIDs(c, "id", "user_id")
	if !ok {
		return
	}
	p, err := h.Meeting.SignInFor(c.Request.Context(), actor(c), id, userID)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newParticipationResponse(p))
}

// ---- the participant's own answer and sign-in

type rsvpRequest struct {
	Answer string `json:"answer"`
	Reason string `json:"reason" text:"block"`
}

func (h *handlers) rsvpMeeting(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req rsvpRequest
	if !bindJSON(c, &req) {
		return
	}
	p, err := h.Meeting.RSVP(c.Request.Context(), actor(c), id, req.Answer, req.Reason)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newParticipationResponse(p))
}

type signInRequest struct {
	Code string `json:"code"`
}

func (h *handlers) signInMeeting(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req signInRequest
	if !bindJSON(c, &req) {
		return
	}
	p, err := h.Meeting.SignIn(c.Request.Context(), actor(c), id, req.Code)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newParticipationResponse(p))
}

// ---- minutes

type minutesRequest struct {
	Text        string              `json:"text" text:"block"`
	Attachments []meetingAttachment `json:"attachments"`
	Correction  string              `json:"correction" text:"block"`
}

type minutesResponse struct {
	ID          int64               `json:"id"`
	Version     int                 `json:"version"`
	Text        string              `json:"text"`
	Attachments []meetingAttachment `json:"attachments"`
	Correction  string              `json:"correction,omitempty"`
	AuthorID    int64               `json:"author_id"`
	PublishedAt string              `json:"published_at"`
}

func newMinutesResponse(m model.MeetingMinutes) minutesResponse {
	return minutesResponse{ID: m.ID, Version: m.Version, Text: m.Text, Attachments: newAttachments(m.Attachments),
		Correction: m.Correction, AuthorID: m.AuthorID, PublishedAt: ts(m.CreatedAt)}
}

func (h *handlers) listMeetingMinutes(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	ms, err := h.Meeting.Minutes(c.Request.Context(), actor(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]minutesResponse, 0, len(ms))
	for _, m := range ms {
		out = append(out, newMinutesResponse(m))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (h *handlers) publishMeetingMinutes(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req minutesRequest
	if !bindJSON(c, &req) {
		return
	}
	m, err := h.Meeting.PublishMinutes(c.Request.Context(), actor(c), id, meeting.MinutesInput{
		Text: req.Text, Attachments: attachmentInput(req.Attachments), Correction: req.Correction})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, newMinutesResponse(m))
}

// getMeetingPhoto serves a photo attached to a meeting or its minutes to
// whoever may see the meeting.
func (h *handlers) getMeetingPhoto(c *gin.Context) {
	id, pid, ok := pathIDs(c, "id", "photo_id")
	if !ok {
		return
	}
	if err := h.Meeting.CheckPhoto(c.Request.Context(), actor(c), id, pid); err != nil {
		fail(c, err)
		return
	}
	p, rc, err := h.Photo.OpenChecked(c.Request.Context(), pid)
	servePhoto(c, p, rc, err)
}
