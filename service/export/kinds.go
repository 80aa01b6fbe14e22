package export

import (
	"context"
	"errors"
	"strconv"
	"time"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/dashboard"
	"redprop/service/meeting"
	"redprop/service/order"
)

// kind is how one kind of export is sized, named and built.
type kind struct {
	count func(s *Service, ctx context.Context, a *service.Actor, r Request) (int64, error)
	name  func(r Request, now time.Time) (chinese, ascii string)
	// build writes the workbook's sheets, calling progress with the rows
	// done, and returns the rows of its main sheet.
	build func(s *Service, ctx context.Context, a *service.Actor, r Request, b *book, total int64, progress func(int64)) (int64, error)
}

var kinds = map[string]kind{
	KindDashboard: {count: countDashboard, name: named("统计报表", "dashboard"), build: buildDashboard},
	KindOrders:    {count: countOrders, name: named("工单清单", "orders"), build: buildOrders},
	KindVote:      {count: countVote, name: named("表决结果", "vote"), build: buildVote},
	KindMeeting:   {count: countMeeting, name: named("签到表", "sign-in"), build: buildMeeting},
}

func named(chinese, ascii string) func(Request, time.Time) (string, string) {
	return func(r Request, now time.Time) (string, string) {
		day := now.In(calendar.Beijing).Format("20060102")
		id := ""
		switch {
		case r.VoteID != 0:
			id = "_" + strconv.FormatInt(r.VoteID, 10)
		case r.MeetingID != 0:
			id = "_" + strconv.FormatInt(r.MeetingID, 10)
		}
		return chinese + id + "_" + day + ".xlsx", ascii + id + "-" + day + ".xlsx"
	}
}

// Names of states and levels in the sheets.
var (
	channelNames = map[string]string{model.ChannelSelf: "居民自报", model.ChannelOnBehalf: "代报", model.ChannelPhone: "电话",
		model.ChannelPatrol: "巡查上报", model.ChannelCall: "一键呼叫"}
)

func dashQuery(r Request) dashboard.Query {
	return dashboard.Query{ScopeKind: r.ScopeKind, ScopeID: r.ScopeID, From: r.From, To: r.To, Category: r.Category}
}

// countDashboard checks the dashboard query; its tables are small.
func countDashboard(s *Service, ctx context.Context, a *service.Actor, r Request) (int64, error) {
	if _, err := s.dash.Get(ctx, a, dashQuery(r)); err != nil {
		return 0, err
	}
	return 1, nil
}

// rateValue is a rate as a share, nil without a denominator.
func rateValue(r dashboard.Rate) *float64 {
	if r.Denominator == 0 {
		return nil
	}
	v := float64(r.Numerator) / float64(r.Denominator)
	return &v
}

// hours is a quantile's estimate in hours, nil without samples.
func hours(q *dashboard.Quantile) *float64 {
	if q == nil {
		return nil
	}
	v := float64(q.Estimate.Round(time.Minute)) / float64(time.Hour)
	v = float64(int64(v*100+0.5)) / 100
	return &v
}

// figureColumns are the columns of a row of figures (drill-down, trend,
// categories), after the columns that name the row.
var figureColumns = []column{
	{"受理量", 9, colNumber}, {"办结量", 9, colNumber}, {"验收量", 9, colNumber}, {"当前逾期", 9, colNumber},
	{"响应率", 9, colPercent}, {"结案率", 9, colPercent}, {"按期结案率", 11, colPercent}, {"返工率", 9, colPercent},
	{"满意率", 9, colPercent}, {"接单时长中位数(小时)", 12, colNumber}, {"办结时长中位数(小时)", 12, colNumber},
	{"升级次数", 9, colNumber}, {"紧急呼叫", 9, colNumber},
}

func figureCells(f dashboard.Figures, overdue *int64) []any {
	var over any
	if overdue != nil {
		over = *overdue
	}
	esc := f.Escalations[model.OrderLevelCommunity] + f.Escalations[model.OrderLevelStreet] + f.Escalations[model.OrderLevelCity]
	return []any{f.Received, f.Completed, f.Confirmed, over, rateValue(f.Response), rateValue(f.Closure),
		rateValue(f.OnTimeClosure), rateValue(f.Rework), rateValue(f.Satisfaction), hours(f.TimeToAccept.Median),
		hours(f.TimeToComplete.Median), esc, f.Calls}
}

