package api

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/action"
)

// xlsxMime is the content type of an .xlsx workbook.
const xlsxMime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// actionRoutes registers the issue list (问题清单), its transitions, the
// ledger (整改台账) and its Excel export.
func (h *handlers) actionRoutes(authed *gin.RouterGroup) {
	// The Idempotency-Key is also kept on the item itself, so a retry is
	// answered with the first item even after Redis forgot the key.
	authed.POST("/action-items", h.idempotentOrPass(h.createActionItem))
	authed.POST("/orders/:id/action-items", h.idempotentOrPass(h.createActionItemFromOrder))
	authed.GET("/action-items", h.listActionItems)
	authed.GET("/action-items/export", h.exportActionItems)
	authed.GET("/action-items/:id", h.getActionItem)
	authed.GET("/action-items/:id/photos/:photo_id", h.getActionItemPhoto)
	for _, a := range action.Transitions() {
		authed.POST("/action-items/:id/"+a, h.actActionItem(a))
	}
}

type createActionItemRequest struct {
	Title       string `json:"title"`
	Detail      string `json:"detail" text:"block"`
	OwnerKind   string `json:"owner_kind"`
	OwnerID     int64  `json:"owner_id"`
	DueDate     string `json:"due_date"`
	SourceKind  string `json:"source_kind"`
	SourceID    int64  `json:"source_id"`
	CompoundID  int64  `json:"compound_id"`
	CommunityID int64  `json:"community_id"`
}

// orderActionItemRequest is an item raised from an order: the order is
// its source and (unless narrowed to the community) its compound its place.
type orderActionItemRequest struct {
	Title       string `json:"title"`
	Detail      string `json:"detail" text:"block"`
	OwnerKind   string `json:"owner_kind"`
	OwnerID     int64  `json:"owner_id"`
	DueDate     string `json:"due_date"`
	CommunityID int64  `json:"community_id"`
}

type actionEventResponse struct {
	ID        int64   `json:"id"`
	Action    string  `json:"action"`
	ActorID   int64   `json:"actor_id,omitempty"`
	ActorName string  `json:"actor_name,omitempty"`
	Role      string  `json:"role,omitempty"`
	FromState string  `json:"from_state,omitempty"`
	ToState   string  `json:"to_state"`
	Note      string  `json:"note,omitempty"`
	PhotoIDs  []int64 `json:"photo_ids"`
	At        string  `json:"at"`
}

type actionItemResponse struct {
	ID             int64                 `json:"id"`
	Number         string                `json:"number"`
	Title          string                `json:"title"`
	Detail         string                `json:"detail"`
	State          string                `json:"state"`
	StateName      string                `json:"state_name"`
	Overdue        bool                  `json:"overdue"`
	OverdueAt      *string               `json:"overdue_at"`
	DueDate        string                `json:"due_date"`
	DueAt          string                `json:"due_at"`
	OwnerKind      string                `json:"owner_kind"`
	OwnerID        int64                 `json:"owner_id"`
	OwnerName      string                `json:"owner_name"`
	SourceKind     string                `json:"source_kind"`
	SourceID       int64                 `json:"source_id,omitempty"`
	SourceLabel    string                `json:"source_label"`
	ScopeKind      string                `json:"scope_kind"`
	ScopeID        int64                 `json:"scope_id"`
	PlaceName      string                `json:"place_name"`
	StreetID       int64                 `json:"street_id"`
	CommunityID    int64                 `json:"community_id"`
	CompoundID     int64                 `json:"compound_id,omitempty"`
	OrganiserID    int64                 `json:"organiser_id"`
	OrganiserName  string                `json:"organiser_name"`
	CreatorID      int64                 `json:"creator_id"`
	CreatorName    string                `json:"creator_name"`
	ClaimedBy      int64                 `json:"claimed_by,omitempty"`
	ClaimedByName  string                `json:"claimed_by_name,omitempty"`
	ClaimedAt      *string               `json:"claimed_at"`
	DoneBy         int64                 `json:"done_by,omitempty"`
	DoneByName     string                `json:"done_by_name,omitempty"`
	DoneAt         *string               `json:"done_at"`
	Evidence       string                `json:"evidence,omitempty"`
	PhotoIDs       []int64               `json:"photo_ids"`
	VerifiedBy     int64                 `json:"verified_by,omitempty"`
	VerifiedByName string                `json:"verified_by_name,omitempty"`
	VerifiedAt     *string               `json:"verified_at"`
	SendBacks      int                   `json:"send_backs"`
	Version        int64                 `json:"version"`
	CreatedAt      string                `json:"created_at"`
	UpdatedAt      string                `json:"updated_at"`
	History        []actionEventResponse `json:"history"`
}

