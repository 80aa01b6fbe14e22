package model

import "time"

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
	OpenHousehold  *int64    `gorm:"uniqueIndex"`
	AlertCount     int       `gorm:"not null;default:1"`
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