// buildDashboard writes the dashboard's tables: the figures, the states,
// the children ranked, the trend per day and the categories.
func buildDashboard(s *Service, ctx context.Context, a *service.Actor, r Request, b *book, _ int64, progress func(int64)) (int64, error) {
	q := dashQuery(r)
	d, err := s.dash.Get(ctx, a, q)
	if err != nil {
		return 0, err
	}
	f := d.Figures
	t, err := b.table("汇总", []column{{"指标", 24, colText}, {"数值", 12, colNumber}, {"比率", 10, colPercent},
		{"分子", 10, colNumber}, {"分母", 10, colNumber}, {"说明", 50, colText}}, 40)
	if err != nil {
		return 0, err
	}
	period := d.Period.From.Format(time.DateOnly) + " 至 " + d.Period.To.Format(time.DateOnly)
	rows := [][]any{
		{"统计范围", nil, nil, nil, nil, d.Scope.Name},
		{"统计期间", nil, nil, nil, nil, period},
		{"受理量", f.Received}, {"派单量", f.Dispatched}, {"接单量", f.Accepted}, {"退单量", f.Returned},
		{"办结量", f.Completed}, {"验收量", f.Confirmed}, {"返工量", f.Reworked}, {"评价量", f.Rated},
		{"满意量（4–5 星）", f.Satisfied}, {"关闭量", f.Closed}, {"超时环节数", f.OverdueMarks}, {"当前逾期工单", d.OverdueNow},
	}
	rate := func(name string, r dashboard.Rate, about string) []any {
		return []any{name, nil, rateValue(r), r.Numerator, r.Denominator, about}
	}
	rows = append(rows,
		rate("响应率", f.Response, "接单量 ÷ 派单量"),
		rate("结案率", f.Closure, "期间受理的工单中已结案（办结、不予受理、合并、撤销）的比例"),
		rate("按期结案率", f.OnTimeClosure, "期间受理的工单中未超时即结案的比例"),
		rate("返工率", f.Rework, "返工次数 ÷ 办结次数"),
		rate("满意率", f.Satisfaction, "4–5 星评价 ÷ 评价总数"),
	)
	dur := func(name string, d dashboard.Durations) [][]any {
		about := "由分档统计估算，真实值在所在分档之内"
		return [][]any{{name + "中位数(小时)", hours(d.Median), nil, nil, d.Samples, about}, {name + "P90(小时)", hours(d.P90), nil, nil, d.Samples, about}}
	}
	rows = append(rows, dur("接单时长", f.TimeToAccept)...)
	rows = append(rows, dur("办结时长", f.TimeToComplete)...)
	rows = append(rows,
		[]any{"升级至社区", f.Escalations[model.OrderLevelCommunity]}, []any{"升级至街道", f.Escalations[model.OrderLevelStreet]},
		[]any{"升级至市级", f.Escalations[model.OrderLevelCity]}, []any{"紧急呼叫", f.Calls}, []any{"紧急呼叫已响应", f.CallsAcked})
	rows = append(rows, dur("紧急呼叫响应时长", f.AckTime)...)
	for _, row := range rows {
		if err := t.row(row...); err != nil {
			return 0, err
		}
	}
	if err := t.close(); err != nil {
		return 0, err
	}
	if f.ByState != nil {
		t, err := b.table("工单状态", []column{{"状态", 14, colText}, {"工单数", 10, colNumber}}, int64(len(order.AllStates)))
		if err != nil {
			return 0, err
		}
		for _, st := range order.AllStates {
			if err := t.row(model.StateNames[st], f.ByState[st]); err != nil {
				return 0, err
			}
		}
		if err := t.close(); err != nil {
			return 0, err
		}
	}
	dr, err := s.dash.Children(ctx, a, q, r.Rank)
	switch {
	case err == nil:
		t, err := b.table("下级排名", append([]column{{"排名", 6, colNumber}, {"名称", 20, colText}}, figureColumns...), int64(len(dr.Children)))
		if err != nil {
			return 0, err
		}
		for _, c := range dr.Children {
			if err := t.row(append([]any{c.Rank, c.Scope.Name}, figureCells(c.Figures, &c.OverdueNow)...)...); err != nil {
				return 0, err
			}
		}
		if err := t.close(); err != nil {
			return 0, err
		}
	case !errors.Is(err, dashboard.ErrNoChildren):
		return 0, err
	}
	tr, err := s.dash.Trend(ctx, a, q, "day")
	if err != nil {
		return 0, err
	}
	t, err = b.table("每日趋势", append([]column{{"日期", 12, colDate}}, figureColumns...), int64(len(tr.Points)))
	if err != nil {
		return 0, err
	}
	for _, p := range tr.Points {
		if err := t.row(append([]any{p.From}, figureCells(p.Figures, nil)...)...); err != nil {
			return 0, err
		}
	}
	if err := t.close(); err != nil {
		return 0, err
	}
	t, err = b.table("工单类别", append([]column{{"类别", 16, colText}}, figureColumns...), int64(len(d.ByCategory)))
	if err != nil {
		return 0, err
	}
	for _, c := range d.ByCategory {
		if err := t.row(append([]any{c.Category.Name}, figureCells(c.Figures, nil)...)...); err != nil {
			return 0, err
		}
	}
	if err := t.close(); err != nil {
		return 0, err
	}
	progress(1)
	return 1, nil
}

