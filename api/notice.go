package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/notice"
	"redprop/service/receipt"
)

// noticeRoutes registers notices (公告): publishing, the lists, one
// notice, reading, confirming, withdrawing, and who was told — the
// counts, the households not reached (and their .xlsx), one household's
// receipt and the steward's "told in person".
func (h *handlers) noticeRoutes(authed *gin.RouterGroup) {
	authed.POST("/notices", h.createNotice)
	authed.GET("/notices", h.listNotices)
	authed.GET("/notices/:id", h.getNotice)
	authed.POST("/notices/:id/read", h.noticeMark(false))
	authed.POST("/notices/:id/confirm", h.noticeMark(true))
	authed.POST("/notices/:id/withdraw", h.withdrawNotice)
	authed.GET("/notices/:id/photos/:photo_id", h.getNoticePhoto)
	authed.GET("/notices/:id/receipts", h.noticeTally)
	authed.GET("/notices/:id/not-reached", h.noticeNotReached)
	authed.GET("/notices/:id/not-reached.xlsx", h.exportNoticeNotReached)
	authed.GET("/notices/:id/receipts/:household_id", h.noticeReceipt)
	authed.POST("/notices/:id/receipts/:household_id/in-person", h.noticeInPerson)
}

var (
	errNoticeTime = service.Invalid("bad_time", "时间须为 RFC 3339 格式，如 2026-12-03T09:00:00+08:00")
	errUnit       = service.Invalid("bad_unit", "单元号不能超过 16 个字符")
)

type createNoticeRequest struct {
	As           string  `json:"as"`
	ScopeKind    string  `json:"scope_kind"`
	ScopeIDs     []int64 `json:"scope_ids"`
	Title        string  `json:"title"`
	Body         string  `json:"body" text:"block"`
	PhotoIDs     []int64 `json:"photo_ids"`
	Push         bool    `json:"push"`
	NeedsConfirm bool    `json:"needs_confirm"`
	PublishAt    string  `json:"publish_at"`
	ExpiresAt    string  `json:"expires_at"`
}

type noticePhotoResponse struct {
	ID  int64  `json:"id"`
	URL string `json:"url"`
}

type noticeReceiptResponse struct {
	HouseholdID int64   `json:"household_id"`
	ReadAt      *string `json:"read_at"`
	Confirmed   bool    `json:"confirmed"`
	ConfirmedAt *string `json:"confirmed_at"`
}

type noticeResponse struct {
	ID             int64                   `json:"id"`
	State          string                  `json:"state"`
	PublisherKind  string                  `json:"publisher_kind"`
	PublisherID    int64                   `json:"publisher_id"`
	PublisherName  string                  `json:"publisher_name"`
	AuthorID       int64                   `json:"author_id"`
	AuthorName     string                  `json:"author_name,omitempty"`
	ScopeKind      string                  `json:"scope_kind"`
	ScopeIDs       []int64                 `json:"scope_ids"`
	StreetID       int64                   `json:"street_id"`
	CommunityID    int64                   `json:"community_id"`
	CompoundID     int64                   `json:"compound_id"`
	Title          string                  `json:"title"`
	Body           string                  `json:"body"`
	Photos         []noticePhotoResponse   `json:"photos"`
	Push           bool                    `json:"push"`
	NeedsConfirm   bool                    `json:"needs_confirm"`
	PublishAt      string                  `json:"publish_at"`
	PublishedAt    *string                 `json:"published_at"`
	ExpiresAt      *string                 `json:"expires_at"`
	Households     int64                   `json:"households"`
	WithdrawnAt    *string                 `json:"withdrawn_at,omitempty"`
	WithdrawnBy    int64                   `json:"withdrawn_by,omitempty"`
	WithdrawReason string                  `json:"withdraw_reason,omitempty"`
	Receipts       []noticeReceiptResponse `json:"receipts,omitempty"`
	Manage         bool                    `json:"manage"`
	Staff          bool                    `json:"staff"`
	// Household list only: the household told, read and confirmed.
	HouseholdID *int64 `json:"household_id,omitempty"`
	Read        *bool  `json:"read,omitempty"`
	Confirmed   *bool  `json:"confirmed,omitempty"`
	Version     int64  `json:"version"`
	CreatedAt   string `json:"created_at"`
}

