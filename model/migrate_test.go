package model_test

import (
	"context"
	"errors"
	"testing"

	"redprop/model"
	"redprop/model/dbtest"
)

func TestMigrateIsIdempotentAndRecordsVersion(t *testing.T) {
	db := dbtest.Open(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		v, err := model.Migrate(ctx, db)
		if err != nil {
			t.Fatalf("migrate run %d: %v", i, err)
		}
		if v != model.LatestVersion() {
			t.Fatalf("version = %d, want %d", v, model.LatestVersion())
		}
	}
	var n int64
	db.Model(&model.SchemaVersion{}).Count(&n)
	if n != int64(model.LatestVersion()) {
		t.Fatalf("schema_versions has %d rows, want %d", n, model.LatestVersion())
	}
}

func TestCompositeUniqueIndexes(t *testing.T) {
	db := dbtest.Open(t)
	b := model.Building{Name: "1号楼", Ancestry: model.Ancestry{CityID: 1, CompoundID: 7}}
	if err := db.Create(&b).Error; err != nil {
		t.Fatal(err)
	}
	dup := model.Building{Name: "1号楼", Ancestry: model.Ancestry{CityID: 1, CompoundID: 7}}
	if err := model.Translate(db.Create(&dup).Error); !errors.Is(err, model.ErrDuplicate) {
		t.Fatalf("duplicate building: err = %v, want ErrDuplicate", err)
	}
	other := model.Building{Name: "1号楼", Ancestry: model.Ancestry{CityID: 1, CompoundID: 8}}
	if err := db.Create(&other).Error; err != nil {
		t.Fatalf("same name in another compound: %v", err)
	}
	h := model.Household{Unit: "1", Room: "101", AreaCentiM2: 8950, Ancestry: model.Ancestry{BuildingID: b.ID}}
	if err := db.Create(&h).Error; err != nil {
		t.Fatal(err)
	}
	h2 := model.Household{Unit: "1", Room: "101", AreaCentiM2: 1, Ancestry: model.Ancestry{BuildingID: b.ID}}
	if err := model.Translate(db.Create(&h2).Error); !errors.Is(err, model.ErrDuplicate) {
		t.Fatalf("duplicate household: err = %v, want ErrDuplicate", err)
	}
}
