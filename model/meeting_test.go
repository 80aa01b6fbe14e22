package model_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
)

func TestMeetingStore(t *testing.T) {
	ctx := context.Background()
	db := dbtest.Open(t)
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	meet := func(organiser int64, state string, anc model.Ancestry) *model.Meeting {
		m := &model.Meeting{Kind: model.MeetingJoint, Title: "会议", OrganiserID: organiser, OrganiserRole: model.RoleCommunityStaff,
			ScopeKind: model.ScopeCommunity, ScopeID: anc.CommunityID, Ancestry: anc, State: state,
			StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour), Version: 1}
		if err := model.Create(ctx, db, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	here := model.Ancestry{CityID: 1, StreetID: 3, CommunityID: 4}
	m1 := meet(100, model.MeetingDraft, here)
	m2 := meet(100, model.MeetingScheduled, here)
	m3 := meet(200, model.MeetingScheduled, model.Ancestry{CityID: 1, StreetID: 3, CommunityID: 6})
	invite := func(m *model.Meeting, group int64, users ...int64) {
		t.Helper()
		rows := make([]model.MeetingParticipant, len(users))
		for i, u := range users {
			rows[i] = model.MeetingParticipant{MeetingID: m.ID, UserID: u, GroupID: group, RSVP: model.RSVPPending}
		}
		if err := model.InviteParticipants(ctx, db, rows); err != nil {
			t.Fatal(err)
		}
	}
	invite(m1, 0, 1)
	invite(m2, 0, 1, 2)
	invite(m3, 0, 2)

	t.Run("queues", func(t *testing.T) {
		ids := func(q model.MeetingQuery) []int64 {
			ms, err := model.MeetingPage(ctx, db, q, 0, 10)
			if err != nil {
				t.Fatal(err)
			}
			var out []int64
			for _, m := range ms {
				out = append(out, m.ID)
			}
			return out
		}
		for _, c := range []struct {
			name string
			q    model.MeetingQuery
			want []int64
		}{
			{"organised", model.MeetingQuery{Organiser: 100}, []int64{m2.ID, m1.ID}},
			{"invited, drafts left out", model.MeetingQuery{Invitee: 1, NotState: model.MeetingDraft}, []int64{m2.ID}},
			{"in a street", model.MeetingQuery{Places: []model.Place{{Kind: model.ScopeStreet, ID: 3}}}, []int64{m3.ID, m2.ID, m1.ID}},
			{"in a community, one state", model.MeetingQuery{Places: []model.Place{{Kind: model.ScopeCommunity, ID: 4}},
				State: model.MeetingDraft}, []int64{m1.ID}},
			{"no place", model.MeetingQuery{Places: []model.Place{{Kind: model.ScopeFirm, ID: 4}}}, nil},
		} {
			if got := ids(c.q); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		if ms, err := model.MeetingPage(ctx, db, model.MeetingQuery{Organiser: 100}, m2.ID, 10); err != nil || len(ms) != 1 || ms[0].ID != m1.ID {
			t.Fatalf("page below %d: %+v, %v", m2.ID, ms, err)
		}
	})
	t.Run("moves compare the state", func(t *testing.T) {
		if got, err := model.ByID[model.Meeting](ctx, db, m1.ID); err != nil || got.State != model.MeetingDraft {
			t.Fatalf("take %+v, %v", got, err)
		}
		next := *m1
		next.State, next.ScheduledAt, next.UpdatedAt = model.MeetingScheduled, &now, now
		if n, err := model.MoveMeeting(ctx, db, &next, model.MeetingDraft); err != nil || n != 1 {
			t.Fatalf("move: %d, %v", n, err)
		}
		if n, err := model.MoveMeeting(ctx, db, &next, model.MeetingDraft); err != nil || n != 0 {
			t.Fatalf("the same move again: %d, %v", n, err)
		}
		got, err := model.LockByID[model.Meeting](ctx, db, m1.ID)
		if err != nil || got.State != model.MeetingScheduled || got.ScheduledAt == nil || !got.ScheduledAt.Equal(now) {
			t.Fatalf("after the move %+v, %v", got, err)
		}
		if _, err := model.LockByID[model.Meeting](ctx, db, 999999); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("lock a missing meeting: %v", err)
		}
	})
	t.Run("details compare state and version", func(t *testing.T) {
		m := *m2
		m.Title, m.Version = "改名", 2
		if n, err := model.UpdateMeetingDetails(ctx, db, &m, model.MeetingScheduled, 1); err != nil || n != 1 {
			t.Fatalf("update: %d, %v", n, err)
		}
		if n, err := model.UpdateMeetingDetails(ctx, db, &m, model.MeetingScheduled, 1); err != nil || n != 0 {
			t.Fatalf("stale update: %d, %v", n, err)
		}
	})
	t.Run("participants", func(t *testing.T) {
		invite(m2, 7, 2, 3, 4) // 2 is invited already
		if n, err := model.CountParticipants(ctx, db, m2.ID, 0); err != nil || n != 4 {
			t.Fatalf("%d participants, %v; want 4", n, err)
		}
		if n, err := model.CountParticipants(ctx, db, m2.ID, 7); err != nil || n != 2 {
			t.Fatalf("%d through group 7, %v; want 2", n, err)
		}
		var users []int64
		var after int64
		for {
			page, err := model.ParticipantsAfter(ctx, db, m2.ID, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page {
				users = append(users, p.UserID)
			}
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(users, []int64{1, 2, 3, 4}) {
			t.Fatalf("participants in pages %v", users)
		}
		last, err := model.LastParticipantID(ctx, db, m2.ID)
		if none, err2 := model.LastParticipantID(ctx, db, 999999); err != nil || err2 != nil || last == 0 || none != 0 {
			t.Fatalf("last participant %d, of none %d (%v, %v)", last, none, err, err2)
		}
		p, err := model.Participant(ctx, db, m2.ID, 3)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := model.SignInParticipant(ctx, db, p.ID, 3, now); err != nil || n != 1 {
			t.Fatalf("sign in: %d, %v", n, err)
		}
		if n, err := model.SignInParticipant(ctx, db, p.ID, 100, now); err != nil || n != 0 {
			t.Fatalf("sign in twice: %d, %v", n, err)
		}
		if err := model.AnswerRSVP(ctx, db, p.ID, model.RSVPDeclined, "出差", now); err != nil {
			t.Fatal(err)
		}
		counts, err := model.RSVPCounts(ctx, db, m2.ID)
		if err != nil {
			t.Fatal(err)
		}
		byAnswer := map[string]model.RSVPCount{}
		for _, c := range counts {
			byAnswer[c.RSVP] = c
		}
		if byAnswer[model.RSVPDeclined].N != 1 || byAnswer[model.RSVPDeclined].SignedIn != 1 || byAnswer[model.RSVPPending].N != 3 {
			t.Fatalf("counts %+v", counts)
		}
		yes := true
		signed, err := model.ParticipantPage(ctx, db, m2.ID, model.ParticipantQuery{SignedIn: &yes}, 0, 10)
		if err != nil || len(signed) != 1 || signed[0].UserID != 3 || signed[0].SignedInBy != 3 {
			t.Fatalf("signed in %+v, %v", signed, err)
		}
		if n, err := model.RemoveParticipant(ctx, db, m2.ID, 99); err != nil || n != 0 {
			t.Fatalf("remove a stranger: %d, %v", n, err)
		}
		if _, err := model.Participant(ctx, db, m2.ID, 99); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("a stranger's invitation: %v", err)
		}
	})
	t.Run("groups", func(t *testing.T) {
		gs := []model.MeetingGroup{{MeetingID: m3.ID, Kind: model.GroupCompoundResidents, TargetID: 5, Name: "全体居民"}}
		if err := model.AddMeetingGroups(ctx, db, gs); err != nil {
			t.Fatal(err)
		}
		if err := model.AddMeetingGroups(ctx, db, gs); err != nil { // kept, not doubled
			t.Fatal(err)
		}
		open, err := model.UnexpandedGroups(ctx, db, m3.ID)
		if err != nil || len(open) != 1 {
			t.Fatalf("unexpanded %+v, %v", open, err)
		}
		if err := model.MarkGroupExpanded(ctx, db, open[0].ID, 10, 9, now); err != nil {
			t.Fatal(err)
		}
		if open, err := model.UnexpandedGroups(ctx, db, m3.ID); err != nil || len(open) != 0 {
			t.Fatalf("unexpanded after marking %+v, %v", open, err)
		}
		all, err := model.MeetingGroups(ctx, db, m3.ID)
		if err != nil || len(all) != 1 || all[0].Found != 10 || all[0].Added != 9 {
			t.Fatalf("groups %+v, %v", all, err)
		}
		if n, err := model.CountMeetingGroups(ctx, db, m3.ID); err != nil || n != 1 {
			t.Fatalf("%d groups, %v", n, err)
		}
	})
	t.Run("minutes", func(t *testing.T) {
		if v, err := model.LastMinutesVersion(ctx, db, m2.ID); err != nil || v != 0 {
			t.Fatalf("no minutes yet: %d, %v", v, err)
		}
		for v := 1; v <= 2; v++ {
			if err := model.Create(ctx, db, &model.MeetingMinutes{MeetingID: m2.ID, Version: v, Text: "纪要", AuthorID: 100}); err != nil {
				t.Fatal(err)
			}
		}
		err := model.Create(ctx, db, &model.MeetingMinutes{MeetingID: m2.ID, Version: 2, Text: "纪要", AuthorID: 100})
		if !errors.Is(err, model.ErrDuplicate) {
			t.Fatalf("a version twice: %v, want ErrDuplicate", err)
		}
		list, err := model.MinutesOf(ctx, db, m2.ID)
		if v, err2 := model.LastMinutesVersion(ctx, db, m2.ID); err != nil || err2 != nil || v != 2 || len(list) != 2 || list[0].Version != 1 {
			t.Fatalf("minutes %+v, last %d (%v, %v)", list, v, err, err2)
		}
	})
}
