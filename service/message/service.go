// Package message is the messages capability: every user's inbox, the
// transactional outbox of WeChat subscribe-message pushes and the worker
// that delivers it at most once per (event, user), the subscribe quota per
// (user, template), WeChat's push callback, the text content check, the
// sandbox record of pushes and the delivery metrics (DESIGN.md §5). Staff
// who follow the service account (公众号) may take their pushes there as
// template messages instead (official.go), behind the same outbox.
// Emergency alerts (Event.Urgent) go out on every channel a person can
// be reached on, SMS included (reach.go, channel.go, sms.go), ahead of
// the backlog.
// Other capabilities call Publish and CancelScheduled inside their own
// transactions and CheckText before storing what residents write; the
// Recheck, built after them, asks again about texts WeChat could not check
// and hands late verdicts back to them. Queries live in model/message.go.
// It must not import gin, net/http or api/.
package message

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/wechat"
)

// Template kinds (DESIGN.md §5).
const (
	KindNewReport = "new_report" // 新工单提醒
	KindProgress  = "progress"   // 工单进度通知
	KindRating    = "rating"     // 满意度评价
	KindMeeting   = "meeting"    // 会议通知
	KindNotice    = "notice"     // 公告通知: notices and disclosures told to households
	// KindEvaluation tells firms, staff and committees of 红黑榜, star
	// ratings, appeals and their consequences.
	KindEvaluation = "evaluation" // 考核结果通知
)

// Kinds lists the template kinds in display order.
func Kinds() []string {
	return []string{KindNewReport, KindProgress, KindRating, KindMeeting, KindNotice, KindEvaluation}
}

// Sender pushes one subscribe message. *wechat.Client and *wechat.Sandbox
// implement it; errors of the real client hold a *wechat.APIError.
type Sender interface {
	SendSubscribe(ctx context.Context, m wechat.SubscribeMessage) error
}

// Checker runs WeChat's text check (msgSecCheck v2).
type Checker interface {
	MsgCheck(ctx context.Context, openID string, scene int, content string) (wechat.Verdict, error)
}

// WeChat is what the service needs of WeChat.
type WeChat interface {
	Sender
	Checker
}

