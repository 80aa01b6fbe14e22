package model

import "time"

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
	ChannelMP = "mp" // the mini-program's subscribe message
	ChannelOA = "oa" // the service account's template message
)

// States of an outbox row. pending and failed rows are due at DueAt;
// sending rows belong to a worker until LeaseUntil; the rest are final.
const (
	OutboxPending   = "pending"
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
	SentAt     *time.Time
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
