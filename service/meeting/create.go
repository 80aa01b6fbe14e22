package meeting

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
	"redprop/service/message"
)

// Limits of what a meeting holds.
const (
	MaxAgenda      = 30
	MaxAttachments = 9
	MaxPersons     = 200 // people invited by name in one request
	MaxGroups      = 20
	MaxLength      = 12 * time.Hour
	MaxAhead       = 366 * 24 * time.Hour
)

// GroupInput names a group to invite: a model.Group* kind and the id of
// the compound, community, firm or grid it is of.
type GroupInput struct {
	Kind     string
	TargetID int64
}

// CreateInput is a new meeting, created as a draft.
type CreateInput struct {
	Kind        string
	Title       string
	ScopeKind   string // street, community or compound
	ScopeID     int64
	StartsAt    time.Time
	EndsAt      time.Time
	Place       string
	OnlineURL   string
	Note        string
	Agenda      []model.AgendaItem
	Attachments []model.MeetingAttachment
	UserIDs     []int64 // people invited by name
	Groups      []GroupInput
	IdemKey     string // the Idempotency-Key header
}

// Patch changes a draft or scheduled meeting; nil fields stay. On a
// scheduled meeting a change of title, time or place is told to every
// participant and re-arms the reminders.
type Patch struct {
	Title       *string
	StartsAt    *time.Time
	EndsAt      *time.Time
	Place       *string
	OnlineURL   *string
	Note        *string
	Agenda      *[]model.AgendaItem
	Attachments *[]model.MeetingAttachment
}

var (
	errKind        = service.Invalid("bad_kind", "会议类型只能是 joint（联席会议）、tripartite（三方协调议事）、talk（民情恳谈）、assembly（业主大会）或 other")
	errTitle       = service.Invalid("bad_title", "会议名称须为 1 到 60 个字")
	errScope       = service.Invalid("bad_scope", "会议范围须为街道、社区或小区（street、community、compound）并给出其编号")
	errScopeGone   = service.Unprocessable("scope_not_found", "会议范围所指的街道、社区或小区不存在")
	errTime        = service.Invalid("bad_time", "请填写开始和结束时间：结束须晚于开始，会议最长 12 小时")
	errPast        = service.Unprocessable("time_passed", "会议开始时间须在现在之后一年以内")
	errWhere       = service.Invalid("place_required", "请填写会议地点或线上会议链接")
	errPlace       = service.Invalid("bad_place", "会议地点不能超过 100 个字")
	errURL         = service.Invalid("bad_online_url", "线上会议链接须为 http 或 https 地址，不超过 300 个字符")
	errNote        = service.Invalid("bad_note", "会议说明不能超过 1000 个字")
	errAgenda      = service.Invalid("bad_agenda", "议程最多 30 项：每项标题 1 到 100 个字，主讲人不超过 32 个字，时长 0 到 600 分钟")
	errAttachments = service.Invalid("bad_attachments", "附件最多 9 个：每个须有名称（1 到 60 个字），并给出照片编号或 http(s) 链接之一")
	errPersons     = service.Invalid("bad_participants", "一次最多邀请 200 位参会人，编号须为正数且不能重复")
	errGroups      = service.Invalid("bad_groups", "一次最多添加 20 个参会群体，群体不能重复")
	errGroupKind   = service.Invalid("bad_group_kind", "参会群体类型只能是 compound_committee、compound_party_branch、community_staff、firm_managers、grid_stewards 或 compound_residents")
	errEmptyPatch  = service.Invalid("empty_patch", "请至少修改一项内容")
	errNotInDraft  = service.Conflict("not_draft", "会议通知已发出，不能再移除参会人或参会群体")
)

func errPhoto(id int64) error {
	return service.Unprocessable("photo_unavailable", fmt.Sprintf("照片 %d 不存在或不是您上传的", id))
}

