package model_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"redprop/model"
	"redprop/model/dbtest"
)

// TestOrderColumnsAreTheOrderStruct holds the hand-written scan of orders
// to gorm's schema of them: every column, in the struct's order, one field
// pointer each. A field added to Order and not to the scan fails here.
func TestOrderColumnsAreTheOrderStruct(t *testing.T) {
	scanIsSchema(t, &model.Order{}, model.OrderColumns(), model.OrderFieldCount())
}

// scanIsSchema holds a hand-written scan (its columns and the number of
// its field pointers) to gorm's schema of the row type.
func scanIsSchema(t *testing.T, row any, cols []string, fields int) {
	t.Helper()
	s, err := schema.Parse(row, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cols, s.DBNames) {
		t.Fatalf("scan columns\n%v\nschema columns\n%v", cols, s.DBNames)
	}
	if fields != len(s.DBNames) {
		t.Fatalf("%d fields scanned for %d columns", fields, len(s.DBNames))
	}
}

// TestEventColumnsAreTheEventStruct does the same for timeline rows, and
// checks that a timeline read by hand is gorm's read of it.
func TestEventColumnsAreTheEventStruct(t *testing.T) {
	scanIsSchema(t, &model.OrderEvent{}, model.EventColumns(), model.EventFieldCount())
	ctx := context.Background()
	db := dbtest.Open(t)
	for i := range 3 {
		var e model.OrderEvent
		fillRow(t, &e, i+1)
		e.OrderID = 7 + int64(i%2)
		if err := db.Create(&e).Error; err != nil {
			t.Fatal(err)
		}
	}
	for _, ids := range [][]int64{{7}, {7, 8}} {
		got, err := model.OrderEventsOf(ctx, db, ids)
		if err != nil {
			t.Fatal(err)
		}
		var want []model.OrderEvent
		if err := db.Where("order_id IN ?", ids).Order("id").Find(&want).Error; err != nil {
			t.Fatal(err)
		}
		if len(want) < len(ids) || !reflect.DeepEqual(got, want) {
			t.Fatalf("timelines of %v scanned\n%+v\ngorm\n%+v", ids, got, want)
		}
	}
}

// fillRow sets every field of the row o points to to a value of its own
// (none zero, none equal to another of its kind), so that a scan into a
// wrong field shows.
func fillRow(t *testing.T, o any, seed int) {
	t.Helper()
	s, err := schema.Parse(o, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	v := reflect.ValueOf(o).Elem()

	for i, f := range s.Fields {
		if f.PrimaryKey {
			continue
		}
		n := seed*100 + i + 1
		fv := v.FieldByIndex(f.StructField.Index)
		switch p := fv.Addr().Interface().(type) {
		case *int64:
			*p = int64(n)
		case *int:
			*p = n
		case *bool:
			*p = true
		case *string:
			*p = fmt.Sprintf("v%d", n)
		case **string:
			s := fmt.Sprintf("k%d", n)
			*p = &s
		case *time.Time:
			*p = base.Add(time.Duration(n) * time.Minute)
		case **time.Time:
			at := base.Add(time.Duration(n) * time.Hour)
			*p = &at
		default:
			t.Fatalf("field %s of type %s: teach fillRow its kind", f.Name, f.FieldType)
		}
	}
}

// TestOrdersScannedEqualGormsRead checks that every way orders are read
// by hand (by id, a list of one part, a union of parts, and inside a
// transaction) gives what gorm's own read of the same rows gives.
func TestOrdersScannedEqualGormsRead(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	var made []model.Order
	for i := range 3 {
		var o model.Order
		fillRow(t, &o, i+1)
		if err := db.Create(&o).Error; err != nil {
			t.Fatal(err)
		}
		made = append(made, o)
	}
	gormRead := func(t *testing.T, db *gorm.DB, id int64) model.Order {
		var o model.Order
		if err := db.Take(&o, id).Error; err != nil {
			t.Fatal(err)
		}
		return o
	}
	t.Run("by id", func(t *testing.T) {
		for _, o := range made {
			got, err := model.OrderByID(ctx, db, o.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := gormRead(t, db, o.ID); !reflect.DeepEqual(got, want) {
				t.Fatalf("scanned\n%+v\ngorm\n%+v", got, want)
			}
		}
		if _, err := model.OrderByID(ctx, db, made[2].ID+1000); err != model.ErrNotFound {
			t.Fatalf("a missing id: %v, want ErrNotFound", err)
		}
	})
	t.Run("nulls", func(t *testing.T) {
		// Every nullable column NULL: the optional fields come back nil.
		o := model.Order{Number: "N0", CategoryCode: "c", State: model.StateSubmitted, Level: model.OrderLevelGrid,
			Channel: model.ChannelSelf, Description: "d", Version: 1}
		if err := db.Create(&o).Error; err != nil {
			t.Fatal(err)
		}
		got, err := model.OrderByID(ctx, db, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := gormRead(t, db, o.ID); !reflect.DeepEqual(got, want) || got.StepDeadline != nil || got.IdemKey != nil {
			t.Fatalf("scanned\n%+v\ngorm\n%+v", got, want)
		}
	})
	t.Run("inside a transaction", func(t *testing.T) {
		err := db.Transaction(func(tx *gorm.DB) error {
			got, err := model.OrderByID(ctx, tx, made[0].ID)
			if err != nil {
				return err
			}
			if want := gormRead(t, tx, made[0].ID); !reflect.DeepEqual(got, want) {
				t.Errorf("scanned in a transaction\n%+v\ngorm\n%+v", got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	lists := []struct {
		name string
		q    model.OrderQuery
		want []model.Order
	}{
		{"one part", model.OrderQuery{Scopes: []model.OrderScope{{Person: made[1].AuthorID}}, Limit: 20}, made[1:2]},
		{"a union of parts", model.OrderQuery{Scopes: []model.OrderScope{{Person: made[0].AuthorID}, {Person: made[2].AuthorID}}, Limit: 20},
			[]model.Order{made[2], made[0]}},
	}
	for _, tc := range lists {
		t.Run(tc.name, func(t *testing.T) {
			got, err := model.ListOrders(ctx, db, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d orders, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if want := gormRead(t, db, tc.want[i].ID); !reflect.DeepEqual(got[i], want) {
					t.Fatalf("row %d scanned\n%+v\ngorm\n%+v", i, got[i], want)
				}
			}
		})
	}
}

// TestPreparedReadsAnswerAsUnprepared checks that reads through the pool
// of prepared statements answer what the same reads unprepared do, on
// both sides of the point where a statement is prepared, and that a
// statement which does not parse reports its error.
func TestPreparedReadsAnswerAsUnprepared(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	o := newOrder(t, db, 1, model.StateSubmitted, model.Ancestry{CityID: 1})
	for i := range 40 {
		var got struct {
			ID    int64
			Place string
			N     int
		}
		err := model.Prepared(db).WithContext(ctx).Raw("SELECT id, place, ? AS n FROM orders WHERE id = ?", i, o.ID).Scan(&got).Error
		if err != nil || got.ID != o.ID || got.Place != o.Place || got.N != i {
			t.Fatalf("use %d: %+v, %v", i, got, err)
		}
	}
	for range 20 {
		var n int
		if err := model.Prepared(db).WithContext(ctx).Raw("SELECT nothing_at_all FROM orders").Scan(&n).Error; err == nil {
			t.Fatal("a query of a missing column gave no error")
		}
	}
}
