package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/dashboard"
	"redprop/service/export"
)

// The dashboards and exports pages: the same dashboard and export
// service calls as /api/v1/dashboard… and /api/v1/exports…, as the
// person logged in.

func (cs *console) dashRoutes(in *gin.RouterGroup) {
	in.GET("/dashboard", cs.dashboardPage)
	in.GET("/exports", cs.exportsPage)
	in.GET("/exports/list", cs.exportsList)
	in.POST("/exports", cs.startExport)
	in.GET("/exports/:id/file", cs.exportFile)
}

var rankNames = map[string]string{"received": "受理量", "completed": "办结量", "overdue_now": "当前超时",
	"response_rate": "响应率", "closure_rate": "结案率", "on_time_rate": "按期结案率", "rework_rate": "返工率",
	"satisfaction_rate": "满意率"}

type rateView struct {
	Label       string
	Numerator   int64
	Denominator int64
	Percent     string // "—" without a denominator
}

func rateOf(label string, r dashboard.Rate) rateView {
	v := rateView{Label: label, Numerator: r.Numerator, Denominator: r.Denominator, Percent: "—"}
	if r.Denominator > 0 {
		v.Percent = strconv.FormatFloat(float64(r.Numerator)*100/float64(r.Denominator), 'f', 1, 64) + "%"
	}
	return v
}

func ratesOf(f dashboard.Figures) []rateView {
	return []rateView{rateOf("响应率", f.Response), rateOf("结案率", f.Closure), rateOf("按期结案率", f.OnTimeClosure),
		rateOf("返工率", f.Rework), rateOf("满意率", f.Satisfaction)}
}

// durationText is a quantile in words: "约 2 小时 5 分".
func durationText(q *dashboard.Quantile) string {
	if q == nil {
		return "—"
	}
	d := q.Estimate.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h >= 24:
		return "约 " + strconv.Itoa(h/24) + " 天 " + strconv.Itoa(h%24) + " 小时"
	case h > 0:
		return "约 " + strconv.Itoa(h) + " 小时 " + strconv.Itoa(m) + " 分"
	}
	return "约 " + strconv.Itoa(m) + " 分"
}

type childView struct {
	dashboard.Child
	Rates []rateView
}

type dashData struct {
	Scopes  []dashboard.Scope
	Query   dashboard.Query
	Rank    string
	Ranks   []option
	D       dashboard.Dashboard
	Rates   []rateView
	Accept  [2]string // median, p90
	Finish  [2]string
	Ack     [2]string
	Drill   dashboard.Drill
	Kids    []childView
	Chart   string // the charts' data, JSON
	Parent  string // the link one level up, "" at the top of the person's scopes
	Levels  map[string]int64
	States  map[string]int64
	HasKids bool
}

// chartData is what console-dash.js draws: the children side by side and
// the daily trend, the same numbers as the page's tables.
type chartData struct {
	RankBy   string       `json:"rank_by"`
	Children []chartChild `json:"children"`
	Days     []string     `json:"days"`
	Received []int64      `json:"received"`
	Complete []int64      `json:"completed"`
}

type chartChild struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Received int64  `json:"received"`
	Complete int64  `json:"completed"`
}

func (cs *console) dashQuery(c *gin.Context) (dashboard.Query, bool) {
	q := dashboard.Query{ScopeKind: c.Query("scope_kind"), From: c.Query("from"), To: c.Query("to"), Category: c.Query("category")}
	if raw := c.Query("scope_id"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			cs.fail(c, errBadID)
			return q, false
		}
		q.ScopeID = n
	}
	return q, true
}

func dashURL(kind string, id int64, q dashboard.Query) string {
	v := urlValues{}
	v.set("scope_kind", kind)
	v.set("scope_id", strconv.FormatInt(id, 10))
	v.set("from", q.From)
	v.set("to", q.To)
	v.set("category", q.Category)
	return "/console/dashboard?" + v.encode()
}

