package export

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/dashboard"
	"redprop/service/meeting"
	"redprop/service/message"
	"redprop/service/order"
	"redprop/service/photo"
	"redprop/service/servicetest"
	"redprop/service/vote"
	"redprop/service/wechat"
)

type env struct {
	*servicetest.City
	t        *testing.T
	orders   *order.Service
	dash     *dashboard.Service
	votes    *vote.Service
	meetings *meeting.Service
	svc      *Service
	cats     map[string]model.Category
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	c := servicetest.New(t, order.SeedCategories)
	photos := photo.New(c.DB, photo.NewLocalStorage(t.TempDir()), c.Clock, 1<<20, 0)
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), message.Config{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	rdb, prefix := dbtest.Redis(t)
	meetings, err := meeting.New(c.DB, rdb, c.Clock, msgs, meeting.Options{RedisPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{City: c, t: t, cats: map[string]model.Category{}, meetings: meetings,
		orders: order.New(c.DB, c.Clock, calendar.New(c.DB, c.Clock), photos, msgs, order.Options{}),
		dash:   dashboard.New(c.DB, c.Clock, dashboard.Options{}),
		votes:  vote.New(c.DB, c.Clock, msgs, vote.Options{})}
	e.svc = New(c.DB, c.Clock, e.orders, e.dash, e.votes, e.meetings, opts)
	cats, err := model.Categories(c.Ctx, c.DB, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, cat := range cats {
		e.cats[cat.Code] = cat
	}
	return e
}

// submit files n orders of the resident; the first one goes the whole
// way to completion.
func (e *env) submit(n int) []order.View {
	var out []order.View
	for i := range n {
		v, _, err := e.orders.Submit(e.Ctx, e.Actor("resident"), order.SubmitInput{CategoryID: e.cats["dispute"].ID,
			Description: "楼上漏水" + strconv.Itoa(i), HouseholdID: e.Households[0].ID})
		servicetest.Must(e.t, err)
		out = append(out, v)
		e.Clock.Advance(time.Minute)
	}
	id := out[0].ID
	for _, st := range []struct{ who, act string }{{"grid", order.ActVerify}, {"community", order.ActResolve}} {
		_, err := e.orders.Act(e.Ctx, e.Actor(st.who), id, st.act, order.Input{Note: "已调解"})
		servicetest.Must(e.t, err)
	}
	return out
}

// workbook writes f out and opens it with excelize.
func workbook(t *testing.T, f *File) (*excelize.File, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	servicetest.Must(t, f.Close())
	x, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x, buf.Bytes()
}

// checkSheet checks a sheet's header row is frozen and filtered, and
// that cell holds an Excel date (a number with a date format) equal to
// want (to the minute).
func checkSheet(t *testing.T, x *excelize.File, raw []byte, sheet, cell string, want time.Time) {
	t.Helper()
	panes, err := x.GetPanes(sheet)
	servicetest.Must(t, err)
	if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
		t.Errorf("%s: panes %+v, want the header row frozen", sheet, panes)
	}
	if !hasAutoFilter(t, x, raw, sheet) {
		t.Errorf("%s: no autofilter", sheet)
	}
	if cell == "" {
		return
	}
	v, err := x.GetCellValue(sheet, cell, excelize.Options{RawCellValue: true})
	servicetest.Must(t, err)
	serial, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("%s!%s = %q: not a number", sheet, cell, v)
	}
	styleID, err := x.GetCellStyle(sheet, cell)
	servicetest.Must(t, err)
	st, err := x.GetStyle(styleID)
	servicetest.Must(t, err)
	if st.CustomNumFmt == nil || !strings.Contains(*st.CustomNumFmt, "yyyy-mm-dd") {
		t.Errorf("%s!%s: number format %+v, want a date", sheet, cell, st.CustomNumFmt)
	}
	got, err := excelize.ExcelDateToTime(serial, false)
	servicetest.Must(t, err)
	w := want.In(calendar.Beijing)
	wall := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, 0, time.UTC)
	if d := got.Sub(wall); d < -time.Minute || d > time.Minute {
		t.Errorf("%s!%s = %v, want %v (Beijing wall time)", sheet, cell, got, wall)
	}
}

