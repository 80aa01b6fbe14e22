package model

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Meeting kinds (DESIGN.md §2, §6).
const (
	MeetingJoint      = "joint"      // 联席会议
	MeetingTripartite = "tripartite" // 三方协调议事: party branch, committee, firm
	MeetingTalk       = "talk"       // 民情恳谈 / 每周说事 / 民情下午茶
	MeetingAssembly   = "assembly"   // 业主大会
	MeetingOther      = "other"
)

// Meeting states. A change of time or place keeps a scheduled meeting
// scheduled and bumps its Version.
//
//	draft → scheduled → held → minuted → closed
//	draft | scheduled → cancelled
const (
	MeetingDraft     = "draft"
	MeetingScheduled = "scheduled"
	MeetingHeld      = "held"
	MeetingMinuted   = "minuted"
	MeetingClosed    = "closed"
	MeetingCancelled = "cancelled"
)

// Meeting is a meeting called by an organiser (a person acting for the
// community, a party branch, a committee or the street) within the scope
// ScopeKind/ScopeID, whose place in the tree Ancestry holds.
type Meeting struct {
	Base
	Kind  string `gorm:"size:16;not null"`
	Title string `gorm:"size:60;not null"`
	// OrganiserID is the user who called it, acting in OrganiserRole.
	OrganiserID   int64  `gorm:"not null;index;uniqueIndex:ux_meeting_idem,priority:1"`
	OrganiserRole string `gorm:"size:32;not null"`
	ScopeKind     string `gorm:"size:16;not null"` // street, community or compound
	ScopeID       int64  `gorm:"not null"`
	Ancestry

	State    string    `gorm:"size:16;not null"`
	StartsAt time.Time `gorm:"not null"`
	EndsAt   time.Time `gorm:"not null"`
	Place    string    `gorm:"size:100"`
	// OnlineURL is the link of an online meeting (腾讯会议 …), with or
	// without a place.
	OnlineURL   string              `gorm:"size:300"`
	Note        string              `gorm:"size:1000"`
	Agenda      []AgendaItem        `gorm:"type:text;serializer:json"`
	Attachments []MeetingAttachment `gorm:"type:text;serializer:json"`

	// Version counts the changes of title, time or place told to the
	// participants; reminder event keys carry it, so that re-armed
	// reminders are not taken for the withdrawn ones.
	Version int `gorm:"not null;default:1"`

	// SignInCode is shown at the venue while the meeting is held and
	// accepted until SignInUntil.
	SignInCode  string `gorm:"size:8"`
	SignInUntil *time.Time

	ScheduledAt  *time.Time
	HeldAt       *time.Time
	MinutedAt    *time.Time
	ClosedAt     *time.Time
	CancelledAt  *time.Time
	CancelReason string `gorm:"size:200"`

	// IdemKey is the organiser's Idempotency-Key; unique per organiser.
	IdemKey *string `gorm:"size:64;uniqueIndex:ux_meeting_idem,priority:2"`
}

// AgendaItem is one point of a meeting's agenda.
type AgendaItem struct {
	Title     string `json:"title"`
	Presenter string `json:"presenter,omitempty"`
	Minutes   int    `json:"minutes,omitempty"` // planned length
}

// MeetingAttachment is a photo uploaded by the organiser (PhotoID) or a
// link to a file kept elsewhere (URL), with a name to show.
type MeetingAttachment struct {
	Name    string `json:"name"`
	PhotoID int64  `json:"photo_id,omitempty"`
	URL     string `json:"url,omitempty"`
}

// Kinds of participant group, each naming whose members it expands to.
const (
	GroupCompoundCommittee = "compound_committee"    // committee members of compound TargetID
	GroupCompoundBranch    = "compound_party_branch" // party branch of compound TargetID
	GroupCommunityStaff    = "community_staff"       // staff of community TargetID
	GroupFirmManagers      = "firm_managers"         // managers of firm TargetID
	GroupGridStewards      = "grid_stewards"         // building stewards of the buildings of grid TargetID
	GroupCompoundResidents = "compound_residents"    // everyone living in compound TargetID
)

