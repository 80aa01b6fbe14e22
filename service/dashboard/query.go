package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
)

// Query asks for the figures of one scope over a period of Beijing dates
// (YYYY-MM-DD, both included; the last 30 days up to today by default),
// of one category (a code, with its sub-kinds) or all.
type Query struct {
	ScopeKind string
	ScopeID   int64
	From, To  string
	Category  string
}

// maxDays bounds a period: two years of days.
const maxDays = 731

var (
	errDate     = service.Invalid("bad_date", "日期格式须为 YYYY-MM-DD")
	errPeriod   = service.Invalid("bad_period", "开始日期不能晚于结束日期，且统计区间不超过两年")
	errCategory = service.Invalid("bad_category", "工单类别不存在")
	errInterval = service.Invalid("bad_interval", "时间粒度只能是 day 或 week")
	errRank     = service.Invalid("bad_rank", "排序指标只能是 received、completed、overdue_now、response_rate、closure_rate、on_time_rate、rework_rate 或 satisfaction_rate")
)

// Period is a query's days, resolved.
type Period struct {
	From, To time.Time // Beijing midnights, both days included
}

// Days is the period's from and to as rollup days.
func (p Period) Days() (int, int) { return Day(p.From), Day(p.To) }

// Rate is a share with its numerator and denominator.
type Rate struct{ Numerator, Denominator int64 }

// Quantile is a duration read from a histogram: the true value lies in
// [Lower, Upper) — Upper is 0 for the open last bucket (14 days and
// more) — and Estimate interpolates linearly within that bucket.
type Quantile struct {
	Estimate, Lower, Upper time.Duration
}

// Durations summarises one histogram: how many samples, median and p90
// (nil without samples).
type Durations struct {
	Samples     int64
	Median, P90 *Quantile
}

// Figures are the dashboard's numbers over a period.
type Figures struct {
	Received, Dispatched, Accepted, Returned, Completed, Confirmed, Reworked, Rated, Satisfied, Closed int64
	OverdueMarks                                                                                       int64 // steps that ran past their deadline
	// ByState and ByLevel are where the orders received in the period
	// stand now (nil for a firm: its orders are counted in the tree).
	ByState, ByLevel map[string]int64
	// The rates: 响应率 accepted of dispatched; 结案率 and 按期结案率
	// settled (completed, rejected, merged or cancelled) and settled
	// before any deadline passed, of the orders received in the period;
	// 返工率 reworks of completions; 满意率 ratings of 4–5 stars of all
	// ratings.
	Response, Closure, OnTimeClosure, Rework, Satisfaction Rate
	// TimeToAccept and TimeToComplete run from submission to the first
	// acceptance and the first completion of orders accepted or completed
	// in the period.
	TimeToAccept, TimeToComplete Durations
	// Escalations by the level escalated to.
	Escalations map[string]int64
	Calls       int64 // emergency calls
	CallsAcked  int64
	AckTime     Durations // from the call to its first response
}

// figures reads the counters of c.
func figures(c *model.Counts, firm bool) Figures {
	f := Figures{
		Received: c[model.RReceived], Dispatched: c[model.RDispatched], Accepted: c[model.RAccepted],
		Returned: c[model.RReturned], Completed: c[model.RCompleted], Confirmed: c[model.RConfirmed],
		Reworked: c[model.RReworked], Rated: c[model.RRated], Satisfied: c[model.RSatisfied], Closed: c[model.RClosed],
		OverdueMarks: c[model.ROverdue],
		Response:     Rate{c[model.RAccepted], c[model.RDispatched]},
		Rework:       Rate{c[model.RReworked], c[model.RCompleted]},
		Satisfaction: Rate{c[model.RSatisfied], c[model.RRated]},
		Escalations: map[string]int64{model.OrderLevelCommunity: c[model.REscCommunity],
			model.OrderLevelStreet: c[model.REscStreet], model.OrderLevelCity: c[model.REscCity]},
		Calls: c[model.RCalls], CallsAcked: c[model.RCallsAcked],
		TimeToAccept:   durations(c[model.RAccHist : model.RAccHist+model.HistBuckets]),
		TimeToComplete: durations(c[model.RCmpHist : model.RCmpHist+model.HistBuckets]),
		AckTime:        durations(c[model.RAckHist : model.RAckHist+model.HistBuckets]),
	}
	if !firm {
		f.Closure = Rate{c[model.RSettled], c[model.RReceived]}
		f.OnTimeClosure = Rate{c[model.RSettledOnTime], c[model.RReceived]}
		f.ByState = map[string]int64{}
		for st, col := range stateCol {
			f.ByState[st] = c[col]
		}
		f.ByLevel = map[string]int64{}
		for lv, col := range levelCol {
			f.ByLevel[lv] = c[col]
		}
	}
	return f
}

