package model

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Kinds of vulnerable person a grid worker registers for the one-key call.
const (
	VulnerableElderlyAlone    = "elderly_alone"     // 空巢/独居老人
	VulnerableLeftBehindChild = "left_behind_child" // 留守儿童
	VulnerableDisabled        = "disabled"          // 残疾人
	VulnerableOther           = "other"
)

// EmergencyContact is someone to phone when a vulnerable person calls.
type EmergencyContact struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Relation string `json:"relation"`
}

// Vulnerable registers a person of a household for the one-key emergency
// call (民呼社应). UserID is 0 for someone without the mini-program (a
// child, an elderly person without a phone): any resident of the household
// may then call for them. Removing a registration keeps the row for the
// calls that refer to it.
type Vulnerable struct {
	Base
	UserID      int64              `gorm:"not null;default:0;index;uniqueIndex:ux_vulnerable_active,priority:2"`
	HouseholdID int64              `gorm:"not null;uniqueIndex:ux_vulnerable_active,priority:1"`
	Name        string             `gorm:"size:32"`
	Kind        string             `gorm:"size:24;not null"`
	Note        string             `gorm:"size:200"`
	Contacts    []EmergencyContact `gorm:"serializer:json;type:text"`
	// Active is 1 while registered and NULL once removed: one live
	// registration per (household, user), enforced by the unique index.
	Active       *int8 `gorm:"uniqueIndex:ux_vulnerable_active,priority:3"`
	RegisteredBy int64 `gorm:"not null"`
	RemovedAt    *time.Time
	RemovedBy    int64
	Ancestry
}

// EmergencyCall is one press of the emergency button. Its order carries the
// timeline; the call carries the response times.
type EmergencyCall struct {
	Base
	OrderID      int64  `gorm:"not null;uniqueIndex"`
	CallerID     int64  `gorm:"not null;index"`
	VulnerableID int64  `gorm:"not null"`
	HouseholdID  int64  `gorm:"not null;index"`
	Note         string `gorm:"size:200"`
	// OpenHousehold is the household id while the call is unresolved and
	// NULL after: a household has at most one open call, so a double tap
	// (or two family members at once) finds the call already raised.
	OpenHousehold *int64 `gorm:"uniqueIndex"`
	AlertCount    int    `gorm:"not null;default:1"`
	// AlertsSent counts the responders alerted on some channel, over all
	// rounds; one reachable on none is told in the inbox only and not
	// counted.
	AlertsSent     int       `gorm:"not null;default:0"`
	LastAlertAt    time.Time `gorm:"not null;index"`
	AcknowledgedAt *time.Time
	AcknowledgedBy int64
	ArrivedAt      *time.Time
	ArrivedBy      int64
	ResolvedAt     *time.Time `gorm:"index"`
	ResolvedBy     int64
	EscalatedAt    *time.Time
	Ancestry
}

// States of a call, as its times record them. A responder acknowledges,
// arrives and resolves, each later step stamping the earlier ones it
// skipped; a call ended with its order is resolved without any response.
const (
	CallOpen         = "open"
	CallAcknowledged = "acknowledged"
	CallArrived      = "arrived"
	CallResolved     = "resolved"
)

// State is the call's state by its times.
func (c EmergencyCall) State() string {
	switch {
	case c.ResolvedAt != nil:
		return CallResolved
	case c.ArrivedAt != nil:
		return CallArrived
	case c.AcknowledgedAt != nil:
		return CallAcknowledged
	}
	return CallOpen
}

// callIn is the condition of a call in each state, the same partition as
// State.
var callIn = map[string]string{
	CallOpen:         "resolved_at IS NULL AND arrived_at IS NULL AND acknowledged_at IS NULL",
	CallAcknowledged: "resolved_at IS NULL AND arrived_at IS NULL AND acknowledged_at IS NOT NULL",
	CallArrived:      "resolved_at IS NULL AND arrived_at IS NOT NULL",
	CallResolved:     "resolved_at IS NOT NULL",
}

// unanswered is the condition of a call nobody has responded to yet.
const unanswered = "resolved_at IS NULL AND acknowledged_at IS NULL"

// LiveVulnerable returns a registration not removed, or ErrNotFound.
func LiveVulnerable(ctx context.Context, db *gorm.DB, id int64) (Vulnerable, error) {
	var v Vulnerable
	err := db.WithContext(ctx).Where("active = 1").Take(&v, id).Error
	return v, Translate(err)
}

// RemoveVulnerable ends a live registration, keeping the row; it returns
// the rows changed (0: removed already).
func RemoveVulnerable(ctx context.Context, db *gorm.DB, id, by int64, at time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&Vulnerable{}).Where("id = ? AND active = 1", id).
		Updates(map[string]any{"active": nil, "removed_at": at, "removed_by": by, "updated_at": at})
	return res.RowsAffected, Translate(res.Error)
}

// LiveVulnerablesIn returns, newest first, up to limit live registrations
// within scopes (of one grid when gridID is not 0) with ids below before
// (0: from the newest).
func LiveVulnerablesIn(ctx context.Context, db *gorm.DB, scopes []Place, gridID, before int64, limit int) ([]Vulnerable, error) {
	q := whereInTree(db.WithContext(ctx).Where("active = 1"), scopes)
	if gridID != 0 {
		q = q.Where("grid_id = ?", gridID)
	}
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var vs []Vulnerable
	err := q.Order("id DESC").Limit(limit).Find(&vs).Error
	return vs, Translate(err)
}

