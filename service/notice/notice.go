// Package notice runs notices (公告): a community, a street, an owners'
// committee, a firm (for the compounds it has a live contract with) or a
// party branch tells a scope of the tree — a street, a community, a
// compound, a building or several buildings of one compound — with a
// title, a body, photos, an optional push and an optional request to
// confirm (water cuts, fire drills, meter readings), now or at a
// scheduled time, until an expiry. Publishing tells every household of
// the scope through service/receipt, which keeps who was told; residents
// list their household's notices, open and confirm them; staff withdraw
// them (kept as withdrawn), and the publisher, the grid worker and the
// building steward see the counts and the households not yet reached. It
// must not import gin, net/http or api/.
package notice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/photo"
	"redprop/service/receipt"
)

// Messages is what notices need of the messages capability: withdrawing
// the pushes not yet sent. *message.Service implements it.
type Messages interface {
	CancelScheduled(ctx context.Context, tx *gorm.DB, cancelKey string) error
}

// PhotoStore reads stored photo bytes; photo.Storage implements it.
type PhotoStore interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Service is the notices capability.
type Service struct {
	db       *gorm.DB
	clock    service.Clock
	msgs     Messages
	receipts *receipt.Service
	store    PhotoStore
	log      *slog.Logger
}

// New builds the service. log takes the scheduler's lines (nil discards
// them).
func New(db *gorm.DB, clock service.Clock, msgs Messages, receipts *receipt.Service, store PhotoStore, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, clock: clock, msgs: msgs, receipts: receipts, store: store, log: log}
}

// Publisher kinds: who a notice is by.
const (
	ByCommunity   = "community"
	ByStreet      = "street"
	ByCommittee   = "committee"
	ByFirm        = "firm"
	ByPartyBranch = "party_branch"
)

// Scope kinds of a notice.
const (
	ScopeStreet    = model.ScopeStreet
	ScopeCommunity = model.ScopeCommunity
	ScopeCompound  = model.ScopeCompound
	ScopeBuilding  = model.ScopeBuilding
	ScopeBuildings = "buildings" // several buildings of one compound
)

// Limits of what a notice holds.
const (
	MaxPhotos    = photo.MaxAttached
	maxTitle     = 60
	maxBody      = 5000
	maxBuildings = 100
	maxReason    = 200
	maxAhead     = 90 * 24 * time.Hour  // the furthest a notice can be scheduled
	maxLife      = 366 * 24 * time.Hour // the longest a notice stays up
	// publishBudget bounds the transaction that tells every household of
	// the scope: a street's thousands take longer than an ordinary write.
	publishBudget = 2 * time.Minute
)

var (
	errNoticeNotFound = service.NotFound("notice_not_found", "公告不存在")
	errPublisher      = service.Invalid("bad_publisher", "发布单位须为 community、street、committee、firm 或 party_branch")
	errScopeKind      = service.Invalid("bad_scope", "公告范围须为 street、community、compound、building 或 buildings")
	errScopeIDs       = service.Invalid("bad_scope_ids", "请选择公告范围：一个街道、社区、小区或楼栋，或同一小区的 1 到 100 栋楼")
	errScopeMissing   = service.Unprocessable("scope_not_found", "所选公告范围不存在")
	errScopeSpread    = service.Unprocessable("buildings_spread", "多栋楼须属于同一小区")
	errTitle          = service.Invalid("bad_title", "标题须为 1 到 60 个字")
	errBody           = service.Invalid("bad_body", "正文须为 1 到 5000 个字")
	errPhotos         = photo.ErrBadPhotos
	errPhotoGone      = photo.ErrPhotoGone
	errPhotoNotFound  = service.NotFound("photo_not_found", "照片不存在")
	errPublishAt      = service.Invalid("bad_publish_at", "定时发布时间不能早于现在，也不能晚于 90 天后")
	errExpiresAt      = service.Invalid("bad_expires_at", "截止时间须晚于发布时间，且不超过发布后一年")
	errReason         = service.Invalid("bad_reason", "撤回原因须为 1 到 200 个字")
	errNoConfirm      = service.Unprocessable("confirm_not_asked", "该公告无需确认")
	errNotPublished   = service.Conflict("notice_not_published", "公告未发布或已撤回")
	errWithdrawn      = service.Conflict("notice_withdrawn", "公告已撤回")
	errMoved          = service.Conflict("notice_changed", "公告刚被他人修改，请刷新后重试")
)

