package demo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service/demo"
)

func TestLoadBuildsConsistentAncestryAndRefusesTwice(t *testing.T) {
	db := dbtest.Open(t)
	ctx := context.Background()
	c, err := demo.Load(ctx, db, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Households) != 24 || len(c.Buildings) != 6 {
		t.Fatalf("households %d buildings %d", len(c.Households), len(c.Buildings))
	}
	for _, h := range c.Households {
		var b model.Building
		if err := db.Take(&b, h.BuildingID).Error; err != nil {
			t.Fatal(err)
		}
		if b.CompoundID != h.CompoundID || b.GridID != h.GridID || b.CommunityID != h.CommunityID || h.StreetID != c.StreetID || h.CityID != c.CityID {
			t.Fatalf("household %d ancestry %+v does not match building %+v", h.ID, h.Ancestry, b.Ancestry)
		}
	}
	var comp model.Compound
	db.Take(&comp, c.Compounds[2].ID)
	if comp.CompoundID != comp.ID || comp.CommunityID != c.Communities[1].ID {
		t.Fatalf("compound ancestry %+v", comp.Ancestry)
	}
	if _, err := demo.Load(ctx, db, time.Now()); !errors.Is(err, demo.ErrNotEmpty) {
		t.Fatalf("second load: %v, want ErrNotEmpty", err)
	}
}
