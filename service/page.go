package service

import "redprop/model"

// Page asks for one page of a keyset-paginated list: rows with an id below
// After (newest first), at most Limit of them. After is 0 for the first
// page. It is the storage layer's own (model.KeysetPage reads it).
type Page = model.Page

// Paged is one page of results; More says whether another page follows.
type Paged[T any] = model.Paged[T]

// Cut trims a result fetched with Limit+1 rows into a page.
func Cut[T any](rows []T, limit int) Paged[T] {
	if len(rows) > limit {
		return Paged[T]{Items: rows[:limit], More: true}
	}
	return Paged[T]{Items: rows}
}
