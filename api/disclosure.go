package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/disclosure"
	"redprop/service/receipt"
)

// disclosureRoutes registers the disclosure boards (三公开): a compound's
// board and versions, publishing, the immutable versions with their
// history, diff and countersignature, the fee quote and attachments.
func (h *handlers) disclosureRoutes(authed *gin.RouterGroup) {
	authed.GET("/compounds/:id/disclosure-board", h.disclosureBoard)
	authed.POST("/compounds/:id/disclosures", h.publishDisclosure)
	authed.GET("/compounds/:id/disclosures", h.listDisclosures)
	authed.GET("/disclosures/:id", h.getDisclosure)
	authed.PATCH("/disclosures/:id", h.editDisclosure)
	authed.GET("/disclosures/:id/versions", h.disclosureVersions)
	authed.GET("/disclosures/:id/diff", h.disclosureDiff)
	authed.POST("/disclosures/:id/countersign", h.countersignDisclosure)
	authed.GET("/disclosures/:id/quote", h.disclosureQuote)
	authed.GET("/disclosures/:id/attachments/:photo_id", h.disclosureAttachment)
	authed.GET("/disclosures/:id/receipts", h.disclosureReceipts)
	authed.GET("/disclosures/:id/not-reached", h.disclosureNotReached)
	authed.GET("/disclosures/:id/not-reached.xlsx", h.exportDisclosureNotReached)
	authed.POST("/disclosures/:id/receipts/:household_id/in-person", h.disclosureInPerson)
	// Receipts as PDF, beside photos (POST /photos): their id goes in a
	// line's attachment_ids.
	limit := h.MaxBodyBytes
	if h.Photo != nil {
		limit = h.Photo.MaxBytes() + photoEnvelope
	}
	h.bodies.handle(authed, http.MethodPost, "/documents", limit, h.idempotentOrPass(h.uploadDocument))
}

func (h *handlers) uploadDocument(c *gin.Context) {
	h.uploadFile(c, h.Photo.UploadPDF)
}

var errDisclosureDate = service.Invalid("bad_effective_on", "执行日期格式应为 2026-01-01")

type disclosureLineRequest struct {
	Label         string  `json:"label"`
	Amount        string  `json:"amount"`
	Unit          string  `json:"unit"`
	Basis         string  `json:"basis"`
	EffectiveOn   string  `json:"effective_on"`
	Detail        string  `json:"detail" text:"block"`
	AttachmentIDs []int64 `json:"attachment_ids"`
}

type publishDisclosureRequest struct {
	Section        string                  `json:"section"`
	CorrectsID     int64                   `json:"corrects_id"`
	Reason         string                  `json:"reason" text:"block"`
	Note           string                  `json:"note" text:"block"`
	ServiceLevel   string                  `json:"service_level"`
	Items          []disclosureLineRequest `json:"items"`
	Fees           []disclosureLineRequest `json:"fees"`
	Charges        []disclosureLineRequest `json:"charges"`
	CommunityPhone string                  `json:"community_phone"`
	StreetPhone    string                  `json:"street_phone"`
	Period         string                  `json:"period"`
	Opening        string                  `json:"opening"`
	IncomeTotal    string                  `json:"income_total"`
	ExpenseTotal   string                  `json:"expense_total"`
	Closing        string                  `json:"closing"`
	Income         []disclosureLineRequest `json:"income"`
	Expenses       []disclosureLineRequest `json:"expenses"`
}

func disclosureLines(rs []disclosureLineRequest) ([]disclosure.LineInput, error) {
	out := make([]disclosure.LineInput, 0, len(rs))
	for _, r := range rs {
		in := disclosure.LineInput{Label: r.Label, Amount: r.Amount, Unit: r.Unit, Basis: r.Basis, Detail: r.Detail,
			Attachments: r.AttachmentIDs}
		if s := strings.TrimSpace(r.EffectiveOn); s != "" {
			d, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return nil, errDisclosureDate
			}
			in.EffectiveOn = &d
		}
		out = append(out, in)
	}
	return out, nil
}

type disclosureAttachmentResponse struct {
	ID  int64  `json:"id"`
	URL string `json:"url"`
}

