package org

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// regionParent is the level a region of each level hangs under.
var regionParent = map[string]string{
	model.LevelDistrict:  model.LevelCity,
	model.LevelStreet:    model.LevelDistrict,
	model.LevelCommunity: model.LevelStreet,
}

// Field limits; they follow the column sizes in model/org.go.
const (
	treeNameMax    = 64
	treeAddressMax = 200
	treeCodeMax    = 32
	treeUnitMax    = 16
	treeRoomMax    = 16
)

// Errors of the tree.
var (
	errTreeLevel        = service.Invalid("bad_level", "区域级别须为 city（市）、district（区）、street（街道）或 community（社区）")
	errTreeCityParent   = service.Invalid("bad_parent", "市级区域没有上级区域，请不要填写 parent_id")
	errTreeNoParent     = service.Invalid("bad_parent", "请选择上级区域")
	errTreeParentLevel  = service.Unprocessable("bad_parent_level", "上级区域级别不对：区属于市，街道属于区，社区属于街道")
	errTreeCityAdmin    = service.Forbidden("forbidden", "只有平台管理员可以新建市级区域")
	errTreeName         = service.Invalid("bad_name", "请填写名称（不超过 64 个字）")
	errTreeAddress      = service.Invalid("bad_address", "地址不能超过 200 个字")
	errTreeCode         = service.Invalid("bad_code", "区划代码不能超过 32 个字符")
	errTreeNoChange     = service.Invalid("nothing_to_update", "没有要修改的内容")
	errTreeNotCommunity = service.Unprocessable("not_community", "小区、网格只能建在社区下")
	errTreeNoGrid       = service.Invalid("bad_grid", "请选择楼栋所属的网格")
	errTreeGridOther    = service.Unprocessable("grid_mismatch", "楼栋所属的网格须与小区在同一个社区")
	errTreeBuildingDup  = service.Conflict("building_exists", "该小区已有同名楼栋")
	errTreeHouseDup     = service.Conflict("household_exists", "该楼栋已有相同单元和房号的房屋")
	errTreeArea         = service.Invalid("bad_area", "面积须为大于 0 的数字（平方米），最多两位小数，如 89.50")
	errTreeRoom         = service.Invalid("bad_room", "请填写房号（不超过 16 个字符）")
	errTreeUnit         = service.Invalid("bad_unit", "单元不能超过 16 个字符")

	errTreeRegionGone    = service.NotFound("region_not_found", "区域不存在")
	errTreeCompoundGone  = service.NotFound("compound_not_found", "小区不存在")
	errTreeGridGone      = service.NotFound("grid_not_found", "网格不存在")
	errTreeBuildingGone  = service.NotFound("building_not_found", "楼栋不存在")
	errTreeHouseholdGone = service.NotFound("household_not_found", "房屋不存在")
)

// take loads one row by id, answering missing when there is none.
func take[T any](ctx context.Context, db *gorm.DB, id int64, missing error) (T, error) {
	if id <= 0 {
		var zero T
		return zero, missing
	}
	row, err := model.ByID[T](ctx, db, id)
	return row, service.OrNotFound(err, missing)
}

// cleanText trims s and checks it has between min and max characters.
func cleanText(s string, min, max int, bad error) (string, error) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < min || n > max || !utf8.ValidString(s) {
		return "", bad
	}
	return s, nil
}

// patchText applies an optional text field to the update map.
func patchText(upd map[string]any, col string, v *string, min, max int, bad error) error {
	if v == nil {
		return nil
	}
	s, err := cleanText(*v, min, max, bad)
	if err != nil {
		return err
	}
	upd[col] = s
	return nil
}

// parseHouseholdArea reads an area in m² that must be positive.
func parseHouseholdArea(s string) (int64, error) {
	c, err := model.ParseArea(s)
	if err != nil || c <= 0 {
		return 0, errTreeArea
	}
	return c, nil
}

// update applies upd to the row of T with the given id, mapping
// duplicate keys to dup, and returns the row as it is then.
func update[T any](ctx context.Context, s *Service, id int64, upd map[string]any, dup error) (T, error) {
	if len(upd) == 0 {
		var zero T
		return zero, errTreeNoChange
	}
	row, err := model.Patch[T](ctx, s.db, id, upd)
	if errors.Is(err, model.ErrDuplicate) && dup != nil {
		return row, dup
	}
	if err == nil {
		// Every rename of the tree passes here, after its commit.
		s.names.Forget(ctx, new(T), id)
	}
	return row, err
}