// MeetingGroup is a group invited to a meeting. It expands into
// MeetingParticipant rows when the meeting is sent (or, for a group added
// to a scheduled meeting, when it is added): later joiners are not
// invited.
type MeetingGroup struct {
	Base
	MeetingID  int64  `gorm:"not null;uniqueIndex:ux_meeting_group,priority:1"`
	Kind       string `gorm:"size:24;not null;uniqueIndex:ux_meeting_group,priority:2"`
	TargetID   int64  `gorm:"not null;uniqueIndex:ux_meeting_group,priority:3"`
	Name       string `gorm:"size:100;not null"` // e.g. 金日天玺全体居民
	ExpandedAt *time.Time
	Found      int `gorm:"not null;default:0"` // members the group yielded
	Added      int `gorm:"not null;default:0"` // of them, not already invited
}

// RSVP answers of a participant.
const (
	RSVPPending   = "pending"
	RSVPAttending = "attending"
	RSVPDeclined  = "declined"
)

// MeetingParticipant is one person invited to a meeting, by name (GroupID
// 0) or through a group. (meeting, user) is unique: a person in two groups
// is invited, told and counted once.
type MeetingParticipant struct {
	Base
	MeetingID     int64  `gorm:"not null;uniqueIndex:ux_meeting_participant,priority:1;index:ix_participant_user,priority:2"`
	UserID        int64  `gorm:"not null;uniqueIndex:ux_meeting_participant,priority:2;index:ix_participant_user,priority:1"`
	GroupID       int64  `gorm:"not null;default:0"`
	RSVP          string `gorm:"column:rsvp;size:16;not null;default:pending"`
	DeclineReason string `gorm:"size:200"`
	RespondedAt   *time.Time
	SignedInAt    *time.Time
	SignedInBy    int64 `gorm:"not null;default:0"` // the participant, or the organiser who signed them in
}

// MeetingMinutes is one published version of a meeting's minutes. A
// published version is never changed: a correction is the next version.
type MeetingMinutes struct {
	Base
	MeetingID   int64               `gorm:"not null;uniqueIndex:ux_meeting_minutes,priority:1"`
	Version     int                 `gorm:"not null;uniqueIndex:ux_meeting_minutes,priority:2"`
	Text        string              `gorm:"type:text;not null"`
	Attachments []MeetingAttachment `gorm:"type:text;serializer:json"`
	Correction  string              `gorm:"size:200"` // what a later version corrects
	AuthorID    int64               `gorm:"not null"`
}

// UpdateMeetingDetails writes m's title, time, place, note, agenda,
// attachments, version and updated_at if the row is still in state at
// version. It returns the rows affected: 0 when it moved meanwhile.
func UpdateMeetingDetails(ctx context.Context, tx *gorm.DB, m *Meeting, state string, version int) (int64, error) {
	res := tx.WithContext(ctx).Model(&Meeting{}).Where("id = ? AND state = ? AND version = ?", m.ID, state, version).
		Select("title", "starts_at", "ends_at", "place", "online_url", "note", "agenda", "attachments", "version", "updated_at").
		Updates(m)
	return res.RowsAffected, Translate(res.Error)
}

// MoveMeeting writes next's state and the columns a move of state sets
// (the instants, the sign-in code and its end, the cancel reason, and
// updated_at) if the row is still in state from. It returns the rows
// affected: 0 when someone else moved it first.
func MoveMeeting(ctx context.Context, tx *gorm.DB, next *Meeting, from string) (int64, error) {
	res := tx.WithContext(ctx).Model(&Meeting{}).Where("id = ? AND state = ?", next.ID, from).Updates(map[string]any{
		"state": next.State, "scheduled_at": next.ScheduledAt, "held_at": next.HeldAt, "minuted_at": next.MinutedAt,
		"closed_at": next.ClosedAt, "cancelled_at": next.CancelledAt, "cancel_reason": next.CancelReason,
		"sign_in_code": next.SignInCode, "sign_in_until": next.SignInUntil, "updated_at": next.UpdatedAt,
	})
	return res.RowsAffected, Translate(res.Error)
}

