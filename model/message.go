package model

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Message is one entry of a user's inbox. Kind is the WeChat template kind
// it would be pushed as (new_report, progress, rating, meeting).
type Message struct {
	Base
	UserID  int64  `gorm:"not null;index:ix_message_user,priority:1;uniqueIndex:ux_message_event,priority:1"`
	Kind    string `gorm:"size:16;not null"`
	Event   string `gorm:"size:32;not null"`
	Title   string `gorm:"size:100;not null"`
	Body    string `gorm:"size:500"`
	OrderID int64  `gorm:"index"`
	ReadAt  *time.Time
	// EventKey names the event the message tells of; with UserID it is
	// unique, so publishing an event twice writes one message. NULL for
	// messages written without a key (NULLs never collide).
	EventKey *string `gorm:"size:100;uniqueIndex:ux_message_event,priority:2"`
}

// Push channels.
const (
	ChannelMP  = "mp"  // the mini-program's subscribe message
	ChannelOA  = "oa"  // the service account's template message
	ChannelSMS = "sms" // a text message (emergency alerts only)
)

// States of an outbox row. pending and failed rows are due at DueAt;
// claimed and sending rows belong to a worker until LeaseUntil; the rest
// are final.
const (
	OutboxPending   = "pending"
	OutboxClaimed   = "claimed" // taken by a worker, not yet at WeChat
	OutboxSending   = "sending"
	OutboxSent      = "sent"
	OutboxSkipped   = "skipped"
	OutboxFailed    = "failed" // will be tried again at DueAt
	OutboxDead      = "dead"   // failed too often
	OutboxUnknown   = "unknown"
	OutboxCancelled = "cancelled"
)

// Outbox is one WeChat push owed to one user for one event, written in the
// transaction of the state change it tells of and delivered by the worker.
type Outbox struct {
	Base
	UserID   int64  `gorm:"not null;uniqueIndex:ux_outbox_event,priority:1"`
	EventKey string `gorm:"size:100;not null;uniqueIndex:ux_outbox_event,priority:2"`
	// Channel is ChannelMP until delivery picks the channel (the user's
	// choice then in force).
	Channel string `gorm:"size:8;not null;default:mp"`
	Kind    string `gorm:"size:16;not null"`
	Event   string `gorm:"size:32;not null"`
	OrderID int64
	// Payload is the event as JSON (title, body, fields, page): rendering
	// happens at delivery, with the template configuration then in force.
	Payload string `gorm:"type:text;not null"`
	// InboxPending: a scheduled event writes its inbox message when due.
	InboxPending bool   `gorm:"not null;default:false"`
	CancelKey    string `gorm:"size:64;index"`
	// Priority orders the claim: higher first, before any older backlog
	// (an emergency alert is 1). Such a row keeps the channel it was
	// published for.
	Priority int `gorm:"not null;default:0"`

	State      string    `gorm:"size:16;not null;index:ix_outbox_due,priority:1"`
	DueAt      time.Time `gorm:"not null;index:ix_outbox_due,priority:2"`
	Attempts   int       `gorm:"not null;default:0"`
	Owner      string    `gorm:"size:40;index"` // the claim that holds a sending row
	LeaseUntil *time.Time
	// StaleCount counts the times a worker lost the row while sending.
	StaleCount int    `gorm:"not null;default:0"`
	SkipReason string `gorm:"size:24"`
	LastCode   string `gorm:"size:16"` // WeChat errcode, or unreachable / timeout
	LastError  string `gorm:"size:200"`
	ToUser     string `gorm:"size:64"` // the openid it went to
	TemplateID string `gorm:"size:64"`
	// MsgID is the msgid WeChat answered the send with; its delivery
	// event (subscribe_msg_sent_event) names the push by it.
	MsgID  string `gorm:"size:32"` // indexed by migration step 4
	SentAt *time.Time
}

// SubscribeQuota counts the one-time subscribe messages of one template a
// user has allowed and we have not yet used.
type SubscribeQuota struct {
	Base
	UserID     int64  `gorm:"not null;uniqueIndex:ux_subscribe_quota,priority:1"`
	TemplateID string `gorm:"size:64;not null;uniqueIndex:ux_subscribe_quota,priority:2"`
	Remaining  int    `gorm:"not null;default:0"`
	// Off: the user turned the template off in WeChat's settings.
	Off bool `gorm:"not null;default:false"`
	// The mini-program and WeChat's push callback both report one tap on
	// "allow". Accepts one source reported that the other has not yet are
	// counted here, so the other's report of the same tap pairs with them
	// instead of adding again; unpaired reports expire at PairUntil.
	ClientUnpaired int `gorm:"not null;default:0"`
	ServerUnpaired int `gorm:"not null;default:0"`
	PairUntil      *time.Time
	AcceptedAt     *time.Time
}