func noticeBody(n model.Notice) noticeResponse {
	photos := make([]noticePhotoResponse, 0, len(n.Photos))
	for _, id := range n.Photos {
		photos = append(photos, noticePhotoResponse{ID: id, URL: fmt.Sprintf("/api/v1/notices/%d/photos/%d", n.ID, id)})
	}
	ids := n.ScopeIDs
	if ids == nil {
		ids = []int64{}
	}
	return noticeResponse{
		ID: n.ID, State: n.State, PublisherKind: n.PublisherKind, PublisherID: n.PublisherID, PublisherName: n.PublisherName,
		AuthorID: n.AuthorID, ScopeKind: n.ScopeKind, ScopeIDs: ids, StreetID: n.StreetID, CommunityID: n.CommunityID,
		CompoundID: n.CompoundID, Title: n.Title, Body: n.Body, Photos: photos, Push: n.Push, NeedsConfirm: n.NeedsConfirm,
		PublishAt: ts(n.PublishAt), PublishedAt: tsp(n.PublishedAt), ExpiresAt: tsp(n.ExpiresAt), Households: n.Households,
		WithdrawnAt: tsp(n.WithdrawnAt), WithdrawnBy: n.WithdrawnBy, WithdrawReason: n.WithdrawReason,
		Version: n.Version, CreatedAt: ts(n.CreatedAt),
	}
}

func newNoticeResponse(v notice.View) noticeResponse {
	r := noticeBody(v.Notice)
	r.AuthorName, r.Manage, r.Staff = v.AuthorName, v.Manage, v.Staff
	for _, rc := range v.Receipts {
		r.Receipts = append(r.Receipts, noticeReceiptResponse{HouseholdID: rc.HouseholdID, ReadAt: tsp(rc.ReadAt),
			Confirmed: rc.Confirmed, ConfirmedAt: tsp(rc.ConfirmAt)})
	}
	return r
}

func newNoticeItemResponse(it notice.Item) noticeResponse {
	r := noticeBody(it.Notice)
	if it.HouseholdID != 0 {
		hid, read, conf := it.HouseholdID, it.Read, it.Confirmed
		r.HouseholdID, r.Read, r.Confirmed = &hid, &read, &conf
	}
	return r
}

// noticeTime parses an optional RFC 3339 time ("" is none).
func noticeTime(c *gin.Context, raw string) (*time.Time, bool) {
	if raw == "" {
		return nil, true
	}
	t, err := parseTime(raw)
	if err != nil {
		fail(c, errNoticeTime)
		return nil, false
	}
	return &t, true
}

func (h *handlers) createNotice(c *gin.Context) {
	var req createNoticeRequest
	if !bindJSON(c, &req) {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	publishAt, ok := noticeTime(c, req.PublishAt)
	if !ok {
		return
	}
	expiresAt, ok := noticeTime(c, req.ExpiresAt)
	if !ok {
		return
	}
	v, created, err := h.Notice.Create(c.Request.Context(), actor(c), notice.CreateInput{
		As: req.As, ScopeKind: req.ScopeKind, ScopeIDs: req.ScopeIDs, Title: req.Title, Body: req.Body,
		PhotoIDs: req.PhotoIDs, Push: req.Push, NeedsConfirm: req.NeedsConfirm, PublishAt: publishAt, ExpiresAt: expiresAt,
		IdemKey: key,
	})
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newNoticeResponse(v))
}

func (h *handlers) listNotices(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f := notice.Filter{List: c.DefaultQuery("list", notice.ListHousehold)}
	if f.HouseholdID, ok = queryID(c, "household_id"); !ok {
		return
	}
	res, err := h.Notice.List(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, notice.Item.Cursor, newNoticeItemResponse))
}