// durations reads a histogram's median and p90.
func durations(h []int64) Durations {
	var n int64
	for _, x := range h {
		n += x
	}
	d := Durations{Samples: n}
	if n == 0 {
		return d
	}
	d.Median, d.P90 = quantile(h, n, 0.5), quantile(h, n, 0.9)
	return d
}

// quantile finds the bucket holding the q-th sample (by rank, ceil(q·n))
// and interpolates within it.
func quantile(h []int64, n int64, q float64) *Quantile {
	rank := int64(q*float64(n) + 0.999999)
	rank = max(1, min(rank, n))
	var before int64
	for b, x := range h {
		if before+x < rank {
			before += x
			continue
		}
		var lo, hi time.Duration
		if b > 0 {
			lo = histBounds[b-1]
		}
		if b >= len(histBounds) {
			return &Quantile{Estimate: lo, Lower: lo}
		}
		hi = histBounds[b]
		est := lo + time.Duration(float64(hi-lo)*(float64(rank-before)-0.5)/float64(x))
		return &Quantile{Estimate: est.Round(time.Second), Lower: lo, Upper: hi}
	}
	return nil
}

// Dashboard is one scope's figures over a period.
type Dashboard struct {
	Scope      Scope
	Period     Period
	Category   *model.Category
	Figures    Figures
	OverdueNow int64 // open orders overdue at this moment
	ByCategory []CategoryFigures
	AsOf       time.Time // the refresh the figures come from
}

// CategoryFigures are the figures of one category.
type CategoryFigures struct {
	Category model.Category
	Figures  Figures
}

// openStates are the states in which an order can be overdue now.
var openStates = []string{model.StateSubmitted, model.StateVerified, model.StateDispatched,
	model.StateAccepted, model.StateInProgress, model.StateCompleted}

// prepared is a checked query.
type prepared struct {
	scope    Scope
	period   Period
	category *model.Category
	cats     []int64 // the category and its sub-kinds; nil for all
	all      map[int64]model.Category
}

func (s *Service) prepare(ctx context.Context, a *service.Actor, q Query) (prepared, error) {
	var p prepared
	var err error
	if p.period, err = s.period(q.From, q.To); err != nil {
		return p, err
	}
	if p.scope, err = s.scope(ctx, a, q.ScopeKind, q.ScopeID); err != nil {
		return p, err
	}
	cats, err := s.categories(ctx)
	if err != nil {
		return p, err
	}
	p.all = map[int64]model.Category{}
	for _, c := range cats {
		p.all[c.ID] = c
	}
	if code := strings.TrimSpace(q.Category); code != "" {
		for _, c := range cats {
			if c.Code == code {
				c := c
				p.category = &c
			}
			if c.Code == code || c.ParentCode == code {
				p.cats = append(p.cats, c.ID)
			}
		}
		if p.category == nil {
			return p, errCategory
		}
	}
	return p, nil
}

// period parses from and to (Beijing dates), with the defaults.
func (s *Service) period(from, to string) (Period, error) {
	now := s.clock.Now().In(calendar.Beijing)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, calendar.Beijing)
	p := Period{From: today.AddDate(0, 0, -29), To: today}
	var err error
	if to != "" {
		if p.To, err = time.ParseInLocation(time.DateOnly, to, calendar.Beijing); err != nil {
			return p, errDate
		}
		if from == "" {
			p.From = p.To.AddDate(0, 0, -29)
		}
	}
	if from != "" {
		if p.From, err = time.ParseInLocation(time.DateOnly, from, calendar.Beijing); err != nil {
			return p, errDate
		}
	}
	if p.From.After(p.To) || p.To.Sub(p.From) > maxDays*24*time.Hour {
		return p, errPeriod
	}
	return p, nil
}

// rollupQuery is the rollup query of p's own scope.
func (p prepared) rollupQuery(group string) model.RollupQuery {
	from, to := p.period.Days()
	return model.RollupQuery{ScopeKind: p.scope.Kind, ScopeID: p.scope.ID, FromDay: from, ToDay: to,
		Categories: p.cats, GroupBy: group}
}

