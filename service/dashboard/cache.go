package dashboard

import (
	"context"
	"fmt"
	"sync"

	"redprop/model"
)

// sumCache keeps the summed rollups this instance has answered since the
// last refresh, keyed by the query and the watermark they were read at.
// The rollups change only in a refresh, which moves the watermark in the
// same transaction, so a sum read at watermark w stays right as long as
// the watermark reads w — on any instance, since every request reads the
// watermark from the database. When it moves, the whole cache is
// dropped. Only sums are kept: every request still resolves its scope
// and checks the actor's grants, and counts the orders overdue now.
type sumCache struct {
	mu      sync.Mutex
	mark    int64
	entries map[string]*sumEntry
}

// sumEntry is one sum, being read (done open) or read.
type sumEntry struct {
	done chan struct{}
	sums []model.RollupSum
	err  error
}

// sumCacheMax bounds the sums kept for one watermark; past it the cache
// starts afresh (a refresh every few seconds empties it anyway).
const sumCacheMax = 1024

// sums returns q's sums at watermark mark: from the cache, from a read
// another request has under way (it waits for it), or read now. Callers
// must not change the sums returned.
func (s *Service) sums(ctx context.Context, mark int64, q model.RollupQuery) ([]model.RollupSum, error) {
	key := fmt.Sprintf("%s|%d|%d|%t|%d|%d|%v|%s", q.ScopeKind, q.ScopeID, q.ParentID, q.Children, q.FromDay, q.ToDay,
		q.Categories, q.GroupBy)
	c := &s.cache
	c.mu.Lock()
	if c.entries == nil || c.mark != mark || len(c.entries) >= sumCacheMax {
		c.mark, c.entries = mark, map[string]*sumEntry{}
	}
	if e := c.entries[key]; e != nil {
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err == nil {
			return e.sums, nil
		}
		// The read it waited for failed (its request may have been
		// cancelled): read for this one.
		return model.SumRollups(ctx, s.db, q)
	}
	e := &sumEntry{done: make(chan struct{})}
	c.entries[key] = e
	entries := c.entries
	c.mu.Unlock()

	e.sums, e.err = model.SumRollups(ctx, s.db, q)
	if e.err != nil {
		c.mu.Lock()
		if entries[key] == e {
			delete(entries, key)
		}
		c.mu.Unlock()
	}
	close(e.done)
	return e.sums, e.err
}