func newActionItemResponse(v action.View) actionItemResponse {
	it := v.ActionItem
	r := actionItemResponse{
		ID: it.ID, Number: v.Number, Title: it.Title, Detail: it.Detail, State: it.State,
		StateName: action.StateName(it.State), Overdue: it.Overdue, OverdueAt: tsp(it.OverdueAt),
		DueDate: v.DueDate, DueAt: ts(it.DueAt), OwnerKind: it.OwnerKind, OwnerID: it.OwnerID, OwnerName: v.OwnerName,
		SourceKind: it.SourceKind, SourceID: it.SourceID, SourceLabel: v.SourceLabel, ScopeKind: it.ScopeKind,
		ScopeID: it.ScopeID, PlaceName: v.PlaceName, StreetID: it.StreetID, CommunityID: it.CommunityID,
		CompoundID: it.CompoundID, OrganiserID: it.OrganiserID, OrganiserName: v.OrganiserName,
		CreatorID: it.CreatorID, CreatorName: v.CreatorName, ClaimedBy: it.ClaimedBy, ClaimedByName: v.ClaimedByName,
		ClaimedAt: tsp(it.ClaimedAt), DoneBy: it.DoneBy, DoneByName: v.DoneByName, DoneAt: tsp(it.DoneAt),
		Evidence: it.Evidence, PhotoIDs: v.PhotoIDs, VerifiedBy: it.VerifiedBy, VerifiedByName: v.VerifiedByName,
		VerifiedAt: tsp(it.VerifiedAt), SendBacks: it.SendBacks, Version: it.Version,
		CreatedAt: ts(it.CreatedAt), UpdatedAt: ts(it.UpdatedAt), History: []actionEventResponse{},
	}
	if r.PhotoIDs == nil {
		r.PhotoIDs = []int64{}
	}
	for _, e := range v.History {
		ids := e.PhotoIDs
		if ids == nil {
			ids = []int64{}
		}
		r.History = append(r.History, actionEventResponse{
			ID: e.ID, Action: e.Action, ActorID: e.ActorID, ActorName: e.ActorName, Role: e.Role,
			FromState: e.FromState, ToState: e.ToState, Note: e.Note, PhotoIDs: ids, At: ts(e.CreatedAt),
		})
	}
	return r
}

func (h *handlers) createActionItem(c *gin.Context) {
	var req createActionItemRequest
	if !bindJSON(c, &req) {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	h.respondCreated(c, action.CreateInput{
		Title: req.Title, Detail: req.Detail, OwnerKind: req.OwnerKind, OwnerID: req.OwnerID, DueDate: req.DueDate,
		SourceKind: req.SourceKind, SourceID: req.SourceID, CompoundID: req.CompoundID, CommunityID: req.CommunityID,
		IdemKey: key,
	})
}

func (h *handlers) createActionItemFromOrder(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req orderActionItemRequest
	if !bindJSON(c, &req) {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	h.respondCreated(c, action.CreateInput{
		Title: req.Title, Detail: req.Detail, OwnerKind: req.OwnerKind, OwnerID: req.OwnerID, DueDate: req.DueDate,
		SourceKind: model.SourceOrder, SourceID: id, CommunityID: req.CommunityID,
		IdemKey: key,
	})
}

func (h *handlers) respondCreated(c *gin.Context, in action.CreateInput) {
	v, created, err := h.Action.Create(c.Request.Context(), actor(c), in)
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newActionItemResponse(v))
}

// actionFilter reads the ledger's query parameters.
func actionFilter(c *gin.Context) (action.Filter, bool) {
	f := action.Filter{OwnerKind: c.Query("owner_kind"), SourceKind: c.Query("source_kind")}
	if raw := c.Query("state"); raw != "" {
		f.States = strings.Split(raw, ",")
	}
	ids := []struct {
		name string
		dst  *int64
	}{
		{"owner_id", &f.OwnerID}, {"source_id", &f.SourceID}, {"street_id", &f.StreetID},
		{"community_id", &f.CommunityID}, {"compound_id", &f.CompoundID},
	}
	var ok bool
	for _, q := range ids {
		if *q.dst, ok = queryID(c, q.name); !ok {
			return f, false
		}
	}
	if f.Overdue, ok = queryBool(c, "overdue"); !ok {
		return f, false
	}
	if f.From, ok = queryDate(c, "from", false); !ok {
		return f, false
	}
	if f.To, ok = queryDate(c, "to", true); !ok {
		return f, false
	}
	return f, true
}

func (h *handlers) listActionItems(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f, ok := actionFilter(c)
	if !ok {
		return
	}
	res, err := h.Action.List(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v action.View) int64 { return v.ID }, newActionItemResponse))
}

