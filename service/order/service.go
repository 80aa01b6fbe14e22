// Package order runs the order loop: 点单 → 核实 → 派单 → 接单 → 办结 → 验收
// → 评价, with deadlines, the 四议 escalation ladder, emergency calls and
// the append-only timeline. It must not import gin or api/.
package order

import (
	"context"
	"io"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
)

// Calendars gives the working-day calendar in force.
type Calendars interface {
	Current(ctx context.Context) (*calendar.Calendar, error)
}

// Photos attaches uploaded photos to an order inside the caller's
// transaction, and opens a photo once the order service has decided the
// viewer may see it. *photo.Service implements it.
type Photos interface {
	Attach(ctx context.Context, tx *gorm.DB, uploaderID int64, ids []int64, orderID int64) error
	Find(ctx context.Context, id int64) (model.Photo, error)
	OpenChecked(ctx context.Context, id int64) (model.Photo, io.ReadCloser, error)
}

// Messages is what the order loop needs of the messages capability: the
// inbox and outbox written inside the order's own transaction, scheduled
// rating reminders, and WeChat's check of the text residents write.
// *message.Service implements it.
type Messages interface {
	Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error
	CancelScheduled(ctx context.Context, tx *gorm.DB, cancelKey string) error
	CheckText(ctx context.Context, userID int64, scene int, text string) (message.Verdict, error)
	RecordCheck(ctx context.Context, tx *gorm.DB, rec message.CheckRecord, v message.Verdict) error
	// Reach says on which channels each user can be alerted now.
	Reach(ctx context.Context, db *gorm.DB, kind string, userIDs []int64) (map[int64][]string, error)
}

// Options tune the emergency-call alerts and the rating reminder, and
// give the logger.
type Options struct {
	// Log receives the scheduler's failures and summaries; nil discards.
	Log *slog.Logger
	// EmergencyRepeat is how often an unacknowledged call alerts again.
	EmergencyRepeat time.Duration
	// EmergencyEscalateAfter is how long a call may stay unacknowledged
	// before it goes to the street.
	EmergencyEscalateAfter time.Duration
	// RatingReminder is how long after the grid worker's confirmation a
	// resident who has not rated is reminded (once, and only if the order
	// is still open then). Zero means 24 hours.
	RatingReminder time.Duration
	// FirmContractGrace is how long after its last contract with the
	// order's compound ended the handling firm still sees the resident's
	// name and phone; zero hides them the day after the contract ends.
	FirmContractGrace time.Duration
	// NumberBlock is how many order numbers the service reserves from the
	// database at a time (zero: 10); see numbers.
	NumberBlock int
	// RectifyDays is how many working days the handler has to rectify a
	// rating of 1–2 (zero: DefaultRectifyDays).
	RectifyDays int
	// Names caches the display names views show (nil: read every time).
	// Whoever edits those rows forgets them there; UpdateCategory does.
	Names *model.NameCache
	// Seats answers who fills a seat (nil: model.Holders, a statement
	// each time); auth.Service keeps them under its lease.
	Seats Seats
}

// Seats finds the live grants of seats, as model.Holders does; the rows
// may be shared and are not to be changed.
type Seats interface {
	Holders(ctx context.Context, db *gorm.DB, seats ...model.Seat) ([]model.Grant, error)
}

// holders is Options.Seats, or model.Holders without it.
func (s *Service) holders(ctx context.Context, db *gorm.DB, seats ...model.Seat) ([]model.Grant, error) {
	if s.opts.Seats != nil {
		return s.opts.Seats.Holders(ctx, db, seats...)
	}
	return model.Holders(ctx, db, seats...)
}

// Service is the order capability.
type Service struct {
	db     *gorm.DB
	clock  service.Clock
	cal    Calendars
	photos Photos
	msgs   Messages
	opts   Options
	log    *slog.Logger
	// numbers hands out order numbers outside the orders' transactions.
	numbers *numbers
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, cal Calendars, photos Photos, msgs Messages, opts Options) *Service {
	if opts.RatingReminder <= 0 {
		opts.RatingReminder = 24 * time.Hour
	}
	if opts.RectifyDays <= 0 {
		opts.RectifyDays = DefaultRectifyDays
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, clock: clock, cal: cal, photos: photos, msgs: msgs, opts: opts, log: log,
		numbers: newNumbers(db, opts.NumberBlock)}
}
