package model

import "time"

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