func (cs *console) dashboardPage(c *gin.Context) {
	q, ok := cs.dashQuery(c)
	if !ok {
		return
	}
	ctx, a := c.Request.Context(), actor(c)
	d := dashData{Query: q, Rank: c.DefaultQuery("rank", "received")}
	var err error
	if d.Scopes, err = cs.h.Dashboard.Scopes(ctx, a); err != nil {
		cs.fail(c, err)
		return
	}
	if len(d.Scopes) == 0 {
		cs.fail(c, service.Forbidden("no_dashboard", "您没有可查看的统计范围"))
		return
	}
	if q.ScopeKind == "" {
		q.ScopeKind, q.ScopeID = d.Scopes[0].Kind, d.Scopes[0].ID
		d.Query = q
	}
	if d.D, err = cs.h.Dashboard.Get(ctx, a, q); err != nil {
		cs.fail(c, err)
		return
	}
	// A grid or a firm has nothing under it: its page has no drill-down.
	if d.Drill, err = cs.h.Dashboard.Children(ctx, a, q, d.Rank); err != nil && !errors.Is(err, dashboard.ErrNoChildren) {
		cs.fail(c, err)
		return
	}
	tr, err := cs.h.Dashboard.Trend(ctx, a, q, "day")
	if err != nil {
		cs.fail(c, err)
		return
	}
	for _, r := range []string{"received", "completed", "overdue_now", "response_rate", "closure_rate", "on_time_rate", "rework_rate", "satisfaction_rate"} {
		d.Ranks = append(d.Ranks, option{r, rankNames[r]})
	}
	f := d.D.Figures
	d.Rates = ratesOf(f)
	d.Accept = [2]string{durationText(f.TimeToAccept.Median), durationText(f.TimeToAccept.P90)}
	d.Finish = [2]string{durationText(f.TimeToComplete.Median), durationText(f.TimeToComplete.P90)}
	d.Ack = [2]string{durationText(f.AckTime.Median), durationText(f.AckTime.P90)}
	d.Levels, d.States = f.ByLevel, f.ByState
	chart := chartData{RankBy: rankNames[d.Drill.RankBy], Children: []chartChild{}, Days: []string{}, Received: []int64{}, Complete: []int64{}}
	for _, ch := range d.Drill.Children {
		d.Kids = append(d.Kids, childView{Child: ch, Rates: ratesOf(ch.Figures)})
		chart.Children = append(chart.Children, chartChild{Name: ch.Scope.Name, URL: dashURL(ch.Scope.Kind, ch.Scope.ID, q),
			Received: ch.Figures.Received, Complete: ch.Figures.Completed})
	}
	d.HasKids = len(d.Kids) > 0
	for _, p := range tr.Points {
		chart.Days = append(chart.Days, p.From.Format("01-02"))
		chart.Received = append(chart.Received, p.Figures.Received)
		chart.Complete = append(chart.Complete, p.Figures.Completed)
	}
	raw, _ := json.Marshal(chart)
	d.Chart = string(raw)
	if up, ok := dashboard.Parent(a, d.D.Scope); ok {
		d.Parent = dashURL(up.Kind, up.ID, q)
	}
	cs.render(c, http.StatusOK, "dashboard", cs.page(c, "统计看板", "dashboard", d))
}

// ---- exports

type exportsData struct {
	Scopes []dashboard.Scope
	Jobs   []model.ExportJob
	Busy   bool // a job is still running: keep polling
}

var exportKinds = map[string]string{export.KindDashboard: "统计看板", export.KindOrders: "工单清单（含办理过程）",
	export.KindVote: "表决结果", export.KindMeeting: "会议签到表"}

var exportStates = map[string]string{model.ExportQueued: "排队中", model.ExportRunning: "生成中",
	model.ExportDone: "已完成", model.ExportFailed: "失败", model.ExportExpired: "已过期"}

func (cs *console) exportsData(c *gin.Context) (exportsData, error) {
	ctx, a := c.Request.Context(), actor(c)
	var d exportsData
	jobs, err := cs.h.Export.Jobs(ctx, a, service.Page{Limit: 20})
	if err != nil {
		return d, err
	}
	d.Jobs = jobs.Items
	for _, j := range d.Jobs {
		d.Busy = d.Busy || j.State == model.ExportQueued || j.State == model.ExportRunning
	}
	return d, nil
}

func (cs *console) exportsPage(c *gin.Context) {
	d, err := cs.exportsData(c)
	if err == nil {
		// The form's scopes: the page only, not the list it polls.
		d.Scopes, err = cs.h.Dashboard.Scopes(c.Request.Context(), actor(c))
	}
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "exports", cs.page(c, "导出", "exports", d))
}

func (cs *console) exportsList(c *gin.Context) {
	d, err := cs.exportsData(c)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "jobs", cs.page(c, "", "", d))
}

// startExport queues an export as a job, whatever its size, so that the
// page shows its progress and then its file.
func (cs *console) startExport(c *gin.Context) {
	r := export.Request{Kind: c.PostForm("kind"), From: c.PostForm("from"), To: c.PostForm("to"), Async: true}
	if kind, id, ok := strings.Cut(c.PostForm("scope"), ":"); ok {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			cs.fail(c, errBadID)
			return
		}
		r.ScopeKind, r.ScopeID = kind, n
	}
	if _, err := cs.h.Export.Start(c.Request.Context(), actor(c), r); err != nil {
		cs.fail(c, err)
		return
	}
	cs.exportsList(c)
}

func (cs *console) exportFile(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	j, rc, err := cs.h.Export.Open(c.Request.Context(), actor(c), id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.h.sendExport(c, j, rc)
}