type disclosureLineResponse struct {
	Kind        string                         `json:"kind"`
	Label       string                         `json:"label"`
	Amount      *string                        `json:"amount"`
	Unit        string                         `json:"unit,omitempty"`
	Basis       string                         `json:"basis,omitempty"`
	EffectiveOn *string                        `json:"effective_on,omitempty"`
	Detail      string                         `json:"detail,omitempty"`
	Attachments []disclosureAttachmentResponse `json:"attachments"`
}

type disclosureRevenueResponse struct {
	Period       string `json:"period"`
	Opening      string `json:"opening"`
	IncomeTotal  string `json:"income_total"`
	ExpenseTotal string `json:"expense_total"`
	Closing      string `json:"closing"`
}

type disclosureSignResponse struct {
	// State is countersigned, or not_countersigned: shown as such to
	// residents.
	State string  `json:"state"`
	By    int64   `json:"by,omitempty"`
	Name  string  `json:"name,omitempty"`
	Role  string  `json:"role,omitempty"`
	At    *string `json:"at,omitempty"`
	Note  string  `json:"note,omitempty"`
}

type disclosureResponse struct {
	ID            int64                      `json:"id"`
	CompoundID    int64                      `json:"compound_id"`
	CompoundName  string                     `json:"compound_name"`
	CommunityID   int64                      `json:"community_id"`
	Section       string                     `json:"section"`
	SectionName   string                     `json:"section_name"`
	Title         string                     `json:"title"`
	Period        string                     `json:"period,omitempty"`
	Version       int                        `json:"version"`
	Current       bool                       `json:"current"`
	LatestID      int64                      `json:"latest_id"`
	LatestVersion int                        `json:"latest_version"`
	SupersedesID  int64                      `json:"supersedes_id,omitempty"`
	Reason        string                     `json:"reason,omitempty"`
	Note          string                     `json:"note,omitempty"`
	ServiceLevel  string                     `json:"service_level,omitempty"`
	FirmID        int64                      `json:"firm_id,omitempty"`
	FirmName      string                     `json:"firm_name,omitempty"`
	PublishedBy   int64                      `json:"published_by"`
	PublisherName string                     `json:"publisher_name"`
	PublishedAt   string                     `json:"published_at"`
	Revenue       *disclosureRevenueResponse `json:"revenue,omitempty"`
	Countersign   *disclosureSignResponse    `json:"countersign,omitempty"`
	Lines         []disclosureLineResponse   `json:"lines"`
}

func decString(d *model.Dec, section string) *string {
	if d == nil {
		return nil
	}
	s := disclosure.Yuan(d.Decimal)
	if section == model.DisclosureFees {
		s = disclosure.Rate(d.Decimal)
	}
	return &s
}

func newDisclosureResponse(v disclosure.View) disclosureResponse {
	r := disclosureResponse{
		ID: v.ID, CompoundID: v.CompoundID, CompoundName: v.CompoundName, CommunityID: v.CommunityID,
		Section: v.Section, SectionName: disclosure.SectionName(v.Section), Title: v.Title(), Period: v.Period,
		Version: v.Version, Current: v.Current, LatestID: v.LatestID, LatestVersion: v.LatestVersion,
		SupersedesID: v.SupersedesID, Reason: v.Reason, Note: v.Note, ServiceLevel: v.ServiceLevel,
		FirmID: v.FirmID, FirmName: v.FirmName, PublishedBy: v.PublishedBy, PublisherName: v.PublisherName,
		PublishedAt: ts(v.PublishedAt), Lines: make([]disclosureLineResponse, 0, len(v.Lines)),
	}
	if v.Section == model.DisclosureRevenue {
		r.Revenue = &disclosureRevenueResponse{Period: v.Period, Opening: disclosure.Yuan(v.Opening.Decimal),
			IncomeTotal: disclosure.Yuan(v.IncomeTotal.Decimal), ExpenseTotal: disclosure.Yuan(v.ExpenseTotal.Decimal),
			Closing: disclosure.Yuan(v.Closing.Decimal)}
		r.Countersign = &disclosureSignResponse{State: "not_countersigned"}
		if v.CountersignedAt != nil {
			r.Countersign = &disclosureSignResponse{State: "countersigned", By: v.CountersignedBy, Name: v.SignerName,
				Role: v.CountersignerRole, At: tsp(v.CountersignedAt), Note: v.CountersignNote}
		}
	}
	for _, l := range v.Lines {
		lr := disclosureLineResponse{Kind: l.Kind, Label: l.Label, Amount: decString(l.Amount, v.Section), Unit: l.Unit,
			Basis: l.Basis, Detail: l.Detail, Attachments: []disclosureAttachmentResponse{}}
		if l.EffectiveOn != nil {
			d := l.EffectiveOn.UTC().Format(time.DateOnly)
			lr.EffectiveOn = &d
		}
		for _, id := range l.Attachments {
			lr.Attachments = append(lr.Attachments, disclosureAttachmentResponse{ID: id,
				URL: fmt.Sprintf("/api/v1/disclosures/%d/attachments/%d", v.ID, id)})
		}
		r.Lines = append(r.Lines, lr)
	}
	return r
}