// SandboxPush is what a push would have been, recorded instead of sent when
// no AppID is configured.
type SandboxPush struct {
	Base
	OutboxID         int64  `gorm:"not null;uniqueIndex"`
	UserID           int64  `gorm:"not null;index"`
	Channel          string `gorm:"size:8;not null;default:mp"`
	ToUser           string `gorm:"size:64"`
	Kind             string `gorm:"size:16;not null"`
	Event            string `gorm:"size:32;not null"`
	TemplateID       string `gorm:"size:64"`
	Page             string `gorm:"size:200"`
	MiniprogramState string `gorm:"size:16"`
	Data             string `gorm:"type:text;not null"` // the template's keys and values as JSON
	// Note says what the real channel would have done (no quota …).
	Note string `gorm:"size:100"`
}

// States of a content check.
const (
	CheckPending = "pending" // WeChat could not be asked yet
	CheckPass    = "pass"
	CheckReview  = "review"
	CheckRisky   = "risky"
)

// ContentCheck is the verdict of WeChat's text check on text that was
// stored without a clean pass: flagged for review, or waiting for a check
// WeChat could not answer at the time.
type ContentCheck struct {
	Base
	Subject   string    `gorm:"size:64;not null;index"` // what the text belongs to, e.g. order:12:description
	UserID    int64     `gorm:"not null;index"`         // who wrote it
	Scene     int       `gorm:"not null"`
	Text      string    `gorm:"type:text;not null"`
	State     string    `gorm:"size:16;not null;index:ix_check_due,priority:1"`
	DueAt     time.Time `gorm:"not null;index:ix_check_due,priority:2"`
	Label     string    `gorm:"size:32"`
	Attempts  int       `gorm:"not null;default:0"`
	LastError string    `gorm:"size:200"`
	Ancestry
}

// CallbackReceipt remembers a WeChat push callback already handled: WeChat
// repeats a push it thinks we missed.
type CallbackReceipt struct {
	Base
	Key string `gorm:"size:128;not null;uniqueIndex"`
}

// PushPreference is the channel a user wants pushes on; without a row it
// is the mini-program.
type PushPreference struct {
	Base
	UserID  int64  `gorm:"not null;uniqueIndex"`
	Channel string `gorm:"size:8;not null"`
}

// OAFollower is someone who follows (or followed) the service account
// (公众号), known by the account's own openid. UserID links them to our
// user with the same unionid; NULL while none is known and after they
// stop following.
type OAFollower struct {
	Base
	OpenID    string `gorm:"size:64;not null;uniqueIndex"`
	UnionID   string `gorm:"size:64;index"`
	UserID    *int64 `gorm:"uniqueIndex"`
	Following bool   `gorm:"not null;default:false"`
	// EventAt is the CreateTime of the latest follow event applied: an
	// older one arriving late changes nothing.
	EventAt int64 `gorm:"not null;default:0"`
}

// Queries of the messages capability. Each one takes a fresh statement
// from db: a gorm chain reused for two writes shares its statement and
// would write both into one table.

// skipExisting inserts what is new and passes over rows whose unique key
// is taken (the same event published again).
func skipExisting(ctx context.Context, db *gorm.DB) *gorm.DB {
	return db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true})
}

// InsertMessages writes inbox messages, passing over those whose (user,
// event key) is there already.
func InsertMessages(ctx context.Context, db *gorm.DB, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return Translate(skipExisting(ctx, db).Create(&msgs).Error)
}

// InsertOutbox writes outbox rows, passing over those whose (user, event
// key) is there already.
func InsertOutbox(ctx context.Context, db *gorm.DB, rows []Outbox) error {
	if len(rows) == 0 {
		return nil
	}
	return Translate(skipExisting(ctx, db).Create(&rows).Error)
}

// CancelOutbox cancels the rows of cancelKey that are in one of states,
// freeing them of their owner, and says how many it cancelled.
func CancelOutbox(ctx context.Context, db *gorm.DB, cancelKey string, states []string) (int64, error) {
	res := db.WithContext(ctx).Model(&Outbox{}).Where("cancel_key = ? AND state IN ?", cancelKey, states).
		Updates(map[string]any{"state": OutboxCancelled, "owner": ""})
	return res.RowsAffected, Translate(res.Error)
}

// OutboxClaim is one worker's take of due rows.
type OutboxClaim struct {
	Owner      string   // the new owner token
	From       []string // states a due row is in
	To         string   // the claimed state
	Now        time.Time
	LeaseUntil time.Time
	Limit      int
}

