package disclosure

import (
	"strconv"
	"strings"
	"testing"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/receipt"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

// Publishing a version tells every household of the compound once, with
// receipts: the counts after publishing, a resident's read, the list of
// doors not reached, and who may see them.
func TestPublishingTellsEveryHousehold(t *testing.T) {
	c := servicetest.New(t)
	cfg := message.DefaultConfig()
	cfg.Sandbox = true
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), cfg)
	servicetest.Must(t, err)
	s := New(c.DB, c.Clock, nil, receipt.New(c.DB, c.Clock, msgs))
	// A bigger compound served by the demo firm: 3 buildings × 2 units ×
	// 4 rooms, every 5th household without a registered member.
	big := c.BigCompound("幸福里", 3, 2, 4, 5)
	k := c.Contracts[0]
	k.ID, k.Ancestry = 0, big.Compound.Ancestry
	servicetest.Must(t, model.Create(c.Ctx, c.DB, &k))
	mgr := c.Actor("manager")
	in := revenueInput(c)
	in.CompoundID = big.Compound.ID
	var v View
	c.Step(t, "counts after publishing", func(t *testing.T) {
		v, _, err = s.Publish(c.Ctx, mgr, in)
		servicetest.Must(t, err)
		tl, err := s.Reach(c.Ctx, mgr, v.ID)
		servicetest.Must(t, err)
		registered := int64(len(big.Resident))
		if tl.Households != 24 || tl.Delivered != registered || tl.Unregistered != 24-registered || tl.Read != 0 ||
			tl.NotReached != 24 || len(tl.Buildings) != 3 {
			t.Fatalf("tally %+v (registered %d)", tl.Counts, registered)
		}
		var inbox int64
		c.DB.Model(&model.Message{}).Where("event_key = ?", "disclosure:"+itoa(v.ID)).Count(&inbox)
		if inbox != registered {
			t.Fatalf("%d inbox messages, want one per registered member (%d)", inbox, registered)
		}
	})
	c.Step(t, "a resident's read counts", func(t *testing.T) {
		h := big.Households[0]
		reader := c.User(big.Resident[h.ID])
		if _, err := s.Open(c.Ctx, reader, v.ID); err != nil {
			t.Fatal(err)
		}
		// A second read changes nothing, and writes nothing: no lock, no
		// update, no transaction.
		n := dbtest.CountStatements(t, c.DB)
		n.On.Store(true)
		if _, err := s.Board(c.Ctx, reader, big.Compound.ID); err != nil {
			t.Fatal(err)
		}
		n.On.Store(false)
		_, sql := n.Take()
		for _, q := range sql {
			if strings.Contains(q, "FOR UPDATE") || strings.HasPrefix(q, "UPDATE") || strings.HasPrefix(q, "INSERT") {
				t.Fatalf("a second read of the board wrote: %s", q)
			}
		}
		tl, err := s.Reach(c.Ctx, mgr, v.ID)
		servicetest.Must(t, err)
		if tl.Read != 1 || tl.Reached != 1 || tl.NotReached != 23 {
			t.Fatalf("after one read %+v", tl.Counts)
		}
		doors, err := s.NotReached(c.Ctx, mgr, v.ID, big.Buildings[0].ID, "", service.Page{Limit: 100})
		servicetest.Must(t, err)
		if len(doors.Items) != 7 {
			t.Fatalf("%d doors not reached in building 1, want 7", len(doors.Items))
		}
		for _, d := range doors.Items {
			if d.HouseholdID == h.ID {
				t.Fatal("the reader's household is on the list")
			}
		}
	})
	c.Step(t, "a correction is told again", func(t *testing.T) {
		fix := revenueInput(c)
		fix.CompoundID, fix.Corrects, fix.Reason = big.Compound.ID, v.ID, "场地租赁金额更正"
		fix.Income[2].Amount, fix.IncomeTotal, fix.Closing = "700.20", "15700.30", "22500.20"
		v2, _, err := s.Publish(c.Ctx, mgr, fix)
		servicetest.Must(t, err)
		tl, err := s.Reach(c.Ctx, mgr, v2.ID)
		servicetest.Must(t, err)
		if tl.Households != 24 || tl.Read != 0 {
			t.Fatalf("correction tally %+v", tl.Counts)
		}
	})
	c.Step(t, "who sees the receipts", func(t *testing.T) {
		reader := c.User(big.Resident[big.Households[1].ID])
		_, err := s.Reach(c.Ctx, reader, v.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "not_publisher")
		_, err = s.Reach(c.Ctx, c.Actor("resident2"), v.ID)
		servicetest.WantErr(t, err, service.KindForbidden, "out_of_scope")
		c.Grant("grid3", model.RoleGridWorker, model.ScopeGrid, big.Grid.ID, big.Grid.Ancestry)
		tl, err := s.Reach(c.Ctx, c.Actor("grid3"), v.ID)
		servicetest.Must(t, err)
		if tl.Households != 24 || tl.Read != 1 {
			t.Fatalf("grid worker's tally %+v", tl.Counts)
		}
		_, err = s.Reach(c.Ctx, c.Actor("community"), v.ID)
		servicetest.Must(t, err)
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