// Config tunes the service. Zero values take the defaults of
// DefaultConfig.
type Config struct {
	// Sandbox records pushes in sandbox_pushes instead of sending them
	// (no AppID configured). Kinds without a template id then get a
	// made-up one so that the subscribe flow can be walked through.
	Sandbox bool
	// MiniprogramState is shown with sandbox pushes; the real client sends
	// the state of its own options.
	MiniprogramState string
	// Templates by kind; nil means DefaultTemplates().
	Templates map[string]Template

	BatchSize   int           // outbox rows one claim takes
	SendLanes   int           // rows of a batch sent side by side (one user's rows share a lane)
	Lease       time.Duration // how long a claimed or sending row is a worker's; renewed every third of it while held
	MaxAttempts int           // failed sends before a row is dead
	RetryBase   time.Duration // first retry delay; doubles per attempt
	RetryMax    time.Duration // longest retry delay

	// ReconcileAfter is how long a push whose outcome was lost (timed out,
	// or its worker died mid-send) waits for WeChat's delivery event
	// before the per-kind rule applies (Template.ResendUnknown,
	// EmergencyKeepUnknown).
	ReconcileAfter time.Duration
	// EmergencyKeepUnknown: an emergency alert whose outcome was lost and
	// that no delivery event settled is left unknown instead of being sent
	// again. Off by default: a duplicate alert is better than none.
	EmergencyKeepUnknown bool
	// SentEvents: WeChat's push callback receives subscribe_msg_sent_event
	// for every subscribe message (消息推送 configured with the event). A
	// mini-program push still unknown when ReconcileAfter is over then
	// never reached WeChat, and is sent again whatever its kind, its quota
	// given back. Needs CallbackToken.
	SentEvents bool
	// Instance names this worker's claims (at most 15 characters, unique
	// among the processes alive at once, stable across restarts). Run
	// starts by releasing the rows an earlier process of the same name
	// held, rather than waiting for their leases. Empty: none.
	Instance string

	// Push callback (消息推送) of the mini-program: the AppID, the token and
	// the EncodingAESKey configured in its console. An empty token turns
	// the callback off.
	AppID          string
	CallbackToken  string
	CallbackAESKey string
	// CallbackMaxSkew refuses callbacks whose timestamp is further than
	// this from our clock (replays).
	CallbackMaxSkew time.Duration
	// PairWindow is how long an accept reported by one source (the
	// mini-program or the callback) waits for the other's report of the
	// same tap, which then does not count again.
	PairWindow time.Duration

	// CheckMaxAttempts bounds the re-checks of text WeChat could not check;
	// after that the text is flagged for review.
	CheckMaxAttempts int
	// CheckTimeout bounds the text check a resident waits for (CheckText);
	// past it the text is stored pending. After CheckBreakerFailures
	// checks in a row that WeChat did not answer, CheckText defers every
	// check at once for CheckBreakerOpen, then lets one probe through.
	CheckTimeout         time.Duration
	CheckBreakerFailures int
	CheckBreakerOpen     time.Duration

	// OAEnabled turns on the service account's template messages: staff
	// who follow the account and chose it get their pushes there. Off by
	// default.
	OAEnabled bool
	// The service account's AppID, and the token and EncodingAESKey of its
	// server configuration (服务器配置) for follow events; an empty token
	// turns its callback off. Its AppSecret belongs to the client
	// (wechat.OAOptions).
	OAAppID  string
	OAToken  string
	OAAESKey string
	// OATemplates by kind; nil means DefaultOATemplates(). A kind without
	// a template id is pushed in the mini-program.
	OATemplates map[string]OATemplate
	// OfficialAccount is the service account's client (nil: none). A
	// sandbox given to New as its WeChat stands in for it when nil.
	OfficialAccount OfficialAccount

	// SMSEnabled turns on text messages for emergency alerts (sms.go).
	// Off by default; in the sandbox texts are recorded, not sent.
	SMSEnabled bool
	// SMS sends them (required when enabled outside the sandbox).
	SMS SMS
	// SMSTemplate is the approved template an alert is sent as.
	SMSTemplate SMSTemplate
	// EmergencyReserve is how many one-time allowances of the template
	// emergency alerts use (KindNewReport's) routine pushes leave
	// untouched (0: none).
	EmergencyReserve int

	// Log takes the worker's and the callbacks' warnings; nil discards
	// them.
	Log *slog.Logger
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MiniprogramState: "formal",
		BatchSize:        64,
		SendLanes:        16,
		Lease:            15 * time.Second,
		ReconcileAfter:   10 * time.Minute,
		MaxAttempts:      8,
		RetryBase:        30 * time.Second,
		RetryMax:         time.Hour,
		CallbackMaxSkew:  10 * time.Minute,
		PairWindow:       10 * time.Minute,
		CheckMaxAttempts: 12,

		CheckTimeout: 2 * time.Second, CheckBreakerFailures: 3, CheckBreakerOpen: 30 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MiniprogramState == "" {
		c.MiniprogramState = d.MiniprogramState
	}
	if c.Templates == nil {
		c.Templates = DefaultTemplates()
	}
	c.Templates = maps.Clone(c.Templates)
	if c.OATemplates == nil {
		c.OATemplates = DefaultOATemplates()
	}
	c.OATemplates = maps.Clone(c.OATemplates)
	if c.Sandbox {
		for kind, t := range c.Templates {
			if t.ID == "" {
				t.ID = "sandbox_" + kind
				c.Templates[kind] = t
			}
		}
		for kind, t := range c.OATemplates {
			if t.ID == "" {
				t.ID = "sandbox_oa_" + kind
				c.OATemplates[kind] = t
			}
		}
	}
	model.OrDefault(&c.BatchSize, d.BatchSize)
	model.OrDefault(&c.SendLanes, d.SendLanes)
	model.OrDefault(&c.Lease, d.Lease)
	model.OrDefault(&c.ReconcileAfter, d.ReconcileAfter)
	model.OrDefault(&c.MaxAttempts, d.MaxAttempts)
	model.OrDefault(&c.RetryBase, d.RetryBase)
	if c.RetryMax < c.RetryBase {
		c.RetryMax = max(d.RetryMax, c.RetryBase)
	}
	model.OrDefault(&c.CallbackMaxSkew, d.CallbackMaxSkew)
	model.OrDefault(&c.PairWindow, d.PairWindow)
	model.OrDefault(&c.CheckMaxAttempts, d.CheckMaxAttempts)
	if c.EmergencyReserve < 0 {
		c.EmergencyReserve = 0
	}
	model.OrDefault(&c.CheckTimeout, d.CheckTimeout)
	model.OrDefault(&c.CheckBreakerFailures, d.CheckBreakerFailures)
	model.OrDefault(&c.CheckBreakerOpen, d.CheckBreakerOpen)
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Service is the messages capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	wx    WeChat
	oa    OfficialAccount // nil: no service account
	cfg   Config
	log   *slog.Logger

	metrics counters
	check   *breaker // of the text check a resident waits for
	openIDs openIDCache

	// Test hooks (export_test.go): afterSend runs between WeChat's answer
	// and recording it and may simulate a crash there; onClaim sees every
	// claim.
	afterSend func(row model.Outbox) (crash bool)
	onClaim   func(owner string, ids []int64)
}