// ClaimOutbox hands up to c.Limit rows in one of c.From whose DueAt has
// come, highest priority first and then oldest due first, to c.Owner in
// state c.To until c.LeaseUntil, and returns them. On MySQL the rows are
// picked with SELECT … FOR UPDATE SKIP LOCKED, so concurrent claims take
// disjoint rows without waiting; SQLite has one writer, and a single
// UPDATE whose subquery picks the rows is atomic there.
//
// On MySQL each state is read in two parts off ix_outbox_claim (state,
// priority DESC, due_at): the urgent rows (priority > 0, a handful), then
// the routine ones (priority 0) in due order. Each part is a range that
// stops at its page, so a claim reads about one batch of rows however
// many pushes wait for a later time (reminders days ahead) or were sent
// long ago.
func ClaimOutbox(ctx context.Context, db *gorm.DB, c OutboxClaim) ([]Outbox, error) {
	set := map[string]any{"state": c.To, "owner": c.Owner, "lease_until": c.LeaseUntil}
	// Two workers' claims (or a claim and a sweep) may still deadlock
	// on the due index: the victim was rolled back whole and runs again.
	err := InTxRetry(ctx, db, 3, func(tx *gorm.DB) error {
		if !IsMySQL(tx) {
			pick := tx.Model(&Outbox{}).Select("id").Where("state IN ? AND due_at <= ?", c.From, c.Now).
				Order("priority DESC, due_at, id").Limit(c.Limit)
			return tx.Model(&Outbox{}).Where("id IN (?) AND state IN ?", pick, c.From).Updates(set).Error
		}
		var picked []Outbox
		for _, urgent := range []bool{true, false} {
			var part []Outbox
			for _, st := range c.From {
				q := tx.Table("outboxes FORCE INDEX (ix_outbox_claim)").Select("id", "priority", "due_at").Where("state = ?", st)
				if urgent {
					q = q.Where("priority > 0")
				} else {
					q = q.Where("priority = 0")
				}
				var rows []Outbox
				err := q.Where("due_at <= ?", c.Now).Order("priority DESC, due_at, id").
					Limit(c.Limit - len(picked)).Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).Find(&rows).Error
				if err != nil {
					return err
				}
				part = append(part, rows...)
			}
			slices.SortFunc(part, func(a, b Outbox) int {
				if a.Priority != b.Priority {
					return cmp.Compare(b.Priority, a.Priority)
				}
				if c := a.DueAt.Compare(b.DueAt); c != 0 {
					return c
				}
				return cmp.Compare(a.ID, b.ID)
			})
			picked = append(picked, part[:min(len(part), c.Limit-len(picked))]...)
			if len(picked) >= c.Limit {
				break
			}
		}
		if len(picked) == 0 {
			return nil
		}
		ids := make([]int64, len(picked))
		for i, r := range picked {
			ids[i] = r.ID
		}
		return tx.Model(&Outbox{}).Where("id IN ?", ids).Updates(set).Error
	})
	if err != nil {
		return nil, err
	}
	var rows []Outbox
	err = db.WithContext(ctx).Where("owner = ? AND state = ?", c.Owner, c.To).Order("priority DESC, due_at, id").Find(&rows).Error
	return rows, Translate(err)
}

// ReturnOutbox moves the rows ids that owner still holds in state from to
// state to, without an owner, and says how many moved.
func ReturnOutbox(ctx context.Context, db *gorm.DB, ids []int64, owner, from, to string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res := db.WithContext(ctx).Model(&Outbox{}).Where("id IN ? AND owner = ? AND state = ?", ids, owner, from).
		Updates(map[string]any{"state": to, "owner": ""})
	return res.RowsAffected, Translate(res.Error)
}

// ReturnLapsedOutbox moves every row in state from whose lease ended
// before now to state to, without an owner, and says how many moved.
func ReturnLapsedOutbox(ctx context.Context, db *gorm.DB, from, to string, now time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&Outbox{}).Where("state = ? AND lease_until < ?", from, now).
		Updates(map[string]any{"state": to, "owner": ""})
	return res.RowsAffected, Translate(res.Error)
}

// OutboxOutcome is what settling a row writes into it.
type OutboxOutcome struct {
	State      string
	DueAt      time.Time  // zero: unchanged
	SentAt     *time.Time // nil: unchanged
	SkipReason string     // "": unchanged
	MsgID      string     // "": unchanged
	// LastCode and LastError are always written ("" clears them).
	LastCode  string
	LastError string
}

func (o OutboxOutcome) columns() map[string]any {
	set := map[string]any{"state": o.State, "last_code": o.LastCode, "last_error": o.LastError}
	if !o.DueAt.IsZero() {
		set["due_at"] = o.DueAt
	}
	if o.SentAt != nil {
		set["sent_at"] = *o.SentAt
	}
	if o.SkipReason != "" {
		set["skip_reason"] = o.SkipReason
	}
	if o.MsgID != "" {
		set["msg_id"] = o.MsgID
	}
	return set
}

// LapseOutbox settles as o every row in state from, of one of kinds,
// whose lease ended before now, counting the lost lease in StaleCount, and
// says how many it settled.
func LapseOutbox(ctx context.Context, db *gorm.DB, from string, kinds []string, now time.Time, o OutboxOutcome) (int64, error) {
	if len(kinds) == 0 {
		return 0, nil
	}
	set := o.columns()
	set["stale_count"] = gorm.Expr("stale_count + 1")
	res := db.WithContext(ctx).Model(&Outbox{}).Where("state = ? AND lease_until < ? AND kind IN ?", from, now, kinds).Updates(set)
	return res.RowsAffected, Translate(res.Error)
}

// StartOutbox moves row id from state from to state to if owner still
// holds it, with a fresh lease, one more attempt counted and its inbox
// message no longer pending; it says whether the row moved (0 or 1).
func StartOutbox(ctx context.Context, db *gorm.DB, id int64, owner, from, to string, leaseUntil time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&Outbox{}).Where("id = ? AND owner = ? AND state = ?", id, owner, from).
		Updates(map[string]any{"state": to, "lease_until": leaseUntil, "attempts": gorm.Expr("attempts + 1"), "inbox_pending": false})
	return res.RowsAffected, Translate(res.Error)
}

