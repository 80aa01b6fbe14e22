package model

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// User is one person, known by their mini-program openid. Phone and names
// are personal data: never logged.
type User struct {
	Base
	OpenID      *string `gorm:"size:64;uniqueIndex"`
	UnionID     *string `gorm:"size:64;index"`
	Phone       string  `gorm:"size:20;index"`
	DisplayName string  `gorm:"size:32"`
	// GrantsVersion goes up in the transaction of every change to the
	// user's grants: a cache of their grants holds while it is unchanged.
	GrantsVersion int64 `gorm:"not null;default:0"`
	// ReportedForOthers is set by the first order the user submits for
	// someone else or for a public place (a patrol, on a resident's
	// behalf). Until then every order they submitted names them as its
	// resident, and their own orders are one index range (OrderScope).
	ReportedForOthers bool `gorm:"not null;default:false"`
}

// Relations of a resident to a household.
const (
	RelationOwner  = "owner"
	RelationTenant = "tenant"
	RelationFamily = "family"
)

// Residency links a user to a household once an application was approved.
type Residency struct {
	Base
	UserID      int64  `gorm:"not null;uniqueIndex:ux_residency,priority:1"`
	HouseholdID int64  `gorm:"not null;uniqueIndex:ux_residency,priority:2;index"`
	Relation    string `gorm:"size:16;not null"`
	Ancestry
}

// AfterCreate moves the user's GrantsVersion in the residency's own
// transaction, as a new grant does: where a user lives is kept with
// their grants (service.Actor.Homes) under that version.
func (r *Residency) AfterCreate(tx *gorm.DB) error {
	return bumpGrantsVersion(tx, r.UserID)
}

// Residencies returns a user's residencies, oldest first.
func Residencies(ctx context.Context, db *gorm.DB, userID int64) ([]Residency, error) {
	var rs []Residency
	err := db.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&rs).Error
	return rs, Translate(err)
}

// Application states.
const (
	ApplicationPending   = "pending"
	ApplicationApproved  = "approved"
	ApplicationRejected  = "rejected"
	ApplicationWithdrawn = "withdrawn"
)

// ResidencyApplication is a user's request to join a household, decided by
// a building steward, grid worker or firm manager of that building.
type ResidencyApplication struct {
	Base
	UserID      int64  `gorm:"not null;uniqueIndex:ux_application_open,priority:1"`
	HouseholdID int64  `gorm:"not null;uniqueIndex:ux_application_open,priority:2"`
	Relation    string `gorm:"size:16;not null"`
	Note        string `gorm:"size:200"`
	State       string `gorm:"size:16;not null;index"`
	// Open is 1 while pending and NULL after: one pending application per
	// user and household, enforced by the unique index.
	Open      *int8  `gorm:"uniqueIndex:ux_application_open,priority:3"`
	Reason    string `gorm:"size:200"`
	DecidedBy int64
	DecidedAt *time.Time
	Ancestry
}

// UserNames maps user ids to their display names; unknown ids are absent.
func UserNames(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]string, error) {
	names := map[int64]string{}
	if len(ids) == 0 {
		return names, nil
	}
	var us []User
	if err := db.WithContext(ctx).Select("id", "display_name").Where("id IN ?", ids).Find(&us).Error; err != nil {
		return nil, Translate(err)
	}
	for _, u := range us {
		names[u.ID] = u.DisplayName
	}
	return names, nil
}

