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
	"sync"
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
	Log   *slog.Logger
}

// Service is the dashboards capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	opts  Options
	log   *slog.Logger

	// The categories, read at most every categoriesTTL: every dashboard
	// names them, and admins change them seldom.
	catMu  sync.Mutex
	cats   []model.Category
	catsAt time.Time

	// cache keeps the sums answered since the last refresh.
	cache sumCache
}

// categoriesTTL is how long the dashboards use a reading of the
// categories.
const categoriesTTL = 30 * time.Second

// categories returns every category, from a reading at most
// categoriesTTL old.
func (s *Service) categories(ctx context.Context) ([]model.Category, error) {
	s.catMu.Lock()
	defer s.catMu.Unlock()
	now := s.clock.Now()
	if s.cats != nil && now.Sub(s.catsAt) < categoriesTTL && !now.Before(s.catsAt) {
		return s.cats, nil
	}
	cats, err := model.Categories(ctx, s.db, true)
	if err != nil {
		return nil, err
	}
	s.cats, s.catsAt = cats, now
	return cats, nil
}

// New returns the service.
func New(db *gorm.DB, clock service.Clock, opts Options) *Service {
	if opts.Lag <= 0 {
		opts.Lag = time.Minute
	}
	if opts.Batch <= 0 {
		opts.Batch = 5000
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Service{db: db, clock: clock, opts: opts, log: log}
}