// StartRoutedOutbox is StartOutbox that also records where the row goes
// (the channel, the openid and the template), in the same statement.
func StartRoutedOutbox(ctx context.Context, db *gorm.DB, id int64, owner, from, to string, leaseUntil time.Time, channel, toUser, templateID string) (int64, error) {
	res := db.WithContext(ctx).Model(&Outbox{}).Where("id = ? AND owner = ? AND state = ?", id, owner, from).
		Updates(map[string]any{"state": to, "lease_until": leaseUntil, "attempts": gorm.Expr("attempts + 1"), "inbox_pending": false,
			"channel": channel, "to_user": toUser, "template_id": templateID})
	return res.RowsAffected, Translate(res.Error)
}

// RouteOutbox records where row id goes: the channel, the openid and the
// template.
func RouteOutbox(ctx context.Context, db *gorm.DB, id int64, channel, toUser, templateID string) error {
	return Translate(db.WithContext(ctx).Model(&Outbox{}).Where("id = ?", id).
		Updates(map[string]any{"channel": channel, "to_user": toUser, "template_id": templateID}).Error)
}

// SkipOutbox settles row id as skipped for reason, ending its lease.
func SkipOutbox(ctx context.Context, db *gorm.DB, id int64, reason string) error {
	return Translate(db.WithContext(ctx).Model(&Outbox{}).Where("id = ?", id).
		Updates(map[string]any{"state": OutboxSkipped, "skip_reason": reason, "lease_until": nil}).Error)
}

// RecordOutbox settles row id as o, ending its lease, if owner still holds
// it in one of states; it says whether it did (0 or 1).
func RecordOutbox(ctx context.Context, db *gorm.DB, id int64, owner string, states []string, o OutboxOutcome) (int64, error) {
	set := o.columns()
	set["lease_until"] = nil
	res := db.WithContext(ctx).Model(&Outbox{}).Where("id = ? AND owner = ? AND state IN ?", id, owner, states).Updates(set)
	return res.RowsAffected, Translate(res.Error)
}

// InsertSandboxPush records what a push would have been, once per outbox
// row.
func InsertSandboxPush(ctx context.Context, db *gorm.DB, p *SandboxPush) error {
	return Translate(skipExisting(ctx, db).Create(p).Error)
}

// QuotaOf is the quota of one template of one user (ErrNotFound when
// they never had one).
func QuotaOf(ctx context.Context, db *gorm.DB, userID int64, templateID string) (SubscribeQuota, error) {
	var q SubscribeQuota
	err := db.WithContext(ctx).Where("user_id = ? AND template_id = ?", userID, templateID).Take(&q).Error
	return q, Translate(err)
}

// QuotasOf are every template quota of one user.
func QuotasOf(ctx context.Context, db *gorm.DB, userID int64) ([]SubscribeQuota, error) {
	var qs []SubscribeQuota
	err := db.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&qs).Error
	return qs, Translate(err)
}

func quota(ctx context.Context, db *gorm.DB, userID int64, templateID string) *gorm.DB {
	return db.WithContext(ctx).Model(&SubscribeQuota{}).Where("user_id = ? AND template_id = ?", userID, templateID)
}

// TakeQuota spends one allowed push of a template the user has not turned
// off, if one is left; it says whether it did (0 or 1).
func TakeQuota(ctx context.Context, db *gorm.DB, userID int64, templateID string) (int64, error) {
	return TakeQuotaKeeping(ctx, db, userID, templateID, 0)
}

// TakeQuotaKeeping takes one push of a template only when more than keep
// are left (the rest is held back for emergencies), and says whether it
// did (0 or 1).
func TakeQuotaKeeping(ctx context.Context, db *gorm.DB, userID int64, templateID string, keep int) (int64, error) {
	res := quota(ctx, db, userID, templateID).Where("remaining > ? AND off = ?", keep, false).
		Update("remaining", gorm.Expr("remaining - 1"))
	return res.RowsAffected, Translate(res.Error)
}

// RefundQuota gives back one push of a template taken for a push that
// never left.
func RefundQuota(ctx context.Context, db *gorm.DB, userID int64, templateID string) error {
	return Translate(quota(ctx, db, userID, templateID).Update("remaining", gorm.Expr("remaining + 1")).Error)
}

// EmptyQuota spends every push of a template that was left.
func EmptyQuota(ctx context.Context, db *gorm.DB, userID int64, templateID string) error {
	return Translate(quota(ctx, db, userID, templateID).Update("remaining", 0).Error)
}

// ForgetQuota spends every push of a template that was left and forgets
// that it was ever allowed.
func ForgetQuota(ctx context.Context, db *gorm.DB, userID int64, templateID string) error {
	return Translate(quota(ctx, db, userID, templateID).Updates(map[string]any{"remaining": 0, "accepted_at": nil}).Error)
}

// EnsureQuota creates the empty quota of a template for the user unless
// it exists.
func EnsureQuota(ctx context.Context, db *gorm.DB, userID int64, templateID string) error {
	return Translate(skipExisting(ctx, db).Create(&SubscribeQuota{UserID: userID, TemplateID: templateID}).Error)
}

