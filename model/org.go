package model

import (
	"context"
	"fmt"
	"sort"
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
	// The firm's project manager (项目经理) for the compound and the
	// compound's 24-hour service hotline: the disclosure board shows them.
	ProjectManager string `gorm:"size:32;not null;default:''"`
	ManagerPhone   string `gorm:"size:32;not null;default:''"`
	Hotline24      string `gorm:"column:hotline24;size:32;not null;default:''"`
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

// AncestryColumn names the ancestry column holding the id of a node of
// the tree of kind (a Level* or the compound, grid and building scope
// kinds); "" for kinds outside the tree (platform, firm, department).
func AncestryColumn(kind string) string {
	switch kind {
	case LevelCity, LevelDistrict, LevelStreet, LevelCommunity, ScopeCompound, ScopeGrid, ScopeBuilding:
		return kind + "_id"
	}
	return ""
}

// underAny is the condition "in the subtree of one of the grants' scopes"
// on a table that carries Ancestry; grants outside the tree add nothing,
// and none gives an empty condition.
func underAny(grants []Grant) (string, []any) {
	var parts []string
	var args []any
	for _, g := range grants {
		if col := AncestryColumn(g.ScopeKind); col != "" {
			parts = append(parts, col+" = ?")
			args = append(args, g.ScopeID)
		}
	}
	return strings.Join(parts, " OR "), args
}

// PlaceOf returns the part of the tree a grant covers; ok is false for
// scopes outside the tree (firms, departments).
func PlaceOf(g Grant) (Place, bool) {
	if AncestryColumn(g.ScopeKind) != "" || g.ScopeKind == ScopePlatform {
		return Place{Kind: g.ScopeKind, ID: g.ScopeID}, true
	}
	return Place{}, false
}

// whereInTree narrows q to the rows whose Ancestry lies within one of
// scopes (none: no row).
func whereInTree(q *gorm.DB, scopes []Place) *gorm.DB {
	var parts []string
	var args []any
	for _, s := range scopes {
		if s.Kind == ScopePlatform {
			parts = append(parts, "1 = 1")
		} else if col := AncestryColumn(s.Kind); col != "" {
			parts = append(parts, col+" = ?")
			args = append(args, s.ID)
		}
	}
	if len(parts) == 0 {
		return q.Where("1 = 0")
	}
	return q.Where("("+strings.Join(parts, " OR ")+")", args...)
}

// Set writes id into the column of kind (see AncestryColumn); other kinds
// change nothing. A node of the tree carries its own id there, so that a
// grant on the node covers it as a grant above it does.
func (a *Ancestry) Set(kind string, id int64) {
	switch kind {
	case LevelCity:
		a.CityID = id
	case LevelDistrict:
		a.DistrictID = id
	case LevelStreet:
		a.StreetID = id
	case LevelCommunity:
		a.CommunityID = id
	case ScopeCompound:
		a.CompoundID = id
	case ScopeGrid:
		a.GridID = id
	case ScopeBuilding:
		a.BuildingID = id
	}
}

// Of is the id in the column of kind (see Set); 0 for other kinds.
func (a Ancestry) Of(kind string) int64 {
	switch kind {
	case LevelCity:
		return a.CityID
	case LevelDistrict:
		return a.DistrictID
	case LevelStreet:
		return a.StreetID
	case LevelCommunity:
		return a.CommunityID
	case ScopeCompound:
		return a.CompoundID
	case ScopeGrid:
		return a.GridID
	case ScopeBuilding:
		return a.BuildingID
	}
	return 0
}

// TreeNode is a row of the tree: a region, compound, grid or building.
type TreeNode interface {
	node() (kind string, id *int64, anc *Ancestry)
}

func (r *Region) node() (string, *int64, *Ancestry) { return r.Level, &r.ID, &r.Ancestry }

func (c *Compound) node() (string, *int64, *Ancestry) { return ScopeCompound, &c.ID, &c.Ancestry }

func (g *Grid) node() (string, *int64, *Ancestry) { return ScopeGrid, &g.ID, &g.Ancestry }

func (b *Building) node() (string, *int64, *Ancestry) { return ScopeBuilding, &b.ID, &b.Ancestry }

// CreateInTree inserts a node of the tree and then records its own id in
// its ancestry column (a compound's compound_id is itself): the id is
// known only after the insert. Run it in a transaction, so that no row is
// ever seen without its own id.
func CreateInTree(ctx context.Context, db *gorm.DB, n TreeNode) error {
	db = db.WithContext(ctx)
	if err := db.Create(n).Error; err != nil {
		return Translate(err)
	}
	kind, id, anc := n.node()
	anc.Set(kind, *id)
	return Translate(db.Model(n).Update(AncestryColumn(kind), *id).Error)
}

// Node names one node of the tree (or an organisation) by scope kind and id.
type Node struct {
	Kind string
	ID   int64
}

// Reach is the part of the tree a reader sees: every row (All), or the
// rows below any of Nodes (by their ancestry column; nodes outside the tree
// are ignored), or in a compound that one of ServedBy's firms serves under
// a contract in force on the day On. The zero Reach sees nothing. Who
// reaches what is the service's rule; Reach only writes it as SQL.
type Reach struct {
	All      bool
	Nodes    []Node
	ServedBy []int64
	On       time.Time
}

// None reports whether the reach selects no row at all.
func (r Reach) None() bool {
	if r.All || len(r.ServedBy) > 0 {
		return false
	}
	for _, n := range r.Nodes {
		if AncestryColumn(n.Kind) != "" {
			return false
		}
	}
	return true
}

// where writes the reach as a condition over the ancestry columns of the
// table aliased alias ("" for none).
func (r Reach) where(alias string) (string, []any) {
	if r.All {
		return "1 = 1", nil
	}
	p := alias
	if p != "" {
		p += "."
	}
	var parts []string
	var args []any
	for _, n := range r.Nodes {
		if col := AncestryColumn(n.Kind); col != "" {
			parts, args = append(parts, p+col+" = ?"), append(args, n.ID)
		}
	}
	if len(r.ServedBy) > 0 {
		parts = append(parts, p+"compound_id IN (SELECT sk.compound_id FROM contracts sk WHERE sk.firm_id IN ? AND sk.starts_on <= ? AND sk.ends_on >= ?)")
		args = append(args, r.ServedBy, r.On, r.On)
	}
	if len(parts) == 0 {
		return "1 = 0", nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// RegionFilter selects regions; zero fields do not filter, but a non-nil
// empty IDs selects none.
type RegionFilter struct {
	Level    string
	ParentID int64
	IDs      []int64
}

// RegionsPage lists regions matching f, newest first.
func RegionsPage(ctx context.Context, db *gorm.DB, f RegionFilter, p Page) (Paged[Region], error) {
	q := db.Model(&Region{})
	if f.Level != "" {
		q = q.Where("level = ?", f.Level)
	}
	if f.ParentID != 0 {
		q = q.Where("parent_id = ?", f.ParentID)
	}
	if f.IDs != nil {
		q = q.Where("id IN ?", f.IDs)
	}
	return KeysetPage[Region](ctx, q, "id", p)
}

// Below lists the rows of T anywhere below a node of the tree (the
// compounds of a street, the households of a building …), newest first:
// its ancestry column makes that one indexed equality. A node outside the
// tree lists nothing.
func Below[T any](ctx context.Context, db *gorm.DB, n Node, p Page) (Paged[T], error) {
	col := AncestryColumn(n.Kind)
	if col == "" {
		return Paged[T]{Items: []T{}}, nil
	}
	return KeysetPage[T](ctx, db.Model(new(T)).Where(col+" = ?", n.ID), "id", p)
}

// FirmFilter selects firms: those registered where Reach reaches (its city
// and district nodes) or whose id is in IDs; and, when DistrictID is set,
// only those registered in that district.
type FirmFilter struct {
	Reach      Reach
	IDs        []int64
	DistrictID int64
}

// FirmsPage lists the firms matching f, newest first.
func FirmsPage(ctx context.Context, db *gorm.DB, f FirmFilter, p Page) (Paged[Firm], error) {
	q := db.Model(&Firm{})
	if !f.Reach.All {
		var parts []string
		var args []any
		for _, n := range f.Reach.Nodes {
			switch n.Kind {
			case ScopeCity, ScopeDistrict:
				parts, args = append(parts, n.Kind+"_id = ?"), append(args, n.ID)
			}
		}
		for _, id := range f.IDs {
			parts, args = append(parts, "id = ?"), append(args, id)
		}
		if len(parts) == 0 {
			return Paged[Firm]{Items: []Firm{}}, nil
		}
		q = q.Where("("+strings.Join(parts, " OR ")+")", args...)
	}
	if f.DistrictID != 0 {
		q = q.Where("district_id = ?", f.DistrictID)
	}
	return KeysetPage[Firm](ctx, q, "id", p)
}

// FirmServesWithin reports whether the firm has (or had) a contract for a
// compound within r.
func FirmServesWithin(ctx context.Context, db *gorm.DB, firmID int64, r Reach) (bool, error) {
	cond, args := r.where("")
	var n int64
	err := db.WithContext(ctx).Model(&Contract{}).Where("firm_id = ?", firmID).Where(cond, args...).Limit(1).Count(&n).Error
	return n > 0, Translate(err)
}

// FirmsServe reports whether one of firms serves the compound under a
// contract in force on day (contract dates are midnight UTC of the day).
func FirmsServe(ctx context.Context, db *gorm.DB, firms []int64, compoundID int64, day time.Time) (bool, error) {
	if len(firms) == 0 {
		return false, nil
	}
	var n int64
	err := db.WithContext(ctx).Model(&Contract{}).
		Where("firm_id IN ? AND compound_id = ? AND starts_on <= ? AND ends_on >= ?", firms, compoundID, day, day).
		Count(&n).Error
	return n > 0, Translate(err)
}

// LockCompound takes the row lock of a compound: the contracts of one
// compound, and imports into it, are decided under it.
func LockCompound(ctx context.Context, tx *gorm.DB, id int64) error {
	var c Compound
	return Translate(ForUpdate(tx.WithContext(ctx)).Select("id").Where("id = ?", id).Take(&c).Error)
}

// ContractView is a contract with the names people read it by.
type ContractView struct {
	Contract
	FirmName     string
	CompoundName string
}

func contractViews(db *gorm.DB) *gorm.DB {
	return db.Table("contracts k").Select("k.*, f.name AS firm_name, c.name AS compound_name").
		Joins("JOIN firms f ON f.id = k.firm_id").Joins("JOIN compounds c ON c.id = k.compound_id")
}

// ContractViewByID loads one contract with its names (ErrNotFound).
func ContractViewByID(ctx context.Context, db *gorm.DB, id int64) (ContractView, error) {
	var rows []ContractView
	if err := contractViews(db.WithContext(ctx)).Where("k.id = ?", id).Limit(1).Scan(&rows).Error; err != nil {
		return ContractView{}, Translate(err)
	}
	if len(rows) == 0 {
		return ContractView{}, ErrNotFound
	}
	return rows[0], nil
}

// OverlappingContract finds the earliest contract of the compound other
// than except that meets the days [from, to]; found is false when none does.
func OverlappingContract(ctx context.Context, db *gorm.DB, compoundID, except int64, from, to time.Time) (v ContractView, found bool, err error) {
	q := contractViews(db.WithContext(ctx)).Where("k.compound_id = ? AND k.starts_on <= ? AND k.ends_on >= ?", compoundID, to, from)
	if except != 0 {
		q = q.Where("k.id <> ?", except)
	}
	var rows []ContractView
	if err := q.Order("k.starts_on").Limit(1).Scan(&rows).Error; err != nil {
		return v, false, Translate(err)
	}
	if len(rows) == 0 {
		return v, false, nil
	}
	return rows[0], true, nil
}

// SetContractDates moves a contract's period.
func SetContractDates(ctx context.Context, db *gorm.DB, id int64, from, to time.Time) error {
	return Translate(db.WithContext(ctx).Model(&Contract{}).Where("id = ?", id).
		Updates(map[string]any{"starts_on": from, "ends_on": to}).Error)
}

// ContractFilter selects contracts of a compound or of a firm (zero does
// not filter) whose compound lies within Reach.
type ContractFilter struct {
	CompoundID int64
	FirmID     int64
	Reach      Reach
}

// ContractsPage lists contracts with their names, newest first.
func ContractsPage(ctx context.Context, db *gorm.DB, f ContractFilter, p Page) (Paged[ContractView], error) {
	q := contractViews(db)
	if f.CompoundID != 0 {
		q = q.Where("k.compound_id = ?", f.CompoundID)
	}
	if f.FirmID != 0 {
		q = q.Where("k.firm_id = ?", f.FirmID)
	}
	cond, args := f.Reach.where("k")
	return KeysetPage[ContractView](ctx, q.Where(cond, args...), "k.id", p)
}

// GridsOf returns the grids of a community.
func GridsOf(ctx context.Context, db *gorm.DB, communityID int64) ([]Grid, error) {
	var gs []Grid
	err := db.WithContext(ctx).Where("community_id = ?", communityID).Find(&gs).Error
	return gs, Translate(err)
}

// BuildingsOf returns the buildings of a compound.
func BuildingsOf(ctx context.Context, db *gorm.DB, compoundID int64) ([]Building, error) {
	var bs []Building
	err := db.WithContext(ctx).Where("compound_id = ?", compoundID).Find(&bs).Error
	return bs, Translate(err)
}

// HouseholdsOf returns the households of a compound: id, building, unit,
// room and area only (an import compares tens of thousands of them).
func HouseholdsOf(ctx context.Context, db *gorm.DB, compoundID int64) ([]Household, error) {
	var hs []Household
	err := db.WithContext(ctx).Select("id", "building_id", "unit", "room", "area_centi_m2").
		Where("compound_id = ?", compoundID).Find(&hs).Error
	return hs, Translate(err)
}

// CreateBuildings inserts new buildings of one compound in batches and
// gives each its own id in its ancestry with one statement. The ids on
// the slice are not to be trusted afterwards: consecutive auto-increment
// ids are not guaranteed on every MySQL-compatible engine (TiDB, Galera);
// read them back by name with BuildingsOf.
func CreateBuildings(ctx context.Context, db *gorm.DB, compoundID int64, bs []Building, batch int) error {
	db = db.WithContext(ctx)
	if err := db.CreateInBatches(&bs, batch).Error; err != nil {
		return Translate(err)
	}
	return Translate(db.Model(&Building{}).Where("compound_id = ? AND building_id = 0", compoundID).
		Update("building_id", gorm.Expr("id")).Error)
}

// SetHouseholdAreas writes new areas (household id → m² × 100) with one
// CASE statement per batch of ids.
func SetHouseholdAreas(ctx context.Context, db *gorm.DB, areas map[int64]int64, now time.Time, batch int) error {
	ids := make([]int64, 0, len(areas))
	for id := range areas {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	db = db.WithContext(ctx)
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		var sql strings.Builder
		args := make([]any, 0, 2*len(chunk)+2)
		sql.WriteString("UPDATE households SET area_centi_m2 = CASE id")
		for _, id := range chunk {
			sql.WriteString(" WHEN ? THEN ?")
			args = append(args, id, areas[id])
		}
		sql.WriteString(" END, updated_at = ? WHERE id IN ?")
		args = append(args, now, chunk)
		if err := db.Exec(sql.String(), args...).Error; err != nil {
			return Translate(err)
		}
	}
	return nil
}

// ScopeAncestry loads the object a grant's scope names and returns its
// place in the tree: a region of that level, a compound, grid or building,
// a firm (where it is registered) or a department. ErrNotFound when there
// is no such object.
func ScopeAncestry(ctx context.Context, db *gorm.DB, kind string, id int64) (Ancestry, error) {
	db = db.WithContext(ctx)
	switch kind {
	case ScopeCity, ScopeDistrict, ScopeStreet, ScopeCommunity:
		var r Region
		err := db.Where("level = ?", kind).Take(&r, id).Error
		return r.Ancestry, Translate(err)
	case ScopeCompound:
		c, err := ByID[Compound](ctx, db, id)
		return c.Ancestry, err
	case ScopeGrid:
		g, err := ByID[Grid](ctx, db, id)
		return g.Ancestry, err
	case ScopeBuilding:
		b, err := ByID[Building](ctx, db, id)
		return b.Ancestry, err
	case ScopeFirm:
		f, err := ByID[Firm](ctx, db, id)
		return Ancestry{CityID: f.CityID, DistrictID: f.DistrictID}, err
	case ScopeDepartment:
		d, err := ByID[Department](ctx, db, id)
		return d.Ancestry, err
	}
	return Ancestry{}, fmt.Errorf("scope kind %q names no object", kind)
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
	col := AncestryColumn(place.Kind)
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

// FirmCompound names a firm and a compound it may serve.
type FirmCompound struct {
	FirmID, CompoundID int64
}

// FirmsContracted reports which of the firms have, with which of the
// compounds, a contract that had begun by day and did not end before
// endedSince (contract dates are midnight UTC of the day; endedSince is
// day minus the grace a firm keeps after its contract ends).
func FirmsContracted(ctx context.Context, db *gorm.DB, firms, compounds []int64, day, endedSince time.Time) (map[FirmCompound]bool, error) {
	out := map[FirmCompound]bool{}
	if len(firms) == 0 || len(compounds) == 0 {
		return out, nil
	}
	var rows []FirmCompound
	err := db.WithContext(ctx).Model(&Contract{}).Distinct("firm_id", "compound_id").
		Where("firm_id IN ? AND compound_id IN ? AND starts_on <= ? AND ends_on >= ?", firms, compounds, day, endedSince).
		Scan(&rows).Error
	if err != nil {
		return nil, Translate(err)
	}
	for _, r := range rows {
		out[r] = true
	}
	return out, nil
}
