package org_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/org"
)

func TestTreeCreateDerivesAncestry(t *testing.T) {
	f := newEnv(t)
	admin := f.actor("admin")
	city := must(f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelCity, Name: " 新市 ", Code: "370700"}))(t)
	if city.Name != "新市" || city.CityID != city.ID || city.ParentID != 0 {
		t.Fatalf("city %+v", city)
	}
	district := must(f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelDistrict, ParentID: city.ID, Name: "新区"}))(t)
	street := must(f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelStreet, ParentID: district.ID, Name: "新街道"}))(t)
	com := must(f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelCommunity, ParentID: street.ID, Name: "新社区"}))(t)
	want := model.Ancestry{CityID: city.ID, DistrictID: district.ID, StreetID: street.ID, CommunityID: com.ID}
	if stored := f.region(com.ID); stored.Ancestry != want || stored.ParentID != street.ID {
		t.Fatalf("community stored as %+v, want ancestry %+v", stored, want)
	}

	// A street's staff builds its community from there.
	st := f.staff("newstreet", model.RoleStreetStaff, f.region(street.ID))
	c := must(f.svc.CreateCompound(f.Ctx, st, org.CompoundInput{CommunityID: com.ID, Name: "新苑", Address: "新路 1 号"}))(t)
	g := must(f.svc.CreateGrid(f.Ctx, st, org.GridInput{CommunityID: com.ID, Name: "新社区第一网格"}))(t)
	b := must(f.svc.CreateBuilding(f.Ctx, st, org.BuildingInput{CompoundID: c.ID, GridID: g.ID, Name: "1号楼"}))(t)
	h := must(f.svc.CreateHousehold(f.Ctx, st, org.HouseholdInput{BuildingID: b.ID, Unit: "2", Room: "301", Area: "89.5"}))(t)

	var sc model.Compound
	var sg model.Grid
	var sb model.Building
	var sh model.Household
	f.DB.Take(&sc, c.ID)
	f.DB.Take(&sg, g.ID)
	f.DB.Take(&sb, b.ID)
	f.DB.Take(&sh, h.ID)
	wc := want
	wc.CompoundID = c.ID
	wg := want
	wg.GridID = g.ID
	wb := wc
	wb.GridID, wb.BuildingID = g.ID, b.ID
	if sc.Ancestry != wc || sg.Ancestry != wg || sb.Ancestry != wb || sh.Ancestry != wb {
		t.Fatalf("ancestry: compound %+v grid %+v building %+v household %+v", sc.Ancestry, sg.Ancestry, sb.Ancestry, sh.Ancestry)
	}
	if sh.AreaCentiM2 != 8950 || sh.Unit != "2" || sh.Room != "301" {
		t.Fatalf("household %+v", sh)
	}
	// The new street's staff reaches nothing of the demo street.
	_, err := f.svc.Compound(f.Ctx, st, f.Compounds[0].ID)
	wantCode(t, err, "out_of_scope")
}