// LockQuota creates the quota of a template for the user unless it exists
// and locks it for the rest of the transaction tx.
func LockQuota(ctx context.Context, tx *gorm.DB, userID int64, templateID string) (SubscribeQuota, error) {
	if err := EnsureQuota(ctx, tx, userID, templateID); err != nil {
		return SubscribeQuota{}, err
	}
	var q SubscribeQuota
	err := ForUpdate(tx.WithContext(ctx)).Where("user_id = ? AND template_id = ?", userID, templateID).Take(&q).Error
	return q, Translate(err)
}

// SaveQuota writes q's counts, switch, pairing and acceptance.
func SaveQuota(ctx context.Context, db *gorm.DB, q SubscribeQuota) error {
	return Translate(db.WithContext(ctx).Model(&SubscribeQuota{}).Where("id = ?", q.ID).Updates(map[string]any{
		"remaining": q.Remaining, "off": q.Off, "client_unpaired": q.ClientUnpaired,
		"server_unpaired": q.ServerUnpaired, "pair_until": q.PairUntil, "accepted_at": q.AcceptedAt,
	}).Error)
}

// SetQuotaOff turns a template off (or on again) for the user.
func SetQuotaOff(ctx context.Context, db *gorm.DB, userID int64, templateID string, off bool) error {
	return Translate(quota(ctx, db, userID, templateID).Update("off", off).Error)
}

// InsertCallbackReceipt remembers a push callback handled: ErrDuplicate
// when it was already. A failed insert leaves the transaction usable on
// MySQL and SQLite; MariaDB's affected-row count for ON DUPLICATE KEY
// cannot be trusted, hence no upsert.
func InsertCallbackReceipt(ctx context.Context, db *gorm.DB, key string) error {
	return Translate(db.WithContext(ctx).Create(&CallbackReceipt{Key: key}).Error)
}

// HasCallbackReceipt reports whether a push callback was handled.
func HasCallbackReceipt(ctx context.Context, db *gorm.DB, key string) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&CallbackReceipt{}).Where("`key` = ?", key).Count(&n).Error
	return n > 0, Translate(err)
}

// PushPreferenceOf is the channel the user chose (ErrNotFound: none).
func PushPreferenceOf(ctx context.Context, db *gorm.DB, userID int64) (PushPreference, error) {
	var p PushPreference
	err := db.WithContext(ctx).Where("user_id = ?", userID).Take(&p).Error
	return p, Translate(err)
}

// SetPushPreference records the channel the user chose.
func SetPushPreference(ctx context.Context, db *gorm.DB, userID int64, channel string) error {
	if err := skipExisting(ctx, db).Create(&PushPreference{UserID: userID, Channel: channel}).Error; err != nil {
		return Translate(err)
	}
	return Translate(db.WithContext(ctx).Model(&PushPreference{}).Where("user_id = ?", userID).Update("channel", channel).Error)
}

// FollowerOfUser is the follower linked to the user who follows now
// (ErrNotFound: none).
func FollowerOfUser(ctx context.Context, db *gorm.DB, userID int64) (OAFollower, error) {
	var f OAFollower
	err := db.WithContext(ctx).Where("user_id = ? AND following = ?", userID, true).Take(&f).Error
	return f, Translate(err)
}

// UnlinkedFollower is the oldest follower with unionID who follows now
// and is linked to no user (ErrNotFound: none).
func UnlinkedFollower(ctx context.Context, db *gorm.DB, unionID string) (OAFollower, error) {
	var f OAFollower
	err := db.WithContext(ctx).Where("union_id = ? AND following = ? AND user_id IS NULL", unionID, true).Order("id").Take(&f).Error
	return f, Translate(err)
}

// FollowerByOpenID is the follower of the service account's openid
// (ErrNotFound: none).
func FollowerByOpenID(ctx context.Context, db *gorm.DB, openID string) (OAFollower, error) {
	var f OAFollower
	err := db.WithContext(ctx).Where("open_id = ?", openID).Take(&f).Error
	return f, Translate(err)
}

// LinkFollower links follower id to the user if it is linked to nobody;
// it says whether it did (0 or 1), ErrDuplicate when the user is linked to
// another follower.
func LinkFollower(ctx context.Context, db *gorm.DB, id, userID int64) (int64, error) {
	res := db.WithContext(ctx).Model(&OAFollower{}).Where("id = ? AND user_id IS NULL", id).Update("user_id", userID)
	return res.RowsAffected, Translate(res.Error)
}

// UnlinkFollower records that openID no longer follows the account.
func UnlinkFollower(ctx context.Context, db *gorm.DB, openID string) error {
	return Translate(db.WithContext(ctx).Model(&OAFollower{}).Where("open_id = ?", openID).
		Updates(map[string]any{"following": false, "user_id": nil}).Error)
}

// LockFollower creates the follower of openID unless it exists and locks
// it for the rest of the transaction tx.
func LockFollower(ctx context.Context, tx *gorm.DB, openID string) (OAFollower, error) {
	if err := skipExisting(ctx, tx).Create(&OAFollower{OpenID: openID}).Error; err != nil {
		return OAFollower{}, Translate(err)
	}
	var f OAFollower
	err := ForUpdate(tx.WithContext(ctx)).Where("open_id = ?", openID).Take(&f).Error
	return f, Translate(err)
}

