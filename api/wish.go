package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"redprop/service"
	"redprop/service/wish"
)

// wishRoutes registers micro-wishes: posting, lists, one wish, one
// endpoint per action, the wish's photos, and the volunteer hours of a
// community.
func (h *handlers) wishRoutes(authed *gin.RouterGroup) {
	authed.POST("/wishes", h.postWish)
	authed.GET("/wishes", h.listWishes)
	authed.GET("/wishes/:id", h.getWish)
	for _, a := range wish.Actions() {
		authed.POST("/wishes/:id/"+a, h.wishAction(a))
	}
	authed.GET("/wishes/:id/photos/:photo_id", h.getWishPhoto)
	authed.GET("/wish-hours", h.wishHours)
}

var errWishHours = service.Invalid("bad_hours", "服务时长须为数字或字符串，如 1.5 或 \"1.5\"")

type postWishRequest struct {
	HouseholdID int64   `json:"household_id"`
	ResidentID  int64   `json:"resident_id"`
	Title       string  `json:"title"`
	Detail      string  `json:"detail" text:"block"`
	PhotoIDs    []int64 `json:"photo_ids"`
}

type wishPhotoResponse struct {
	ID  int64  `json:"id"`
	URL string `json:"url"`
}

type wishResponse struct {
	ID             int64               `json:"id"`
	State          string              `json:"state"`
	Title          string              `json:"title"`
	Detail         string              `json:"detail,omitempty"`
	Photos         []wishPhotoResponse `json:"photos"`
	Channel        string              `json:"channel"`
	Flagged        bool                `json:"flagged"`
	AuthorID       int64               `json:"author_id"`
	AuthorName     string              `json:"author_name"`
	ResidentID     int64               `json:"resident_id"`
	ResidentName   string              `json:"resident_name"`
	ResidentPhone  string              `json:"resident_phone,omitempty"`
	HouseholdID    int64               `json:"household_id"`
	HouseholdLabel string              `json:"household_label"`
	CommunityID    int64               `json:"community_id"`
	CompoundID     int64               `json:"compound_id"`
	ClaimerID      int64               `json:"claimer_id,omitempty"`
	ClaimerName    string              `json:"claimer_name,omitempty"`
	ClaimerRole    string              `json:"claimer_role,omitempty"`
	ClaimedAt      *string             `json:"claimed_at,omitempty"`
	FulfilledAt    *string             `json:"fulfilled_at,omitempty"`
	FulfilNote     string              `json:"fulfil_note,omitempty"`
	FulfilPhotos   []wishPhotoResponse `json:"fulfil_photos"`
	Hours          string              `json:"hours,omitempty"`
	HoursCenti     int64               `json:"hours_centi,omitempty"`
	ThankedAt      *string             `json:"thanked_at,omitempty"`
	ThankedBy      int64               `json:"thanked_by,omitempty"`
	ThanksNote     string              `json:"thanks_note,omitempty"`
	WithdrawnAt    *string             `json:"withdrawn_at,omitempty"`
	Version        int64               `json:"version"`
	CreatedAt      string              `json:"created_at"`
	UpdatedAt      string              `json:"updated_at"`
}

func wishPhotos(wishID int64, ids []int64) []wishPhotoResponse {
	out := make([]wishPhotoResponse, 0, len(ids))
	for _, id := range ids {
		out = append(out, wishPhotoResponse{ID: id, URL: fmt.Sprintf("/api/v1/wishes/%d/photos/%d", wishID, id)})
	}
	return out
}

func newWishResponse(v wish.View) wishResponse {
	w := v.Wish
	r := wishResponse{
		ID: w.ID, State: w.State, Title: w.Title, Detail: w.Detail, Photos: wishPhotos(w.ID, w.Photos),
		Channel: w.Channel, Flagged: w.Flagged, AuthorID: w.AuthorID, AuthorName: v.AuthorName,
		ResidentID: w.ResidentID, ResidentName: v.ResidentName, ResidentPhone: v.ResidentPhone,
		HouseholdID: w.HouseholdID, HouseholdLabel: v.HouseholdLabel, CommunityID: w.CommunityID, CompoundID: w.CompoundID,
		ClaimerID: w.ClaimerID, ClaimerName: v.ClaimerName, ClaimerRole: w.ClaimerRole, ClaimedAt: tsp(w.ClaimedAt),
		FulfilledAt: tsp(w.FulfilledAt), FulfilNote: w.FulfilNote, FulfilPhotos: wishPhotos(w.ID, w.FulfilPhotos),
		HoursCenti: w.HoursCenti, ThankedAt: tsp(w.ThankedAt), ThankedBy: w.ThankedBy, ThanksNote: w.ThanksNote,
		WithdrawnAt: tsp(w.WithdrawnAt), Version: w.Version, CreatedAt: ts(w.CreatedAt), UpdatedAt: ts(w.UpdatedAt),
	}
	if w.HoursCenti > 0 {
		r.Hours = wish.FormatHours(w.HoursCenti)
	}
	return r
}