var errOrderDate = service.Invalid("bad_date", "日期格式须为 YYYY-MM-DD")

// orderFilter is the order list's filter of r: created from From to To
// (Beijing dates, both included).
func orderFilter(r Request) (order.Filter, error) {
	f := order.Filter{Queue: r.Queue, States: r.States, Category: r.Category, CompoundID: r.CompoundID, Overdue: r.Overdue}
	if f.Queue == "" {
		f.Queue = order.QueueAll
	}
	for i, raw := range []string{r.From, r.To} {
		if raw == "" {
			continue
		}
		t, err := time.ParseInLocation(time.DateOnly, raw, calendar.Beijing)
		if err != nil {
			return f, errOrderDate
		}
		if i == 0 {
			f.From = &t
		} else {
			end := t.AddDate(0, 0, 1)
			f.To = &end
		}
	}
	return f, nil
}

func countOrders(s *Service, ctx context.Context, a *service.Actor, r Request) (int64, error) {
	f, err := orderFilter(r)
	if err != nil {
		return 0, err
	}
	return s.orders.Count(ctx, a, f)
}

// orderColumns are the order list's columns: the order, then the first
// time of each step of its timeline.
var orderColumns = []column{
	{"工单编号", 18, colText}, {"提交时间", 17, colTime}, {"类别", 12, colText}, {"状态", 9, colText}, {"当前层级", 9, colText},
	{"来源", 10, colText}, {"小区", 16, colText}, {"网格", 14, colText}, {"地点", 18, colText}, {"问题描述", 40, colText},
	{"处理单位", 18, colText}, {"维修人员", 10, colText}, {"是否超时", 9, colText}, {"超时环节数", 10, colNumber},
	{"核实时间", 17, colTime}, {"派单时间", 17, colTime}, {"接单时间", 17, colTime}, {"办结时间", 17, colTime},
	{"验收时间", 17, colTime}, {"评价时间", 17, colTime}, {"评分", 6, colNumber}, {"时间线步数", 10, colNumber},
}

// firstTimes are the first times of the steps in the order list's
// timeline columns.
type firstTimes struct {
	verified, dispatched, accepted, completed, confirmed, rated *time.Time
	steps                                                       int
}

func timelineOf(evs []model.OrderEvent) map[int64]*firstTimes {
	out := map[int64]*firstTimes{}
	for _, ev := range evs {
		ft := out[ev.OrderID]
		if ft == nil {
			ft = &firstTimes{}
			out[ev.OrderID] = ft
		}
		ft.steps++
		at := ev.CreatedAt
		first := func(p **time.Time) {
			if *p == nil {
				*p = &at
			}
		}
		switch {
		case ev.Action == "verify":
			first(&ft.verified)
		case ev.Action == "dispatch" || ev.Action == "auto_dispatch":
			first(&ft.dispatched)
		case ev.Action == "accept":
			first(&ft.accepted)
		case ev.Action == "confirm":
			first(&ft.confirmed)
		case ev.Action == "rate":
			first(&ft.rated)
		}
		if ev.ToState == model.StateCompleted && ev.FromState != ev.ToState {
			first(&ft.completed)
		}
	}
	return out
}

// orderPage is how many orders one page of the list export reads.
const orderPage = 100