// ---- regions ----

// RegionInput describes a region to create. A city has no parent; every
// other level hangs under the level above it.
type RegionInput struct {
	Level    string
	ParentID int64
	Name     string
	Code     string
}

// RegionPatch changes a region; nil fields stay.
type RegionPatch struct {
	Name *string
	Code *string
}

// CreateRegion adds a city (platform admins only) or a region under a
// parent the actor keeps. The ancestry is the parent's plus the new id.
func (s *Service) CreateRegion(ctx context.Context, a *service.Actor, in RegionInput) (model.Region, error) {
	want, isChild := regionParent[in.Level]
	if !isChild && in.Level != model.LevelCity {
		return model.Region{}, errTreeLevel
	}
	name, err := cleanText(in.Name, 1, treeNameMax, errTreeName)
	if err != nil {
		return model.Region{}, err
	}
	code, err := cleanText(in.Code, 0, treeCodeMax, errTreeCode)
	if err != nil {
		return model.Region{}, err
	}
	r := model.Region{Level: in.Level, Name: name, Code: code}
	if !isChild {
		if in.ParentID != 0 {
			return r, errTreeCityParent
		}
		if !a.IsAdmin() {
			return r, errTreeCityAdmin
		}
	} else {
		if in.ParentID <= 0 {
			return r, errTreeNoParent
		}
		parent, err := take[model.Region](ctx, s.db, in.ParentID, errTreeRegionGone)
		if err != nil {
			return r, err
		}
		if err := mayWrite(a, regionTarget(parent), regionWriters); err != nil {
			return r, err
		}
		if parent.Level != want {
			return r, errTreeParentLevel
		}
		r.ParentID, r.Ancestry = parent.ID, parent.Ancestry
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error { return model.CreateInTree(ctx, tx, &r) })
	return r, err
}

// Region returns a region the actor's scope covers.
func (s *Service) Region(ctx context.Context, a *service.Actor, id int64) (model.Region, error) {
	r, err := take[model.Region](ctx, s.db, id, errTreeRegionGone)
	if err != nil {
		return r, err
	}
	return r, mayRead(a, regionTarget(r))
}

// UpdateRegion renames a region or changes its code. Like creating it,
// that is for those who keep the region above (admins for a city): a
// street does not rename itself.
func (s *Service) UpdateRegion(ctx context.Context, a *service.Actor, id int64, p RegionPatch) (model.Region, error) {
	r, err := take[model.Region](ctx, s.db, id, errTreeRegionGone)
	if err != nil {
		return r, err
	}
	if r.Level == model.LevelCity {
		if !a.IsAdmin() {
			if err := mayRead(a, regionTarget(r)); err != nil {
				return model.Region{}, err
			}
			return model.Region{}, service.ErrForbidden
		}
	} else if err := mayWrite(a, regionParentTarget(r), regionWriters); err != nil {
		if mayRead(a, regionTarget(r)) != nil {
			return model.Region{}, service.ErrOutOfScope
		}
		return model.Region{}, service.ErrForbidden
	}
	upd := map[string]any{}
	if err := patchText(upd, "name", p.Name, 1, treeNameMax, errTreeName); err != nil {
		return r, err
	}
	if err := patchText(upd, "code", p.Code, 0, treeCodeMax, errTreeCode); err != nil {
		return r, err
	}
	return update[model.Region](ctx, s, id, upd, nil)
}

// Cities lists the cities the actor's scope covers, newest first: all of
// them for platform admins, their own for city grants.
func (s *Service) Cities(ctx context.Context, a *service.Actor, p service.Page) (service.Paged[model.Region], error) {
	f := model.RegionFilter{Level: model.LevelCity}
	if !a.Can(service.Target{Kind: model.ScopePlatform}) {
		f.IDs = []int64{}
		for _, g := range a.Grants {
			if g.ScopeKind == model.ScopeCity {
				f.IDs = append(f.IDs, g.ScopeID)
			}
		}
		if len(f.IDs) == 0 {
			return service.Paged[model.Region]{}, nil
		}
	}
	return model.RegionsPage(ctx, s.db, f, p)
}