// LivesIn reports whether a user lives in a household, in any relation.
func LivesIn(ctx context.Context, db *gorm.DB, userID, householdID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ? AND household_id = ?", userID, householdID).
		Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// LivesInCompound reports whether a user lives in any household of a
// compound, in any relation.
func LivesInCompound(ctx context.Context, db *gorm.DB, userID, compoundID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ? AND compound_id = ?", userID, compoundID).
		Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// HomeCompounds are the compounds a user lives in, in any relation.
func HomeCompounds(ctx context.Context, db *gorm.DB, userID int64) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ?", userID).Distinct().Pluck("compound_id", &ids).Error
	return ids, Translate(err)
}

// Ownership is a user's residency as an owner of a household; ErrNotFound
// when they are not one.
func Ownership(ctx context.Context, db *gorm.DB, userID, householdID int64) (Residency, error) {
	var r Residency
	err := db.WithContext(ctx).Where("user_id = ? AND household_id = ? AND relation = ?", userID, householdID, RelationOwner).
		Take(&r).Error
	return r, Translate(err)
}

// OwnedHouseholds are the households a user owns in a compound, by id.
func OwnedHouseholds(ctx context.Context, db *gorm.DB, userID, compoundID int64) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Where("user_id = ? AND compound_id = ? AND relation = ?",
		userID, compoundID, RelationOwner).Order("household_id").Pluck("household_id", &ids).Error
	return ids, Translate(err)
}

// OwnersAfter are up to limit owners of a compound's households with a
// user id above after, ascending: a keyset over owners that never holds a
// compound in memory.
func OwnersAfter(ctx context.Context, db *gorm.DB, compoundID, after int64, limit int) ([]int64, error) {
	var ids []int64
	err := db.WithContext(ctx).Raw(`SELECT DISTINCT user_id FROM residencies
		WHERE compound_id = ? AND relation = ? AND user_id > ? ORDER BY user_id LIMIT ?`,
		compoundID, RelationOwner, after, limit).Scan(&ids).Error
	return ids, Translate(err)
}

// ResidenciesOf returns the households a user lives in, oldest first.
func ResidenciesOf(ctx context.Context, db *gorm.DB, userID int64) ([]Residency, error) {
	var rs []Residency
	err := db.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&rs).Error
	return rs, Translate(err)
}

// UserByOpenID finds the user of a mini-program openid (ErrNotFound).
func UserByOpenID(ctx context.Context, db *gorm.DB, openID string) (User, error) {
	var u User
	err := db.WithContext(ctx).Where("open_id = ?", openID).Take(&u).Error
	return u, Translate(err)
}

// LockUser takes the row lock of a user: what one user does must not run
// twice at once (two invitations for one grant redeemed together).
func LockUser(ctx context.Context, tx *gorm.DB, id int64) error {
	var u User
	return Translate(ForUpdate(tx.WithContext(ctx)).Select("id").Where("id = ?", id).Take(&u).Error)
}

// HomeView is a residency of a user with the names of its dwelling.
type HomeView struct {
	Residency
	Unit, Room, BuildingName, CompoundName string
	AreaCentiM2                            int64
}

// HomesOf returns the residencies of a user with their dwellings, oldest first.
func HomesOf(ctx context.Context, db *gorm.DB, userID int64) ([]HomeView, error) {
	var rows []HomeView
	err := db.WithContext(ctx).Table("residencies r").
		Select("r.*, h.unit, h.room, h.area_centi_m2, b.name AS building_name, c.name AS compound_name").
		Joins("JOIN households h ON h.id = r.household_id").
		Joins("JOIN buildings b ON b.id = r.building_id").
		Joins("JOIN compounds c ON c.id = r.compound_id").
		Where("r.user_id = ?", userID).Order("r.id").Scan(&rows).Error
	return rows, Translate(err)
}

// ResidentView is one resident of a household with the name others see.
type ResidentView struct {
	Residency
	DisplayName string
}

// ResidentsOf returns the residents of a household, oldest first.
func ResidentsOf(ctx context.Context, db *gorm.DB, householdID int64) ([]ResidentView, error) {
	rows := []ResidentView{}
	err := db.WithContext(ctx).Table("residencies r").Select("r.*, u.display_name").
		Joins("JOIN users u ON u.id = r.user_id").
		Where("r.household_id = ?", householdID).Order("r.id").Scan(&rows).Error
	return rows, Translate(err)
}