// hasAutoFilter reads the sheet's XML for its autoFilter element.
func hasAutoFilter(t *testing.T, x *excelize.File, raw []byte, sheet string) bool {
	t.Helper()
	idx, err := x.GetSheetIndex(sheet)
	servicetest.Must(t, err)
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	servicetest.Must(t, err)
	// Sheets are numbered in creation order.
	name := "xl/worksheets/sheet" + strconv.Itoa(idx+1) + ".xml"
	for _, f := range zr.File {
		if f.Name == name {
			r, err := f.Open()
			servicetest.Must(t, err)
			b, _ := io.ReadAll(r)
			r.Close()
			return bytes.Contains(b, []byte("<autoFilter ref=\"$A$1:"))
		}
	}
	t.Fatalf("no %s in the workbook", name)
	return false
}

func TestOrderListExport(t *testing.T) {
	e := newEnv(t, Options{SyncRows: 10, TTL: time.Hour})
	views := e.submit(3)
	community := e.Actor("community")

	e.Step(t, "a small list is built within the request", func(t *testing.T) {
		res, err := e.svc.Start(e.Ctx, community, Request{Kind: KindOrders})
		servicetest.Must(t, err)
		if res.File == nil || res.Job != nil || res.File.Rows != 3 {
			t.Fatalf("result %+v", res)
		}
		if !strings.HasPrefix(res.File.Filename, "工单清单_") || !strings.HasSuffix(res.File.ASCIIName, ".xlsx") {
			t.Errorf("names %q %q", res.File.Filename, res.File.ASCIIName)
		}
		x, raw := workbook(t, res.File)
		rows, err := x.GetRows("工单清单")
		servicetest.Must(t, err)
		if len(rows) != 4 || rows[0][0] != "工单编号" || rows[0][1] != "提交时间" {
			t.Fatalf("rows %v", rows)
		}
		// Newest first: the resolved order is the last row, with its
		// timeline's verify and completion times.
		last := views[0]
		if rows[3][0] != last.Number || rows[3][3] != "待验收" {
			t.Errorf("last row %v", rows[3])
		}
		checkSheet(t, x, raw, "工单清单", "B4", last.CreatedAt)
		o, err := model.ByID[model.Order](e.Ctx, e.DB, last.ID)
		servicetest.Must(t, err)
		checkSheet(t, x, raw, "工单清单", "R4", *o.CompletedAt) // 办结时间
	})

	e.Step(t, "a state named twice is refused, not kept as a job too long for its row", func(t *testing.T) {
		many := make([]string, 200)
		for i := range many {
			many[i] = model.StateSubmitted
		}
		for _, kind := range []string{KindOrders} {
			_, err := e.svc.Start(e.Ctx, community, Request{Kind: kind, States: many, Async: true})
			if err == nil {
				t.Fatalf("%s with 200 states: accepted", kind)
			}
			if se := new(service.Error); !errors.As(err, &se) || se.Kind != service.KindInvalid {
				t.Fatalf("%s with 200 states: %v, want a 400", kind, err)
			}
		}
	})

	e.Step(t, "a filter narrows it; another community sees none of it", func(t *testing.T) {
		res, err := e.svc.Start(e.Ctx, community, Request{Kind: KindOrders, States: []string{model.StateCompleted}})
		servicetest.Must(t, err)
		if res.File.Rows != 1 {
			t.Errorf("completed rows %d", res.File.Rows)
		}
		res.File.Close()
		res, err = e.svc.Start(e.Ctx, e.Actor("community2"), Request{Kind: KindOrders})
		servicetest.Must(t, err)
		if res.File.Rows != 0 {
			t.Errorf("community2 rows %d", res.File.Rows)
		}
		res.File.Close()
		_, err = e.svc.Start(e.Ctx, community, Request{Kind: KindOrders, From: "2026-02-30"})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_date")
		_, err = e.svc.Start(e.Ctx, community, Request{Kind: "pdf"})
		servicetest.WantErr(t, err, service.KindInvalid, "bad_export_kind")
	})

	var job model.ExportJob
	e.Step(t, "a big one is a job: queued, polled, built, downloaded", func(t *testing.T) {
		e.svc.opts.SyncRows = 2
		res, err := e.svc.Start(e.Ctx, community, Request{Kind: KindOrders})
		servicetest.Must(t, err)
		if res.Job == nil || res.Job.State != model.ExportQueued || res.Job.RowsTotal != 3 {
			t.Fatalf("result %+v", res)
		}
		job = *res.Job
		_, _, err = e.svc.Open(e.Ctx, community, job.ID)
		servicetest.WantErr(t, err, service.KindConflict, "export_not_ready")
		// Somebody else's job does not exist for them.
		_, err = e.svc.Job(e.Ctx, e.Actor("street"), job.ID)
		servicetest.WantErr(t, err, service.KindNotFound, "export_not_found")
		servicetest.Must(t, e.svc.Pass(e.Ctx))
		j, err := e.svc.Job(e.Ctx, community, job.ID)
		servicetest.Must(t, err)
		if j.State != model.ExportDone || j.RowsDone != 3 || j.RowsTotal != 3 || j.Bytes == 0 || j.ExpiresAt == nil {
			t.Fatalf("job %+v", j)
		}
		_, rc, err := e.svc.Open(e.Ctx, community, job.ID)
		servicetest.Must(t, err)
		raw, _ := io.ReadAll(rc)
		rc.Close()
		x, err := excelize.OpenReader(bytes.NewReader(raw))
		servicetest.Must(t, err)
		defer x.Close()
		rows, _ := x.GetRows("工单清单")
		if len(rows) != 4 {
			t.Errorf("rows %d", len(rows))
		}
		checkSheet(t, x, raw, "工单清单", "B2", views[2].CreatedAt)
		page, err := e.svc.Jobs(e.Ctx, community, service.Page{Limit: 10})
		servicetest.Must(t, err)
		if len(page.Items) != 1 || page.Items[0].ID != job.ID {
			t.Errorf("jobs %+v", page.Items)
		}
	})

	e.Step(t, "the file expires and is swept", func(t *testing.T) {
		e.Clock.Advance(time.Hour + time.Second)
		servicetest.Must(t, e.svc.Pass(e.Ctx))
		j, err := e.svc.Job(e.Ctx, community, job.ID)
		servicetest.Must(t, err)
		if j.State != model.ExportExpired {
			t.Fatalf("job %+v", j)
		}
		if n := chunksOf(t, e, j.ID); n != 0 {
			t.Errorf("the expired file still has %d chunks", n)
		}
		_, _, err = e.svc.Open(e.Ctx, community, job.ID)
		servicetest.WantErr(t, err, service.KindNotFound, "export_expired")
	})

	e.Step(t, "bounded: a full pool refuses, too many rows are refused", func(t *testing.T) {
		e.svc.opts.SyncRows = 10
		for range cap(e.svc.slots) {
			e.svc.slots <- struct{}{}
		}
		_, err := e.svc.Start(e.Ctx, community, Request{Kind: KindOrders})
		servicetest.WantErr(t, err, service.KindRateLimited, "export_busy")
		// A queued job waits while every worker is busy.
		res, err := e.svc.Start(e.Ctx, community, Request{Kind: KindOrders, Async: true})
		servicetest.Must(t, err)
		servicetest.Must(t, e.svc.Pass(e.Ctx))
		if j, _ := e.svc.Job(e.Ctx, community, res.Job.ID); j.State != model.ExportQueued {
			t.Errorf("job started with no free worker: %+v", j)
		}
		for range cap(e.svc.slots) {
			<-e.svc.slots
		}
		servicetest.Must(t, e.svc.Pass(e.Ctx))
		if j, _ := e.svc.Job(e.Ctx, community, res.Job.ID); j.State != model.ExportDone {
			t.Errorf("job not built once a worker is free: %+v", j)
		}
		e.svc.opts.MaxRows = 2
		_, err = e.svc.Start(e.Ctx, community, Request{Kind: KindOrders})
		servicetest.WantErr(t, err, service.KindUnprocessable, "export_too_large")
	})

	e.Step(t, "a running job whose instance stopped fails after the stale time", func(t *testing.T) {
		e.svc.opts.MaxRows = 100
		res, err := e.svc.Start(e.Ctx, community, Request{Kind: KindOrders, Async: true})
		servicetest.Must(t, err)
		ok, err := model.ClaimExport(e.Ctx, e.DB, res.Job.ID, "gone", e.Clock.Now())
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		e.Clock.Advance(e.svc.opts.Stale + time.Second)
		servicetest.Must(t, e.svc.Pass(e.Ctx))
		j, _ := e.svc.Job(e.Ctx, community, res.Job.ID)
		if j.State != model.ExportFailed || j.Error == "" {
			t.Errorf("stale job %+v", j)
		}
		_, _, err = e.svc.Open(e.Ctx, community, j.ID)
		servicetest.WantErr(t, err, service.KindUnprocessable, "export_failed")
	})
}

