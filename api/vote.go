package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
	"redprop/service/vote"
)

// voteRoutes registers owners' votes: creating, listing, one vote with its
// participation or result, opening and cancelling, casting a ballot and,
// for open-ballot votes, who voted what.
func (h *handlers) voteRoutes(authed *gin.RouterGroup) {
	authed.POST("/votes", h.createVote)
	authed.GET("/votes", h.listVotes)
	authed.GET("/votes/:id", h.getVote)
	authed.POST("/votes/:id/open", h.openVote)
	authed.POST("/votes/:id/cancel", h.cancelVote)
	authed.POST("/votes/:id/ballots", h.castBallot)
	authed.GET("/votes/:id/ballots", h.listBallots)
}

var errVoteTime = service.Invalid("bad_times", "开始和截止时间须为 RFC 3339 时间，如 2026-11-25T18:00:00+08:00")

type createVoteRequest struct {
	CompoundID int64    `json:"compound_id"`
	Question   string   `json:"question"`
	Detail     string   `json:"detail" text:"block"`
	Matter     string   `json:"matter"`
	Choices    []string `json:"choices"`
	OpenBallot bool     `json:"open_ballot"`
	Special    bool     `json:"special"`
	OpensAt    string   `json:"opens_at"`
	ClosesAt   string   `json:"closes_at"`
}

type voteParticipationResponse struct {
	Ballots          int64  `json:"ballots"`
	VotedArea        string `json:"voted_area"` // m², two decimals
	VotedAreaCentiM2 int64  `json:"voted_area_centi_m2"`
	VotedHeads       int64  `json:"voted_heads"`
	TotalArea        string `json:"total_area"`
	TotalAreaCentiM2 int64  `json:"total_area_centi_m2"`
	TotalHeads       int64  `json:"total_heads"`
	TotalHouseholds  int64  `json:"total_households"`
	Quorum           bool   `json:"quorum"`
}

type voteChoiceResponse struct {
	Index       int    `json:"index"`
	Label       string `json:"label"`
	Ballots     int64  `json:"ballots"`
	Area        string `json:"area"`
	AreaCentiM2 int64  `json:"area_centi_m2"`
	Heads       int64  `json:"heads"`
}

type voteResultResponse struct {
	Outcome     string               `json:"outcome"`
	Winner      *int                 `json:"winner"`
	WinnerLabel string               `json:"winner_label,omitempty"`
	Choices     []voteChoiceResponse `json:"choices"`
}

type voteHouseholdResponse struct {
	HouseholdID int64   `json:"household_id"`
	Label       string  `json:"label"`
	Area        string  `json:"area"`
	AreaCentiM2 int64   `json:"area_centi_m2"`
	OnRoll      bool    `json:"on_roll"`
	Choice      *int    `json:"choice"`
	ChoiceLabel string  `json:"choice_label,omitempty"`
	CastAt      *string `json:"cast_at,omitempty"`
	CastBy      int64   `json:"cast_by,omitempty"`
}

type voteResponse struct {
	ID            int64                      `json:"id"`
	CommunityID   int64                      `json:"community_id"`
	CompoundID    int64                      `json:"compound_id"`
	CompoundName  string                     `json:"compound_name"`
	Question      string                     `json:"question"`
	Detail        string                     `json:"detail,omitempty"`
	Matter        string                     `json:"matter"`
	Special       bool                       `json:"special"`
	Choices       []string                   `json:"choices"`
	YesNo         bool                       `json:"yes_no"`
	OpenBallot    bool                       `json:"open_ballot"`
	State         string                     `json:"state"`
	OpensAt       string                     `json:"opens_at"`
	ClosesAt      string                     `json:"closes_at"`
	OpenedAt      *string                    `json:"opened_at,omitempty"`
	ClosedAt      *string                    `json:"closed_at,omitempty"`
	OrganiserRole string                     `json:"organiser_role"`
	CanOrganise   bool                       `json:"can_organise"`
	CreatedBy     int64                      `json:"created_by"`
	Participation *voteParticipationResponse `json:"participation,omitempty"`
	Result        *voteResultResponse        `json:"result,omitempty"`
	MyHouseholds  []voteHouseholdResponse    `json:"my_households,omitempty"`
	CreatedAt     string                     `json:"created_at"`
	UpdatedAt     string                     `json:"updated_at"`
}

