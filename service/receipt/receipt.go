// Package receipt answers "who was told": the delivery of a published
// subject (a notice, a version of a disclosure board, a red/black list …)
// to a set of households, with one receipt per household — delivered (the
// inbox of its registered members written, their pushes queued through
// the outbox or skipped and why), read (first read, by whom), confirmed
// where the subject asks for it, and told in person by the building
// steward, which counts as reached — and the counts per subject and
// building, kept in tallies moved in the same transactions, so that a
// count never scans the receipts. The capabilities that publish call
// Deliver inside their own transaction and check who may see their
// subject; this package checks only who may act on a household. It must
// not import gin, net/http or api/.
package receipt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// Messages is what delivery needs of the messages capability.
// *message.Service implements it.
type Messages interface {
	Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error
}

// Service is the receipts capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	msgs  Messages
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, msgs Messages) *Service {
	return &Service{db: db, clock: clock, msgs: msgs}
}

// Subject is what households are told of: a kind (model.SubjectNotice, or
// another capability's own, at most 16 bytes) and its id.
type Subject struct {
	Kind string
	ID   int64
}

// Key is the inbox and outbox event key of the subject's delivery: with
// the user it is unique, so a member of two households told is told once.
func (s Subject) Key() string { return fmt.Sprintf("%s:%d", s.Kind, s.ID) }

func (s Subject) valid() error {
	if s.Kind == "" || len(s.Kind) > 16 || s.ID <= 0 {
		return fmt.Errorf("receipt: bad subject %q %d", s.Kind, s.ID)
	}
	return nil
}

// Scope kinds of a delivery: a node of the tree (every household under
// it) or households named one by one.
const (
	ScopeStreet    = model.ScopeStreet
	ScopeCommunity = model.ScopeCommunity
	ScopeCompound  = model.ScopeCompound
	ScopeBuilding  = model.ScopeBuilding
	ScopeHousehold = "household"
)

// Scope is the households told: every household under the nodes IDs of
// Kind (several buildings, say), or the households IDs themselves.
type Scope struct {
	Kind string
	IDs  []int64
}

// Options say what the members' inbox and push say.
type Options struct {
	// Event names what happened, e.g. notice.published (at most 32 bytes).
	Event string
	// Title and Body are the inbox message's.
	Title, Body string
	// Push queues a WeChat push per registered member through the outbox;
	// without it the inbox alone is written.
	Push bool
	// Kind is the push's template kind (message.KindNotice when empty).
	Kind string
	// Fields feed the template (title, publisher, time …); Page opens when
	// the push is tapped.
	Fields map[string]string
	Page   string
	// CancelKey lets the publisher withdraw the pushes not yet sent
	// (message.Service.CancelScheduled).
	CancelKey string
}

// Delivery is what a delivery did.
type Delivery struct {
	Households   int64 // receipts written
	Delivered    int64 // households whose inbox reached at least one member
	Unregistered int64 // households with nobody registered
	Pushed       int64 // households whose members' pushes were queued
	// Members counts the registered members told, per household: someone
	// registered in two households told counts twice, with one message.
	Members int64
}

// Batch sizes: households read per chunk, receipt rows per INSERT, and
// members per Publish (its outbox rows have some 25 columns, and SQLite
// takes at most 32,766 parameters in one statement).
const (
	householdChunk = 1000
	receiptBatch   = 500
	memberChunk    = 400
)

var (
	errAlreadyDelivered = service.Conflict("already_delivered", "该内容已送达各户，不能重复送达")
	errEmptyScope       = service.Unprocessable("empty_scope", "所选范围内没有房屋")
)

