package model

import (
	"math/rand/v2"
	"testing"
	"time"
)

// dayRanges must select each day of the period exactly once: whole
// months from month rows, the ends from day rows.
func TestDayRangesCoverThePeriodOnce(t *testing.T) {
	day := func(t time.Time) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }
	start := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][2]time.Time{
		{start, start.AddDate(0, 1, -1)},                  // one whole month
		{start.AddDate(0, 0, 5), start.AddDate(0, 0, 20)}, // inside a month
		{start.AddDate(0, 0, 30), start.AddDate(0, 2, 0)}, // a whole January between ragged ends
		{start, start.AddDate(1, 0, -1)},                  // a year of whole months
	}
	for range 300 {
		f := start.AddDate(0, 0, r.IntN(400))
		cases = append(cases, [2]time.Time{f, f.AddDate(0, 0, r.IntN(500))})
	}
	for _, c := range cases {
		where, args := dayRanges(day(c[0]), day(c[1]))
		seen := map[int]int{}
		for i := 0; i+2 < len(args); i += 3 {
			grain, lo, hi := args[i].(string), args[i+1].(int), args[i+2].(int)
			for d := c[0].AddDate(0, -2, 0); !d.After(c[1].AddDate(0, 2, 0)); d = d.AddDate(0, 0, 1) {
				n := day(d)
				switch {
				case grain == GrainDay && n >= lo && n <= hi:
					seen[n]++
				case grain == GrainMonth && MonthOf(n) >= lo && MonthOf(n) <= hi:
					seen[n]++
				}
			}
		}
		for d := c[0].AddDate(0, -2, 0); !d.After(c[1].AddDate(0, 2, 0)); d = d.AddDate(0, 0, 1) {
			want := 0
			if !d.Before(c[0]) && !d.After(c[1]) {
				want = 1
			}
			if seen[day(d)] != want {
				t.Fatalf("%v–%v: %s %v counts %v %d times", c[0].Format(time.DateOnly), c[1].Format(time.DateOnly), where, args, d.Format(time.DateOnly), seen[day(d)])
			}
		}
	}
}
