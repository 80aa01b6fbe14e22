package meeting

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// View is a meeting as the actor may see it. The sign-in code, the
// groups and the counts are for its managers only.
type View struct {
	model.Meeting
	OrganiserName string
	ScopeName     string
	Manager       bool                      // the actor may change it
	Me            *model.MeetingParticipant // the actor's own invitation, if any
	Counts        *Counts
	Groups        []model.MeetingGroup
	Minutes       int // published versions of the minutes
}

// Counts are a meeting's answers and sign-ins.
type Counts struct {
	Invited   int64
	Attending int64
	Declined  int64
	Pending   int64
	SignedIn  int64
}

// Queues of meetings.
const (
	QueueOrganised = "organised" // meetings I called
	QueueInvited   = "invited"   // meetings I am invited to (sent ones)
	QueueScope     = "scope"     // every meeting of the places I may organise in
)

// Filter selects a list of meetings.
type Filter struct {
	Queue string
	State string
}

var (
	errQueue      = service.Invalid("bad_queue", "列表只能是 organised、invited 或 scope")
	errState      = service.Invalid("bad_state", "会议状态只能是 draft、scheduled、held、minuted、closed 或 cancelled")
	errRSVPFilter = service.Invalid("bad_rsvp", "回复状态只能是 pending、attending 或 declined")
)

var states = []string{model.MeetingDraft, model.MeetingScheduled, model.MeetingHeld, model.MeetingMinuted,
	model.MeetingClosed, model.MeetingCancelled}

// Get returns one meeting with its agenda, the actor's invitation and,
// for managers, its groups and counts.
func (s *Service) Get(ctx context.Context, a *service.Actor, id int64) (View, error) {
	m, err := load(ctx, s.db, id)
	if err != nil {
		return View{}, err
	}
	acc, err := s.access(ctx, s.db, a, &m)
	if err != nil {
		return View{}, err
	}
	vs, err := s.views(ctx, []model.Meeting{m}, map[int64]*model.MeetingParticipant{m.ID: acc.me}, a)
	if err != nil {
		return View{}, err
	}
	v := vs[0]
	if err := s.db.WithContext(ctx).Model(&model.MeetingMinutes{}).Where("meeting_id = ?", id).
		Select("COALESCE(MAX(version), 0)").Scan(&v.Minutes).Error; err != nil {
		return View{}, err
	}
	if !v.Manager {
		return v, nil
	}
	if err := s.db.WithContext(ctx).Where("meeting_id = ?", id).Order("id").Find(&v.Groups).Error; err != nil {
		return View{}, err
	}
	c, err := s.counts(ctx, id)
	if err != nil {
		return View{}, err
	}
	v.Counts = &c
	return v, nil
}

func (s *Service) counts(ctx context.Context, id int64) (Counts, error) {
	var rows []struct {
		RSVP     string
		N        int64
		SignedIn int64
	}
	if err := s.db.WithContext(ctx).Model(&model.MeetingParticipant{}).
		Select("rsvp, COUNT(*) AS n, COUNT(signed_in_at) AS signed_in").
		Where("meeting_id = ?", id).Group("rsvp").Scan(&rows).Error; err != nil {
		return Counts{}, err
	}
	var c Counts
	for _, r := range rows {
		c.Invited += r.N
		c.SignedIn += r.SignedIn
		switch r.RSVP {
		case model.RSVPAttending:
			c.Attending = r.N
		case model.RSVPDeclined:
			c.Declined = r.N
		default:
			c.Pending += r.N
		}
	}
	return c, nil
}

