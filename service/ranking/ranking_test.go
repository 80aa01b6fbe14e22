package ranking

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/receipt"
	"redprop/service/score"
	"redprop/service/servicetest"
	"redprop/service/vote"
	"redprop/service/wechat"
)

// fakeScores serves fixed score sets by quarter, filtered to the scope as
// the score cards would be.
type fakeScores struct {
	mu   sync.Mutex
	sets map[string]ScoreSet
}

func (f *fakeScores) QuarterScores(ctx context.Context, period string, scope Scope) (ScoreSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := f.sets[period]
	out := ScoreSet{FormulaVersion: set.FormulaVersion, Rule: set.Rule}
	for _, r := range set.Rows {
		var id int64
		switch scope.Kind {
		case model.LevelStreet:
			id = r.Ancestry.StreetID
		case model.LevelDistrict:
			id = r.Ancestry.DistrictID
		case model.LevelCity:
			id = r.Ancestry.CityID
		}
		if id == scope.ID {
			out.Rows = append(out.Rows, r)
		}
	}
	return out, nil
}

// env is the ranking service over the demo city with three more firms
// and four more compounds of the street, fixed scores, the real messages
// and vote services, and the 2026 working calendar.
type env struct {
	*servicetest.City
	svc       *Service
	scores    *fakeScores
	firms     [4]int64          // F1 is the demo firm
	compounds [7]model.Compound // C0–C2 are the demo compounds
}

func beijingAt(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, calendar.Beijing).UTC()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t)
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), cfg)
	servicetest.Must(t, err)
	e := &env{City: c, scores: &fakeScores{sets: map[string]ScoreSet{}}}
	e.firms[0] = c.Firm.ID
	for i := 1; i < 4; i++ {
		f := model.Firm{Name: fmt.Sprintf("第%d物业公司", i+1), CityID: c.CityID, DistrictID: c.DistrictID}
		servicetest.Must(t, c.DB.Create(&f).Error)
		e.firms[i] = f.ID
	}
	copy(e.compounds[:3], c.Compounds[:])
	for i := 3; i < 7; i++ {
		cp := model.Compound{Name: fmt.Sprintf("测试小区%d", i), Ancestry: c.Communities[i%2].Ancestry}
		servicetest.Must(t, c.DB.Create(&cp).Error)
		cp.CompoundID = cp.ID
		servicetest.Must(t, c.DB.Model(&cp).Update("compound_id", cp.ID).Error)
		e.compounds[i] = cp
	}
	for i := range 3 {
		e.compounds[i].CompoundID = e.compounds[i].ID
	}
	e.svc = New(c.DB, c.Clock, e.scores, msgs, calendar.New(c.DB, c.Clock), vote.New(c.DB, c.Clock, msgs, vote.Options{}),
		Options{Notices: ReceiptNotices{Receipts: receipt.New(c.DB, c.Clock, msgs)}})
	return e
}

// row is a score of firm i at compound j.
func (e *env) row(firm, compound int, centi int64) ScoreRow {
	cp := e.compounds[compound]
	return ScoreRow{ScoreID: int64(100*firm + compound), FirmID: e.firms[firm], CompoundID: cp.ID, Ancestry: cp.Ancestry, Centi: centi,
		Components: []Component{{Key: "satisfaction", Name: "满意率", Numerator: 40, Denominator: 50, PointsCenti: centi / 2},
			{Key: "on_time", Name: "按期结案率", Numerator: 30, Denominator: 40, PointsCenti: centi / 2}}}
}

func (e *env) insufficient(firm, compound int) ScoreRow {
	r := e.row(firm, compound, 9900)
	r.Insufficient = true
	r.Components[0].Insufficient = true
	return r
}

var testRule = Rule{Mode: ModeRank, Top: 2, Bottom: 2, StarBands: []int64{9000, 8000, 7000, 6000}, MinQuarters: 2}

// quarter2 is the fixture of 2026Q2: six ranked lines and one without
// enough samples (F3 at C6, with the best raw score).
func (e *env) quarter2() ScoreSet {
	return ScoreSet{FormulaVersion: 3, Rule: testRule, Rows: []ScoreRow{
		e.row(1, 1, 9250), e.row(2, 2, 8800), e.row(3, 3, 8000), e.row(0, 4, 7500),
		e.row(1, 5, 7000), e.row(0, 0, 6000), e.insufficient(2, 6),
	}}
}

// quarter1 has F1 at C0 black again, F2 at C5 not.
func (e *env) quarter1() ScoreSet {
	return ScoreSet{FormulaVersion: 3, Rule: testRule, Rows: []ScoreRow{
		e.row(1, 1, 9000), e.row(2, 2, 8700), e.row(3, 3, 8100), e.row(0, 4, 6900),
		e.row(1, 5, 8500), e.row(0, 0, 5500),
	}}
}

func lineOf(t *testing.T, v View, firm int64, compound int64) Line {
	t.Helper()
	for _, l := range v.Lines {
		if l.FirmID == firm && l.CompoundID == compound {
			return l
		}
	}
	t.Fatalf("no line of firm %d at compound %d in %d lines", firm, compound, len(v.Lines))
	return Line{}
}

func inbox(t *testing.T, e *env, name string) []model.Message {
	t.Helper()
	ms, err := model.Inbox(e.Ctx, e.DB, e.UserID(name), false, 0, 100)
	servicetest.Must(t, err)
	return ms
}

func TestPlacementByRule(t *testing.T) {
	mk := func(scores ...int64) []model.RankingLine {
		var ls []model.RankingLine
		for i, s := range scores {
			ls = append(ls, model.RankingLine{FirmID: int64(i + 1), ScoreCenti: s, Placement: model.PlacementNone})
		}
		return ls
	}
	places := func(ls []model.RankingLine) string {
		var b strings.Builder
		for _, l := range ls {
			fmt.Fprintf(&b, "%d:%d:%s ", l.FirmID, l.RankNo, l.Placement)
		}
		return strings.TrimSpace(b.String())
	}
	for _, tc := range []struct {
		name   string
		rule   Rule
		lines  []model.RankingLine
		expect string
	}{
		{"top and bottom two of six", testRule, mk(9000, 8000, 7000, 6000, 5000, 4000),
			"1:1:red 2:2:red 3:3:none 4:4:none 5:5:black 6:6:black"},
		{"a group smaller than both lists splits in halves", testRule, mk(9000, 8000, 7000),
			"1:1:red 2:2:none 3:3:black"},
		{"one line is on neither list", testRule, mk(5000), "1:1:none"},
		{"ties share the rank and the list", testRule, mk(9000, 8000, 8000, 7000, 6000, 6000, 5000),
			"1:1:red 2:2:red 3:2:red 4:4:none 5:5:black 6:5:black 7:7:black"},
		{"all equal: neither list", testRule, mk(8000, 8000, 8000, 8000), "1:1:none 2:1:none 3:1:none 4:1:none"},
		{"thresholds", Rule{Mode: ModeThreshold, RedMin: 8500, BlackBelow: 6000}, mk(9000, 8500, 8499, 6000, 5999),
			"1:1:red 2:2:red 3:3:none 4:4:none 5:5:black"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			place(tc.rule, tc.lines)
			if got := places(tc.lines); got != tc.expect {
				t.Fatalf("got  %s\nwant %s", got, tc.expect)
			}
		})
	}
	t.Run("excluded and removed lines are not ranked and do not count", func(t *testing.T) {
		ls := mk(9000, 8000, 7000, 6000, 5000)
		ls[0].Placement, ls[4].Placement = model.PlacementExcluded, model.PlacementRemoved
		place(testRule, ls)
		if got := places(ls); got != "1:0:excluded 2:1:red 3:2:none 4:3:black 5:0:removed" {
			t.Fatal(got)
		}
	})
	t.Run("groups by street", func(t *testing.T) {
		ls := mk(9000, 8000, 7000, 6000)
		ls[0].StreetID, ls[1].StreetID, ls[2].StreetID, ls[3].StreetID = 1, 2, 1, 2
		r := testRule
		r.GroupBy = model.LevelStreet
		place(r, ls)
		if got := places(ls); got != "1:1:red 3:2:black 2:1:red 4:2:black" {
			t.Fatal(got)
		}
	})
}

