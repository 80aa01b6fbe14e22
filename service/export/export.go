// Package export builds the .xlsx files officials take away: dashboard
// tables, filtered order lists with their timeline, vote results and
// meeting sign-in sheets. A small export is built within its request; a
// big one is a job (queued in the database, built by a bounded pool in
// whichever instance claims it, its progress polled, its file kept in the
// database, so that any instance serves it, until it expires and is
// swept; a download is refused once a grant the file was built with has
// been revoked). Every export reads through the capabilities'
// own service calls with the requester's grants, so it shows exactly what
// they may see. It must not import gin or api/.
package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/dashboard"
	"redprop/service/meeting"
	"redprop/service/order"
	"redprop/service/vote"
)

// Orders is what an order list export reads. *order.Service implements it.
type Orders interface {
	List(ctx context.Context, a *service.Actor, f order.Filter, p service.Page) (service.Paged[order.View], error)
	Count(ctx context.Context, a *service.Actor, f order.Filter) (int64, error)
}

// Dashboards is what a dashboard export reads. *dashboard.Service
// implements it.
type Dashboards interface {
	Get(ctx context.Context, a *service.Actor, q dashboard.Query) (dashboard.Dashboard, error)
	Children(ctx context.Context, a *service.Actor, q dashboard.Query, rank string) (dashboard.Drill, error)
	Trend(ctx context.Context, a *service.Actor, q dashboard.Query, interval string) (dashboard.Trend, error)
}

// Votes is what a vote result export reads. *vote.Service implements it.
type Votes interface {
	Get(ctx context.Context, a *service.Actor, id int64) (vote.View, error)
	Ballots(ctx context.Context, a *service.Actor, id int64, p service.Page) (service.Paged[vote.BallotView], error)
}

// Meetings is what a sign-in sheet reads. *meeting.Service implements it.
type Meetings interface {
	Get(ctx context.Context, a *service.Actor, id int64) (meeting.View, error)
	Participants(ctx context.Context, a *service.Actor, id int64, f meeting.ParticipantFilter, p service.Page) (service.Paged[meeting.ParticipantView], error)
}

// Options tune the exports.
type Options struct {
	// SyncRows is the most rows an export is built within its request
	// (default 2,000); MaxRows the most any export may have (default
	// 200,000).
	SyncRows, MaxRows int64
	// Workers bounds the exports one instance builds at once, jobs and
	// in-request ones together (default 2).
	Workers int
	// TTL is how long a job's file stays downloadable (default 24 h).
	TTL time.Duration
	// Stale fails a running job whose builder has given no progress for
	// this long: its instance stopped (default 10 min).
	Stale time.Duration
	// Instance names this process in the jobs it claims.
	Instance string
	Log      *slog.Logger
}

// Service is the exports capability.
type Service struct {
	db       *gorm.DB
	clock    service.Clock
	orders   Orders
	dash     Dashboards
	votes    Votes
	meetings Meetings
	opts     Options
	log      *slog.Logger
	slots    chan struct{}
	poke     chan struct{}
	running  sync.WaitGroup
}