// DeleteResidency removes a residency and returns the rows removed (0 when
// it was already gone); like RevokeGrant it returns AuthChangeLease after
// its commit.
func DeleteResidency(ctx context.Context, db *gorm.DB, id int64) (int64, error) {
	var n int64
	err := InTx(ctx, db, func(tx *gorm.DB) error {
		var users []int64
		if err := tx.Model(&Residency{}).Where("id = ?", id).Pluck("user_id", &users).Error; err != nil || len(users) == 0 {
			return err
		}
		res := tx.Where("id = ?", id).Delete(&Residency{})
		if res.Error != nil {
			return res.Error
		}
		if n = res.RowsAffected; n == 0 {
			return nil
		}
		// The user's homes are kept with their grants: move the version.
		return bumpGrantsVersion(tx, users[0])
	})
	if err == nil && n > 0 {
		// As a revoked grant: no instance lets the user act from the home
		// they left once this returns.
		settleAuthChange(ctx, db)
	}
	return n, Translate(err)
}

// ApplicationView is a residency application with who applied and for
// which dwelling.
type ApplicationView struct {
	ResidencyApplication
	ApplicantName string
	Unit          string
	Room          string
	BuildingName  string
	CompoundName  string
}

func applicationViews(db *gorm.DB) *gorm.DB {
	return db.Table("residency_applications a").
		Select("a.*, u.display_name AS applicant_name, h.unit, h.room, b.name AS building_name, c.name AS compound_name").
		Joins("JOIN users u ON u.id = a.user_id").
		Joins("JOIN households h ON h.id = a.household_id").
		Joins("JOIN buildings b ON b.id = a.building_id").
		Joins("JOIN compounds c ON c.id = a.compound_id")
}

// ApplicationViewByID loads one application with its names (ErrNotFound).
func ApplicationViewByID(ctx context.Context, db *gorm.DB, id int64) (ApplicationView, error) {
	var rows []ApplicationView
	if err := applicationViews(db.WithContext(ctx)).Where("a.id = ?", id).Limit(1).Scan(&rows).Error; err != nil {
		return ApplicationView{}, Translate(err)
	}
	if len(rows) == 0 {
		return ApplicationView{}, ErrNotFound
	}
	return rows[0], nil
}

// ApplicationQuery selects applications; zero fields do not filter. A
// nil Reach does not filter either (an applicant's own list).
type ApplicationQuery struct {
	UserID     int64
	State      string
	BuildingID int64
	GridID     int64
	Reach      *Reach
}

// ApplicationsPage lists applications with their names, newest first.
func ApplicationsPage(ctx context.Context, db *gorm.DB, f ApplicationQuery, p Page) (Paged[ApplicationView], error) {
	q := applicationViews(db)
	if f.UserID != 0 {
		q = q.Where("a.user_id = ?", f.UserID)
	}
	if f.State != "" {
		q = q.Where("a.state = ?", f.State)
	}
	if f.Reach != nil {
		cond, args := f.Reach.where("a")
		q = q.Where(cond, args...)
	}
	if f.BuildingID != 0 {
		q = q.Where("a.building_id = ?", f.BuildingID)
	}
	if f.GridID != 0 {
		q = q.Where("a.grid_id = ?", f.GridID)
	}
	return KeysetPage[ApplicationView](ctx, q, "a.id", p)
}

// PendingApplicationsOf returns a user's pending applications, oldest first.
func PendingApplicationsOf(ctx context.Context, db *gorm.DB, userID int64) ([]ResidencyApplication, error) {
	var rows []ResidencyApplication
	err := db.WithContext(ctx).Where("user_id = ? AND state = ?", userID, ApplicationPending).Order("id").Find(&rows).Error
	return rows, Translate(err)
}

