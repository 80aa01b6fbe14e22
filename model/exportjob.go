package model

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"gorm.io/gorm"
)

// States of an export job.
const (
	ExportQueued  = "queued"
	ExportRunning = "running"
	ExportDone    = "done"
	ExportFailed  = "failed"
	ExportExpired = "expired"
)

// ExportJob is an .xlsx export too big to build within a request: queued,
// built by one instance's bounded pool, downloadable until ExpiresAt, then
// swept. Params is the request as JSON, replayed by the builder with the
// requester's grants as they are then.
type ExportJob struct {
	Base
	UserID    int64  `gorm:"not null;index"`
	Kind      string `gorm:"size:24;not null"`
	Params    string `gorm:"size:2000;not null"` // at most ExportParamsMax bytes
	State     string `gorm:"size:12;not null;index:ix_export_job_state,priority:1"`
	RowsDone  int64  `gorm:"not null;default:0"`
	RowsTotal int64  `gorm:"not null;default:0"`
	Filename  string `gorm:"size:120"`
	Bytes     int64  `gorm:"not null;default:0"`
	Instance  string `gorm:"size:64"`
	Error     string `gorm:"size:200"`
	// Heartbeat is the builder's last progress: a running job without one
	// for long was left by an instance that stopped.
	Heartbeat  *time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	ExpiresAt  *time.Time `gorm:"index"`
}

// NextQueuedExport returns the oldest queued job (found false when none).
func NextQueuedExport(ctx context.Context, db *gorm.DB) (j ExportJob, found bool, err error) {
	var js []ExportJob
	err = db.WithContext(ctx).Where("state = ?", ExportQueued).Order("id").Limit(1).Find(&js).Error
	if err != nil || len(js) == 0 {
		return j, false, Translate(err)
	}
	return js[0], true, nil
}

