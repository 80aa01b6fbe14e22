// Package dashboard answers the officials' figures — orders by state,
// category and level, the rates with their numerators and denominators,
// times to accept and complete, escalations, emergency calls — per scope,
// child scope and day, from rollup rows that a refresh keeps up to date
// from the order timeline. No request reads the orders themselves, but
// for the count of orders overdue now, which is an indexed count of the
// open ones. It must not import gin or api/, nor the order package: it
// reads what the order loop wrote.
package dashboard

import (
	"context"
	"io"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Options tune the refresh.
type Options struct {
	// Lag is how old a timeline row after a hole in the ids must be before
	// the refresh passes the hole: a row numbered but not yet committed
	// (its transaction still running) leaves one for a moment, a rolled
	// back one for ever. It must exceed the longest transaction (the
	// database's transaction deadline). Default one minute.
	Lag time.Duration
	// Batch is how many timeline rows one refresh transaction counts
	// (default 5,000).
	Batch int
	// Fresh is how old a reading of the watermark, of a scope (its name,
	// place in the tree and children) or of the orders overdue now may be when a
	// dashboard answers with it (default 2 s): the figures already trail
	// the orders by the refresh interval, and readings that old make a
	// repeated dashboard cost no statement. The instance that refreshes
	// sees its own refresh at once.
	Fresh time.Duration
	Log   *slog.Logger
}

// Service is the dashboards capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	opts  Options
	log   *slog.Logger

	// cache keeps the sums answered since the last refresh.
	cache sumCache
	// Readings kept for Options.Fresh (the categories for
	// categoriesTTL: every dashboard names them, and admins change them
	// seldom).
	marks    recent[model.DashWatermark]
	scopes   recent[scopeReading]
	overdues recent[map[int64]int64]
	children recent[[]model.ScopeNode]
	cats     recent[[]model.Category]
}

// scopeReading is a scope's name and place in the tree.
type scopeReading struct {
	name string
	anc  model.Ancestry
}

// categoriesTTL is how long the dashboards use a reading of the
// categories.
const categoriesTTL = 30 * time.Second

// categories returns every category, from a reading at most
// categoriesTTL old.
func (s *Service) categories(ctx context.Context) ([]model.Category, error) {
	return s.cats.get("", s.clock.Now(), categoriesTTL, func() ([]model.Category, error) {
		return model.Categories(ctx, s.db, true)
	})
}

// mark returns the watermark, from a reading at most Fresh old.
func (s *Service) mark(ctx context.Context) (model.DashWatermark, error) {
	return s.marks.get("", s.clock.Now(), s.opts.Fresh, func() (model.DashWatermark, error) {
		return model.Watermark(ctx, s.db, watermark)
	})
}

// New returns the service.
func New(db *gorm.DB, clock service.Clock, opts Options) *Service {
	if opts.Lag <= 0 {
		opts.Lag = time.Minute
	}
	if opts.Batch <= 0 {
		opts.Batch = 5000
	}
	if opts.Fresh <= 0 {
		opts.Fresh = 2 * time.Second
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Service{db: db, clock: clock, opts: opts, log: log}
}