// New builds the service. wx is *wechat.Client, or *wechat.Sandbox in
// sandbox mode (where it only answers text checks; nil defers them all).
func New(db *gorm.DB, clock service.Clock, wx WeChat, cfg Config) (*Service, error) {
	cfg = cfg.withDefaults()
	if err := cfg.ValidateTemplates(); err != nil {
		return nil, err
	}
	if wx == nil && !cfg.Sandbox {
		return nil, fmt.Errorf("message: a WeChat client is required outside the sandbox")
	}
	if cfg.CallbackAESKey != "" && len(cfg.CallbackAESKey) != 43 {
		return nil, fmt.Errorf("message: the callback EncodingAESKey must be 43 characters")
	}
	if cfg.CallbackAESKey != "" && cfg.AppID == "" {
		return nil, fmt.Errorf("message: the callback EncodingAESKey needs the AppID")
	}
	if cfg.SentEvents && cfg.CallbackToken == "" {
		return nil, fmt.Errorf("message: delivery events (SentEvents) need the push callback's token")
	}
	if len(cfg.Instance) > maxInstance || !instanceName.MatchString(cfg.Instance) {
		return nil, fmt.Errorf("message: the worker instance name %q must be at most %d letters, digits or '-'", cfg.Instance, maxInstance)
	}
	if err := cfg.validateOA(); err != nil {
		return nil, err
	}
	if cfg.SMSEnabled && cfg.SMSTemplate.Code == "" {
		return nil, fmt.Errorf("message: the SMS channel needs its template id")
	}
	if cfg.SMSEnabled && !cfg.Sandbox && cfg.SMS == nil {
		return nil, fmt.Errorf("message: the SMS channel needs a provider client outside the sandbox")
	}
	s := &Service{db: db, clock: clock, wx: wx, oa: cfg.OfficialAccount, cfg: cfg, log: cfg.Log, metrics: newCounters(),
		check: &breaker{clock: clock, log: cfg.Log, threshold: cfg.CheckBreakerFailures, openFor: cfg.CheckBreakerOpen}}
	if oa, ok := wx.(OfficialAccount); ok && s.oa == nil { // the sandbox stands in for both
		s.oa = oa
	}
	return s, nil
}

// Event is one thing that happened, told to its recipients.
type Event struct {
	Kind  string // template kind: new_report, progress, rating, meeting
	Event string // what happened, e.g. order.submitted (at most 32 characters)
	// Key identifies the event (e.g. order:12:submitted:3). With the user
	// id it is unique: publishing the same key again writes nothing new,
	// so no push is ever queued twice for one (event, user).
	Key     string
	UserIDs []int64
	Title   string // the inbox title (at most 100 characters kept)
	Body    string // the inbox text (at most 500 characters kept)
	OrderID int64
	// Fields feed the template mapping: number, category, place, time,
	// state, remark, meeting_title, meeting_time, meeting_place … Times are
	// RFC 3339 (a range joins two with "~").
	Fields map[string]string
	// Page overrides the kind's configured page.
	Page string
	// NotBefore schedules the push (and its inbox message) for later;
	// zero means now.
	NotBefore time.Time
	// CancelKey lets CancelScheduled withdraw the push while it waits
	// (e.g. meeting:5, rating:order:12).
	CancelKey string
	// Urgent marks an emergency alert: each recipient gets one push on
	// every channel Reach finds for him (at most 96 bytes of Key, since
	// the channel is appended), claimed ahead of any backlog; a recipient
	// reachable on none gets the inbox message alone.
	Urgent bool
	// InboxOnly writes the inbox messages and queues no push (a notice
	// its publisher did not ask to push).
	InboxOnly bool
}

// payload is what an outbox row keeps of its event for rendering.
type payload struct {
	Title  string            `json:"title"`
	Body   string            `json:"body"`
	Fields map[string]string `json:"fields,omitempty"`
	Page   string            `json:"page,omitempty"`
	At     time.Time         `json:"at"` // when the event was published
}