func TestStarBands(t *testing.T) {
	rule := testRule
	set := func(rows ...ScoreRow) ScoreSet { return ScoreSet{Rows: rows} }
	r := func(firm, compound int64, centi int64, insufficient bool) ScoreRow {
		return ScoreRow{FirmID: firm, CompoundID: compound, Centi: centi, Insufficient: insufficient}
	}
	lines := starLines(rule, []ScoreSet{
		// Q1: firm 1 is the mean of its two compounds (9100, 8900 → 9000).
		set(r(1, 1, 9100, false), r(1, 2, 8900, false), r(2, 3, 8000, false), r(3, 4, 5000, false), r(4, 5, 9900, false)),
		set(r(1, 1, 9000, false), r(2, 3, 7999, false), r(3, 4, 6000, false), r(4, 5, 9900, true)),
		set(r(1, 1, 9000, false), r(2, 3, 8001, false), r(3, 4, 5500, false)),
	})
	got := map[int64]model.RankingLine{}
	for _, l := range lines {
		got[l.FirmID] = l
	}
	for _, want := range []struct {
		firm  int64
		centi int64
		stars int
	}{{1, 9000, 5}, {2, 8000, 4}, {3, 5500, 1}} {
		l := got[want.firm]
		if l.ScoreCenti != want.centi || l.Stars != want.stars || l.Placement != model.PlacementRated {
			t.Errorf("firm %d: %d points, %d stars, %s; want %d, %d", want.firm, l.ScoreCenti, l.Stars, l.Placement, want.centi, want.stars)
		}
	}
	if l := got[4]; l.Placement != model.PlacementExcluded || !strings.Contains(l.Reason, "少于 2 个") {
		t.Fatalf("firm 4 with one sufficient quarter: %+v", l)
	}
	for centi, stars := range map[int64]int{10000: 5, 9000: 5, 8999: 4, 8000: 4, 7000: 3, 6999: 2, 6000: 2, 5999: 1, 0: 1} {
		if s := rule.stars(centi); s != stars {
			t.Errorf("%d → %d stars, want %d", centi, s, stars)
		}
	}
}

func TestAppealWindowCountsWorkingDays(t *testing.T) {
	days, err := calendarOf(t)
	servicetest.Must(t, err)
	// Published Tuesday 29 September 2026: 30 September is worked, 1–7
	// October are 国庆 holidays, 8 and 9 October worked, Saturday 10
	// October a make-up working day (调休), Monday 12 October the fifth.
	published := beijingAt(2026, 9, 29, 15, 30)
	if got, want := afterWorkdays(days, published, 5), beijingAt(2026, 10, 13, 0, 0); !got.Equal(want) {
		t.Fatalf("with the calendar: %s, want %s", got.In(calendar.Beijing), want.In(calendar.Beijing))
	}
	// A plain week would have ended on Tuesday 6 October.
	var plain *calendar.Calendar
	if got, want := afterWorkdays(plain, published, 5), beijingAt(2026, 10, 7, 0, 0); !got.Equal(want) {
		t.Fatalf("plain week: %s, want %s", got.In(calendar.Beijing), want.In(calendar.Beijing))
	}
	// Filed on a holiday: the count starts with the next working day.
	if got, want := afterWorkdays(days, beijingAt(2026, 10, 3, 9, 0), 1), beijingAt(2026, 10, 9, 0, 0); !got.Equal(want) {
		t.Fatalf("from a holiday: %s, want %s", got.In(calendar.Beijing), want.In(calendar.Beijing))
	}
}

func calendarOf(t *testing.T) (*calendar.Calendar, error) {
	c := servicetest.New(t)
	return calendar.New(c.DB, c.Clock).Current(c.Ctx)
}

