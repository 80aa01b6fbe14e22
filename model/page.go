package model

import (
	"context"

	"gorm.io/gorm"
)

// Page asks for one page of a list kept in keyset order, newest first:
// rows with an id below After (0 for the first page), at most Limit of
// them. A limit outside 1–100 means 20.
type Page struct {
	After int64
	Limit int
}

// Paged is one page of results; More says whether another page follows.
type Paged[T any] struct {
	Items []T
	More  bool
}

// limit is the page size p asks for, within bounds.
func (p Page) limit() int {
	if p.Limit <= 0 || p.Limit > 100 {
		return 20
	}
	return p.Limit
}

// KeysetPage reads one page of q, newest first, by the id column idCol
// ("id", or "k.id" where q joins tables under aliases). It fetches one row
// more than asked to know whether another page follows, so a page costs
// one indexed query however deep the cursor. q may be a model query or a
// joined view selected into T; filters, joins and selects are the
// caller's, ordering and limits are its own. It is the one page query of
// the storage layer: a list of any aggregate whose cursor is its id should
// be written as a filter plus a call to it.
func KeysetPage[T any](ctx context.Context, q *gorm.DB, idCol string, p Page) (Paged[T], error) {
	n := p.limit()
	q = q.WithContext(ctx)
	if p.After > 0 {
		q = q.Where(idCol+" < ?", p.After)
	}
	rows := []T{}
	if err := q.Order(idCol + " DESC").Limit(n + 1).Find(&rows).Error; err != nil {
		return Paged[T]{}, Translate(err)
	}
	if len(rows) > n {
		return Paged[T]{Items: rows[:n], More: true}, nil
	}
	return Paged[T]{Items: rows}, nil
}
