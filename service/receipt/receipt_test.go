package receipt_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/receipt"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

type env struct {
	*servicetest.City
	svc  *receipt.Service
	msgs *message.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t)
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{City: c, svc: receipt.New(c.DB, c.Clock, msgs), msgs: msgs}
}

func (e *env) deliver(subj receipt.Subject, scope receipt.Scope, push bool) (receipt.Delivery, error) {
	var d receipt.Delivery
	err := model.InLongTx(e.Ctx, e.DB, 2*time.Minute, func(tx *gorm.DB) error {
		var err error
		d, err = e.svc.Deliver(e.Ctx, tx, subj, scope, receipt.Options{Event: "test.published", Title: "停水通知",
			Body: "明日 9:00–17:00 停水", Push: push, Fields: map[string]string{"title": "停水通知", "publisher": "物业"}})
		return err
	})
	return d, err
}

func (e *env) count(table any, where string, args ...any) int64 {
	e.T.Helper()
	var n int64
	servicetest.Must(e.T, e.DB.Model(table).Where(where, args...).Count(&n).Error)
	return n
}

// wantTally compares the kept counts with a brute-force count of the
// receipts, for the whole subject and every building.
func (e *env) wantTally(subj receipt.Subject, big *servicetest.Big) receipt.Tally {
	e.T.Helper()
	return e.wantTallyOf(subj, len(big.Buildings))
}

func (e *env) wantTallyOf(subj receipt.Subject, buildings int) receipt.Tally {
	e.T.Helper()
	tl, err := e.svc.Tally(e.Ctx, subj, nil)
	servicetest.Must(e.T, err)
	check := func(label string, got receipt.Counts, where string, args ...any) {
		e.T.Helper()
		brute := func(cond string, more ...any) int64 {
			n, err := model.CountReceipts(e.Ctx, e.DB, subj.Kind, subj.ID, where+" AND "+cond, append(args[:len(args):len(args)], more...)...)
			servicetest.Must(e.T, err)
			return n
		}
		want := receipt.Counts{
			Households: brute("1 = 1"), Delivered: brute("members > 0"), Unregistered: brute("members = 0"),
			Pushed: brute("push = ?", model.ReceiptPushQueued), Read: brute("read_at IS NOT NULL"),
			Confirmed: brute("confirmed = ?", true), InPerson: brute("in_person_at IS NOT NULL"), Reached: brute("reached = ?", true),
		}
		want.NotReached = want.Households - want.Reached
		if got != want {
			e.T.Fatalf("%s: tally %+v, brute force %+v", label, got, want)
		}
	}
	check("subject", tl.Counts, "1 = 1")
	if len(tl.Buildings) != buildings {
		e.T.Fatalf("%d building tallies, want %d", len(tl.Buildings), buildings)
	}
	for _, b := range tl.Buildings {
		check("building "+b.Name, b.Counts, "building_id = ?", b.BuildingID)
		var units int64
		servicetest.Must(e.T, e.DB.Model(&model.Receipt{}).Where("subject_kind = ? AND subject_id = ? AND building_id = ?",
			subj.Kind, subj.ID, b.BuildingID).Distinct("unit").Count(&units).Error)
		if int64(len(b.Units)) != units {
			e.T.Fatalf("building %s: %d unit tallies, %d units", b.Name, len(b.Units), units)
		}
		for _, u := range b.Units {
			check("building "+b.Name+" unit "+u.Unit, u.Counts, "building_id = ? AND unit = ?", b.BuildingID, u.Unit)
		}
	}
	return tl
}