func errPerson(id int64) error {
	return service.Unprocessable("participant_out_of_scope", fmt.Sprintf("用户 %d 不存在或不在本会议的范围内", id))
}

func errGroupTarget(g GroupInput) error {
	return service.Unprocessable("group_out_of_scope",
		fmt.Sprintf("参会群体 %s %d 不存在或不在本会议的范围内", g.Kind, g.TargetID))
}

// Create stores a new draft meeting with its invitees. It returns
// created=false, and the first meeting, when the organiser already created
// one with the same Idempotency-Key.
func (s *Service) Create(ctx context.Context, a *service.Actor, in CreateInput) (View, bool, error) {
	if a == nil {
		return View{}, false, service.ErrUnauthenticated
	}
	if err := checkCreate(&in); err != nil {
		return View{}, false, err
	}
	if in.IdemKey != "" {
		if m, ok, err := model.ByIdemKey[model.Meeting](ctx, s.db, "organiser_id", a.UserID, in.IdemKey); err != nil || ok {
			return s.viewAfterWrite(ctx, a, m, false, err)
		}
	}
	now := s.clock.Now().UTC()
	m := model.Meeting{Kind: in.Kind, Title: in.Title, OrganiserID: a.UserID, ScopeKind: in.ScopeKind, ScopeID: in.ScopeID,
		State: model.MeetingDraft, StartsAt: in.StartsAt.UTC(), EndsAt: in.EndsAt.UTC(), Place: in.Place,
		OnlineURL: in.OnlineURL, Note: in.Note, Agenda: in.Agenda, Attachments: in.Attachments, Version: 1}
	if in.IdemKey != "" {
		k := in.IdemKey
		m.IdemKey = &k
	}
	anc, err := s.scopeAncestry(ctx, in.ScopeKind, in.ScopeID)
	if err != nil {
		return View{}, false, err
	}
	m.Ancestry = anc
	g, ok := a.GrantFor(target(&m), OrganiserRoles...)
	if !ok {
		if a.Has(OrganiserRoles...) {
			return View{}, false, service.ErrOutOfScope
		}
		return View{}, false, errNoCapacity
	}
	m.OrganiserRole = g.Role
	if err := checkWhen(m.StartsAt, m.EndsAt, now); err != nil {
		return View{}, false, err
	}
	if err := s.checkPhotos(ctx, a.UserID, m.Attachments); err != nil {
		return View{}, false, err
	}
	if err := s.checkPersons(ctx, &m, in.UserIDs); err != nil {
		return View{}, false, err
	}
	groups, err := s.resolveGroups(ctx, &m, in.Groups)
	if err != nil {
		return View{}, false, err
	}
	m.CreatedAt, m.UpdatedAt = now, now
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.Create(ctx, tx, &m); err != nil {
			return err
		}
		if err := s.insertPersons(ctx, tx, m.ID, in.UserIDs, now); err != nil {
			return err
		}
		return s.insertGroups(ctx, tx, m.ID, groups, now)
	})
	if errors.Is(err, model.ErrDuplicate) && in.IdemKey != "" {
		// A concurrent double tap with the same key: the other one won.
		prev, ok, ferr := model.ByIdemKey[model.Meeting](ctx, s.db, "organiser_id", a.UserID, in.IdemKey)
		if ferr == nil && ok {
			return s.viewAfterWrite(ctx, a, prev, false, nil)
		}
	}
	if err != nil {
		return View{}, false, fmt.Errorf("create meeting: %w", err)
	}
	return s.viewAfterWrite(ctx, a, m, true, nil)
}

func (s *Service) viewAfterWrite(ctx context.Context, a *service.Actor, m model.Meeting, created bool, err error) (View, bool, error) {
	if err != nil {
		return View{}, false, err
	}
	v, err := s.Get(ctx, a, m.ID)
	return v, created, err
}

