package api

import (
	"cmp"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/inspection"
	"redprop/service/ranking"
	"redprop/service/score"
)

// The evaluation's pages: a firm manager's score cards, inspections and
// appeals; the officials' 红黑榜 (drafts, review, publication,
// corrections, appeals, flags), the score cards of their part of the
// tree with the grid workers' month, and the inspections. Every read and
// act is the service call of /api/v1/scores…, /rankings…, /appeals…,
// /ranking-flags… and /inspections…, as the person logged in.

func (cs *console) evalRoutes(in *gin.RouterGroup) {
	in.GET("/scorecard", cs.scorecardPage)
	in.GET("/scores/:id", cs.scorePage)
	in.GET("/scores/:id/evidence/:name", cs.evidencePage)
	in.GET("/assess", cs.assessPage)
	in.GET("/assess/grid", cs.gridPage)
	in.GET("/assess/grid/export", cs.gridExport)
	in.GET("/rankings", cs.rankingsPage)
	in.POST("/rankings", cs.draftRanking)
	in.GET("/rankings/:id", cs.rankingPage)
	in.POST("/rankings/:id/lines/:line/remove", cs.removeLine)
	in.POST("/rankings/:id/publish", cs.publishRanking)
	in.POST("/rankings/:id/revise", cs.reviseRanking)
	in.POST("/rankings/:id/discard", cs.discardRanking)
	in.GET("/appeals", cs.appealsPage)
	in.POST("/appeals", cs.fileAppeal)
	in.GET("/appeals/:id", cs.appealPage)
	in.POST("/appeals/:id/notes", cs.noteAppeal)
	in.POST("/appeals/:id/decide", cs.decideAppeal)
	in.GET("/flags", cs.flagsPage)
	in.POST("/flags/:id/talk", cs.talkFlag)
	in.GET("/inspections", cs.inspectionsPage)
	in.GET("/inspections/:id", cs.inspectionPage)
	in.POST("/inspections/:id/items/:item/answer", cs.answerItem)
}

var (
	placementNames = map[string]string{model.PlacementRed: "红榜", model.PlacementBlack: "黑榜", model.PlacementNone: "—",
		model.PlacementExcluded: "不参加排名", model.PlacementRemoved: "已移出", model.PlacementRated: "星级"}
	rankingStates = map[string]string{model.RankingDraft: "草稿", model.RankingPublished: "已发布",
		model.RankingSuperseded: "已被更正"}
	rankingKinds = map[string]string{model.RankingList: "红黑榜", model.RankingStars: "星级评定"}
	appealStates = map[string]string{model.AppealPending: "待复核", model.AppealUpheld: "维持原结果",
		model.AppealCorrected: "予以更正"}
	appealTargets = map[string]string{model.AppealEntry: "榜单条目", model.AppealComponent: "评分项"}
	appealEvents  = map[string]string{model.AppealFiled: "提出申诉", model.AppealNote: "补充说明", model.AppealDecided: "复核结论"}
	flagStates    = map[string]string{model.FlagOpen: "待谈话", model.FlagTalked: "已谈话", model.FlagWithdrawn: "已撤销"}
	scopeNames    = map[string]string{model.ScopeCity: "市", model.ScopeDistrict: "区", model.ScopeStreet: "街道",
		model.ScopeCommunity: "社区", model.ScopeCompound: "小区", model.ScopeGrid: "网格", model.ScopeFirm: "物业企业"}
	inspectionKinds = map[string]string{model.InspectionDaily: "日查", model.InspectionMonthly: "月考",
		model.InspectionQuarterly: "季评"}
	resultNames    = map[string]string{model.ResultPass: "合格", model.ResultDeduct: "扣分", model.ResultNA: "不适用"}
	componentState = map[string]string{model.ComponentOK: "有效", model.ComponentInsufficient: "样本不足"}
	evidenceNames  = map[string]string{"order": "工单", "action_item": "整改事项", "inspection": "检查记录",
		"emergency_call": "紧急呼叫", "rectification": "差评整改"}
)

