package model

import (
	"context"
	"fmt"
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
	FileKey   string `gorm:"size:64"`
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

// ExpireExport marks a finished job expired (its file deleted).
func ExpireExport(ctx context.Context, db *gorm.DB, id int64, now time.Time) error {
	err := db.WithContext(ctx).Model(&ExportJob{}).Where("id = ? AND state = ?", id, ExportDone).
		Updates(map[string]any{"state": ExportExpired, "updated_at": now}).Error
	return Translate(err)
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