func TestDraftReviewPublish(t *testing.T) {
	e := newEnv(t)
	e.scores.sets["2026Q2"] = e.quarter2()
	street, manager, city, community := e.Actor("street"), e.Actor("manager"), e.Actor("city"), e.Actor("community")
	in := DraftInput{Kind: kindList, ScopeKind: model.LevelStreet, ScopeID: e.StreetID, Period: "2026Q2"}
	e.Clock.Set(beijingAt(2026, 9, 29, 10, 0))
	var draft View

	e.Step(t, "refusals before a draft", func(t *testing.T) {
		_, err := e.svc.Draft(e.Ctx, community, in)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		_, err = e.svc.Draft(e.Ctx, city, in)
		servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
		bad := in
		bad.Period = "2026Q5"
		_, err = e.svc.Draft(e.Ctx, street, bad)
		servicetest.WantErr(t, err, service.KindInvalid, "bad_period")
		bad.Period = "2026Q3" // ends on 1 October
		_, err = e.svc.Draft(e.Ctx, street, bad)
		servicetest.WantErr(t, err, service.KindUnprocessable, "period_not_closed")
		bad.Period = "2026Q1" // no scores
		_, err = e.svc.Draft(e.Ctx, street, bad)
		servicetest.WantErr(t, err, service.KindUnprocessable, "no_scores")
		bad = in
		bad.ScopeID = e.Communities[0].ID
		_, err = e.svc.Draft(e.Ctx, street, bad)
		servicetest.WantErr(t, err, service.KindNotFound, "scope_not_found")
	})

	e.Step(t, "the draft follows the rule and lists the excluded", func(t *testing.T) {
		var err error
		draft, err = e.svc.Draft(e.Ctx, street, in)
		servicetest.Must(t, err)
		r := draft.Ranking
		if r.State != model.RankingDraft || r.Version != 1 || r.FormulaVersion != 3 || len(draft.Lines) != 7 || draft.Rule.Top != 2 {
			t.Fatalf("draft %+v with %d lines", r, len(draft.Lines))
		}
		want := []struct {
			firm, compound int
			rank           int
			placement      string
		}{{1, 1, 1, "red"}, {2, 2, 2, "red"}, {3, 3, 3, "none"}, {0, 4, 4, "none"}, {1, 5, 5, "black"}, {0, 0, 6, "black"}, {2, 6, 0, "excluded"}}
		for i, w := range want {
			l := draft.Lines[i]
			if l.FirmID != e.firms[w.firm] || l.CompoundID != e.compounds[w.compound].ID || l.RankNo != w.rank || l.Placement != w.placement {
				t.Errorf("line %d: firm %d compound %d rank %d %s; want F%d C%d %d %s", i, l.FirmID, l.CompoundID, l.RankNo, l.Placement,
					w.firm+1, w.compound, w.rank, w.placement)
			}
		}
		ex := draft.Lines[6]
		if ex.Reason != "样本不足，不参加排名：满意率" || ex.ScoreCenti != 9900 || ex.FirmName != "第3物业公司" {
			t.Fatalf("excluded line %+v", ex)
		}
		if len(draft.Lines[0].Components) != 2 || draft.Lines[0].Components[0].Numerator != 40 {
			t.Fatalf("components %+v", draft.Lines[0].Components)
		}
		_, err = e.svc.Draft(e.Ctx, street, in)
		servicetest.WantErr(t, err, service.KindConflict, "draft_exists")
	})

	e.Step(t, "a firm manager sees no draft", func(t *testing.T) {
		_, err := e.svc.Get(e.Ctx, manager, draft.Ranking.ID)
		servicetest.WantErr(t, err, service.KindNotFound, "ranking_not_found")
		page, err := e.svc.List(e.Ctx, manager, Filter{}, service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) != 0 {
			t.Fatalf("manager lists %d rankings", len(page.Items))
		}
	})

	e.Step(t, "removal needs a reason and a listed line", func(t *testing.T) {
		red := lineOf(t, draft, e.firms[2], e.compounds[2].ID)
		_, err := e.svc.RemoveLine(e.Ctx, street, draft.Ranking.ID, red.ID, " ")
		servicetest.WantErr(t, err, service.KindInvalid, "bad_reason")
		none := lineOf(t, draft, e.firms[3], e.compounds[3].ID)
		_, err = e.svc.RemoveLine(e.Ctx, street, draft.Ranking.ID, none.ID, "不在榜上")
		servicetest.WantErr(t, err, service.KindConflict, "line_not_listed")
		_, err = e.svc.RemoveLine(e.Ctx, city, draft.Ranking.ID, red.ID, "市里不能删")
		servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
		v, err := e.svc.RemoveLine(e.Ctx, street, draft.Ranking.ID, red.ID, "该项目本季度发生安全事故，不宜评为红榜")
		servicetest.Must(t, err)
		l := lineOf(t, v, e.firms[2], e.compounds[2].ID)
		if l.Placement != model.PlacementRemoved || l.Reason != "该项目本季度发生安全事故，不宜评为红榜" || l.RemovedBy != e.UserID("street") {
			t.Fatalf("removed %+v", l)
		}
		// The others keep their places: no one moves up into the red list.
		if l := lineOf(t, v, e.firms[3], e.compounds[3].ID); l.Placement != model.PlacementNone {
			t.Fatalf("third place moved: %+v", l)
		}
	})

	e.Step(t, "publish: immutable, managers and residents told", func(t *testing.T) {
		v, err := e.svc.Publish(e.Ctx, street, draft.Ranking.ID)
		servicetest.Must(t, err)
		r := v.Ranking
		if r.State != model.RankingPublished || r.PublishedBy != e.UserID("street") || !r.AppealsUntil.Equal(beijingAt(2026, 10, 13, 0, 0)) {
			t.Fatalf("published %+v", r)
		}
		_, err = e.svc.Publish(e.Ctx, street, r.ID)
		servicetest.WantErr(t, err, service.KindConflict, "ranking_published")
		_, err = e.svc.RemoveLine(e.Ctx, street, r.ID, lineOf(t, v, e.firms[1], e.compounds[1].ID).ID, "发布后再改")
		servicetest.WantErr(t, err, service.KindConflict, "ranking_published")
		servicetest.WantErr(t, e.svc.Discard(e.Ctx, street, r.ID), service.KindConflict, "ranking_published")

		ms := inbox(t, e, "manager")
		if len(ms) != 1 || ms[0].Kind != message.KindEvaluation || ms[0].Title != "2026年第2季度物业服务红黑榜已公布" ||
			!strings.Contains(ms[0].Body, "金日天玺：黑榜，第 6 名/共 6 个，60.00 分") || !strings.Contains(ms[0].Body, "2026年10月12日 24:00 前提出申诉") {
			t.Fatalf("manager's inbox %+v", ms)
		}
		var pushes int64
		servicetest.Must(t, e.DB.Model(&model.Outbox{}).Where("user_id = ? AND kind = ?", e.UserID("manager"), message.KindEvaluation).Count(&pushes).Error)
		if pushes != 1 {
			t.Fatalf("%d pushes to the manager", pushes)
		}
		// The resident of C0 (black) hears; the resident of C2 (removed
		// from the red list before publication) does not.
		if ms := inbox(t, e, "resident"); len(ms) != 1 || !strings.Contains(ms[0].Body, "红心物业服务有限公司为本小区提供物业服务，列入黑榜（得分 60.00）") {
			t.Fatalf("resident's inbox %+v", ms)
		}
		if ms := inbox(t, e, "resident2"); len(ms) != 0 {
			t.Fatalf("resident of a removed line told: %+v", ms)
		}
		// One receipt per household of C0 (two buildings of four), for
		// the steward's list of those not reached.
		var receipts int64
		c0 := lineOf(t, v, e.firms[0], e.compounds[0].ID)
		servicetest.Must(t, e.DB.Model(&model.Receipt{}).Where("subject_kind = ? AND subject_id = ?", SubjectLine, c0.ID).Count(&receipts).Error)
		if receipts != 8 {
			t.Fatalf("%d receipts for C0", receipts)
		}
	})

	e.Step(t, "a firm manager sees only its own lines", func(t *testing.T) {
		v, err := e.svc.Get(e.Ctx, manager, draft.Ranking.ID)
		servicetest.Must(t, err)
		if !v.FirmView || len(v.Lines) != 2 {
			t.Fatalf("manager sees %d lines", len(v.Lines))
		}
		for _, l := range v.Lines {
			if l.FirmID != e.firms[0] {
				t.Fatalf("manager sees firm %d", l.FirmID)
			}
		}
		page, err := e.svc.List(e.Ctx, manager, Filter{}, service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) != 1 {
			t.Fatalf("manager lists %d rankings", len(page.Items))
		}
		// A resident reads the public result of their own compound only;
		// someone with nothing there, nothing.
		mine, err := e.svc.Get(e.Ctx, e.Actor("resident"), draft.Ranking.ID)
		servicetest.Must(t, err)
		if len(mine.Lines) != 1 || mine.Lines[0].CompoundID != e.compounds[0].ID || mine.Lines[0].Placement != model.PlacementBlack {
			t.Fatalf("resident sees %+v", mine.Lines)
		}
		_, err = e.svc.Get(e.Ctx, e.Actor("department"), draft.Ranking.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	})

	e.Step(t, "a revision is a new version; publishing it supersedes, both readable", func(t *testing.T) {
		_, err := e.svc.Revise(e.Ctx, street, draft.Ranking.ID, "")
		servicetest.WantErr(t, err, service.KindInvalid, "bad_reason")
		v2, err := e.svc.Revise(e.Ctx, street, draft.Ranking.ID, "补充核实后恢复第2名的红榜")
		servicetest.Must(t, err)
		if v2.Ranking.Version != 2 || v2.Ranking.Supersedes != draft.Ranking.ID || v2.Ranking.State != model.RankingDraft {
			t.Fatalf("revision %+v", v2.Ranking)
		}
		if l := lineOf(t, v2, e.firms[2], e.compounds[2].ID); l.Placement != model.PlacementRemoved {
			t.Fatalf("revision lost the removal: %+v", l)
		}
		_, err = e.svc.Revise(e.Ctx, street, draft.Ranking.ID, "再来一份")
		servicetest.WantErr(t, err, service.KindConflict, "draft_exists")
		servicetest.Must(t, e.svc.Discard(e.Ctx, street, v2.Ranking.ID))
		v2, err = e.svc.Revise(e.Ctx, street, draft.Ranking.ID, "复核：移除第4名的记录有误")
		servicetest.Must(t, err)
		servicetest.Must(t, err)
		if v2.Ranking.Version != 2 {
			t.Fatalf("after a discarded draft the version is %d", v2.Ranking.Version)
		}
		v2, err = e.svc.Publish(e.Ctx, street, v2.Ranking.ID)
		servicetest.Must(t, err)
		v1, err := e.svc.Get(e.Ctx, street, draft.Ranking.ID)
		servicetest.Must(t, err)
		if v1.Ranking.State != model.RankingSuperseded || v1.Ranking.SupersededBy != v2.Ranking.ID || len(v1.Lines) != 7 {
			t.Fatalf("v1 after v2: %+v", v1.Ranking)
		}
		// Nothing changed in the lines: nobody is told again.
		if ms := inbox(t, e, "manager"); len(ms) != 1 {
			t.Fatalf("manager told of an unchanged revision: %d messages", len(ms))
		}
		_, err = e.svc.Revise(e.Ctx, street, draft.Ranking.ID, "基于旧版本")
		servicetest.WantErr(t, err, service.KindConflict, "ranking_superseded")
	})
}

// publishQuarter drafts and publishes the street's list of a quarter.
func (e *env) publishQuarter(t *testing.T, period string) View {
	t.Helper()
	v, err := e.svc.Draft(e.Ctx, e.Actor("street"), DraftInput{Kind: kindList, ScopeKind: model.LevelStreet, ScopeID: e.StreetID, Period: period})
	servicetest.Must(t, err)
	v, err = e.svc.Publish(e.Ctx, e.Actor("street"), v.Ranking.ID)
	servicetest.Must(t, err)
	return v
}

func TestAppealsAndFlags(t *testing.T) {
	e := newEnv(t)
	e.scores.sets["2026Q1"] = e.quarter1()
	e.scores.sets["2026Q2"] = e.quarter2()
	street, manager, committee := e.Actor("street"), e.Actor("manager"), e.Actor("committee")
	e.Clock.Set(beijingAt(2026, 7, 6, 10, 0))
	q1 := e.publishQuarter(t, "2026Q1")
	e.Clock.Set(beijingAt(2026, 9, 29, 10, 0))
	q2 := e.publishQuarter(t, "2026Q2")
	black := lineOf(t, q2, e.firms[0], e.compounds[0].ID)
	var flag FlagView

	e.Step(t, "two black quarters in a row flag the firm at the compound", func(t *testing.T) {
		page, err := e.svc.Flags(e.Ctx, street, "", service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) != 1 {
			t.Fatalf("%d flags", len(page.Items))
		}
		flag = page.Items[0]
		f := flag.Flag
		if f.FirmID != e.firms[0] || f.CompoundID != e.compounds[0].ID || f.Period != "2026Q2" || f.PrevPeriod != "2026Q1" ||
			f.State != model.FlagOpen || f.RankingID != q2.Ranking.ID || f.PrevID != q1.Ranking.ID {
			t.Fatalf("flag %+v", f)
		}
		for _, who := range []string{"street", "committee"} {
			found := false
			for _, m := range inbox(t, e, who) {
				found = found || m.Title == "物业企业连续两个季度列入黑榜"
			}
			if !found {
				t.Errorf("%s not told of the flag", who)
			}
		}
		// The committee sees it; community 2's staff do not.
		if page, err := e.svc.Flags(e.Ctx, committee, "", service.Page{}); err != nil || len(page.Items) != 1 {
			t.Fatalf("committee's flags %v %v", page.Items, err)
		}
		_, err = e.svc.GetFlag(e.Ctx, e.Actor("community2"), f.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	})

	e.Step(t, "the street records its talk; the committee drafts a vote", func(t *testing.T) {
		_, err := e.svc.Talk(e.Ctx, committee, flag.Flag.ID, "业委会不能代替街道约谈")
		servicetest.WantErr(t, err, service.KindForbidden, "not_street_staff")
		fv, err := e.svc.Talk(e.Ctx, street, flag.Flag.ID, "已约谈项目经理，限期一个月整改")
		servicetest.Must(t, err)
		if fv.Flag.State != model.FlagTalked || fv.Flag.TalkedBy != e.UserID("street") {
			t.Fatalf("talked %+v", fv.Flag)
		}
		_, err = e.svc.Talk(e.Ctx, street, flag.Flag.ID, "再谈一次")
		servicetest.WantErr(t, err, service.KindConflict, "flag_talked")

		in := VoteInput{OpensAt: e.Clock.Now().Add(24 * time.Hour), ClosesAt: e.Clock.Now().Add(15 * 24 * time.Hour)}
		_, _, err = e.svc.DraftVote(e.Ctx, e.Actor("resident"), flag.Flag.ID, in)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		v, fv, err := e.svc.DraftVote(e.Ctx, committee, flag.Flag.ID, in)
		servicetest.Must(t, err)
		if v.Vote.State != model.VoteDraft || v.Vote.Matter != model.MatterChangeFirm || v.Vote.CompoundID != e.compounds[0].ID ||
			!strings.Contains(v.Vote.Question, "红心物业服务有限公司") || fv.Flag.VoteID != v.Vote.ID {
			t.Fatalf("vote %+v, flag %+v", v.Vote, fv.Flag)
		}
		_, _, err = e.svc.DraftVote(e.Ctx, committee, flag.Flag.ID, in)
		servicetest.WantErr(t, err, service.KindConflict, "flag_vote_drafted")
	})

	var appeal AppealView
	e.Step(t, "the firm manager appeals its black entry within the window", func(t *testing.T) {
		in := AppealInput{RankingID: q2.Ranking.ID, LineID: black.ID, Target: model.AppealEntry, Text: "本季度投诉均为重复投诉，已提供台账",
			PhotoIDs: []int64{e.Photo("manager")}, IdemKey: "appeal-1"}
		other := lineOf(t, q2, e.firms[1], e.compounds[5].ID)
		bad := in
		bad.LineID = other.ID
		_, _, err := e.svc.Appeal(e.Ctx, manager, bad)
		servicetest.WantErr(t, err, service.KindForbidden, "not_firm_manager")
		bad = in
		bad.LineID = lineOf(t, q2, e.firms[0], e.compounds[4].ID).ID // not black
		_, _, err = e.svc.Appeal(e.Ctx, manager, bad)
		servicetest.WantErr(t, err, service.KindUnprocessable, "not_appealable")
		bad.Target, bad.Component = model.AppealComponent, "no_such"
		_, _, err = e.svc.Appeal(e.Ctx, manager, bad)
		servicetest.WantErr(t, err, service.KindInvalid, "bad_component")
		bad = in
		bad.PhotoIDs = []int64{e.Photo("street")}
		_, _, err = e.svc.Appeal(e.Ctx, manager, bad)
		servicetest.WantErr(t, err, service.KindUnprocessable, "photo_unavailable")
		_, _, err = e.svc.Appeal(e.Ctx, street, in)
		servicetest.WantErr(t, err, service.KindForbidden, "not_firm_manager")

		// Monday 12 October, 23:00: across 国庆 and the 调休 Saturday, still
		// within five working days.
		e.Clock.Set(beijingAt(2026, 10, 12, 23, 0))
		var created bool
		appeal, created, err = e.svc.Appeal(e.Ctx, manager, in)
		servicetest.Must(t, err)
		if !created || appeal.Appeal.State != model.AppealPending || len(appeal.Events) != 1 || appeal.Events[0].Kind != model.AppealFiled ||
			len(appeal.Events[0].Photos) != 1 || !appeal.Appeal.DueAt.Equal(beijingAt(2026, 10, 27, 0, 0)) {
			t.Fatalf("appeal %+v events %+v", appeal.Appeal, appeal.Events)
		}
		again, created, err := e.svc.Appeal(e.Ctx, manager, in)
		if err != nil || created || again.Appeal.ID != appeal.Appeal.ID {
			t.Fatalf("double tap: %v %v %d", err, created, again.Appeal.ID)
		}
		in.IdemKey = "appeal-2"
		_, _, err = e.svc.Appeal(e.Ctx, manager, in)
		servicetest.WantErr(t, err, service.KindConflict, "appeal_pending")
		if ms := inbox(t, e, "street"); ms[0].Title != "2026年第2季度物业服务红黑榜收到申诉" {
			t.Fatalf("reviewer not told: %+v", ms[0])
		}
	})

	e.Step(t, "after the window the appeal is refused in Chinese", func(t *testing.T) {
		e.Clock.Set(beijingAt(2026, 10, 13, 0, 30))
		in := AppealInput{RankingID: q2.Ranking.ID, LineID: lineOf(t, q2, e.firms[0], e.compounds[4].ID).ID, Target: model.AppealComponent,
			Component: "satisfaction", Text: "满意率统计漏掉了回访记录"}
		_, _, err := e.svc.Appeal(e.Ctx, manager, in)
		servicetest.WantErr(t, err, service.KindUnprocessable, "appeal_window_closed")
		if !strings.Contains(err.Error(), "申诉期已过：榜单于 2026年9月29日 公布，须在 5 个工作日内（2026年10月12日 24:00 前）提出申诉") {
			t.Fatalf("message %v", err)
		}
	})

	e.Step(t, "the exchange grows; overdue appeals are listed", func(t *testing.T) {
		_, err := e.svc.Note(e.Ctx, e.Actor("community"), appeal.Appeal.ID, NoteInput{Text: "社区插话"})
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		v, err := e.svc.Note(e.Ctx, street, appeal.Appeal.ID, NoteInput{Text: "请补充投诉台账的原件照片"})
		servicetest.Must(t, err)
		v, err = e.svc.Note(e.Ctx, manager, appeal.Appeal.ID, NoteInput{Text: "已上传", PhotoIDs: []int64{e.Photo("manager")}})
		servicetest.Must(t, err)
		if len(v.Events) != 3 || v.Events[1].Role != model.RoleStreetStaff || v.Events[2].Role != model.RoleFirmManager {
			t.Fatalf("exchange %+v", v.Events)
		}
		page, err := e.svc.Appeals(e.Ctx, street, AppealFilter{Overdue: true}, service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) != 0 {
			t.Fatalf("overdue too early: %d", len(page.Items))
		}
		e.Clock.Set(beijingAt(2026, 10, 27, 0, 1))
		page, err = e.svc.Appeals(e.Ctx, street, AppealFilter{Overdue: true}, service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) != 1 || !page.Items[0].Overdue {
			t.Fatalf("overdue list %+v", page.Items)
		}
		// Firm managers see their own appeals only.
		mine, err := e.svc.Appeals(e.Ctx, manager, AppealFilter{}, service.Page{})
		servicetest.Must(t, err)
		if len(mine.Items) != 1 {
			t.Fatalf("manager's appeals %d", len(mine.Items))
		}
		servicetest.Must(t, e.DB.Model(&model.Grant{}).Create(&model.Grant{UserID: e.UserID("worker"), Role: model.RoleFirmManager,
			ScopeKind: model.ScopeFirm, ScopeID: e.firms[1]}).Error)
		e.Forget("worker")
		other, err := e.svc.Appeals(e.Ctx, e.Actor("worker"), AppealFilter{}, service.Page{})
		servicetest.Must(t, err)
		if len(other.Items) != 0 {
			t.Fatalf("another firm's manager sees %d appeals", len(other.Items))
		}
		_, err = e.svc.GetAppeal(e.Ctx, e.Actor("worker"), appeal.Appeal.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	})

	e.Step(t, "corrected: a new version supersedes, the flag is withdrawn", func(t *testing.T) {
		_, err := e.svc.Decide(e.Ctx, manager, appeal.Appeal.ID, DecideInput{Outcome: model.AppealUpheld, Text: "自己裁决"})
		servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
		_, err = e.svc.Decide(e.Ctx, street, appeal.Appeal.ID, DecideInput{Outcome: "maybe", Text: "再议"})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_outcome")
		v, err := e.svc.Decide(e.Ctx, street, appeal.Appeal.ID, DecideInput{Outcome: model.AppealCorrected, Text: "经核实，重复投诉应合并计算，移出黑榜"})
		servicetest.Must(t, err)
		ap := v.Appeal
		if ap.State != model.AppealCorrected || ap.CorrectionID == 0 || len(v.Events) != 4 || v.Events[3].Kind != model.AppealDecided {
			t.Fatalf("decided %+v", ap)
		}
		_, err = e.svc.Decide(e.Ctx, street, ap.ID, DecideInput{Outcome: model.AppealUpheld, Text: "改主意"})
		servicetest.WantErr(t, err, service.KindConflict, "appeal_decided")

		v2, err := e.svc.Get(e.Ctx, street, ap.CorrectionID)
		servicetest.Must(t, err)
		old, err := e.svc.Get(e.Ctx, street, q2.Ranking.ID)
		servicetest.Must(t, err)
		if v2.Ranking.State != model.RankingPublished || v2.Ranking.Version != 2 || v2.Ranking.AppealID != ap.ID ||
			old.Ranking.State != model.RankingSuperseded || old.Ranking.SupersededBy != v2.Ranking.ID {
			t.Fatalf("v2 %+v, v1 %+v", v2.Ranking, old.Ranking)
		}
		if l := lineOf(t, v2, e.firms[0], e.compounds[0].ID); l.Placement != model.PlacementRemoved || !strings.HasPrefix(l.Reason, fmt.Sprintf("申诉 #%d 更正", ap.ID)) {
			t.Fatalf("corrected line %+v", l)
		}
		if l := lineOf(t, old, e.firms[0], e.compounds[0].ID); l.Placement != model.PlacementBlack {
			t.Fatalf("the old version changed: %+v", l)
		}
		fv, err := e.svc.GetFlag(e.Ctx, street, flag.Flag.ID)
		servicetest.Must(t, err)
		if fv.Flag.State != model.FlagWithdrawn {
			t.Fatalf("flag after the correction: %s", fv.Flag.State)
		}
		ms := inbox(t, e, "manager")
		if ms[0].Title != "您的申诉已有复核结论" || ms[1].Title != "2026年第2季度物业服务红黑榜已更正（第2版）" {
			t.Fatalf("manager's inbox %s / %s", ms[0].Title, ms[1].Title)
		}
		// An appeal of the superseded version is refused.
		_, _, err = e.svc.Appeal(e.Ctx, manager, AppealInput{RankingID: q2.Ranking.ID, LineID: black.ID, Target: model.AppealEntry, Text: "再次申诉一下"})
		servicetest.WantErr(t, err, service.KindConflict, "ranking_superseded")
	})

	e.Step(t, "a component corrected re-ranks; upheld changes nothing", func(t *testing.T) {
		live, err := model.LiveRanking(e.Ctx, e.DB, kindList, model.LevelStreet, e.StreetID, "2026Q2")
		servicetest.Must(t, err)
		v, err := e.svc.Get(e.Ctx, street, live.ID)
		servicetest.Must(t, err)
		line := lineOf(t, v, e.firms[0], e.compounds[4].ID)
		ap, _, err := e.svc.Appeal(e.Ctx, manager, AppealInput{RankingID: live.ID, LineID: line.ID, Target: model.AppealComponent,
			Component: "satisfaction", Text: "满意率统计漏掉了 12 条回访记录"})
		servicetest.Must(t, err)
		_, err = e.svc.Decide(e.Ctx, street, ap.Appeal.ID, DecideInput{Outcome: model.AppealCorrected, Text: "补录回访后重算", Score: "95.5"})
		servicetest.Must(t, err)
		ap2, err := e.svc.GetAppeal(e.Ctx, manager, ap.Appeal.ID)
		servicetest.Must(t, err)
		if ap2.Appeal.CorrectedCenti != 9550 {
			t.Fatalf("corrected %d", ap2.Appeal.CorrectedCenti)
		}
		v3, err := e.svc.Get(e.Ctx, street, ap2.Appeal.CorrectionID)
		servicetest.Must(t, err)
		l := lineOf(t, v3, e.firms[0], e.compounds[4].ID)
		if v3.Ranking.Version != 3 || l.ScoreCenti != 9550 || l.CorrectedFrom != 7500 || l.RankNo != 1 || l.Placement != model.PlacementRed {
			t.Fatalf("v3 line %+v", l)
		}
		if l := lineOf(t, v3, e.firms[3], e.compounds[3].ID); l.RankNo != 4 {
			t.Fatalf("v3 others %+v", l)
		}
		for _, bad := range []string{"", "101", "-1", "82.505", "八十", "1e2", ".5"} {
			_, err := e.svc.Decide(e.Ctx, street, ap.Appeal.ID, DecideInput{Outcome: model.AppealCorrected, Text: "再改", Score: bad})
			servicetest.WantErr(t, err, service.KindInvalid, "bad_score")
		}
		_, err = e.svc.Decide(e.Ctx, street, ap.Appeal.ID, DecideInput{Outcome: model.AppealCorrected, Text: "再改", Score: "90"})
		servicetest.WantErr(t, err, service.KindConflict, "appeal_decided")
		line = lineOf(t, v3, e.firms[0], e.compounds[4].ID)
		up, _, err := e.svc.Appeal(e.Ctx, manager, AppealInput{RankingID: v3.Ranking.ID, LineID: line.ID, Target: model.AppealComponent,
			Component: "on_time", Text: "按期结案率也请复核"})
		servicetest.Must(t, err)
		dv, err := e.svc.Decide(e.Ctx, street, up.Appeal.ID, DecideInput{Outcome: model.AppealUpheld, Text: "数据无误，维持原结果"})
		servicetest.Must(t, err)
		if dv.Appeal.State != model.AppealUpheld || dv.Appeal.CorrectionID != 0 {
			t.Fatalf("upheld %+v", dv.Appeal)
		}
		if live, _ := model.LiveRanking(e.Ctx, e.DB, kindList, model.LevelStreet, e.StreetID, "2026Q2"); live.ID != v3.Ranking.ID {
			t.Fatalf("upheld made a version: %d", live.ID)
		}
	})

	e.Step(t, "a manager of two firms sees the flags of both", func(t *testing.T) {
		// worker already manages firms[1] (no flag); now firms[0] as well.
		e.Grant("worker", model.RoleFirmManager, model.ScopeFirm, e.firms[0], model.Ancestry{})
		e.Forget("worker")
		page, err := e.svc.Flags(e.Ctx, e.Actor("worker"), "", service.Page{})
		servicetest.Must(t, err)
		if len(page.Items) == 0 {
			t.Fatal("the second firm's flags are missing")
		}
		for _, f := range page.Items {
			if f.Flag.FirmID != e.firms[0] {
				t.Fatalf("flag of firm %d, want only firm %d's", f.Flag.FirmID, e.firms[0])
			}
		}
	})
}

func TestStarsPublishedAsVersions(t *testing.T) {
	e := newEnv(t)
	e.scores.sets["2026Q1"] = e.quarter1()
	e.scores.sets["2026Q2"] = e.quarter2()
	street, manager := e.Actor("street"), e.Actor("manager")
	in := DraftInput{Kind: kindStars, ScopeKind: model.LevelStreet, ScopeID: e.StreetID, Period: "2026"}
	_, err := e.svc.Draft(e.Ctx, street, in)
	servicetest.WantErr(t, err, service.KindUnprocessable, "period_not_closed")
	e.Clock.Set(beijingAt(2027, 1, 4, 10, 0))
	bad := in
	bad.Period = "2026Q4"
	_, err = e.svc.Draft(e.Ctx, street, bad)
	servicetest.WantErr(t, err, service.KindInvalid, "bad_period")
	v, err := e.svc.Draft(e.Ctx, street, in)
	servicetest.Must(t, err)
	// F1: Q1 mean(5500, 6900) = 6200, Q2 mean(6000, 7500) = 6750 → 6475: 2 stars.
	// F2: Q1 mean(9000, 8500) = 8750, Q2 mean(9250, 7000) = 8125 → 8438: 4 stars.
	// F3: Q1 8700, Q2 8800 (C6 insufficient) → 8750: 4 stars. F4: 8100, 8000 → 8050: 4 stars.
	want := map[int64][2]int64{e.firms[0]: {6475, 2}, e.firms[1]: {8438, 4}, e.firms[2]: {8750, 4}, e.firms[3]: {8050, 4}}
	if len(v.Lines) != 4 {
		t.Fatalf("%d star lines", len(v.Lines))
	}
	for _, l := range v.Lines {
		if w := want[l.FirmID]; l.ScoreCenti != w[0] || int64(l.Stars) != w[1] || l.StreetID != e.StreetID {
			t.Errorf("firm %d: %d, %d stars; want %v", l.FirmID, l.ScoreCenti, l.Stars, w)
		}
	}
	v, err = e.svc.Publish(e.Ctx, street, v.Ranking.ID)
	servicetest.Must(t, err)
	if ms := inbox(t, e, "manager"); len(ms) != 1 || ms[0].Title != "2026年度物业服务星级评定已公布" || !strings.Contains(ms[0].Body, "2 星") {
		t.Fatalf("manager's inbox %+v", ms)
	}
	mine := lineOf(t, v, e.firms[0], 0)
	_, _, err = e.svc.Appeal(e.Ctx, manager, AppealInput{RankingID: v.Ranking.ID, LineID: mine.ID, Target: model.AppealComponent, Component: "satisfaction", Text: "评分项有误请复核"})
	servicetest.WantErr(t, err, service.KindUnprocessable, "not_appealable")
	ap, _, err := e.svc.Appeal(e.Ctx, manager, AppealInput{RankingID: v.Ranking.ID, LineID: mine.ID, Target: model.AppealEntry, Text: "第一季度数据有误，请复核星级"})
	servicetest.Must(t, err)
	_, err = e.svc.Decide(e.Ctx, street, ap.Appeal.ID, DecideInput{Outcome: model.AppealCorrected, Text: "更正为三星", Stars: 6})
	servicetest.WantErr(t, err, service.KindInvalid, "bad_stars")
	d, err := e.svc.Decide(e.Ctx, street, ap.Appeal.ID, DecideInput{Outcome: model.AppealCorrected, Text: "更正为三星", Stars: 3})
	servicetest.Must(t, err)
	v2, err := e.svc.Get(e.Ctx, street, d.Appeal.CorrectionID)
	servicetest.Must(t, err)
	if l := lineOf(t, v2, e.firms[0], 0); l.Stars != 3 || v2.Ranking.Version != 2 {
		t.Fatalf("corrected stars %+v", l)
	}
	if l := lineOf(t, v2, e.firms[1], 0); l.Stars != 4 {
		t.Fatalf("others changed %+v", l)
	}
}

// The score cards as the ranking reads them: the demo firm's compounds,
// scored with no orders, are there and none is ranked.
func TestScoreCardsAdapter(t *testing.T) {
	e := newEnv(t)
	e.Clock.Set(beijingAt(2026, 10, 9, 10, 0))
	cards := score.New(e.DB, e.Clock, score.Options{})
	scope := Scope{Kind: model.LevelStreet, ID: e.StreetID}
	set, err := ScoreCards{Cards: cards}.QuarterScores(e.Ctx, "2026Q3", scope)
	servicetest.Must(t, err)
	if len(set.Rows) != 0 {
		t.Fatalf("an unscored quarter has %d rows", len(set.Rows))
	}
	_, err = cards.Compute(e.Ctx, model.ScoreKindFirm, "2026Q3", 0, 0)
	servicetest.Must(t, err)
	set, err = ScoreCards{Cards: cards}.QuarterScores(e.Ctx, "2026Q3", scope)
	servicetest.Must(t, err)
	if len(set.Rows) == 0 || set.FormulaVersion != 1 || set.Rule.Mode != ModeRank || set.Rule.Top != 3 || set.Rule.StarBands[0] != 9000 {
		t.Fatalf("set %+v", set)
	}
	for _, r := range set.Rows {
		if r.FirmID != e.Firm.ID || !r.Insufficient || !strings.Contains(r.Reason, "不参加排名") || len(r.Components) == 0 {
			t.Fatalf("row %+v", r)
		}
	}
	// A draft from them lists every line as excluded, with why.
	e.svc.scores = ScoreCards{Cards: cards}
	v, err := e.svc.Draft(e.Ctx, e.Actor("street"), DraftInput{Kind: kindList, ScopeKind: model.LevelStreet, ScopeID: e.StreetID, Period: "2026Q3"})
	servicetest.Must(t, err)
	for _, l := range v.Lines {
		if l.Placement != model.PlacementExcluded || l.Reason == "" || l.Components[0].Name == "" {
			t.Fatalf("line %+v", l)
		}
	}
}

// Concurrent moves of one thing: one wins, the others are told why, and
// nothing is written twice. (On MariaDB; SQLite serialises them anyway.)
func TestConcurrentMoves(t *testing.T) {
	e := newEnv(t)
	e.scores.sets["2026Q2"] = e.quarter2()
	e.Clock.Set(beijingAt(2026, 9, 29, 10, 0))
	street, manager := e.Actor("street"), e.Actor("manager")
	in := DraftInput{Kind: kindList, ScopeKind: model.LevelStreet, ScopeID: e.StreetID, Period: "2026Q2"}
	race := func(n int, f func(i int) error) (ok int, errs []error) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := f(i)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else {
					errs = append(errs, err)
				}
			}()
		}
		wg.Wait()
		return ok, errs
	}
	var draftID int64
	ok, errs := race(3, func(int) error {
		v, err := e.svc.Draft(e.Ctx, street, in)
		if err == nil {
			draftID = v.Ranking.ID
		}
		return err
	})
	if ok != 1 {
		t.Fatalf("%d drafts, errors %v", ok, errs)
	}
	for _, err := range errs {
		servicetest.WantErr(t, err, service.KindConflict, "draft_exists")
	}
	ok, errs = race(3, func(int) error { _, err := e.svc.Publish(e.Ctx, street, draftID); return err })
	if ok != 1 {
		t.Fatalf("%d publications, errors %v", ok, errs)
	}
	for _, err := range errs {
		servicetest.WantErr(t, err, service.KindConflict, "ranking_published")
	}
	if ms := inbox(t, e, "manager"); len(ms) != 1 {
		t.Fatalf("manager told %d times", len(ms))
	}
	v, err := e.svc.Get(e.Ctx, street, draftID)
	servicetest.Must(t, err)
	black := lineOf(t, v, e.firms[0], e.compounds[0].ID)
	var appealID int64
	ok, errs = race(3, func(i int) error {
		ap, _, err := e.svc.Appeal(e.Ctx, manager, AppealInput{RankingID: draftID, LineID: black.ID, Target: model.AppealEntry,
			Text: "重复投诉应合并计算", IdemKey: fmt.Sprintf("race-%d", i)})
		if err == nil {
			appealID = ap.Appeal.ID
		}
		return err
	})
	if ok != 1 {
		t.Fatalf("%d appeals, errors %v", ok, errs)
	}
	for _, err := range errs {
		servicetest.WantErr(t, err, service.KindConflict, "appeal_pending")
	}
	ok, errs = race(3, func(int) error {
		_, err := e.svc.Decide(e.Ctx, street, appealID, DecideInput{Outcome: model.AppealCorrected, Text: "移出黑榜"})
		return err
	})
	if ok != 1 {
		t.Fatalf("%d decisions, errors %v", ok, errs)
	}
	for _, err := range errs {
		servicetest.WantErr(t, err, service.KindConflict, "")
	}
	var versions int64
	servicetest.Must(t, e.DB.Model(&model.Ranking{}).Where("period = ?", "2026Q2").Count(&versions).Error)
	if versions != 2 {
		t.Fatalf("%d versions after one correction", versions)
	}
}