func TestTreeRegionRules(t *testing.T) {
	f := newEnv(t)
	admin, street, community := f.actor("admin"), f.actor("street"), f.actor("community")
	before := f.snapshot()
	var err error

	t.Run("refused creations write nothing", func(t *testing.T) {
		_, err = f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: "province", Name: "省"})
		wantCode(t, err, "bad_level")
		_, err = f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelCommunity, ParentID: f.StreetID, Name: "  "})
		wantCode(t, err, "bad_name")
		_, err = f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelCity, ParentID: f.CityID, Name: "市"})
		wantCode(t, err, "bad_parent")
		_, err = f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelCommunity, Name: "无上级"})
		wantCode(t, err, "bad_parent")
		_, err = f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelCommunity, ParentID: f.DistrictID, Name: "跳级"})
		wantCode(t, err, "bad_parent_level")
		_, err = f.svc.CreateRegion(f.Ctx, admin, org.RegionInput{Level: model.LevelStreet, ParentID: 99999, Name: "孤儿"})
		wantCode(t, err, "region_not_found")
		_, err = f.svc.CreateRegion(f.Ctx, street, org.RegionInput{Level: model.LevelCity, Name: "市"})
		wantCode(t, err, "forbidden")
		// Street staff may not open a street next to theirs, community staff no community.
		_, err = f.svc.CreateRegion(f.Ctx, street, org.RegionInput{Level: model.LevelStreet, ParentID: f.DistrictID, Name: "隔壁街道"})
		wantCode(t, err, "out_of_scope")
		_, err = f.svc.CreateRegion(f.Ctx, community, org.RegionInput{Level: model.LevelCommunity, ParentID: f.StreetID, Name: "新社区"})
		wantCode(t, err, "out_of_scope")
		if after := f.snapshot(); after != before {
			t.Fatalf("refused requests wrote rows: %s → %s", before, after)
		}
	})

	t.Run("renames are for the level above", func(t *testing.T) {
		// Street staff rename communities, not their own street; community
		// staff rename neither.
		com := f.Communities[0]
		name := "双语社区（新）"
		r := must(f.svc.UpdateRegion(f.Ctx, street, com.ID, org.RegionPatch{Name: &name}))(t)
		if r.Name != name || f.region(com.ID).Name != name {
			t.Fatalf("rename: %+v", r)
		}
		other := "改名"
		_, err = f.svc.UpdateRegion(f.Ctx, street, f.StreetID, org.RegionPatch{Name: &other})
		wantCode(t, err, "forbidden")
		_, err = f.svc.UpdateRegion(f.Ctx, community, com.ID, org.RegionPatch{Name: &other})
		wantCode(t, err, "forbidden")
		_, err = f.svc.UpdateRegion(f.Ctx, community, f.Communities[1].ID, org.RegionPatch{Name: &other})
		wantCode(t, err, "out_of_scope")
		_, err = f.svc.UpdateRegion(f.Ctx, street, com.ID, org.RegionPatch{})
		wantCode(t, err, "nothing_to_update")
		if f.region(f.StreetID).Name != "文昌路街道" || f.region(f.Communities[1].ID).Name != "光安社区" {
			t.Fatal("a refused rename changed a region")
		}
	})
}

