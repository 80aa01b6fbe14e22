package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/dashboard"
)

// buildRollups counts the seeded timeline into the dashboards' rollups
// before the server starts, as the first refresh of an instance over an
// existing history would, and records how long it took.
func buildRollups(dsn, sqlitePath string, rep *Report) error {
	db, closeDB, err := openSeeded(dsn, sqlitePath)
	if err != nil {
		return err
	}
	defer closeDB()
	t0 := time.Now()
	ctx := context.Background()
	svc := dashboard.New(db, service.SystemClock{}, dashboard.Options{Batch: 5000})
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if w, err := model.Watermark(ctx, db, "order_events"); err == nil {
					fmt.Fprintf(os.Stderr, "\rrollups: %d timeline rows counted, %s", w.LastID, time.Since(t0).Round(time.Second))
				}
			}
		}
	}()
	st, err := svc.Refresh(ctx)
	close(done)
	fmt.Fprintf(os.Stderr, "\rrollups: %d timeline rows counted in %s\n", st.Events, time.Since(t0).Round(100*time.Millisecond))
	rep.Rollup = RollupFigures{Events: st.Events, Rows: st.Rows, Seconds: time.Since(t0).Seconds()}
	return err
}

// openSeeded opens the seeded database for work done before the server
// starts; done closes it.
func openSeeded(dsn, sqlitePath string) (db *gorm.DB, done func(), err error) {
	db, err = model.Open(dsn, sqlitePath, logger.Discard)
	if err != nil {
		return nil, nil, err
	}
	return db, func() {
		if d, err := db.DB(); err == nil {
			d.Close()
		}
	}, nil
}

// officeClients is how many officials open dashboards at the same
// moment in a city: a few, not the load phases' dozens.
const officeClients = 8

// dashboardPhases read the street's and the city's dashboards over the
// last year (the whole seeded history): figures, the street's
// communities side by side, its weekly trend; each at conns clients and
// again at officeClients, as many as open a dashboard at once.
func dashboardPhases(c *client, api string, tok map[string]string, conns int, run func(name, server string, conns int, work func(w, i int))) error {
	scope := func(who string) (int64, error) {
		var out struct {
			Items []struct {
				Kind string `json:"kind"`
				ID   int64  `json:"id"`
			} `json:"items"`
		}
		if err := c.call("GET /dashboard/scopes", tok[who], "GET", api+"/dashboard/scopes", nil, &out); err != nil {
			return 0, err
		}
		if len(out.Items) == 0 {
			return 0, fmt.Errorf("%s has no dashboard scope", who)
		}
		return out.Items[0].ID, nil
	}
	street, err := scope("street")
	if err != nil {
		return err
	}
	city, err := scope("city")
	if err != nil {
		return err
	}
	now := time.Now().In(calendar.Beijing)
	period := fmt.Sprintf("&from=%s&to=%s", now.AddDate(0, 0, -364).Format(time.DateOnly), now.Format(time.DateOnly))
	for _, p := range []struct{ name, who, endpoint, url string }{
		{"dashboard street (a year)", "street", "GET /dashboard (street)", fmt.Sprintf("%s/dashboard?scope_kind=street&scope_id=%d%s", api, street, period)},
		{"dashboard city (a year)", "city", "GET /dashboard (city)", fmt.Sprintf("%s/dashboard?scope_kind=city&scope_id=%d%s", api, city, period)},
		{"drill-down street → communities", "street", "GET /dashboard/children (street)", fmt.Sprintf("%s/dashboard/children?scope_kind=street&scope_id=%d%s", api, street, period)},
		{"trend street by week", "street", "GET /dashboard/trend (street, weeks)", fmt.Sprintf("%s/dashboard/trend?scope_kind=street&scope_id=%d&interval=week%s", api, street, period)},
	} {
		for _, n := range []int{conns, officeClients} {
			name, endpoint := p.name, p.endpoint
			if n != conns {
				name, endpoint = fmt.Sprintf("%s, %d clients", p.name, n), fmt.Sprintf("%s ×%d", p.endpoint, n)
			}
			run(name, "redprop", n, func(w, i int) {
				c.call(endpoint, tok[p.who], "GET", p.url, nil, nil)
			})
			if n == officeClients {
				break
			}
		}
	}
	return nil
}