func (h *handlers) exportActionItems(c *gin.Context) {
	f, ok := actionFilter(c)
	if !ok {
		return
	}
	wb, err := h.Action.Export(c.Request.Context(), actor(c), f)
	if err != nil {
		fail(c, err)
		return
	}
	defer wb.Close()
	h.sendXLSX(c, wb.Filename, wb.ASCIIName, wb)
}

// sendXLSX answers 200 with a workbook named name (ascii for old
// browsers), not to be cached or sniffed; a failure once the status is
// out can only be logged.
func (h *handlers) sendXLSX(c *gin.Context, name, ascii string, w io.WriterTo) {
	c.Header("Content-Type", xlsxMime)
	c.Header("Content-Disposition", attachment(name, ascii))
	c.Header("Cache-Control", "private, no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Status(http.StatusOK)
	releaseSlots(c)
	if _, err := w.WriteTo(c.Writer); err != nil {
		h.Log.ErrorContext(c.Request.Context(), "write export", "err", err, "request_id", requestID(c))
	}
}

// attachment is a Content-Disposition naming a download: an ASCII
// fallback for old clients and the real (Chinese) name as RFC 5987
// filename*.
func attachment(name, fallback string) string {
	return fmt.Sprintf(`attachment; filename="%s"; filename*=UTF-8''%s`, fallback, rfc5987(name))
}

// rfc5987 percent-encodes s as an RFC 5987 ext-value: everything but
// attr-char is %XX of its UTF-8 bytes.
func rfc5987(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("!#$&+-.^_`|~", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func (h *handlers) getActionItem(c *gin.Context) {
	byID(c, h.Action.Get, newActionItemResponse)
}

func (h *handlers) getActionItemPhoto(c *gin.Context) {
	id, pid, ok := pathIDs(c, "id", "photo_id")
	if !ok {
		return
	}
	p, rc, err := h.Action.EvidencePhoto(c.Request.Context(), actor(c), id, pid)
	servePhoto(c, p, rc, err)
}

// actionItemRequest is the body of every transition; each reads its own
// fields and refuses the others.
type actionItemRequest struct {
	Note     *string  `json:"note" text:"block"`
	Evidence *string  `json:"evidence" text:"block"`
	PhotoIDs *[]int64 `json:"photo_ids"`
	Reason   *string  `json:"reason" text:"block"`
}

var actionItemFields = map[string][]string{
	action.ActDone:     {"evidence", "photo_ids"},
	action.ActSendBack: {"reason"},
}

func (h *handlers) actActionItem(act string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		var req actionItemRequest
		if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
			return
		}
		present := map[string]bool{"evidence": req.Evidence != nil, "photo_ids": req.PhotoIDs != nil, "reason": req.Reason != nil}
		for f, there := range present {
			if there && !slices.Contains(actionItemFields[act], f) {
				fail(c, service.Invalid("unexpected_field", "此操作不接受字段 "+f))
				return
			}
		}
		in := action.Input{}
		if req.Note != nil {
			in.Note = *req.Note
		}
		if req.Evidence != nil {
			in.Evidence = *req.Evidence
		}
		if req.PhotoIDs != nil {
			in.PhotoIDs = *req.PhotoIDs
		}
		if req.Reason != nil {
			in.Reason = *req.Reason
		}
		v, err := h.Action.Act(c.Request.Context(), actor(c), id, act, in)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, newActionItemResponse(v))
	}
}