// Without a notices capability the residents' notice goes to their
// inboxes through the messages capability.
func TestInboxNoticesFallback(t *testing.T) {
	e := newEnv(t)
	e.svc.notices = InboxNotices{Msgs: e.svc.msgs, DB: e.DB}
	e.scores.sets["2026Q2"] = e.quarter2()
	e.Clock.Set(beijingAt(2026, 9, 29, 10, 0))
	e.publishQuarter(t, "2026Q2")
	ms := inbox(t, e, "resident")
	if len(ms) != 1 || ms[0].Kind != message.KindEvaluation || !strings.Contains(ms[0].Body, "列入黑榜") {
		t.Fatalf("resident's inbox %+v", ms)
	}
}

// A district's list is the district staff's: street staff may not draft
// it, and its versions do not show in a street's lists.
func TestDistrictScope(t *testing.T) {
	e := newEnv(t)
	e.scores.sets["2026Q2"] = e.quarter2()
	e.Clock.Set(beijingAt(2026, 9, 29, 10, 0))
	e.Grant("community2", model.RoleDistrictStaff, model.ScopeDistrict, e.DistrictID, model.Ancestry{CityID: e.CityID, DistrictID: e.DistrictID})
	district := e.Actor("community2")
	in := DraftInput{Kind: kindList, ScopeKind: model.LevelDistrict, ScopeID: e.DistrictID, Period: "2026Q2"}
	_, err := e.svc.Draft(e.Ctx, e.Actor("street"), in)
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
	v, err := e.svc.Draft(e.Ctx, district, in)
	servicetest.Must(t, err)
	if v.Ranking.DistrictID != e.DistrictID || v.Ranking.StreetID != 0 || len(v.Lines) != 7 {
		t.Fatalf("district draft %+v", v.Ranking)
	}
	page, err := e.svc.List(e.Ctx, e.Actor("street"), Filter{}, service.Page{})
	servicetest.Must(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("street lists the district's draft")
	}
	if page, err := e.svc.List(e.Ctx, e.Actor("city"), Filter{}, service.Page{}); err != nil || len(page.Items) != 1 {
		t.Fatalf("city lists %v %v", page.Items, err)
	}
	// An appeal of a street's line of the district's list: the street's
	// staff list it and may read it, but only the district decides.
	v, err = e.svc.Publish(e.Ctx, district, v.Ranking.ID)
	servicetest.Must(t, err)
	black := lineOf(t, v, e.firms[0], e.compounds[0].ID)
	if black.Placement != model.PlacementBlack {
		t.Fatalf("line %+v, want black", black.RankingLine)
	}
	ap, _, err := e.svc.Appeal(e.Ctx, e.Actor("manager"), AppealInput{RankingID: v.Ranking.ID, LineID: black.ID,
		Target: model.AppealEntry, Text: "重复投诉应合并计算"})
	servicetest.Must(t, err)
	listed, err := e.svc.Appeals(e.Ctx, e.Actor("street"), AppealFilter{}, service.Page{})
	servicetest.Must(t, err)
	if len(listed.Items) != 1 || listed.Items[0].Appeal.ID != ap.Appeal.ID {
		t.Fatalf("street's appeals %+v", listed.Items)
	}
	_, err = e.svc.GetAppeal(e.Ctx, e.Actor("street"), ap.Appeal.ID)
	servicetest.Must(t, err)
	_, err = e.svc.Decide(e.Ctx, e.Actor("street"), ap.Appeal.ID, DecideInput{Outcome: model.AppealUpheld, Text: "维持原结果"})
	servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
	_, err = e.svc.GetAppeal(e.Ctx, e.Actor("community"), ap.Appeal.ID)
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
}

