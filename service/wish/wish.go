// Package wish runs micro-wishes (微心愿): a resident, or the building
// steward for them, posts a small wish of their household; a party member
// or volunteer of the community claims it (one claimer, whoever is first),
// fulfils it with a photo and the hours spent, and the resident thanks
// them. The hours make the community's volunteer records. It must not
// import gin, net/http or api/.
package wish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
	"redprop/service/photo"
)

// Messages is what wishes need of the messages capability: progress
// notices inside the wish's own transaction and WeChat's check of the text
// people write. *message.Service implements it.
type Messages interface {
	Publish(ctx context.Context, tx *gorm.DB, ev message.Event) error
	CheckText(ctx context.Context, userID int64, scene int, text string) (message.Verdict, error)
	RecordCheck(ctx context.Context, tx *gorm.DB, rec message.CheckRecord, v message.Verdict) error
}

// PhotoStore reads stored photo bytes; photo.Storage implements it. Wish
// photos are served by this capability, to those who may see the wish.
type PhotoStore interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// Service is the micro-wish capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	msgs  Messages
	store PhotoStore
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock, msgs Messages, store PhotoStore) *Service {
	return &Service{db: db, clock: clock, msgs: msgs, store: store}
}

// Limits of what a wish holds.
const (
	MaxPhotos      = photo.MaxAttached
	maxTitle       = 30
	maxDetail      = 500
	maxNote        = 500
	maxThanks      = 200
	maxHoursCenti  = 4800 // 48 hours for one wish
	channelSelf    = "self"
	channelBehalf  = "on_behalf"
	eventKeyPrefix = "wish:"
)

var (
	errWishNotFound  = service.NotFound("wish_not_found", "心愿不存在")
	errTitle         = service.Invalid("bad_title", "心愿标题须为 1 到 30 个字")
	errDetail        = service.Invalid("bad_detail", "心愿描述不能超过 500 个字")
	errPhotos        = photo.ErrBadPhotos
	errHousehold     = service.Invalid("bad_household", "请选择心愿所属的房屋")
	errNotResident   = service.Forbidden("not_resident", "您不是该房屋的住户")
	errNotThere      = service.Unprocessable("not_resident_there", "该居民不住在所选房屋")
	errNotOnBehalf   = service.Forbidden("not_on_behalf", "只有该楼栋的楼栋长或网格员可以代居民发布心愿")
	errPhotoGone     = photo.ErrPhotoGone
	errPhotoNotFound = service.NotFound("photo_not_found", "照片不存在")
)

// PostInput is a new wish. ResidentID is given by a steward posting for a
// resident; a resident posting their own leaves it 0.
type PostInput struct {
	HouseholdID int64
	ResidentID  int64
	Title       string
	Detail      string
	PhotoIDs    []int64
	IdemKey     string // the Idempotency-Key header
}

// Post files a wish. It returns created=false, and the first wish, when
// the author already posted one with the same Idempotency-Key.
func (s *Service) Post(ctx context.Context, a *service.Actor, in PostInput) (View, bool, error) {
	if a == nil {
		return View{}, false, service.ErrUnauthenticated
	}
	if err := checkPost(&in); err != nil {
		return View{}, false, err
	}
	if in.IdemKey != "" {
		if w, ok, err := model.ByIdemKey[model.Wish](ctx, s.db, "author_id", a.UserID, in.IdemKey); err != nil || ok {
			if err != nil {
				return View{}, false, err
			}
			v, err := s.Get(ctx, a, w.ID)
			return v, false, err
		}
	}
	h, err := model.ByID[model.Household](ctx, s.db, in.HouseholdID)
	if errors.Is(err, model.ErrNotFound) {
		return View{}, false, errHousehold
	}
	if err != nil {
		return View{}, false, err
	}
	w := model.Wish{Title: in.Title, Detail: in.Detail, Photos: in.PhotoIDs, State: model.WishOpen,
		AuthorID: a.UserID, ResidentID: a.UserID, HouseholdID: h.ID, Channel: channelSelf, Version: 1, Ancestry: h.Ancestry}
	if in.ResidentID != 0 && in.ResidentID != a.UserID {
		w.ResidentID, w.Channel = in.ResidentID, channelBehalf
	}
	lives, err := model.LivesIn(ctx, s.db, w.ResidentID, h.ID)
	if err != nil {
		return View{}, false, err
	}
	switch {
	case w.Channel == channelSelf && !lives:
		return View{}, false, errNotResident
	case w.Channel == channelBehalf && !a.Can(householdTarget(h.ID, h.Ancestry), stewardRoles...):
		return View{}, false, errNotOnBehalf
	case !lives:
		return View{}, false, errNotThere
	}
	if err := photo.CheckFree(ctx, s.db, a.UserID, in.PhotoIDs); err != nil {
		return View{}, false, err
	}
	text := w.Title
	if w.Detail != "" {
		text += "\n" + w.Detail
	}
	verdict, err := s.msgs.CheckText(ctx, a.UserID, message.SceneForum, text)
	if err != nil {
		return View{}, false, err
	}
	w.Flagged = verdict.State == model.CheckReview
	if in.IdemKey != "" {
		k := in.IdemKey
		w.IdemKey = &k
	}
	now := s.clock.Now().UTC()
	w.CreatedAt, w.UpdatedAt = now, now
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.Create(ctx, tx, &w); err != nil {
			return err
		}
		rec := message.CheckRecord{Subject: fmt.Sprintf("wish:%d", w.ID), UserID: a.UserID,
			Scene: message.SceneForum, Text: text, Ancestry: w.Ancestry}
		return s.msgs.RecordCheck(ctx, tx, rec, verdict)
	})
	if errors.Is(err, model.ErrDuplicate) && in.IdemKey != "" {
		// A concurrent double tap with the same key: the other one won.
		if prev, ok, ferr := model.ByIdemKey[model.Wish](ctx, s.db, "author_id", a.UserID, in.IdemKey); ferr == nil && ok {
			v, err := s.Get(ctx, a, prev.ID)
			return v, false, err
		}
	}
	if err != nil {
		return View{}, false, err
	}
	v, err := s.Get(ctx, a, w.ID)
	return v, true, err
}

