package wish

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/message"
)

// notify tells the resident (and a steward who posted for them) of a claim
// and a fulfilment, and the claimer of thanks.
func (s *Service) notify(ctx context.Context, tx *gorm.DB, w model.Wish, action string, actorID int64) error {
	var users []int64
	var title, body, state string
	var claimer string
	if action == ActClaim || action == ActFulfil {
		// A notice without the claimer's name still says who: 志愿者.
		names, _ := model.UserNames(ctx, tx, []int64{actorID})
		claimer = names[actorID]
	}
	switch action {
	case ActClaim:
		users = []int64{w.ResidentID, w.AuthorID}
		title, state = "您的微心愿已被认领", "已认领"
		body = fmt.Sprintf("您的心愿「%s」已由%s认领，对方会尽快与您联系。", w.Title, or(claimer, "志愿者"))
	case ActFulfil:
		users = []int64{w.ResidentID, w.AuthorID}
		title, state = "您的微心愿已完成", "已完成"
		body = fmt.Sprintf("%s已完成您的心愿「%s」，请查看照片并确认致谢。", or(claimer, "志愿者"), w.Title)
	case ActThank:
		users = []int64{w.ClaimerID}
		title, state = "您完成的微心愿收到了感谢", "已致谢"
		body = fmt.Sprintf("居民已确认您完成的心愿「%s」，感谢您的付出！", w.Title)
	default:
		return nil
	}
	id := strconv.FormatInt(w.ID, 10)
	return s.msgs.Publish(ctx, tx, message.Event{
		Kind: message.KindProgress, Event: "wish." + action, UserIDs: users, Title: title, Body: body,
		Key: fmt.Sprintf("%s%d:%s:%d", eventKeyPrefix, w.ID, action, w.Version),
		Fields: map[string]string{
			message.FieldNumber: "WISH" + id, message.FieldState: state, message.FieldCategory: "微心愿",
			message.FieldTitle: w.Title, message.FieldTime: s.clock.Now().UTC().Format(time.RFC3339), "wish_id": id,
		},
		Page: "pages/wish/detail?id=" + id,
	})
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