// CreateInput is a new notice.
type CreateInput struct {
	// As is the publisher kind the author publishes for (By*).
	As        string
	ScopeKind string
	ScopeIDs  []int64
	Title     string
	Body      string
	PhotoIDs  []int64
	// Push sends a WeChat push to every registered member besides the
	// inbox message; NeedsConfirm asks each household to confirm.
	Push         bool
	NeedsConfirm bool
	// PublishAt schedules the notice (nil or not after now: at once);
	// ExpiresAt takes it off the residents' list (nil: never).
	PublishAt *time.Time
	ExpiresAt *time.Time
	IdemKey   string
}

// Create writes a notice and, unless it is scheduled, publishes it in
// the same transaction: every household of the scope gets its receipt
// and its members their inbox message (and push). created is false, with
// the first notice, when the author already made one with the same
// Idempotency-Key.
func (s *Service) Create(ctx context.Context, a *service.Actor, in CreateInput) (View, bool, error) {
	if a == nil {
		return View{}, false, service.ErrUnauthenticated
	}
	now := s.now()
	if err := check(&in, now); err != nil {
		return View{}, false, err
	}
	if in.IdemKey != "" {
		n, ok, err := model.ByIdemKey[model.Notice](ctx, s.db, "author_id", a.UserID, in.IdemKey)
		if err != nil {
			return View{}, false, err
		}
		if ok {
			return s.view(ctx, a, n)
		}
	}
	sc, err := s.resolveScope(ctx, in.ScopeKind, in.ScopeIDs)
	if err != nil {
		return View{}, false, err
	}
	pub, err := s.publisherFor(ctx, a, in.As, sc, now)
	if err != nil {
		return View{}, false, err
	}
	if err := photo.CheckFree(ctx, s.db, a.UserID, in.PhotoIDs); err != nil {
		return View{}, false, err
	}
	n := model.Notice{
		Base:          model.Base{CreatedAt: now, UpdatedAt: now},
		PublisherKind: in.As, PublisherID: pub.id, PublisherName: pub.name, AuthorID: a.UserID,
		ScopeKind: in.ScopeKind, ScopeIDs: in.ScopeIDs, Title: in.Title, Body: in.Body, Photos: in.PhotoIDs,
		Push: in.Push, NeedsConfirm: in.NeedsConfirm, State: model.NoticeScheduled, PublishAt: now,
		ExpiresAt: in.ExpiresAt, Version: 1, Ancestry: sc.anc,
	}
	if in.PublishAt != nil && in.PublishAt.After(now) {
		n.PublishAt = *in.PublishAt
	}
	if in.IdemKey != "" {
		n.IdemKey = &in.IdemKey
	}
	err = model.InLongTx(ctx, s.db, publishBudget, func(tx *gorm.DB) error {
		if err := model.Create(ctx, tx, &n); err != nil {
			return err
		}
		if n.PublishAt.After(now) {
			return nil
		}
		return s.publish(ctx, tx, &n, now)
	})
	if errors.Is(err, model.ErrDuplicate) && in.IdemKey != "" {
		// The same key raced in from a double tap: answer the first.
		first, ok, err := model.ByIdemKey[model.Notice](ctx, s.db, "author_id", a.UserID, in.IdemKey)
		if err == nil && ok {
			return s.view(ctx, a, first)
		}
	}
	if err != nil {
		return View{}, false, err
	}
	v, _, err := s.view(ctx, a, n)
	return v, true, err
}

// publish moves a scheduled notice to published and tells its households,
// inside tx. A notice another instance published first is left alone
// (the compare-and-set finds nothing): each notice is published once.
func (s *Service) publish(ctx context.Context, tx *gorm.DB, n *model.Notice, now time.Time) error {
	set := map[string]any{"state": model.NoticePublished, "published_at": now, "updated_at": now}
	moved, err := model.MoveNotice(ctx, tx, n.ID, model.NoticeScheduled, n.Version, set)
	if err != nil {
		return err
	}
	if moved == 0 {
		return errMoved
	}
	d, err := s.receipts.Deliver(ctx, tx, subject(n.ID), deliveryScope(*n), receipt.Options{
		Event: "notice.published", Title: n.Title, Body: service.CutRunes(n.Body, 200), Push: n.Push,
		Kind: message.KindNotice, CancelKey: subject(n.ID).Key(), Page: "pages/notice/detail?id=" + strconv.FormatInt(n.ID, 10),
		Fields: map[string]string{
			message.FieldTitle: n.Title, message.FieldBody: n.Body, message.FieldPublisher: n.PublisherName,
			message.FieldTime: now.Format(time.RFC3339), "notice_id": strconv.FormatInt(n.ID, 10),
		},
	})
	if err != nil {
		return err
	}
	if _, err := model.Patch[model.Notice](ctx, tx, n.ID, map[string]any{"households": d.Households}); err != nil {
		return err
	}
	n.State, n.PublishedAt, n.Version, n.Households = model.NoticePublished, &now, n.Version+1, d.Households
	return nil
}