func (h *handlers) publishDisclosure(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req publishDisclosureRequest
	if !bindJSON(c, &req) {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	in := disclosure.PublishInput{CompoundID: id, Section: req.Section, Corrects: req.CorrectsID, Reason: req.Reason,
		Note: req.Note, ServiceLevel: req.ServiceLevel, CommunityPhone: req.CommunityPhone, StreetPhone: req.StreetPhone,
		Period: req.Period, Opening: req.Opening, IncomeTotal: req.IncomeTotal, ExpenseTotal: req.ExpenseTotal,
		Closing: req.Closing, IdemKey: key}
	var err error
	for _, g := range []struct {
		dst *[]disclosure.LineInput
		src []disclosureLineRequest
	}{{&in.Items, req.Items}, {&in.Fees, req.Fees}, {&in.Charges, req.Charges}, {&in.Income, req.Income}, {&in.Expenses, req.Expenses}} {
		if *g.dst, err = disclosureLines(g.src); err != nil {
			fail(c, err)
			return
		}
	}
	v, created, err := h.Disclosure.Publish(c.Request.Context(), actor(c), in)
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newDisclosureResponse(v))
}

type disclosureBoardResponse struct {
	CompoundID   int64                `json:"compound_id"`
	CompoundName string               `json:"compound_name"`
	Sections     []disclosureResponse `json:"sections"`
	// Missing are the sections not published yet.
	Missing []string `json:"missing"`
}

func (h *handlers) disclosureBoard(c *gin.Context) {
	byID(c, h.Disclosure.Board, func(b disclosure.Board) disclosureBoardResponse {
		r := disclosureBoardResponse{CompoundID: b.Compound.ID, CompoundName: b.Compound.Name, Missing: b.Missing,
			Sections: make([]disclosureResponse, 0, len(b.Sections))}
		for _, v := range b.Sections {
			r.Sections = append(r.Sections, newDisclosureResponse(v))
		}
		return r
	})
}

func (h *handlers) listDisclosures(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	p, ok := page(c)
	if !ok {
		return
	}
	hist, ok := queryBool(c, "history")
	if !ok {
		return
	}
	f := disclosure.ListFilter{Section: c.Query("section"), Period: c.Query("period"), History: hist != nil && *hist}
	res, err := h.Disclosure.List(c.Request.Context(), actor(c), id, f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v disclosure.View) int64 { return v.ID }, newDisclosureResponse))
}

func (h *handlers) getDisclosure(c *gin.Context) {
	byID(c, h.Disclosure.Open, newDisclosureResponse)
}

// editDisclosure answers every edit with 409: a published version is never
// changed (a correction is a new version).
func (h *handlers) editDisclosure(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	fail(c, h.Disclosure.Edit(c.Request.Context(), actor(c), id))
}

func (h *handlers) disclosureVersions(c *gin.Context) {
	byID(c, h.Disclosure.Versions, func(vs []disclosure.View) gin.H {
		out := make([]disclosureResponse, 0, len(vs))
		for _, v := range vs {
			out = append(out, newDisclosureResponse(v))
		}
		return gin.H{"items": out}
	})
}

type disclosureFieldChange struct {
	Field string  `json:"field"`
	Label string  `json:"label"`
	From  string  `json:"from"`
	To    string  `json:"to"`
	Delta *string `json:"delta,omitempty"`
}

type disclosureLineChange struct {
	Change string                  `json:"change"`
	Kind   string                  `json:"kind"`
	Label  string                  `json:"label"`
	From   *string                 `json:"from_amount,omitempty"`
	To     *string                 `json:"to_amount,omitempty"`
	Delta  *string                 `json:"delta,omitempty"`
	Fields []disclosureFieldChange `json:"fields"`
}

