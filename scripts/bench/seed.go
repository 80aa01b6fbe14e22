package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
)

// shape is a history -size seeds: streets under the demo district, each
// with communities, compounds, buildings and households, and past orders
// spread over a year. A share of the orders lands in the demo compound,
// so the demo grid worker's, dispatcher's and resident's queues have a
// history to page through.
type shape struct {
	streets, communities, compounds, buildings, households int // per parent
	orders                                                 int
	demoShare                                              float64
}

var sizes = map[string]*shape{
	"none": nil,
	// 1 street, 10 communities × 1 compound × 10 buildings × 50 = 5,000 households.
	"small": {streets: 1, communities: 10, compounds: 1, buildings: 10, households: 50, orders: 20_000, demoShare: 0.3},
	// 20 streets × 10 communities × 5 compounds × 10 buildings × 20 = 200,000 households.
	"city": {streets: 20, communities: 10, compounds: 5, buildings: 10, households: 20, orders: 1_000_000, demoShare: 0.02},
}

// batch is the rows per multi-row INSERT (MariaDB allows 65,535
// placeholders; an order has about 45 columns).
const batch = 1000

// progress draws a bar on stderr.
type progress struct {
	what  string
	total int
	start time.Time
	last  time.Time
}

func newProgress(what string, total int) *progress {
	return &progress{what: what, total: total, start: time.Now()}
}

func (p *progress) set(done int) {
	if time.Since(p.last) < 200*time.Millisecond && done < p.total {
		return
	}
	p.last = time.Now()
	const width = 30
	n := width * done / max(p.total, 1)
	fmt.Fprintf(os.Stderr, "\rseed %-10s [%s%s] %3d%% %d/%d %s", p.what, strings.Repeat("#", n), strings.Repeat("-", width-n),
		100*done/max(p.total, 1), done, p.total, time.Since(p.start).Round(100*time.Millisecond))
	if done >= p.total {
		fmt.Fprintln(os.Stderr)
	}
}

// nextID is the first free id of a table: rows are written with their ids
// so the timelines can name their orders without reading them back.
func nextID(db *gorm.DB, table string) int64 {
	var id int64
	db.Raw("SELECT COALESCE(MAX(id), 0) FROM " + table).Scan(&id)
	return id + 1
}

// insert writes rows in multi-row INSERTs and moves the bar.
func insert[T any](db *gorm.DB, rows []T, p *progress, done *int) error {
	for i := 0; i < len(rows); i += batch {
		j := min(i+batch, len(rows))
		if err := db.Create(rows[i:j]).Error; err != nil {
			return err
		}
		*done += j - i
		p.set(*done)
	}
	return nil
}