// overdueScope is the overdue count of p's scope, by a child column when
// by is set.
func (p prepared) overdueScope(by string) model.OverdueScope {
	if p.scope.Kind == model.ScopeFirm {
		return model.OverdueScope{Firm: true, ID: p.scope.ID, By: by}
	}
	return model.OverdueScope{Column: model.TreeColumn(p.scope.Kind), ID: p.scope.ID, By: by}
}

// overdue counts the open orders overdue now in sc, per key, of p's
// categories.
// The map returned is shared: callers must not change it.
func (s *Service) overdue(ctx context.Context, p prepared, sc model.OverdueScope) (map[int64]int64, error) {
	sc.Categories = p.cats
	key := fmt.Sprintf("%t|%s|%d|%s|%v", sc.Firm, sc.Column, sc.ID, sc.By, sc.Categories)
	return s.overdues.get(key, s.clock.Now(), s.opts.Fresh, func() (map[int64]int64, error) {
		return model.OverdueNow(ctx, s.db, sc, openStates)
	})
}

// Get returns the dashboard of one scope.
func (s *Service) Get(ctx context.Context, a *service.Actor, q Query) (Dashboard, error) {
	p, err := s.prepare(ctx, a, q)
	if err != nil {
		return Dashboard{}, err
	}
	firm := p.scope.Kind == model.ScopeFirm
	d := Dashboard{Scope: p.scope, Period: p.period, Category: p.category}
	w, err := s.mark(ctx)
	if err != nil {
		return d, err
	}
	d.AsOf = w.UpdatedAt
	// One read per category; the scope's figures are their sum.
	byCat, err := s.sums(ctx, w.LastID, p.rollupQuery("category_id"))
	if err != nil {
		return d, err
	}
	var total model.Counts
	for _, r := range byCat {
		total.Add(&r.Counts)
	}
	d.Figures = figures(&total, firm)
	for _, r := range byCat {
		if r.Counts.IsZero() {
			continue
		}
		d.ByCategory = append(d.ByCategory, CategoryFigures{Category: p.all[r.Key], Figures: figures(&r.Counts, firm)})
	}
	slices.SortStableFunc(d.ByCategory, func(x, y CategoryFigures) int { return cmp.Compare(y.Figures.Received, x.Figures.Received) })
	over, err := s.overdue(ctx, p, p.overdueScope(""))
	if err != nil {
		return d, err
	}
	d.OverdueNow = over[0]
	return d, nil
}

// Child is one child scope's figures in a drill-down.
type Child struct {
	Scope      Scope
	Rank       int
	Figures    Figures
	OverdueNow int64
}

// Drill is a scope's children side by side, ranked.
type Drill struct {
	Scope    Scope
	Period   Period
	Category *model.Category
	RankBy   string
	Children []Child
	AsOf     time.Time
}

// rankers are the figures a drill-down ranks by, highest first (a rate
// without a denominator last).
var rankers = map[string]func(c Child) (float64, bool){
	"received":          func(c Child) (float64, bool) { return float64(c.Figures.Received), true },
	"completed":         func(c Child) (float64, bool) { return float64(c.Figures.Completed), true },
	"overdue_now":       func(c Child) (float64, bool) { return float64(c.OverdueNow), true },
	"response_rate":     func(c Child) (float64, bool) { return c.Figures.Response.value() },
	"closure_rate":      func(c Child) (float64, bool) { return c.Figures.Closure.value() },
	"on_time_rate":      func(c Child) (float64, bool) { return c.Figures.OnTimeClosure.value() },
	"rework_rate":       func(c Child) (float64, bool) { return c.Figures.Rework.value() },
	"satisfaction_rate": func(c Child) (float64, bool) { return c.Figures.Satisfaction.value() },
}

func (r Rate) value() (float64, bool) {
	if r.Denominator == 0 {
		return 0, false
	}
	return float64(r.Numerator) / float64(r.Denominator), true
}

