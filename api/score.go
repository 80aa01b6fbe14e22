package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/score"
)

// scoreRoutes registers the evaluation's formulas (计分公式), the scoring
// job, the score cards with their explanation, and the grid workers'
// monthly export.
func (h *handlers) scoreRoutes(authed *gin.RouterGroup) {
	authed.GET("/score-formulas", h.listScoreFormulas)
	authed.POST("/score-formulas", h.idempotentOrPass(h.addScoreFormula))
	authed.POST("/score-runs", h.idempotentOrPass(h.runScores))
	authed.GET("/scores", h.listScores)
	authed.GET("/scores/export", h.exportGridScores)
	authed.GET("/scores/:id", h.getScore)
	authed.GET("/scores/:id/components/:name/evidence", h.scoreEvidence)
}

type formulaResponse struct {
	ID            int64             `json:"id"`
	Kind          string            `json:"kind"`
	Version       int               `json:"version"`
	EffectiveFrom string            `json:"effective_from"`
	Note          string            `json:"note"`
	Spec          model.FormulaSpec `json:"spec"`
	CreatedBy     int64             `json:"created_by,omitempty"`
	CreatedAt     string            `json:"created_at"`
}

func newFormulaResponse(f model.ScoreFormula) formulaResponse {
	spec := f.Spec
	if spec.Components == nil {
		spec.Components = []model.FormulaComponent{}
	}
	return formulaResponse{ID: f.ID, Kind: f.Kind, Version: f.Version, EffectiveFrom: ts(f.EffectiveFrom), Note: f.Note,
		Spec: spec, CreatedBy: f.CreatedBy, CreatedAt: ts(f.CreatedAt)}
}