// A formula's own bands and list rule are kept whatever it leaves out: a
// formula with bands and no list keeps its bands; one that skips a grade
// never gives it, and its list rule is not lost for it.
func TestRuleOfSpecKeepsWhatTheFormulaStates(t *testing.T) {
	street := Scope{Kind: model.LevelStreet, ID: 1}
	onlyStars := ruleOfSpec(model.FormulaSpec{Stars: []model.StarBand{{Stars: 5, Min: 9500}, {Stars: 4, Min: 8500},
		{Stars: 3, Min: 7500}, {Stars: 2, Min: 6500}}}, street)
	if onlyStars.Valid() != "" || !slices.Equal(onlyStars.StarBands, []int64{9500, 8500, 7500, 6500}) || onlyStars.Mode != ModeRank {
		t.Fatalf("bands without a list rule: %+v (%s)", onlyStars, onlyStars.Valid())
	}
	gaps := ruleOfSpec(model.FormulaSpec{List: &model.ListRule{Kind: "threshold", Group: model.LevelStreet, RedMin: 9000, BlackMax: 6000},
		Stars: []model.StarBand{{Stars: 5, Min: 9000}, {Stars: 3, Min: 7000}}}, street)
	if gaps.Valid() != "" || gaps.Mode != ModeThreshold || gaps.RedMin != 9000 || gaps.BlackBelow != 6000 {
		t.Fatalf("a formula skipping grades lost its list rule: %+v (%s)", gaps, gaps.Valid())
	}
	for centi, stars := range map[int64]int{10000: 5, 9000: 5, 8999: 3, 7000: 3, 6999: 1, 0: 1} {
		if s := gaps.stars(centi); s != stars {
			t.Errorf("%d → %d stars, want %d", centi, s, stars)
		}
	}
	noFive := ruleOfSpec(model.FormulaSpec{Stars: []model.StarBand{{Stars: 4, Min: 8000}}}, street)
	if noFive.stars(10000) != 4 || noFive.stars(7999) != 1 {
		t.Errorf("only a 4-star band: 100 → %d, 79.99 → %d", noFive.stars(10000), noFive.stars(7999))
	}
}
