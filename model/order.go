package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Order states (DESIGN.md §4).
const (
	StateSubmitted  = "submitted"
	StateVerified   = "verified"
	StateDispatched = "dispatched"
	StateAccepted   = "accepted"
	StateInProgress = "in_progress"
	StateCompleted  = "completed"
	StateConfirmed  = "confirmed"
	StateClosed     = "closed"
	StateRejected   = "rejected"
	StateMerged     = "merged"
	StateCancelled  = "cancelled"
)

// Levels of the 四议 ladder: who owns an order.
const (
	OrderLevelGrid      = "grid"
	OrderLevelCommunity = "community"
	OrderLevelStreet    = "street"
	OrderLevelCity      = "city"
)

// Handler kinds an order can be dispatched to.
const (
	HandlerFirm       = "firm"
	HandlerDepartment = "department"
	HandlerVolunteer  = "volunteer" // a community's volunteer team
	HandlerGrid       = "grid"      // back to the grid worker
)

// Channels an order arrives by.
const (
	ChannelSelf     = "self"      // the resident in the mini-program
	ChannelOnBehalf = "on_behalf" // a steward or grid worker for a resident
	ChannelPhone    = "phone"     // taken by phone
	ChannelPatrol   = "patrol"    // 巡查上报 by a grid worker
	ChannelCall     = "emergency" // 一键呼叫
)

// Category is a kind of order with its rules and deadlines. Minutes of 0
// mean "no deadline for that step".
type Category struct {
	Base
	Code       string `gorm:"size:40;not null;uniqueIndex"`
	Name       string `gorm:"size:40;not null"`
	ParentCode string `gorm:"size:40"`
	// Submitters is a comma list of who may submit: resident, grid_worker,
	// building_steward.
	Submitters string `gorm:"size:100;not null"`
	// AutoDispatch: "" (a dispatcher decides), firm (the compound's
	// contracted firm), department, volunteer.
	AutoDispatch string `gorm:"size:16"`
	// AutoDepartmentKind picks the department for AutoDispatch=department.
	AutoDepartmentKind string `gorm:"size:32"`
	VerifyMinutes      int    `gorm:"not null;default:0"`
	DispatchMinutes    int    `gorm:"not null;default:0"`
	AcceptMinutes      int    `gorm:"not null;default:0"`
	CompleteMinutes    int    `gorm:"not null;default:0"`
	ConfirmMinutes     int    `gorm:"not null;default:0"`
	WorkingTime        bool   `gorm:"not null;default:false"` // deadlines count working days only
	EscalateOnBreach   bool   `gorm:"not null;default:false"`
	AutoCloseHours     int    `gorm:"not null;default:72"` // unrated orders close after this
	PhotosRequired     bool   `gorm:"not null;default:false"`
	// ComplaintAgainstFirm hides the author from the firm entirely.
	ComplaintAgainstFirm bool `gorm:"not null;default:false"`
	Active               bool `gorm:"not null;default:true"`
	SortOrder            int  `gorm:"not null;default:0"`
}

// Order is a 工单. Ancestry places it (compound, grid, building); Level and
// the handler say who owns it now.
type Order struct {
	Base
	Number       string `gorm:"size:20;not null;uniqueIndex"`
	CategoryID   int64  `gorm:"not null;index"`
	CategoryCode string `gorm:"size:40;not null"`
	State        string `gorm:"size:16;not null;index"`
	Level        string `gorm:"size:16;not null;index"`
	Channel      string `gorm:"size:16;not null"`
	AuthorID     int64  `gorm:"not null;index;uniqueIndex:ux_order_idem,priority:1"` // who submitted (resident or staff)
	ResidentID   int64  `gorm:"index"`                                               // for whom; 0 on patrol reports
	HouseholdID  int64  // 0: a public place of the compound
	Place        string `gorm:"size:100"`
	Description  string `gorm:"size:1000;not null"`
	Ancestry
	HandlerKind string `gorm:"size:16"`
	HandlerID   int64  `gorm:"index"`
	AssigneeID  int64  `gorm:"index"` // firm worker
	DuplicateOf int64
	// The current step's clock: when it started, its budget, its deadline.
	// Paused time moves the deadline; PausedAt is set while paused.
	StepStartedAt *time.Time
	StepDeadline  *time.Time `gorm:"index"`
	PausedAt      *time.Time
	PauseReason   string `gorm:"size:200"`
	WarnedAt      *time.Time
	Overdue       bool `gorm:"not null;default:false;index"`
	// Breaches counts the steps that ran past their deadline; escalation
	// starts a new step but the order stays known as late.
	Breaches int `gorm:"not null;default:0"`

	// DueAt is a dispatcher's deadline for the handler to finish; it
	// overrides the category's accept and complete budgets when earlier.
	DueAt *time.Time

	// Version increases with every change; transitions compare-and-set it.
	Version        int64 `gorm:"not null;default:1"`
	RatingOverall  int
	RatingTimely   int
	RatingAttitude int
	RatingComment  string `gorm:"size:500"`
	CompletedAt    *time.Time
	ConfirmedAt    *time.Time
	ClosedAt       *time.Time
	// IdemKey is the client's Idempotency-Key; unique per author.
	IdemKey *string `gorm:"size:64;uniqueIndex:ux_order_idem,priority:2"`
}

// OrderEvent is one row of an order's timeline (台账). Rows are only ever
// inserted: no code path updates or deletes them.
type OrderEvent struct {
	ID          int64     `gorm:"primaryKey"`
	OrderID     int64     `gorm:"not null;index"`
	Action      string    `gorm:"size:24;not null"`
	ActorID     int64     `gorm:"not null"` // 0: the system (scheduler)
	Role        string    `gorm:"size:32"`
	FromState   string    `gorm:"size:16"`
	ToState     string    `gorm:"size:16"`
	FromLevel   string    `gorm:"size:16"`
	ToLevel     string    `gorm:"size:16"`
	HandlerKind string    `gorm:"size:16"` // the handler after this event
	HandlerID   int64     //
	AssigneeID  int64     // the firm worker after this event
	Note        string    `gorm:"size:500"`
	Photos      string    `gorm:"size:200"` // comma-separated photo ids
	CreatedAt   time.Time `gorm:"not null"`
}

// OrderCounter hands out the daily sequence of human order numbers.
type OrderCounter struct {
	Day  string `gorm:"primaryKey;size:8"`
	Last int64  `gorm:"not null"`
}

// CategoryByCode returns the category of code, or ErrNotFound.
func CategoryByCode(ctx context.Context, db *gorm.DB, code string) (Category, error) {
	var c Category
	err := db.WithContext(ctx).Where("code = ?", code).Take(&c).Error
	return c, Translate(err)
}

// CreateOrder inserts an order.
func CreateOrder(ctx context.Context, db *gorm.DB, o *Order) error {
	return Translate(db.WithContext(ctx).Create(o).Error)
}

// OrderHeads returns the id, number, state and level of the orders of ids.
func OrderHeads(ctx context.Context, db *gorm.DB, ids []int64) ([]Order, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var os []Order
	err := db.WithContext(ctx).Select("id", "number", "state", "level").Where("id IN ?", ids).Order("id").Find(&os).Error
	return os, Translate(err)
}

// LockOrder reads an order and locks its row until the transaction ends,
// or returns ErrNotFound.
func LockOrder(ctx context.Context, tx *gorm.DB, id int64) (Order, error) {
	var o Order
	err := ForUpdate(tx.WithContext(ctx)).Take(&o, id).Error
	return o, Translate(err)
}
