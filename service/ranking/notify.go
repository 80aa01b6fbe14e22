package ranking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/calendar"
	"redprop/service/message"
	"redprop/service/receipt"
)

// placementWords are what people read for a placement.
var placementWords = map[string]string{
	model.PlacementRed: "红榜", model.PlacementBlack: "黑榜", model.PlacementNone: "未上榜",
	model.PlacementExcluded: "不参加排名", model.PlacementRemoved: "已移出榜单", model.PlacementRated: "已评星",
}

// Points formats a score × 100 as 78.50.
func Points(centi int64) string { return fmt.Sprintf("%d.%02d", centi/100, centi%100) }

// day formats an instant as a Beijing date and time, 2026年10月12日 24:00
// for a deadline that ends a day.
func deadlineWords(t time.Time) string {
	end := t.In(calendar.Beijing).Add(-time.Minute)
	return end.Format("2006年1月2日") + " 24:00"
}

func (s *Service) event(ctx context.Context, tx *gorm.DB, name, key string, users []int64, title, state, body string, page string) error {
	if len(users) == 0 {
		return nil
	}
	return s.msgs.Publish(ctx, tx, message.Event{
		Kind: message.KindEvaluation, Event: name, Key: key, UserIDs: users, Title: title, Body: body,
		Fields: map[string]string{message.FieldTitle: title, message.FieldState: state, message.FieldBody: body,
			message.FieldTime: s.clock.Now().UTC().Format(time.RFC3339)},
		Page: page,
	})
}

func managersOf(ctx context.Context, tx *gorm.DB, firmID int64) ([]int64, error) {
	return model.HolderIDs(ctx, tx, model.Seat{Role: model.RoleFirmManager, ScopeKind: model.ScopeFirm, ScopeID: firmID})
}

func reviewersOf(ctx context.Context, tx *gorm.DB, scopeKind string, scopeID int64) ([]int64, error) {
	return model.HolderIDs(ctx, tx, model.Seat{Role: publisherRole(scopeKind), ScopeKind: scopeKind, ScopeID: scopeID})
}

type lineKey struct{ firm, compound int64 }

func changed(a, b model.RankingLine) bool {
	return a.Placement != b.Placement || a.ScoreCenti != b.ScoreCenti || a.Stars != b.Stars || a.RankNo != b.RankNo
}

// notifyPublished tells each firm's managers their lines, and posts a
// notice to the residents of each compound on the red or black list. For
// a correction only the firms and compounds whose lines changed are told.
func (s *Service) notifyPublished(ctx context.Context, tx *gorm.DB, r model.Ranking, lines, prev []model.RankingLine, now time.Time) error {
	before := map[lineKey]model.RankingLine{}
	for _, l := range prev {
		before[lineKey{l.FirmID, l.CompoundID}] = l
	}
	var told []model.RankingLine
	for _, l := range lines {
		if p, ok := before[lineKey{l.FirmID, l.CompoundID}]; r.Supersedes == 0 || !ok || changed(p, l) {
			told = append(told, l)
		}
	}
	if len(told) == 0 {
		return nil
	}
	named, err := s.lines(ctx, tx, told)
	if err != nil {
		return err
	}
	head := title(r) + "已公布"
	if r.Supersedes != 0 {
		head = fmt.Sprintf("%s已更正（第%d版）", title(r), r.Version)
	}
	var firms []int64
	byFirm := map[int64][]Line{}
	for _, l := range named {
		if _, ok := byFirm[l.FirmID]; !ok {
			firms = append(firms, l.FirmID)
		}
		byFirm[l.FirmID] = append(byFirm[l.FirmID], l)
	}
	id := strconv.FormatInt(r.ID, 10)
	for _, f := range firms {
		users, err := managersOf(ctx, tx, f)
		if err != nil {
			return err
		}
		var parts []string
		state := "已公布"
		for _, l := range byFirm[f] {
			parts = append(parts, lineWords(r, l))
			if l.Placement == model.PlacementBlack {
				state = "黑榜"
			} else if l.Placement == model.PlacementRed && state != "黑榜" {
				state = "红榜"
			}
		}
		body := strings.Join(parts, "；")
		if r.AppealsUntil != nil {
			body += fmt.Sprintf("。如有异议，请于 %s 前提出申诉", deadlineWords(*r.AppealsUntil))
		}
		if err := s.event(ctx, tx, "ranking.published", "ranking:"+id+":firm:"+strconv.FormatInt(f, 10), users, head, state, body,
			"pages/evaluation/ranking?id="+id); err != nil {
			return err
		}
	}
	// Residents hear of their compound's firm on either list (or taken
	// off it by a correction).
	names, err := model.NamesOf(ctx, tx, &model.Region{}, "name", []int64{r.ScopeID})
	if err != nil {
		return err
	}
	for _, l := range named {
		if l.CompoundID == 0 {
			continue
		}
		p, had := before[lineKey{l.FirmID, l.CompoundID}]
		listed := l.Placement == model.PlacementRed || l.Placement == model.PlacementBlack
		wasListed := had && (p.Placement == model.PlacementRed || p.Placement == model.PlacementBlack)
		if !listed && !wasListed {
			continue
		}
		body := fmt.Sprintf("%s%s：%s为本小区提供物业服务，%s。", names[r.ScopeID], head, l.FirmName, lineResult(l))
		n := Notice{Key: "ranking:" + id + ":compound:" + strconv.FormatInt(l.CompoundID, 10), Title: head, Body: body,
			CompoundIDs: []int64{l.CompoundID}, RankingID: r.ID, LineID: l.ID, Publisher: names[r.ScopeID], Ancestry: r.Ancestry}
		if err := s.notices.PostToCompounds(ctx, tx, n); err != nil {
			return err
		}
	}
	return nil
}

func lineResult(l Line) string {
	switch l.Placement {
	case model.PlacementRed, model.PlacementBlack:
		return fmt.Sprintf("列入%s（得分 %s）", placementWords[l.Placement], Points(l.ScoreCenti))
	case model.PlacementRemoved:
		return "已移出榜单：" + l.Reason
	}
	return placementWords[l.Placement]
}

// lineWords is one line for its firm: 金日天玺：黑榜，第 5 名/共 6 个，78.50 分.
func lineWords(r model.Ranking, l Line) string {
	where := l.CompoundName
	if where == "" {
		where = "本辖区"
	}
	switch l.Placement {
	case model.PlacementExcluded:
		return where + "：" + l.Reason
	case model.PlacementRemoved:
		return where + "：已移出榜单（" + l.Reason + "）"
	case model.PlacementRated:
		return fmt.Sprintf("%s：%d 星（年度得分 %s）", where, l.Stars, Points(l.ScoreCenti))
	}
	return fmt.Sprintf("%s：%s，第 %d 名/共 %d 个，%s 分", where, placementWords[l.Placement], l.RankNo, l.GroupSize, Points(l.ScoreCenti))
}

// InboxNotices delivers a notice to the inbox (and push) of every
// resident of the compounds, through the messages capability.
type InboxNotices struct {
	Msgs Messages
	DB   *gorm.DB
}

// noticeBatch is the residents one Publish call carries.
const noticeBatch = 500

// PostToCompounds writes the notice to the residents' inboxes in tx.
func (n InboxNotices) PostToCompounds(ctx context.Context, tx *gorm.DB, nt Notice) error {
	users, err := model.CompoundResidentIDs(ctx, tx, nt.CompoundIDs)
	if err != nil {
		return err
	}
	for start := 0; start < len(users); start += noticeBatch {
		batch := users[start:min(start+noticeBatch, len(users))]
		err := n.Msgs.Publish(ctx, tx, message.Event{
			Kind: message.KindEvaluation, Event: "ranking.notice", Key: nt.Key, UserIDs: batch, Title: nt.Title, Body: nt.Body,
			Fields: map[string]string{message.FieldTitle: nt.Title, message.FieldState: "已公布", message.FieldBody: nt.Body},
			Page:   "pages/evaluation/ranking?id=" + strconv.FormatInt(nt.RankingID, 10),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReceiptNotices delivers a notice to the households of the compounds
// through the receipts capability: one receipt per household (delivered,
// read, not reached), the members' inboxes and pushes of the notice kind.
type ReceiptNotices struct {
	Receipts *receipt.Service
}

// SubjectLine is the receipts' subject kind of a ranking line's notice.
const SubjectLine = "ranking_line"

// PostToCompounds delivers the notice in tx; compounds without households
// are nobody to tell.
func (n ReceiptNotices) PostToCompounds(ctx context.Context, tx *gorm.DB, nt Notice) error {
	_, err := n.Receipts.Deliver(ctx, tx, receipt.Subject{Kind: SubjectLine, ID: nt.LineID},
		receipt.Scope{Kind: receipt.ScopeCompound, IDs: nt.CompoundIDs}, receipt.Options{
			Event: "ranking.notice", Title: nt.Title, Body: nt.Body, Push: true, Kind: message.KindNotice,
			Fields: map[string]string{message.FieldTitle: nt.Title, message.FieldBody: nt.Body, message.FieldPublisher: nt.Publisher,
				"notice_id": strconv.FormatInt(nt.LineID, 10)},
			Page: "pages/evaluation/ranking?id=" + strconv.FormatInt(nt.RankingID, 10),
		})
	var se *service.Error
	if errors.As(err, &se) && se.Code == "empty_scope" {
		return nil
	}
	return err
}
