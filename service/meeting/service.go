// Package meeting runs the meetings of DESIGN.md §6: joint meetings
// (联席会议), tripartite consultations (三方协调议事), residents' talks
// (民情恳谈 / 每周说事), owners' assemblies (业主大会). An organiser acting
// for an organisation calls a meeting within their scope, invites people
// and groups (expanded at send time, in keyset batches), and takes it
// through draft → scheduled → held → minuted → closed, or cancelled, with
// notices, reminders through the outbox, RSVP, sign-in and versioned
// minutes. It must not import gin, net/http or api/.
package meeting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// Messages is what meetings need of the messages capability: inbox and
// outbox rows written in the meeting's own transaction, withdrawal of
// scheduled reminders, and WeChat's check of what residents write.
// *message.Service implements it.
type Messages interface {
	Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error
	CancelScheduled(ctx context.Context, tx *gorm.DB, cancelKey string) error
	CheckText(ctx context.Context, userID int64, scene int, text string) (message.Verdict, error)
	RecordCheck(ctx context.Context, tx *gorm.DB, rec message.CheckRecord, v message.Verdict) error
}

// Options tune the service. Zero values take the defaults.
type Options struct {
	// Reminders are how long before the start participants are reminded;
	// nil means 24 hours and 2 hours, an empty slice none.
	Reminders []time.Duration
	// BatchSize is how many participants one expansion or notice batch
	// holds (at most 500, the most one Publish takes). Default 500.
	BatchSize int
	// HoldLead is how long before its start a meeting may be opened (held)
	// and its sign-in code shown. Default 1 hour.
	HoldLead time.Duration
	// SignInTries is how many code attempts one participant has per
	// SignInWindow. Defaults 5 per 10 minutes.
	SignInTries  int
	SignInWindow time.Duration
	// RedisPrefix namespaces the sign-in rate-limit keys.
	RedisPrefix string
}

// ParseReminders reads reminder offsets from configuration: a comma list
// of durations ("24h,2h"); "" means the defaults, "none" no reminders.
func ParseReminders(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, nil
	case "none":
		return []time.Duration{}, nil
	}
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 || d%time.Minute != 0 {
			return nil, fmt.Errorf("meeting reminders: %q is not a positive number of minutes such as 24h or 90m", part)
		}
		out = append(out, d)
	}
	return out, nil
}

// MaxBatch is the largest batch: Publish takes at most 500 recipients.
const MaxBatch = 500

func (o Options) withDefaults() (Options, error) {
	if o.Reminders == nil {
		o.Reminders = []time.Duration{24 * time.Hour, 2 * time.Hour}
	}
	o.Reminders = slices.Clone(o.Reminders)
	for _, d := range o.Reminders {
		if d <= 0 || d%time.Minute != 0 {
			return o, fmt.Errorf("meeting: reminder offset %s must be a positive number of minutes", d)
		}
	}
	slices.Sort(o.Reminders)
	o.Reminders = slices.Compact(o.Reminders)
	if o.BatchSize <= 0 {
		o.BatchSize = MaxBatch
	}
	if o.BatchSize > MaxBatch {
		return o, fmt.Errorf("meeting: batch size %d is over %d", o.BatchSize, MaxBatch)
	}
	if o.HoldLead <= 0 {
		o.HoldLead = time.Hour
	}
	if o.SignInTries <= 0 {
		o.SignInTries = 5
	}
	if o.SignInWindow <= 0 {
		o.SignInWindow = 10 * time.Minute
	}
	return o, nil
}

// Service is the meetings capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	msgs  Messages
	limit service.Limiter
	opts  Options

	// onBatch (tests, export_test.go) sees the size of every batch read
	// while expanding groups (source "group") and telling participants
	// (source "notify").
	onBatch func(source string, n int)
}

// New builds the service.
func New(db *gorm.DB, rdb redis.UniversalClient, clock service.Clock, msgs Messages, opts Options) (*Service, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if msgs == nil {
		return nil, errors.New("meeting: the messages service is required")
	}
	return &Service{db: db, clock: clock, msgs: msgs, opts: opts,
		limit: service.Limiter{Redis: rdb, Prefix: opts.RedisPrefix, Clock: clock}}, nil
}

// OrganiserRoles may call meetings within the scope of their grant: the
// community (社区党委 / 社区工作者), a compound's party branch and
// committee, the street and the levels above it.
var OrganiserRoles = []string{
	model.RoleCommunityStaff, model.RolePartyBranch, model.RoleCommittee,
	model.RoleStreetStaff, model.RoleDistrictStaff, model.RoleCityStaff,
}

// ScopeKinds are where a meeting may be called.
var ScopeKinds = []string{model.ScopeStreet, model.ScopeCommunity, model.ScopeCompound}

// Kinds are the meeting kinds.
var Kinds = []string{model.MeetingJoint, model.MeetingTripartite, model.MeetingTalk, model.MeetingAssembly, model.MeetingOther}

var (
	errHidden     = service.NotFound("meeting_not_found", "会议不存在")
	errNotManager = service.Forbidden("not_organiser", "只有会议的组织者或该范围的组织单位可以进行此操作")
	errNoCapacity = service.Forbidden("not_organiser_role", "只有社区、街道工作人员和小区党支部、业委会成员可以组织会议")
)

// stateWords are meeting states in Chinese for messages.
var stateWords = map[string]string{
	model.MeetingDraft: "草稿", model.MeetingScheduled: "已发出通知", model.MeetingHeld: "正在召开",
	model.MeetingMinuted: "已发布纪要", model.MeetingClosed: "已结束", model.MeetingCancelled: "已取消",
}

// stateConflict is the 409 of an action the meeting's state does not
// allow (or a race lost), with the current state.
func stateConflict(m *model.Meeting, want string) error {
	return service.Conflict("state_conflict", fmt.Sprintf("会议当前%s，不能%s", stateWords[m.State], want)).
		WithDetail(map[string]any{"state": m.State, "version": m.Version})
}