// checkCreate validates and normalises what needs no database.
func checkCreate(in *CreateInput) error {
	in.Title = strings.TrimSpace(in.Title)
	if !slices.Contains(Kinds, in.Kind) {
		return errKind
	}
	if n := utf8.RuneCountInString(in.Title); n == 0 || n > 60 {
		return errTitle
	}
	if !slices.Contains(ScopeKinds, in.ScopeKind) || in.ScopeID <= 0 {
		return errScope
	}
	if in.StartsAt.IsZero() || in.EndsAt.IsZero() || !in.EndsAt.After(in.StartsAt) || in.EndsAt.Sub(in.StartsAt) > MaxLength {
		return errTime
	}
	if err := checkWhere(&in.Place, &in.OnlineURL); err != nil {
		return err
	}
	if in.Place == "" && in.OnlineURL == "" {
		return errWhere
	}
	in.Note = strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(in.Note) > 1000 {
		return errNote
	}
	var err error
	if in.Agenda, err = checkAgenda(in.Agenda); err != nil {
		return err
	}
	if in.Attachments, err = checkAttachments(in.Attachments); err != nil {
		return err
	}
	if err := checkInvitees(in.UserIDs, in.Groups); err != nil {
		return err
	}
	if err := service.CheckIdemKey(in.IdemKey); err != nil {
		return err
	}
	return nil
}

func checkWhere(place, link *string) error {
	*place, *link = strings.TrimSpace(*place), strings.TrimSpace(*link)
	if utf8.RuneCountInString(*place) > 100 {
		return errPlace
	}
	if *link != "" && !httpURL(*link, 300) {
		return errURL
	}
	return nil
}

func httpURL(raw string, max int) bool {
	if len(raw) > max {
		return false
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// checkWhen checks a meeting's time against now (the shape was checked
// with the input).
func checkWhen(start, end, now time.Time) error {
	if !end.After(start) || end.Sub(start) > MaxLength {
		return errTime
	}
	if !start.After(now) || start.Sub(now) > MaxAhead {
		return errPast
	}
	return nil
}

func checkAgenda(items []model.AgendaItem) ([]model.AgendaItem, error) {
	if len(items) > MaxAgenda {
		return nil, errAgenda
	}
	out := make([]model.AgendaItem, 0, len(items))
	for _, it := range items {
		it.Title, it.Presenter = strings.TrimSpace(it.Title), strings.TrimSpace(it.Presenter)
		if n := utf8.RuneCountInString(it.Title); n == 0 || n > 100 || utf8.RuneCountInString(it.Presenter) > 32 ||
			it.Minutes < 0 || it.Minutes > 600 {
			return nil, errAgenda
		}
		out = append(out, it)
	}
	return out, nil
}

func checkAttachments(items []model.MeetingAttachment) ([]model.MeetingAttachment, error) {
	if len(items) > MaxAttachments {
		return nil, errAttachments
	}
	out := make([]model.MeetingAttachment, 0, len(items))
	var photos []int64
	for _, it := range items {
		it.Name, it.URL = strings.TrimSpace(it.Name), strings.TrimSpace(it.URL)
		if n := utf8.RuneCountInString(it.Name); n == 0 || n > 60 || it.PhotoID < 0 {
			return nil, errAttachments
		}
		if (it.PhotoID == 0) == (it.URL == "") || (it.URL != "" && !httpURL(it.URL, 500)) {
			return nil, errAttachments
		}
		if it.PhotoID != 0 {
			if slices.Contains(photos, it.PhotoID) {
				return nil, errAttachments
			}
			photos = append(photos, it.PhotoID)
		}
		out = append(out, it)
	}
	return out, nil
}

func checkInvitees(users []int64, groups []GroupInput) error {
	if len(users) > MaxPersons {
		return errPersons
	}
	for i, id := range users {
		if id <= 0 || slices.Contains(users[:i], id) {
			return errPersons
		}
	}
	if len(groups) > MaxGroups {
		return errGroups
	}
	for i, g := range groups {
		if _, ok := groupKinds[g.Kind]; !ok {
			return errGroupKind
		}
		if g.TargetID <= 0 || slices.Contains(groups[:i], g) {
			return errGroups
		}
	}
	return nil
}

// Update changes a draft or scheduled meeting.
func (s *Service) Update(ctx context.Context, a *service.Actor, id int64, p Patch) (View, error) {
	if p == (Patch{}) {
		return View{}, errEmptyPatch
	}
	m, err := s.manage(ctx, a, id)
	if err != nil {
		return View{}, err
	}
	if p.Title != nil {
		t := strings.TrimSpace(*p.Title)
		if n := utf8.RuneCountInString(t); n == 0 || n > 60 {
			return View{}, errTitle
		}
		p.Title = &t
	}
	if p.Note != nil {
		n := strings.TrimSpace(*p.Note)
		if utf8.RuneCountInString(n) > 1000 {
			return View{}, errNote
		}
		p.Note = &n
	}
	if p.Agenda != nil {
		ag, err := checkAgenda(*p.Agenda)
		if err != nil {
			return View{}, err
		}
		p.Agenda = &ag
	}
	if p.Attachments != nil {
		at, err := checkAttachments(*p.Attachments)
		if err != nil {
			return View{}, err
		}
		if err := s.checkPhotos(ctx, a.UserID, at); err != nil {
			return View{}, err
		}
		p.Attachments = &at
	}
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		if m, err = lock(ctx, tx, id); err != nil {
			return err
		}
		if m.State != model.MeetingDraft && m.State != model.MeetingScheduled {
			return stateConflict(&m, "修改")
		}
		return s.change(ctx, tx, &m, p)
	})
	if err != nil {
		return View{}, err
	}
	return s.Get(ctx, a, id)
}

