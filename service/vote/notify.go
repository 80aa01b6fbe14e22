package vote

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/calendar"
	"redprop/service/message"
)

// sendNotices tells the owners of an open vote's compound, batch by batch
// (each its own transaction), streaming owner ids by keyset so that no
// compound is ever held in memory at once. It goes on where an earlier
// call stopped and returns how many owners it told.
func (s *Service) sendNotices(ctx context.Context, id int64) (int, error) {
	told := 0
	for {
		n, done, err := s.noticeBatch(ctx, id)
		told += n
		if err != nil || done {
			return told, err
		}
	}
}

func (s *Service) noticeBatch(ctx context.Context, id int64) (int, bool, error) {
	n, done := 0, false
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		v, err := take(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if v.State != model.VoteOpen || v.NoticeDone {
			done = true
			return nil
		}
		ids, err := model.OwnersAfter(ctx, tx, v.CompoundID, v.NoticeAfter, noticeBatch)
		if err != nil {
			return err
		}
		after := v.NoticeAfter
		if len(ids) > 0 {
			if err := s.msgs.Publish(ctx, tx, s.openedEvent(ctx, tx, v, ids)); err != nil {
				return err
			}
			after = ids[len(ids)-1]
		}
		n, done = len(ids), len(ids) < noticeBatch
		return model.MarkVoteNotice(ctx, tx, v.ID, after, done)
	})
	return n, done, err
}

func (s *Service) openedEvent(ctx context.Context, tx *gorm.DB, v model.Vote, users []int64) message.Event {
	// A notice without the compound's name is still worth sending.
	names, _ := model.CompoundNames(ctx, tx, []int64{v.CompoundID})
	compound := names[v.CompoundID]
	id := fmt.Sprint(v.ID)
	return message.Event{
		Kind: message.KindMeeting, Event: "vote.opened", Key: "vote:" + id + ":opened", UserIDs: users,
		Title: "业主表决：" + v.Question,
		Body: fmt.Sprintf("%s业主表决已开始，%s 截止。每户一票，按房屋面积和业主人数分别计算，请业主及时投票。",
			compound, v.ClosesAt.In(calendar.Beijing).Format("1月2日 15:04")),
		Fields: map[string]string{
			message.FieldMeetingTitle: v.Question,
			message.FieldMeetingTime:  v.OpensAt.Format(time.RFC3339) + "~" + v.ClosesAt.Format(time.RFC3339),
			message.FieldMeetingPlace: "小程序线上表决",
			message.FieldTitle:        "业主表决已开始",
			"vote_id":                 id,
		},
		Page: "pages/vote/detail?id=" + id,
	}
}
