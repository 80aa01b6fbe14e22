package model

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Roles a grant can carry (DESIGN.md §1). Residents need no grant: living
// in a household is their standing.
const (
	RolePlatformAdmin   = "platform_admin"
	RoleCityStaff       = "city_staff"
	RoleDistrictStaff   = "district_staff"
	RoleStreetStaff     = "street_staff"
	RoleCommunityStaff  = "community_staff" // dispatcher
	RoleCommunityDuty   = "community_duty"  // on duty for emergency calls
	RoleGridWorker      = "grid_worker"
	RoleBuildingSteward = "building_steward"
	RoleFirmManager     = "firm_manager"
	RoleFirmWorker      = "firm_worker"
	RoleDepartmentStaff = "department_staff"
	RoleCommittee       = "committee_member"
	RolePartyBranch     = "party_branch"
	RoleVolunteer       = "volunteer"
)

// Scope kinds: a level of the tree, or an organisation outside it.
const (
	ScopePlatform   = "platform"
	ScopeCity       = LevelCity
	ScopeDistrict   = LevelDistrict
	ScopeStreet     = LevelStreet
	ScopeCommunity  = LevelCommunity
	ScopeCompound   = "compound"
	ScopeGrid       = "grid"
	ScopeBuilding   = "building"
	ScopeFirm       = "firm"
	ScopeDepartment = "department"
)

// Grant gives a user a role over a scope. Ancestry holds the scope's own
// place in the tree (for firms: where the firm is registered).
type Grant struct {
	Base
	UserID       int64  `gorm:"not null;index"`
	Role         string `gorm:"size:32;not null;index"`
	ScopeKind    string `gorm:"size:16;not null"`
	ScopeID      int64  `gorm:"not null"`
	InvitationID int64
	CreatedBy    int64
	RevokedAt    *time.Time
	RevokedBy    int64
	Ancestry
}

// Invitation is a code that grants its role and scope to whoever redeems it,
// until it expires or has been used MaxUses times.
type Invitation struct {
	Base
	Code      string `gorm:"size:32;not null;uniqueIndex"`
	Role      string `gorm:"size:32;not null"`
	ScopeKind string `gorm:"size:16;not null"`
	ScopeID   int64  `gorm:"not null"`
	ExpiresAt time.Time
	MaxUses   int    `gorm:"not null"`
	Uses      int    `gorm:"not null;default:0"`
	Note      string `gorm:"size:100"`
	CreatedBy int64  `gorm:"index"`
	RevokedAt *time.Time
	Ancestry
}

// Redemption records who redeemed an invitation: once per user.
type Redemption struct {
	Base
	InvitationID int64 `gorm:"not null;uniqueIndex:ux_redemption,priority:1"`
	UserID       int64 `gorm:"not null;uniqueIndex:ux_redemption,priority:2"`
}

// liveGrant is the condition of a grant in force.
const liveGrant = "revoked_at IS NULL"

// liveInvitation is the condition of an invitation not revoked: the same
// column, the same test.
const liveInvitation = liveGrant

// Seat is one role over one scope: what a grant fills.
type Seat struct {
	Role      string
	ScopeKind string
	ScopeID   int64
}

// AfterCreate moves the holder's GrantsVersion in the grant's own
// transaction, whoever creates it (a redeemed invitation, the command
// line, an import, a test): no cache of the user's grants outlives it.
func (g *Grant) AfterCreate(tx *gorm.DB) error {
	return bumpGrantsVersion(tx.Session(&gorm.Session{NewDB: true}), g.UserID)
}

// bumpGrantsVersion moves the user's GrantsVersion and records the change
// for every instance's cache (AuthChange).
func bumpGrantsVersion(tx *gorm.DB, userID int64) error {
	err := tx.Model(&User{}).Where("id = ?", userID).
		UpdateColumn("grants_version", gorm.Expr("grants_version + 1")).Error
	if err != nil {
		return err
	}
	return noteAuthChange(tx, userID)
}

// AuthCheck is what authenticating a request asks of the database.
type AuthCheck struct {
	Live              bool      // the session exists, is not revoked and has not expired
	ExpiresAt         time.Time // when the live session expires
	GrantsVersion     int64     // the user's GrantsVersion
	ReportedForOthers bool      // the user's ReportedForOthers
}

// CheckAuth answers, in one statement, whether the session family of
// userID is live at now, until when, and what the user's GrantsVersion is
// (Live is false when the user does not exist).
func CheckAuth(ctx context.Context, db *gorm.DB, family string, userID int64, now time.Time) (AuthCheck, error) {
	var r struct {
		GrantsVersion     int64
		ReportedForOthers bool
		ExpiresAt         *time.Time
	}
	err := Prepared(db).WithContext(ctx).Raw(`SELECT u.grants_version, u.reported_for_others, s.expires_at FROM users u
		LEFT JOIN auth_sessions s ON s.family = ? AND s.user_id = u.id AND s.revoked_at IS NULL AND s.expires_at > ?
		WHERE u.id = ?`, family, now, userID).Scan(&r).Error
	c := AuthCheck{Live: r.ExpiresAt != nil, GrantsVersion: r.GrantsVersion, ReportedForOthers: r.ReportedForOthers}
	if c.Live {
		c.ExpiresAt = *r.ExpiresAt
	}
	return c, Translate(err)
}

