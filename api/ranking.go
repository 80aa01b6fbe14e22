package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service/ranking"
)

// rankingRoutes registers the evaluation's results: 红黑榜 and 星级
// versions (draft, review, publish, revise), appeals and their exchange,
// and the flags of two black quarters in a row.
func (h *handlers) rankingRoutes(authed *gin.RouterGroup) {
	authed.POST("/rankings", h.idempotentOrPass(h.draftRanking))
	authed.GET("/rankings", h.listRankings)
	authed.GET("/rankings/:id", h.getRanking)
	authed.DELETE("/rankings/:id", h.discardRanking)
	authed.POST("/rankings/:id/lines/:line_id/remove", h.removeRankingLine)
	authed.POST("/rankings/:id/publish", h.publishRanking)
	authed.POST("/rankings/:id/revise", h.idempotentOrPass(h.reviseRanking))
	authed.POST("/appeals", h.fileAppeal)
	authed.GET("/appeals", h.listAppeals)
	authed.GET("/appeals/:id", h.getAppeal)
	authed.POST("/appeals/:id/notes", h.noteAppeal)
	authed.POST("/appeals/:id/decide", h.decideAppeal)
	authed.GET("/appeals/:id/photos/:photo_id", h.getAppealPhoto)
	authed.GET("/ranking-flags", h.listRankingFlags)
	authed.GET("/ranking-flags/:id", h.getRankingFlag)
	authed.POST("/ranking-flags/:id/talk", h.talkRankingFlag)
	authed.POST("/ranking-flags/:id/vote", h.voteRankingFlag)
}

type componentResponse struct {
	Key          string `json:"key"`
	Name         string `json:"name"`
	Numerator    int64  `json:"numerator"`
	Denominator  int64  `json:"denominator"`
	Points       string `json:"points"`
	Insufficient bool   `json:"insufficient"`
}

type rankingLineResponse struct {
	ID            int64               `json:"id"`
	FirmID        int64               `json:"firm_id"`
	FirmName      string              `json:"firm_name"`
	CompoundID    int64               `json:"compound_id,omitempty"`
	CompoundName  string              `json:"compound_name,omitempty"`
	ScoreID       int64               `json:"score_id,omitempty"`
	Score         string              `json:"score"`
	ScoreCenti    int64               `json:"score_centi"`
	CorrectedFrom string              `json:"corrected_from,omitempty"`
	Rank          int                 `json:"rank"`
	GroupSize     int                 `json:"group_size"`
	Placement     string              `json:"placement"`
	Stars         int                 `json:"stars,omitempty"`
	Reason        string              `json:"reason,omitempty"`
	RemovedBy     int64               `json:"removed_by,omitempty"`
	RemovedAt     *string             `json:"removed_at,omitempty"`
	Components    []componentResponse `json:"components"`
	StreetID      int64               `json:"street_id,omitempty"`
	CommunityID   int64               `json:"community_id,omitempty"`
}

type rankingRuleResponse struct {
	Mode        string  `json:"mode"`
	Top         int     `json:"top"`
	Bottom      int     `json:"bottom"`
	RedMin      string  `json:"red_min"`
	BlackBelow  string  `json:"black_below"`
	GroupBy     string  `json:"group_by,omitempty"`
	StarBands   []int64 `json:"star_bands"`
	MinQuarters int     `json:"min_quarters"`
}

type rankingResponse struct {
	ID             int64                 `json:"id"`
	Kind           string                `json:"kind"`
	Title          string                `json:"title,omitempty"`
	ScopeKind      string                `json:"scope_kind"`
	ScopeID        int64                 `json:"scope_id"`
	ScopeName      string                `json:"scope_name,omitempty"`
	Period         string                `json:"period"`
	Version        int                   `json:"version"`
	State          string                `json:"state"`
	Supersedes     int64                 `json:"supersedes,omitempty"`
	SupersededBy   int64                 `json:"superseded_by,omitempty"`
	Reason         string                `json:"reason,omitempty"`
	AppealID       int64                 `json:"appeal_id,omitempty"`
	FormulaVersion int64                 `json:"formula_version"`
	Rule           *rankingRuleResponse  `json:"rule,omitempty"`
	CreatedBy      int64                 `json:"created_by"`
	PublishedBy    int64                 `json:"published_by,omitempty"`
	PublishedAt    *string               `json:"published_at,omitempty"`
	AppealsUntil   *string               `json:"appeals_until,omitempty"`
	FirmView       bool                  `json:"firm_view"`
	Lines          []rankingLineResponse `json:"lines,omitempty"`
	CreatedAt      string                `json:"created_at"`
}

func points(centi int64) string {
	return ranking.Points(centi)
}