func (ev Event) validate() error {
	switch {
	case !slices.Contains(Kinds(), ev.Kind):
		return fmt.Errorf("message: unknown kind %q", ev.Kind)
	case ev.Event == "" || len(ev.Event) > 32:
		return fmt.Errorf("message: event name %q must be 1 to 32 bytes", ev.Event)
	case ev.Key == "" || len(ev.Key) > 100 || ev.Urgent && len(ev.Key) > 96:
		return fmt.Errorf("message: event key %q must be 1 to 100 bytes (96 when urgent)", ev.Key)
	case ev.Urgent && !ev.NotBefore.IsZero():
		return fmt.Errorf("message: an urgent event cannot be scheduled")
	case ev.InboxOnly && (ev.Urgent || !ev.NotBefore.IsZero()):
		return fmt.Errorf("message: an inbox-only event is neither urgent nor scheduled")
	case len(ev.CancelKey) > 64:
		return fmt.Errorf("message: cancel key %q is longer than 64 bytes", ev.CancelKey)
	case ev.Title == "":
		return fmt.Errorf("message: event %s has no title", ev.Event)
	}
	return nil
}

// Publish writes, inside the caller's transaction tx, one inbox row and
// one outbox row per recipient for one event. A scheduled event (NotBefore
// in the future) writes its inbox row when it falls due, so that a
// cancelled reminder never shows. Recipients with id 0 are ignored.
func (s *Service) Publish(ctx context.Context, tx *gorm.DB, ev Event) error {
	if err := ev.validate(); err != nil {
		return err
	}
	var users []int64
	for _, id := range ev.UserIDs {
		if id > 0 && !slices.Contains(users, id) {
			users = append(users, id)
		}
	}
	if len(users) == 0 {
		return nil
	}
	now := s.clock.Now().UTC()
	due, scheduled := now, ev.NotBefore.After(now)
	if scheduled {
		due = ev.NotBefore.UTC()
	}
	title, body := service.CutRunes(ev.Title, 100), service.CutRunes(ev.Body, 500)
	raw, err := json.Marshal(payload{Title: title, Body: body, Fields: ev.Fields, Page: ev.Page, At: now})
	if err != nil {
		return fmt.Errorf("message: encode payload: %w", err)
	}
	if !scheduled {
		msgs := make([]model.Message, 0, len(users))
		for _, uid := range users {
			msgs = append(msgs, newMessage(uid, ev.Kind, ev.Event, ev.Key, title, body, ev.OrderID))
		}
		if err := model.InsertMessages(ctx, tx, msgs); err != nil {
			return fmt.Errorf("message: write inbox: %w", err)
		}
	}
	if ev.InboxOnly {
		return nil
	}
	if ev.Urgent {
		return s.publishUrgent(ctx, tx, ev, users, string(raw), due)
	}
	rows := make([]model.Outbox, 0, len(users))
	for _, uid := range users {
		rows = append(rows, model.Outbox{
			UserID: uid, EventKey: ev.Key, Channel: model.ChannelMP, Kind: ev.Kind, Event: ev.Event, OrderID: ev.OrderID,
			Payload: string(raw), InboxPending: scheduled, CancelKey: ev.CancelKey,
			State: model.OutboxPending, DueAt: due,
		})
	}
	if err := model.InsertOutbox(ctx, tx, rows); err != nil {
		return fmt.Errorf("message: write outbox: %w", err)
	}
	return nil
}

func newMessage(userID int64, kind, event, key, title, body string, orderID int64) model.Message {
	k := key
	return model.Message{UserID: userID, Kind: kind, Event: event, EventKey: &k, Title: title, Body: body, OrderID: orderID}
}

// CancelScheduled withdraws, inside the caller's transaction, every push
// with cancelKey that has not gone out yet (a meeting called off, an order
// rated before its reminder), including rows a worker has claimed but not
// begun to send: its compare-and-set to sending then finds nothing.
// Pushes already being sent are not stopped.
func (s *Service) CancelScheduled(ctx context.Context, tx *gorm.DB, cancelKey string) error {
	if cancelKey == "" {
		return fmt.Errorf("message: empty cancel key")
	}
	_, err := model.CancelOutbox(ctx, tx, cancelKey, []string{model.OutboxPending, model.OutboxFailed, outboxClaimed})
	if err != nil {
		return fmt.Errorf("message: cancel %s: %w", cancelKey, err)
	}
	return nil
}

// counters are this process's delivery counts since start; the database
// holds the totals.
type counters struct {
	mu       sync.Mutex
	sent     int64
	sentBy   map[string]int64 // by channel
	skipped  map[string]int64
	failed   map[string]int64
	unknown  int64
	dead     int64
	requeued int64
}

func newCounters() counters {
	return counters{sentBy: map[string]int64{}, skipped: map[string]int64{}, failed: map[string]int64{}}
}

func (c *counters) add(f func(c *counters)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}