func chunksOf(t *testing.T, e *env, job int64) int64 {
	t.Helper()
	var n int64
	servicetest.Must(t, e.DB.Model(&model.ExportChunk{}).Where("job_id = ?", job).Count(&n).Error)
	return n
}

// TestExportJobFile: a job's file lives in the database, so another
// instance serves it; a grant revoked after the build stops the
// download, one revoked before it does not.
func TestExportJobFile(t *testing.T) {
	e := newEnv(t, Options{SyncRows: 1, Instance: "a"})
	e.submit(3)
	community := e.Actor("community")
	start := func() model.ExportJob {
		t.Helper()
		res, err := e.svc.Start(e.Ctx, community, Request{Kind: KindOrders})
		servicetest.Must(t, err)
		servicetest.Must(t, e.svc.Pass(e.Ctx))
		j, err := e.svc.Job(e.Ctx, community, res.Job.ID)
		servicetest.Must(t, err)
		if j.State != model.ExportDone || j.Instance != "a" {
			t.Fatalf("job %+v", j)
		}
		return j
	}
	j := start()
	if chunksOf(t, e, j.ID) != 1 {
		t.Fatalf("chunks %d, want 1", chunksOf(t, e, j.ID))
	}
	other := New(e.DB, e.Clock, e.orders, e.dash, e.votes, e.meetings, Options{Instance: "b"})
	_, rc, err := other.Open(e.Ctx, community, j.ID)
	servicetest.Must(t, err)
	raw, err := io.ReadAll(rc)
	servicetest.Must(t, err)
	rc.Close()
	if int64(len(raw)) != j.Bytes {
		t.Fatalf("another instance read %d bytes of %d", len(raw), j.Bytes)
	}
	x, err := excelize.OpenReader(bytes.NewReader(raw))
	servicetest.Must(t, err)
	rows, _ := x.GetRows("工单清单")
	x.Close()
	if len(rows) != 4 {
		t.Fatalf("rows %d, want a header and 3 orders", len(rows))
	}

	// A second grant, revoked after the file was built: the download is
	// refused, on any instance, even though the grant that showed the
	// orders is still held.
	e.Clock.Advance(time.Minute)
	g := model.Grant{UserID: community.UserID, Role: model.RoleCommunityStaff, ScopeKind: model.ScopeCommunity,
		ScopeID: community.Grants[0].ScopeID}
	servicetest.Must(t, model.Create(e.Ctx, e.DB, &g))
	j = start()
	e.Clock.Advance(time.Minute)
	if n, err := model.RevokeGrant(e.Ctx, e.DB, g.ID, community.UserID, e.Clock.Now().UTC()); err != nil || n != 1 {
		t.Fatalf("revoke: %d %v", n, err)
	}
	for _, s := range []*Service{e.svc, other} {
		_, _, err = s.Open(e.Ctx, community, j.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "export_grant_revoked")
	}
	// Exported again after the revocation: downloadable.
	e.Clock.Advance(time.Minute)
	j = start()
	_, rc, err = other.Open(e.Ctx, community, j.ID)
	servicetest.Must(t, err)
	rc.Close()
}

