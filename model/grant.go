package model

import "time"

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