func checkPost(in *PostInput) error {
	in.Title = strings.TrimSpace(in.Title)
	in.Detail = strings.TrimSpace(in.Detail)
	if in.HouseholdID <= 0 || in.ResidentID < 0 {
		return errHousehold
	}
	if n := utf8.RuneCountInString(in.Title); n == 0 || n > maxTitle {
		return errTitle
	}
	if utf8.RuneCountInString(in.Detail) > maxDetail {
		return errDetail
	}
	if err := photo.CheckIDs(in.PhotoIDs, 0); err != nil {
		return err
	}
	if err := service.CheckIdemKey(in.IdemKey); err != nil {
		return err
	}
	return nil
}

// Photo returns one photo of a wish (the author's or the fulfilment's) to
// someone who may see the wish. Anything else is 404: photo ids are
// sequential and must not be probed.
func (s *Service) Photo(ctx context.Context, a *service.Actor, wishID, photoID int64) (model.Photo, io.ReadCloser, error) {
	if a == nil {
		return model.Photo{}, nil, service.ErrUnauthenticated
	}
	w, err := take(ctx, s.db, wishID, false)
	if err != nil {
		return model.Photo{}, nil, err
	}
	if _, err := s.standing(ctx, a, w); err != nil {
		return model.Photo{}, nil, err
	}
	if !slices.Contains(w.Photos, photoID) && !slices.Contains(w.FulfilPhotos, photoID) {
		return model.Photo{}, nil, errPhotoNotFound
	}
	p, err := model.ByID[model.Photo](ctx, s.db, photoID)
	if errors.Is(err, model.ErrNotFound) {
		return model.Photo{}, nil, errPhotoNotFound
	}
	if err != nil {
		return model.Photo{}, nil, err
	}
	if s.store == nil {
		return model.Photo{}, nil, errPhotoNotFound
	}
	rc, err := s.store.Open(ctx, p.Key)
	if err != nil {
		return model.Photo{}, nil, fmt.Errorf("wish %d photo %d: %w", w.ID, p.ID, err)
	}
	return p, rc, nil
}

// take reads a wish, optionally locking its row.
func take(ctx context.Context, db *gorm.DB, id int64, lock bool) (model.Wish, error) {
	read := model.ByID[model.Wish]
	if lock {
		read = model.LockByID[model.Wish]
	}
	w, err := read(ctx, db, id)
	return w, service.OrNotFound(err, errWishNotFound)
}

// ApplyLateVerdict takes, inside tx, a verdict WeChat's text check reached
// after a wish's text was stored (it could not be asked at the time): the
// wish is flagged for the community, and a wish found risky while still
// open leaves the volunteers' list (withdrawn).
func (s *Service) ApplyLateVerdict(ctx context.Context, tx *gorm.DB, subject, state string) error {
	var id int64
	// Only the wish's own text: a volunteer's or a resident's later note
	// says nothing about the wish.
	if _, err := fmt.Sscanf(subject, "wish:%d", &id); err != nil || id <= 0 || strings.Count(subject, ":") != 1 {
		return nil
	}
	now := s.clock.Now().UTC()
	if err := model.FlagWish(ctx, tx, id, now); err != nil {
		return err
	}
	if state != model.CheckRisky {
		return nil // for review: flagging is enough
	}
	// Only an open wish leaves the list: a claimed one already has its
	// helper, and the flag puts it before the community.
	_, err := model.WithdrawOpenWish(ctx, tx, id, now)
	return err
}