// New returns the service.
func New(db *gorm.DB, clock service.Clock, orders Orders, dash Dashboards, votes Votes, meetings Meetings, opts Options) *Service {
	if opts.SyncRows <= 0 {
		opts.SyncRows = 2000
	}
	if opts.MaxRows <= 0 {
		opts.MaxRows = 200_000
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.TTL <= 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.Stale <= 0 {
		opts.Stale = 10 * time.Minute
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, clock: clock, orders: orders, dash: dash, votes: votes, meetings: meetings, opts: opts, log: log,
		slots: make(chan struct{}, opts.Workers), poke: make(chan struct{}, 1)}
}

// Kinds of export.
const (
	KindDashboard = "dashboard"
	KindOrders    = "orders"
	KindVote      = "vote"
	KindMeeting   = "meeting_sign_in"
)

// Request is what to export. It is kept with a job as JSON and replayed
// when the job is built.
type Request struct {
	Kind string `json:"kind"`
	// A dashboard (its figures, children ranked, trend, categories) or an
	// order list's period and category.
	ScopeKind string `json:"scope_kind,omitempty"`
	ScopeID   int64  `json:"scope_id,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
	Category  string `json:"category,omitempty"`
	Interval  string `json:"interval,omitempty"`
	Rank      string `json:"rank,omitempty"`
	// An order list: the queue (all by default) and its filters.
	Queue      string   `json:"queue,omitempty"`
	States     []string `json:"states,omitempty"`
	Overdue    *bool    `json:"overdue,omitempty"`
	CompoundID int64    `json:"compound_id,omitempty"`
	// A vote's results, a meeting's sign-in sheet.
	VoteID    int64 `json:"vote_id,omitempty"`
	MeetingID int64 `json:"meeting_id,omitempty"`
	// Async asks for a job whatever the size.
	Async bool `json:"-"`
}

var (
	errKind     = service.Invalid("bad_export_kind", "导出类型只能是 dashboard、orders、vote 或 meeting_sign_in")
	errBusy     = service.RateLimited("export_busy", "正在生成的导出较多，请稍后再试", 30*time.Second)
	errJobGone  = service.NotFound("export_not_found", "导出任务不存在")
	errNotReady = service.Conflict("export_not_ready", "导出尚未完成，请稍后再下载")
	errExpired  = service.NotFound("export_expired", "导出文件已过期，请重新导出")
	errFailed   = service.Unprocessable("export_failed", "导出失败，请重新导出")
	errNoFile   = service.NotFound("export_file_missing", "导出文件已不存在，请重新导出")
	errRevoked  = service.Forbidden("export_grant_revoked", "导出后您的权限已有变动，请重新导出")
	errTooLong  = service.Invalid("bad_export_request", "导出条件过长，请减少筛选条件")
)

func errTooBig(limit int64) error {
	return service.Unprocessable("export_too_large",
		fmt.Sprintf("符合条件的记录超过 %d 条，请缩小筛选范围（如按日期、类别或状态）后再导出", limit))
}

// File is an export built within its request; the caller writes it out
// and closes it.
type File struct {
	book      *book
	release   func()
	Rows      int64
	Filename  string // Chinese, for Content-Disposition's filename*
	ASCIIName string
}

// WriteTo writes the .xlsx file.
func (f *File) WriteTo(w io.Writer) (int64, error) { return f.book.writeTo(w) }

// Close frees the workbook and its place among the exports being built.
func (f *File) Close() error {
	err := f.book.Close()
	if f.release != nil {
		f.release()
		f.release = nil
	}
	return err
}

// Result is a started export: a File when it was built at once, a Job
// when it runs in the background.
type Result struct {
	File *File
	Job  *model.ExportJob
}

// Start checks and sizes an export for the actor; it builds a small one
// at once and queues a big one (or any, with Async) as a job.
func (s *Service) Start(ctx context.Context, a *service.Actor, r Request) (Result, error) {
	if a == nil {
		return Result{}, service.ErrUnauthenticated
	}
	k, ok := kinds[r.Kind]
	if !ok {
		return Result{}, errKind
	}
	total, err := k.count(s, ctx, a, r)
	if err != nil {
		return Result{}, err
	}
	if total > s.opts.MaxRows {
		return Result{}, errTooBig(s.opts.MaxRows)
	}
	if !r.Async && total <= s.opts.SyncRows {
		select {
		case s.slots <- struct{}{}:
		default:
			return Result{}, errBusy
		}
		f, err := s.build(ctx, a, r, total, func(int64) {})
		if err != nil {
			<-s.slots
			return Result{}, err
		}
		f.release = func() { <-s.slots }
		return Result{File: f}, nil
	}
	params, err := json.Marshal(r)
	if err != nil {
		return Result{}, err
	}
	if len(params) > model.ExportParamsMax {
		return Result{}, errTooLong
	}
	now := s.clock.Now().UTC()
	name, _ := k.name(r, now)
	job := model.ExportJob{UserID: a.UserID, Kind: r.Kind, Params: string(params), State: model.ExportQueued,
		RowsTotal: total, Filename: name}
	job.CreatedAt, job.UpdatedAt = now, now
	if err := model.Create(ctx, s.db, &job); err != nil {
		return Result{}, err
	}
	select {
	case s.poke <- struct{}{}:
	default:
	}
	return Result{Job: &job}, nil
}

// build builds the export r for a.
func (s *Service) build(ctx context.Context, a *service.Actor, r Request, total int64, progress func(int64)) (*File, error) {
	k := kinds[r.Kind]
	now := s.clock.Now().UTC()
	name, ascii := k.name(r, now)
	b, err := newBook(name, now)
	if err != nil {
		return nil, err
	}
	rows, err := k.build(s, ctx, a, r, b, total, progress)
	if err != nil {
		b.Close()
		return nil, err
	}
	return &File{book: b, Rows: rows, Filename: name, ASCIIName: ascii}, nil
}

// Job returns one of the actor's jobs (404 for anyone else's).
func (s *Service) Job(ctx context.Context, a *service.Actor, id int64) (model.ExportJob, error) {
	if a == nil {
		return model.ExportJob{}, service.ErrUnauthenticated
	}
	j, err := model.ByID[model.ExportJob](ctx, s.db, id)
	if err != nil {
		return j, service.OrNotFound(err, errJobGone)
	}
	if j.UserID != a.UserID {
		return model.ExportJob{}, errJobGone
	}
	return j, nil
}

// Jobs lists the actor's jobs, newest first.
func (s *Service) Jobs(ctx context.Context, a *service.Actor, p service.Page) (service.Paged[model.ExportJob], error) {
	if a == nil {
		return service.Paged[model.ExportJob]{}, service.ErrUnauthenticated
	}
	page, err := model.ExportsOf(ctx, s.db, a.UserID, model.Page{After: p.After, Limit: p.Limit})
	return service.Paged[model.ExportJob]{Items: page.Items, More: page.More}, err
}

// Open opens the file of one of the actor's finished jobs.
func (s *Service) Open(ctx context.Context, a *service.Actor, id int64) (model.ExportJob, io.ReadCloser, error) {
	j, err := s.Job(ctx, a, id)
	if err != nil {
		return j, nil, err
	}
	switch j.State {
	case model.ExportQueued, model.ExportRunning:
		return j, nil, errNotReady.WithDetail(map[string]any{"rows_done": j.RowsDone, "rows_total": j.RowsTotal})
	case model.ExportExpired:
		return j, nil, errExpired
	case model.ExportFailed:
		return j, nil, errFailed
	}
	if j.ExpiresAt != nil && !s.clock.Now().Before(*j.ExpiresAt) {
		return j, nil, errExpired
	}
	// The file holds what the grants of its build showed: one of them
	// revoked since, it may show what its holder can no longer see.
	if j.StartedAt != nil {
		revoked, err := model.GrantRevokedSince(ctx, s.db, a.UserID, *j.StartedAt)
		if err != nil {
			return j, nil, err
		}
		if revoked {
			return j, nil, errRevoked
		}
	}
	rc, err := model.ExportFile(ctx, s.db, j.ID)
	if errors.Is(err, model.ErrNotFound) {
		return j, nil, errNoFile
	}
	return j, rc, err
}

// Run builds queued jobs and sweeps old ones until ctx ends; every
// instance runs it. It returns once the builds it started have stopped.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 2 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	defer s.running.Wait()
	for {
		if err := s.pass(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "export pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.poke:
		}
	}
}

// Pass sweeps, starts the queued jobs this instance has room for and
// waits for the builds to end (tests; Run does not wait).
func (s *Service) Pass(ctx context.Context) error {
	err := s.pass(ctx)
	s.running.Wait()
	return err
}

func (s *Service) pass(ctx context.Context) error {
	if err := s.sweep(ctx); err != nil {
		return err
	}
	for {
		select {
		case s.slots <- struct{}{}:
		default:
			return nil // every worker is busy
		}
		j, found, err := model.NextQueuedExport(ctx, s.db)
		if err == nil && found {
			found, err = model.ClaimExport(ctx, s.db, j.ID, s.opts.Instance, s.clock.Now().UTC())
			if !found && err == nil {
				<-s.slots
				continue // another instance took it: look for the next
			}
		}
		if err != nil || !found {
			<-s.slots
			return err
		}
		s.running.Add(1)
		go func() {
			defer s.running.Done()
			defer func() { <-s.slots }()
			s.runJob(ctx, j)
		}()
	}
}

// runJob builds one claimed job and settles it.
func (s *Service) runJob(ctx context.Context, j model.ExportJob) {
	settle := func(cols map[string]any) {
		cols["updated_at"] = s.clock.Now().UTC()
		if _, err := model.SettleExport(context.WithoutCancel(ctx), s.db, j.ID, cols); err != nil {
			s.log.ErrorContext(ctx, "settle export", "job", j.ID, "err", err)
		}
	}
	f, err := s.buildJob(ctx, j)
	now := s.clock.Now().UTC()
	if err == nil {
		defer f.Close()
		cols := map[string]any{"state": model.ExportDone, "finished_at": now, "expires_at": now.Add(s.opts.TTL), "updated_at": now}
		var done bool
		done, err = model.FinishExport(context.WithoutCancel(ctx), s.db, j.ID, cols, func(w io.Writer) error {
			_, err := f.WriteTo(w)
			return err
		})
		if err == nil && !done {
			s.log.WarnContext(ctx, "export job no longer running when built", "job", j.ID)
			return
		}
	}
	switch {
	case err != nil && ctx.Err() != nil:
		// Shutting down: the next instance to look builds it again.
		settle(map[string]any{"state": model.ExportQueued, "instance": "", "rows_done": 0})
	case err != nil:
		msg := "导出失败"
		var se *service.Error
		if errors.As(err, &se) {
			msg = se.Message
		} else {
			s.log.ErrorContext(ctx, "export job failed", "job", j.ID, "err", err)
		}
		settle(map[string]any{"state": model.ExportFailed, "error": service.CutRunes(msg, 200), "finished_at": now})
	}
}

// buildJob builds a job's workbook with its requester's grants as they
// are now.
func (s *Service) buildJob(ctx context.Context, j model.ExportJob) (*File, error) {
	var r Request
	if err := json.Unmarshal([]byte(j.Params), &r); err != nil {
		return nil, fmt.Errorf("export job %d params: %w", j.ID, err)
	}
	grants, err := model.LiveGrants(ctx, s.db, j.UserID)
	if err != nil {
		return nil, err
	}
	a := &service.Actor{UserID: j.UserID, Grants: grants}
	total := j.RowsTotal
	var written int64
	progress := func(done int64) {
		if done-written < 500 && done < total {
			return
		}
		written = done
		if err := model.ExportProgress(ctx, s.db, j.ID, done, max(total, done), s.clock.Now().UTC()); err != nil {
			s.log.WarnContext(ctx, "export progress", "job", j.ID, "err", err)
		}
	}
	f, err := s.build(ctx, a, r, total, progress)
	if err != nil {
		return nil, err
	}
	if err := model.ExportProgress(ctx, s.db, j.ID, f.Rows, f.Rows, s.clock.Now().UTC()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sweep deletes the files of expired jobs and fails the running jobs of
// instances that stopped.
func (s *Service) sweep(ctx context.Context) error {
	now := s.clock.Now().UTC()
	if n, err := model.FailStaleExports(ctx, s.db, now.Add(-s.opts.Stale), now, "导出中断，请重新导出"); err != nil {
		return err
	} else if n > 0 {
		s.log.WarnContext(ctx, "stale export jobs failed", "jobs", n)
	}
	for {
		js, err := model.ExpiredExports(ctx, s.db, now, 100)
		if err != nil || len(js) == 0 {
			return err
		}
		for _, j := range js {
			if err := model.ExpireExport(ctx, s.db, j.ID, now); err != nil {
				return err
			}
		}
		if len(js) < 100 {
			return nil
		}
	}
}