func TestDeliverToFiveThousandHouseholds(t *testing.T) {
	e := newEnv(t)
	// 25 buildings × 2 units × 100 rooms; every 50th household has nobody
	// registered.
	big := e.BigCompound("万家小区", 25, 2, 100, 50)
	subj := receipt.Subject{Kind: model.SubjectNotice, ID: 9001}
	var d receipt.Delivery
	e.Step(t, "one delivery, in chunked statements", func(t *testing.T) {
		stmts := dbtest.CountStatements(t, e.DB)
		stmts.On.Store(true)
		start := time.Now()
		var err error
		d, err = e.deliver(subj, receipt.Scope{Kind: receipt.ScopeCompound, IDs: []int64{big.Compound.ID}}, true)
		stmts.On.Store(false)
		servicetest.Must(t, err)
		n, _ := stmts.Take()
		if n > 80 {
			t.Fatalf("%d statements for 5,000 households: not set-based", n)
		}
		t.Logf("5,000 households told in %v, %d statements", time.Since(start), n)
		want := receipt.Delivery{Households: 5000, Delivered: 4900, Unregistered: 100, Pushed: 4900, Members: 4900}
		if d != want {
			t.Fatalf("delivery %+v, want %+v", d, want)
		}
	})
	e.Step(t, "each household one receipt, each member one inbox message and one push", func(t *testing.T) {
		var dup int64
		e.DB.Raw("SELECT COUNT(*) FROM (SELECT household_id FROM receipts WHERE subject_kind = ? AND subject_id = ? GROUP BY household_id HAVING COUNT(*) > 1) x",
			subj.Kind, subj.ID).Scan(&dup)
		if n := e.count(&model.Receipt{}, "subject_kind = ? AND subject_id = ?", subj.Kind, subj.ID); n != 5000 || dup != 0 {
			t.Fatalf("%d receipts (%d households twice), want 5000", n, dup)
		}
		for _, uid := range big.Resident {
			if n := e.count(&model.Message{}, "user_id = ? AND event_key = ?", uid, subj.Key()); n != 1 {
				t.Fatalf("user %d has %d inbox messages", uid, n)
			}
			break
		}
		if n := e.count(&model.Message{}, "event_key = ?", subj.Key()); n != 4900 {
			t.Fatalf("%d inbox messages, want 4900", n)
		}
		if n := e.count(&model.Outbox{}, "event_key = ? AND kind = ?", subj.Key(), message.KindNotice); n != 4900 {
			t.Fatalf("%d outbox rows, want 4900", n)
		}
		e.wantTally(subj, big)
	})
	e.Step(t, "counts come from the tallies, never from the receipts", func(t *testing.T) {
		stmts := dbtest.CountStatements(t, e.DB)
		stmts.On.Store(true)
		start := time.Now()
		tl, err := e.svc.Tally(e.Ctx, subj, nil)
		took := time.Since(start)
		stmts.On.Store(false)
		servicetest.Must(t, err)
		n, sqls := stmts.Take()
		for _, q := range sqls {
			if strings.Contains(q, "receipts") {
				t.Fatalf("a count read the receipts: %s", q)
			}
		}
		if n > 2 || tl.Households != 5000 || len(tl.Buildings) != 25 {
			t.Fatalf("%d statements, counts %+v", n, tl.Counts)
		}
		t.Logf("counts of 5,000 households and 25 buildings in %v, %d statements", took, n)
	})
	e.Step(t, "a second delivery is refused and writes nothing", func(t *testing.T) {
		_, err := e.deliver(subj, receipt.Scope{Kind: receipt.ScopeCompound, IDs: []int64{big.Compound.ID}}, true)
		servicetest.WantErr(t, err, service.KindConflict, "already_delivered")
		if n := e.count(&model.Receipt{}, "subject_kind = ? AND subject_id = ?", subj.Kind, subj.ID); n != 5000 {
			t.Fatalf("%d receipts after a second delivery", n)
		}
	})
	b0 := big.Buildings[0]
	var readers []int64
	e.Step(t, "reads, confirmations and in-person records move the counts", func(t *testing.T) {
		// The first 30 households of building 1 read, ten of them confirm,
		// one reads twice.
		for i, h := range big.Households[:30] {
			uid, ok := big.Resident[h.ID]
			if !ok {
				continue
			}
			readers = append(readers, uid)
			servicetest.Must(t, e.svc.InTx(e.Ctx, func(tx *gorm.DB) error {
				var err error
				if i < 10 {
					_, err = e.svc.Confirm(e.Ctx, tx, subj, uid)
				} else {
					_, err = e.svc.Read(e.Ctx, tx, subj, uid)
				}
				return err
			}))
		}
		e.Clock.Advance(time.Minute)
		servicetest.Must(t, e.svc.InTx(e.Ctx, func(tx *gorm.DB) error {
			rs, err := e.svc.Read(e.Ctx, tx, subj, readers[15])
			if err == nil && rs[0].ReadAt.Before(servicetest.Start.Add(30*time.Second)) == false {
				t.Errorf("a second read moved the first read time to %v", rs[0].ReadAt)
			}
			return err
		}))
		// Unread messages of the readers are read.
		if n := e.count(&model.Message{}, "event_key = ? AND read_at IS NOT NULL", subj.Key()); n != int64(len(readers)) {
			t.Fatalf("%d inbox messages read, want %d", n, len(readers))
		}
		// The steward of building 1 knocks on the door of an unregistered
		// household (the 50th) and of the 40th.
		steward := e.stewardOf(b0)
		for _, h := range []model.Household{big.Households[49], big.Households[39]} {
			servicetest.Must(t, e.svc.InTx(e.Ctx, func(tx *gorm.DB) error {
				_, err := e.svc.TellInPerson(e.Ctx, tx, steward, subj, receipt.InPerson{HouseholdID: h.ID, Note: "已当面告知"})
				return err
			}))
		}
		tl := e.wantTally(subj, big)
		if tl.Reached != int64(len(readers))+2 || tl.Confirmed != 10 || tl.InPerson != 2 {
			t.Fatalf("counts %+v", tl.Counts)
		}
	})
	e.Step(t, "the not-reached list, door by door, paged by keyset", func(t *testing.T) {
		reached := map[int64]bool{big.Households[49].ID: true, big.Households[39].ID: true}
		for _, h := range big.Households[:30] {
			if _, ok := big.Resident[h.ID]; ok {
				reached[h.ID] = true
			}
		}
		var want []int64
		for _, h := range big.Households {
			if h.BuildingID == b0.ID && h.Unit == "1" && !reached[h.ID] {
				want = append(want, h.ID)
			}
		}
		var got []int64
		p := service.Page{Limit: 7}
		for {
			page, err := e.svc.NotReached(e.Ctx, subj, receipt.Filter{BuildingID: b0.ID, Unit: "1"}, p)
			servicetest.Must(t, err)
			for _, d := range page.Items {
				got = append(got, d.HouseholdID)
				if d.BuildingName != b0.Name {
					t.Fatalf("building name %q", d.BuildingName)
				}
			}
			if !page.More {
				break
			}
			p.After = page.Items[len(page.Items)-1].ID
		}
		if len(got) != len(want) {
			t.Fatalf("%d not reached in unit 1 of building 1, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("door %d is household %d, want %d (door-by-door order)", i, got[i], want[i])
			}
		}
		// The whole subject: every household but the reached ones.
		page, err := e.svc.NotReached(e.Ctx, subj, receipt.Filter{}, service.Page{Limit: 100})
		servicetest.Must(t, err)
		if page.Items[0].HouseholdID == big.Households[0].ID {
			t.Fatal("a reached household is on the list")
		}
	})
	e.Step(t, "the export opens with excelize and lists the same doors", func(t *testing.T) {
		wb, err := e.svc.ExportNotReached(e.Ctx, subj, receipt.Filter{BuildingID: b0.ID})
		servicetest.Must(t, err)
		var buf bytes.Buffer
		_, err = wb.WriteTo(&buf)
		servicetest.Must(t, err)
		wb.Close()
		f, err := excelize.OpenReader(&buf)
		servicetest.Must(t, err)
		rows, err := f.GetRows(receipt.SheetName)
		servicetest.Must(t, err)
		want := e.count(&model.Receipt{}, "subject_kind = ? AND subject_id = ? AND building_id = ? AND reached = ?",
			subj.Kind, subj.ID, b0.ID, false)
		if int64(len(rows)-1) != want || rows[0][0] != "楼栋" || rows[1][0] != b0.Name {
			t.Fatalf("%d rows (want %d), first %v %v", len(rows)-1, want, rows[0], rows[1])
		}
	})
}

