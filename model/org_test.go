package model_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"redprop/model"
	"redprop/service/servicetest"
)

func TestKeysetPageWalksNewestFirst(t *testing.T) {
	c := servicetest.New(t)
	b := model.Node{Kind: model.ScopeBuilding, ID: c.Buildings[0].ID}
	var seen []int64
	p := model.Page{Limit: 3}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		got, err := model.Below[model.Household](c.Ctx, c.DB, b, p)
		servicetest.Must(t, err)
		for _, h := range got.Items {
			seen = append(seen, h.ID)
		}
		if !got.More {
			break
		}
		p.After = got.Items[len(got.Items)-1].ID
	}
	var want []int64
	for _, h := range c.Households[:4] {
		want = append([]int64{h.ID}, want...)
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("pages walked %v, want %v", seen, want)
	}
	t.Run("a limit out of bounds means 20", func(t *testing.T) {
		got, err := model.Below[model.Household](c.Ctx, c.DB, model.Node{Kind: model.ScopeCity, ID: c.CityID}, model.Page{Limit: 0})
		if err != nil || len(got.Items) != 20 || !got.More {
			t.Fatalf("%d households, more %v, %v; want 20 of 24", len(got.Items), got.More, err)
		}
	})
	t.Run("outside the tree lists nothing", func(t *testing.T) {
		got, err := model.Below[model.Household](c.Ctx, c.DB, model.Node{Kind: model.ScopeFirm, ID: c.Firm.ID}, model.Page{Limit: 5})
		if err != nil || len(got.Items) != 0 {
			t.Fatalf("firm node listed %v, %v", got.Items, err)
		}
	})
}

func TestCreateInTreeRecordsItsOwnID(t *testing.T) {
	c := servicetest.New(t)
	g := model.Grid{Name: "新网格", Ancestry: c.Communities[0].Ancestry}
	servicetest.Must(t, model.CreateInTree(c.Ctx, c.DB, &g))
	stored, err := model.ByID[model.Grid](c.Ctx, c.DB, g.ID)
	if err != nil || stored.GridID != g.ID || g.GridID != g.ID || stored.CommunityID != c.Communities[0].ID {
		t.Fatalf("grid %+v stored as %+v (%v): want its own id in grid_id", g, stored, err)
	}
}

func TestPatchAndScopeAncestry(t *testing.T) {
	c := servicetest.New(t)
	b := c.Buildings[0]
	t.Run("patch returns the row as it is then", func(t *testing.T) {
		got, err := model.Patch[model.Building](c.Ctx, c.DB, b.ID, map[string]any{"name": "甲栋"})
		if err != nil || got.Name != "甲栋" || got.ID != b.ID {
			t.Fatalf("patched %+v, %v", got, err)
		}
	})
	t.Run("patch onto a unique name", func(t *testing.T) {
		_, err := model.Patch[model.Building](c.Ctx, c.DB, c.Buildings[1].ID, map[string]any{"name": "甲栋"})
		if !errors.Is(err, model.ErrDuplicate) {
			t.Fatalf("second 甲栋: %v, want ErrDuplicate", err)
		}
	})
	t.Run("scope ancestry", func(t *testing.T) {
		anc, err := model.ScopeAncestry(c.Ctx, c.DB, model.ScopeFirm, c.Firm.ID)
		if err != nil || anc != (model.Ancestry{CityID: c.CityID, DistrictID: c.DistrictID}) {
			t.Fatalf("firm ancestry %+v, %v", anc, err)
		}
		// A region is found only at its own level.
		if _, err := model.ScopeAncestry(c.Ctx, c.DB, model.ScopeDistrict, c.StreetID); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("street as a district: %v, want ErrNotFound", err)
		}
		anc, err = model.ScopeAncestry(c.Ctx, c.DB, model.ScopeBuilding, b.ID)
		if err != nil || anc != b.Ancestry {
			t.Fatalf("building ancestry %+v, %v; want %+v", anc, err, b.Ancestry)
		}
	})
}

func TestReachSelectsByNodeAndServingFirm(t *testing.T) {
	c := servicetest.New(t)
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	served, unserved := c.Buildings[0], c.Buildings[4] // compounds 0 and 2; the firm serves 0 and 1
	for _, tc := range []struct {
		name  string
		r     model.Reach
		b     model.Building
		want  bool
		empty bool
	}{
		{"zero reach sees nothing", model.Reach{}, served, false, true},
		{"all", model.Reach{All: true}, unserved, true, false},
		{"below its grid", model.Reach{Nodes: []model.Node{{Kind: model.ScopeGrid, ID: served.GridID}}}, served, true, false},
		{"not below another grid", model.Reach{Nodes: []model.Node{{Kind: model.ScopeGrid, ID: served.GridID}}}, unserved, false, false},
		{"organisations are no nodes", model.Reach{Nodes: []model.Node{{Kind: model.ScopeFirm, ID: c.Firm.ID}}}, served, false, true},
		{"served by the firm", model.Reach{ServedBy: []int64{c.Firm.ID}, On: day}, served, true, false},
		{"not served by the firm", model.Reach{ServedBy: []int64{c.Firm.ID}, On: day}, unserved, false, false},
		{"not after the contract", model.Reach{ServedBy: []int64{c.Firm.ID}, On: day.AddDate(5, 0, 0)}, served, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.None(); got != tc.empty {
				t.Fatalf("None() = %v, want %v", got, tc.empty)
			}
			got, err := model.BuildingsWithin(c.Ctx, c.DB, tc.r, tc.b.ID, 0)
			if err != nil || got != tc.want {
				t.Fatalf("building %d within: %v, %v; want %v", tc.b.ID, got, err, tc.want)
			}
		})
	}
}

func TestContractQueries(t *testing.T) {
	c := servicetest.New(t)
	k := c.Contracts[0]
	t.Run("overlap", func(t *testing.T) {
		o, found, err := model.OverlappingContract(c.Ctx, c.DB, k.CompoundID, 0, k.EndsOn, k.EndsOn.AddDate(1, 0, 0))
		if err != nil || !found || o.ID != k.ID || o.FirmName != c.Firm.Name {
			t.Fatalf("overlap %+v, %v, %v", o, found, err)
		}
		if _, found, _ := model.OverlappingContract(c.Ctx, c.DB, k.CompoundID, k.ID, k.StartsOn, k.EndsOn); found {
			t.Fatal("a contract overlaps itself")
		}
		if _, found, _ := model.OverlappingContract(c.Ctx, c.DB, k.CompoundID, 0, k.EndsOn.AddDate(0, 0, 1), k.EndsOn.AddDate(1, 0, 0)); found {
			t.Fatal("the day after the end overlaps")
		}
	})
	t.Run("pages within a reach", func(t *testing.T) {
		p, err := model.ContractsPage(c.Ctx, c.DB, model.ContractFilter{FirmID: c.Firm.ID,
			Reach: model.Reach{Nodes: []model.Node{{Kind: model.ScopeCompound, ID: c.Compounds[1].ID}}}}, model.Page{Limit: 10})
		if err != nil || len(p.Items) != 1 || p.Items[0].ID != c.Contracts[1].ID || p.Items[0].CompoundName != c.Compounds[1].Name {
			t.Fatalf("contracts of compound 1: %+v, %v", p, err)
		}
	})
	t.Run("firm serves", func(t *testing.T) {
		day := k.StartsOn.AddDate(0, 1, 0)
		if ok, err := model.FirmsServe(c.Ctx, c.DB, []int64{c.Firm.ID}, c.Compounds[2].ID, day); err != nil || ok {
			t.Fatalf("firm serves compound 2: %v, %v", ok, err)
		}
		if ok, err := model.FirmsServe(c.Ctx, c.DB, []int64{c.Firm.ID}, k.CompoundID, day); err != nil || !ok {
			t.Fatalf("firm serves compound 0: %v, %v", ok, err)
		}
	})
}

func TestSetHouseholdAreas(t *testing.T) {
	c := servicetest.New(t)
	want := map[int64]int64{}
	for i, h := range c.Households[:5] {
		want[h.ID] = int64(10000 + i)
	}
	servicetest.Must(t, model.SetHouseholdAreas(c.Ctx, c.DB, want, c.Clock.Now(), 2))
	for _, h := range c.Households[:6] {
		got, err := model.ByID[model.Household](c.Ctx, c.DB, h.ID)
		servicetest.Must(t, err)
		w, changed := want[h.ID]
		if !changed {
			w = h.AreaCentiM2
		}
		if got.AreaCentiM2 != w {
			t.Errorf("household %d area %d, want %d", h.ID, got.AreaCentiM2, w)
		}
	}
}