func TestDashboardExport(t *testing.T) {
	e := newEnv(t, Options{})
	e.submit(3)
	e.Clock.Advance(2 * time.Minute)
	_, err := e.dash.Refresh(e.Ctx)
	servicetest.Must(t, err)
	q := Request{Kind: KindDashboard, ScopeKind: model.ScopeStreet, ScopeID: e.StreetID}
	res, err := e.svc.Start(e.Ctx, e.Actor("street"), q)
	servicetest.Must(t, err)
	x, raw := workbook(t, res.File)
	if got := strings.Join(x.GetSheetList(), ","); got != "汇总,工单状态,下级排名,每日趋势,工单类别" {
		t.Fatalf("sheets %s", got)
	}
	rows, _ := x.GetRows("汇总")
	if rows[3][0] != "受理量" || rows[3][1] != "3" {
		t.Errorf("汇总 %v", rows[:4])
	}
	ranked, _ := x.GetRows("下级排名")
	if len(ranked) != 3 || ranked[1][1] != e.Communities[0].Name || ranked[1][2] != "3" {
		t.Errorf("下级排名 %v", ranked)
	}
	for _, sh := range x.GetSheetList() {
		checkSheet(t, x, raw, sh, "", time.Time{})
	}
	// The last day of the trend is today, as a date.
	days, _ := x.GetRows("每日趋势")
	checkSheet(t, x, raw, "每日趋势", "A"+strconv.Itoa(len(days)), today(e.Clock.Now()))
	_, err = e.svc.Start(e.Ctx, e.Actor("community2"), Request{Kind: KindDashboard, ScopeKind: model.ScopeCommunity, ScopeID: e.Communities[0].ID})
	servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
}

