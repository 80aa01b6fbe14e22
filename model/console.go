package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// ConsoleTicket is one scan-login ticket (扫码登录) of the PC console: the
// scene of the mini-program code the console shows. It lives in the
// database so that the instance that made it, the one the mini-program
// confirms on and the one the console polls agree. The ticket itself is
// public (it is in the code anybody near the screen can scan); the poll
// secret stays in the browser that asked for it, so only that browser
// can turn a confirmed ticket into a session.
type ConsoleTicket struct {
	Ticket      string    `gorm:"primaryKey;size:32"`
	PollHash    string    `gorm:"size:32;not null"` // digest of the browser's poll secret
	CreatedAt   time.Time `gorm:"not null"`
	ExpiresAt   time.Time `gorm:"not null;index"`
	UserID      int64     // who confirmed it, 0 until then
	Family      string    `gorm:"size:16"` // the confirming mini-program session
	ConfirmedAt *time.Time
	ClaimedAt   *time.Time // when the console took its session: a ticket serves once
}

// ConsoleSession is one console login: a cookie known here by its digest,
// hanging from the mini-program session (Family) that confirmed it, so
// that logging out there, or that session ending any other way, ends it.
type ConsoleSession struct {
	Hash      string    `gorm:"primaryKey;size:32"`
	UserID    int64     `gorm:"not null;index"`
	Family    string    `gorm:"size:16;not null;index"`
	CreatedAt time.Time `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
	RevokedAt *time.Time
}

// ConsoleTicketByID loads a ticket (ErrNotFound when unknown).
func ConsoleTicketByID(ctx context.Context, db *gorm.DB, ticket string) (ConsoleTicket, error) {
	var t ConsoleTicket
	err := db.WithContext(ctx).Where("ticket = ?", ticket).Take(&t).Error
	return t, Translate(err)
}

// ConfirmConsoleTicket is the compare-and-set of a confirmation: false when
// the ticket is unknown, expired at now or confirmed already.
func ConfirmConsoleTicket(ctx context.Context, db *gorm.DB, ticket string, userID int64, family string, now time.Time) (bool, error) {
	res := db.WithContext(ctx).Model(&ConsoleTicket{}).
		Where("ticket = ? AND confirmed_at IS NULL AND expires_at > ?", ticket, now).
		Updates(map[string]any{"user_id": userID, "family": family, "confirmed_at": now})
	return res.RowsAffected == 1, Translate(res.Error)
}

// ClaimConsoleTicket is the compare-and-set that spends a confirmed
// ticket: false when another poll spent it first or it has expired.
func ClaimConsoleTicket(ctx context.Context, tx *gorm.DB, ticket string, now time.Time) (bool, error) {
	res := tx.WithContext(ctx).Model(&ConsoleTicket{}).
		Where("ticket = ? AND confirmed_at IS NOT NULL AND claimed_at IS NULL AND expires_at > ?", ticket, now).
		Update("claimed_at", now)
	return res.RowsAffected == 1, Translate(res.Error)
}

// ConsoleAuth is what authenticating a console cookie reads in one
// statement: the console session, whether its mini-program session is
// still live, and the user's grants version.
type ConsoleAuth struct {
	UserID        int64
	Family        string
	Live          bool
	GrantsVersion int64
}

// CheckConsoleSession reads the console session of hash as at now: Live
// is false when it, or the mini-program session it hangs from, has been
// revoked or has expired; ErrNotFound when there is no such session.
func CheckConsoleSession(ctx context.Context, db *gorm.DB, hash string, now time.Time) (ConsoleAuth, error) {
	var r struct {
		UserID        int64
		Family        string
		Own           int64
		Parent        int64
		GrantsVersion int64
	}
	err := db.WithContext(ctx).Table("console_sessions AS cs").
		Select(`cs.user_id, cs.family,
			CASE WHEN cs.revoked_at IS NULL AND cs.expires_at > ? THEN 1 ELSE 0 END AS own,
			EXISTS (SELECT 1 FROM auth_sessions s WHERE s.family = cs.family AND s.revoked_at IS NULL AND s.expires_at > ?) AS parent,
			u.grants_version`, now, now).
		Joins("JOIN users u ON u.id = cs.user_id").
		Where("cs.hash = ?", hash).Limit(1).Scan(&r).Error
	if err != nil {
		return ConsoleAuth{}, Translate(err)
	}
	if r.UserID == 0 {
		return ConsoleAuth{}, ErrNotFound
	}
	return ConsoleAuth{UserID: r.UserID, Family: r.Family, Live: r.Own != 0 && r.Parent != 0, GrantsVersion: r.GrantsVersion}, nil
}

// RevokeConsoleSession ends one console session (a no-op when ended).
func RevokeConsoleSession(ctx context.Context, db *gorm.DB, hash string, at time.Time) error {
	return Translate(db.WithContext(ctx).Model(&ConsoleSession{}).
		Where("hash = ? AND revoked_at IS NULL", hash).Update("revoked_at", at).Error)
}

// PurgeConsole deletes tickets and console sessions that expired before now.
func PurgeConsole(ctx context.Context, db *gorm.DB, now time.Time) (int64, error) {
	db = db.WithContext(ctx)
	res := db.Where("expires_at < ?", now).Delete(&ConsoleTicket{})
	if res.Error != nil {
		return 0, Translate(res.Error)
	}
	n := res.RowsAffected
	res = db.Where("expires_at < ?", now).Delete(&ConsoleSession{})
	return n + res.RowsAffected, Translate(res.Error)
}