// evalFuncs are the evaluation templates' names and figures.
var evalFuncs = template.FuncMap{
	"placement":    nameIn(placementNames),
	"rankingState": nameIn(rankingStates),
	"rankingKind":  nameIn(rankingKinds),
	"appealState":  nameIn(appealStates),
	"appealTarget": nameIn(appealTargets),
	"appealEvent":  nameIn(appealEvents),
	"flagState":    nameIn(flagStates),
	"scopeKind":    nameIn(scopeNames),
	"inspection":   nameIn(inspectionKinds),
	"result":       nameIn(resultNames),
	"compState":    nameIn(componentState),
	"evidenceKind": nameIn(evidenceNames),
	"points":       ranking.Points,
	"hundredths":   score.Hundredths,
	"compLabel":    func(name string) string { return cmp.Or(score.Labels[name], name) },
	"compValue":    score.Display,
	"roleName":     nameIn(roleNames),
	"day":          func(t any) string { return dayOf(t) },
	"inspScore":    func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"stars":        func(n int) string { return strings.Repeat("★", n) },
}

var roleNames = map[string]string{model.RoleFirmManager: "物业经理", model.RoleStreetStaff: "街道",
	model.RoleDistrictStaff: "区级", model.RoleCityStaff: "市级", model.RolePlatformAdmin: "平台管理员",
	model.RoleCommunityStaff: "社区"}

func dayOf(t any) string {
	switch v := t.(type) {
	case time.Time:
		if !v.IsZero() {
			return v.In(beijing).Format("2006-01-02 15:04")
		}
	case *time.Time:
		if v != nil {
			return v.In(beijing).Format("2006-01-02 15:04")
		}
	}
	return ""
}

func (cs *console) now() time.Time {
	if cs.opts.Clock != nil {
		return cs.opts.Clock.Now()
	}
	return service.SystemClock{}.Now()
}

// closedQuarters are the n quarters before the current one, newest first.
func closedQuarters(now time.Time, n int) []string {
	b := now.In(calendar.Beijing)
	y, q := b.Year(), (int(b.Month())-1)/3+1
	var out []string
	for range n {
		if q--; q == 0 {
			y, q = y-1, 4
		}
		out = append(out, fmt.Sprintf("%dQ%d", y, q))
	}
	return out
}

// closedMonths are the n months before the current one, newest first.
func closedMonths(now time.Time, n int) []string {
	b := now.In(calendar.Beijing)
	first := time.Date(b.Year(), b.Month(), 1, 0, 0, 0, 0, calendar.Beijing)
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, first.AddDate(0, -i, 0).Format("2006-01"))
	}
	return out
}

// periodOr is the period the page asks for, or the newest closed one.
func periodOr(c *gin.Context, choices []string) string {
	if p := c.Query("period"); p != "" {
		return p
	}
	return choices[0]
}

// afterOf reads the ?after= cursor of a list.
func (cs *console) afterOf(c *gin.Context) (int64, bool) {
	raw := c.Query("after")
	if raw == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		cs.fail(c, errBadID)
		return 0, false
	}
	return n, true
}

// formKey is the Idempotency-Key a form carries, so that a double
// submission files once.
func formKey() string { return "console-" + randomHex(12) }

// ---- a firm manager's score cards

type scorecardData struct {
	Period   string
	Periods  []string
	Scores   []score.View
	Err      string
	Rankings []model.Ranking
	Appeals  []ranking.AppealView
}