func (h *handlers) listScoreFormulas(c *gin.Context) {
	fs, err := h.Score.Formulas(c.Request.Context(), actor(c), c.Query("kind"))
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]formulaResponse, 0, len(fs))
	for _, f := range fs {
		out = append(out, newFormulaResponse(f))
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

type addFormulaRequest struct {
	Kind          string             `json:"kind"`
	EffectiveFrom string             `json:"effective_from"`
	Note          string             `json:"note"`
	Spec          formulaSpecRequest `json:"spec"`
}

type formulaSpecRequest struct {
	Components     []formulaComponentRequest `json:"components"`
	Redistribute   string                    `json:"redistribute"`
	RankMinSamples *int64                    `json:"rank_min_samples"`
	MinComponents  *int                      `json:"min_components"`
	List           *listRuleRequest          `json:"list"`
	Stars          []starBandRequest         `json:"stars"`
}

type formulaComponentRequest struct {
	Name       string `json:"name"`
	Weight     *int64 `json:"weight"`
	MinSamples *int64 `json:"min_samples"`
	Better     string `json:"better"`
	Full       *int64 `json:"full"`
	Zero       *int64 `json:"zero"`
}

type listRuleRequest struct {
	Kind     string `json:"kind"`
	Group    string `json:"group"`
	N        int    `json:"n"`
	RedMin   int64  `json:"red_min"`
	BlackMax int64  `json:"black_max"`
}

type starBandRequest struct {
	Stars int   `json:"stars"`
	Min   int64 `json:"min"`
}

var (
	errFormulaSpecMissing = service.Invalid("bad_formula", "计分公式须给出 rank_min_samples（参与排名的最少样本数）与 min_components（最少有效指标数）")
	errFormulaCompMissing = service.Invalid("bad_formula", "每项指标须给出 weight、min_samples、full 与 zero，不能省略")
)

// spec converts the request, refusing a formula that leaves out a figure
// the document requires (a missing one is never read as 0).
func (r formulaSpecRequest) spec() (model.FormulaSpec, error) {
	if r.RankMinSamples == nil || r.MinComponents == nil {
		return model.FormulaSpec{}, errFormulaSpecMissing
	}
	s := model.FormulaSpec{Redistribute: r.Redistribute, RankMinSamples: *r.RankMinSamples, MinComponents: *r.MinComponents}
	for _, c := range r.Components {
		if c.Weight == nil || c.MinSamples == nil || c.Full == nil || c.Zero == nil {
			return model.FormulaSpec{}, errFormulaCompMissing
		}
		s.Components = append(s.Components, model.FormulaComponent{Name: c.Name, Weight: *c.Weight, MinSamples: *c.MinSamples,
			Better: c.Better, Full: *c.Full, Zero: *c.Zero})
	}
	if l := r.List; l != nil {
		s.List = &model.ListRule{Kind: l.Kind, Group: l.Group, N: l.N, RedMin: l.RedMin, BlackMax: l.BlackMax}
	}
	for _, b := range r.Stars {
		s.Stars = append(s.Stars, model.StarBand{Stars: b.Stars, Min: b.Min})
	}
	return s, nil
}

func (h *handlers) addScoreFormula(c *gin.Context) {
	createJSON(c, func(r addFormulaRequest) (model.ScoreFormula, error) {
		spec, err := r.Spec.spec()
		if err != nil {
			return model.ScoreFormula{}, err
		}
		return h.Score.AddFormula(c.Request.Context(), actor(c), score.NewFormula{Kind: r.Kind, EffectiveFrom: r.EffectiveFrom,
			Note: r.Note, Spec: spec})
	}, newFormulaResponse)
}

type runScoresRequest struct {
	Kind           string `json:"kind"`
	Period         string `json:"period"`
	FormulaVersion int    `json:"formula_version"`
}

type scoreRunResponse struct {
	ID             int64  `json:"id"`
	Kind           string `json:"kind"`
	Period         string `json:"period"`
	FormulaID      int64  `json:"formula_id"`
	FormulaVersion int    `json:"formula_version"`
	Rows           int    `json:"rows"`
	Written        int    `json:"written"`
	StartedAt      string `json:"started_at"`
	FinishedAt     string `json:"finished_at"`
	ElapsedMS      int64  `json:"elapsed_ms"`
}

func (h *handlers) runScores(c *gin.Context) {
	createJSON(c, func(r runScoresRequest) (score.RunResult, error) {
		return h.Score.RunPeriod(c.Request.Context(), actor(c), r.Kind, r.Period, r.FormulaVersion)
	}, func(r score.RunResult) scoreRunResponse {
		run := r.Run
		return scoreRunResponse{ID: run.ID, Kind: run.Kind, Period: run.Period, FormulaID: run.FormulaID,
			FormulaVersion: run.FormulaVersion, Rows: run.Rows, Written: run.Written, StartedAt: ts(run.StartedAt),
			FinishedAt: ts(run.FinishedAt), ElapsedMS: r.Elapsed.Milliseconds()}
	})
}

type scoreComponentResponse struct {
	Name            string `json:"name"`
	Label           string `json:"label"`
	Status          string `json:"status"`
	Numerator       int64  `json:"numerator"`
	Denominator     int64  `json:"denominator"`
	Extra           int64  `json:"extra"`
	Raw             int64  `json:"raw"`
	Unit            string `json:"unit"`
	Value           string `json:"value"`
	MinSamples      int64  `json:"min_samples"`
	Weight          int64  `json:"weight"`
	EffectiveWeight string `json:"effective_weight"`
	Points          string `json:"points"`
}

type scoreResponse struct {
	ID             int64                    `json:"id"`
	Kind           string                   `json:"kind"`
	Period         string                   `json:"period"`
	PeriodStart    string                   `json:"period_start"`
	PeriodEnd      string                   `json:"period_end"`
	FormulaID      int64                    `json:"formula_id"`
	FormulaVersion int                      `json:"formula_version"`
	ScopeKind      string                   `json:"scope_kind"`
	ScopeID        int64                    `json:"scope_id"`
	ScopeName      string                   `json:"scope_name"`
	FirmID         int64                    `json:"firm_id,omitempty"`
	FirmName       string                   `json:"firm_name,omitempty"`
	UserID         int64                    `json:"user_id,omitempty"`
	UserName       string                   `json:"user_name,omitempty"`
	CityID         int64                    `json:"city_id"`
	DistrictID     int64                    `json:"district_id,omitempty"`
	StreetID       int64                    `json:"street_id,omitempty"`
	CommunityID    int64                    `json:"community_id,omitempty"`
	CompoundID     int64                    `json:"compound_id,omitempty"`
	GridID         int64                    `json:"grid_id,omitempty"`
	Score          string                   `json:"score"`
	Samples        int64                    `json:"samples"`
	Sufficient     int                      `json:"sufficient"`
	RankEligible   bool                     `json:"rank_eligible"`
	Ineligible     string                   `json:"ineligible,omitempty"`
	Components     []scoreComponentResponse `json:"components"`
}

func newScoreResponse(v score.View) scoreResponse {
	s := v.Score
	r := scoreResponse{ID: s.ID, Kind: s.Kind, Period: s.Period, PeriodStart: ts(s.PeriodStart), PeriodEnd: ts(s.PeriodEnd),
		FormulaID: s.FormulaID, FormulaVersion: s.FormulaVersion, ScopeKind: s.ScopeKind, ScopeID: s.ScopeID,
		ScopeName: v.ScopeName, FirmID: s.FirmID, FirmName: v.FirmName, UserID: s.UserID, UserName: v.UserName,
		CityID: s.CityID, DistrictID: s.DistrictID, StreetID: s.StreetID, CommunityID: s.CommunityID,
		CompoundID: s.CompoundID, GridID: s.GridID, Score: score.Hundredths(s.Points), Samples: s.Samples,
		Sufficient: s.Sufficient, RankEligible: s.RankEligible, Ineligible: s.Ineligible,
		Components: make([]scoreComponentResponse, 0, len(v.Components))}
	for _, c := range v.Components {
		r.Components = append(r.Components, scoreComponentResponse{Name: c.Name, Label: score.Labels[c.Name],
			Status: c.Status, Numerator: c.Numerator, Denominator: c.Denominator, Extra: c.Extra, Raw: c.Raw,
			Unit: score.Units[c.Name], Value: score.Display(c), MinSamples: c.MinSamples, Weight: c.Weight,
			EffectiveWeight: score.Hundredths(c.EffWeight), Points: score.Hundredths(c.Points)})
	}
	return r
}

// scoreQuery reads the list's filters.
func scoreQuery(c *gin.Context) (score.Query, bool) {
	q := score.Query{Kind: c.Query("kind"), Period: c.Query("period"), ScopeKind: c.Query("scope_kind"),
		UnderKind: c.Query("under_kind")}
	if raw := c.Query("formula_version"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 {
			fail(c, service.Invalid("bad_query", "查询参数 formula_version 须为正整数"))
			return q, false
		}
		q.FormulaVersion = n
	}
	var ok bool
	if q.UnderID, ok = queryID(c, "under_id"); !ok {
		return q, false
	}
	if q.FirmID, ok = queryID(c, "firm_id"); !ok {
		return q, false
	}
	if q.UserID, ok = queryID(c, "user_id"); !ok {
		return q, false
	}
	if (q.UnderKind == "") != (q.UnderID == 0) {
		fail(c, service.Invalid("bad_query", "under_kind 与 under_id 须同时给出"))
		return q, false
	}
	return q, true
}

func (h *handlers) listScores(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	q, ok := scoreQuery(c)
	if !ok {
		return
	}
	res, _, err := h.Score.List(c.Request.Context(), actor(c), q, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v score.View) int64 { return v.ID }, newScoreResponse))
}