type disclosureDiffResponse struct {
	FromID      int64                   `json:"from_id"`
	FromVersion int                     `json:"from_version"`
	ToID        int64                   `json:"to_id"`
	ToVersion   int                     `json:"to_version"`
	Reason      string                  `json:"reason,omitempty"`
	Fields      []disclosureFieldChange `json:"fields"`
	Lines       []disclosureLineChange  `json:"lines"`
	Unchanged   int                     `json:"unchanged_lines"`
}

func newDisclosureDiff(d disclosure.Diff) disclosureDiffResponse {
	show := func(x *decimal.Decimal) *string {
		if x == nil {
			return nil
		}
		s := disclosure.Yuan(*x)
		if d.To.Section == model.DisclosureFees {
			s = disclosure.Rate(*x)
		}
		return &s
	}
	fields := func(fs []disclosure.FieldChange) []disclosureFieldChange {
		out := make([]disclosureFieldChange, 0, len(fs))
		for _, f := range fs {
			out = append(out, disclosureFieldChange{Field: f.Field, Label: f.Label, From: f.From, To: f.To, Delta: show(f.Delta)})
		}
		return out
	}
	r := disclosureDiffResponse{FromID: d.From.ID, FromVersion: d.From.Version, ToID: d.To.ID, ToVersion: d.To.Version,
		Reason: d.To.Reason, Fields: fields(d.Fields), Lines: make([]disclosureLineChange, 0, len(d.Lines)), Unchanged: d.Unchanged}
	for _, l := range d.Lines {
		r.Lines = append(r.Lines, disclosureLineChange{Change: l.Change, Kind: l.Kind, Label: l.Label, From: show(l.From),
			To: show(l.To), Delta: show(l.Delta), Fields: fields(l.Fields)})
	}
	return r
}

func (h *handlers) disclosureDiff(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	from, ok := queryID(c, "from")
	if !ok {
		return
	}
	d, err := h.Disclosure.Diff(c.Request.Context(), actor(c), id, from)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newDisclosureDiff(d))
}

type countersignRequest struct {
	Note string `json:"note" text:"block"`
}

func (h *handlers) countersignDisclosure(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req countersignRequest
	if c.Request.ContentLength != 0 && !bindJSON(c, &req) {
		return
	}
	v, err := h.Disclosure.Countersign(c.Request.Context(), actor(c), id, req.Note)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newDisclosureResponse(v))
}

type quoteLineResponse struct {
	Label   string `json:"label"`
	Rate    string `json:"rate"`
	Monthly string `json:"monthly"`
	Yearly  string `json:"yearly"`
}

func (h *handlers) disclosureQuote(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	q, err := h.Disclosure.Quote(c.Request.Context(), actor(c), id, c.Query("area"))
	if err != nil {
		fail(c, err)
		return
	}
	lines := make([]quoteLineResponse, 0, len(q.Lines))
	for _, l := range q.Lines {
		lines = append(lines, quoteLineResponse{Label: l.Label, Rate: disclosure.Rate(l.Rate), Monthly: disclosure.Yuan(l.Monthly),
			Yearly: disclosure.Yuan(l.Yearly)})
	}
	c.JSON(http.StatusOK, gin.H{"area": disclosure.Yuan(decimal.New(q.AreaCentiM2, -2)), "lines": lines,
		"rounding": "按面积×单价计算月物业费，四舍五入到分；年物业费为四舍五入后的月物业费×12"})
}

func (h *handlers) disclosureAttachment(c *gin.Context) {
	id, pid, ok := pathIDs(c, "id", "photo_id")
	if !ok {
		return
	}
	p, rc, err := h.Disclosure.Attachment(c.Request.Context(), actor(c), id, pid)
	servePhoto(c, p, rc, err)
}

type reachCountsResponse struct {
	Households   int64 `json:"households"`
	Delivered    int64 `json:"delivered"`
	Unregistered int64 `json:"unregistered"`
	Pushed       int64 `json:"pushed"`
	Read         int64 `json:"read"`
	InPerson     int64 `json:"in_person"`
	Reached      int64 `json:"reached"`
	NotReached   int64 `json:"not_reached"`
}

