package order

import (
	"testing"

	"redprop/model"
	"redprop/service"
)

func TestSeedCategoriesKeepsAdminChanges(t *testing.T) {
	e := newLoopEnv(t)
	if len(e.cats) != len(DefaultCategories()) {
		t.Fatalf("%d categories seeded, want %d", len(e.cats), len(DefaultCategories()))
	}
	for _, code := range []string{"repair.plumbing", "repair.electrical", "repair.lift", "repair.walls", "repair.doors_access",
		"environment", "order_parking", "safety_hazard", "dispute", "complaint_firm", "suggestion", "wish", "emergency"} {
		if _, ok := e.cats[code]; !ok {
			t.Errorf("no default category %s", code)
		}
	}
	if !e.cats["complaint_firm"].ComplaintAgainstFirm || e.cats["repair.lift"].AutoDispatch != model.HandlerFirm {
		t.Fatalf("defaults wrong: %+v", e.cats["complaint_firm"])
	}
	name, mins := "水管", 90
	c, err := e.svc.UpdateCategory(e.ctx, e.actor("admin"), e.cats["repair.plumbing"].ID, CategoryPatch{Name: &name, AcceptMinutes: &mins})
	if err != nil || c.Name != "水管" || c.AcceptMinutes != 90 || c.Code != "repair.plumbing" || c.CompleteMinutes != e.cats["repair.plumbing"].CompleteMinutes {
		t.Fatalf("update: %v %+v", err, c)
	}
	if err := SeedCategories(e.ctx, e.db); err != nil {
		t.Fatal(err)
	}
	var again model.Category
	e.db.Where("code = ?", "repair.plumbing").Take(&again)
	if again.Name != "水管" || again.AcceptMinutes != 90 {
		t.Fatalf("seeding again overwrote the admin's change: %+v", again)
	}
	var n int64
	e.db.Model(&model.Category{}).Count(&n)
	if n != int64(len(DefaultCategories())) {
		t.Fatalf("%d categories after seeding twice", n)
	}
}

func TestUpdateCategoryRules(t *testing.T) {
	e := newLoopEnv(t)
	id := e.cats["environment"].ID
	off := false
	if _, err := e.svc.UpdateCategory(e.ctx, e.actor("community"), id, CategoryPatch{Active: &off}); service.KindOf(err) != service.KindForbidden {
		t.Fatalf("community staff changed a category: %v", err)
	}
	neg, bad, dept, empty := -1, "police", model.HandlerDepartment, ""
	for _, p := range []CategoryPatch{
		{VerifyMinutes: &neg},
		{AutoDispatch: &bad},
		{AutoDispatch: &dept},
		{Name: &empty},
		{Submitters: &[]string{"mayor"}},
		{AutoCloseHours: &neg},
	} {
		if _, err := e.svc.UpdateCategory(e.ctx, e.actor("admin"), id, p); service.KindOf(err) != service.KindInvalid {
			t.Errorf("patch %+v: %v", p, err)
		}
	}
	if _, err := e.svc.UpdateCategory(e.ctx, e.actor("admin"), 99999, CategoryPatch{Active: &off}); service.KindOf(err) != service.KindNotFound {
		t.Fatalf("missing: %v", err)
	}
	// Turned off, it disappears from the list and cannot be submitted.
	if _, err := e.svc.UpdateCategory(e.ctx, e.actor("admin"), id, CategoryPatch{Active: &off}); err != nil {
		t.Fatal(err)
	}
	cats, _ := e.svc.Categories(e.ctx, e.actor("resident"), false)
	for _, c := range cats {
		if c.ID == id {
			t.Fatal("an inactive category is listed")
		}
	}
	all, _ := e.svc.Categories(e.ctx, e.actor("admin"), true)
	if len(all) != len(cats)+1 {
		t.Fatalf("all %d, active %d", len(all), len(cats))
	}
	_, _, err := e.svc.Submit(e.ctx, e.actor("resident"), SubmitInput{CategoryID: id, Description: "x", HouseholdID: e.city.Households[0].ID})
	wantKind(t, err, service.KindInvalid, "bad_category")
	// Residents may be struck off a category's submitters.
	staff := []string{SubmitterGrid}
	if _, err := e.svc.UpdateCategory(e.ctx, e.actor("admin"), e.cats["dispute"].ID, CategoryPatch{Submitters: &staff}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.Submit(e.ctx, e.actor("resident"), SubmitInput{CategoryID: e.cats["dispute"].ID, Description: "x", HouseholdID: e.city.Households[0].ID})
	wantKind(t, err, service.KindForbidden, "category_not_allowed")
}