// The two demo communities cannot see or touch each other's tree; their
// street reaches both.
func TestTreeCommunitiesAreIsolated(t *testing.T) {
	f := newEnv(t)
	street := f.actor("street")
	sides := []struct {
		name string
		own  int // index of their compound in the demo city
	}{{"community", 0}, {"community2", 2}}
	for i, side := range sides {
		t.Run(side.name+" stays on its side", func(t *testing.T) {
			me := f.actor(side.name)
			other := sides[1-i]
			comID := f.Communities[1-i].ID
			c := f.Compounds[other.own]
			g := f.Grids[other.own]
			b := f.Buildings[2*other.own]
			h := f.Households[8*other.own]
			before := f.snapshot()

			reads := []error{}
			_, err := f.svc.Region(f.Ctx, me, comID)
			reads = append(reads, err)
			_, err = f.svc.Compound(f.Ctx, me, c.ID)
			reads = append(reads, err)
			_, err = f.svc.Grid(f.Ctx, me, g.ID)
			reads = append(reads, err)
			_, err = f.svc.Building(f.Ctx, me, b.ID)
			reads = append(reads, err)
			_, err = f.svc.Household(f.Ctx, me, h.ID)
			reads = append(reads, err)
			_, err = f.svc.Compounds(f.Ctx, me, comID, service.Page{Limit: 10})
			reads = append(reads, err)
			_, err = f.svc.CompoundBuildings(f.Ctx, me, c.ID, service.Page{Limit: 10})
			reads = append(reads, err)
			_, err = f.svc.BuildingHouseholds(f.Ctx, me, b.ID, service.Page{Limit: 10})
			reads = append(reads, err)
			_, err = f.svc.GridBuildings(f.Ctx, me, g.ID, service.Page{Limit: 10})
			reads = append(reads, err)
			_, err = f.svc.CompoundContracts(f.Ctx, me, c.ID, service.Page{Limit: 10})
			reads = append(reads, err)
			for k, err := range reads {
				if service.KindOf(err) != service.KindForbidden {
					t.Fatalf("%s read %d of the other community: err %v, want 403", side.name, k, err)
				}
			}

			name, area := "被改名", "1.00"
			writes := []error{}
			_, err = f.svc.UpdateCompound(f.Ctx, me, c.ID, org.CompoundPatch{Name: &name})
			writes = append(writes, err)
			_, err = f.svc.RenameGrid(f.Ctx, me, g.ID, &name)
			writes = append(writes, err)
			_, err = f.svc.RenameBuilding(f.Ctx, me, b.ID, &name)
			writes = append(writes, err)
			_, err = f.svc.UpdateHousehold(f.Ctx, me, h.ID, org.HouseholdPatch{Area: &area})
			writes = append(writes, err)
			_, err = f.svc.CreateCompound(f.Ctx, me, org.CompoundInput{CommunityID: comID, Name: name})
			writes = append(writes, err)
			_, err = f.svc.CreateGrid(f.Ctx, me, org.GridInput{CommunityID: comID, Name: name})
			writes = append(writes, err)
			_, err = f.svc.CreateBuilding(f.Ctx, me, org.BuildingInput{CompoundID: c.ID, GridID: g.ID, Name: name})
			writes = append(writes, err)
			_, err = f.svc.CreateHousehold(f.Ctx, me, org.HouseholdInput{BuildingID: b.ID, Room: "999", Area: area})
			writes = append(writes, err)
			_, err = f.svc.CreateCommittee(f.Ctx, me, org.CommitteeInput{CompoundID: c.ID, Kind: org.CommitteeOwners, Name: name})
			writes = append(writes, err)
			_, err = f.svc.ImportHouseholds(f.Ctx, me, c.ID, csvOf("building,unit,room,area_m2,grid", "新楼,1,101,80,"+g.Name))
			writes = append(writes, err)
			for k, err := range writes {
				if service.KindOf(err) != service.KindForbidden {
					t.Fatalf("%s write %d into the other community: err %v, want 403", side.name, k, err)
				}
			}
			if after := f.snapshot(); after != before {
				t.Fatalf("%s: refused writes added rows: %s → %s", side.name, before, after)
			}
			var gotC model.Compound
			var gotH model.Household
			f.DB.Take(&gotC, c.ID)
			f.DB.Take(&gotH, h.ID)
			if gotC.Name != c.Name || gotH.AreaCentiM2 != h.AreaCentiM2 {
				t.Fatalf("%s changed the other community: %+v %+v", side.name, gotC, gotH)
			}

			// Their own side works.
			mine := f.Compounds[side.own]
			if _, err := f.svc.Compound(f.Ctx, me, mine.ID); err != nil {
				t.Fatal(err)
			}
			addr := "新地址 " + side.name
			if _, err := f.svc.UpdateCompound(f.Ctx, me, mine.ID, org.CompoundPatch{Address: &addr}); err != nil {
				t.Fatal(err)
			}

			// The street reaches the other side too.
			newName := c.Name + "（街道改）"
			got := must(f.svc.UpdateCompound(f.Ctx, street, c.ID, org.CompoundPatch{Name: &newName}))(t)
			if got.Name != newName {
				t.Fatalf("street rename: %+v", got)
			}
			must(f.svc.CreateHousehold(f.Ctx, street, org.HouseholdInput{BuildingID: b.ID, Unit: "1", Room: "301", Area: "66.6"}))(t)
		})
	}

	t.Run("roles that only read cannot write", func(t *testing.T) {
		// Roles that only read cannot write even inside their scope.
		grid := f.actor("grid")
		if _, err := f.svc.Building(f.Ctx, grid, f.Buildings[0].ID); err != nil {
			t.Fatalf("grid worker reads its grid's building: %v", err)
		}
		n := "改"
		_, err := f.svc.RenameBuilding(f.Ctx, grid, f.Buildings[0].ID, &n)
		wantCode(t, err, "forbidden")
	})
}