func newVoteResponse(v vote.View) voteResponse {
	o := v.Vote
	r := voteResponse{
		ID: o.ID, CommunityID: o.CommunityID, CompoundID: o.CompoundID, CompoundName: v.CompoundName,
		Question: o.Question, Detail: o.Detail, Matter: o.Matter, Special: v.Special, Choices: o.Choices,
		YesNo: o.YesNo, OpenBallot: o.OpenBallot, State: o.State, OpensAt: ts(o.OpensAt), ClosesAt: ts(o.ClosesAt),
		OpenedAt: tsp(o.OpenedAt), ClosedAt: tsp(o.ClosedAt), OrganiserRole: o.OrganiserRole,
		CanOrganise: v.CanOrganise, CreatedBy: o.CreatedBy, CreatedAt: ts(o.CreatedAt), UpdatedAt: ts(o.UpdatedAt),
	}
	if p := v.Participation; p != nil {
		r.Participation = &voteParticipationResponse{
			Ballots: p.Ballots, VotedArea: model.FormatArea(p.Voted.AreaCentiM2), VotedAreaCentiM2: p.Voted.AreaCentiM2,
			VotedHeads: p.Voted.Heads, TotalArea: model.FormatArea(p.Total.AreaCentiM2), TotalAreaCentiM2: p.Total.AreaCentiM2,
			TotalHeads: p.Total.Heads, TotalHouseholds: p.TotalHouseholds, Quorum: p.Quorum,
		}
	}
	if o.State == model.VoteClosed {
		res := &voteResultResponse{Outcome: o.Outcome, Winner: o.Winner, Choices: []voteChoiceResponse{}}
		if o.Winner != nil && *o.Winner < len(o.Choices) {
			res.WinnerLabel = o.Choices[*o.Winner]
		}
		for i, label := range o.Choices {
			var t model.ChoiceTally
			if i < len(o.Tally) {
				t = o.Tally[i]
			}
			res.Choices = append(res.Choices, voteChoiceResponse{Index: i, Label: label, Ballots: t.Ballots,
				Area: model.FormatArea(t.AreaCentiM2), AreaCentiM2: t.AreaCentiM2, Heads: t.Heads})
		}
		r.Result = res
	}
	for _, m := range v.Mine {
		hr := voteHouseholdResponse{HouseholdID: m.HouseholdID, Label: m.Label, Area: model.FormatArea(m.AreaCentiM2),
			AreaCentiM2: m.AreaCentiM2, OnRoll: m.OnRoll, Choice: m.Choice, CastAt: tsp(m.CastAt), CastBy: m.CastBy}
		if m.Choice != nil && *m.Choice < len(o.Choices) {
			hr.ChoiceLabel = o.Choices[*m.Choice]
		}
		r.MyHouseholds = append(r.MyHouseholds, hr)
	}
	return r
}

// voteTime reads a required RFC 3339 time.
func voteTime(raw string) (time.Time, bool) {
	if raw == "" {
		return time.Time{}, true // the service names what is missing
	}
	t, err := parseTime(raw)
	return t, err == nil
}

func (h *handlers) createVote(c *gin.Context) {
	var req createVoteRequest
	if !bindJSON(c, &req) {
		return
	}
	opens, ok1 := voteTime(req.OpensAt)
	closes, ok2 := voteTime(req.ClosesAt)
	if !ok1 || !ok2 {
		fail(c, errVoteTime)
		return
	}
	key, ok := idemKey(c)
	if !ok {
		return
	}
	v, created, err := h.Vote.Create(c.Request.Context(), actor(c), vote.CreateInput{
		CompoundID: req.CompoundID, Question: req.Question, Detail: req.Detail, Matter: req.Matter,
		Choices: req.Choices, OpenBallot: req.OpenBallot, Special: req.Special, OpensAt: opens, ClosesAt: closes,
		IdemKey: key,
	})
	if err != nil {
		fail(c, err)
		return
	}
	createdOr200(c, created, newVoteResponse(v))
}

func (h *handlers) listVotes(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	f := vote.Filter{State: c.Query("state")}
	if f.CompoundID, ok = queryID(c, "compound_id"); !ok {
		return
	}
	res, err := h.Vote.List(c.Request.Context(), actor(c), f, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v vote.View) int64 { return v.Vote.ID }, newVoteResponse))
}

func (h *handlers) getVote(c *gin.Context) {
	byID(c, h.Vote.Get, newVoteResponse)
}

func (h *handlers) openVote(c *gin.Context) {
	byID(c, h.Vote.Open, newVoteResponse)
}

func (h *handlers) cancelVote(c *gin.Context) {
	byID(c, h.Vote.Cancel, newVoteResponse)
}

type castBallotRequest struct {
	HouseholdID int64 `json:"household_id"`
	Choice      *int  `json:"choice"`
}

var errBallotChoice = service.Invalid("bad_choice", "请选择一个选项（choice 为选项序号，从 0 开始）")

func (h *handlers) castBallot(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req castBallotRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.Choice == nil {
		fail(c, errBallotChoice)
		return
	}
	v, err := h.Vote.Cast(c.Request.Context(), actor(c), id, vote.CastInput{HouseholdID: req.HouseholdID, Choice: *req.Choice})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, newVoteResponse(v))
}

type ballotResponse struct {
	ID             int64  `json:"id"`
	HouseholdID    int64  `json:"household_id"`
	HouseholdLabel string `json:"household_label"`
	Area           string `json:"area"`
	AreaCentiM2    int64  `json:"area_centi_m2"`
	Choice         int    `json:"choice"`
	ChoiceLabel    string `json:"choice_label"`
	VoterName      string `json:"voter_name,omitempty"`
	CastAt         string `json:"cast_at"`
}

func newBallotResponse(b vote.BallotView) ballotResponse {
	return ballotResponse{
		ID: b.Ballot.ID, HouseholdID: b.Ballot.HouseholdID, HouseholdLabel: b.HouseholdLabel,
		Area: model.FormatArea(b.Ballot.AreaCentiM2), AreaCentiM2: b.Ballot.AreaCentiM2, Choice: b.Ballot.Choice,
		ChoiceLabel: b.ChoiceLabel, VoterName: b.VoterName, CastAt: ts(b.Ballot.CreatedAt),
	}
}

func (h *handlers) listBallots(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	p, ok := page(c)
	if !ok {
		return
	}
	res, err := h.Vote.Ballots(c.Request.Context(), actor(c), id, p)
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, newPage(res, func(v vote.BallotView) int64 { return v.Ballot.ID }, newBallotResponse))
}
