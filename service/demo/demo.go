// Package demo loads a small demo city: one street, two communities, three
// compounds, grids, buildings, households, one firm with contracts, and one
// sandbox user per role. `go run .` loads it into an empty embedded
// database; tests use it as their fixture. It must not import gin or api/.
package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/wechat"
)

// ErrNotEmpty is returned when the database already holds data.
var ErrNotEmpty = errors.New("database is not empty: the demo city loads only into an empty database")

// Person is a demo user: their sandbox login code and what they are.
type Person struct {
	Name   string // sandbox name: log in with code "sandbox:<Name>"
	UserID int64
	Role   string // "resident" for residents, else a model.Role*
	About  string // Chinese description for the start-up banner
}

// City holds the ids of what was loaded.
type City struct {
	CityID, DistrictID, StreetID int64
	Communities                  [2]model.Region
	Compounds                    [3]model.Compound // 0,1 in community 0 (served by the firm); 2 in community 1 (no firm)
	Grids                        [3]model.Grid     // grid i covers compound i
	Buildings                    []model.Building  // two per compound, in compound order
	Households                   []model.Household // four per building, in building order
	Firm                         model.Firm
	Contracts                    []model.Contract
	Committee                    model.Committee
	Department                   model.Department
	People                       []Person
	Users                        map[string]int64 // sandbox name → user id
}

// Code is the sandbox login code of a demo person.
func Code(name string) string { return wechat.SandboxPrefix + name }

// Load creates the demo city in one transaction. It refuses a database that
// already has regions or users.
func Load(ctx context.Context, db *gorm.DB, now time.Time) (*City, error) {
	empty, err := model.IsEmpty(ctx, db)
	if err != nil {
		return nil, err
	}
	if !empty {
		return nil, ErrNotEmpty
	}
	c := &City{Users: map[string]int64{}}
	err = model.InTx(ctx, db, func(tx *gorm.DB) error { return c.load(ctx, tx, now) })
	if err != nil {
		return nil, fmt.Errorf("load demo city: %w", err)
	}
	return c, nil
}

func (c *City) load(ctx context.Context, tx *gorm.DB, now time.Time) error {
	city := model.Region{Level: model.LevelCity, Name: "示范市", Code: "370600"}
	if err := model.CreateInTree(ctx, tx, &city); err != nil {
		return err
	}
	district := model.Region{Level: model.LevelDistrict, ParentID: city.ID, Name: "中心区", Code: "370602",
		Ancestry: model.Ancestry{CityID: city.ID}}
	if err := model.CreateInTree(ctx, tx, &district); err != nil {
		return err
	}
	street := model.Region{Level: model.LevelStreet, ParentID: district.ID, Name: "文昌路街道",
		Ancestry: model.Ancestry{CityID: city.ID, DistrictID: district.ID}}
	if err := model.CreateInTree(ctx, tx, &street); err != nil {
		return err
	}
	c.CityID, c.DistrictID, c.StreetID = city.ID, district.ID, street.ID
	for i, name := range []string{"双语社区", "光安社区"} {
		com := model.Region{Level: model.LevelCommunity, ParentID: street.ID, Name: name,
			Ancestry: model.Ancestry{CityID: city.ID, DistrictID: district.ID, StreetID: street.ID}}
		if err := model.CreateInTree(ctx, tx, &com); err != nil {
			return err
		}
		c.Communities[i] = com
	}
	compounds := []struct {
		name, address string
		community     int
	}{{"金日天玺", "文昌路 18 号", 0}, {"华旗绿城", "文昌路 66 号", 0}, {"光安花园", "光安街 9 号", 1}}
	for i, cp := range compounds {
		anc := c.Communities[cp.community].Ancestry
		comp := model.Compound{Name: cp.name, Address: cp.address, Ancestry: anc}
		if err := model.CreateInTree(ctx, tx, &comp); err != nil {
			return err
		}
		c.Compounds[i] = comp
		grid := model.Grid{Name: fmt.Sprintf("%s第%d网格", c.Communities[cp.community].Name, i+1), Ancestry: anc}
		if err := model.CreateInTree(ctx, tx, &grid); err != nil {
			return err
		}
		c.Grids[i] = grid
		for b := 1; b <= 2; b++ {
			banc := comp.Ancestry
			banc.GridID = grid.ID
			bld := model.Building{Name: fmt.Sprintf("%d号楼", b), Ancestry: banc}
			if err := model.CreateInTree(ctx, tx, &bld); err != nil {
				return err
			}
			c.Buildings = append(c.Buildings, bld)
			for k, room := range []string{"101", "102", "201", "202"} {
				h := model.Household{Unit: "1", Room: room, AreaCentiM2: int64(8950 + 1025*k + 310*b), Ancestry: bld.Ancestry}
				if err := model.Create(ctx, tx, &h); err != nil {
					return err
				}
				c.Households = append(c.Households, h)
			}
		}
	}
	code := "91370600MA3DEMO01X"
	c.Firm = model.Firm{Name: "红心物业服务有限公司", CreditCode: &code, Hotline: "0535-2218888", CityID: city.ID, DistrictID: district.ID}
	if err := model.Create(ctx, tx, &c.Firm); err != nil {
		return err
	}
	start := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	for _, comp := range c.Compounds[:2] {
		ct := model.Contract{FirmID: c.Firm.ID, StartsOn: start, EndsOn: start.AddDate(3, 0, -1), Ancestry: comp.Ancestry,
			ProjectManager: "孙立新", ManagerPhone: "13805352218", Hotline24: "0535-2218899"}
		if err := model.Create(ctx, tx, &ct); err != nil {
			return err
		}
		c.Contracts = append(c.Contracts, ct)
	}
	c.Committee = model.Committee{Kind: "owners", Name: "金日天玺业主委员会", Ancestry: c.Compounds[0].Ancestry}
	if err := model.Create(ctx, tx, &c.Committee); err != nil {
		return err
	}
	c.Department = model.Department{Name: "街道综合执法队", Kind: "城管", Ancestry: street.Ancestry}
	if err := model.Create(ctx, tx, &c.Department); err != nil {
		return err
	}
	return c.people(ctx, tx)
}

