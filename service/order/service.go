// Package order runs the order loop: 点单 → 核实 → 派单 → 接单 → 办结 → 验收
// → 评价, with deadlines, the 四议 escalation ladder, emergency calls and
// the append-only timeline. It must not import gin or api/.
package order

import (
	"context"
	"time"

	"gorm.io/gorm"

	"redprop/service"
	"redprop/service/calendar"
)

// Calendars gives the working-day calendar in force.
type Calendars interface {
	Current(ctx context.Context) (*calendar.Calendar, error)
}

// Photos attaches uploaded photos to an order inside the caller's
// transaction.
type Photos interface {
	Attach(ctx context.Context, tx *gorm.DB, uploaderID int64, ids []int64, orderID int64) error
}

// Options tune the emergency-call alerts.
type Options struct {
	// EmergencyRepeat is how often an unacknowledged call alerts again.
	EmergencyRepeat time.Duration
	// EmergencyEscalateAfter is how long a call may stay unacknowledged
	// before it goes to the street.
	EmergencyEscalateAfter time.Duration
}

// Service is the order capability.
type Service struct {
	db     *gorm.DB
	clock  service.Clock
	cal    Calendars
	photos Photos
	opts   Options
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, cal Calendars, photos Photos, opts Options) *Service {
	return &Service{db: db, clock: clock, cal: cal, photos: photos, opts: opts}
}