func TestTreeBuildingAndHouseholdRules(t *testing.T) {
	f := newEnv(t)
	community, street := f.actor("community"), f.actor("street")
	c0 := f.Compounds[0]
	before := f.snapshot()

	var err error
	t.Run("refused buildings and households write nothing", func(t *testing.T) {
		// A grid of the other community: refused, whoever asks.
		for _, a := range []*service.Actor{community, street, f.actor("admin")} {
			_, err := f.svc.CreateBuilding(f.Ctx, a, org.BuildingInput{CompoundID: c0.ID, GridID: f.Grids[2].ID, Name: "9号楼"})
			wantCode(t, err, "grid_mismatch")
		}
		_, err = f.svc.CreateBuilding(f.Ctx, community, org.BuildingInput{CompoundID: c0.ID, Name: "9号楼"})
		wantCode(t, err, "bad_grid")
		_, err = f.svc.CreateBuilding(f.Ctx, community, org.BuildingInput{CompoundID: c0.ID, GridID: f.Grids[0].ID, Name: "1号楼"})
		wantCode(t, err, "building_exists")
		_, err = f.svc.CreateBuilding(f.Ctx, community, org.BuildingInput{CompoundID: c0.ID, GridID: f.Grids[0].ID, Name: ""})
		wantCode(t, err, "bad_name")

		b := f.Buildings[0]
		for _, area := range []string{"-5", "0", "0.00", "abc", "1.234", "", "1e3"} {
			_, err := f.svc.CreateHousehold(f.Ctx, community, org.HouseholdInput{BuildingID: b.ID, Unit: "1", Room: "501", Area: area})
			wantCode(t, err, "bad_area")
		}
		_, err = f.svc.CreateHousehold(f.Ctx, community, org.HouseholdInput{BuildingID: b.ID, Unit: "1", Area: "80"})
		wantCode(t, err, "bad_room")
		_, err = f.svc.CreateHousehold(f.Ctx, community, org.HouseholdInput{BuildingID: b.ID, Unit: "1", Room: "101", Area: "80"})
		wantCode(t, err, "household_exists")
		if after := f.snapshot(); after != before {
			t.Fatalf("refused requests wrote rows: %s → %s", before, after)
		}
	})

	t.Run("households are corrected within their rules", func(t *testing.T) {
		h := f.Households[0]
		area := "120.05"
		got := must(f.svc.UpdateHousehold(f.Ctx, community, h.ID, org.HouseholdPatch{Area: &area}))(t)
		if got.AreaCentiM2 != 12005 || got.BuildingID != h.BuildingID || got.GridID != h.GridID {
			t.Fatalf("patched %+v", got)
		}
		room := "102" // taken by its neighbour
		_, err = f.svc.UpdateHousehold(f.Ctx, community, h.ID, org.HouseholdPatch{Room: &room})
		wantCode(t, err, "household_exists")
		neg := "-1"
		_, err = f.svc.UpdateHousehold(f.Ctx, community, h.ID, org.HouseholdPatch{Area: &neg})
		wantCode(t, err, "bad_area")
		_, err = f.svc.Household(f.Ctx, community, 99999)
		wantCode(t, err, "household_not_found")
	})
}

