package model

import (
	"context"
	"sync"
	"time"

	"gorm.io/gorm"
)

// AuthChange records, in the transaction that made it, that what a user
// may do has changed: a grant given or revoked, a session ended. Every
// instance reads the recent rows a few times a second and drops what it
// keeps of that user (service/auth), so that a request is let through on
// a kept answer only while no change of its user can have been missed.
type AuthChange struct {
	ID     int64 `gorm:"primaryKey"`
	UserID int64 `gorm:"not null"`
	// ChangedAt is the writer's wall clock at the insert. A reader asks
	// for a window back from its own clock, wide enough for the longest
	// transaction and for clocks of instances that disagree by seconds.
	ChangedAt time.Time `gorm:"not null;index:ix_auth_change_at"`
}

// AuthChangeLease is how long an instance may go on trusting what it
// keeps after the start of its last read of the changes. A revocation
// returns only after this long from its commit, so when it returns every
// instance has either read it or stopped trusting what it keeps.
var AuthChangeLease = 500 * time.Millisecond

// AuthChangeWindow is how far back a reader looks, how long a change
// stays among the recent ones: past the longest transaction a change is
// written in (its row is dated at the insert, seen at the commit), with
// room for clocks that disagree.
func AuthChangeWindow(db *gorm.DB) time.Duration {
	w := 2 * time.Minute
	if d := deadlinesOf(db); d != nil {
		w = max(w, 2*d.Tx+30*time.Second)
	}
	return w
}

// RecentAuthChanges returns the changes dated within the window back from
// now (the reader's wall clock), by id.
func RecentAuthChanges(ctx context.Context, db *gorm.DB) ([]AuthChange, error) {
	var out []AuthChange
	since := time.Now().UTC().Add(-AuthChangeWindow(db))
	err := db.WithContext(ctx).Select("id", "user_id", "changed_at").Where("changed_at >= ?", since).
		Order("id").Find(&out).Error
	return out, Translate(err)
}

// PurgeAuthChanges deletes the changes older than twice the window.
func PurgeAuthChanges(ctx context.Context, db *gorm.DB) (int64, error) {
	before := time.Now().UTC().Add(-2 * AuthChangeWindow(db))
	res := db.WithContext(ctx).Where("changed_at < ?", before).Delete(&AuthChange{})
	return res.RowsAffected, Translate(res.Error)
}

// WatchAuthChanges has fn told of every change written through db (or a
// session or transaction of it), in the writing transaction, before its
// commit: the writing instance stops trusting what it keeps of the user
// at once, not a read of the changes later.
func WatchAuthChanges(db *gorm.DB, fn func(userID, changeID int64)) error {
	if p, ok := db.Config.Plugins[authWatchName].(*authWatch); ok {
		p.add(fn)
		return nil
	}
	p := &authWatch{}
	p.add(fn)
	return db.Use(p)
}

const authWatchName = "redprop:auth-changes"

type authWatch struct {
	mu  sync.Mutex
	fns []func(userID, changeID int64)
}

func (*authWatch) Name() string              { return authWatchName }
func (*authWatch) Initialize(*gorm.DB) error { return nil }

func (w *authWatch) add(fn func(userID, changeID int64)) {
	w.mu.Lock()
	w.fns = append(w.fns, fn)
	w.mu.Unlock()
}

func (w *authWatch) tell(userID, changeID int64) {
	w.mu.Lock()
	fns := w.fns
	w.mu.Unlock()
	for _, fn := range fns {
		fn(userID, changeID)
	}
}

// noteAuthChange writes the change of userID in tx and tells the watchers.
func noteAuthChange(tx *gorm.DB, userID int64) error {
	c := AuthChange{UserID: userID, ChangedAt: time.Now().UTC()}
	if err := tx.Session(&gorm.Session{NewDB: true}).Create(&c).Error; err != nil {
		return err
	}
	if p, ok := tx.Config.Plugins[authWatchName].(*authWatch); ok {
		p.tell(userID, c.ID)
	}
	return nil
}

// settleAuthChange waits out AuthChangeLease after a committed
// revocation (or until ctx ends: the revocation stands either way). Inside
// a caller's transaction it does not wait: the commit is still to come,
// and the caller settles after it (SettleAuthChange).
func settleAuthChange(ctx context.Context, db *gorm.DB) {
	if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx {
		return
	}
	SettleAuthChange(ctx)
}

// SettleAuthChange waits until no instance trusts what it kept from
// before a revocation just committed: AuthChangeLease.
func SettleAuthChange(ctx context.Context) {
	t := time.NewTimer(AuthChangeLease)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
