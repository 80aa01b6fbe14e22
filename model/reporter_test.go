package model_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
)

// The first order someone submits for another (on a resident's behalf, a
// patrol) marks them, once, as a change every instance reads; until then
// their own orders are those they are the resident of, read as one index
// range, and the answer is the same as the two-part one.
func TestOwnOrdersOfOneWhoNeverReportedForOthers(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	toldOf := watchChanges(t, db)
	users := []model.User{{DisplayName: "居民"}, {DisplayName: "网格员"}}
	if err := db.Create(&users).Error; err != nil {
		t.Fatal(err)
	}
	resident, worker := users[0].ID, users[1].ID
	seq := 0
	order := func(author, res int64) model.Order {
		seq++
		return model.Order{Number: fmt.Sprintf("R%04d", seq), CategoryID: 1, CategoryCode: "repair", State: model.StateSubmitted,
			Level: model.OrderLevelGrid, Channel: model.ChannelSelf, AuthorID: author, ResidentID: res, Description: "d",
			Ancestry: model.Ancestry{CityID: 1, GridID: 1}, Version: 1}
	}
	// The resident's own, one the worker submitted for them, the
	// worker's patrols.
	rows := []model.Order{order(resident, resident), order(worker, resident), order(resident, resident),
		order(worker, 0), order(worker, 0)}
	for i := range rows {
		if err := model.Create(ctx, db, &rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	flag := func(id int64) bool {
		u, err := model.ByID[model.User](ctx, db, id)
		if err != nil {
			t.Fatal(err)
		}
		return u.ReportedForOthers
	}
	if flag(resident) || !flag(worker) {
		t.Fatalf("marked: resident %v, worker %v", flag(resident), flag(worker))
	}
	if told := toldOf(); !slices.Equal(told, []int64{worker}) {
		t.Fatalf("changes told %v, want the worker's first report only", told)
	}

	n := dbtest.CountStatements(t, db)
	list := func(t *testing.T, sc model.OrderScope) ([]int64, string) {
		t.Helper()
		n.Take()
		n.On.Store(true)
		got, err := model.ListOrders(ctx, db, model.OrderQuery{Scopes: []model.OrderScope{sc}, Limit: 20})
		n.On.Store(false)
		if err != nil {
			t.Fatal(err)
		}
		_, sql := n.Take()
		var ids []int64
		for _, o := range got {
			ids = append(ids, o.ID)
		}
		return ids, strings.Join(sql, "\n")
	}
	mine, sql := list(t, model.OrderScope{Person: resident, OwnReportsOnly: true})
	both, _ := list(t, model.OrderScope{Person: resident})
	if want := []int64{rows[2].ID, rows[1].ID, rows[0].ID}; !slices.Equal(mine, want) || !slices.Equal(both, want) {
		t.Fatalf("the resident's: one range %v, two parts %v, want %v", mine, both, want)
	}
	if strings.Contains(sql, "UNION") || strings.Contains(sql, "author_id =") {
		t.Fatalf("one who never reported for others read more than their resident range:\n%s", sql)
	}
	theirs, _ := list(t, model.OrderScope{Person: worker})
	if want := []int64{rows[4].ID, rows[3].ID, rows[1].ID}; !slices.Equal(theirs, want) {
		t.Fatalf("the worker's: %v, want %v", theirs, want)
	}

	t.Run("the migration marks those who reported before the mark existed", func(t *testing.T) {
		if err := db.Model(&model.User{}).Where("1 = 1").Update("reported_for_others", false).Error; err != nil {
			t.Fatal(err)
		}
		if err := model.RunStep(db.Session(&gorm.Session{}), 63); err != nil {
			t.Fatal(err)
		}
		if flag(resident) || !flag(worker) {
			t.Fatalf("marked: resident %v, worker %v", flag(resident), flag(worker))
		}
	})
}