func newRankingBase(r model.Ranking) rankingResponse {
	return rankingResponse{ID: r.ID, Kind: r.Kind, ScopeKind: r.ScopeKind, ScopeID: r.ScopeID, Period: r.Period, Version: r.Version,
		State: r.State, Supersedes: r.Supersedes, SupersededBy: r.SupersededBy, Reason: r.Reason, AppealID: r.AppealID,
		FormulaVersion: r.FormulaVersion, CreatedBy: r.CreatedBy, PublishedBy: r.PublishedBy, PublishedAt: tsp(r.PublishedAt),
		AppealsUntil: tsp(r.AppealsUntil), CreatedAt: ts(r.CreatedAt)}
}

func newRankingLine(l ranking.Line) rankingLineResponse {
	out := rankingLineResponse{ID: l.ID, FirmID: l.FirmID, FirmName: l.FirmName, CompoundID: l.CompoundID, CompoundName: l.CompoundName,
		ScoreID: l.ScoreID, Score: points(l.ScoreCenti), ScoreCenti: l.ScoreCenti, Rank: l.RankNo, GroupSize: l.GroupSize,
		Placement: l.Placement, Stars: l.Stars, Reason: l.Reason, RemovedBy: l.RemovedBy, RemovedAt: tsp(l.RemovedAt),
		Components: make([]componentResponse, 0, len(l.Components)), StreetID: l.StreetID, CommunityID: l.CommunityID}
	if l.CorrectedFrom != 0 {
		out.CorrectedFrom = points(l.CorrectedFrom)
	}
	for _, c := range l.Components {
		out.Components = append(out.Components, componentResponse{Key: c.Key, Name: c.Name, Numerator: c.Numerator,
			Denominator: c.Denominator, Points: points(c.PointsCenti), Insufficient: c.Insufficient})
	}
	return out
}

func newRankingResponse(v ranking.View) rankingResponse {
	out := newRankingBase(v.Ranking)
	out.Title, out.ScopeName, out.FirmView = v.Title, v.ScopeName, v.FirmView
	out.Rule = &rankingRuleResponse{Mode: v.Rule.Mode, Top: v.Rule.Top, Bottom: v.Rule.Bottom, RedMin: points(v.Rule.RedMin),
		BlackBelow: points(v.Rule.BlackBelow), GroupBy: v.Rule.GroupBy, StarBands: v.Rule.StarBands, MinQuarters: v.Rule.MinQuarters}
	if out.Rule.StarBands == nil {
		out.Rule.StarBands = []int64{}
	}
	out.Lines = make([]rankingLineResponse, 0, len(v.Lines))
	for _, l := range v.Lines {
		out.Lines = append(out.Lines, newRankingLine(l))
	}
	return out
}

type draftRankingRequest struct {
	Kind      string `json:"kind"`
	ScopeKind string `json:"scope_kind"`
	ScopeID   int64  `json:"scope_id"`
	Period    string `json:"period"`
}

func (h *handlers) draftRanking(c *gin.Context) {
	createJSON(c, func(req draftRankingRequest) (ranking.View, error) {
		return h.Ranking.Draft(c.Request.Context(), actor(c), ranking.DraftInput{Kind: req.Kind, ScopeKind: req.ScopeKind,
			ScopeID: req.ScopeID, Period: req.Period})
	}, newRankingResponse)
}

func (h *handlers) listRankings(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f := ranking.Filter{Kind: c.Query("kind"), ScopeKind: c.Query("scope_kind"), Period: c.Query("period"), State: c.Query("state")}
	if f.ScopeID, ok = queryID(c, "scope_id"); !ok {
		return
	}
	res, err := h.Ranking.List(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(r model.Ranking) int64 { return r.ID }, newRankingBase))
}

func (h *handlers) getRanking(c *gin.Context) {
	byID(c, h.Ranking.Get, newRankingResponse)
}

