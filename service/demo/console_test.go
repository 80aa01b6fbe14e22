package demo_test

import (
	"context"
	"testing"
	"time"

	"redprop/model/dbtest"
	"redprop/service/demo"
)

func TestConsolePeople(t *testing.T) {
	db := dbtest.Open(t)
	ctx := context.Background()
	t.Run("none before the demo city", func(t *testing.T) {
		people, err := demo.ConsolePeople(ctx, db)
		if err != nil || len(people) != 0 {
			t.Fatalf("%v %v", people, err)
		}
	})
	t.Run("the dispatcher first, by their names", func(t *testing.T) {
		if _, err := demo.Load(ctx, db, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		people, err := demo.ConsolePeople(ctx, db)
		if err != nil || len(people) != 8 {
			t.Fatalf("%v %v", people, err)
		}
		if people[0].Name != "community" || people[0].DisplayName != "社区张书记" || people[1].DisplayName != "街道李主任" {
			t.Fatalf("first people %+v", people[:2])
		}
	})
	t.Run("reports cycle", func(t *testing.T) {
		a, _, _ := demo.ReportOf(0)
		b, _, _ := demo.ReportOf(4)
		if a == "" || a != b {
			t.Fatalf("%q %q", a, b)
		}
	})
}
