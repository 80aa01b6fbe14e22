package model

import (
	"context"
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

// Place is a region of the tree or a compound, named by its scope kind
// (city, district, street, community, compound) and id.
type Place struct {
	Kind string
	ID   int64
}

// ancestryColumn is the Ancestry column that holds the id of a place of
// kind on every row inside it ("" for kinds outside the tree).
func ancestryColumn(kind string) string {
	switch kind {
	case ScopeCity:
		return "city_id"
	case ScopeDistrict:
		return "district_id"
	case ScopeStreet:
		return "street_id"
	case ScopeCommunity:
		return "community_id"
	case ScopeCompound:
		return "compound_id"
	}
	return ""
}

// RegionAt reads the region id if it is of level (ErrNotFound otherwise).
func RegionAt(ctx context.Context, db *gorm.DB, id int64, level string) (Region, error) {
	var r Region
	err := db.WithContext(ctx).Where("id = ? AND level = ?", id, level).Take(&r).Error
	return r, Translate(err)
}

// FirmsServing returns, ascending, those of firms with a contract for a
// compound inside place; with on set, only contracts running that day
// (a UTC midnight, as contract dates are stored), otherwise of any period.
func FirmsServing(ctx context.Context, db *gorm.DB, firms []int64, place Place, on *time.Time) ([]int64, error) {
	col := ancestryColumn(place.Kind)
	if len(firms) == 0 || col == "" {
		return nil, nil
	}
	q := db.WithContext(ctx).Model(&Contract{}).Distinct("firm_id").Where("firm_id IN ? AND "+col+" = ?", firms, place.ID)
	if on != nil {
		q = q.Where("starts_on <= ? AND ends_on >= ?", *on, *on)
	}
	var served []int64
	err := q.Order("firm_id").Pluck("firm_id", &served).Error
	return served, Translate(err)
}