func (h *handlers) discardRanking(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if err := h.Ranking.Discard(c.Request.Context(), actor(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type reasonRequest struct {
	Reason string `json:"reason" text:"block"`
}

func (h *handlers) removeRankingLine(c *gin.Context) {
	id, lineID, ok := pathIDs(c, "id", "line_id")
	if !ok {
		return
	}
	var req reasonRequest
	if !bindJSON(c, &req) {
		return
	}
	v, err := h.Ranking.RemoveLine(c.Request.Context(), actor(c), id, lineID, req.Reason)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newRankingResponse(v))
}

func (h *handlers) publishRanking(c *gin.Context) {
	byID(c, h.Ranking.Publish, newRankingResponse)
}

func (h *handlers) reviseRanking(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req reasonRequest
	if !bindJSON(c, &req) {
		return
	}
	v, err := h.Ranking.Revise(c.Request.Context(), actor(c), id, req.Reason)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, newRankingResponse(v))
}

type appealEventResponse struct {
	ID        int64   `json:"id"`
	Kind      string  `json:"kind"`
	ActorID   int64   `json:"actor_id"`
	ActorName string  `json:"actor_name"`
	Role      string  `json:"role"`
	Text      string  `json:"text,omitempty"`
	PhotoIDs  []int64 `json:"photo_ids"`
	At        string  `json:"at"`
}

type appealResponse struct {
	ID             int64                 `json:"id"`
	RankingID      int64                 `json:"ranking_id"`
	LineID         int64                 `json:"line_id"`
	Line           rankingLineResponse   `json:"line"`
	FirmID         int64                 `json:"firm_id"`
	Target         string                `json:"target"`
	Component      string                `json:"component,omitempty"`
	Text           string                `json:"text"`
	PhotoIDs       []int64               `json:"photo_ids"`
	State          string                `json:"state"`
	FiledBy        int64                 `json:"filed_by"`
	FiledAt        string                `json:"filed_at"`
	DueAt          string                `json:"due_at"`
	Overdue        bool                  `json:"overdue"`
	DecidedBy      int64                 `json:"decided_by,omitempty"`
	DecidedAt      *string               `json:"decided_at,omitempty"`
	Decision       string                `json:"decision,omitempty"`
	CorrectedScore string                `json:"corrected_score,omitempty"`
	CorrectedStars int                   `json:"corrected_stars,omitempty"`
	CorrectionID   int64                 `json:"correction_id,omitempty"`
	ScopeKind      string                `json:"scope_kind"`
	ScopeID        int64                 `json:"scope_id"`
	ScopeName      string                `json:"scope_name,omitempty"`
	Period         string                `json:"period"`
	Events         []appealEventResponse `json:"events"`
}

func ids(v []int64) []int64 {
	if v == nil {
		return []int64{}
	}
	return v
}

func newAppealResponse(v ranking.AppealView) appealResponse {
	ap := v.Appeal
	out := appealResponse{ID: ap.ID, RankingID: ap.RankingID, LineID: ap.LineID, Line: newRankingLine(v.Line), FirmID: ap.FirmID,
		Target: ap.Target, Component: ap.Component, Text: ap.Text, PhotoIDs: ids(ap.Photos), State: ap.State, FiledBy: ap.FiledBy,
		FiledAt: ts(ap.CreatedAt), DueAt: ts(ap.DueAt), Overdue: v.Overdue, DecidedBy: ap.DecidedBy, DecidedAt: tsp(ap.DecidedAt),
		Decision: ap.Decision, CorrectedStars: ap.CorrectedStars, CorrectionID: ap.CorrectionID, ScopeKind: ap.ScopeKind,
		ScopeID: ap.ScopeID, ScopeName: v.ScopeName, Period: ap.Period, Events: make([]appealEventResponse, 0, len(v.Events))}
	if ap.State == model.AppealCorrected && ap.Target == model.AppealComponent {
		out.CorrectedScore = points(ap.CorrectedCenti)
	}
	for _, e := range v.Events {
		out.Events = append(out.Events, appealEventResponse{ID: e.ID, Kind: e.Kind, ActorID: e.ActorID, ActorName: v.Names[e.ActorID],
			Role: e.Role, Text: e.Text, PhotoIDs: ids(e.Photos), At: ts(e.CreatedAt)})
	}
	return out
}

type fileAppealRequest struct {
	RankingID int64   `json:"ranking_id"`
	LineID    int64   `json:"line_id"`
	Target    string  `json:"target"`
	Component string  `json:"component"`
	Text      string  `json:"text" text:"block"`
	PhotoIDs  []int64 `json:"photo_ids"`
}

func (h *handlers) fileAppeal(c *gin.Context) {
	var req fileAppealRequest
	if !bindJSON(c, &req) {
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	v, created, err := h.Ranking.Appeal(c.Request.Context(), actor(c), ranking.AppealInput{RankingID: req.RankingID, LineID: req.LineID,
		Target: req.Target, Component: req.Component, Text: req.Text, PhotoIDs: req.PhotoIDs, IdemKey: key})
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newAppealResponse(v))
}

func (h *handlers) listAppeals(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f := ranking.AppealFilter{State: c.Query("state")}
	if f.RankingID, ok = queryID(c, "ranking_id"); !ok {
		return
	}
	overdue, ok := queryBool(c, "overdue")
	if !ok {
		return
	}
	f.Overdue = overdue != nil && *overdue
	res, err := h.Ranking.Appeals(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v ranking.AppealView) int64 { return v.Appeal.ID }, newAppealResponse))
}

func (h *handlers) getAppeal(c *gin.Context) {
	byID(c, h.Ranking.GetAppeal, newAppealResponse)
}