// BuildingsWithin reports whether some building within r is the building
// (when buildingID is set) and lies in the grid (when gridID is set).
func BuildingsWithin(ctx context.Context, db *gorm.DB, r Reach, buildingID, gridID int64) (bool, error) {
	cond, args := r.where("b")
	q := db.WithContext(ctx).Table("buildings b").Where(cond, args...)
	if buildingID != 0 {
		q = q.Where("b.id = ?", buildingID)
	}
	if gridID != 0 {
		q = q.Where("b.grid_id = ?", gridID)
	}
	var n int64
	err := q.Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// LockApplicationState locks an application's row and returns its state.
// It locks through the primary key alone: given `WHERE id = ? AND state
// = ?`, MariaDB walks the state index instead (its entries end with the
// id), and two deciders of one application deadlock on that index's gap
// locks. The caller compares the state and then calls CloseApplication.
func LockApplicationState(ctx context.Context, tx *gorm.DB, id int64) (string, error) {
	var cur ResidencyApplication
	err := ForUpdate(tx.WithContext(ctx)).Select("id", "state").Where("id = ?", id).Take(&cur).Error
	return cur.State, Translate(err)
}

// CloseApplication writes the final state of an application whose row
// the caller locked: no longer open, with the reason, decider and time.
func CloseApplication(ctx context.Context, tx *gorm.DB, id int64, state, reason string, by int64, at time.Time) error {
	return Translate(tx.WithContext(ctx).Model(&ResidencyApplication{}).Where("id = ?", id).
		Updates(map[string]any{"state": state, "open": nil, "reason": reason, "decided_by": by, "decided_at": at}).Error)
}

// OpenIDOf is the mini-program openid of a user ("" when they never
// logged in through it; ErrNotFound when there is no such user).
func OpenIDOf(ctx context.Context, db *gorm.DB, userID int64) (string, error) {
	var u User
	if err := db.WithContext(ctx).Select("id", "open_id").Where("id = ?", userID).Take(&u).Error; err != nil {
		return "", Translate(err)
	}
	if u.OpenID == nil {
		return "", nil
	}
	return *u.OpenID, nil
}

// UnionIDOf is the WeChat unionid of a user ("" when unknown; ErrNotFound
// when there is no such user).
func UnionIDOf(ctx context.Context, db *gorm.DB, userID int64) (string, error) {
	var u User
	if err := db.WithContext(ctx).Select("id", "union_id").Where("id = ?", userID).Take(&u).Error; err != nil {
		return "", Translate(err)
	}
	if u.UnionID == nil {
		return "", nil
	}
	return *u.UnionID, nil
}

// UserIDByOpenID is the user of a mini-program openid (ErrNotFound: none).
func UserIDByOpenID(ctx context.Context, db *gorm.DB, openID string) (int64, error) {
	var u User
	err := db.WithContext(ctx).Select("id").Where("open_id = ?", openID).Take(&u).Error
	return u.ID, Translate(err)
}

// UserIDByUnionID is the oldest user of a unionid (ErrNotFound: none).
func UserIDByUnionID(ctx context.Context, db *gorm.DB, unionID string) (int64, error) {
	var u User
	err := db.WithContext(ctx).Select("id").Where("union_id = ?", unionID).Order("id").Take(&u).Error
	return u.ID, Translate(err)
}

// ResidentsIn returns those of userIDs who live inside place.
func ResidentsIn(ctx context.Context, db *gorm.DB, userIDs []int64, place Place) ([]int64, error) {
	col := AncestryColumn(place.Kind)
	if len(userIDs) == 0 || col == "" {
		return nil, nil
	}
	var ids []int64
	err := db.WithContext(ctx).Model(&Residency{}).Distinct("user_id").
		Where("user_id IN ? AND "+col+" = ?", userIDs, place.ID).Order("user_id").Pluck("user_id", &ids).Error
	return ids, Translate(err)
}

// ResidenciesAfter is a keyset page of the residencies of a compound:
// up to limit rows with an id above after, by id, holding only ID and
// UserID.
func ResidenciesAfter(ctx context.Context, db *gorm.DB, compoundID, after int64, limit int) ([]Residency, error) {
	var rows []Residency
	err := db.WithContext(ctx).Select("id", "user_id").Where("compound_id = ? AND id > ?", compoundID, after).
		Order("id").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}