func TestTreeListsPageNewestFirst(t *testing.T) {
	f := newEnv(t)
	community := f.actor("community")
	com := f.Communities[0]
	t.Run("grids page newest first", func(t *testing.T) {
		var made []int64
		for i := range 5 {
			g := must(f.svc.CreateGrid(f.Ctx, community, org.GridInput{CommunityID: com.ID, Name: fmt.Sprintf("新网格%d", i)}))(t)
			made = append(made, g.ID)
		}
		var seen []int64
		p := service.Page{Limit: 3}
		for {
			res := must(f.svc.Grids(f.Ctx, community, com.ID, p))(t)
			for _, g := range res.Items {
				if g.CommunityID != com.ID {
					t.Fatalf("grid %+v of another community", g)
				}
				seen = append(seen, g.ID)
			}
			if !res.More {
				break
			}
			p.After = res.Items[len(res.Items)-1].ID
		}
		// 2 demo grids of the community plus 5 new, newest first.
		if len(seen) != 7 || seen[0] != made[4] {
			t.Fatalf("grids %v, want 7 newest first (made %v)", seen, made)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] >= seen[i-1] {
				t.Fatalf("not newest first: %v", seen)
			}
		}
	})
	street := f.actor("street")
	t.Run("the street lists across its communities", func(t *testing.T) {
		// The street lists across its communities; children are one level down.
		all := must(f.svc.Compounds(f.Ctx, street, f.StreetID, service.Page{Limit: 10}))(t)
		kids := must(f.svc.RegionChildren(f.Ctx, street, f.StreetID, service.Page{Limit: 10}))(t)
		if len(all.Items) != 3 || len(kids.Items) != 2 {
			t.Fatalf("street sees %d compounds, %d child regions", len(all.Items), len(kids.Items))
		}
	})
	t.Run("cities are listed to their own staff", func(t *testing.T) {
		cities := must(f.svc.Cities(f.Ctx, street, service.Page{Limit: 10}))(t)
		if len(cities.Items) != 0 {
			t.Fatalf("street staff listed cities %+v", cities.Items)
		}
		cities = must(f.svc.Cities(f.Ctx, f.actor("city"), service.Page{Limit: 10}))(t)
		if len(cities.Items) != 1 || cities.Items[0].ID != f.CityID {
			t.Fatalf("city staff cities %+v", cities.Items)
		}
	})
}