type appealNoteRequest struct {
	Text     string  `json:"text" text:"block"`
	PhotoIDs []int64 `json:"photo_ids"`
}

func (h *handlers) noteAppeal(c *gin.Context) {
	patchByID(c, func(id int64, req appealNoteRequest) (ranking.AppealView, error) {
		return h.Ranking.Note(c.Request.Context(), actor(c), id, ranking.NoteInput{Text: req.Text, PhotoIDs: req.PhotoIDs})
	}, newAppealResponse)
}

type decideAppealRequest struct {
	Outcome string `json:"outcome"`
	Text    string `json:"text" text:"block"`
	Score   string `json:"score"`
	Stars   int    `json:"stars"`
}

func (h *handlers) decideAppeal(c *gin.Context) {
	patchByID(c, func(id int64, req decideAppealRequest) (ranking.AppealView, error) {
		return h.Ranking.Decide(c.Request.Context(), actor(c), id, ranking.DecideInput{Outcome: req.Outcome, Text: req.Text,
			Score: req.Score, Stars: req.Stars})
	}, newAppealResponse)
}

type rankingFlagResponse struct {
	ID           int64   `json:"id"`
	FirmID       int64   `json:"firm_id"`
	FirmName     string  `json:"firm_name"`
	CompoundID   int64   `json:"compound_id"`
	CompoundName string  `json:"compound_name"`
	StreetID     int64   `json:"street_id"`
	ScopeKind    string  `json:"scope_kind"`
	ScopeID      int64   `json:"scope_id"`
	Period       string  `json:"period"`
	PrevPeriod   string  `json:"prev_period"`
	RankingID    int64   `json:"ranking_id"`
	PrevID       int64   `json:"prev_ranking_id"`
	State        string  `json:"state"`
	TalkedBy     int64   `json:"talked_by,omitempty"`
	TalkedAt     *string `json:"talked_at,omitempty"`
	TalkNote     string  `json:"talk_note,omitempty"`
	VoteID       int64   `json:"vote_id,omitempty"`
	CreatedAt    string  `json:"created_at"`
}

func newRankingFlag(v ranking.FlagView) rankingFlagResponse {
	f := v.Flag
	return rankingFlagResponse{ID: f.ID, FirmID: f.FirmID, FirmName: v.FirmName, CompoundID: f.CompoundID, CompoundName: v.CompoundName,
		StreetID: f.StreetID, ScopeKind: f.ScopeKind, ScopeID: f.ScopeID, Period: f.Period, PrevPeriod: f.PrevPeriod,
		RankingID: f.RankingID, PrevID: f.PrevID, State: f.State, TalkedBy: f.TalkedBy, TalkedAt: tsp(f.TalkedAt),
		TalkNote: f.TalkNote, VoteID: f.VoteID, CreatedAt: ts(f.CreatedAt)}
}

func (h *handlers) listRankingFlags(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Ranking.Flags(c.Request.Context(), actor(c), c.Query("state"), p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v ranking.FlagView) int64 { return v.Flag.ID }, newRankingFlag))
}

func (h *handlers) getRankingFlag(c *gin.Context) {
	byID(c, h.Ranking.GetFlag, newRankingFlag)
}

type talkRequest struct {
	Note string `json:"note" text:"block"`
}

func (h *handlers) talkRankingFlag(c *gin.Context) {
	patchByID(c, func(id int64, req talkRequest) (ranking.FlagView, error) {
		return h.Ranking.Talk(c.Request.Context(), actor(c), id, req.Note)
	}, newRankingFlag)
}

type flagVoteRequest struct {
	OpensAt  string `json:"opens_at"`
	ClosesAt string `json:"closes_at"`
}

type flagVoteResponse struct {
	Flag rankingFlagResponse `json:"flag"`
	Vote voteResponse        `json:"vote"`
}

func (h *handlers) voteRankingFlag(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req flagVoteRequest
	if !bindJSON(c, &req) {
		return
	}
	opens, ok1 := voteTime(req.OpensAt)
	closes, ok2 := voteTime(req.ClosesAt)
	if !ok1 || !ok2 {
		fail(c, errVoteTime)
		return
	}
	v, f, err := h.Ranking.DraftVote(c.Request.Context(), actor(c), id, ranking.VoteInput{OpensAt: opens, ClosesAt: closes})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, flagVoteResponse{Flag: newRankingFlag(f), Vote: newVoteResponse(v)})
}

func (h *handlers) getAppealPhoto(c *gin.Context) {
	id, pid, ok := pathIDs(c, "id", "photo_id")
	if !ok {
		return
	}
	p, rc, err := h.Ranking.Photo(c.Request.Context(), actor(c), id, pid)
	servePhoto(c, p, rc, err)
}