func TestVoteAndSignInExports(t *testing.T) {
	e := newEnv(t, Options{})
	committee := e.Actor("committee")
	now := e.Clock.Now()
	v, _, err := e.votes.Create(e.Ctx, committee, vote.CreateInput{CompoundID: e.Compounds[0].ID, Question: "是否更换小区门禁系统",
		OpenBallot: true, OpensAt: now.Add(time.Hour), ClosesAt: now.Add(49 * time.Hour)})
	servicetest.Must(t, err)
	_, err = e.svc.Start(e.Ctx, committee, Request{Kind: KindVote, VoteID: v.Vote.ID})
	servicetest.WantErr(t, err, service.KindUnprocessable, "vote_not_closed")
	e.Clock.Set(v.Vote.OpensAt)
	_, err = e.votes.Tick(e.Ctx)
	servicetest.Must(t, err)
	_, err = e.votes.Cast(e.Ctx, e.Actor("resident"), v.Vote.ID, vote.CastInput{HouseholdID: e.Households[0].ID, Choice: 0})
	servicetest.Must(t, err)
	e.Clock.Set(v.Vote.ClosesAt)
	_, err = e.votes.Tick(e.Ctx)
	servicetest.Must(t, err)
	res, err := e.svc.Start(e.Ctx, committee, Request{Kind: KindVote, VoteID: v.Vote.ID})
	servicetest.Must(t, err)
	x, raw := workbook(t, res.File)
	rows, _ := x.GetRows("表决结果")
	if len(rows) != 4 || rows[1][0] != "同意" || rows[1][1] != "1" {
		t.Errorf("表决结果 %v", rows)
	}
	checkSheet(t, x, raw, "表决结果", "", time.Time{})
	checkSheet(t, x, raw, "记名表决", "E2", v.Vote.OpensAt)
	// A request too long to keep as a job is refused, whatever its kind.
	many := make([]string, 200)
	for i := range many {
		many[i] = model.StateSubmitted
	}
	_, err = e.svc.Start(e.Ctx, committee, Request{Kind: KindVote, VoteID: v.Vote.ID, States: many, Async: true})
	servicetest.WantErr(t, err, service.KindInvalid, "bad_export_request")
	// A resident of another compound may not export it.
	_, err = e.svc.Start(e.Ctx, e.Actor("resident2"), Request{Kind: KindVote, VoteID: v.Vote.ID})
	servicetest.WantCode(t, err, "out_of_scope")

	m, _, err := e.meetings.Create(e.Ctx, e.Actor("community"), meeting.CreateInput{Kind: model.MeetingJoint, Title: "联席会议",
		ScopeKind: model.ScopeCommunity, ScopeID: e.Communities[0].ID, StartsAt: now.Add(72 * time.Hour), EndsAt: now.Add(74 * time.Hour),
		Place: "社区会议室", UserIDs: []int64{e.Users["resident"], e.Users["manager"]}})
	servicetest.Must(t, err)
	res, err = e.svc.Start(e.Ctx, e.Actor("community"), Request{Kind: KindMeeting, MeetingID: m.ID})
	servicetest.Must(t, err)
	x, raw = workbook(t, res.File)
	rows, _ = x.GetRows("签到表")
	if len(rows) != 3 || rows[0][1] != "姓名" {
		t.Errorf("签到表 %v", rows)
	}
	checkSheet(t, x, raw, "签到表", "", time.Time{})
	checkSheet(t, x, raw, "会议", "C6", m.StartsAt)
	_, err = e.svc.Start(e.Ctx, e.Actor("resident"), Request{Kind: KindMeeting, MeetingID: m.ID})
	if err == nil {
		t.Error("a participant exported the sign-in sheet")
	}
}

// today is the Beijing midnight of t's day.
func today(t time.Time) time.Time {
	b := t.In(calendar.Beijing)
	return time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, calendar.Beijing)
}