func (cs *console) scorecardPage(c *gin.Context) {
	ctx, a := c.Request.Context(), actor(c)
	d := scorecardData{Periods: closedQuarters(cs.now(), 4)}
	d.Period = periodOr(c, d.Periods)
	res, _, err := cs.h.Score.List(ctx, a, score.Query{Kind: model.ScoreKindFirm, Period: d.Period, ScopeKind: model.ScopeCompound},
		service.Page{Limit: 50})
	if err != nil {
		if service.KindOf(err) != service.KindNotFound {
			cs.fail(c, err)
			return
		}
		d.Err = messageOf(err)
	}
	d.Scores = res.Items
	if rs, err := cs.h.Ranking.List(ctx, a, ranking.Filter{}, service.Page{Limit: 20}); err == nil {
		d.Rankings = rs.Items
	}
	if aps, err := cs.h.Ranking.Appeals(ctx, a, ranking.AppealFilter{}, service.Page{Limit: 20}); err == nil {
		d.Appeals = aps.Items
	}
	cs.render(c, http.StatusOK, "scorecard", cs.page(c, "评分卡", "scorecard", d))
}

func (cs *console) scorePage(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	v, err := cs.h.Score.Get(c.Request.Context(), actor(c), id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "score", cs.page(c, "评分卡 · "+v.ScopeName, evalNav(actor(c)), v))
}

// evalNav is the header entry an evaluation page belongs to for a.
func evalNav(a *service.Actor) string {
	if canAssess(a) {
		return "assess"
	}
	return "scorecard"
}

type evidenceData struct {
	Score    score.View
	Label    string
	Evidence score.Evidence
	Next     int64
	Source   string
}