// LiveGrants returns the grants in force of one user, oldest first.
func LiveGrants(ctx context.Context, db *gorm.DB, userID int64) ([]Grant, error) {
	var gs []Grant
	err := db.WithContext(ctx).Where("user_id = ? AND "+liveGrant, userID).Order("id").Find(&gs).Error
	return gs, Translate(err)
}

// LiveGrantsOf returns the grants in force of several users, by id.
func LiveGrantsOf(ctx context.Context, db *gorm.DB, userIDs []int64) ([]Grant, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	var gs []Grant
	err := db.WithContext(ctx).Where("user_id IN ? AND "+liveGrant, userIDs).Order("id").Find(&gs).Error
	return gs, Translate(err)
}

// Holders returns the grants in force that fill any of seats, by id.
func Holders(ctx context.Context, db *gorm.DB, seats ...Seat) ([]Grant, error) {
	if len(seats) == 0 {
		return nil, nil
	}
	var gs []Grant
	err := holders(db.WithContext(ctx), seats).Order("id").Find(&gs).Error
	return gs, Translate(err)
}

// HolderIDs returns the distinct users who fill any of seats, ascending.
func HolderIDs(ctx context.Context, db *gorm.DB, seats ...Seat) ([]int64, error) {
	if len(seats) == 0 {
		return nil, nil
	}
	var ids []int64
	err := holders(db.WithContext(ctx), seats).Distinct("user_id").Order("user_id").Pluck("user_id", &ids).Error
	return ids, Translate(err)
}

// Holds reports whether the user fills seat with a grant in force.
func Holds(ctx context.Context, db *gorm.DB, userID int64, seat Seat) (bool, error) {
	var n int64
	err := holders(db.WithContext(ctx), []Seat{seat}).Where("user_id = ?", userID).Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

func holders(db *gorm.DB, seats []Seat) *gorm.DB {
	parts := make([]string, len(seats))
	args := make([]any, 0, 3*len(seats))
	for i, s := range seats {
		parts[i] = "(role = ? AND scope_kind = ? AND scope_id = ?)"
		args = append(args, s.Role, s.ScopeKind, s.ScopeID)
	}
	return db.Model(&Grant{}).Where(liveGrant).Where(strings.Join(parts, " OR "), args...)
}

// InvitationByCode finds an invitation by its code (ErrNotFound).
func InvitationByCode(ctx context.Context, db *gorm.DB, code string) (Invitation, error) {
	var inv Invitation
	err := db.WithContext(ctx).Where("code = ?", code).Take(&inv).Error
	return inv, Translate(err)
}

// SpendInvitation counts one use of an invitation if, at now, it is still
// in force and has a use left: a guarded increment, so that concurrent
// redeemers of a last use cannot both win. It returns the rows changed: 0
// when the invitation could not be spent.
func SpendInvitation(ctx context.Context, tx *gorm.DB, id int64, now time.Time) (int64, error) {
	res := tx.WithContext(ctx).Model(&Invitation{}).
		Where("id = ? AND uses < max_uses AND "+liveInvitation+" AND expires_at > ?", id, now).
		Update("uses", gorm.Expr("uses + 1"))
	return res.RowsAffected, Translate(res.Error)
}

// RevokeInvitation marks an invitation revoked at now unless it already
// was; it returns the rows changed (0: revoked before).
func RevokeInvitation(ctx context.Context, db *gorm.DB, id int64, now time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&Invitation{}).Where("id = ? AND "+liveInvitation, id).Update("revoked_at", now)
	return res.RowsAffected, Translate(res.Error)
}

// InvitationsBy lists the invitations a user created, newest first.
func InvitationsBy(ctx context.Context, db *gorm.DB, creatorID int64, p Page) (Paged[Invitation], error) {
	return KeysetPage[Invitation](ctx, db.Model(&Invitation{}).Where("created_by = ?", creatorID), "id", p)
}