func (h *handlers) getScore(c *gin.Context) {
	byID(c, h.Score.Get, newScoreResponse)
}

type evidenceItem struct {
	ID      int64 `json:"id"`
	Counted bool  `json:"counted"`
}

type evidencePage struct {
	Component  string         `json:"component"`
	Source     string         `json:"source"`
	Items      []evidenceItem `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

func (h *handlers) scoreEvidence(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	p, ok := page(c)
	if !ok {
		return
	}
	ev, err := h.Score.Explain(c.Request.Context(), actor(c), id, c.Param("name"), c.Query("source"), p)
	if err != nil {
		fail(c, err)
		return
	}
	pg := newPage(ev.Page, func(e model.Evidence) int64 { return e.ID },
		func(e model.Evidence) evidenceItem { return evidenceItem{ID: e.ID, Counted: e.Counted} })
	c.JSON(http.StatusOK, evidencePage{Component: ev.Component, Source: ev.Source, Items: pg.Items, NextCursor: pg.NextCursor})
}

func (h *handlers) exportGridScores(c *gin.Context) {
	community, ok := queryID(c, "community_id")
	if !ok {
		return
	}
	if community == 0 {
		fail(c, service.Invalid("community_required", "请指定要导出的社区（community_id）"))
		return
	}
	wb, err := h.Score.ExportGrid(c.Request.Context(), actor(c), c.Query("period"), community)
	if err != nil {
		fail(c, err)
		return
	}
	defer wb.Close()
	h.sendXLSX(c, wb.Filename, wb.ASCIIName, wb)
}