// CallableVulnerables returns, oldest first, the live registrations of
// userID and of the households userID lives in (of householdID only, when
// it is not 0).
func CallableVulnerables(ctx context.Context, db *gorm.DB, userID, householdID int64) ([]Vulnerable, error) {
	db = db.WithContext(ctx)
	q := db.Where("active = 1").Where("(user_id = ? OR household_id IN (?))", userID,
		db.Model(&Residency{}).Select("household_id").Where("user_id = ?", userID))
	if householdID != 0 {
		q = q.Where("household_id = ?", householdID)
	}
	var vs []Vulnerable
	err := q.Order("id").Find(&vs).Error
	return vs, Translate(err)
}

// IsVulnerableUser reports whether registration id is of the user userID.
func IsVulnerableUser(ctx context.Context, db *gorm.DB, id, userID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Vulnerable{}).Where("id = ? AND user_id = ?", id, userID).Count(&n).Error
	return n > 0, Translate(err)
}

// OpenCallsOf returns the unresolved calls of households (at most one
// each).
func OpenCallsOf(ctx context.Context, db *gorm.DB, householdIDs ...int64) ([]EmergencyCall, error) {
	if len(householdIDs) == 0 {
		return nil, nil
	}
	var cs []EmergencyCall
	err := db.WithContext(ctx).Where("open_household IN ?", householdIDs).Order("id").Find(&cs).Error
	return cs, Translate(err)
}

// OpenCallsIn returns, newest first, up to limit unresolved calls within
// scopes with ids below before (0: from the newest).
func OpenCallsIn(ctx context.Context, db *gorm.DB, scopes []Place, before int64, limit int) ([]EmergencyCall, error) {
	q := whereInTree(db.WithContext(ctx).Where("resolved_at IS NULL"), scopes)
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var cs []EmergencyCall
	err := q.Order("id DESC").Limit(limit).Find(&cs).Error
	return cs, Translate(err)
}

// CallMarks says which of a call's response times a write stamps.
type CallMarks struct {
	Acknowledged, Arrived, Resolved bool
}

// MarkCall stamps the times of marks with at and by, if the call is still
// in state from (a compare-and-set: 0 rows means it moved meanwhile).
// Resolving frees the household for a new call.
func MarkCall(ctx context.Context, db *gorm.DB, id int64, from string, m CallMarks, by int64, at time.Time) (int64, error) {
	cond, ok := callIn[from]
	if !ok {
		return 0, fmt.Errorf("mark call %d: unknown state %q", id, from)
	}
	set := map[string]any{"updated_at": at}
	if m.Acknowledged {
		set["acknowledged_at"], set["acknowledged_by"] = at, by
	}
	if m.Arrived {
		set["arrived_at"], set["arrived_by"] = at, by
	}
	if m.Resolved {
		set["resolved_at"], set["resolved_by"], set["open_household"] = at, by, nil
	}
	res := db.WithContext(ctx).Model(&EmergencyCall{}).Where("id = ?", id).Where(cond).Updates(set)
	return res.RowsAffected, Translate(res.Error)
}

// EndOrderCall resolves the open call of an order, if it has one, and
// frees its household for a new call.
func EndOrderCall(ctx context.Context, db *gorm.DB, orderID, by int64, at time.Time) error {
	return Translate(db.WithContext(ctx).Model(&EmergencyCall{}).Where("order_id = ? AND resolved_at IS NULL", orderID).
		Updates(map[string]any{"resolved_at": at, "resolved_by": by, "open_household": nil, "updated_at": at}).Error)
}

// CallsToEscalate returns, by ascending id after afterID, up to limit
// unanswered calls raised at or before raisedBy that have not gone to the
// street.
func CallsToEscalate(ctx context.Context, db *gorm.DB, raisedBy time.Time, afterID int64, limit int) ([]EmergencyCall, error) {
	var cs []EmergencyCall
	err := db.WithContext(ctx).Where(unanswered).Where("escalated_at IS NULL AND created_at <= ? AND id > ?", raisedBy, afterID).
		Order("id").Limit(limit).Find(&cs).Error
	return cs, Translate(err)
}

// CallsToRepeat returns, by ascending id after afterID, up to limit
// unanswered calls last alerted at or before alertedBy.
func CallsToRepeat(ctx context.Context, db *gorm.DB, alertedBy time.Time, afterID int64, limit int) ([]EmergencyCall, error) {
	var cs []EmergencyCall
	err := db.WithContext(ctx).Where(unanswered).Where("last_alert_at <= ? AND id > ?", alertedBy, afterID).
		Order("id").Limit(limit).Find(&cs).Error
	return cs, Translate(err)
}

// CountCallAlert records one more alert of a call still unanswered, if
// count alerts went out so far (a compare-and-set: 0 rows means another
// scheduler sent it, or someone answered).
func CountCallAlert(ctx context.Context, db *gorm.DB, id int64, count int, at time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&EmergencyCall{}).Where("id = ? AND alert_count = ?", id, count).Where(unanswered).
		Updates(map[string]any{"alert_count": count + 1, "last_alert_at": at, "updated_at": at})
	return res.RowsAffected, Translate(res.Error)
}

// EscalateCall records that an unanswered call went to the street, once
// (a compare-and-set: 0 rows means it went already, or someone answered).
func EscalateCall(ctx context.Context, db *gorm.DB, id int64, at time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&EmergencyCall{}).Where("id = ? AND escalated_at IS NULL", id).Where(unanswered).
		Updates(map[string]any{"escalated_at": at, "updated_at": at})
	return res.RowsAffected, Translate(res.Error)
}

// AddCallAlerts adds n to the responders a call has alerted.
func AddCallAlerts(ctx context.Context, db *gorm.DB, id int64, n int) error {
	if n == 0 {
		return nil
	}
	return Translate(db.WithContext(ctx).Model(&EmergencyCall{}).Where("id = ?", id).
		Update("alerts_sent", gorm.Expr("alerts_sent + ?", n)).Error)
}