// views adds names and the actor's standing to meetings; mine holds the
// actor's invitations by meeting id.
func (s *Service) views(ctx context.Context, ms []model.Meeting, mine map[int64]*model.MeetingParticipant, a *service.Actor) ([]View, error) {
	db := s.db.WithContext(ctx)
	var userIDs, regionIDs, compoundIDs []int64
	for _, m := range ms {
		userIDs = append(userIDs, m.OrganiserID)
		if m.ScopeKind == model.ScopeCompound {
			compoundIDs = append(compoundIDs, m.ScopeID)
		} else {
			regionIDs = append(regionIDs, m.ScopeID)
		}
	}
	names := map[int64]string{}
	var users []model.User
	if err := db.Select("id", "display_name").Where("id IN ?", userIDs).Find(&users).Error; err != nil {
		return nil, err
	}
	for _, u := range users {
		names[u.ID] = u.DisplayName
	}
	scopes := map[string]string{}
	if len(regionIDs) > 0 {
		var rs []model.Region
		if err := db.Select("id", "level", "name").Where("id IN ?", regionIDs).Find(&rs).Error; err != nil {
			return nil, err
		}
		for _, r := range rs {
			scopes[r.Level+":"+itoa(r.ID)] = r.Name
		}
	}
	if len(compoundIDs) > 0 {
		var cs []model.Compound
		if err := db.Select("id", "name").Where("id IN ?", compoundIDs).Find(&cs).Error; err != nil {
			return nil, err
		}
		for _, c := range cs {
			scopes[model.ScopeCompound+":"+itoa(c.ID)] = c.Name
		}
	}
	out := make([]View, 0, len(ms))
	for _, m := range ms {
		v := View{Meeting: m, OrganiserName: names[m.OrganiserID], ScopeName: scopes[m.ScopeKind+":"+itoa(m.ScopeID)],
			Manager: canManage(a, &m), Me: mine[m.ID]}
		if !v.Manager {
			v.SignInCode, v.SignInUntil = "", nil
		}
		v.IdemKey = nil
		out = append(out, v)
	}
	return out, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// List returns one page of a queue, newest meeting first.
func (s *Service) List(ctx context.Context, a *service.Actor, f Filter, p service.Page) (service.Paged[View], error) {
	if a == nil {
		return service.Paged[View]{}, service.ErrUnauthenticated
	}
	if f.Queue == "" {
		f.Queue = QueueInvited
	}
	if f.State != "" && !slices.Contains(states, f.State) {
		return service.Paged[View]{}, errState
	}
	db := s.db.WithContext(ctx)
	var q *gorm.DB
	switch f.Queue {
	case QueueOrganised:
		q = db.Table("meetings AS m").Where("m.organiser_id = ?", a.UserID)
	case QueueInvited:
		q = db.Table("meeting_participants AS p").Joins("JOIN meetings AS m ON m.id = p.meeting_id").
			Where("p.user_id = ? AND m.state <> ?", a.UserID, model.MeetingDraft)
	case QueueScope:
		var conds []string
		var args []any
		for _, g := range a.Scopes(OrganiserRoles...) {
			col := map[string]string{model.ScopeCity: "city_id", model.ScopeDistrict: "district_id",
				model.ScopeStreet: "street_id", model.ScopeCommunity: "community_id", model.ScopeCompound: "compound_id"}[g.ScopeKind]
			if col == "" {
				continue
			}
			conds = append(conds, "m."+col+" = ?")
			args = append(args, g.ScopeID)
		}
		if len(conds) == 0 {
			return service.Paged[View]{}, errNoCapacity
		}
		q = db.Table("meetings AS m").Where(strings.Join(conds, " OR "), args...)
	default:
		return service.Paged[View]{}, errQueue
	}
	if f.State != "" {
		q = q.Where("m.state = ?", f.State)
	}
	if p.After > 0 {
		q = q.Where("m.id < ?", p.After)
	}
	var ms []model.Meeting
	if err := q.Select("m.*").Order("m.id DESC").Limit(p.Limit + 1).Find(&ms).Error; err != nil {
		return service.Paged[View]{}, err
	}
	page := service.Cut(ms, p.Limit)
	mine := map[int64]*model.MeetingParticipant{}
	if len(page.Items) > 0 {
		ids := make([]int64, len(page.Items))
		for i, m := range page.Items {
			ids[i] = m.ID
		}
		var ps []model.MeetingParticipant
		if err := db.Where("user_id = ? AND meeting_id IN ?", a.UserID, ids).Find(&ps).Error; err != nil {
			return service.Paged[View]{}, err
		}
		for i := range ps {
			mine[ps[i].MeetingID] = &ps[i]
		}
	}
	vs, err := s.views(ctx, page.Items, mine, a)
	if err != nil {
		return service.Paged[View]{}, err
	}
	return service.Paged[View]{Items: vs, More: page.More}, nil
}

// ParticipantView is one participant with their name and how they came.
type ParticipantView struct {
	model.MeetingParticipant
	Name           string
	GroupName      string // "" when invited by name
	SignedInBySelf bool
}

// ParticipantFilter narrows the participant list.
type ParticipantFilter struct {
	RSVP     string
	SignedIn *bool
}

// Participants lists a meeting's participants for its managers, newest
// invitation first, with their answers and sign-ins.
func (s *Service) Participants(ctx context.Context, a *service.Actor, id int64, f ParticipantFilter, p service.Page) (service.Paged[ParticipantView], error) {
	if f.RSVP != "" && f.RSVP != model.RSVPPending && f.RSVP != model.RSVPAttending && f.RSVP != model.RSVPDeclined {
		return service.Paged[ParticipantView]{}, errRSVPFilter
	}
	if _, err := s.manage(ctx, a, id); err != nil {
		return service.Paged[ParticipantView]{}, err
	}
	db := s.db.WithContext(ctx)
	q := db.Where("meeting_id = ?", id)
	if f.RSVP != "" {
		q = q.Where("rsvp = ?", f.RSVP)
	}
	if f.SignedIn != nil {
		if *f.SignedIn {
			q = q.Where("signed_in_at IS NOT NULL")
		} else {
			q = q.Where("signed_in_at IS NULL")
		}
	}
	if p.After > 0 {
		q = q.Where("id < ?", p.After)
	}
	var rows []model.MeetingParticipant
	if err := q.Order("id DESC").Limit(p.Limit + 1).Find(&rows).Error; err != nil {
		return service.Paged[ParticipantView]{}, err
	}
	page := service.Cut(rows, p.Limit)
	var userIDs, groupIDs []int64
	for _, r := range page.Items {
		userIDs = append(userIDs, r.UserID)
		if r.GroupID != 0 {
			groupIDs = append(groupIDs, r.GroupID)
		}
	}
	names, groups := map[int64]string{}, map[int64]string{}
	if len(userIDs) > 0 {
		var users []model.User
		if err := db.Select("id", "display_name").Where("id IN ?", userIDs).Find(&users).Error; err != nil {
			return service.Paged[ParticipantView]{}, err
		}
		for _, u := range users {
			names[u.ID] = u.DisplayName
		}
	}
	if len(groupIDs) > 0 {
		var gs []model.MeetingGroup
		if err := db.Select("id", "name").Where("id IN ?", groupIDs).Find(&gs).Error; err != nil {
			return service.Paged[ParticipantView]{}, err
		}
		for _, g := range gs {
			groups[g.ID] = g.Name
		}
	}
	out := make([]ParticipantView, 0, len(page.Items))
	for _, r := range page.Items {
		out = append(out, ParticipantView{MeetingParticipant: r, Name: names[r.UserID], GroupName: groups[r.GroupID],
			SignedInBySelf: r.SignedInAt != nil && r.SignedInBy == r.UserID})
	}
	return service.Paged[ParticipantView]{Items: out, More: page.More}, nil
}

var errPhotoNotHere = service.NotFound("photo_not_found", "照片不存在")

// CheckPhoto reports whether the actor may see photo photoID as an
// attachment of meeting id: the meeting must be visible to them and carry
// the photo, on the meeting itself or on a published version of its
// minutes. The photo capability then serves the bytes.
func (s *Service) CheckPhoto(ctx context.Context, a *service.Actor, id, photoID int64) error {
	m, err := load(ctx, s.db, id)
	if err != nil {
		return err
	}
	if _, err := s.access(ctx, s.db, a, &m); err != nil {
		return err
	}
	holds := func(atts []model.MeetingAttachment) bool {
		for _, at := range atts {
			if at.PhotoID == photoID {
				return true
			}
		}
		return false
	}
	if holds(m.Attachments) {
		return nil
	}
	var minutes []model.MeetingMinutes
	if err := s.db.WithContext(ctx).Select("id", "attachments").Where("meeting_id = ?", id).Find(&minutes).Error; err != nil {
		return err
	}
	for _, mm := range minutes {
		if holds(mm.Attachments) {
			return nil
		}
	}
	return errPhotoNotHere
}