// change applies a patch to the locked meeting m inside tx.
func (s *Service) change(ctx context.Context, tx *gorm.DB, m *model.Meeting, p Patch) error {
	now := s.clock.Now().UTC()
	before := *m
	if p.Title != nil {
		m.Title = *p.Title
	}
	if p.StartsAt != nil {
		m.StartsAt = p.StartsAt.UTC()
	}
	if p.EndsAt != nil {
		m.EndsAt = p.EndsAt.UTC()
	}
	if p.Place != nil {
		m.Place = *p.Place
	}
	if p.OnlineURL != nil {
		m.OnlineURL = *p.OnlineURL
	}
	if err := checkWhere(&m.Place, &m.OnlineURL); err != nil {
		return err
	}
	if m.Place == "" && m.OnlineURL == "" {
		return errWhere
	}
	timeChanged := !m.StartsAt.Equal(before.StartsAt) || !m.EndsAt.Equal(before.EndsAt)
	if timeChanged {
		if err := checkWhen(m.StartsAt, m.EndsAt, now); err != nil {
			return err
		}
	}
	if p.Note != nil {
		m.Note = *p.Note
	}
	if p.Agenda != nil {
		m.Agenda = *p.Agenda
	}
	if p.Attachments != nil {
		m.Attachments = *p.Attachments
	}
	told := timeChanged || m.Title != before.Title || m.Place != before.Place || m.OnlineURL != before.OnlineURL
	if told && m.State == model.MeetingScheduled {
		m.Version++
	}
	m.UpdatedAt = now
	n, err := model.UpdateMeetingDetails(ctx, tx, m, before.State, before.Version)
	if err != nil {
		return err
	}
	if n == 0 {
		return stateConflict(&before, "修改")
	}
	if !told || m.State != model.MeetingScheduled {
		return nil
	}
	// The old reminders carry the old time and place: withdraw them and
	// arm new ones, keyed by the new version.
	if err := s.msgs.CancelScheduled(ctx, tx, cancelKey(m.ID)); err != nil {
		return err
	}
	evs := append([]message.Event{s.notice(m, noticeChanged, "")}, s.reminders(m, now)...)
	return s.tell(ctx, tx, m.ID, 0, evs...)
}
