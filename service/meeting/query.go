package meeting

import (
	"context"
	"slices"

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
	if v.Minutes, err = model.LastMinutesVersion(ctx, s.db, id); err != nil {
		return View{}, err
	}
	if !v.Manager {
		return v, nil
	}
	if v.Groups, err = model.MeetingGroups(ctx, s.db, id); err != nil {
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
	rows, err := model.RSVPCounts(ctx, s.db, id)
	if err != nil {
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
	var userIDs, regionIDs, compoundIDs []int64
	for _, m := range ms {
		userIDs = append(userIDs, m.OrganiserID)
		if m.ScopeKind == model.ScopeCompound {
			compoundIDs = append(compoundIDs, m.ScopeID)
		} else {
			regionIDs = append(regionIDs, m.ScopeID)
		}
	}
	names, err := model.UserNames(ctx, s.db, userIDs)
	if err != nil {
		return nil, err
	}
	regions, err := model.NamesOf(ctx, s.db, &model.Region{}, "name", regionIDs)
	if err != nil {
		return nil, err
	}
	compounds, err := model.CompoundNames(ctx, s.db, compoundIDs)
	if err != nil {
		return nil, err
	}
	scopeName := func(m *model.Meeting) string {
		if m.ScopeKind == model.ScopeCompound {
			return compounds[m.ScopeID]
		}
		return regions[m.ScopeID]
	}
	out := make([]View, 0, len(ms))
	for _, m := range ms {
		v := View{Meeting: m, OrganiserName: names[m.OrganiserID], ScopeName: scopeName(&m),
			Manager: canManage(a, &m), Me: mine[m.ID]}
		if !v.Manager {
			v.SignInCode, v.SignInUntil = "", nil
		}
		v.IdemKey = nil
		out = append(out, v)
	}
	return out, nil
}

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
	var q model.MeetingQuery
	switch f.Queue {
	case QueueOrganised:
		q.Organiser = a.UserID
	case QueueInvited:
		// A draft is nobody's invitation yet.
		q.Invitee, q.NotState = a.UserID, model.MeetingDraft
	case QueueScope:
		for _, g := range a.Scopes(OrganiserRoles...) {
			switch g.ScopeKind {
			case model.ScopeCity, model.ScopeDistrict, model.ScopeStreet, model.ScopeCommunity, model.ScopeCompound:
				q.Places = append(q.Places, model.Place{Kind: g.ScopeKind, ID: g.ScopeID})
			}
		}
		if len(q.Places) == 0 {
			return service.Paged[View]{}, errNoCapacity
		}
	default:
		return service.Paged[View]{}, errQueue
	}
	q.State = f.State
	ms, err := model.MeetingPage(ctx, s.db, q, p.After, p.Limit+1)
	if err != nil {
		return service.Paged[View]{}, err
	}
	page := service.Cut(ms, p.Limit)
	mine := map[int64]*model.MeetingParticipant{}
	if len(page.Items) > 0 {
		ids := make([]int64, len(page.Items))
		for i, m := range page.Items {
			ids[i] = m.ID
		}
		ps, err := model.ParticipationsOf(ctx, s.db, a.UserID, ids)
		if err != nil {
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
	rows, err := model.ParticipantPage(ctx, s.db, id, model.ParticipantQuery{RSVP: f.RSVP, SignedIn: f.SignedIn}, p.After, p.Limit+1)
	if err != nil {
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
	names, err := model.UserNames(ctx, s.db, userIDs)
	if err != nil {
		return service.Paged[ParticipantView]{}, err
	}
	groups, err := model.NamesOf(ctx, s.db, &model.MeetingGroup{}, "name", groupIDs)
	if err != nil {
		return service.Paged[ParticipantView]{}, err
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
	minutes, err := model.MinutesOf(ctx, s.db, id)
	if err != nil {
		return err
	}
	for _, mm := range minutes {
		if holds(mm.Attachments) {
			return nil
		}
	}
	return errPhotoNotHere
}