// RegionChildren lists the regions directly under a region.
func (s *Service) RegionChildren(ctx context.Context, a *service.Actor, id int64, p service.Page) (service.Paged[model.Region], error) {
	r, err := s.Region(ctx, a, id)
	if err != nil {
		return service.Paged[model.Region]{}, err
	}
	return model.RegionsPage(ctx, s.db, model.RegionFilter{ParentID: r.ID}, p)
}

// within lists rows of T anywhere below a region the actor may read (the
// compounds of a street, the departments of a district…): its ancestry
// column makes that one indexed equality.
func within[T any](ctx context.Context, s *Service, a *service.Actor, regionID int64, p service.Page) (service.Paged[T], error) {
	r, err := s.Region(ctx, a, regionID)
	if err != nil {
		return service.Paged[T]{}, err
	}
	if model.AncestryColumn(r.Level) == "" {
		return service.Paged[T]{}, errTreeLevel
	}
	return model.Below[T](ctx, s.db, model.Node{Kind: r.Level, ID: r.ID}, p)
}

// ---- compounds and grids ----

// CompoundInput describes a compound (小区) to create in a community.
type CompoundInput struct {
	CommunityID int64
	Name        string
	Address     string
}

// CompoundPatch changes a compound; nil fields stay.
type CompoundPatch struct {
	Name    *string
	Address *string
}

// community loads a community the actor keeps (for creating under it).
func (s *Service) community(ctx context.Context, a *service.Actor, id int64) (model.Region, error) {
	r, err := take[model.Region](ctx, s.db, id, errTreeRegionGone)
	if err != nil {
		return r, err
	}
	if err := mayWrite(a, regionTarget(r), communityWriters); err != nil {
		return r, err
	}
	if r.Level != model.LevelCommunity {
		return r, errTreeNotCommunity
	}
	return r, nil
}

// CreateCompound adds a compound to a community.
func (s *Service) CreateCompound(ctx context.Context, a *service.Actor, in CompoundInput) (model.Compound, error) {
	name, err := cleanText(in.Name, 1, treeNameMax, errTreeName)
	if err != nil {
		return model.Compound{}, err
	}
	addr, err := cleanText(in.Address, 0, treeAddressMax, errTreeAddress)
	if err != nil {
		return model.Compound{}, err
	}
	com, err := s.community(ctx, a, in.CommunityID)
	if err != nil {
		return model.Compound{}, err
	}
	c := model.Compound{Name: name, Address: addr, Ancestry: com.Ancestry}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error { return model.CreateInTree(ctx, tx, &c) })
	return c, err
}

// Compound returns a compound the actor's scope covers.
func (s *Service) Compound(ctx context.Context, a *service.Actor, id int64) (model.Compound, error) {
	c, err := take[model.Compound](ctx, s.db, id, errTreeCompoundGone)
	if err != nil {
		return c, err
	}
	return c, mayRead(a, compoundTarget(c))
}

// UpdateCompound renames a compound or changes its address.
func (s *Service) UpdateCompound(ctx context.Context, a *service.Actor, id int64, p CompoundPatch) (model.Compound, error) {
	c, err := take[model.Compound](ctx, s.db, id, errTreeCompoundGone)
	if err != nil {
		return c, err
	}
	if err := mayWrite(a, compoundTarget(c), communityWriters); err != nil {
		return model.Compound{}, err
	}
	upd := map[string]any{}
	if err := patchText(upd, "name", p.Name, 1, treeNameMax, errTreeName); err != nil {
		return c, err
	}
	if err := patchText(upd, "address", p.Address, 0, treeAddressMax, errTreeAddress); err != nil {
		return c, err
	}
	return update[model.Compound](ctx, s, id, upd, nil)
}

// Compounds lists the compounds anywhere below a region.
func (s *Service) Compounds(ctx context.Context, a *service.Actor, regionID int64, p service.Page) (service.Paged[model.Compound], error) {
	return within[model.Compound](ctx, s, a, regionID, p)
}

// GridInput describes a grid (网格) to create in a community.
type GridInput struct {
	CommunityID int64
	Name        string
}

