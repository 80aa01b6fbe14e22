// Package remind tells the platform's admins, in their inbox and by push,
// when a year's working calendar must be loaded: this year's whenever it
// is missing, next year's from November. Without it every working-day
// deadline counts 春节 as worked and orders climb the ladder during the
// holiday. It lives apart from service/calendar because it needs the
// messages capability, which itself reads the calendar's time zone.
// It must not import gin or api/.
package remind

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
)

// Publisher is the part of the messages capability the reminder uses.
type Publisher interface {
	Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error
}

// Reminder checks the calendar's status and tells the admins once per
// missing year (the event key makes a repeat a no-op, also across
// instances and restarts).
type Reminder struct {
	db    *gorm.DB
	cal   *calendar.Service
	msgs  Publisher
	clock service.Clock
	log   *slog.Logger
}

// New builds the reminder; a nil log discards.
func New(db *gorm.DB, cal *calendar.Service, msgs Publisher, clock service.Clock, log *slog.Logger) *Reminder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reminder{db: db, cal: cal, msgs: msgs, clock: clock, log: log}
}

// Run checks every interval until ctx ends.
func (r *Reminder) Run(ctx context.Context, every time.Duration) {
	service.Every(ctx, every, func(ctx context.Context) {
		if _, err := r.Once(ctx); err != nil {
			service.LogPass(ctx, r.log, "calendar reminder", err)
		}
	})
}

// Once tells the admins about every missing year and returns the years it
// published for (already told admins are not told again).
func (r *Reminder) Once(ctx context.Context) ([]int, error) {
	st, err := r.cal.Status(ctx)
	if err != nil {
		return nil, err
	}
	if len(st.Missing) == 0 {
		return nil, nil
	}
	r.log.WarnContext(ctx, "working calendar missing", "years", st.Missing)
	admins, err := model.HolderIDs(ctx, r.db, model.Seat{Role: model.RolePlatformAdmin, ScopeKind: model.ScopePlatform})
	if err != nil || len(admins) == 0 {
		return nil, err
	}
	now := r.clock.Now().UTC()
	for _, year := range st.Missing {
		title := fmt.Sprintf("%d年工作日历尚未导入", year)
		ev := message.Event{
			Kind: message.KindProgress, Event: "calendar.missing", Key: fmt.Sprintf("calendar:missing:%d", year),
			UserIDs: admins, Title: title,
			Body: fmt.Sprintf("%d 年的节假日与调休安排尚未导入。未导入前，按工作日计算的期限会把节假日算作工作日。"+
				"请在管理端导入国务院办公厅的通知（支持 ICS、chinese-days 数据或 CSV 文件）。", year),
			Fields: map[string]string{message.FieldNumber: fmt.Sprintf("CAL%d", year), message.FieldState: "待导入",
				message.FieldCategory: "工作日历", message.FieldTime: now.Format(time.RFC3339), message.FieldTitle: title},
			Page: "pages/admin/calendar",
		}
		if err := model.InTx(ctx, r.db, func(tx *gorm.DB) error { return r.msgs.Publish(ctx, tx, ev) }); err != nil {
			return nil, fmt.Errorf("tell admins of calendar %d: %w", year, err)
		}
	}
	return st.Missing, nil
}
