package dashboard

import (
	"context"
	"fmt"
	"sync"
	"time"

	"redprop/model"
)

// sumCache keeps the summed rollups this instance has answered since the
// last refresh, keyed by the query and the watermark they were read at.
// The rollups change only in a refresh, which moves the watermark in the
// same transaction, so a sum read at watermark w stays right as long as
// the watermark reads w — on any instance, since every request reads the
// watermark (at most Options.Fresh old, see recent). When it moves, the
// whole cache is dropped. Only sums are kept here: every request still
// checks the actor's grants against its scope.
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

// recent keeps readings for a short while, keyed: what a dashboard reads
// besides the sums — the watermark, the scope, the orders overdue now,
// the categories — is read at most once per its ttl per instance, so a
// dashboard answered from the sums cache costs no statement of its own.
// Concurrent misses each read (no waiting); errors are not kept.
type recent[V any] struct {
	mu sync.Mutex
	m  map[string]reading[V]
}

type reading[V any] struct {
	v  V
	at time.Time
}

// recentMax bounds the readings kept; past it the cache starts afresh.
const recentMax = 4096

// get returns key's reading when it is younger than ttl at now, or reads
// and keeps it.
func (r *recent[V]) get(key string, now time.Time, ttl time.Duration, read func() (V, error)) (V, error) {
	r.mu.Lock()
	e, ok := r.m[key]
	r.mu.Unlock()
	if ok && now.Sub(e.at) < ttl && !now.Before(e.at) {
		return e.v, nil
	}
	v, err := read()
	if err != nil {
		return v, err
	}
	r.mu.Lock()
	if r.m == nil || len(r.m) >= recentMax {
		r.m = map[string]reading[V]{}
	}
	r.m[key] = reading[V]{v: v, at: now}
	r.mu.Unlock()
	return v, nil
}

// forget drops every reading.
func (r *recent[V]) forget() {
	r.mu.Lock()
	r.m = nil
	r.mu.Unlock()
}