// UnlinkUserFollowers lets go of every follower linked to the user but
// keep.
func UnlinkUserFollowers(ctx context.Context, db *gorm.DB, userID, keep int64) error {
	return Translate(db.WithContext(ctx).Model(&OAFollower{}).Where("user_id = ? AND id <> ?", userID, keep).
		Update("user_id", nil).Error)
}

// SaveFollow writes a follow event applied to follower f: whether they
// follow, the event's time, the user they are linked to (nil: none) and
// their unionid.
func SaveFollow(ctx context.Context, db *gorm.DB, f OAFollower) error {
	return Translate(db.WithContext(ctx).Model(&OAFollower{}).Where("id = ?", f.ID).Updates(map[string]any{
		"following": f.Following, "event_at": f.EventAt, "user_id": f.UserID, "union_id": f.UnionID,
	}).Error)
}

// InsertContentCheck keeps the verdict of a stored text.
func InsertContentCheck(ctx context.Context, db *gorm.DB, c *ContentCheck) error {
	return Translate(db.WithContext(ctx).Create(c).Error)
}

// DueContentChecks are up to limit checks still pending whose DueAt has
// come, oldest due first.
func DueContentChecks(ctx context.Context, db *gorm.DB, now time.Time, limit int) ([]ContentCheck, error) {
	var rows []ContentCheck
	err := db.WithContext(ctx).Where("state = ? AND due_at <= ?", CheckPending, now).Order("due_at, id").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// ClaimContentCheck counts one more attempt of a pending check and puts
// it off to dueAt, if it is still pending after attempts tries: two
// workers never both ask. It says whether it did (0 or 1).
func ClaimContentCheck(ctx context.Context, db *gorm.DB, id int64, attempts int, dueAt time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&ContentCheck{}).Where("id = ? AND state = ? AND attempts = ?", id, CheckPending, attempts).
		Updates(map[string]any{"attempts": attempts + 1, "due_at": dueAt})
	return res.RowsAffected, Translate(res.Error)
}

// CheckOutcome is what one re-check writes into a pending check.
type CheckOutcome struct {
	State     string // the verdict with its Label; "": still pending
	Label     string
	DueAt     time.Time // the next try while pending; zero: unchanged
	LastError string    // always written ("" clears it)
}

// SettleContentCheck writes o into check id if it is still pending; it
// says whether it did (0 or 1).
func SettleContentCheck(ctx context.Context, db *gorm.DB, id int64, o CheckOutcome) (int64, error) {
	set := map[string]any{"last_error": o.LastError}
	if o.State != "" {
		set["state"], set["label"] = o.State, o.Label
	}
	if !o.DueAt.IsZero() {
		set["due_at"] = o.DueAt
	}
	res := db.WithContext(ctx).Model(&ContentCheck{}).Where("id = ? AND state = ?", id, CheckPending).Updates(set)
	return res.RowsAffected, Translate(res.Error)
}

// Inbox lists up to limit messages of the user with ids below after (0:
// from the newest), newest first; unreadOnly keeps the unread ones.
func Inbox(ctx context.Context, db *gorm.DB, userID int64, unreadOnly bool, after int64, limit int) ([]Message, error) {
	q := db.WithContext(ctx).Where("user_id = ?", userID)
	if unreadOnly {
		q = q.Where("read_at IS NULL")
	}
	var rows []Message
	err := beforeID(q, after).Order("id DESC").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

func beforeID(q *gorm.DB, after int64) *gorm.DB {
	if after > 0 {
		return q.Where("id < ?", after)
	}
	return q
}

// CountUnread counts the user's unread messages.
func CountUnread(ctx context.Context, db *gorm.DB, userID int64) (int64, error) {
	var n int64
	err := unread(ctx, db, userID).Count(&n).Error
	return n, Translate(err)
}

// MessageOf is one message of the user (ErrNotFound: none, or another's).
func MessageOf(ctx context.Context, db *gorm.DB, id, userID int64) (Message, error) {
	var m Message
	err := db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&m).Error
	return m, Translate(err)
}

func unread(ctx context.Context, db *gorm.DB, userID int64) *gorm.DB {
	return db.WithContext(ctx).Model(&Message{}).Where("user_id = ? AND read_at IS NULL", userID)
}

// MarkRead marks message id of the user read at at, unless it was read
// already.
func MarkRead(ctx context.Context, db *gorm.DB, id, userID int64, at time.Time) error {
	return Translate(unread(ctx, db, userID).Where("id = ?", id).Update("read_at", at).Error)
}

// MarkAllRead marks every unread message of the user read at at and says
// how many there were.
func MarkAllRead(ctx context.Context, db *gorm.DB, userID int64, at time.Time) (int64, error) {
	res := unread(ctx, db, userID).Update("read_at", at)
	return res.RowsAffected, Translate(res.Error)
}