func (c *City) people(ctx context.Context, tx *gorm.DB) error {
	comm0, comp0, grid0, b0 := c.Communities[0], c.Compounds[0], c.Grids[0], c.Buildings[0]
	type spec struct {
		name, display, role, scope string
		scopeID                    int64
		anc                        model.Ancestry
		about                      string
	}
	specs := []spec{
		{"admin", "平台管理员", model.RolePlatformAdmin, model.ScopePlatform, 0, model.Ancestry{}, "平台管理员"},
		{"city", "市住建局王科长", model.RoleCityStaff, model.ScopeCity, c.CityID, model.Ancestry{CityID: c.CityID}, "市级工作人员（特事市级议）"},
		{"street", "街道李主任", model.RoleStreetStaff, model.ScopeStreet, c.StreetID, streetAnc(comm0.Ancestry), "街道工作人员（难事街道议）"},
		{"community", "社区张书记", model.RoleCommunityStaff, model.ScopeCommunity, comm0.ID, comm0.Ancestry, comm0.Name + "派单员"},
		{"duty", "社区值班员小赵", model.RoleCommunityDuty, model.ScopeCommunity, comm0.ID, comm0.Ancestry, comm0.Name + "应急值班"},
		{"grid", "网格员刘姐", model.RoleGridWorker, model.ScopeGrid, grid0.ID, grid0.Ancestry, grid0.Name + "网格员"},
		{"steward", "楼栋长陈大爷", model.RoleBuildingSteward, model.ScopeBuilding, b0.ID, b0.Ancestry, comp0.Name + b0.Name + "楼栋长"},
		{"manager", "物业经理孙经理", model.RoleFirmManager, model.ScopeFirm, c.Firm.ID, model.Ancestry{CityID: c.CityID, DistrictID: c.DistrictID}, c.Firm.Name + "经理"},
		{"worker", "维修工周师傅", model.RoleFirmWorker, model.ScopeFirm, c.Firm.ID, model.Ancestry{CityID: c.CityID, DistrictID: c.DistrictID}, c.Firm.Name + "维修工"},
		{"committee", "业委会吴主任", model.RoleCommittee, model.ScopeCompound, comp0.ID, comp0.Ancestry, comp0.Name + "业委会"},
		{"volunteer", "志愿者郑阿姨", model.RoleVolunteer, model.ScopeCommunity, comm0.ID, comm0.Ancestry, comm0.Name + "党员志愿者"},
		{"department", "执法队员冯队", model.RoleDepartmentStaff, model.ScopeDepartment, c.Department.ID, c.Department.Ancestry, c.Department.Name},
		{"grid3", "网格员何哥", model.RoleGridWorker, model.ScopeGrid, c.Grids[2].ID, c.Grids[2].Ancestry, c.Grids[2].Name + "网格员"},
		{"community2", "社区马主任", model.RoleCommunityStaff, model.ScopeCommunity, c.Communities[1].ID, c.Communities[1].Ancestry, c.Communities[1].Name + "派单员"},
	}
	for _, s := range specs {
		id, err := c.user(ctx, tx, s.name, s.display)
		if err != nil {
			return err
		}
		g := model.Grant{UserID: id, Role: s.role, ScopeKind: s.scope, ScopeID: s.scopeID, Ancestry: s.anc}
		if err := model.Create(ctx, tx, &g); err != nil {
			return err
		}
		c.People = append(c.People, Person{Name: s.name, UserID: id, Role: s.role, About: s.about})
	}
	residents := []struct {
		name, display string
		household     model.Household
		about         string
	}{
		{"resident", "居民杨阿姨", c.Households[0], comp0.Name + "1号楼1单元101业主"},
		{"resident2", "居民林先生", c.Households[16], c.Compounds[2].Name + "1号楼1单元101业主"},
	}
	for _, r := range residents {
		id, err := c.user(ctx, tx, r.name, r.display)
		if err != nil {
			return err
		}
		res := model.Residency{UserID: id, HouseholdID: r.household.ID, Relation: model.RelationOwner, Ancestry: r.household.Ancestry}
		if err := model.Create(ctx, tx, &res); err != nil {
			return err
		}
		c.People = append(c.People, Person{Name: r.name, UserID: id, Role: "resident", About: r.about})
	}
	id, err := c.user(ctx, tx, "newcomer", "新住户小黄")
	if err != nil {
		return err
	}
	c.People = append(c.People, Person{Name: "newcomer", UserID: id, Role: "resident", About: "尚未加入房屋的新用户（可申请加入 " + comp0.Name + "1号楼1单元102）"})
	return nil
}

func (c *City) user(ctx context.Context, tx *gorm.DB, name, display string) (int64, error) {
	openID := wechat.SandboxOpenID(name)
	u := model.User{OpenID: &openID, DisplayName: display, Phone: fmt.Sprintf("1380000%04d", len(c.Users)+1)}
	if err := model.Create(ctx, tx, &u); err != nil {
		return 0, err
	}
	c.Users[name] = u.ID
	return u.ID, nil
}

// streetAnc is a street's own place in the tree, from one of its communities.
func streetAnc(a model.Ancestry) model.Ancestry {
	a.CommunityID = 0
	return a
}