func newReachCounts(c receipt.Counts) reachCountsResponse {
	return reachCountsResponse{Households: c.Households, Delivered: c.Delivered, Unregistered: c.Unregistered,
		Pushed: c.Pushed, Read: c.Read, InPerson: c.InPerson, Reached: c.Reached, NotReached: c.NotReached}
}

type reachBuildingResponse struct {
	BuildingID   int64  `json:"building_id"`
	BuildingName string `json:"building_name"`
	reachCountsResponse
}

type disclosureReceiptsResponse struct {
	reachCountsResponse
	Buildings []reachBuildingResponse `json:"buildings"`
}

func (h *handlers) disclosureReceipts(c *gin.Context) {
	byID(c, h.Disclosure.Reach, func(t receipt.Tally) disclosureReceiptsResponse {
		r := disclosureReceiptsResponse{reachCountsResponse: newReachCounts(t.Counts), Buildings: make([]reachBuildingResponse, 0, len(t.Buildings))}
		for _, b := range t.Buildings {
			r.Buildings = append(r.Buildings, reachBuildingResponse{BuildingID: b.BuildingID, BuildingName: b.Name,
				reachCountsResponse: newReachCounts(b.Counts)})
		}
		return r
	})
}

type notReachedDoorResponse struct {
	HouseholdID  int64  `json:"household_id"`
	BuildingID   int64  `json:"building_id"`
	BuildingName string `json:"building_name"`
	Unit         string `json:"unit"`
	Room         string `json:"room"`
	Members      int    `json:"members"`
	Push         string `json:"push"`
}

func (h *handlers) disclosureNotReached(c *gin.Context) {
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
	res, err := h.Disclosure.NotReached(c.Request.Context(), actor(c), id, f.BuildingID, f.Unit, p)
	if err != nil {
		fail(c, err)
		return
	}
	// The list runs in ascending receipt id: the cursor is the last id.
	out := pageOf[notReachedDoorResponse]{Items: make([]notReachedDoorResponse, 0, len(res.Items))}
	for _, d := range res.Items {
		out.Items = append(out.Items, notReachedDoorResponse{HouseholdID: d.HouseholdID, BuildingID: d.BuildingID,
			BuildingName: d.BuildingName, Unit: d.Unit, Room: d.Room, Members: d.Members, Push: d.Push})
	}
	if n := len(res.Items); n > 0 {
		out.NextCursor = nextCursor(res.Items[n-1].ID, res.More)
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) exportDisclosureNotReached(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	f, ok := receiptFilter(c)
	if !ok {
		return
	}
	wb, v, err := h.Disclosure.ExportNotReached(c.Request.Context(), actor(c), id, f.BuildingID, f.Unit)
	if err != nil {
		fail(c, err)
		return
	}
	defer wb.Close()
	day := v.PublishedAt.In(calendar.Beijing).Format("20060102")
	sid := strconv.FormatInt(v.ID, 10)
	h.sendXLSX(c, "未触达住户_公示"+sid+"_"+day+".xlsx", "not-reached-disclosure-"+sid+"-"+day+".xlsx", wb)
}

type disclosureInPersonResponse struct {
	HouseholdID  int64   `json:"household_id"`
	BuildingID   int64   `json:"building_id"`
	Unit         string  `json:"unit"`
	Room         string  `json:"room"`
	Reached      bool    `json:"reached"`
	InPersonAt   *string `json:"in_person_at"`
	InPersonBy   int64   `json:"in_person_by"`
	InPersonNote string  `json:"in_person_note"`
}

func (h *handlers) disclosureInPerson(c *gin.Context) {
	id, hid, ok := pathIDs(c, "id", "household_id")
	if !ok {
		return
	}
	var req inPersonRequest
	if !bindJSON(c, &req) {
		return
	}
	told, ok := noticeTime(c, strings.TrimSpace(req.ToldAt))
	if !ok {
		return
	}
	var at time.Time
	if told != nil {
		at = *told
	}
	r, err := h.Disclosure.TellInPerson(c.Request.Context(), actor(c), id, hid, req.Note, at)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, disclosureInPersonResponse{HouseholdID: r.HouseholdID, BuildingID: r.BuildingID, Unit: r.Unit,
		Room: r.Room, Reached: r.Reached, InPersonAt: tsp(r.InPersonAt), InPersonBy: r.InPersonBy, InPersonNote: r.InPersonNote})
}