// RevokeGrant marks a grant revoked at now by a user (0 for the command
// line) unless it already was; it returns the rows changed (0: revoked
// before).
//
// The holder's GrantsVersion moves in the same transaction, and the call
// returns AuthChangeLease after the commit: by then no instance's cache
// lets the revoked grant act again (inside a caller's transaction, the
// caller waits it out after its commit: SettleAuthChange).
func RevokeGrant(ctx context.Context, db *gorm.DB, id, by int64, now time.Time) (int64, error) {
	var n int64
	err := InTx(ctx, db, func(tx *gorm.DB) error {
		var holder []int64
		if err := tx.Model(&Grant{}).Where("id = ? AND "+liveGrant, id).Pluck("user_id", &holder).Error; err != nil || len(holder) == 0 {
			return err
		}
		res := tx.Model(&Grant{}).Where("id = ? AND "+liveGrant, id).
			Updates(map[string]any{"revoked_at": now, "revoked_by": by})
		if n = res.RowsAffected; res.Error != nil || n == 0 {
			return res.Error
		}
		return bumpGrantsVersion(tx, holder[0])
	})
	if err == nil && n > 0 {
		settleAuthChange(ctx, db)
	}
	return n, err
}

// GrantView is a grant with the name of its holder.
type GrantView struct {
	Grant
	DisplayName string
}

// GrantArea is a part of the grants one may see: those whose scope lies
// below Node (by ancestry for a node of the tree; for a firm or a
// department, the grants over it) and whose scope kind is one of Kinds
// (or, with Except, none of them; no Kinds: any).
type GrantArea struct {
	Node   Node
	Kinds  []string
	Except bool
}

// GrantQuery selects grants; zero fields do not filter. Unless All, only
// the grants in one of Areas are selected (none without areas).
type GrantQuery struct {
	UserID         int64
	Role           string
	ScopeKind      string
	ScopeID        int64
	IncludeRevoked bool
	All            bool
	Areas          []GrantArea
}

// GrantsPage lists grants with their holders' names, newest first.
func GrantsPage(ctx context.Context, db *gorm.DB, f GrantQuery, p Page) (Paged[GrantView], error) {
	q := db.Table("grants g").Select("g.*, u.display_name").Joins("JOIN users u ON u.id = g.user_id")
	if f.Role != "" {
		q = q.Where("g.role = ?", f.Role)
	}
	if f.ScopeKind != "" {
		q = q.Where("g.scope_kind = ?", f.ScopeKind)
	}
	if f.ScopeID != 0 {
		q = q.Where("g.scope_id = ?", f.ScopeID)
	}
	if f.UserID != 0 {
		q = q.Where("g.user_id = ?", f.UserID)
	}
	if !f.IncludeRevoked {
		q = q.Where("g." + liveGrant)
	}
	if !f.All {
		parts := make([]string, 0, len(f.Areas))
		var args []any
		for _, a := range f.Areas {
			var part string
			if col := AncestryColumn(a.Node.Kind); col != "" {
				part, args = "g."+col+" = ?", append(args, a.Node.ID)
			} else {
				part, args = "g.scope_kind = ? AND g.scope_id = ?", append(args, a.Node.Kind, a.Node.ID)
			}
			if len(a.Kinds) > 0 {
				op := " IN ?"
				if a.Except {
					op = " NOT IN ?"
				}
				part, args = part+" AND g.scope_kind"+op, append(args, a.Kinds)
			}
			parts = append(parts, "("+part+")")
		}
		if len(parts) == 0 {
			return Paged[GrantView]{Items: []GrantView{}}, nil
		}
		q = q.Where("("+strings.Join(parts, " OR ")+")", args...)
	}
	return KeysetPage[GrantView](ctx, q, "g.id", p)
}

// HoldersAfter is a keyset page of the grants in force filling seat: up
// to limit grants with an id above after, by id, holding only ID and
// UserID.
func HoldersAfter(ctx context.Context, db *gorm.DB, seat Seat, after int64, limit int) ([]Grant, error) {
	var gs []Grant
	err := holders(db.WithContext(ctx), []Seat{seat}).Select("id", "user_id").Where("id > ?", after).
		Order("id").Limit(limit).Find(&gs).Error
	return gs, Translate(err)
}

// GridHoldersAfter is HoldersAfter for every scope of kind inside grid
// gridID (the stewards of a grid's buildings): the grants in force of role
// over such a scope, by id.
func GridHoldersAfter(ctx context.Context, db *gorm.DB, role, kind string, gridID, after int64, limit int) ([]Grant, error) {
	var gs []Grant
	err := db.WithContext(ctx).Model(&Grant{}).Select("id", "user_id").
		Where(liveGrant+" AND role = ? AND scope_kind = ? AND grid_id = ? AND id > ?", role, kind, gridID, after).
		Order("id").Limit(limit).Find(&gs).Error
	return gs, Translate(err)
}

// GrantsInCommunity returns the grants in force of roles whose scope lies
// in the community (the community itself, its grids and buildings), by id.
func GrantsInCommunity(ctx context.Context, db *gorm.DB, communityID int64, roles []string) ([]Grant, error) {
	var gs []Grant
	err := db.WithContext(ctx).Where(liveGrant).Where("community_id = ? AND role IN ?", communityID, roles).
		Order("id").Find(&gs).Error
	return gs, Translate(err)
}