func (e *env) stewardOf(b model.Building) *service.Actor {
	e.T.Helper()
	u := model.User{DisplayName: "楼栋长"}
	servicetest.Must(e.T, e.DB.Create(&u).Error)
	g := model.Grant{UserID: u.ID, Role: model.RoleBuildingSteward, ScopeKind: model.ScopeBuilding, ScopeID: b.ID, Ancestry: b.Ancestry}
	servicetest.Must(e.T, e.DB.Create(&g).Error)
	return e.User(u.ID)
}

// Residents of many buildings read and confirm at once while stewards
// knock: every change moves the shared counters in its own transaction,
// and the counts still equal a brute-force count (on MariaDB the
// transactions really overlap; a deadlock victim is run again).
func TestConcurrentReadsKeepCountsExact(t *testing.T) {
	e := newEnv(t)
	big := e.BigCompound("并发小区", 8, 1, 25, 10)
	subj := receipt.Subject{Kind: model.SubjectNotice, ID: 77}
	_, err := e.deliver(subj, receipt.Scope{Kind: receipt.ScopeBuilding, IDs: []int64{big.Buildings[0].ID, big.Buildings[3].ID,
		big.Buildings[4].ID, big.Buildings[7].ID}}, false)
	servicetest.Must(t, err)
	told := map[int64]bool{big.Buildings[0].ID: true, big.Buildings[3].ID: true, big.Buildings[4].ID: true, big.Buildings[7].ID: true}
	stewards := map[int64]*service.Actor{}
	for _, b := range big.Buildings {
		stewards[b.ID] = e.stewardOf(b)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(big.Households)*2)
	for i, h := range big.Households {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid, registered := big.Resident[h.ID]
			err := e.svc.InTx(e.Ctx, func(tx *gorm.DB) error {
				var err error
				switch {
				case !registered || i%4 == 3:
					_, err = e.svc.TellInPerson(e.Ctx, tx, stewards[h.BuildingID], subj, receipt.InPerson{HouseholdID: h.ID, Note: "上门"})
				case i%2 == 0:
					_, err = e.svc.Confirm(e.Ctx, tx, subj, uid)
				default:
					_, err = e.svc.Read(e.Ctx, tx, subj, uid)
				}
				return err
			})
			if told[h.BuildingID] && err != nil {
				errs <- err
			}
			if !told[h.BuildingID] && err == nil {
				errs <- fmt.Errorf("household %d of a building not told was marked", h.ID)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tl := e.wantTallyOf(subj, 4)
	if tl.Households != 100 || tl.Reached != 100 || tl.NotReached != 0 {
		t.Fatalf("counts %+v", tl.Counts)
	}
}