// SetSignInCode replaces a meeting's sign-in code.
func SetSignInCode(ctx context.Context, tx *gorm.DB, id int64, code string, now time.Time) error {
	return Translate(tx.WithContext(ctx).Model(&Meeting{}).Where("id = ?", id).
		Updates(map[string]any{"sign_in_code": code, "updated_at": now}).Error)
}

// MeetingQuery selects meetings: those organised by Organiser, those
// Invitee is invited to, or those inside any of Places (exactly one is
// set), narrowed by State, or by any state but NotState.
type MeetingQuery struct {
	Organiser int64
	Invitee   int64
	Places    []Place
	State     string
	NotState  string
}

// MeetingPage is a page of the meetings q selects, newest first: up to
// limit meetings with an id below before (0: from the newest).
func MeetingPage(ctx context.Context, db *gorm.DB, q MeetingQuery, before int64, limit int) ([]Meeting, error) {
	tx := db.WithContext(ctx).Table("meetings AS m")
	switch {
	case q.Organiser != 0:
		tx = tx.Where("m.organiser_id = ?", q.Organiser)
	case q.Invitee != 0:
		tx = tx.Joins("JOIN meeting_participants AS p ON p.meeting_id = m.id").Where("p.user_id = ?", q.Invitee)
	default:
		var conds []string
		var args []any
		for _, p := range q.Places {
			if col := AncestryColumn(p.Kind); col != "" {
				conds, args = append(conds, "m."+col+" = ?"), append(args, p.ID)
			}
		}
		if len(conds) == 0 {
			return nil, nil
		}
		tx = tx.Where(strings.Join(conds, " OR "), args...)
	}
	if q.State != "" {
		tx = tx.Where("m.state = ?", q.State)
	}
	if q.NotState != "" {
		tx = tx.Where("m.state <> ?", q.NotState)
	}
	if before > 0 {
		tx = tx.Where("m.id < ?", before)
	}
	var ms []Meeting
	err := tx.Select("m.*").Order("m.id DESC").Limit(limit).Find(&ms).Error
	return ms, Translate(err)
}

// MeetingGroups returns a meeting's groups by id.
func MeetingGroups(ctx context.Context, db *gorm.DB, meetingID int64) ([]MeetingGroup, error) {
	var gs []MeetingGroup
	err := db.WithContext(ctx).Where("meeting_id = ?", meetingID).Order("id").Find(&gs).Error
	return gs, Translate(err)
}

// UnexpandedGroups returns the groups of a meeting not yet expanded, by id.
func UnexpandedGroups(ctx context.Context, db *gorm.DB, meetingID int64) ([]MeetingGroup, error) {
	var gs []MeetingGroup
	err := db.WithContext(ctx).Where("meeting_id = ? AND expanded_at IS NULL", meetingID).Order("id").Find(&gs).Error
	return gs, Translate(err)
}

// CountMeetingGroups counts a meeting's groups.
func CountMeetingGroups(ctx context.Context, db *gorm.DB, meetingID int64) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&MeetingGroup{}).Where("meeting_id = ?", meetingID).Count(&n).Error
	return n, Translate(err)
}

// AddMeetingGroups inserts groups; a group the meeting already has is
// kept as it is.
func AddMeetingGroups(ctx context.Context, tx *gorm.DB, groups []MeetingGroup) error {
	if len(groups) == 0 {
		return nil
	}
	return Translate(tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&groups).Error)
}

