package model

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Statements of the outbox worker that move a whole batch of rows at once
// (a meeting's thousands of notices): one statement per batch instead of
// one per push.

// OpenIDsOf maps each of userIDs that has a mini-program openid to it
// (users without one, or unknown, are left out).
func OpenIDsOf(ctx context.Context, db *gorm.DB, userIDs []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	var us []User
	if err := db.WithContext(ctx).Select("id", "open_id").Where("id IN ?", userIDs).Find(&us).Error; err != nil {
		return nil, Translate(err)
	}
	for _, u := range us {
		if u.OpenID != nil && *u.OpenID != "" {
			out[u.ID] = *u.OpenID
		}
	}
	return out, nil
}

// OutboxRoute is where one row goes: the openid and the template.
type OutboxRoute struct {
	ID         int64
	ToUser     string
	TemplateID string
}

// byID is "CASE id WHEN ? THEN ? … ELSE <column> END" over pairs, for an
// UPDATE that writes a different value into each row.
func byID[T any](column string, ids []int64, value func(i int) T) caseExpr {
	var b strings.Builder
	args := make([]any, 0, 2*len(ids))
	b.WriteString("CASE id")
	for i, id := range ids {
		b.WriteString(" WHEN ? THEN ?")
		args = append(args, id, value(i))
	}
	b.WriteString(" ELSE " + column + " END")
	return caseExpr{sql: b.String(), args: args}
}

type caseExpr struct {
	sql  string
	args []any
}

// StartRoutedOutboxes is StartRoutedOutbox for many rows in one
// statement: every row of routes that owner still holds in state from
// moves to state to with a fresh lease, one more attempt, its inbox
// message no longer pending and its route. It says how many moved.
func StartRoutedOutboxes(ctx context.Context, db *gorm.DB, routes []OutboxRoute, owner, from, to string, leaseUntil time.Time, channel string) (int64, error) {
	if len(routes) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(routes))
	for i, r := range routes {
		ids[i] = r.ID
	}
	toUser := byID("to_user", ids, func(i int) string { return routes[i].ToUser })
	tpl := byID("template_id", ids, func(i int) string { return routes[i].TemplateID })
	res := db.WithContext(ctx).Model(&Outbox{}).Where("id IN ? AND owner = ? AND state = ?", ids, owner, from).
		Updates(map[string]any{"state": to, "lease_until": leaseUntil, "attempts": gorm.Expr("attempts + 1"), "inbox_pending": false,
			"channel": channel, "to_user": gorm.Expr(toUser.sql, toUser.args...), "template_id": gorm.Expr(tpl.sql, tpl.args...)})
	return res.RowsAffected, Translate(res.Error)
}

// HeldOutboxIDs are those of ids that owner holds in state.
func HeldOutboxIDs(ctx context.Context, db *gorm.DB, ids []int64, owner, state string) ([]int64, error) {
	var out []int64
	if len(ids) == 0 {
		return out, nil
	}
	err := db.WithContext(ctx).Model(&Outbox{}).Where("id IN ? AND owner = ? AND state = ?", ids, owner, state).
		Order("id").Pluck("id", &out).Error
	return out, Translate(err)
}

// RecordSentOutboxes settles the rows ids as sent at sentAt, each with
// its msgid (msgIDs[i], "" keeps the row's), ending their lease, where
// owner still holds them in one of states: RecordOutbox of a success for
// many rows in one statement. It says how many it settled.
func RecordSentOutboxes(ctx context.Context, db *gorm.DB, ids []int64, msgIDs []string, owner string, states []string, sentAt time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	set := OutboxOutcome{State: OutboxSent, SentAt: &sentAt}.columns()
	set["lease_until"] = nil
	var with []int64
	var vals []string
	for i, id := range ids {
		if msgIDs[i] != "" {
			with, vals = append(with, id), append(vals, msgIDs[i])
		}
	}
	if len(with) > 0 {
		c := byID("msg_id", with, func(i int) string { return vals[i] })
		set["msg_id"] = gorm.Expr(c.sql, c.args...)
	}
	res := db.WithContext(ctx).Model(&Outbox{}).Where("id IN ? AND owner = ? AND state IN ?", ids, owner, states).Updates(set)
	return res.RowsAffected, Translate(res.Error)
}