func (h *handlers) getNotice(c *gin.Context) {
	byID(c, h.Notice.Get, newNoticeResponse)
}

func (h *handlers) noticeMark(confirm bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		call := h.Notice.Read
		if confirm {
			call = h.Notice.Confirm
		}
		byID(c, call, newNoticeResponse)
	}
}

type withdrawNoticeRequest struct {
	Reason string `json:"reason" text:"block"`
}

func (h *handlers) withdrawNotice(c *gin.Context) {
	patchByID(c, func(id int64, req withdrawNoticeRequest) (notice.View, error) {
		return h.Notice.Withdraw(c.Request.Context(), actor(c), id, req.Reason)
	}, newNoticeResponse)
}

func (h *handlers) getNoticePhoto(c *gin.Context) {
	id, pid, ok := pathIDs(c, "id", "photo_id")
	if !ok {
		return
	}
	p, rc, err := h.Notice.Photo(c.Request.Context(), actor(c), id, pid)
	servePhoto(c, p, rc, err)
}

type receiptCountsResponse struct {
	Households   int64 `json:"households"`
	Delivered    int64 `json:"delivered"`
	Unregistered int64 `json:"unregistered"`
	Pushed       int64 `json:"pushed"`
	Read         int64 `json:"read"`
	Confirmed    int64 `json:"confirmed"`
	InPerson     int64 `json:"in_person"`
	Reached      int64 `json:"reached"`
	NotReached   int64 `json:"not_reached"`
}

func newReceiptCounts(c receipt.Counts) receiptCountsResponse {
	return receiptCountsResponse{Households: c.Households, Delivered: c.Delivered, Unregistered: c.Unregistered,
		Pushed: c.Pushed, Read: c.Read, Confirmed: c.Confirmed, InPerson: c.InPerson, Reached: c.Reached, NotReached: c.NotReached}
}

type unitCountsResponse struct {
	Unit string `json:"unit"`
	receiptCountsResponse
}

type buildingCountsResponse struct {
	BuildingID int64  `json:"building_id"`
	Name       string `json:"name"`
	CompoundID int64  `json:"compound_id"`
	GridID     int64  `json:"grid_id"`
	receiptCountsResponse
	Units []unitCountsResponse `json:"units"`
}

type receiptTallyResponse struct {
	receiptCountsResponse
	Buildings []buildingCountsResponse `json:"buildings"`
}

// newReceiptTally is the counts of a subject and its buildings; other
// capabilities that tell households answer the same shape.
func newReceiptTally(t receipt.Tally) receiptTallyResponse {
	out := receiptTallyResponse{receiptCountsResponse: newReceiptCounts(t.Counts), Buildings: []buildingCountsResponse{}}
	for _, b := range t.Buildings {
		bc := buildingCountsResponse{BuildingID: b.BuildingID, Name: b.Name, CompoundID: b.CompoundID, GridID: b.GridID,
			receiptCountsResponse: newReceiptCounts(b.Counts), Units: []unitCountsResponse{}}
		for _, u := range b.Units {
			bc.Units = append(bc.Units, unitCountsResponse{Unit: u.Unit, receiptCountsResponse: newReceiptCounts(u.Counts)})
		}
		out.Buildings = append(out.Buildings, bc)
	}
	return out
}

func (h *handlers) noticeTally(c *gin.Context) {
	byID(c, h.Notice.Tally, newReceiptTally)
}

type doorResponse struct {
	ReceiptID    int64   `json:"receipt_id"`
	HouseholdID  int64   `json:"household_id"`
	BuildingID   int64   `json:"building_id"`
	BuildingName string  `json:"building_name"`
	Unit         string  `json:"unit"`
	Room         string  `json:"room"`
	Members      int     `json:"members"`
	Push         string  `json:"push"`
	Reached      bool    `json:"reached"`
	ReadAt       *string `json:"read_at"`
	ReadBy       int64   `json:"read_by,omitempty"`
	Confirmed    bool    `json:"confirmed"`
	ConfirmedAt  *string `json:"confirmed_at"`
	InPersonAt   *string `json:"in_person_at"`
	InPersonBy   int64   `json:"in_person_by,omitempty"`
	InPersonNote string  `json:"in_person_note,omitempty"`
	DeliveredAt  string  `json:"delivered_at"`
}