func TestTreeFirmsAndContracts(t *testing.T) {
	f := newEnv(t)
	district := f.staff("district", model.RoleDistrictStaff, f.region(f.DistrictID))
	street, community, community2 := f.actor("street"), f.actor("community"), f.actor("community2")
	manager := f.actor("manager")
	c2 := f.Compounds[2] // no firm yet
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	var err error
	var firm model.Firm
	var k, next org.ContractView

	t.Run("registering firms", func(t *testing.T) {
		_, err = f.svc.CreateFirm(f.Ctx, street, org.FirmInput{DistrictID: f.DistrictID, Name: "街道物业"})
		wantCode(t, err, "out_of_scope")
		_, err = f.svc.CreateFirm(f.Ctx, district, org.FirmInput{DistrictID: f.DistrictID, Name: "坏代码物业", CreditCode: "123"})
		wantCode(t, err, "bad_credit_code")
		_, err = f.svc.CreateFirm(f.Ctx, district, org.FirmInput{DistrictID: f.DistrictID, Name: "重复物业", CreditCode: *f.Firm.CreditCode})
		wantCode(t, err, "firm_exists")
		_, err = f.svc.CreateFirm(f.Ctx, district, org.FirmInput{DistrictID: f.StreetID, Name: "街道级物业"})
		wantCode(t, err, "not_district")
		firm = must(f.svc.CreateFirm(f.Ctx, district, org.FirmInput{DistrictID: f.DistrictID, Name: "光安物业", CreditCode: "91370600ma3demo02y", Hotline: "0535-1234567"}))(t)
		if firm.CityID != f.CityID || firm.DistrictID != f.DistrictID || *firm.CreditCode != "91370600MA3DEMO02Y" {
			t.Fatalf("firm %+v", firm)
		}
		hot := "abc"
		_, err = f.svc.UpdateFirm(f.Ctx, manager, f.Firm.ID, org.FirmPatch{Hotline: &hot})
		wantCode(t, err, "forbidden")
	})

	t.Run("who reads a firm", func(t *testing.T) {
		// Who reads the demo firm: its manager, the district, and the community
		// whose compounds it serves; not the community it does not serve.
		for _, a := range []*service.Actor{manager, district, community} {
			if _, err := f.svc.Firm(f.Ctx, a, f.Firm.ID); err != nil {
				t.Fatalf("firm read: %v", err)
			}
		}
		_, err = f.svc.Firm(f.Ctx, community2, f.Firm.ID)
		wantCode(t, err, "out_of_scope")
		list := must(f.svc.Firms(f.Ctx, community2, org.FirmFilter{}, service.Page{Limit: 10}))(t)
		if len(list.Items) != 0 {
			t.Fatalf("community2 listed firms %+v", list.Items)
		}
		list = must(f.svc.Firms(f.Ctx, district, org.FirmFilter{}, service.Page{Limit: 10}))(t)
		if len(list.Items) != 2 {
			t.Fatalf("district lists %d firms, want 2", len(list.Items))
		}
	})

	t.Run("contracts refuse overlaps", func(t *testing.T) {
		_, err = f.svc.CreateContract(f.Ctx, street, org.ContractInput{FirmID: firm.ID, CompoundID: c2.ID, StartsOn: day("2026-01-01"), EndsOn: day("2026-12-31")})
		wantCode(t, err, "forbidden")
		_, err = f.svc.CreateContract(f.Ctx, district, org.ContractInput{FirmID: firm.ID, CompoundID: c2.ID, StartsOn: day("2026-12-31"), EndsOn: day("2026-01-01")})
		wantCode(t, err, "bad_period")
		k = must(f.svc.CreateContract(f.Ctx, district, org.ContractInput{FirmID: firm.ID, CompoundID: c2.ID, StartsOn: day("2026-01-01"), EndsOn: day("2027-12-31")}))(t)
		if k.CompoundID != c2.ID || k.CommunityID != c2.CommunityID || k.FirmName != "光安物业" {
			t.Fatalf("contract %+v", k)
		}
		// Another firm over the same compound and days: 409, naming the contract.
		before := f.count(&model.Contract{})
		_, err = f.svc.CreateContract(f.Ctx, district, org.ContractInput{FirmID: f.Firm.ID, CompoundID: c2.ID, StartsOn: day("2027-12-31"), EndsOn: day("2029-12-31")})
		wantCode(t, err, "contract_overlap")
		var se *service.Error
		errors.As(err, &se)
		if d, _ := se.Detail.(map[string]any); d["contract_id"] != k.ID {
			t.Fatalf("overlap detail %v", se.Detail)
		}
		// The demo firm's own compound is taken for three years from 2026.
		_, err = f.svc.CreateContract(f.Ctx, district, org.ContractInput{FirmID: firm.ID, CompoundID: f.Compounds[0].ID, StartsOn: day("2027-06-01"), EndsOn: day("2030-05-31")})
		wantCode(t, err, "contract_overlap")
		if f.count(&model.Contract{}) != before {
			t.Fatal("a refused contract was written")
		}
	})

	t.Run("terminating early frees the compound", func(t *testing.T) {
		// Terminating early frees the compound for the next firm.
		end := day("2026-06-30")
		ended := must(f.svc.UpdateContract(f.Ctx, district, k.ID, org.ContractPatch{EndsOn: &end}))(t)
		if !ended.EndsOn.Equal(end) {
			t.Fatalf("terminated %+v", ended)
		}
		early := day("2025-12-31")
		_, err = f.svc.UpdateContract(f.Ctx, district, k.ID, org.ContractPatch{EndsOn: &early})
		wantCode(t, err, "bad_period")
		_, err = f.svc.UpdateContract(f.Ctx, manager, f.Contracts[0].ID, org.ContractPatch{EndsOn: &end})
		wantCode(t, err, "forbidden")
		next = must(f.svc.CreateContract(f.Ctx, district, org.ContractInput{FirmID: f.Firm.ID, CompoundID: c2.ID, StartsOn: day("2026-07-01"), EndsOn: day("2028-06-30")}))(t)
	})

	t.Run("reading contracts follows the compound", func(t *testing.T) {
		// Reading contracts follows the compound (and the firm's own people).
		if _, err := f.svc.Contract(f.Ctx, community2, next.ID); err != nil {
			t.Fatalf("community2 reads its compound's contract: %v", err)
		}
		_, err = f.svc.Contract(f.Ctx, community2, f.Contracts[0].ID)
		wantCode(t, err, "out_of_scope")
		if _, err := f.svc.Contract(f.Ctx, manager, next.ID); err != nil {
			t.Fatalf("manager reads the firm's contract: %v", err)
		}
		mine := must(f.svc.FirmContracts(f.Ctx, manager, f.Firm.ID, service.Page{Limit: 10}))(t)
		if len(mine.Items) != 3 {
			t.Fatalf("manager sees %d contracts of the firm, want 3", len(mine.Items))
		}
		// community sees the demo firm's contracts in its own compounds only.
		theirs := must(f.svc.FirmContracts(f.Ctx, community, f.Firm.ID, service.Page{Limit: 10}))(t)
		if len(theirs.Items) != 2 {
			t.Fatalf("community sees %d contracts of the firm, want 2", len(theirs.Items))
		}
		for _, k := range theirs.Items {
			if k.CommunityID != f.Communities[0].ID {
				t.Fatalf("community sees a contract elsewhere: %+v", k)
			}
		}
	})
}

