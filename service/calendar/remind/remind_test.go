package remind_test

import (
	"slices"
	"testing"

	"redprop/model"
	"redprop/service/calendar"
	"redprop/service/calendar/remind"
	"redprop/service/message"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

func TestAdminsAreToldOnceOfNextYearsMissingCalendar(t *testing.T) {
	c := servicetest.New(t) // Monday 2026-11-23: November, 2027 not loaded
	cal := calendar.New(c.DB, c.Clock)
	msgs, err := message.New(c.DB, c.Clock, wechat.NewSandbox(), message.Config{Sandbox: true})
	servicetest.Must(t, err)
	r := remind.New(c.DB, cal, msgs, c.Clock, nil)
	admin := c.UserID("admin")
	inbox := func() []model.Message {
		var ms []model.Message
		servicetest.Must(t, c.DB.Where("event = ?", "calendar.missing").Order("id").Find(&ms).Error)
		return ms
	}

	t.Run("told", func(t *testing.T) {
		years, err := r.Once(c.Ctx)
		if err != nil || !slices.Equal(years, []int{2027}) {
			t.Fatalf("years %v, %v", years, err)
		}
		ms := inbox()
		if len(ms) != 1 || ms[0].UserID != admin {
			t.Fatalf("inbox %+v, want one message to the admin %d", ms, admin)
		}
	})
	t.Run("not twice", func(t *testing.T) {
		servicetest.Must(t, errOf(r.Once(c.Ctx)))
		if n := len(inbox()); n != 1 {
			t.Fatalf("%d messages after a second pass", n)
		}
	})
	t.Run("nothing once loaded", func(t *testing.T) {
		servicetest.Must(t, cal.SetYear(c.Ctx, c.Actor("admin"), 2027,
			[]calendar.Day{{Date: "2027-01-01", Kind: model.CalendarHoliday, Name: "元旦"}}))
		years, err := r.Once(c.Ctx)
		if err != nil || len(years) != 0 {
			t.Fatalf("years %v, %v", years, err)
		}
	})
}

func errOf(_ []int, err error) error { return err }
