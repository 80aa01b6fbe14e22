package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// AuthSession is one login session: the family of refresh tokens one
// login started, and every access token issued in it. The database, not
// Redis, is where a session lives and where its end is recorded, so that
// logging out and a replayed refresh token still end it while Redis is
// down, and a session never ends because Redis forgot it.
type AuthSession struct {
	Family    string    `gorm:"primaryKey;size:16"`
	UserID    int64     `gorm:"not null;index"`
	CreatedAt time.Time `gorm:"not null"`
	// ExpiresAt is when its newest refresh token expires: after that no
	// token of it works and the row may go.
	ExpiresAt time.Time `gorm:"not null;index"`
	RevokedAt *time.Time
	Why       string `gorm:"size:16"` // logout | replay
}

// RefreshToken is one refresh token of a session, known by a digest only.
type RefreshToken struct {
	Hash   string `gorm:"primaryKey;size:32"`
	Family string `gorm:"size:16;not null;index"`
	UserID int64  `gorm:"not null"`
	// Parent is the token this one was issued for ("" for a login's):
	// a rotated token whose child was used is a replay when seen again.
	Parent    string    `gorm:"size:32;index"`
	CreatedAt time.Time `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
	UsedAt    *time.Time
}

// RefreshByHash loads a refresh token (ErrNotFound when unknown).
func RefreshByHash(ctx context.Context, db *gorm.DB, hash string) (RefreshToken, error) {
	var t RefreshToken
	err := db.WithContext(ctx).Where("hash = ?", hash).Take(&t).Error
	return t, Translate(err)
}

// LockSession loads a session and locks it until tx ends (ErrNotFound
// when there is none): rotations and revocations of one family take it
// first, so they run one after the other.
func LockSession(ctx context.Context, tx *gorm.DB, family string) (AuthSession, error) {
	var s AuthSession
	err := ForUpdate(tx.WithContext(ctx)).Where("family = ?", family).Take(&s).Error
	return s, Translate(err)
}

// SessionLive reports whether a session exists, is not revoked and has
// not expired at now.
func SessionLive(ctx context.Context, db *gorm.DB, family string, now time.Time) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&AuthSession{}).
		Where("family = ? AND revoked_at IS NULL AND expires_at > ?", family, now).Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// ExtendSession moves a session's expiry to expires.
func ExtendSession(ctx context.Context, tx *gorm.DB, family string, expires time.Time) error {
	return Translate(tx.WithContext(ctx).Model(&AuthSession{}).Where("family = ?", family).
		Update("expires_at", expires).Error)
}

// RevokeSession ends a session (a no-op when it has ended already). The
// end is recorded for every instance's cache (AuthChange), and the call
// returns AuthChangeLease after the commit, when no instance lets a token
// of the session through any more.
func RevokeSession(ctx context.Context, db *gorm.DB, family, why string, at time.Time) error {
	ended := false
	err := InTx(ctx, db, func(tx *gorm.DB) error {
		var user []int64
		err := tx.Model(&AuthSession{}).Where("family = ? AND revoked_at IS NULL", family).Pluck("user_id", &user).Error
		if err != nil || len(user) == 0 {
			return err
		}
		res := tx.Model(&AuthSession{}).Where("family = ? AND revoked_at IS NULL", family).
			Updates(map[string]any{"revoked_at": at, "why": why})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		ended = true
		return noteAuthChange(tx, user[0])
	})
	if err == nil && ended {
		settleAuthChange(ctx, db)
	}
	return Translate(err)
}

// MarkRefreshUsed is the compare-and-set that consumes a refresh token:
// false when another rotation used it first.
func MarkRefreshUsed(ctx context.Context, tx *gorm.DB, hash string, at time.Time) (bool, error) {
	res := tx.WithContext(ctx).Model(&RefreshToken{}).Where("hash = ? AND used_at IS NULL", hash).
		Update("used_at", at)
	return res.RowsAffected == 1, Translate(res.Error)
}

// RefreshChildUsed reports whether a token issued for parent has itself
// been used.
func RefreshChildUsed(ctx context.Context, db *gorm.DB, parent string) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&RefreshToken{}).
		Where("parent = ? AND used_at IS NOT NULL", parent).Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// PurgeSessions deletes refresh tokens and sessions that expired before
// now: nothing of them can be presented any more.
func PurgeSessions(ctx context.Context, db *gorm.DB, now time.Time) (int64, error) {
	db = db.WithContext(ctx)
	res := db.Where("expires_at < ?", now).Delete(&RefreshToken{})
	if res.Error != nil {
		return 0, Translate(res.Error)
	}
	n := res.RowsAffected
	res = db.Where("expires_at < ?", now).Delete(&AuthSession{})
	if res.Error != nil {
		return n, Translate(res.Error)
	}
	n += res.RowsAffected
	// The changes of sessions and grants are read back a window only.
	_, err := PurgeAuthChanges(ctx, db)
	return n, err
}