func seed(gdb *gorm.DB, size string, rep *Report) error {
	sh := sizes[size]
	if sh == nil {
		return nil
	}
	t0 := time.Now()
	db := gdb.Session(&gorm.Session{SkipHooks: true, SkipDefaultTransaction: true, CreateBatchSize: batch})
	var demo model.Compound
	if err := db.Order("id").First(&demo).Error; err != nil {
		return fmt.Errorf("the demo compound: %w", err)
	}
	var demoBuilding model.Building
	if err := db.Where("compound_id = ?", demo.ID).Order("id").First(&demoBuilding).Error; err != nil {
		return fmt.Errorf("the demo grid: %w", err)
	}
	var users []int64
	if err := db.Model(&model.User{}).Order("id").Pluck("id", &users).Error; err != nil || len(users) == 0 {
		return fmt.Errorf("the demo users: %v", err)
	}
	var firm int64
	db.Model(&model.Firm{}).Select("id").Order("id").Limit(1).Scan(&firm)
	var cat model.Category
	if err := db.Order("id").First(&cat).Error; err != nil {
		return fmt.Errorf("a category: %w", err)
	}

	// The places.
	regionID, compoundID, gridID := nextID(db, "regions"), nextID(db, "compounds"), nextID(db, "grids")
	buildingID, householdID := nextID(db, "buildings"), nextID(db, "households")
	var regions []model.Region
	var compounds []model.Compound
	var grids []model.Grid
	var buildings []model.Building
	var households []model.Household
	type place struct{ model.Ancestry }
	var places []place
	for s := range sh.streets {
		st := model.Region{Base: model.Base{ID: regionID}, Level: model.LevelStreet, ParentID: demo.DistrictID, Name: fmt.Sprintf("压测街道%d", s+1),
			Ancestry: model.Ancestry{CityID: demo.CityID, DistrictID: demo.DistrictID, StreetID: regionID}}
		regionID++
		regions = append(regions, st)
		for cm := range sh.communities {
			co := model.Region{Base: model.Base{ID: regionID}, Level: model.LevelCommunity, ParentID: st.ID, Name: fmt.Sprintf("压测社区%d-%d", s+1, cm+1),
				Ancestry: st.Ancestry}
			co.CommunityID = regionID
			regionID++
			regions = append(regions, co)
			for cp := range sh.compounds {
				anc := co.Ancestry
				anc.CompoundID, anc.GridID = compoundID, gridID
				compounds = append(compounds, model.Compound{Base: model.Base{ID: compoundID}, Name: fmt.Sprintf("压测小区%d-%d-%d", s+1, cm+1, cp+1), Ancestry: withoutGrid(anc)})
				grids = append(grids, model.Grid{Base: model.Base{ID: gridID}, Name: fmt.Sprintf("压测网格%d-%d-%d", s+1, cm+1, cp+1), Ancestry: gridOf(anc)})
				compoundID++
				gridID++
				for b := range sh.buildings {
					banc := anc
					banc.BuildingID = buildingID
					buildings = append(buildings, model.Building{Base: model.Base{ID: buildingID}, Name: fmt.Sprintf("%d栋", b+1), Ancestry: banc})
					buildingID++
					for h := range sh.households {
						households = append(households, model.Household{Base: model.Base{ID: householdID}, Unit: fmt.Sprint(h/10 + 1),
							Room: fmt.Sprintf("%d%02d", h%10+1, h/10+1), AreaCentiM2: 8_000 + int64(h%7)*1_000, Ancestry: banc})
						places = append(places, place{banc})
						householdID++
					}
				}
			}
		}
	}
	p := newProgress("places", len(regions)+len(compounds)+len(grids)+len(buildings)+len(households))
	done := 0
	for _, err := range []error{insert(db, regions, p, &done), insert(db, compounds, p, &done), insert(db, grids, p, &done),
		insert(db, buildings, p, &done), insert(db, households, p, &done)} {
		if err != nil {
			return err
		}
	}

	// The orders, written a batch at a time with their timelines: closed
	// ones carry the whole loop, open ones stop at their state.
	demoPlace := demo.Ancestry
	demoPlace.GridID = demoBuilding.GridID
	loop := []struct{ act, from, to string }{
		{"submit", "", model.StateSubmitted}, {"verify", model.StateSubmitted, model.StateVerified},
		{"dispatch", model.StateVerified, model.StateDispatched}, {"accept", model.StateDispatched, model.StateAccepted},
		{"assign", model.StateAccepted, model.StateAccepted}, {"start", model.StateAccepted, model.StateInProgress},
		{"complete", model.StateInProgress, model.StateCompleted}, {"confirm", model.StateCompleted, model.StateConfirmed},
		{"rate", model.StateConfirmed, model.StateClosed},
	}
	openSteps := []int{1, 2, 3, 4, 6} // loop rows an open order has: submitted … in_progress
	orderID, eventID := nextID(db, "orders"), nextID(db, "order_events")
	end := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	yearSpan := int64(365 * 24 * time.Hour)
	p = newProgress("orders", sh.orders)
	var events int64
	demoEvery := int(1 / sh.demoShare)
	orderBatch := batch
	if db.Dialector.Name() != "mysql" {
		orderBatch = 500 // SQLite takes at most 32,766 placeholders
	}
	for start := 0; start < sh.orders; start += batch {
		n := min(batch, sh.orders-start)
		orders := make([]model.Order, 0, n)
		evs := make([]model.OrderEvent, 0, 9*n)
		for k := range n {
			i := start + k
			// Spread evenly over the year, oldest first, so ids grow with time.
			at := end.Add(-time.Duration(yearSpan - yearSpan/int64(sh.orders)*int64(i))) // (a product first would overflow)
			anc, household := places[i%len(places)].Ancestry, int64(0)
			if i%demoEvery == 0 {
				anc = demoPlace
			} else {
				household = householdID - int64(len(places)) + int64(i%len(places))
			}
			steps := len(loop)
			if i%20 == 7 { // 5% still open
				steps = openSteps[(i/20)%len(openSteps)]
			}
			last := loop[steps-1]
			state := last.to
			level := model.OrderLevelCommunity
			if state == model.StateSubmitted {
				level = model.OrderLevelGrid
			}
			author := users[i%len(users)]
			o := model.Order{Base: model.Base{ID: orderID, CreatedAt: at, UpdatedAt: at.Add(time.Duration(steps) * time.Hour)},
				Number: fmt.Sprintf("GD%s%07d", at.Format("20060102"), i), CategoryID: cat.ID, CategoryCode: cat.Code,
				State: state, Level: level, Channel: "miniapp", AuthorID: author, ResidentID: author, HouseholdID: household,
				Place: fmt.Sprintf("%d号楼", i%9+1), Description: fmt.Sprintf("历史工单%d：楼道灯不亮，请尽快维修", i), Ancestry: anc,
				Version: int64(steps)}
			if steps > 2 {
				o.HandlerKind, o.HandlerID = "firm", firm
			}
			o.IntakeNode = model.IntakeNodeOf(&o) // hooks are skipped
			if state == model.StateClosed {
				c := at.Add(6 * time.Hour)
				cl := at.Add(8 * time.Hour)
				o.CompletedAt, o.ConfirmedAt, o.ClosedAt = &c, &c, &cl
				o.RatingOverall, o.RatingTimely, o.RatingAttitude = 5, 4, 5
			}
			orders = append(orders, o)
			for s := range steps {
				ev := model.OrderEvent{ID: eventID, OrderID: orderID, Action: loop[s].act, ActorID: author, FromState: loop[s].from, ToState: loop[s].to,
					ToLevel: level, CreatedAt: at.Add(time.Duration(s) * time.Hour)}
				if s >= 2 {
					ev.HandlerKind, ev.HandlerID = "firm", firm
				}
				if loop[s].act == "rate" {
					ev.Note = "评分 5 星" // as the rating writes it: the dashboards count it satisfied
				}
				evs = append(evs, ev)
				eventID++
			}
			orderID++
		}
		if err := db.CreateInBatches(orders, orderBatch).Error; err != nil {
			return err
		}
		if err := db.CreateInBatches(evs, batch).Error; err != nil {
			return err
		}
		events += int64(len(evs))
		p.set(start + n)
	}
	rep.Seed = SeedFigures{Households: int64(len(households)), Orders: int64(sh.orders), Events: events, Seconds: time.Since(t0).Seconds()}
	// Fresh statistics, as a database that grew to this size would have.
	if db.Dialector.Name() == "mysql" {
		db.Exec("ANALYZE TABLE orders, order_events, households")
	}
	return nil
}

// gridOf is a grid's ancestry: a grid may span compounds.
func gridOf(a model.Ancestry) model.Ancestry {
	a.CompoundID = 0
	return a
}

// withoutGrid is a compound's ancestry: the grid belongs to buildings.
func withoutGrid(a model.Ancestry) model.Ancestry {
	a.GridID = 0
	return a
}
