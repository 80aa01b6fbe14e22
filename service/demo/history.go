package demo

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/wechat"
)

// History is what LoadHistory wrote: the quarter and month it fills.
type History struct {
	Quarter, Month string
	Orders         int
}

// beijing is China Standard Time (the calendar package's zone; demo must
// not import services).
var beijing = time.FixedZone("CST", 8*3600)

// LoadHistory writes a closed past of the demo city so that the sandbox
// has something to score: orders of the firm in the demo's two served
// compounds over the last closed quarter before now, each with the
// timeline its people would have written (some accepted late, some past
// their completion deadline, one sent back, ratings from 2 to 5 stars),
// two inspections and two action items of the firm, and a last closed
// month of the grid worker's verifications and confirmations. The demo
// people's grants are dated back to the start of that quarter: they held
// their seats all along. It is for the sandbox only (the demo-history
// command); tests build their own facts.
func LoadHistory(ctx context.Context, db *gorm.DB, now time.Time) (History, error) {
	var h History
	b := now.In(beijing)
	qStart := time.Date(b.Year(), time.Month((int(b.Month())-1)/3*3+1), 1, 0, 0, 0, 0, beijing).AddDate(0, -3, 0)
	mStart := time.Date(b.Year(), b.Month(), 1, 0, 0, 0, 0, beijing).AddDate(0, -1, 0)
	h.Quarter = fmt.Sprintf("%dQ%d", qStart.Year(), (int(qStart.Month())-1)/3+1)
	h.Month = mStart.Format("2006-01")
	err := model.InTx(ctx, db, func(tx *gorm.DB) error {
		var users []model.User
		if err := tx.Find(&users).Error; err != nil {
			return err
		}
		id := map[string]int64{}
		for _, u := range users {
			if u.OpenID != nil {
				id[*u.OpenID] = u.ID
			}
		}
		person := func(name string) int64 { return id[wechat.SandboxOpenID(name)] }
		var firm model.Firm
		if err := tx.Order("id").Take(&firm).Error; err != nil {
			return fmt.Errorf("the demo firm: %w", err)
		}
		var compounds []model.Compound
		if err := tx.Order("id").Limit(2).Find(&compounds).Error; err != nil || len(compounds) < 2 {
			return fmt.Errorf("the demo compounds: %v", err)
		}
		var cat model.Category
		if err := tx.Where("code = ?", "environment").Take(&cat).Error; err != nil {
			return fmt.Errorf("the environment category (seed the categories first): %w", err)
		}
		if err := tx.Model(&model.Grant{}).Where("1 = 1").Update("created_at", qStart.UTC()).Error; err != nil {
			return err
		}
		// kinds of history: 0 in time, 1 accepted late, 2 completed late,
		// 3 sent back once; ratings cycle through 5, 4, 5, 2, 4, 3.
		ratings := []int{5, 4, 5, 2, 4, 3}
		write := func(n int, comp model.Compound, start time.Time, days int, seq int) error {
			var bld model.Building
			if err := tx.Where("compound_id = ?", comp.ID).Order("id").Take(&bld).Error; err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				at := start.Add(time.Duration(i*days*24/n)*time.Hour + 9*time.Hour).UTC()
				kind := i % 4
				if comp.ID != compounds[0].ID {
					kind = 0
				}
				o := model.Order{Number: fmt.Sprintf("GD%s9%03d", at.In(beijing).Format("20060102"), seq+i), CategoryID: cat.ID,
					CategoryCode: cat.Code, State: model.StateClosed, Level: model.OrderLevelCommunity, Channel: model.ChannelSelf,
					AuthorID: person("resident"), Description: fmt.Sprintf("历史工单：公共区域保洁不到位（%d）", i+1),
					Ancestry: bld.Ancestry, HandlerKind: model.HandlerFirm, HandlerID: firm.ID, AssigneeID: person("worker"),
					RatingOverall: ratings[i%len(ratings)], Version: 10}
				o.CreatedAt, o.UpdatedAt = at, at
				type step struct {
					action, from, to, role string
					by                     int64
					after                  time.Duration
				}
				steps := []step{{"submit", "", model.StateSubmitted, "resident", person("resident"), 0},
					{"verify", model.StateSubmitted, model.StateVerified, model.RoleGridWorker, person("grid"), 40 * time.Minute},
					{"dispatch", model.StateVerified, model.StateDispatched, model.RoleCommunityStaff, person("community"), time.Hour}}
				if kind == 1 {
					steps = append(steps, step{"overdue", model.StateDispatched, model.StateDispatched, "", 0, 6 * time.Hour})
				}
				steps = append(steps, step{"accept", model.StateDispatched, model.StateAccepted, model.RoleFirmManager, person("manager"), 7 * time.Hour},
					step{"start", model.StateAccepted, model.StateInProgress, model.RoleFirmWorker, person("worker"), 8 * time.Hour})
				if kind == 2 {
					steps = append(steps, step{"overdue", model.StateInProgress, model.StateInProgress, "", 0, 30 * time.Hour})
				}
				steps = append(steps, step{"complete", model.StateInProgress, model.StateCompleted, model.RoleFirmWorker, person("worker"), 32 * time.Hour})
				if kind == 3 {
					steps = append(steps, step{"rework", model.StateCompleted, model.StateInProgress, model.RoleGridWorker, person("grid"), 34 * time.Hour},
						step{"complete", model.StateInProgress, model.StateCompleted, model.RoleFirmWorker, person("worker"), 40 * time.Hour})
				}
				steps = append(steps, step{"confirm", model.StateCompleted, model.StateConfirmed, model.RoleGridWorker, person("grid"), 44 * time.Hour},
					step{"rate", model.StateConfirmed, model.StateClosed, "resident", person("resident"), 50 * time.Hour})
				last := at.Add(50 * time.Hour)
				cmp, cnf := at.Add(40*time.Hour), at.Add(44*time.Hour)
				o.CompletedAt, o.ConfirmedAt, o.ClosedAt = &cmp, &cnf, &last
				if err := tx.Create(&o).Error; err != nil {
					return err
				}
				for _, s := range steps {
					ev := model.OrderEvent{OrderID: o.ID, Action: s.action, ActorID: s.by, Role: s.role, FromState: s.from, ToState: s.to,
						FromLevel: model.OrderLevelCommunity, ToLevel: model.OrderLevelCommunity, CreatedAt: at.Add(s.after)}
					if s.action != "submit" && s.action != "verify" {
						ev.HandlerKind, ev.HandlerID = model.HandlerFirm, firm.ID
					}
					if err := tx.Create(&ev).Error; err != nil {
						return err
					}
				}
				h.Orders++
			}
			return nil
		}
		qDays := int(qStart.AddDate(0, 3, 0).Sub(qStart).Hours() / 24)
		if err := write(24, compounds[0], qStart, qDays-4, 0); err != nil {
			return err
		}
		if err := write(4, compounds[1], qStart, qDays-4, 100); err != nil {
			return err
		}
		if err := write(8, compounds[0], mStart, 24, 200); err != nil {
			return err
		}
		for i, pts := range [][2]int{{92, 100}, {78, 100}} {
			comp := compounds[0]
			anc := comp.Ancestry
			anc.CompoundID = comp.ID
			in := model.Inspection{Kind: model.InspectionMonthly, ChecklistID: 1, ChecklistVersionID: 1, ChecklistNumber: 1,
				FirmID: firm.ID, Ancestry: anc, InspectorID: person("community"), InspectorRole: model.RoleCommunityStaff,
				InspectedAt: qStart.AddDate(0, i+1, 10).UTC(), Notes: "月度检查", Earned: pts[0], Possible: pts[1],
				Score: float64(pts[0]), Scored: true}
			if err := tx.Create(&in).Error; err != nil {
				return err
			}
		}
		for i := 0; i < 2; i++ {
			comp := compounds[0]
			anc := comp.Ancestry
			anc.CompoundID = comp.ID
			due := qStart.AddDate(0, 1+i, 15).Add(-time.Second).UTC()
			it := model.ActionItem{Title: []string{"更换破损垃圾桶", "修复地库照明"}[i], OwnerKind: model.OwnerFirm, OwnerID: firm.ID,
				DueAt: due, SourceKind: model.SourceInspection, ScopeKind: model.ScopeCompound, ScopeID: comp.ID, Ancestry: anc,
				OrganiserID: person("community"), CreatorID: person("community"), State: model.ActionClaimed}
			if i == 0 {
				done := due.Add(-48 * time.Hour)
				it.State, it.DoneAt, it.DoneBy = model.ActionDone, &done, person("manager")
			}
			if err := tx.Create(&it).Error; err != nil {
				return err
			}
		}
		return nil
	})
	return h, err
}