// ClaimExport moves a queued job to running for instance, as a
// compare-and-set: false when another instance took it first.
func ClaimExport(ctx context.Context, db *gorm.DB, id int64, instance string, now time.Time) (bool, error) {
	res := db.WithContext(ctx).Model(&ExportJob{}).Where("id = ? AND state = ?", id, ExportQueued).
		Updates(map[string]any{"state": ExportRunning, "instance": instance, "started_at": now, "heartbeat": now, "updated_at": now})
	if res.Error != nil {
		return false, fmt.Errorf("claim export %d: %w", id, Translate(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// ExportProgress records the rows built so far of a running job.
func ExportProgress(ctx context.Context, db *gorm.DB, id, done, total int64, now time.Time) error {
	err := db.WithContext(ctx).Model(&ExportJob{}).Where("id = ? AND state = ?", id, ExportRunning).
		Updates(map[string]any{"rows_done": done, "rows_total": total, "heartbeat": now, "updated_at": now}).Error
	return Translate(err)
}

// SettleExport ends a running job with cols (its state among them);
// false when the job was no longer running (swept as stale meanwhile).
func SettleExport(ctx context.Context, db *gorm.DB, id int64, cols map[string]any) (bool, error) {
	res := db.WithContext(ctx).Model(&ExportJob{}).Where("id = ? AND state = ?", id, ExportRunning).Updates(cols)
	if res.Error != nil {
		return false, fmt.Errorf("settle export %d: %w", id, Translate(res.Error))
	}
	return res.RowsAffected == 1, nil
}

// ExpiredExports returns up to limit finished jobs whose file expired at
// now.
func ExpiredExports(ctx context.Context, db *gorm.DB, now time.Time, limit int) ([]ExportJob, error) {
	var js []ExportJob
	err := db.WithContext(ctx).Where("state = ? AND expires_at <= ?", ExportDone, now).Order("id").Limit(limit).Find(&js).Error
	return js, Translate(err)
}

// FailStaleExports fails the running jobs without a heartbeat since
// before: their instance stopped while building them.
func FailStaleExports(ctx context.Context, db *gorm.DB, before, now time.Time, reason string) (int64, error) {
	res := db.WithContext(ctx).Model(&ExportJob{}).Where("state = ? AND heartbeat < ?", ExportRunning, before).
		Updates(map[string]any{"state": ExportFailed, "error": reason, "finished_at": now, "updated_at": now})
	return res.RowsAffected, Translate(res.Error)
}

// ExportsOf returns one page of a user's jobs, newest first.
func ExportsOf(ctx context.Context, db *gorm.DB, userID int64, p Page) (Paged[ExportJob], error) {
	return KeysetPage[ExportJob](ctx, db.Model(&ExportJob{}).Where("user_id = ?", userID), "id", p)
}

// ExportParamsMax is the longest request an export job keeps (its
// Params column).
const ExportParamsMax = 2000

// ExportChunk is one piece of a finished job's file. Files are kept in
// the database, beside their job, so that whichever instance a download
// reaches serves it and the file goes when the job expires.
type ExportChunk struct {
	JobID int64  `gorm:"primaryKey;autoIncrement:false"`
	Seq   int    `gorm:"primaryKey;autoIncrement:false"`
	Data  []byte `gorm:"size:1048576;not null"` // at most ExportChunkSize bytes
}

// ExportChunkSize is the most bytes one chunk holds: well within
// max_allowed_packet (16 MB on MariaDB, 64 MB on MySQL 8).
const ExportChunkSize = 512 << 10

// chunkWriter inserts what is written to it in chunks of one job.
type chunkWriter struct {
	ctx   context.Context
	tx    *gorm.DB
	job   int64
	seq   int
	buf   []byte
	bytes int64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(ExportChunkSize-len(w.buf), len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		if len(w.buf) == ExportChunkSize {
			if err := w.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if err := w.tx.WithContext(w.ctx).Create(&ExportChunk{JobID: w.job, Seq: w.seq, Data: w.buf}).Error; err != nil {
		return Translate(err)
	}
	w.seq++
	w.bytes += int64(len(w.buf))
	w.buf = make([]byte, 0, ExportChunkSize)
	return nil
}

// FinishExport stores the file write writes as the job's chunks and
// settles the running job as done with cols (bytes among them is set
// here), in one transaction: a job is done with its whole file or not at
// all. False (and nothing kept) when the job was no longer running.
func FinishExport(ctx context.Context, db *gorm.DB, id int64, cols map[string]any, write func(io.Writer) error) (bool, error) {
	err := InLongTx(ctx, db, 2*time.Minute, func(tx *gorm.DB) error {
		if err := tx.Where("job_id = ?", id).Delete(&ExportChunk{}).Error; err != nil {
			return err
		}
		w := &chunkWriter{ctx: ctx, tx: tx, job: id, buf: make([]byte, 0, ExportChunkSize)}
		if err := write(w); err != nil {
			return err
		}
		if err := w.flush(); err != nil {
			return err
		}
		cols["bytes"] = w.bytes
		res := tx.Model(&ExportJob{}).Where("id = ? AND state = ?", id, ExportRunning).Updates(cols)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errNotRunning // rolls the chunks back
		}
		return nil
	})
	if errors.Is(err, errNotRunning) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("finish export %d: %w", id, err)
	}
	return true, nil
}

var errNotRunning = errors.New("export job no longer running")

// ExportFile reads a finished job's file chunk by chunk (one query per
// chunk, so a big file is never held whole). The first chunk is read
// here: a missing file fails before anything is sent.
func ExportFile(ctx context.Context, db *gorm.DB, id int64) (io.ReadCloser, error) {
	r := &chunkReader{ctx: ctx, db: db, job: id}
	if err := r.next(); err != nil {
		return nil, err
	}
	if r.done {
		return nil, ErrNotFound
	}
	return r, nil
}

type chunkReader struct {
	ctx  context.Context
	db   *gorm.DB
	job  int64
	seq  int
	buf  []byte
	done bool
}

func (r *chunkReader) next() error {
	var cs []ExportChunk
	if err := r.db.WithContext(r.ctx).Where("job_id = ? AND seq = ?", r.job, r.seq).Limit(1).Find(&cs).Error; err != nil {
		return Translate(err)
	}
	if len(cs) == 0 {
		r.done = true
		return nil
	}
	r.buf = cs[0].Data
	r.seq++
	return nil
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.done {
			return 0, io.EOF
		}
		if err := r.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *chunkReader) Close() error { r.buf, r.done = nil, true; return nil }

// ExpireExport marks a finished job expired and deletes its file.
func ExpireExport(ctx context.Context, db *gorm.DB, id int64, now time.Time) error {
	return InTx(ctx, db, func(tx *gorm.DB) error {
		if err := tx.Where("job_id = ?", id).Delete(&ExportChunk{}).Error; err != nil {
			return err
		}
		return tx.Model(&ExportJob{}).Where("id = ? AND state = ?", id, ExportDone).
			Updates(map[string]any{"state": ExportExpired, "updated_at": now}).Error
	})
}

// GrantRevokedSince tells whether any of the user's grants was revoked
// at or after since: a file built with the grants of then may show what
// the user can no longer see.
func GrantRevokedSince(ctx context.Context, db *gorm.DB, userID int64, since time.Time) (bool, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Grant{}).Where("user_id = ? AND revoked_at >= ?", userID, since).
		Limit(1).Pluck("id", &ids).Error
	return len(ids) > 0, Translate(err)
}
