package model

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Region levels, from the top of the tree down.
const (
	LevelCity      = "city"
	LevelDistrict  = "district"
	LevelStreet    = "street"
	LevelCommunity = "community"
)

// Ancestry is carried by every scoped row so that a scope check is an
// indexed equality instead of a walk up the tree (DESIGN.md §3). Zero means
// "not below that level".
type Ancestry struct {
	CityID      int64 `gorm:"index" json:"city_id"`
	DistrictID  int64 `gorm:"index" json:"district_id,omitempty"`
	StreetID    int64 `gorm:"index" json:"street_id,omitempty"`
	CommunityID int64 `gorm:"index" json:"community_id,omitempty"`
	CompoundID  int64 `gorm:"index" json:"compound_id,omitempty"`
	GridID      int64 `gorm:"index" json:"grid_id,omitempty"`
	BuildingID  int64 `gorm:"index" json:"building_id,omitempty"`
}

// Region is a city, district, street (镇街) or community (社区).
type Region struct {
	Base
	Level    string `gorm:"size:16;not null;index"`
	ParentID int64  `gorm:"index"`
	Name     string `gorm:"size:64;not null"`
	Code     string `gorm:"size:32;index"` // administrative code
	Ancestry
}

// Compound is a residential estate (小区) in one community.
type Compound struct {
	Base
	Name    string `gorm:"size:64;not null"`
	Address string `gorm:"size:200"`
	Ancestry
}

// Grid is a 网格 of a community: 300–500 households or one closed compound.
type Grid struct {
	Base
	Name string `gorm:"size:64;not null"`
	Ancestry
}

// Building (楼栋) belongs to one compound and one grid.
type Building struct {
	Base
	Name string `gorm:"size:64;not null"` // unique within the compound (see Migrate)
	Ancestry
}

// Household (户) is one dwelling; its area weighs its owners' ballot.
type Household struct {
	Base
	Unit        string `gorm:"size:16;not null;default:''"` // (building, unit, room) is unique (see Migrate)
	Room        string `gorm:"size:16;not null"`
	AreaCentiM2 int64  `gorm:"not null"` // m² × 100, exact
	Ancestry
}

// Firm is a property service company (物业服务企业).
type Firm struct {
	Base
	Name       string  `gorm:"size:100;not null"`
	CreditCode *string `gorm:"size:32;uniqueIndex"` // 统一社会信用代码, optional
	Hotline    string  `gorm:"size:32"`
	// Where the firm is registered; regions above it may manage it.
	CityID     int64 `gorm:"index"`
	DistrictID int64 `gorm:"index"`
}

// Contract lets a firm serve a compound for a period (dates, inclusive).
type Contract struct {
	Base
	FirmID   int64     `gorm:"index;not null"`
	StartsOn time.Time `gorm:"not null"`
	EndsOn   time.Time `gorm:"not null"`
	Ancestry
}

// Committee is a compound's owners' committee (业委会) or, where none was
// elected, its property management committee (物管会).
type Committee struct {
	Base
	Kind string `gorm:"size:32;not null"` // owners | management
	Name string `gorm:"size:64;not null"`
	Ancestry
}

// Department is a functional department (职能部门: 城管, 公安, 消防 …) attached
// to a region, called in by escalation.
type Department struct {
	Base
	Name string `gorm:"size:64;not null"`
	Kind string `gorm:"size:32"`
	Ancestry
}

// TreeScope is a part of the region tree by the kind and id of its top;
// the platform scope is the whole tree.
type TreeScope struct {
	Kind string
	ID   int64
}

// TreeScopeOf returns the part of the tree a grant covers; ok is false for
// scopes outside the tree (firms, departments).
func TreeScopeOf(g Grant) (TreeScope, bool) {
	switch g.ScopeKind {
	case ScopePlatform, ScopeCity, ScopeDistrict, ScopeStreet, ScopeCommunity, ScopeCompound, ScopeGrid, ScopeBuilding:
		return TreeScope{Kind: g.ScopeKind, ID: g.ScopeID}, true
	}
	return TreeScope{}, false
}

// whereInTree narrows q to the rows whose Ancestry lies within one of
// scopes (none: no row).
func whereInTree(q *gorm.DB, scopes []TreeScope) *gorm.DB {
	var parts []string
	var args []any
	for _, s := range scopes {
		switch s.Kind {
		case ScopePlatform:
			parts = append(parts, "1 = 1")
		case ScopeCity, ScopeDistrict, ScopeStreet, ScopeCommunity, ScopeCompound, ScopeGrid, ScopeBuilding:
			parts = append(parts, s.Kind+"_id = ?")
			args = append(args, s.ID)
		}
	}
	if len(parts) == 0 {
		return q.Where("1 = 0")
	}
	return q.Where("("+strings.Join(parts, " OR ")+")", args...)
}

// HouseholdByID returns one household, or ErrNotFound.
func HouseholdByID(ctx context.Context, db *gorm.DB, id int64) (Household, error) {
	var h Household
	err := db.WithContext(ctx).Take(&h, id).Error
	return h, Translate(err)
}

// GridByID returns one grid, or ErrNotFound.
func GridByID(ctx context.Context, db *gorm.DB, id int64) (Grid, error) {
	var g Grid
	err := db.WithContext(ctx).Take(&g, id).Error
	return g, Translate(err)
}

// HouseholdPlace is where a household is: its compound, building, unit
// and room.
type HouseholdPlace struct {
	ID           int64
	Unit, Room   string
	BuildingName string
	CompoundName string
}

// HouseholdPlaces returns the places of households with one query.
func HouseholdPlaces(ctx context.Context, db *gorm.DB, ids []int64) ([]HouseholdPlace, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var ps []HouseholdPlace
	err := db.WithContext(ctx).Table("households h").
		Select("h.id, h.unit, h.room, b.name AS building_name, c.name AS compound_name").
		Joins("JOIN buildings b ON b.id = h.building_id").
		Joins("JOIN compounds c ON c.id = h.compound_id").
		Where("h.id IN ?", ids).Order("h.id").Scan(&ps).Error
	return ps, Translate(err)
}