// MarkGroupExpanded records that a group was expanded, with what it
// yielded.
func MarkGroupExpanded(ctx context.Context, tx *gorm.DB, groupID int64, found, added int64, now time.Time) error {
	return Translate(tx.WithContext(ctx).Model(&MeetingGroup{}).Where("id = ?", groupID).
		Updates(map[string]any{"expanded_at": now, "found": found, "added": added, "updated_at": now}).Error)
}

// RemoveMeetingGroup deletes a group of a meeting; it returns the rows
// affected (0: no such group).
func RemoveMeetingGroup(ctx context.Context, tx *gorm.DB, meetingID, groupID int64) (int64, error) {
	res := tx.WithContext(ctx).Where("meeting_id = ? AND id = ?", meetingID, groupID).Delete(&MeetingGroup{})
	return res.RowsAffected, Translate(res.Error)
}

// InviteParticipants inserts participant rows; a person the meeting
// already invited is kept as they are (the (meeting, user) key).
func InviteParticipants(ctx context.Context, tx *gorm.DB, rows []MeetingParticipant) error {
	if len(rows) == 0 {
		return nil
	}
	return Translate(tx.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error)
}

// RemoveParticipant deletes a person's invitation; it returns the rows
// affected (0: not invited).
func RemoveParticipant(ctx context.Context, tx *gorm.DB, meetingID, userID int64) (int64, error) {
	res := tx.WithContext(ctx).Where("meeting_id = ? AND user_id = ?", meetingID, userID).Delete(&MeetingParticipant{})
	return res.RowsAffected, Translate(res.Error)
}

// Participant reads a person's invitation to a meeting.
func Participant(ctx context.Context, db *gorm.DB, meetingID, userID int64) (MeetingParticipant, error) {
	var p MeetingParticipant
	err := db.WithContext(ctx).Where("meeting_id = ? AND user_id = ?", meetingID, userID).Take(&p).Error
	return p, Translate(err)
}

// ParticipationsOf returns a user's invitations to any of meetings.
func ParticipationsOf(ctx context.Context, db *gorm.DB, userID int64, meetingIDs []int64) ([]MeetingParticipant, error) {
	if len(meetingIDs) == 0 {
		return nil, nil
	}
	var ps []MeetingParticipant
	err := db.WithContext(ctx).Where("user_id = ? AND meeting_id IN ?", userID, meetingIDs).Find(&ps).Error
	return ps, Translate(err)
}

