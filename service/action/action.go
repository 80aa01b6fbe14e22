// Package action runs the issue list (问题清单) and its rectification
// ledger (整改台账): action items raised from a meeting's resolutions, an
// inspection or an order the community cannot close alone; claimed (认领)
// by a member of the owner organisation, done with evidence, verified or
// sent back by the organiser; marked overdue by the scheduler; listed and
// exported to Excel for the joint meeting's printed report.
// It must not import gin, net/http or api/.
package action

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
)

// Messages writes inbox and outbox rows inside the caller's transaction.
// *message.Service implements it.
type Messages interface {
	Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error
}

// Photos opens an uploaded photo for an actor. *photo.Service implements
// it: a photo's uploader may always open it.
type Photos interface {
	Open(ctx context.Context, a *service.Actor, id int64) (model.Photo, io.ReadCloser, error)
}

// Options tune the service.
type Options struct {
	// ExportMaxRows bounds one Excel export; a filter matching more rows
	// is refused. Zero means DefaultExportMaxRows.
	ExportMaxRows int
	// Exports is how many exports one instance builds at once (each holds
	// tens of MB at the cap); more are refused with 429. Zero means 2.
	Exports int
	// Log receives the overdue tick's reports; nil discards them.
	Log *slog.Logger
}

// DefaultExportMaxRows is the default cap of one export.
const DefaultExportMaxRows = 50000

// Service is the action item capability.
type Service struct {
	db     *gorm.DB
	clock  service.Clock
	msgs   Messages
	photos Photos
	opts   Options
	log    *slog.Logger
	// exports holds a token per export being built or written.
	exports chan struct{}
}

// New builds the service. msgs may be nil only in tests that send nothing.
func New(db *gorm.DB, clock service.Clock, msgs Messages, photos Photos, opts Options) *Service {
	if opts.ExportMaxRows <= 0 {
		opts.ExportMaxRows = DefaultExportMaxRows
	}
	if opts.Exports <= 0 {
		opts.Exports = 2
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, clock: clock, msgs: msgs, photos: photos, opts: opts, log: log,
		exports: make(chan struct{}, opts.Exports)}
}

// Actions on an item; each is one row of its history.
const (
	ActCreate   = "create"
	ActClaim    = "claim"
	ActDone     = "done"
	ActVerify   = "verify"
	ActSendBack = "send_back"
	ActOverdue  = "overdue"
)

// States lists the item states in lifecycle order.
var States = []string{model.ActionOpen, model.ActionClaimed, model.ActionDone, model.ActionVerified}

// OwnerKinds lists the organisations that can own an item.
var OwnerKinds = []string{model.OwnerFirm, model.OwnerCommittee, model.OwnerDepartment, model.OwnerCommunity}

// SourceKinds lists where an item can come from.
var SourceKinds = []string{model.SourceMeeting, model.SourceInspection, model.SourceOrder}

// StateName is the Chinese name of a state, for people and the export.
func StateName(state string) string {
	switch state {
	case model.ActionOpen:
		return "待认领"
	case model.ActionClaimed:
		return "整改中"
	case model.ActionDone:
		return "待验收"
	case model.ActionVerified:
		return "已验收"
	}
	return state
}

// Number is an item's human number: ZG, the Beijing date it was raised,
// and its id (ZG20261123-12).
func Number(it model.ActionItem) string {
	return fmt.Sprintf("ZG%s-%d", it.CreatedAt.In(calendar.Beijing).Format("20060102"), it.ID)
}

// DueDate is the Beijing date an item is due (the day before DueAt's
// Beijing midnight).
func DueDate(it model.ActionItem) string {
	return it.DueAt.Add(-time.Nanosecond).In(calendar.Beijing).Format(time.DateOnly)
}

var (
	errItemMissing  = service.NotFound("action_item_not_found", "整改事项不存在")
	errItemHidden   = service.Forbidden("out_of_scope", "该整改事项不在您的管辖范围内")
	errNotMember    = service.Forbidden("not_owner_member", "只有责任单位的成员可以认领或办结该事项")
	errNotOrganiser = service.Forbidden("not_organiser", "只有该事项的组织者可以验收或退回")
)

// conflict is the 409 the loser of a race or a wrong state gets, with the
// item's current state.
func conflict(it model.ActionItem) error {
	return service.Conflict("state_conflict", "整改事项状态已变为「"+StateName(it.State)+"」，请刷新后重试").
		WithDetail(map[string]any{"state": it.State, "version": it.Version, "claimed_by": it.ClaimedBy})
}
