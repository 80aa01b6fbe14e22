package vote

import (
	"context"
	"errors"
	"time"

	"redprop/model"
	"redprop/service"
)

// TickStats counts what one scheduler pass did.
type TickStats struct {
	Opened  int // drafts opened at their time
	Expired int // drafts cancelled because their closing time passed unopened
	Told    int // owners told of an opened vote
	Closed  int // votes closed and counted
}

// tickBatch bounds the votes one pass takes up per step; the next pass goes
// on where this one stopped.
const tickBatch = 100

// Run calls Tick every interval until ctx is done. Several instances may
// run it against one database: each step locks the vote's row and checks
// its state, so each happens once.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	service.Every(ctx, every, func(ctx context.Context) {
		st, err := s.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			service.LogPass(ctx, s.log, "vote scheduler tick failed", err)
		case st != (TickStats{}):
			s.log.InfoContext(ctx, "vote scheduler tick", "opened", st.Opened, "expired", st.Expired,
				"told", st.Told, "closed", st.Closed)
		}
	})
}

// Tick runs one pass at the clock's now: it opens drafts whose opening
// time has come, finishes the opening notices (also those a crash or a
// failed request left half sent), and closes and counts votes whose
// closing time has come. A failing vote does not stop the others; the
// errors are returned joined.
func (s *Service) Tick(ctx context.Context) (TickStats, error) {
	var st TickStats
	var errs []error
	now := s.clock.Now().UTC()

	due, err := model.DueDrafts(ctx, s.db, now, tickBatch)
	if err != nil {
		return st, err
	}
	for _, v := range due {
		opened, err := s.open(ctx, v.ID, false)
		switch {
		case err != nil:
			errs = append(errs, err)
		case opened:
			st.Opened++
		case !v.ClosesAt.After(now):
			st.Expired++
		}
	}

	unsent, err := model.UntoldVotes(ctx, s.db, tickBatch)
	if err != nil {
		return st, errors.Join(append(errs, err)...)
	}
	for _, id := range unsent {
		if ctx.Err() != nil {
			break
		}
		n, err := s.sendNotices(ctx, id)
		st.Told += n
		if err != nil {
			errs = append(errs, err)
		}
	}

	ending, err := model.EndingVotes(ctx, s.db, now, tickBatch)
	if err != nil {
		return st, errors.Join(append(errs, err)...)
	}
	for _, id := range ending {
		closed, err := s.close(ctx, id)
		if err != nil {
			errs = append(errs, err)
		}
		if closed {
			st.Closed++
		}
	}
	return st, errors.Join(errs...)
}
