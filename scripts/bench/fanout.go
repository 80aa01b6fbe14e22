package main

import (
	"fmt"
	"os"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/wechat/wechattest"
)

// The fan-out: a meeting for every resident of one compound of fanHouseholds
// households (one resident each, logged in through the mini-program), timed
// from the schedule request until the fake WeChat holds every notice. The
// meeting starts just over two hours after it is scheduled, so its 2-hour
// reminder falls due during the run: every resident must get the notice
// and the reminder once each, however many instances deliver.

// Meeting template and the short texts (thing4 of the default mapping)
// that tell the notice from the reminder.
const (
	tplMeeting    = "tpl_meeting"
	noticeText    = "请回复是否参加"
	reminderText  = "会议即将开始"
	fanOpenIDForm = "bench-fan-%d"
)

// fanPlace is the seeded compound of the fan-out.
type fanPlace struct {
	CompoundID  int64
	CommunityID int64
	OpenIDs     []string
}

// seedFanout writes a compound under the demo compound's community with n
// households, a resident with an openid in each.
func seedFanout(gdb *gorm.DB, n int) (fanPlace, error) {
	db := gdb.Session(&gorm.Session{SkipHooks: true, SkipDefaultTransaction: true, CreateBatchSize: batch})
	var demo model.Compound
	if err := db.Order("id").First(&demo).Error; err != nil {
		return fanPlace{}, fmt.Errorf("the demo compound: %w", err)
	}
	compoundID, gridID, buildingID := nextID(db, "compounds"), nextID(db, "grids"), nextID(db, "buildings")
	householdID, userID, residencyID := nextID(db, "households"), nextID(db, "users"), nextID(db, "residencies")
	anc := model.Ancestry{CityID: demo.CityID, DistrictID: demo.DistrictID, StreetID: demo.StreetID, CommunityID: demo.CommunityID,
		CompoundID: compoundID, GridID: gridID}
	compounds := []model.Compound{{Base: model.Base{ID: compoundID}, Name: "压测群发小区", Ancestry: withoutGrid(anc)}}
	grids := []model.Grid{{Base: model.Base{ID: gridID}, Name: "压测群发网格", Ancestry: gridOf(anc)}}
	const perBuilding = 250
	var buildings []model.Building
	var households []model.Household
	var users []model.User
	var residencies []model.Residency
	out := fanPlace{CompoundID: compoundID, CommunityID: demo.CommunityID}
	for i := range n {
		if i%perBuilding == 0 {
			b := anc
			b.BuildingID = buildingID
			buildings = append(buildings, model.Building{Base: model.Base{ID: buildingID}, Name: fmt.Sprintf("%d栋", len(buildings)+1), Ancestry: b})
			buildingID++
		}
		banc := buildings[len(buildings)-1].Ancestry
		k := i % perBuilding
		households = append(households, model.Household{Base: model.Base{ID: householdID}, Unit: fmt.Sprint(k/50 + 1),
			Room: fmt.Sprintf("%d%02d", k%25+1, k/25%2+1), AreaCentiM2: 9_000, Ancestry: banc})
		openID := fmt.Sprintf(fanOpenIDForm, i)
		out.OpenIDs = append(out.OpenIDs, openID)
		users = append(users, model.User{Base: model.Base{ID: userID}, OpenID: &openID, DisplayName: fmt.Sprintf("住户%d", i+1)})
		residencies = append(residencies, model.Residency{Base: model.Base{ID: residencyID}, UserID: userID, HouseholdID: householdID,
			Relation: model.RelationOwner, Ancestry: banc})
		householdID++
		userID++
		residencyID++
	}
	p := newProgress("fan-out", 2+len(buildings)+3*n)
	done := 0
	for _, err := range []error{insert(db, compounds, p, &done), insert(db, grids, p, &done), insert(db, buildings, p, &done),
		insert(db, households, p, &done), insert(db, users, p, &done), insert(db, residencies, p, &done)} {
		if err != nil {
			return fanPlace{}, err
		}
	}
	return out, nil
}

// Fanout is what the fan-out measured.
type Fanout struct {
	Households int `json:"households"`
	// ScheduleMS is the schedule request: the participants, inbox and
	// outbox rows written in its transaction.
	ScheduleMS float64 `json:"schedule_ms"`
	// DeliveredSeconds is from the schedule request until the fake WeChat
	// held a notice for every resident (or the wait gave up).
	DeliveredSeconds float64 `json:"delivered_seconds"`
	Notices          Once    `json:"notices"`
	Reminders        Once    `json:"reminders"`
	// ReminderSeconds is from the reminder's due time until every reminder
	// was delivered.
	ReminderSeconds float64 `json:"reminder_seconds"`
}