// CreateGrid adds a grid to a community.
func (s *Service) CreateGrid(ctx context.Context, a *service.Actor, in GridInput) (model.Grid, error) {
	name, err := cleanText(in.Name, 1, treeNameMax, errTreeName)
	if err != nil {
		return model.Grid{}, err
	}
	com, err := s.community(ctx, a, in.CommunityID)
	if err != nil {
		return model.Grid{}, err
	}
	g := model.Grid{Name: name, Ancestry: com.Ancestry}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error { return model.CreateInTree(ctx, tx, &g) })
	return g, err
}

// Grid returns a grid the actor's scope covers.
func (s *Service) Grid(ctx context.Context, a *service.Actor, id int64) (model.Grid, error) {
	g, err := take[model.Grid](ctx, s.db, id, errTreeGridGone)
	if err != nil {
		return g, err
	}
	return g, mayRead(a, gridTarget(g))
}

// RenameGrid changes a grid's name.
func (s *Service) RenameGrid(ctx context.Context, a *service.Actor, id int64, name *string) (model.Grid, error) {
	g, err := take[model.Grid](ctx, s.db, id, errTreeGridGone)
	if err != nil {
		return g, err
	}
	if err := mayWrite(a, gridTarget(g), communityWriters); err != nil {
		return model.Grid{}, err
	}
	upd := map[string]any{}
	if err := patchText(upd, "name", name, 1, treeNameMax, errTreeName); err != nil {
		return g, err
	}
	return update[model.Grid](ctx, s, id, upd, nil)
}

// Grids lists the grids anywhere below a region.
func (s *Service) Grids(ctx context.Context, a *service.Actor, regionID int64, p service.Page) (service.Paged[model.Grid], error) {
	return within[model.Grid](ctx, s, a, regionID, p)
}

// ---- buildings and households ----

// BuildingInput describes a building (楼栋): it lies in one compound and
// one grid of the same community.
type BuildingInput struct {
	CompoundID int64
	GridID     int64
	Name       string
}

// CreateBuilding adds a building to a compound, in a grid of the
// compound's community. Names are unique within a compound.
func (s *Service) CreateBuilding(ctx context.Context, a *service.Actor, in BuildingInput) (model.Building, error) {
	name, err := cleanText(in.Name, 1, treeNameMax, errTreeName)
	if err != nil {
		return model.Building{}, err
	}
	c, err := take[model.Compound](ctx, s.db, in.CompoundID, errTreeCompoundGone)
	if err != nil {
		return model.Building{}, err
	}
	if err := mayWrite(a, compoundTarget(c), communityWriters); err != nil {
		return model.Building{}, err
	}
	if in.GridID <= 0 {
		return model.Building{}, errTreeNoGrid
	}
	g, err := take[model.Grid](ctx, s.db, in.GridID, errTreeGridGone)
	if err != nil {
		return model.Building{}, err
	}
	if g.CommunityID != c.CommunityID {
		return model.Building{}, errTreeGridOther
	}
	b := model.Building{Name: name, Ancestry: c.Ancestry}
	b.GridID = g.ID
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error { return model.CreateInTree(ctx, tx, &b) })
	if errors.Is(err, model.ErrDuplicate) {
		return model.Building{}, errTreeBuildingDup
	}
	return b, err
}

// Building returns a building the actor's scope covers.
func (s *Service) Building(ctx context.Context, a *service.Actor, id int64) (model.Building, error) {
	b, err := take[model.Building](ctx, s.db, id, errTreeBuildingGone)
	if err != nil {
		return b, err
	}
	return b, mayRead(a, buildingTarget(b))
}

// RenameBuilding changes a building's name. Moving a building to another
// grid is not offered: its households, residents and orders carry the grid
// in their ancestry.
func (s *Service) RenameBuilding(ctx context.Context, a *service.Actor, id int64, name *string) (model.Building, error) {
	b, err := take[model.Building](ctx, s.db, id, errTreeBuildingGone)
	if err != nil {
		return b, err
	}
	if err := mayWrite(a, buildingTarget(b), communityWriters); err != nil {
		return model.Building{}, err
	}
	upd := map[string]any{}
	if err := patchText(upd, "name", name, 1, treeNameMax, errTreeName); err != nil {
		return b, err
	}
	return update[model.Building](ctx, s, id, upd, errTreeBuildingDup)
}