// SandboxPushes lists up to limit sandbox pushes with ids below after (0:
// from the newest), newest first; userID filters by recipient when not 0.
func SandboxPushes(ctx context.Context, db *gorm.DB, userID, after int64, limit int) ([]SandboxPush, error) {
	q := db.WithContext(ctx)
	if userID > 0 {
		q = q.Where("user_id = ?", userID)
	}
	var rows []SandboxPush
	err := beforeID(q, after).Order("id DESC").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// OutboxRows lists up to limit outbox rows with ids below after (0: from
// the newest), newest first; state filters when not empty.
func OutboxRows(ctx context.Context, db *gorm.DB, state string, after int64, limit int) ([]Outbox, error) {
	q := db.WithContext(ctx)
	if state != "" {
		q = q.Where("state = ?", state)
	}
	var rows []Outbox
	err := beforeID(q, after).Order("id DESC").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// ContentChecks lists up to limit content checks with ids below after (0:
// from the newest), newest first. within keeps the checks under any of
// its places (nil keeps all; places of other kinds match nothing); state
// filters when not empty.
func ContentChecks(ctx context.Context, db *gorm.DB, within []Place, state string, after int64, limit int) ([]ContentCheck, error) {
	q := db.WithContext(ctx)
	if within != nil {
		conds := []string{"1 = 0"}
		var args []any
		for _, p := range within {
			if col := AncestryColumn(p.Kind); col != "" {
				conds = append(conds, col+" = ?")
				args = append(args, p.ID)
			}
		}
		q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
	}
	if state != "" {
		q = q.Where("state = ?", state)
	}
	var rows []ContentCheck
	err := beforeID(q, after).Order("id DESC").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// OutboxCount is the number of outbox rows of one state, skip reason and
// channel, and the leases they lost while sending.
type OutboxCount struct {
	State      string
	SkipReason string
	Channel    string
	N          int64
	Stale      int64
}

// CountOutbox counts the outbox rows by state, skip reason and channel:
// of every state when states is empty (the whole history: a scan of the
// table), else of those states only, read off the claim index (state
// first), so that counting the rows still on their way costs what they
// number, not what the history does.
func CountOutbox(ctx context.Context, db *gorm.DB, states ...string) ([]OutboxCount, error) {
	var out []OutboxCount
	q := db.WithContext(ctx).Model(&Outbox{})
	if len(states) > 0 {
		if IsMySQL(db) {
			q = db.WithContext(ctx).Table("outboxes FORCE INDEX (ix_outbox_claim)")
		}
		q = q.Where("state IN ?", states)
	}
	err := q.Select("state, skip_reason, channel, COUNT(*) AS n, SUM(stale_count) AS stale").
		Group("state, skip_reason, channel").Scan(&out).Error
	return out, Translate(err)
}

// CountOutboxCodes counts the rows in one of states by their last error
// code (rows without one are left out).
func CountOutboxCodes(ctx context.Context, db *gorm.DB, states []string) (map[string]int64, error) {
	var rows []struct {
		LastCode string
		N        int64
	}
	err := db.WithContext(ctx).Model(&Outbox{}).Select("last_code, COUNT(*) AS n").
		Where("state IN ? AND last_code <> ''", states).Group("last_code").Scan(&rows).Error
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.LastCode] = r.N
	}
	return out, Translate(err)
}

// OldestDue is the DueAt of the row in one of states due longest by now
// (ErrNotFound: none is due).
func OldestDue(ctx context.Context, db *gorm.DB, states []string, now time.Time) (time.Time, error) {
	var o Outbox
	err := db.WithContext(ctx).Select("id", "due_at").Where("state IN ? AND due_at <= ?", states, now).
		Order("due_at").Limit(1).Take(&o).Error
	return o.DueAt, Translate(err)
}

// CountContentChecks counts the checks in one of states.
func CountContentChecks(ctx context.Context, db *gorm.DB, states ...string) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&ContentCheck{}).Where("state IN ?", states).Count(&n).Error
	return n, Translate(err)
}

// RenewOutbox extends to leaseUntil the lease of every row owner holds in
// one of states (the worker's heartbeat), and says how many it renewed.
func RenewOutbox(ctx context.Context, db *gorm.DB, owner string, states []string, leaseUntil time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&Outbox{}).Where("owner = ? AND state IN ?", owner, states).
		Update("lease_until", leaseUntil)
	return res.RowsAffected, Translate(res.Error)
}

// heldBy scopes to rows whose owner token starts with prefix: the claims
// of one worker instance. prefix must not be empty and holds no LIKE
// wildcard (the service allows letters, digits, '-' and '.' only).
func heldBy(db *gorm.DB, prefix string) *gorm.DB {
	return db.Where("owner LIKE ?", prefix+"%")
}

// ReturnHeldOutbox moves every row in state from that a claim starting
// with ownerPrefix holds to state to, without an owner, whatever its
// lease, and says how many moved.
func ReturnHeldOutbox(ctx context.Context, db *gorm.DB, ownerPrefix, from, to string) (int64, error) {
	if ownerPrefix == "" {
		return 0, nil
	}
	res := heldBy(db.WithContext(ctx).Model(&Outbox{}), ownerPrefix).Where("state = ?", from).
		Updates(map[string]any{"state": to, "owner": ""})
	return res.RowsAffected, Translate(res.Error)
}