func newDoorResponse(d receipt.Door) doorResponse {
	r := d.Receipt
	return doorResponse{ReceiptID: r.ID, HouseholdID: r.HouseholdID, BuildingID: r.BuildingID, BuildingName: d.BuildingName,
		Unit: r.Unit, Room: r.Room, Members: r.Members, Push: r.Push, Reached: r.Reached, ReadAt: tsp(r.ReadAt), ReadBy: r.ReadBy,
		Confirmed: r.Confirmed, ConfirmedAt: tsp(r.ConfirmAt), InPersonAt: tsp(r.InPersonAt), InPersonBy: r.InPersonBy,
		InPersonNote: r.InPersonNote, DeliveredAt: ts(r.CreatedAt)}
}

type pushResponse struct {
	UserID     int64  `json:"user_id"`
	State      string `json:"state"`
	SkipReason string `json:"skip_reason,omitempty"`
	Channel    string `json:"channel"`
}

type receiptDetailResponse struct {
	doorResponse
	Pushes []pushResponse `json:"pushes"`
}

func newReceiptDetail(d receipt.Detail) receiptDetailResponse {
	out := receiptDetailResponse{doorResponse: newDoorResponse(d.Door), Pushes: []pushResponse{}}
	for _, p := range d.Pushes {
		out.Pushes = append(out.Pushes, pushResponse{UserID: p.UserID, State: p.State, SkipReason: p.SkipReason, Channel: p.Channel})
	}
	return out
}

// receiptFilter reads ?building_id= and ?unit=.
func receiptFilter(c *gin.Context) (receipt.Filter, bool) {
	var f receipt.Filter
	var ok bool
	if f.BuildingID, ok = queryID(c, "building_id"); !ok {
		return f, false
	}
	f.Unit = c.Query("unit")
	if len(f.Unit) > 16 {
		fail(c, errUnit)
		return f, false
	}
	return f, true
}

func (h *handlers) noticeNotReached(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	f, ok := receiptFilter(c)
	if !ok {
		return
	}
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Notice.NotReached(c.Request.Context(), actor(c), id, f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(d receipt.Door) int64 { return d.ID }, newDoorResponse))
}

func (h *handlers) exportNoticeNotReached(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	f, ok := receiptFilter(c)
	if !ok {
		return
	}
	wb, n, err := h.Notice.ExportNotReached(c.Request.Context(), actor(c), id, f)
	if err != nil {
		fail(c, err)
		return
	}
	defer wb.Close()
	day := n.PublishAt.In(calendar.Beijing).Format("20060102")
	sid := strconv.FormatInt(n.ID, 10)
	h.sendXLSX(c, "未触达住户_公告"+sid+"_"+day+".xlsx", "not-reached-notice-"+sid+"-"+day+".xlsx", wb)
}

func (h *handlers) noticeReceipt(c *gin.Context) {
	id, hid, ok := pathIDs(c, "id", "household_id")
	if !ok {
		return
	}
	d, err := h.Notice.Receipt(c.Request.Context(), actor(c), id, hid)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newReceiptDetail(d))
}

type inPersonRequest struct {
	Note   string `json:"note" text:"block"`
	ToldAt string `json:"told_at"`
}

func (h *handlers) noticeInPerson(c *gin.Context) {
	id, hid, ok := pathIDs(c, "id", "household_id")
	if !ok {
		return
	}
	var req inPersonRequest
	if !bindJSON(c, &req) {
		return
	}
	at, ok := noticeTime(c, req.ToldAt)
	if !ok {
		return
	}
	in := receipt.InPerson{HouseholdID: hid, Note: req.Note}
	if at != nil {
		in.At = *at
	}
	d, err := h.Notice.TellInPerson(c.Request.Context(), actor(c), id, in)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newReceiptDetail(d))
}