func TestTreeCommitteesAndDepartments(t *testing.T) {
	f := newEnv(t)
	community, street := f.actor("community"), f.actor("street")
	// Migrate runs at every start; the one-per-compound index must outlive
	// a second AutoMigrate (which drops undeclared single-column unique
	// indexes on MariaDB).
	if _, err := model.Migrate(f.Ctx, f.DB); err != nil {
		t.Fatal(err)
	}
	var err error
	t.Run("one committee per compound", func(t *testing.T) {
		_, err = f.svc.CreateCommittee(f.Ctx, community, org.CommitteeInput{CompoundID: f.Compounds[0].ID, Kind: org.CommitteeOwners, Name: "第二届业委会"})
		wantCode(t, err, "committee_exists")
		_, err = f.svc.CreateCommittee(f.Ctx, community, org.CommitteeInput{CompoundID: f.Compounds[1].ID, Kind: "board", Name: "董事会"})
		wantCode(t, err, "bad_kind")
		m := must(f.svc.CreateCommittee(f.Ctx, community, org.CommitteeInput{CompoundID: f.Compounds[1].ID, Kind: org.CommitteeManagement, Name: "华旗绿城物管会"}))(t)
		if m.CompoundID != f.Compounds[1].ID || m.CommunityID != f.Communities[0].ID {
			t.Fatalf("committee %+v", m)
		}
		kind := org.CommitteeOwners
		got := must(f.svc.UpdateCommittee(f.Ctx, community, m.ID, org.CommitteePatch{Kind: &kind}))(t)
		if got.Kind != org.CommitteeOwners {
			t.Fatalf("committee kind %q", got.Kind)
		}
		_, err = f.svc.Committee(f.Ctx, f.actor("community2"), m.ID)
		wantCode(t, err, "out_of_scope")
		if _, err := f.svc.Committee(f.Ctx, f.actor("committee"), f.Committee.ID); err != nil {
			t.Fatalf("a committee member reads the committee: %v", err)
		}
	})

	t.Run("departments hang under a region", func(t *testing.T) {
		com := f.Communities[0]
		_, err = f.svc.CreateDepartment(f.Ctx, community, org.DepartmentInput{RegionID: com.ID, Name: "社区警务室", Kind: "公安"})
		wantCode(t, err, "forbidden")
		d := must(f.svc.CreateDepartment(f.Ctx, street, org.DepartmentInput{RegionID: com.ID, Name: "社区警务室", Kind: "公安"}))(t)
		if d.CommunityID != com.ID || d.StreetID != f.StreetID {
			t.Fatalf("department %+v", d)
		}
		if _, err := f.svc.Department(f.Ctx, community, d.ID); err != nil {
			t.Fatalf("community reads its department: %v", err)
		}
		_, err = f.svc.Department(f.Ctx, f.actor("community2"), d.ID)
		wantCode(t, err, "out_of_scope")
		deps := must(f.svc.Departments(f.Ctx, street, f.StreetID, service.Page{Limit: 10}))(t)
		if len(deps.Items) != 2 {
			t.Fatalf("street departments %d, want 2", len(deps.Items))
		}
	})
}

// Two district officers signing different firms for the same compound
// and days at once: one wins, the other gets 409, and one contract exists.
// Real goroutines need MariaDB: SQLite runs one connection and drops FOR
// UPDATE, so there is nothing to race.
func TestConcurrentOverlappingContracts(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency test: runs on MariaDB (set " + dbtest.EnvMySQL + ")")
	}
	f := newEnv(t)
	district := f.staff("district", model.RoleDistrictStaff, f.region(f.DistrictID))
	other := must(f.svc.CreateFirm(f.Ctx, district, org.FirmInput{DistrictID: f.DistrictID, Name: "第二物业"}))(t)
	c2 := f.Compounds[2]
	from, to := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)
	for round := range 5 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, firm := range []int64{f.Firm.ID, other.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.svc.CreateContract(f.Ctx, district, org.ContractInput{FirmID: firm, CompoundID: c2.ID,
					StartsOn: from.AddDate(round, 0, 0), EndsOn: to.AddDate(round, 0, 0)})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			if err == nil {
				won++
			} else if service.KindOf(err) != service.KindConflict {
				t.Fatalf("round %d: loser got %v, want 409", round, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners (%v)", round, won, errs)
		}
	}
	var n int64
	f.DB.Model(&model.Contract{}).Where("compound_id = ?", c2.ID).Count(&n)
	if n != 5 {
		t.Fatalf("%d contracts, want one per round", n)
	}
}

// Two imports of the same new buildings at once: the compound's lock
// queues them, so the second finds the first's buildings instead of
// failing on the unique index or duplicating them.
func TestConcurrentImportsOfOneCompound(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency test: runs on MariaDB (set " + dbtest.EnvMySQL + ")")
	}
	f := newEnv(t)
	community := f.actor("community")
	c := f.Compounds[1]
	var b strings.Builder
	b.WriteString("building,unit,room,area_m2,grid\n")
	for i := range 400 {
		fmt.Fprintf(&b, "%d号楼,1,%d,80,%s\n", 20+i/40, 101+i%40, f.Grids[1].Name)
	}
	var wg sync.WaitGroup
	results := make([]org.ImportResult, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.svc.ImportHouseholds(f.Ctx, community, c.ID, strings.NewReader(b.String()))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if results[0].BuildingsCreated+results[1].BuildingsCreated != 10 || results[0].HouseholdsCreated+results[1].HouseholdsCreated != 400 ||
		results[0].HouseholdsUnchanged+results[1].HouseholdsUnchanged != 400 {
		t.Fatalf("results %+v", results)
	}
	var n int64
	f.DB.Model(&model.Building{}).Where("compound_id = ?", c.ID).Count(&n)
	if n != 2+10 {
		t.Fatalf("%d buildings in the compound, want 12", n)
	}
}