// ParticipantsAfter is a keyset page of a meeting's participants: up to
// limit rows with an id above after, by id, holding only ID and UserID.
func ParticipantsAfter(ctx context.Context, db *gorm.DB, meetingID, after int64, limit int) ([]MeetingParticipant, error) {
	var rows []MeetingParticipant
	err := db.WithContext(ctx).Select("id", "user_id").Where("meeting_id = ? AND id > ?", meetingID, after).
		Order("id").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// ParticipantQuery narrows a meeting's participant list: by RSVP answer
// and by having signed in or not, when set.
type ParticipantQuery struct {
	RSVP     string
	SignedIn *bool
}

// ParticipantPage is a page of a meeting's participants under q, newest
// invitation first: up to limit rows with an id below before (0: from the
// newest).
func ParticipantPage(ctx context.Context, db *gorm.DB, meetingID int64, q ParticipantQuery, before int64, limit int) ([]MeetingParticipant, error) {
	tx := db.WithContext(ctx).Where("meeting_id = ?", meetingID)
	if q.RSVP != "" {
		tx = tx.Where("rsvp = ?", q.RSVP)
	}
	if q.SignedIn != nil {
		if *q.SignedIn {
			tx = tx.Where("signed_in_at IS NOT NULL")
		} else {
			tx = tx.Where("signed_in_at IS NULL")
		}
	}
	if before > 0 {
		tx = tx.Where("id < ?", before)
	}
	var rows []MeetingParticipant
	err := tx.Order("id DESC").Limit(limit).Find(&rows).Error
	return rows, Translate(err)
}

// CountParticipants counts a meeting's participants; with groupID set,
// only those invited through that group.
func CountParticipants(ctx context.Context, db *gorm.DB, meetingID, groupID int64) (int64, error) {
	q := db.WithContext(ctx).Model(&MeetingParticipant{}).Where("meeting_id = ?", meetingID)
	if groupID != 0 {
		q = q.Where("group_id = ?", groupID)
	}
	var n int64
	err := q.Count(&n).Error
	return n, Translate(err)
}

// LastParticipantID is the highest participant row id of a meeting (0 if
// none).
func LastParticipantID(ctx context.Context, db *gorm.DB, meetingID int64) (int64, error) {
	var last int64
	err := db.WithContext(ctx).Model(&MeetingParticipant{}).Where("meeting_id = ?", meetingID).
		Select("COALESCE(MAX(id), 0)").Scan(&last).Error
	return last, Translate(err)
}

// RSVPCount is how many participants of a meeting gave one answer, and
// how many of them signed in.
type RSVPCount struct {
	RSVP     string
	N        int64
	SignedIn int64
}

// RSVPCounts counts a meeting's participants by answer.
func RSVPCounts(ctx context.Context, db *gorm.DB, meetingID int64) ([]RSVPCount, error) {
	var rows []RSVPCount
	err := db.WithContext(ctx).Model(&MeetingParticipant{}).
		Select("rsvp, COUNT(*) AS n, COUNT(signed_in_at) AS signed_in").
		Where("meeting_id = ?", meetingID).Group("rsvp").Scan(&rows).Error
	return rows, Translate(err)
}

// AnswerRSVP records a participant's answer.
func AnswerRSVP(ctx context.Context, tx *gorm.DB, participantID int64, answer, reason string, now time.Time) error {
	return Translate(tx.WithContext(ctx).Model(&MeetingParticipant{}).Where("id = ?", participantID).
		Updates(map[string]any{"rsvp": answer, "decline_reason": reason, "responded_at": now, "updated_at": now}).Error)
}

// SetDeclineReason replaces the decline reason of a person's invitation.
func SetDeclineReason(ctx context.Context, tx *gorm.DB, meetingID, userID int64, reason string) error {
	return Translate(tx.WithContext(ctx).Model(&MeetingParticipant{}).Where("meeting_id = ? AND user_id = ?", meetingID, userID).
		Update("decline_reason", reason).Error)
}

// SignInParticipant marks a participant signed in by who, if they are not
// yet. It returns the rows affected: 0 when they signed in meanwhile.
func SignInParticipant(ctx context.Context, db *gorm.DB, participantID, by int64, now time.Time) (int64, error) {
	res := db.WithContext(ctx).Model(&MeetingParticipant{}).Where("id = ? AND signed_in_at IS NULL", participantID).
		Updates(map[string]any{"signed_in_at": now, "signed_in_by": by, "updated_at": now})
	return res.RowsAffected, Translate(res.Error)
}

// LastMinutesVersion is the latest published version of a meeting's
// minutes (0 if none).
func LastMinutesVersion(ctx context.Context, db *gorm.DB, meetingID int64) (int, error) {
	var last int
	err := db.WithContext(ctx).Model(&MeetingMinutes{}).Where("meeting_id = ?", meetingID).
		Select("COALESCE(MAX(version), 0)").Scan(&last).Error
	return last, Translate(err)
}

// MinutesOf returns every version of a meeting's minutes, oldest first.
func MinutesOf(ctx context.Context, db *gorm.DB, meetingID int64) ([]MeetingMinutes, error) {
	var out []MeetingMinutes
	err := db.WithContext(ctx).Where("meeting_id = ?", meetingID).Order("version").Find(&out).Error
	return out, Translate(err)
}