func buildOrders(s *Service, ctx context.Context, a *service.Actor, r Request, b *book, total int64, progress func(int64)) (int64, error) {
	f, err := orderFilter(r)
	if err != nil {
		return 0, err
	}
	t, err := b.table("工单清单", orderColumns, total)
	if err != nil {
		return 0, err
	}
	var after, done int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		page, err := s.orders.List(ctx, a, f, service.Page{After: after, Limit: orderPage})
		if err != nil {
			return 0, err
		}
		ids := make([]int64, len(page.Items))
		for i, v := range page.Items {
			ids[i] = v.ID
		}
		evs, err := model.OrderEventsOf(ctx, s.db, ids)
		if err != nil {
			return 0, err
		}
		times := timelineOf(evs)
		for _, v := range page.Items {
			ft := times[v.ID]
			if ft == nil {
				ft = &firstTimes{}
			}
			late := "否"
			if v.Overdue || v.Breaches > 0 {
				late = "是"
			}
			place := v.HouseholdName
			if place == "" {
				place = v.Place
			}
			var rating any
			if v.RatingOverall > 0 {
				rating = v.RatingOverall
			}
			if err := t.row(v.Number, v.CreatedAt, v.CategoryName, model.StateNames[v.State], model.LevelNames[v.Level],
				channelName(v.Channel), v.CompoundName, v.GridName, place, v.Description, v.HandlerName, v.AssigneeName,
				late, v.Breaches, ft.verified, ft.dispatched, ft.accepted, ft.completed, ft.confirmed, ft.rated, rating,
				ft.steps); err != nil {
				return 0, err
			}
			done++
		}
		progress(done)
		if !page.More || len(page.Items) == 0 {
			break
		}
		after = page.Items[len(page.Items)-1].ID
		if done >= s.opts.MaxRows {
			break
		}
	}
	return done, t.close()
}

func channelName(c string) string {
	if n, ok := channelNames[c]; ok {
		return n
	}
	return c
}

func countVote(s *Service, ctx context.Context, a *service.Actor, r Request) (int64, error) {
	v, err := s.votes.Get(ctx, a, r.VoteID)
	if err != nil {
		return 0, err
	}
	return int64(len(v.Vote.Choices)) + v.Vote.Ballots, nil
}

var errVoteOpen = service.Unprocessable("vote_not_closed", "表决尚未结束，结束后才能导出结果")

// buildVote writes a closed vote's result per choice (ballots, area,
// heads and their shares of the roll), an overview, and for an open-ballot
// vote who voted what.
func buildVote(s *Service, ctx context.Context, a *service.Actor, r Request, b *book, _ int64, progress func(int64)) (int64, error) {
	vw, err := s.votes.Get(ctx, a, r.VoteID)
	if err != nil {
		return 0, err
	}
	v := vw.Vote
	if v.ClosedAt == nil {
		return 0, errVoteOpen
	}
	t, err := b.table("表决结果", []column{{"选项", 20, colText}, {"票数", 8, colNumber}, {"面积(㎡)", 12, colNumber},
		{"人数", 8, colNumber}, {"占总面积", 10, colPercent}, {"占总人数", 10, colPercent}, {"是否通过", 9, colText}},
		int64(len(v.Choices)))
	if err != nil {
		return 0, err
	}
	share := func(x, total int64) *float64 {
		if total == 0 {
			return nil
		}
		f := float64(x) / float64(total)
		return &f
	}
	for i, c := range v.Choices {
		var tl model.ChoiceTally
		if i < len(v.Tally) {
			tl = v.Tally[i]
		}
		won := ""
		if v.Winner != nil && *v.Winner == i {
			won = "通过"
		}
		if err := t.row(c, tl.Ballots, float64(tl.AreaCentiM2)/100, tl.Heads, share(tl.AreaCentiM2, v.TotalAreaCentiM2),
			share(tl.Heads, v.TotalHeads), won); err != nil {
			return 0, err
		}
	}
	if err := t.close(); err != nil {
		return 0, err
	}
	t, err = b.table("概况", []column{{"项目", 16, colText}, {"内容", 50, colText}, {"时间", 17, colTime}, {"数量", 12, colNumber}}, 10)
	if err != nil {
		return 0, err
	}
	for _, row := range [][]any{
		{"表决事项", v.Question}, {"小区", vw.CompoundName}, {"结果", v.Outcome},
		{"开始", nil, v.OpenedAt}, {"结束", nil, v.ClosedAt},
		{"总户数", nil, nil, v.TotalHouseholds}, {"总面积(㎡)", nil, nil, float64(v.TotalAreaCentiM2) / 100},
		{"总人数", nil, nil, v.TotalHeads}, {"参与户数", nil, nil, v.Ballots},
		{"参与面积(㎡)", nil, nil, float64(v.VotedAreaCentiM2) / 100}, {"参与人数", nil, nil, v.VotedHeads},
	} {
		if err := t.row(row...); err != nil {
			return 0, err
		}
	}
	if err := t.close(); err != nil {
		return 0, err
	}
	rows := int64(len(v.Choices))
	if v.OpenBallot {
		t, err := b.table("记名表决", []column{{"房屋", 20, colText}, {"选项", 16, colText}, {"投票人", 12, colText},
			{"面积(㎡)", 10, colNumber}, {"投票时间", 17, colTime}}, v.Ballots)
		if err != nil {
			return 0, err
		}
		var after int64
		for {
			page, err := s.votes.Ballots(ctx, a, v.ID, service.Page{After: after, Limit: 100})
			if err != nil {
				return 0, err
			}
			for _, bv := range page.Items {
				if err := t.row(bv.HouseholdLabel, bv.ChoiceLabel, bv.VoterName, float64(bv.Ballot.AreaCentiM2)/100, bv.Ballot.CreatedAt); err != nil {
					return 0, err
				}
				rows++
			}
			progress(rows)
			if !page.More || len(page.Items) == 0 {
				break
			}
			after = page.Items[len(page.Items)-1].Ballot.ID
		}
		if err := t.close(); err != nil {
			return 0, err
		}
	}
	return rows, nil
}