func subject(id int64) receipt.Subject { return receipt.Subject{Kind: model.SubjectNotice, ID: id} }

func deliveryScope(n model.Notice) receipt.Scope {
	kind := n.ScopeKind
	if kind == ScopeBuildings {
		kind = receipt.ScopeBuilding
	}
	return receipt.Scope{Kind: kind, IDs: n.ScopeIDs}
}

func check(in *CreateInput, now time.Time) error {
	in.Title, in.Body = strings.TrimSpace(in.Title), strings.TrimSpace(in.Body)
	switch in.As {
	case ByCommunity, ByStreet, ByCommittee, ByFirm, ByPartyBranch:
	default:
		return errPublisher
	}
	switch in.ScopeKind {
	case ScopeStreet, ScopeCommunity, ScopeCompound, ScopeBuilding:
		if len(in.ScopeIDs) != 1 {
			return errScopeIDs
		}
	case ScopeBuildings:
		if len(in.ScopeIDs) < 1 || len(in.ScopeIDs) > maxBuildings {
			return errScopeIDs
		}
	default:
		return errScopeKind
	}
	seen := map[int64]bool{}
	for _, id := range in.ScopeIDs {
		if id <= 0 || seen[id] {
			return errScopeIDs
		}
		seen[id] = true
	}
	if n := utf8.RuneCountInString(in.Title); n == 0 || n > maxTitle {
		return errTitle
	}
	if n := utf8.RuneCountInString(in.Body); n == 0 || n > maxBody {
		return errBody
	}
	if len(in.PhotoIDs) > MaxPhotos {
		return errPhotos
	}
	photos := map[int64]bool{}
	for _, id := range in.PhotoIDs {
		if id <= 0 || photos[id] {
			return errPhotos
		}
		photos[id] = true
	}
	start := now
	if in.PublishAt != nil {
		at := in.PublishAt.UTC().Truncate(time.Microsecond)
		// A minute of slack for a phone's clock: "now" from a phone is a
		// little in the past by the time it arrives.
		if at.Before(now.Add(-time.Minute)) || at.After(now.Add(maxAhead)) {
			return errPublishAt
		}
		in.PublishAt = &at
		if at.After(now) {
			start = at
		}
	}
	if in.ExpiresAt != nil {
		at := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !at.After(start) || at.After(start.Add(maxLife)) {
			return errExpiresAt
		}
		in.ExpiresAt = &at
	}
	return service.CheckIdemKey(in.IdemKey)
}

// Photo opens one photo of a notice for someone who may see it.
func (s *Service) Photo(ctx context.Context, a *service.Actor, id, photoID int64) (model.Photo, io.ReadCloser, error) {
	n, err := s.visible(ctx, a, id)
	if err != nil {
		return model.Photo{}, nil, err
	}
	if !slices.Contains(n.Photos, photoID) {
		return model.Photo{}, nil, errPhotoNotFound
	}
	p, err := model.ByID[model.Photo](ctx, s.db, photoID)
	if err != nil {
		return model.Photo{}, nil, service.OrNotFound(err, errPhotoNotFound)
	}
	if s.store == nil {
		return model.Photo{}, nil, errPhotoNotFound
	}
	rc, err := s.store.Open(ctx, p.Key)
	if err != nil {
		return model.Photo{}, nil, fmt.Errorf("notice %d photo %d: %w", id, photoID, err)
	}
	return p, rc, nil
}

// contractDay is today in Beijing as contract dates are stored (midnight
// UTC of the calendar day).
func contractDay(now time.Time) time.Time {
	y, m, d := now.In(calendar.Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }
