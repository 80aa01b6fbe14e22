package servicetest

import (
	"fmt"
	"strconv"

	"redprop/model"
)

// Big is a large compound made for a test: its grid, buildings,
// households in building, unit and room order, and the resident
// registered in each household (absent for those left unregistered).
type Big struct {
	Compound   model.Compound
	Grid       model.Grid
	Buildings  []model.Building
	Households []model.Household
	Resident   map[int64]int64 // household id → user id
}

// BigCompound adds to the demo's first community a compound of buildings
// × units × rooms households, in a grid of its own, with one resident per
// household except every unregisteredEvery-th (0: none left out). Rows go
// in with multi-row inserts.
func (c *City) BigCompound(name string, buildings, units, rooms, unregisteredEvery int) *Big {
	c.T.Helper()
	ctx, db := c.Ctx, c.DB
	anc := c.Communities[0].Ancestry
	b := &Big{Resident: map[int64]int64{}}
	b.Compound = model.Compound{Name: name, Ancestry: anc}
	Must(c.T, model.CreateInTree(ctx, db, &b.Compound))
	b.Grid = model.Grid{Name: name + "网格", Ancestry: b.Compound.Ancestry}
	Must(c.T, model.CreateInTree(ctx, db, &b.Grid))
	for i := 1; i <= buildings; i++ {
		banc := b.Compound.Ancestry
		banc.GridID = b.Grid.ID
		bld := model.Building{Name: fmt.Sprintf("%d号楼", i), Ancestry: banc}
		Must(c.T, model.CreateInTree(ctx, db, &bld))
		b.Buildings = append(b.Buildings, bld)
		var hs []model.Household
		for u := 1; u <= units; u++ {
			for r := 1; r <= rooms; r++ {
				room := strconv.Itoa((r+1)/2*100 + (r+1)%2 + 1)
				hs = append(hs, model.Household{Unit: strconv.Itoa(u), Room: room, AreaCentiM2: 9000, Ancestry: bld.Ancestry})
			}
		}
		Must(c.T, model.CreateInBatches(ctx, db, &hs, 500))
		b.Households = append(b.Households, hs...)
	}
	var users []model.User
	var homes []model.Household
	for i, h := range b.Households {
		if unregisteredEvery > 0 && i%unregisteredEvery == unregisteredEvery-1 {
			continue
		}
		users = append(users, model.User{DisplayName: fmt.Sprintf("住户%d", i+1)})
		homes = append(homes, h)
	}
	if len(users) > 0 {
		Must(c.T, model.CreateInBatches(ctx, db, &users, 500))
		res := make([]model.Residency, len(users))
		for i, u := range users {
			res[i] = model.Residency{UserID: u.ID, HouseholdID: homes[i].ID, Relation: model.RelationOwner, Ancestry: homes[i].Ancestry}
			b.Resident[homes[i].ID] = u.ID
		}
		Must(c.T, model.CreateInBatches(ctx, db, &res, 500))
	}
	return b
}