// Deliver tells the households of scope of subj inside the caller's
// transaction tx: one receipt per household, one inbox message (and, with
// opt.Push, one outbox row) per registered member, and the subject's
// tallies. Every write is a multi-row INSERT in chunks: some 50 statements
// for 5,000 households. A subject is delivered once (a second delivery is
// a conflict, the tallies' unique key deciding under concurrency); a
// scope without households is refused. Thousands of households take
// longer than the ordinary transaction budget on a loaded database: run
// tx with model.InLongTx.
func (s *Service) Deliver(ctx context.Context, tx *gorm.DB, subj Subject, scope Scope, opt Options) (Delivery, error) {
	var d Delivery
	if err := subj.valid(); err != nil {
		return d, err
	}
	if opt.Kind == "" {
		opt.Kind = message.KindNotice
	}
	if opt.Event == "" {
		opt.Event = subj.Kind + ".published"
	}
	col := scopeColumn(scope.Kind)
	if col == "" || len(scope.IDs) == 0 {
		return d, fmt.Errorf("receipt: bad scope %q %v", scope.Kind, scope.IDs)
	}
	done, err := model.HasReceipts(ctx, tx, subj.Kind, subj.ID)
	if err != nil {
		return d, err
	}
	if done {
		return d, errAlreadyDelivered
	}
	households, err := s.households(ctx, tx, col, scope.IDs)
	if err != nil {
		return d, err
	}
	if len(households) == 0 {
		return d, errEmptyScope
	}
	// Door by door: the receipts' ids then read by building, unit and room.
	slices.SortFunc(households, func(a, b model.Household) int {
		return cmp.Or(cmp.Compare(a.BuildingID, b.BuildingID), compareRoom(a.Unit, b.Unit),
			compareRoom(a.Room, b.Room), cmp.Compare(a.ID, b.ID))
	})
	tallies := newTallies(subj)
	key := subj.Key()
	now := s.now()
	for chunk := range slices.Chunk(households, householdChunk) {
		ids := make([]int64, len(chunk))
		for i, h := range chunk {
			ids[i] = h.ID
		}
		members, err := model.MembersOf(ctx, tx, ids)
		if err != nil {
			return d, err
		}
		count := map[int64]int{}
		var users []int64
		for _, m := range members {
			count[m.HouseholdID]++
			users = append(users, m.UserID)
		}
		rows := make([]model.Receipt, len(chunk))
		for i, h := range chunk {
			r := model.Receipt{Base: model.Base{CreatedAt: now, UpdatedAt: now}, SubjectKind: subj.Kind, SubjectID: subj.ID, HouseholdID: h.ID, Unit: h.Unit, Room: h.Room,
				Members: count[h.ID], EventKey: key, Ancestry: h.Ancestry}
			switch {
			case r.Members == 0:
				r.Push = model.ReceiptPushNoMembers
			case opt.Push:
				r.Push = model.ReceiptPushQueued
			default:
				r.Push = model.ReceiptPushNotAsked
			}
			rows[i] = r
			tallies.add(r)
		}
		if err := model.InsertReceipts(ctx, tx, rows, receiptBatch); err != nil {
			return d, fmt.Errorf("receipt: write receipts: %w", err)
		}
		for part := range slices.Chunk(users, memberChunk) {
			ev := message.Event{Kind: opt.Kind, Event: opt.Event, Key: key, UserIDs: part, Title: opt.Title, Body: opt.Body,
				Fields: opt.Fields, Page: opt.Page, CancelKey: opt.CancelKey, InboxOnly: !opt.Push}
			if err := s.msgs.Publish(ctx, tx, ev); err != nil {
				return d, fmt.Errorf("receipt: tell members: %w", err)
			}
		}
		d.Members += int64(len(users))
	}
	err = model.InsertTallies(ctx, tx, tallies.list())
	if errors.Is(err, model.ErrDuplicate) {
		return Delivery{}, errAlreadyDelivered
	}
	if err != nil {
		return Delivery{}, err
	}
	t := tallies.total
	return Delivery{Households: t.Households, Delivered: t.Delivered, Unregistered: t.Unregistered, Pushed: t.Pushed,
		Members: d.Members}, nil
}

func scopeColumn(kind string) string {
	switch kind {
	case ScopeStreet, ScopeCommunity, ScopeCompound, ScopeBuilding:
		return kind + "_id"
	case ScopeHousehold:
		return "id"
	}
	return ""
}

// households reads every household of the scope, in id chunks.
func (s *Service) households(ctx context.Context, tx *gorm.DB, col string, nodes []int64) ([]model.Household, error) {
	var out []model.Household
	var after int64
	for {
		page, err := model.HouseholdsUnder(ctx, tx, col, nodes, after, householdChunk*5)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < householdChunk*5 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// compareRoom orders unit and room numbers as people read them: 2 before
// 10, numbers before names.
func compareRoom(a, b string) int {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return cmp.Compare(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// tallies adds up a delivery's receipts for the whole subject, per
// building and per unit of a building.
type tallies struct {
	total *model.ReceiptTally
	rows  map[[2]string]*model.ReceiptTally // by building id and unit
	order [][2]string
}

func newTallies(subj Subject) *tallies {
	return &tallies{total: &model.ReceiptTally{SubjectKind: subj.Kind, SubjectID: subj.ID}, rows: map[[2]string]*model.ReceiptTally{}}
}

// row is the tally of building b's unit (a building's own with unit "").
func (t *tallies) row(r model.Receipt, unit string) *model.ReceiptTally {
	key := [2]string{strconv.FormatInt(r.BuildingID, 10), unit}
	x := t.rows[key]
	if x == nil {
		a := r.Ancestry
		x = &model.ReceiptTally{SubjectKind: r.SubjectKind, SubjectID: r.SubjectID, BuildingID: r.BuildingID, Unit: unit,
			CityID: a.CityID, DistrictID: a.DistrictID, StreetID: a.StreetID, CommunityID: a.CommunityID,
			CompoundID: a.CompoundID, GridID: a.GridID}
		t.rows[key] = x
		t.order = append(t.order, key)
	}
	return x
}

func (t *tallies) add(r model.Receipt) {
	rows := []*model.ReceiptTally{t.total}
	if r.BuildingID != 0 {
		rows = append(rows, t.row(r, ""))
		if r.Unit != "" {
			rows = append(rows, t.row(r, r.Unit))
		}
	}
	for _, x := range rows {
		x.Households++
		if r.Members > 0 {
			x.Delivered++
		} else {
			x.Unregistered++
		}
		if r.Push == model.ReceiptPushQueued {
			x.Pushed++
		}
	}
}

func (t *tallies) list() []model.ReceiptTally {
	out := []model.ReceiptTally{*t.total}
	for _, key := range t.order {
		out = append(out, *t.rows[key])
	}
	return out
}

// now is the clock's reading as stored.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }
