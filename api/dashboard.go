package api

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service/dashboard"
	"redprop/service/export"
)

func (h *handlers) dashboardRoutes(authed *gin.RouterGroup) {
	authed.GET("/dashboard/scopes", h.dashboardScopes)
	authed.GET("/dashboard", h.getDashboard)
	authed.GET("/dashboard/children", h.dashboardChildren)
	authed.GET("/dashboard/trend", h.dashboardTrend)
	authed.POST("/exports", h.idempotentOrPass(h.startExport))
	authed.GET("/exports", h.listExports)
	authed.GET("/exports/:id", h.getExport)
	authed.GET("/exports/:id/file", h.downloadExport)
}

type scopeResponse struct {
	Kind string `json:"kind"`
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func newScopeResponse(s dashboard.Scope) scopeResponse {
	return scopeResponse{Kind: s.Kind, ID: s.ID, Name: s.Name}
}

type rateResponse struct {
	Numerator   int64    `json:"numerator"`
	Denominator int64    `json:"denominator"`
	Value       *float64 `json:"value"` // null without a denominator
}

func newRate(r dashboard.Rate) rateResponse {
	out := rateResponse{Numerator: r.Numerator, Denominator: r.Denominator}
	if r.Denominator > 0 {
		v := float64(r.Numerator) / float64(r.Denominator)
		v = float64(int64(v*10000+0.5)) / 10000
		out.Value = &v
	}
	return out
}

type quantileResponse struct {
	Seconds      int64  `json:"seconds"`
	LowerSeconds int64  `json:"lower_seconds"`
	UpperSeconds *int64 `json:"upper_seconds"` // null: the open last bucket
}

func newQuantile(q *dashboard.Quantile) *quantileResponse {
	if q == nil {
		return nil
	}
	out := &quantileResponse{Seconds: int64(q.Estimate / time.Second), LowerSeconds: int64(q.Lower / time.Second)}
	if q.Upper > 0 {
		u := int64(q.Upper / time.Second)
		out.UpperSeconds = &u
	}
	return out
}

type durationsResponse struct {
	Samples int64             `json:"samples"`
	Median  *quantileResponse `json:"median"`
	P90     *quantileResponse `json:"p90"`
}

func newDurations(d dashboard.Durations) durationsResponse {
	return durationsResponse{Samples: d.Samples, Median: newQuantile(d.Median), P90: newQuantile(d.P90)}
}

type figuresResponse struct {
	Received     int64            `json:"received"`
	Dispatched   int64            `json:"dispatched"`
	Accepted     int64            `json:"accepted"`
	Returned     int64            `json:"returned"`
	Completed    int64            `json:"completed"`
	Confirmed    int64            `json:"confirmed"`
	Reworked     int64            `json:"reworked"`
	Rated        int64            `json:"rated"`
	Satisfied    int64            `json:"satisfied"`
	Closed       int64            `json:"closed"`
	OverdueMarks int64            `json:"overdue_marks"`
	ByState      map[string]int64 `json:"by_state"`
	ByLevel      map[string]int64 `json:"by_level"`
	Rates        struct {
		Response      rateResponse `json:"response"`
		Closure       rateResponse `json:"closure"`
		OnTimeClosure rateResponse `json:"on_time_closure"`
		Rework        rateResponse `json:"rework"`
		Satisfaction  rateResponse `json:"satisfaction"`
	} `json:"rates"`
	TimeToAccept   durationsResponse `json:"time_to_accept"`
	TimeToComplete durationsResponse `json:"time_to_complete"`
	Escalations    map[string]int64  `json:"escalations"`
	Emergency      struct {
		Calls        int64             `json:"calls"`
		Acknowledged int64             `json:"acknowledged"`
		AckTime      durationsResponse `json:"ack_time"`
	} `json:"emergency"`
}

func newFigures(f dashboard.Figures) figuresResponse {
	out := figuresResponse{Received: f.Received, Dispatched: f.Dispatched, Accepted: f.Accepted, Returned: f.Returned,
		Completed: f.Completed, Confirmed: f.Confirmed, Reworked: f.Reworked, Rated: f.Rated, Satisfied: f.Satisfied,
		Closed: f.Closed, OverdueMarks: f.OverdueMarks, ByState: f.ByState, ByLevel: f.ByLevel,
		TimeToAccept: newDurations(f.TimeToAccept), TimeToComplete: newDurations(f.TimeToComplete), Escalations: f.Escalations}
	out.Rates.Response, out.Rates.Closure, out.Rates.OnTimeClosure = newRate(f.Response), newRate(f.Closure), newRate(f.OnTimeClosure)
	out.Rates.Rework, out.Rates.Satisfaction = newRate(f.Rework), newRate(f.Satisfaction)
	out.Emergency.Calls, out.Emergency.Acknowledged, out.Emergency.AckTime = f.Calls, f.CallsAcked, newDurations(f.AckTime)
	return out
}

type categoryRef struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
}

func newCategoryRef(c *model.Category) *categoryRef {
	if c == nil {
		return nil
	}
	return &categoryRef{ID: c.ID, Code: c.Code, Name: c.Name}
}

type categoryFiguresResponse struct {
	Category categoryRef     `json:"category"`
	Figures  figuresResponse `json:"figures"`
}

type dashboardResponse struct {
	Scope      scopeResponse             `json:"scope"`
	From       string                    `json:"from"`
	To         string                    `json:"to"`
	Category   *categoryRef              `json:"category"`
	Figures    figuresResponse           `json:"figures"`
	OverdueNow int64                     `json:"overdue_now"`
	ByCategory []categoryFiguresResponse `json:"by_category"`
	AsOf       *string                   `json:"as_of"`
}

func asOf(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := ts(t)
	return &s
}

func newDashboardResponse(d dashboard.Dashboard) dashboardResponse {
	out := dashboardResponse{Scope: newScopeResponse(d.Scope), From: d.Period.From.Format(time.DateOnly),
		To: d.Period.To.Format(time.DateOnly), Category: newCategoryRef(d.Category), Figures: newFigures(d.Figures),
		OverdueNow: d.OverdueNow, ByCategory: []categoryFiguresResponse{}, AsOf: asOf(d.AsOf)}
	for _, c := range d.ByCategory {
		c := c
		out.ByCategory = append(out.ByCategory, categoryFiguresResponse{Category: *newCategoryRef(&c.Category), Figures: newFigures(c.Figures)})
	}
	return out
}

// dashboardQuery reads ?scope_kind=&scope_id=&from=&to=&category=.
func dashboardQuery(c *gin.Context) (dashboard.Query, bool) {
	q := dashboard.Query{ScopeKind: c.Query("scope_kind"), From: c.Query("from"), To: c.Query("to"), Category: c.Query("category")}
	var ok bool
	if q.ScopeID, ok = queryID(c, "scope_id"); !ok {
		return q, false
	}
	return q, true
}

func (h *handlers) dashboardScopes(c *gin.Context) {
	scopes, err := h.Dashboard.Scopes(c.Request.Context(), actor(c))
	if err != nil {
		fail(c, err)
		return
	}
	out := []scopeResponse{}
	for _, s := range scopes {
		out = append(out, newScopeResponse(s))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

func (h *handlers) getDashboard(c *gin.Context) {
	q, ok := dashboardQuery(c)
	if !ok {
		return
	}
	d, err := h.Dashboard.Get(c.Request.Context(), actor(c), q)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newDashboardResponse(d))
}

type childResponse struct {
	Rank       int             `json:"rank"`
	Scope      scopeResponse   `json:"scope"`
	Figures    figuresResponse `json:"figures"`
	OverdueNow int64           `json:"overdue_now"`
}

func (h *handlers) dashboardChildren(c *gin.Context) {
	q, ok := dashboardQuery(c)
	if !ok {
		return
	}
	d, err := h.Dashboard.Children(c.Request.Context(), actor(c), q, c.Query("rank"))
	if err != nil {
		fail(c, err)
		return
	}
	children := []childResponse{}
	for _, ch := range d.Children {
		children = append(children, childResponse{Rank: ch.Rank, Scope: newScopeResponse(ch.Scope), Figures: newFigures(ch.Figures),
			OverdueNow: ch.OverdueNow})
	}
	c.JSON(http.StatusOK, gin.H{"scope": newScopeResponse(d.Scope), "from": d.Period.From.Format(time.DateOnly),
		"to": d.Period.To.Format(time.DateOnly), "category": newCategoryRef(d.Category), "rank_by": d.RankBy,
		"children": children, "as_of": asOf(d.AsOf)})
}

type pointResponse struct {
	From    string          `json:"from"`
	To      string          `json:"to"`
	Figures figuresResponse `json:"figures"`
}

func (h *handlers) dashboardTrend(c *gin.Context) {
	q, ok := dashboardQuery(c)
	if !ok {
		return
	}
	tr, err := h.Dashboard.Trend(c.Request.Context(), actor(c), q, c.Query("interval"))
	if err != nil {
		fail(c, err)
		return
	}
	points := []pointResponse{}
	for _, p := range tr.Points {
		points = append(points, pointResponse{From: p.From.Format(time.DateOnly), To: p.To.Format(time.DateOnly), Figures: newFigures(p.Figures)})
	}
	c.JSON(http.StatusOK, gin.H{"scope": newScopeResponse(tr.Scope), "from": tr.Period.From.Format(time.DateOnly),
		"to": tr.Period.To.Format(time.DateOnly), "category": newCategoryRef(tr.Category), "interval": tr.Interval,
		"points": points, "as_of": asOf(tr.AsOf)})
}

// exportRequest is the body of POST /exports.
type exportRequest struct {
	Kind       string   `json:"kind"`
	ScopeKind  string   `json:"scope_kind"`
	ScopeID    int64    `json:"scope_id"`
	From       string   `json:"from"`
	To         string   `json:"to"`
	Category   string   `json:"category" text:"line"`
	Rank       string   `json:"rank"`
	Queue      string   `json:"queue"`
	States     []string `json:"states"`
	Overdue    *bool    `json:"overdue"`
	CompoundID int64    `json:"compound_id"`
	VoteID     int64    `json:"vote_id"`
	MeetingID  int64    `json:"meeting_id"`
	Async      bool     `json:"async"`
}

type exportJobResponse struct {
	ID         int64   `json:"id"`
	Kind       string  `json:"kind"`
	State      string  `json:"state"`
	RowsDone   int64   `json:"rows_done"`
	RowsTotal  int64   `json:"rows_total"`
	Filename   string  `json:"filename"`
	Bytes      int64   `json:"bytes"`
	Error      string  `json:"error,omitempty"`
	CreatedAt  string  `json:"created_at"`
	FinishedAt *string `json:"finished_at"`
	ExpiresAt  *string `json:"expires_at"`
	FileURL    *string `json:"file_url"` // while downloadable
}

func newExportJobResponse(j model.ExportJob) exportJobResponse {
	out := exportJobResponse{ID: j.ID, Kind: j.Kind, State: j.State, RowsDone: j.RowsDone, RowsTotal: j.RowsTotal,
		Filename: j.Filename, Bytes: j.Bytes, Error: j.Error, CreatedAt: ts(j.CreatedAt), FinishedAt: tsp(j.FinishedAt),
		ExpiresAt: tsp(j.ExpiresAt)}
	if j.State == model.ExportDone {
		u := "/api/v1/exports/" + strconv.FormatInt(j.ID, 10) + "/file"
		out.FileURL = &u
	}
	return out
}

func (h *handlers) startExport(c *gin.Context) {
	var req exportRequest
	if !bindJSON(c, &req) {
		return
	}
	res, err := h.Export.Start(c.Request.Context(), actor(c), export.Request{Kind: req.Kind, ScopeKind: req.ScopeKind,
		ScopeID: req.ScopeID, From: req.From, To: req.To, Category: req.Category, Rank: req.Rank, Queue: req.Queue,
		States: req.States, Overdue: req.Overdue, CompoundID: req.CompoundID, VoteID: req.VoteID, MeetingID: req.MeetingID,
		Async: req.Async})
	if err != nil {
		fail(c, err)
		return
	}
	if res.Job != nil {
		c.Header("Location", "/api/v1/exports/"+strconv.FormatInt(res.Job.ID, 10))
		c.JSON(http.StatusAccepted, newExportJobResponse(*res.Job))
		return
	}
	defer res.File.Close()
	h.sendXLSX(c, res.File.Filename, res.File.ASCIIName, res.File)
}

func (h *handlers) listExports(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Export.Jobs(c.Request.Context(), actor(c), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(j model.ExportJob) int64 { return j.ID }, newExportJobResponse))
}

func (h *handlers) getExport(c *gin.Context) {
	byID(c, h.Export.Job, newExportJobResponse)
}

// readerTo writes a file out.
type readerTo struct{ r io.Reader }

func (r readerTo) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, r.r) }

func (h *handlers) downloadExport(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	j, rc, err := h.Export.Open(c.Request.Context(), actor(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	h.sendExport(c, j, rc)
}

// sendExport writes out (and closes) the file of a finished job: the
// API's download and the console's.
func (h *handlers) sendExport(c *gin.Context, j model.ExportJob, rc io.ReadCloser) {
	defer rc.Close()
	c.Header("Content-Length", strconv.FormatInt(j.Bytes, 10)) // a download cut short shows as such
	ascii := strings.ReplaceAll(j.Kind, "_", "-") + "-" + strconv.FormatInt(j.ID, 10) + ".xlsx"
	h.sendXLSX(c, j.Filename, ascii, readerTo{rc})
}