// Children returns the figures of each child of the scope (a street's
// communities, a community's grids …), every child listed even without
// orders, ranked by rank (received by default).
func (s *Service) Children(ctx context.Context, a *service.Actor, q Query, rank string) (Drill, error) {
	if rank == "" {
		rank = "received"
	}
	ranker, ok := rankers[rank]
	if !ok {
		return Drill{}, errRank
	}
	p, err := s.prepare(ctx, a, q)
	if err != nil {
		return Drill{}, err
	}
	kind, ok := childKind[p.scope.Kind]
	if !ok {
		return Drill{}, errNoChildren
	}
	d := Drill{Scope: p.scope, Period: p.period, Category: p.category, RankBy: rank}
	nodes, err := s.children.get(kind+"|"+strconv.FormatInt(p.scope.ID, 10), s.clock.Now(), s.opts.Fresh, func() ([]model.ScopeNode, error) {
		return model.ChildScopes(ctx, s.db, kind, p.scope.ID)
	})
	if err != nil {
		return d, err
	}
	w, err := s.mark(ctx)
	if err != nil {
		return d, err
	}
	d.AsOf = w.UpdatedAt
	from, to := p.period.Days()
	sums, err := s.sums(ctx, w.LastID, model.RollupQuery{ScopeKind: kind, ParentID: p.scope.ID, Children: true,
		FromDay: from, ToDay: to, Categories: p.cats, GroupBy: "scope_id"})
	if err != nil {
		return d, err
	}
	byID := map[int64]*model.Counts{}
	for i := range sums {
		byID[sums[i].Key] = &sums[i].Counts
	}
	over, err := s.overdue(ctx, p, p.overdueScope(childColumn[kind]))
	if err != nil {
		return d, err
	}
	for _, n := range nodes {
		c := byID[n.ID]
		if c == nil {
			c = &model.Counts{}
		}
		d.Children = append(d.Children, Child{Scope: Scope{Kind: kind, ID: n.ID, Name: n.Name}, Figures: figures(c, false),
			OverdueNow: over[n.ID]})
	}
	slices.SortStableFunc(d.Children, func(x, y Child) int {
		vx, okx := ranker(x)
		vy, oky := ranker(y)
		switch {
		case okx != oky:
			if okx {
				return -1
			}
			return 1
		case vx != vy:
			return cmp.Compare(vy, vx)
		}
		return cmp.Compare(x.Scope.ID, y.Scope.ID)
	})
	for i := range d.Children {
		d.Children[i].Rank = i + 1
	}
	return d, nil
}

// Point is one day or week of a trend.
type Point struct {
	From, To time.Time // Beijing midnights, both days included
	Figures  Figures
}

// Trend is a scope's figures per day or week.
type Trend struct {
	Scope    Scope
	Period   Period
	Category *model.Category
	Interval string
	Points   []Point
	AsOf     time.Time
}

// Trend returns the figures of the scope per day or per week (weeks
// start on Monday; the first and last may be cut by the period), every
// day or week of the period present, ready for a chart.
func (s *Service) Trend(ctx context.Context, a *service.Actor, q Query, interval string) (Trend, error) {
	if interval == "" {
		interval = "day"
	}
	if interval != "day" && interval != "week" {
		return Trend{}, errInterval
	}
	p, err := s.prepare(ctx, a, q)
	if err != nil {
		return Trend{}, err
	}
	firm := p.scope.Kind == model.ScopeFirm
	tr := Trend{Scope: p.scope, Period: p.period, Category: p.category, Interval: interval}
	w, err := s.mark(ctx)
	if err != nil {
		return tr, err
	}
	tr.AsOf = w.UpdatedAt
	sums, err := s.sums(ctx, w.LastID, p.rollupQuery("day"))
	if err != nil {
		return tr, err
	}
	byDay := map[int]*model.Counts{}
	for i := range sums {
		byDay[int(sums[i].Key)] = &sums[i].Counts
	}
	var cur *Point
	var acc model.Counts
	flush := func() {
		if cur != nil {
			cur.Figures = figures(&acc, firm)
			tr.Points = append(tr.Points, *cur)
			cur, acc = nil, model.Counts{}
		}
	}
	for day := p.period.From; !day.After(p.period.To); day = day.AddDate(0, 0, 1) {
		if cur != nil && (interval == "day" || day.Weekday() == time.Monday) {
			flush()
		}
		if cur == nil {
			cur = &Point{From: day}
		}
		cur.To = day
		if c := byDay[Day(day)]; c != nil {
			acc.Add(c)
		}
	}
	flush()
	return tr, nil
}

// FiguresOf reads the figures of tree-scope counters (for tests and
// exports of sums made elsewhere).
func FiguresOf(c *model.Counts) Figures { return figures(c, false) }
