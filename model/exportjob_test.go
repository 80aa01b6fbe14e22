package model_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
)

// A file bigger than a chunk goes in as several chunks with the job's
// done state in one transaction, and reads back byte for byte; a job no
// longer running keeps nothing; expiring deletes the chunks.
func TestExportFileInChunks(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	job := func(state string) model.ExportJob {
		j := model.ExportJob{UserID: 1, Kind: "orders", Params: "{}", State: state}
		if err := model.Create(ctx, db, &j); err != nil {
			t.Fatal(err)
		}
		return j
	}
	chunks := func(id int64) int64 {
		var n int64
		if err := db.Model(&model.ExportChunk{}).Where("job_id = ?", id).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	file := make([]byte, 2*model.ExportChunkSize+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range file {
		file[i] = byte(r.Uint32())
	}
	write := func(w io.Writer) error {
		// In odd pieces, as a zip writer writes.
		for rest := file; len(rest) > 0; {
			n := min(len(rest), 70_001)
			if _, err := w.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	}

	j := job(model.ExportRunning)
	done, err := model.FinishExport(ctx, db, j.ID, map[string]any{"state": model.ExportDone, "finished_at": now}, write)
	if err != nil || !done {
		t.Fatalf("finish: %v %v", done, err)
	}
	got, err := model.ByID[model.ExportJob](ctx, db, j.ID)
	if err != nil || got.State != model.ExportDone || got.Bytes != int64(len(file)) {
		t.Fatalf("job %+v %v", got, err)
	}
	if n := chunks(j.ID); n != 3 {
		t.Fatalf("chunks %d, want 3", n)
	}
	rc, err := model.ExportFile(ctx, db, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(back, file) {
		t.Fatalf("read back %d bytes (%v), want the %d written", len(back), err, len(file))
	}

	failed := job(model.ExportFailed)
	done, err = model.FinishExport(ctx, db, failed.ID, map[string]any{"state": model.ExportDone}, write)
	if err != nil || done || chunks(failed.ID) != 0 {
		t.Fatalf("a job no longer running: done %v, %v, %d chunks kept", done, err, chunks(failed.ID))
	}
	if _, err := model.ExportFile(ctx, db, failed.ID); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("no file: %v", err)
	}
	broken := job(model.ExportRunning)
	_, err = model.FinishExport(ctx, db, broken.ID, map[string]any{"state": model.ExportDone}, func(w io.Writer) error {
		if _, err := w.Write(file); err != nil {
			return err
		}
		return errors.New("the workbook failed half-way")
	})
	if err == nil || chunks(broken.ID) != 0 {
		t.Fatalf("a failed write: %v, %d chunks kept", err, chunks(broken.ID))
	}
	if b, _ := model.ByID[model.ExportJob](ctx, db, broken.ID); b.State != model.ExportRunning {
		t.Fatalf("a failed write settled the job: %+v", b)
	}

	if err := model.ExpireExport(ctx, db, j.ID, now); err != nil {
		t.Fatal(err)
	}
	if got, _ := model.ByID[model.ExportJob](ctx, db, j.ID); got.State != model.ExportExpired || chunks(j.ID) != 0 {
		t.Fatalf("expired: %+v, %d chunks", got, chunks(j.ID))
	}
}
