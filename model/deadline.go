package model

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// deadlinePlugin gives every gorm statement a deadline. It sits first in
// each callback chain, before gorm's own BEGIN of a single write, so the
// deadline covers the wait for a connection, the statement and its
// implicit transaction; it sits last to release the deadline's timer.
// The Deadlines travel with the *gorm.DB (as a plugin) rather than in a
// package variable, so that InTx finds the transaction budget of the
// database it was given.
type deadlinePlugin struct{ d Deadlines }

const deadlinePluginName = "redprop:deadline"

func (p *deadlinePlugin) Name() string { return deadlinePluginName }

type deadlineKey struct{}

// bound is what a statement's chain keeps between setting its deadline and
// releasing it.
type bound struct {
	parent context.Context
	cancel context.CancelFunc
}

func (p *deadlinePlugin) Initialize(db *gorm.DB) error {
	set := func(keepRows bool) func(*gorm.DB) {
		return func(tx *gorm.DB) {
			parent := tx.Statement.Context
			if parent == nil {
				parent = context.Background()
			}
			if noDeadline(parent) {
				return
			}
			ctx, cancel := withDeadline(parent, p.d.Query)
			tx.Statement.Context = ctx
			if keepRows {
				// Row and Rows hand back a cursor that the caller reads
				// after the chain ends: cancelling here would close it.
				// The deadline's own timer releases the context.
				cancel = func() {}
			}
			tx.Statement.Settings.Store(deadlineKey{}, bound{parent: parent, cancel: cancel})
		}
	}
	done := func(tx *gorm.DB) {
		if v, ok := tx.Statement.Settings.LoadAndDelete(deadlineKey{}); ok {
			// The parent goes back: a statement may run its chain again
			// (CreateInBatches runs one per batch) and must not start
			// from a context this one has cancelled.
			b := v.(bound)
			b.cancel()
			tx.Statement.Context = b.parent
		}
		// Marked here, where every gorm error passes, so that an outage
		// is told apart from a bug even by a query whose caller does not
		// Translate.
		if tx.Error != nil && !errors.Is(tx.Error, ErrUnavailable) && unavailable(tx.Error) {
			tx.Error = fmt.Errorf("%w: %w", ErrUnavailable, tx.Error)
		}
	}
	const setName, doneName = deadlinePluginName + ":set", deadlinePluginName + ":done"
	one, rows := set(false), set(true)
	cb := db.Callback()
	return errors.Join(
		cb.Create().Before("*").Register(setName, one), cb.Create().After("*").Register(doneName, done),
		cb.Query().Before("*").Register(setName, one), cb.Query().After("*").Register(doneName, done),
		cb.Update().Before("*").Register(setName, one), cb.Update().After("*").Register(doneName, done),
		cb.Delete().Before("*").Register(setName, one), cb.Delete().After("*").Register(doneName, done),
		cb.Raw().Before("*").Register(setName, one), cb.Raw().After("*").Register(doneName, done),
		cb.Row().Before("*").Register(setName, rows), cb.Row().After("*").Register(doneName, done),
	)
}

// deadlinesOf returns the deadlines db was opened with, nil for a *gorm.DB
// not opened by this package.
func deadlinesOf(db *gorm.DB) *Deadlines {
	if p, ok := db.Config.Plugins[deadlinePluginName].(*deadlinePlugin); ok {
		return &p.d
	}
	return nil
}

// withDeadline bounds ctx by d from now, unless ctx already ends sooner.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

type noDeadlineKey struct{}

// WithoutDeadline marks ctx for work that may rightly take long and must
// not be cut short by the query deadline: schema migrations (an ALTER of a
// big table), which run before the server takes requests.
func WithoutDeadline(ctx context.Context) context.Context {
	return context.WithValue(ctx, noDeadlineKey{}, true)
}

func noDeadline(ctx context.Context) bool {
	v, _ := ctx.Value(noDeadlineKey{}).(bool)
	return v
}