func countMeeting(s *Service, ctx context.Context, a *service.Actor, r Request) (int64, error) {
	m, err := s.meetings.Get(ctx, a, r.MeetingID)
	if err != nil {
		return 0, err
	}
	// The sign-in list is the managers' (Participants checks it too).
	if _, err := s.meetings.Participants(ctx, a, r.MeetingID, meeting.ParticipantFilter{}, service.Page{Limit: 1}); err != nil {
		return 0, err
	}
	if m.Counts == nil {
		return 0, nil
	}
	return m.Counts.Invited, nil
}

var rsvpNames = map[string]string{model.RSVPPending: "未回复", model.RSVPAttending: "参加", model.RSVPDeclined: "不参加"}

// buildMeeting writes a meeting's sign-in sheet: every participant with
// their answer and sign-in, and the meeting itself.
func buildMeeting(s *Service, ctx context.Context, a *service.Actor, r Request, b *book, total int64, progress func(int64)) (int64, error) {
	m, err := s.meetings.Get(ctx, a, r.MeetingID)
	if err != nil {
		return 0, err
	}
	t, err := b.table("签到表", []column{{"序号", 6, colNumber}, {"姓名", 14, colText}, {"所属", 20, colText},
		{"回复", 8, colText}, {"不参加原因", 24, colText}, {"回复时间", 17, colTime}, {"签到时间", 17, colTime},
		{"签到方式", 10, colText}, {"签名", 16, colText}}, total)
	if err != nil {
		return 0, err
	}
	var after, n int64
	for {
		page, err := s.meetings.Participants(ctx, a, m.ID, meeting.ParticipantFilter{}, service.Page{After: after, Limit: 100})
		if err != nil {
			return 0, err
		}
		for _, p := range page.Items {
			how := ""
			switch {
			case p.SignedInAt == nil:
			case p.SignedInBySelf:
				how = "本人扫码"
			default:
				how = "组织者代签"
			}
			n++
			if err := t.row(n, p.Name, p.GroupName, rsvpNames[p.RSVP], p.DeclineReason, p.RespondedAt, p.SignedInAt, how, ""); err != nil {
				return 0, err
			}
		}
		progress(n)
		if !page.More || len(page.Items) == 0 {
			break
		}
		after = page.Items[len(page.Items)-1].ID
	}
	if err := t.close(); err != nil {
		return 0, err
	}
	info, err := b.table("会议", []column{{"项目", 12, colText}, {"内容", 50, colText}, {"时间", 17, colTime}}, 6)
	if err != nil {
		return 0, err
	}
	for _, row := range [][]any{{"会议", m.Title}, {"组织者", m.OrganiserName}, {"范围", m.ScopeName}, {"地点", m.Place},
		{"开始", nil, m.StartsAt}, {"结束", nil, m.EndsAt}} {
		if err := info.row(row...); err != nil {
			return 0, err
		}
	}
	return n, info.close()
}