// LapseHeldOutbox settles as o every row in state from that a claim
// starting with ownerPrefix holds, whatever its lease, counting the lost
// lease in StaleCount, and says how many it settled.
func LapseHeldOutbox(ctx context.Context, db *gorm.DB, ownerPrefix, from string, o OutboxOutcome) (int64, error) {
	if ownerPrefix == "" {
		return 0, nil
	}
	set := o.columns()
	set["stale_count"] = gorm.Expr("stale_count + 1")
	set["lease_until"] = nil
	res := heldBy(db.WithContext(ctx).Model(&Outbox{}), ownerPrefix).Where("state = ?", from).Updates(set)
	return res.RowsAffected, Translate(res.Error)
}

// OutboxResend says which unknown rows are sent again once their
// reconcile window (DueAt) is over: those of Kinds, except the events
// starting with EventPrefix, which are sent again only if Events.
type OutboxResend struct {
	Now         time.Time
	Kinds       []string
	EventPrefix string
	Events      bool
	// Since keeps rows that became unknown at or after it: rows an
	// earlier version left unknown may have arrived (it kept no msgid and
	// read no delivery event), so they are never sent again.
	Since time.Time
	// SkipChannel leaves that channel's rows alone (the mini-program's,
	// when delivery events settle them with their quota given back).
	SkipChannel string
}

// ResendUnknownOutbox settles as o (a due state) every unknown row r
// picks whose DueAt has come, and says how many it settled. EventPrefix
// holds no LIKE wildcard.
func ResendUnknownOutbox(ctx context.Context, db *gorm.DB, r OutboxResend, o OutboxOutcome) (int64, error) {
	pattern := r.EventPrefix + "%" // a plain prefix: no LIKE wildcard in it
	q := db.WithContext(ctx).Model(&Outbox{}).Where("state = ? AND due_at <= ? AND updated_at >= ?", OutboxUnknown, r.Now, r.Since)
	if r.SkipChannel != "" {
		q = q.Where("channel <> ?", r.SkipChannel)
	}
	var pick *gorm.DB
	switch {
	case r.EventPrefix == "" && len(r.Kinds) == 0:
		return 0, nil
	case r.EventPrefix == "":
		pick = db.Where("kind IN ?", r.Kinds)
	case len(r.Kinds) == 0 && !r.Events:
		return 0, nil
	case len(r.Kinds) == 0:
		pick = db.Where("event LIKE ?", pattern)
	case r.Events:
		pick = db.Where("kind IN ? OR event LIKE ?", r.Kinds, pattern)
	default:
		pick = db.Where("kind IN ? AND event NOT LIKE ?", r.Kinds, pattern)
	}
	res := q.Where(pick).Updates(o.columns())
	return res.RowsAffected, Translate(res.Error)
}

// SentEventOutbox finds the subscribe-message row a delivery event of
// WeChat tells of: the row sent to toUser under msgID, else the oldest
// unknown or sending row of toUser and templateID that has no msgid (its
// send timed out, or its worker died, or has yet to record the answer).
func SentEventOutbox(ctx context.Context, db *gorm.DB, toUser, templateID, msgID string) (Outbox, error) {
	var rows []Outbox
	if msgID != "" {
		if err := db.WithContext(ctx).Where("msg_id = ? AND to_user = ?", msgID, toUser).Limit(1).Find(&rows).Error; err != nil {
			return Outbox{}, Translate(err)
		}
		if len(rows) == 1 {
			return rows[0], nil
		}
	}
	err := db.WithContext(ctx).Where("state IN ? AND to_user = ? AND template_id = ? AND channel = ? AND msg_id = ?",
		[]string{OutboxUnknown, OutboxSending}, toUser, templateID, ChannelMP, "").Order("id").Limit(2).Find(&rows).Error
	if err != nil {
		return Outbox{}, Translate(err)
	}
	// Without a msgid the event names only the user and the template: with
	// two such pushes in doubt (two instances sending at once) it cannot
	// say which arrived, and settling the wrong one could lose the other.
	// Both are then left to the window's rule.
	if len(rows) != 1 {
		return Outbox{}, ErrNotFound
	}
	return rows[0], nil
}

// SettleOutbox settles row id as o if it is still in state from, ending
// its lease and taking it from its owner (a compare-and-set that needs no
// owner: a worker still at it then records nothing); it says whether it
// did (0 or 1).
func SettleOutbox(ctx context.Context, db *gorm.DB, id int64, from string, o OutboxOutcome) (int64, error) {
	set := o.columns()
	set["lease_until"], set["owner"] = nil, ""
	res := db.WithContext(ctx).Model(&Outbox{}).Where("id = ? AND state = ?", id, from).Updates(set)
	return res.RowsAffected, Translate(res.Error)
}

// DueUnknownOutbox lists up to limit unknown rows of channel whose
// reconcile window (DueAt) is over, oldest first.
func DueUnknownOutbox(ctx context.Context, db *gorm.DB, channel string, now, since time.Time, limit int) ([]Outbox, error) {
	var rows []Outbox
	err := db.WithContext(ctx).Where("state = ? AND due_at <= ? AND channel = ? AND updated_at >= ?", OutboxUnknown, now, channel, since).
		Order("due_at, id").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}