// CompoundBuildings lists the buildings of a compound.
func (s *Service) CompoundBuildings(ctx context.Context, a *service.Actor, compoundID int64, p service.Page) (service.Paged[model.Building], error) {
	c, err := s.Compound(ctx, a, compoundID)
	if err != nil {
		return service.Paged[model.Building]{}, err
	}
	return model.Below[model.Building](ctx, s.db, model.Node{Kind: model.ScopeCompound, ID: c.ID}, p)
}

// GridBuildings lists the buildings of a grid.
func (s *Service) GridBuildings(ctx context.Context, a *service.Actor, gridID int64, p service.Page) (service.Paged[model.Building], error) {
	g, err := s.Grid(ctx, a, gridID)
	if err != nil {
		return service.Paged[model.Building]{}, err
	}
	return model.Below[model.Building](ctx, s.db, model.Node{Kind: model.ScopeGrid, ID: g.ID}, p)
}

// HouseholdInput describes a household (户). Area is in m² as written by
// people ("89.50"), kept exact.
type HouseholdInput struct {
	BuildingID int64
	Unit       string
	Room       string
	Area       string
}

// HouseholdPatch changes a household; nil fields stay.
type HouseholdPatch struct {
	Unit *string
	Room *string
	Area *string
}

// CreateHousehold adds a household to a building; (unit, room) is unique
// within the building.
func (s *Service) CreateHousehold(ctx context.Context, a *service.Actor, in HouseholdInput) (model.Household, error) {
	unit, err := cleanText(in.Unit, 0, treeUnitMax, errTreeUnit)
	if err != nil {
		return model.Household{}, err
	}
	room, err := cleanText(in.Room, 1, treeRoomMax, errTreeRoom)
	if err != nil {
		return model.Household{}, err
	}
	area, err := parseHouseholdArea(in.Area)
	if err != nil {
		return model.Household{}, err
	}
	b, err := take[model.Building](ctx, s.db, in.BuildingID, errTreeBuildingGone)
	if err != nil {
		return model.Household{}, err
	}
	if err := mayWrite(a, buildingTarget(b), communityWriters); err != nil {
		return model.Household{}, err
	}
	h := model.Household{Unit: unit, Room: room, AreaCentiM2: area, Ancestry: b.Ancestry}
	err = model.Create(ctx, s.db, &h)
	if errors.Is(err, model.ErrDuplicate) {
		return model.Household{}, errTreeHouseDup
	}
	return h, err
}

// Household returns a household the actor's scope covers.
func (s *Service) Household(ctx context.Context, a *service.Actor, id int64) (model.Household, error) {
	h, err := take[model.Household](ctx, s.db, id, errTreeHouseholdGone)
	if err != nil {
		return h, err
	}
	return h, mayRead(a, householdTarget(h))
}

// UpdateHousehold corrects a household's unit, room or area.
func (s *Service) UpdateHousehold(ctx context.Context, a *service.Actor, id int64, p HouseholdPatch) (model.Household, error) {
	h, err := take[model.Household](ctx, s.db, id, errTreeHouseholdGone)
	if err != nil {
		return h, err
	}
	if err := mayWrite(a, householdTarget(h), communityWriters); err != nil {
		return model.Household{}, err
	}
	upd := map[string]any{}
	if err := patchText(upd, "unit", p.Unit, 0, treeUnitMax, errTreeUnit); err != nil {
		return h, err
	}
	if err := patchText(upd, "room", p.Room, 1, treeRoomMax, errTreeRoom); err != nil {
		return h, err
	}
	if p.Area != nil {
		area, err := parseHouseholdArea(*p.Area)
		if err != nil {
			return h, err
		}
		upd["area_centi_m2"] = area
	}
	return update[model.Household](ctx, s, id, upd, errTreeHouseDup)
}

// BuildingHouseholds lists the households of a building.
func (s *Service) BuildingHouseholds(ctx context.Context, a *service.Actor, buildingID int64, p service.Page) (service.Paged[model.Household], error) {
	b, err := s.Building(ctx, a, buildingID)
	if err != nil {
		return service.Paged[model.Household]{}, err
	}
	return model.Below[model.Household](ctx, s.db, model.Node{Kind: model.ScopeBuilding, ID: b.ID}, p)
}