// Once counts pushes per recipient: each must have exactly one.
type Once struct {
	Delivered  int `json:"delivered"`  // recipients with at least one
	Duplicates int `json:"duplicates"` // pushes beyond the first
	Missing    int `json:"missing"`    // recipients with none
}

// meetingPushes counts the fake's successful meeting pushes with the short
// text want, per openid among openIDs.
func meetingPushes(fake *wechattest.Server, openIDs []string, want string) Once {
	got := make(map[string]int, len(openIDs))
	for _, id := range openIDs {
		got[id] = 0
	}
	for _, r := range fake.Requests() {
		if r.Endpoint != wechattest.SubscribeSend || r.ErrCode != 0 || r.Body["template_id"] != tplMeeting {
			continue
		}
		to, _ := r.Body["touser"].(string)
		if _, ok := got[to]; !ok {
			continue
		}
		data, _ := r.Body["data"].(map[string]any)
		item, _ := data["thing4"].(map[string]any)
		if item["value"] == want {
			got[to]++
		}
	}
	var o Once
	for _, n := range got {
		switch {
		case n == 0:
			o.Missing++
		default:
			o.Delivered++
			o.Duplicates += n - 1
		}
	}
	return o
}

// waitPushes polls until every openid has a push with text want or within
// has passed, and says how long it took.
func waitPushes(fake *wechattest.Server, openIDs []string, want string, from time.Time, within time.Duration) (Once, float64) {
	for {
		o := meetingPushes(fake, openIDs, want)
		if o.Missing == 0 || time.Since(from) > within {
			return o, time.Since(from).Seconds()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Breaches are orders seeded with a step deadline a few seconds ahead, so
// that the schedulers (of every instance) breach and escalate them during
// the run: each must be escalated exactly once.
type Breaches struct {
	Orders     int `json:"orders"`
	Escalated  int `json:"escalated"`  // orders with exactly one escalation
	Duplicates int `json:"duplicates"` // escalations beyond the first
	Missing    int `json:"missing"`    // orders never escalated
}

// seedBreaches writes n submitted orders at grid level in the demo
// compound, of a category that escalates on a breach, due at due.
func seedBreaches(gdb *gorm.DB, n int, due time.Time) (first, last int64, err error) {
	db := gdb.Session(&gorm.Session{SkipHooks: true, SkipDefaultTransaction: true, CreateBatchSize: batch})
	var demo model.Compound
	if err := db.Order("id").First(&demo).Error; err != nil {
		return 0, 0, err
	}
	var b model.Building
	if err := db.Where("compound_id = ?", demo.ID).Order("id").First(&b).Error; err != nil {
		return 0, 0, err
	}
	var cat model.Category
	if err := db.Where("code = ?", "safety_hazard").First(&cat).Error; err != nil {
		return 0, 0, err
	}
	var author int64
	db.Model(&model.User{}).Select("id").Order("id").Limit(1).Scan(&author)
	anc := demo.Ancestry
	anc.GridID, anc.BuildingID = b.GridID, 0
	orderID, eventID := nextID(db, "orders"), nextID(db, "order_events")
	now := time.Now().UTC()
	orders := make([]model.Order, 0, n)
	evs := make([]model.OrderEvent, 0, n)
	for i := range n {
		o := model.Order{Base: model.Base{ID: orderID + int64(i), CreatedAt: now, UpdatedAt: now},
			Number: fmt.Sprintf("GD%s9%06d", now.Format("20060102"), i), CategoryID: cat.ID, CategoryCode: cat.Code,
			State: model.StateSubmitted, Level: model.OrderLevelGrid, Channel: "miniapp", AuthorID: author, ResidentID: author,
			Place: "消防通道", Description: fmt.Sprintf("压测超时工单%d：消防通道堆放杂物", i), Ancestry: anc, Version: 1}
		d := due
		o.StepDeadline = &d
		orders = append(orders, o)
		evs = append(evs, model.OrderEvent{ID: eventID + int64(i), OrderID: o.ID, Action: "submit", ActorID: author,
			ToState: model.StateSubmitted, ToLevel: model.OrderLevelGrid, CreatedAt: now})
	}
	if err := db.CreateInBatches(orders, 500).Error; err != nil {
		return 0, 0, err
	}
	if err := db.CreateInBatches(evs, batch).Error; err != nil {
		return 0, 0, err
	}
	return orderID, orderID + int64(n) - 1, nil
}

// countBreaches counts the escalations of the orders first … last.
func countBreaches(db *gorm.DB, first, last int64) Breaches {
	var rows []struct {
		OrderID int64
		N       int
	}
	db.Raw("SELECT order_id, COUNT(*) AS n FROM order_events WHERE action = ? AND order_id BETWEEN ? AND ? GROUP BY order_id",
		"escalate", first, last).Scan(&rows)
	b := Breaches{Orders: int(last - first + 1)}
	for _, r := range rows {
		b.Escalated++
		b.Duplicates += r.N - 1
	}
	b.Missing = b.Orders - b.Escalated
	return b
}

// Pushes is the outbox against what the fake WeChat received.
type Pushes struct {
	OutboxSent   int64 `json:"outbox_sent"`   // rows in state sent
	FakeAccepted int   `json:"fake_accepted"` // successful sends the fake answered
	// Duplicates: accepted sends beyond the rows sent (a push sent twice).
	Duplicates int64 `json:"duplicates"`
	Unsettled  int64 `json:"unsettled"` // rows left unknown or sending
}

func countPushes(db *gorm.DB, fake *wechattest.Server) Pushes {
	var p Pushes
	db.Raw("SELECT COUNT(*) FROM outboxes WHERE state = ?", model.OutboxSent).Scan(&p.OutboxSent)
	db.Raw("SELECT COUNT(*) FROM outboxes WHERE state IN ?", []string{model.OutboxUnknown, model.OutboxSending}).Scan(&p.Unsettled)
	for _, r := range fake.Requests() {
		if r.Endpoint == wechattest.SubscribeSend && r.ErrCode == 0 && r.Status/100 == 2 {
			p.FakeAccepted++
		}
	}
	p.Duplicates = max(0, int64(p.FakeAccepted)-p.OutboxSent)
	return p
}

// fanout calls a meeting of every resident of the fan-out compound as the
// community's staff, schedules it and waits for the notices, then for the
// 2-hour reminders.
func (c *client) fanout(api, token string, fan fanPlace, fake *wechattest.Server) (Fanout, error) {
	f := Fanout{Households: len(fan.OpenIDs)}
	// The reminder 2 hours before the start falls due remindIn from now.
	const remindIn = 40 * time.Second
	start := time.Now().Add(2*time.Hour + remindIn).Truncate(time.Second)
	var m struct {
		ID int64 `json:"id"`
	}
	err := c.call("POST /meetings", token, "POST", api+"/meetings", map[string]any{
		"kind": "assembly", "title": "压测小区全体住户大会", "scope_kind": "community", "scope_id": fan.CommunityID,
		"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(time.Hour).Format(time.RFC3339), "place": "小区中心广场",
		"groups": []map[string]any{{"kind": "compound_residents", "target_id": fan.CompoundID}}}, &m)
	if err != nil {
		return f, err
	}
	fmt.Fprintf(os.Stderr, "fan-out: meeting %d for %d households … ", m.ID, len(fan.OpenIDs))
	t0 := time.Now()
	if err := c.call("POST /meetings/{id}/schedule", token, "POST", fmt.Sprintf("%s/meetings/%d/schedule", api, m.ID), nil, nil); err != nil {
		return f, err
	}
	f.ScheduleMS = float64(time.Since(t0).Microseconds()) / 1000
	f.Notices, f.DeliveredSeconds = waitPushes(fake, fan.OpenIDs, noticeText, t0, 2*time.Minute)
	fmt.Fprintf(os.Stderr, "notices %+v in %.1f s; ", f.Notices, f.DeliveredSeconds)
	due := start.Add(-2 * time.Hour)
	time.Sleep(time.Until(due))
	f.Reminders, f.ReminderSeconds = waitPushes(fake, fan.OpenIDs, reminderText, due, 2*time.Minute)
	// Late duplicates come after the last first push, if at all.
	time.Sleep(3 * time.Second)
	f.Notices = meetingPushes(fake, fan.OpenIDs, noticeText)
	f.Reminders = meetingPushes(fake, fan.OpenIDs, reminderText)
	fmt.Fprintf(os.Stderr, "reminders %+v in %.1f s\n", f.Reminders, f.ReminderSeconds)
	return f, nil
}