func (h *handlers) postWish(c *gin.Context) {
	var req postWishRequest
	if !bindJSON(c, &req) {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	v, created, err := h.Wish.Post(c.Request.Context(), actor(c), wish.PostInput{
		HouseholdID: req.HouseholdID, ResidentID: req.ResidentID, Title: req.Title, Detail: req.Detail,
		PhotoIDs: req.PhotoIDs, IdemKey: key,
	})
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newWishResponse(v))
}

func (h *handlers) listWishes(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f := wish.Filter{List: c.DefaultQuery("list", wish.ListMine), State: c.Query("state")}
	if f.CommunityID, ok = queryID(c, "community_id"); !ok {
		return
	}
	if f.CompoundID, ok = queryID(c, "compound_id"); !ok {
		return
	}
	res, err := h.Wish.List(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v wish.View) int64 { return v.Wish.ID }, newWishResponse))
}

func (h *handlers) getWish(c *gin.Context) {
	byID(c, h.Wish.Get, newWishResponse)
}

// wishActionRequest is the body of every action; fulfil takes photos,
// hours and a note, thank a note, the others nothing.
type wishActionRequest struct {
	PhotoIDs []int64         `json:"photo_ids"`
	Hours    json.RawMessage `json:"hours"`
	Note     string          `json:"note" text:"block"`
}

func (h *handlers) wishAction(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		var req wishActionRequest
		if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
			return
		}
		in := wish.Input{PhotoIDs: req.PhotoIDs, Note: req.Note}
		// Hours come as a number (1.5) or a string ("1.5"); either is read
		// as its decimal text, never through a float.
		if raw := strings.TrimSpace(string(req.Hours)); raw != "" && raw != "null" {
			if strings.HasPrefix(raw, `"`) {
				if err := json.Unmarshal(req.Hours, &in.Hours); err != nil {
					fail(c, errWishHours)
					return
				}
			} else {
				in.Hours = raw
			}
		}
		v, err := h.Wish.Act(c.Request.Context(), actor(c), id, action, in)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, newWishResponse(v))
	}
}

func (h *handlers) getWishPhoto(c *gin.Context) {
	id, pid, ok := pathIDs(c, "id", "photo_id")
	if !ok {
		return
	}
	p, rc, err := h.Wish.Photo(c.Request.Context(), actor(c), id, pid)
	servePhoto(c, p, rc, err)
}

type volunteerHoursResponse struct {
	UserID     int64  `json:"user_id"`
	Name       string `json:"name"`
	Wishes     int64  `json:"wishes"`
	Hours      string `json:"hours"`
	HoursCenti int64  `json:"hours_centi"`
	// ConfirmedHours were confirmed by the residents' thanks.
	ConfirmedHours string `json:"confirmed_hours"`
}

type volunteerHoursPage struct {
	pageOf[volunteerHoursResponse]
	TotalWishes int64  `json:"total_wishes"`
	TotalHours  string `json:"total_hours"`
	// TotalConfirmed are the hours residents confirmed by thanking.
	TotalConfirmed string `json:"total_confirmed_hours"`
}

func newVolunteerHoursResponse(v wish.VolunteerHours) volunteerHoursResponse {
	return volunteerHoursResponse{UserID: v.UserID, Name: v.Name, Wishes: v.Wishes,
		Hours: wish.FormatHours(v.HoursCenti), HoursCenti: v.HoursCenti, ConfirmedHours: wish.FormatHours(v.ConfirmedCenti)}
}

func (h *handlers) wishHours(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	var f wish.HoursFilter
	if f.CommunityID, ok = queryID(c, "community_id"); !ok {
		return
	}
	from, ok := queryDate(c, "from", false)
	if !ok {
		return
	}
	to, ok := queryDate(c, "to", true)
	if !ok {
		return
	}
	if from != nil {
		f.From = *from
	}
	if to != nil {
		f.To = *to
	}
	res, err := h.Wish.Hours(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, volunteerHoursPage{
		pageOf:      newPage(res.Paged, func(v wish.VolunteerHours) int64 { return v.UserID }, newVolunteerHoursResponse),
		TotalWishes: res.TotalWishes, TotalHours: wish.FormatHours(res.TotalHoursCenti),
		TotalConfirmed: wish.FormatHours(res.TotalConfirmed),
	})
}