func (cs *console) evidencePage(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	after, ok := cs.afterOf(c)
	if !ok {
		return
	}
	ctx, a := c.Request.Context(), actor(c)
	name := c.Param("name")
	ev, err := cs.h.Score.Explain(ctx, a, id, name, c.Query("source"), service.Page{After: after, Limit: 50})
	if err != nil {
		cs.fail(c, err)
		return
	}
	v, err := cs.h.Score.Get(ctx, a, id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	d := evidenceData{Score: v, Label: cmp.Or(score.Labels[name], name), Evidence: ev, Source: c.Query("source")}
	if ev.Page.More && len(ev.Page.Items) > 0 {
		d.Next = ev.Page.Items[len(ev.Page.Items)-1].ID
	}
	cs.render(c, http.StatusOK, "evidence", cs.page(c, "指标明细 · "+d.Label, evalNav(a), d))
}

// ---- the officials' score cards and the grid workers' month

type rankedScore struct {
	score.View
	Rank int // 0: not rank eligible
}

type assessData struct {
	Period     string
	Periods    []string
	ScopeKind  string
	ScopeKinds []option
	Scores     []rankedScore
	Err        string
	More       bool
}

// rankScores orders score cards as a ranking reads: the eligible by
// points, equal points sharing a rank, then the others.
func rankScores(vs []score.View) []rankedScore {
	out := make([]rankedScore, 0, len(vs))
	for _, v := range vs {
		out = append(out, rankedScore{View: v})
	}
	slices.SortStableFunc(out, func(x, y rankedScore) int {
		if x.RankEligible != y.RankEligible {
			if x.RankEligible {
				return -1
			}
			return 1
		}
		return cmp.Compare(y.Points, x.Points)
	})
	for i := range out {
		if !out[i].RankEligible {
			continue
		}
		out[i].Rank = i + 1
		if i > 0 && out[i-1].RankEligible && out[i-1].Points == out[i].Points {
			out[i].Rank = out[i-1].Rank
		}
	}
	return out
}

func (cs *console) assessPage(c *gin.Context) {
	ctx, a := c.Request.Context(), actor(c)
	d := assessData{Periods: closedQuarters(cs.now(), 4), ScopeKind: cmp.Or(c.Query("scope_kind"), model.ScopeCompound),
		ScopeKinds: []option{{model.ScopeCompound, "小区（项目）"}, {model.ScopeStreet, "街道"}, {model.ScopeCity, "市"}}}
	d.Period = periodOr(c, d.Periods)
	res, _, err := cs.h.Score.List(ctx, a, score.Query{Kind: model.ScoreKindFirm, Period: d.Period, ScopeKind: d.ScopeKind},
		service.Page{Limit: 200})
	if err != nil {
		if service.KindOf(err) != service.KindNotFound {
			cs.fail(c, err)
			return
		}
		d.Err = messageOf(err)
	}
	d.Scores, d.More = rankScores(res.Items), res.More
	cs.render(c, http.StatusOK, "assess", cs.page(c, "考核", "assess", d))
}

type gridData struct {
	Period      string
	Periods     []string
	Scores      []rankedScore
	Err         string
	Communities []model.Region
}

func (cs *console) gridPage(c *gin.Context) {
	ctx, a := c.Request.Context(), actor(c)
	d := gridData{Periods: closedMonths(cs.now(), 6)}
	d.Period = periodOr(c, d.Periods)
	res, _, err := cs.h.Score.List(ctx, a, score.Query{Kind: model.ScoreKindGridWorker, Period: d.Period}, service.Page{Limit: 200})
	if err != nil {
		if service.KindOf(err) != service.KindNotFound {
			cs.fail(c, err)
			return
		}
		d.Err = messageOf(err)
	}
	d.Scores = rankScores(res.Items)
	seen := map[int64]bool{}
	for _, v := range res.Items {
		if v.CommunityID == 0 || seen[v.CommunityID] {
			continue
		}
		seen[v.CommunityID] = true
		if r, err := cs.h.Org.Region(ctx, a, v.CommunityID); err == nil {
			d.Communities = append(d.Communities, r)
		}
	}
	cs.render(c, http.StatusOK, "grid-scores", cs.page(c, "网格员月度考核", "assess", d))
}

func (cs *console) gridExport(c *gin.Context) {
	community, err := strconv.ParseInt(c.Query("community_id"), 10, 64)
	if err != nil || community <= 0 {
		cs.fail(c, service.Invalid("community_required", "请指定要导出的社区"))
		return
	}
	wb, err := cs.h.Score.ExportGrid(c.Request.Context(), actor(c), c.Query("period"), community)
	if err != nil {
		cs.fail(c, err)
		return
	}
	defer wb.Close()
	cs.h.sendXLSX(c, wb.Filename, wb.ASCIIName, wb)
}

// ---- 红黑榜

type scopeChoice struct {
	Value, Label string
}

type rankingsData struct {
	Rankings []model.Ranking
	Next     int64
	Period   string
	State    string
	States   []option
	Scopes   []scopeChoice
	Periods  []string
	Names    map[int64]string
}

// publishScopes are the streets, districts and cities the person's
// grants name, as drafts may be asked for; the ranking service decides.
func (cs *console) publishScopes(c *gin.Context) ([]scopeChoice, map[int64]string) {
	ctx, a := c.Request.Context(), actor(c)
	var out []scopeChoice
	names := map[int64]string{}
	for _, g := range a.Scopes(model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff) {
		switch g.ScopeKind {
		case model.ScopeStreet, model.ScopeDistrict, model.ScopeCity:
		default:
			continue
		}
		r, err := cs.h.Org.Region(ctx, a, g.ScopeID)
		if err != nil {
			continue
		}
		names[r.ID] = r.Name
		out = append(out, scopeChoice{Value: g.ScopeKind + ":" + strconv.FormatInt(g.ScopeID, 10), Label: r.Name})
	}
	return out, names
}

func (cs *console) rankingsData(c *gin.Context) (rankingsData, error) {
	ctx, a := c.Request.Context(), actor(c)
	d := rankingsData{Period: c.Query("period"), State: c.Query("state"), Periods: closedQuarters(cs.now(), 4),
		States: []option{{model.RankingDraft, "草稿"}, {model.RankingPublished, "已发布"}, {model.RankingSuperseded, "已被更正"}}}
	after, ok := cs.afterOf(c)
	if !ok {
		return d, errBadID
	}
	res, err := cs.h.Ranking.List(ctx, a, ranking.Filter{Period: d.Period, State: d.State}, service.Page{After: after, Limit: 30})
	if err != nil {
		return d, err
	}
	d.Rankings = res.Items
	if res.More && len(res.Items) > 0 {
		d.Next = res.Items[len(res.Items)-1].ID
	}
	d.Scopes, d.Names = cs.publishScopes(c)
	return d, nil
}

func (cs *console) rankingsPage(c *gin.Context) {
	d, err := cs.rankingsData(c)
	if err != nil {
		if !c.IsAborted() {
			cs.fail(c, err)
		}
		return
	}
	cs.render(c, http.StatusOK, "rankings", cs.page(c, "红黑榜", "rankings", d))
}

var errPickScope = service.Invalid("bad_scope", "请选择发布范围（街道、区或市）")

// draftRanking drafts a list (or stars) and opens it.
func (cs *console) draftRanking(c *gin.Context) {
	kind, raw, ok := strings.Cut(c.PostForm("scope"), ":")
	id, err := strconv.ParseInt(raw, 10, 64)
	if !ok || err != nil || id <= 0 {
		cs.fail(c, errPickScope)
		return
	}
	v, err := cs.h.Ranking.Draft(c.Request.Context(), actor(c), ranking.DraftInput{Kind: c.PostForm("kind"), ScopeKind: kind,
		ScopeID: id, Period: strings.TrimSpace(c.PostForm("period"))})
	if err != nil {
		cs.fail(c, err)
		return
	}
	c.Header("HX-Redirect", "/console/rankings/"+strconv.FormatInt(v.Ranking.ID, 10))
	c.Status(http.StatusNoContent)
}

type rankingData struct {
	View    ranking.View
	Staff   bool
	Key     string // the appeal form's Idempotency-Key
	Appeals []ranking.AppealView
}

func (cs *console) rankingData(c *gin.Context, id int64) (rankingData, error) {
	ctx, a := c.Request.Context(), actor(c)
	v, err := cs.h.Ranking.Get(ctx, a, id)
	if err != nil {
		return rankingData{}, err
	}
	d := rankingData{View: v, Staff: !v.FirmView, Key: formKey()}
	if aps, err := cs.h.Ranking.Appeals(ctx, a, ranking.AppealFilter{RankingID: id}, service.Page{Limit: 50}); err == nil {
		d.Appeals = aps.Items
	}
	return d, nil
}

func (cs *console) rankingPage(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	d, err := cs.rankingData(c, id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	nav := "rankings"
	if !d.Staff {
		nav = "scorecard"
	}
	cs.render(c, http.StatusOK, "ranking", cs.page(c, d.View.Title, nav, d))
}

// rankingAfter renders the ranking's body after an act, with a flash.
func (cs *console) rankingAfter(c *gin.Context, id int64, flash string) {
	d, err := cs.rankingData(c, id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, d.View.Title, "rankings", d)
	p.Flash = flash
	cs.render(c, http.StatusOK, "ranking-body", p)
}

func (cs *console) removeLine(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	line, ok := cs.id(c, "line")
	if !ok {
		return
	}
	if _, err := cs.h.Ranking.RemoveLine(c.Request.Context(), actor(c), id, line, c.PostForm("reason")); err != nil {
		cs.fail(c, err)
		return
	}
	cs.rankingAfter(c, id, "已移出该条目")
}

func (cs *console) publishRanking(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	if _, err := cs.h.Ranking.Publish(c.Request.Context(), actor(c), id); err != nil {
		cs.fail(c, err)
		return
	}
	cs.rankingAfter(c, id, "榜单已发布，相关物业企业和小区居民已收到通知")
}

func (cs *console) reviseRanking(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	v, err := cs.h.Ranking.Revise(c.Request.Context(), actor(c), id, c.PostForm("reason"))
	if err != nil {
		cs.fail(c, err)
		return
	}
	c.Header("HX-Redirect", "/console/rankings/"+strconv.FormatInt(v.Ranking.ID, 10))
	c.Status(http.StatusNoContent)
}

func (cs *console) discardRanking(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	if err := cs.h.Ranking.Discard(c.Request.Context(), actor(c), id); err != nil {
		cs.fail(c, err)
		return
	}
	c.Header("HX-Redirect", "/console/rankings")
	c.Status(http.StatusNoContent)
}

// ---- appeals

type appealsData struct {
	Appeals []ranking.AppealView
	Next    int64
	State   string
	Overdue bool
}

func (cs *console) appealsPage(c *gin.Context) {
	after, ok := cs.afterOf(c)
	if !ok {
		return
	}
	ctx, a := c.Request.Context(), actor(c)
	d := appealsData{State: c.Query("state"), Overdue: c.Query("overdue") != ""}
	res, err := cs.h.Ranking.Appeals(ctx, a, ranking.AppealFilter{State: d.State, Overdue: d.Overdue}, service.Page{After: after, Limit: 30})
	if err != nil {
		cs.fail(c, err)
		return
	}
	d.Appeals = res.Items
	if res.More && len(res.Items) > 0 {
		d.Next = res.Items[len(res.Items)-1].Appeal.ID
	}
	cs.render(c, http.StatusOK, "appeals", cs.page(c, "申诉", appealNav(a), d))
}

// appealNav is the header entry of the appeal pages for a.
func appealNav(a *service.Actor) string {
	if canRankings(a) {
		return "rankings"
	}
	return "scorecard"
}

func (cs *console) fileAppeal(c *gin.Context) {
	rid, err1 := strconv.ParseInt(c.PostForm("ranking_id"), 10, 64)
	lid, err2 := strconv.ParseInt(c.PostForm("line_id"), 10, 64)
	if err1 != nil || err2 != nil || rid <= 0 || lid <= 0 {
		cs.fail(c, errBadID)
		return
	}
	in := ranking.AppealInput{RankingID: rid, LineID: lid, Target: model.AppealEntry, Text: c.PostForm("text"),
		IdemKey: c.PostForm("key")}
	if comp := c.PostForm("component"); comp != "" {
		in.Target, in.Component = model.AppealComponent, comp
	}
	v, _, err := cs.h.Ranking.Appeal(c.Request.Context(), actor(c), in)
	if err != nil {
		cs.fail(c, err)
		return
	}
	c.Header("HX-Redirect", "/console/appeals/"+strconv.FormatInt(v.Appeal.ID, 10))
	c.Status(http.StatusNoContent)
}

type appealData struct {
	View     ranking.AppealView
	Reviewer bool // the person may decide (staff, not the firm)
	Stars    []int
}

func (cs *console) appealData(c *gin.Context, id int64) (appealData, error) {
	a := actor(c)
	v, err := cs.h.Ranking.GetAppeal(c.Request.Context(), a, id)
	if err != nil {
		return appealData{}, err
	}
	return appealData{View: v, Reviewer: canRankings(a), Stars: []int{5, 4, 3, 2, 1}}, nil
}

func (cs *console) appealPage(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	d, err := cs.appealData(c, id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "appeal", cs.page(c, "申诉 #"+strconv.FormatInt(id, 10), appealNav(actor(c)), d))
}

func (cs *console) appealAfter(c *gin.Context, id int64, flash string) {
	d, err := cs.appealData(c, id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "", d)
	p.Flash = flash
	cs.render(c, http.StatusOK, "appeal-body", p)
}

func (cs *console) noteAppeal(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	if _, err := cs.h.Ranking.Note(c.Request.Context(), actor(c), id, ranking.NoteInput{Text: c.PostForm("text")}); err != nil {
		cs.fail(c, err)
		return
	}
	cs.appealAfter(c, id, "已发送")
}

func (cs *console) decideAppeal(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	in := ranking.DecideInput{Outcome: c.PostForm("outcome"), Text: c.PostForm("text"), Score: strings.TrimSpace(c.PostForm("score"))}
	if raw := c.PostForm("stars"); raw != "" {
		in.Stars, _ = strconv.Atoi(raw)
	}
	v, err := cs.h.Ranking.Decide(c.Request.Context(), actor(c), id, in)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.appealAfter(c, id, "复核结论："+appealStates[v.Appeal.State])
}

// ---- flags of two black quarters

type flagsData struct {
	Flags []ranking.FlagView
	Next  int64
	Staff bool
}

func (cs *console) flagsData(c *gin.Context) (flagsData, error) {
	a := actor(c)
	after, ok := cs.afterOf(c)
	if !ok {
		return flagsData{}, errBadID
	}
	res, err := cs.h.Ranking.Flags(c.Request.Context(), a, c.Query("state"), service.Page{After: after, Limit: 30})
	if err != nil {
		return flagsData{}, err
	}
	d := flagsData{Flags: res.Items, Staff: canRankings(a)}
	if res.More && len(res.Items) > 0 {
		d.Next = res.Items[len(res.Items)-1].Flag.ID
	}
	return d, nil
}

func (cs *console) flagsPage(c *gin.Context) {
	d, err := cs.flagsData(c)
	if err != nil {
		if !c.IsAborted() {
			cs.fail(c, err)
		}
		return
	}
	cs.render(c, http.StatusOK, "flags", cs.page(c, "连续黑榜提醒", appealNav(actor(c)), d))
}

func (cs *console) talkFlag(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	if _, err := cs.h.Ranking.Talk(c.Request.Context(), actor(c), id, c.PostForm("note")); err != nil {
		cs.fail(c, err)
		return
	}
	d, err := cs.flagsData(c)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "", d)
	p.Flash = "已记录谈话提醒"
	cs.render(c, http.StatusOK, "flags-body", p)
}

// ---- inspections

type inspectionsData struct {
	Inspections []inspection.View
	Next        int64
	Kind        string
}

func (cs *console) inspectionsPage(c *gin.Context) {
	after, ok := cs.afterOf(c)
	if !ok {
		return
	}
	d := inspectionsData{Kind: c.Query("kind")}
	res, err := cs.h.Inspection.List(c.Request.Context(), actor(c), inspection.Filter{Kind: d.Kind}, service.Page{After: after, Limit: 30})
	if err != nil {
		cs.fail(c, err)
		return
	}
	d.Inspections = res.Items
	if res.More && len(res.Items) > 0 {
		d.Next = res.Items[len(res.Items)-1].ID
	}
	cs.render(c, http.StatusOK, "inspections", cs.page(c, "检查", "inspections", d))
}

type inspectionData struct {
	View    inspection.View
	Answers bool // the person may answer (a firm's manager)
}

func (cs *console) inspectionData(c *gin.Context, id int64) (inspectionData, error) {
	a := actor(c)
	v, err := cs.h.Inspection.Get(c.Request.Context(), a, id)
	if err != nil {
		return inspectionData{}, err
	}
	return inspectionData{View: v, Answers: canScoreCard(a)}, nil
}

func (cs *console) inspectionPage(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	d, err := cs.inspectionData(c, id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	cs.render(c, http.StatusOK, "inspection", cs.page(c, inspectionKinds[d.View.Kind]+" · "+d.View.CompoundName, "inspections", d))
}

func (cs *console) answerItem(c *gin.Context) {
	id, ok := cs.id(c, "id")
	if !ok {
		return
	}
	item, ok := cs.id(c, "item")
	if !ok {
		return
	}
	if _, err := cs.h.Inspection.Answer(c.Request.Context(), actor(c), id, item, c.PostForm("answer")); err != nil {
		cs.fail(c, err)
		return
	}
	d, err := cs.inspectionData(c, id)
	if err != nil {
		cs.fail(c, err)
		return
	}
	p := cs.page(c, "", "", d)
	p.Flash = "已答复"
	cs.render(c, http.StatusOK, "inspection-body", p)
}
