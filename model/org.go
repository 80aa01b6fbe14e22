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

// TakeCompound reads one compound; ErrNotFound when there is none.
func TakeCompound(ctx context.Context, db *gorm.DB, id int64) (Compound, error) {
	var c Compound
	err := db.WithContext(ctx).Where("id = ?", id).Take(&c).Error
	return c, Translate(err)
}

// TakeRegion reads one region of a level; ErrNotFound when there is none.
func TakeRegion(ctx context.Context, db *gorm.DB, id int64, level string) (Region, error) {
	var r Region
	err := db.WithContext(ctx).Where("id = ? AND level = ?", id, level).Take(&r).Error
	return r, Translate(err)
}

// CompoundNames maps compound ids to their names; unknown ids are absent.
func CompoundNames(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]string, error) {
	return NamesOf(ctx, db, &Compound{}, "name", ids)
}

// HasHouseholds reports whether a compound has any household.
func HasHouseholds(ctx context.Context, db *gorm.DB, compoundID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Household{}).Where("compound_id = ?", compoundID).Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// HasCommittee reports whether a compound has a committee.
func HasCommittee(ctx context.Context, db *gorm.DB, compoundID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Committee{}).Where("compound_id = ?", compoundID).Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// HouseholdPlace is a household with the names of its building and
// compound: what a label such as 金日天玺1号楼1单元101 is made of.
type HouseholdPlace struct {
	Household
	BuildingName string
	CompoundName string
}

// HouseholdPlaces maps household ids to their places; unknown ids are
// absent.
func HouseholdPlaces(ctx context.Context, db *gorm.DB, ids []int64) (map[int64]HouseholdPlace, error) {
	out := map[int64]HouseholdPlace{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []HouseholdPlace
	err := db.WithContext(ctx).Table("households AS h").
		Select("h.*, COALESCE(b.name, '') AS building_name, COALESCE(c.name, '') AS compound_name").
		Joins("LEFT JOIN buildings b ON b.id = h.building_id").
		Joins("LEFT JOIN compounds c ON c.id = h.compound_id").
		Where("h.id IN ?", ids).Scan(&rows).Error
	if err != nil {
		return nil, Translate(err)
	}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out, nil
}

// AncestryColumn is the column of Ancestry that holds the id of a tree
// node of kind; ok is false for scopes outside the tree (platform, firm,
// department).
func AncestryColumn(kind string) (col string, ok bool) {
	col, ok = map[string]string{
		ScopeCity: "city_id", ScopeDistrict: "district_id", ScopeStreet: "street_id",
		ScopeCommunity: "community_id", ScopeCompound: "compound_id", ScopeGrid: "grid_id", ScopeBuilding: "building_id",
	}[kind]
	return col, ok
}

// underAny is the condition "in the subtree of one of the grants' scopes"
// on a table that carries Ancestry; grants outside the tree add nothing,
// and none gives an empty condition.
func underAny(grants []Grant) (string, []any) {
	var parts []string
	var args []any
	for _, g := range grants {
		if col, ok := AncestryColumn(g.ScopeKind); ok {
			parts = append(parts, col+" = ?")
			args = append(args, g.ScopeID)
		}
	}
	return strings.Join(parts, " OR "), args
}

// TakeHousehold reads one household; ErrNotFound when there is none.
func TakeHousehold(ctx context.Context, db *gorm.DB, id int64) (Household, error) {
	var h Household
	err := db.WithContext(ctx).Where("id = ?", id).Take(&h).Error
	return h, Translate(err)
}

// Place is a region of the tree or a compound, named by its scope kind
// (city, district, street, community, compound) and id.
type Place struct {
	Kind string
	ID   int64
}

// FirmsServing returns, ascending, those of firms with a contract for a
// compound inside place; with on set, only contracts running that day
// (a UTC midnight, as contract dates are stored), otherwise of any period.
func FirmsServing(ctx context.Context, db *gorm.DB, firms []int64, place Place, on *time.Time) ([]int64, error) {
	col, ok := AncestryColumn(place.Kind)
	if len(firms) == 0 || !ok {
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
