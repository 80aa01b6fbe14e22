package org

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Limits of an invitation.
const (
	InvitationDefaultTTL = 7 * 24 * time.Hour
	InvitationMaxTTL     = 90 * 24 * time.Hour
	InvitationMinTTL     = time.Minute
	InvitationMaxUses    = 1000
	invitationCodeLen    = 12
)

// codeAlphabet leaves out 0/O and 1/I/L: codes are read aloud and typed
// from paper notices.
const codeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// roleScopes lists the scope kinds each role may be granted over.
var roleScopes = map[string][]string{
	model.RolePlatformAdmin:   {model.ScopePlatform},
	model.RoleCityStaff:       {model.ScopeCity},
	model.RoleDistrictStaff:   {model.ScopeDistrict},
	model.RoleStreetStaff:     {model.ScopeStreet},
	model.RoleCommunityStaff:  {model.ScopeCommunity},
	model.RoleCommunityDuty:   {model.ScopeCommunity},
	model.RoleGridWorker:      {model.ScopeGrid},
	model.RoleBuildingSteward: {model.ScopeBuilding},
	model.RoleFirmManager:     {model.ScopeFirm},
	model.RoleFirmWorker:      {model.ScopeFirm},
	model.RoleDepartmentStaff: {model.ScopeDepartment},
	model.RoleCommittee:       {model.ScopeCompound},
	model.RolePartyBranch:     {model.ScopeCommunity, model.ScopeCompound},
	model.RoleVolunteer:       {model.ScopeCommunity, model.ScopeCompound},
}

// Errors of invitations and grants.
var (
	errInviteRole       = service.Invalid("bad_role", "未知的角色")
	errInviteScopeKind  = service.Invalid("bad_scope_kind", "未知的范围类型")
	errInviteMismatch   = service.Unprocessable("role_scope_mismatch", "该角色不能授予在这种范围上")
	errInviteScope      = service.NotFound("scope_not_found", "授权范围对应的对象不存在")
	errInviteForbidden  = service.Forbidden("cannot_invite", "您无权在该范围内邀请该角色")
	errInviteMaxUses    = service.Invalid("bad_max_uses", "可使用次数须在 1 到 1000 之间")
	errInviteExpiry     = service.Invalid("bad_expiry", "有效期须在 1 分钟到 90 天之间，且只能指定 expires_in 或 expires_at 之一")
	errInviteNote       = service.Invalid("note_too_long", "备注不能超过 100 个字")
	errInviteCode       = service.Invalid("missing_code", "请输入邀请码")
	errInviteUnknown    = service.NotFound("invitation_not_found", "邀请码不存在，请核对后重新输入")
	errInviteExpired    = service.Unprocessable("invitation_expired", "邀请码已过期，请联系邀请人重新获取")
	errInviteUsedUp     = service.Conflict("invitation_used_up", "邀请码的使用次数已用完")
	errInviteRevoked    = service.Unprocessable("invitation_revoked", "邀请码已被撤销")
	errInviteRedeemed   = service.Conflict("already_redeemed", "您已使用过该邀请码")
	errInviteHeld       = service.Conflict("already_granted", "您已拥有该角色和范围的授权")
	errInviteGone       = service.NotFound("invitation_not_found", "邀请不存在")
	errInviteNotYours   = service.Forbidden("cannot_revoke_invitation", "只有邀请人或有权发出该邀请的人可以撤销")
	errInviteStale      = service.Unprocessable("invitation_stale", "邀请人已无权发出该邀请，邀请码已失效，请联系有权限的人重新邀请")
	errInviteWasRevoked = service.Conflict("invitation_already_revoked", "该邀请已被撤销")
)

// InvitationInput describes an invitation to create. Give ExpiresIn or
// ExpiresAt, not both; with neither it lasts InvitationDefaultTTL.
type InvitationInput struct {
	Role      string
	ScopeKind string
	ScopeID   int64
	ExpiresIn time.Duration
	ExpiresAt *time.Time
	MaxUses   int
	Note      string
}

// CreateInvitation creates a code that grants in.Role over the scope to
// whoever redeems it. Nobody can invite beyond their own scope.
func (s *Service) CreateInvitation(ctx context.Context, a *service.Actor, in InvitationInput) (model.Invitation, error) {
	t, err := s.checkInvitationInput(ctx, in)
	if err != nil {
		return model.Invitation{}, err
	}
	if !canInvite(a, in.Role, t) {
		return model.Invitation{}, errInviteForbidden
	}
	now := s.clock.Now().UTC()
	expires := now.Add(InvitationDefaultTTL)
	switch {
	case in.ExpiresIn != 0 && in.ExpiresAt != nil:
		return model.Invitation{}, errInviteExpiry
	case in.ExpiresIn != 0:
		expires = now.Add(in.ExpiresIn)
	case in.ExpiresAt != nil:
		expires = in.ExpiresAt.UTC()
	}
	if d := expires.Sub(now); d < InvitationMinTTL || d > InvitationMaxTTL {
		return model.Invitation{}, errInviteExpiry
	}
	inv := model.Invitation{
		Role: in.Role, ScopeKind: in.ScopeKind, ScopeID: t.ID, ExpiresAt: expires.Truncate(time.Second),
		MaxUses: in.MaxUses, Note: strings.TrimSpace(in.Note), CreatedBy: a.UserID, Ancestry: t.Ancestry,
	}
	return inv, s.insertInvitation(ctx, &inv)
}

func (s *Service) checkInvitationInput(ctx context.Context, in InvitationInput) (service.Target, error) {
	kinds, ok := roleScopes[in.Role]
	if !ok {
		return service.Target{}, errInviteRole
	}
	if !grantableScopeKind(in.ScopeKind) {
		return service.Target{}, errInviteScopeKind
	}
	if !slices.Contains(kinds, in.ScopeKind) {
		return service.Target{}, errInviteMismatch
	}
	if in.MaxUses < 1 || in.MaxUses > InvitationMaxUses {
		return service.Target{}, errInviteMaxUses
	}
	if utf8.RuneCountInString(strings.TrimSpace(in.Note)) > 100 {
		return service.Target{}, errInviteNote
	}
	return s.grantScopeTarget(ctx, in.ScopeKind, in.ScopeID)
}

func (s *Service) insertInvitation(ctx context.Context, inv *model.Invitation) error {
	// A 12-letter code (about 59 bits) practically never repeats, but the unique index is the
	// judge: draw again rather than fail the creator.
	for range 3 {
		inv.ID = 0
		inv.Code = newInvitationCode()
		err := model.Create(ctx, s.db, inv)
		if !errors.Is(err, model.ErrDuplicate) {
			return err
		}
	}
	return errors.New("could not draw a unique invitation code")
}

func grantableScopeKind(k string) bool {
	switch k {
	case model.ScopePlatform, model.ScopeCity, model.ScopeDistrict, model.ScopeStreet, model.ScopeCommunity,
		model.ScopeCompound, model.ScopeGrid, model.ScopeBuilding, model.ScopeFirm, model.ScopeDepartment:
		return true
	}
	return false
}

// grantScopeTarget loads the object a scope names and returns it as a target
// with its ancestry (its own id included), as grants and ScopeCovers see it.
func (s *Service) grantScopeTarget(ctx context.Context, kind string, id int64) (service.Target, error) {
	t := service.Target{Kind: kind, ID: id}
	if kind == model.ScopePlatform {
		if id != 0 {
			return t, errInviteScope
		}
		return t, nil
	}
	if id <= 0 {
		return t, errInviteScope
	}
	if !grantableScopeKind(kind) {
		return t, errInviteScopeKind
	}
	anc, err := model.ScopeAncestry(ctx, s.db, kind, id)
	if errors.Is(err, model.ErrNotFound) {
		return t, errInviteScope
	}
	if err != nil {
		return t, err
	}
	t.Ancestry = anc
	grantTargetSelf(&t)
	return t, nil
}

// grantTargetSelf records a tree node's own id in its ancestry column, so
// that rows created without it are still covered by grants on themselves.
func grantTargetSelf(t *service.Target) { t.Ancestry.Set(t.Kind, t.ID) }

func newInvitationCode() string {
	b := make([]byte, invitationCodeLen)
	out := make([]byte, 0, invitationCodeLen)
	for len(out) < invitationCodeLen {
		if _, err := rand.Read(b); err != nil {
			panic(err) // the OS random source never fails on supported systems
		}
		for _, c := range b {
			// Rejection sampling keeps every letter equally likely.
			if int(c) < 256/len(codeAlphabet)*len(codeAlphabet) && len(out) < invitationCodeLen {
				out = append(out, codeAlphabet[int(c)%len(codeAlphabet)])
			}
		}
	}
	return string(out)
}

// normalizeCode accepts codes as people type them: lower case, with
// spaces or dashes between groups.
func normalizeCode(code string) string {
	code = strings.ToUpper(code)
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code)
}

// Redeem turns an invitation code into a grant for the actor. The use
// count, the once-per-user redemption and the grant are written in one
// transaction; the count is a guarded increment, so concurrent redeemers of
// a last use cannot both win.
//
// Expired and revoked codes answer 422 (the code exists but can no longer
// be used: the client should ask for a new one); a used-up code answers 409
// (others took the uses); an unknown code 404.
func (s *Service) Redeem(ctx context.Context, a *service.Actor, code string) (model.Grant, error) {
	code = normalizeCode(code)
	if code == "" {
		return model.Grant{}, errInviteCode
	}
	if len(code) > 32 {
		return model.Grant{}, errInviteUnknown
	}
	now := s.clock.Now().UTC()
	var g model.Grant
	var lost bool
	err := model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		inv, err := model.InvitationByCode(ctx, tx, code)
		if errors.Is(err, model.ErrNotFound) {
			return errInviteUnknown
		}
		if err != nil {
			return err
		}
		// Once a user has redeemed a code, that is the answer whatever the
		// code's state now; a refused redemption rolls back with the rest.
		err = model.Create(ctx, tx, &model.Redemption{InvitationID: inv.ID, UserID: a.UserID})
		if errors.Is(err, model.ErrDuplicate) {
			return errInviteRedeemed
		}
		if err != nil {
			return err
		}
		if err := invitationUsable(inv, now); err != nil {
			return err
		}
		// An invitation speaks for its creator: once they may no longer
		// grant that role there (their grant was revoked), nor may it.
		// Invitations of the command line (no creator) stand alone.
		if inv.CreatedBy != 0 {
			grants, err := model.LiveGrants(ctx, tx, inv.CreatedBy)
			if err != nil {
				return err
			}
			creator := &service.Actor{UserID: inv.CreatedBy, Grants: grants}
			if !canInvite(creator, inv.Role, service.Target{Kind: inv.ScopeKind, ID: inv.ScopeID, Ancestry: inv.Ancestry}) {
				return errInviteStale
			}
		}
		// One redemption of a user at a time: two codes for the same role
		// and scope redeemed at once must not both pass the check below.
		if err := model.LockUser(ctx, tx, a.UserID); err != nil {
			return err
		}
		held, err := model.Holds(ctx, tx, a.UserID, model.Seat{Role: inv.Role, ScopeKind: inv.ScopeKind, ScopeID: inv.ScopeID})
		if err != nil {
			return err
		}
		if held {
			return errInviteHeld
		}
		spent, err := model.SpendInvitation(ctx, tx, inv.ID, now)
		if err != nil {
			return err
		}
		if spent == 0 {
			lost = true
			return errInviteUsedUp // rolls back the redemption; classified below
		}
		g = model.Grant{
			UserID: a.UserID, Role: inv.Role, ScopeKind: inv.ScopeKind, ScopeID: inv.ScopeID,
			InvitationID: inv.ID, CreatedBy: inv.CreatedBy, Ancestry: inv.Ancestry,
		}
		return model.Create(ctx, tx, &g)
	})
	if lost {
		// Someone else changed the invitation between our read and the
		// increment: say what it is now.
		if inv, rerr := model.InvitationByCode(ctx, s.db, code); rerr == nil {
			if uerr := invitationUsable(inv, now); uerr != nil {
				return model.Grant{}, uerr
			}
		}
	}
	return g, err
}

// invitationUsable says why an invitation cannot be redeemed at now.
func invitationUsable(inv model.Invitation, now time.Time) error {
	switch {
	case inv.RevokedAt != nil:
		return errInviteRevoked
	case !inv.ExpiresAt.After(now):
		return errInviteExpired
	case inv.Uses >= inv.MaxUses:
		return errInviteUsedUp
	}
	return nil
}

// InvitationState names where an invitation stands now: active, revoked,
// expired or used_up.
func (s *Service) InvitationState(inv model.Invitation) string {
	switch invitationUsable(inv, s.clock.Now()) {
	case errInviteRevoked:
		return "revoked"
	case errInviteExpired:
		return "expired"
	case errInviteUsedUp:
		return "used_up"
	}
	return "active"
}

// MyInvitations lists the invitations the actor created, newest first.
func (s *Service) MyInvitations(ctx context.Context, a *service.Actor, p service.Page) (service.Paged[model.Invitation], error) {
	return model.InvitationsBy(ctx, s.db, a.UserID, p)
}

// RevokeInvitation stops an invitation from being redeemed again; grants
// already made from it stay (revoke them one by one).
func (s *Service) RevokeInvitation(ctx context.Context, a *service.Actor, id int64) (model.Invitation, error) {
	inv, err := take[model.Invitation](ctx, s.db, id, errInviteGone)
	if err != nil {
		return inv, err
	}
	t := service.Target{Kind: inv.ScopeKind, ID: inv.ScopeID, Ancestry: inv.Ancestry}
	if inv.CreatedBy != a.UserID && !canInvite(a, inv.Role, t) {
		return inv, errInviteNotYours
	}
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	n, err := model.RevokeInvitation(ctx, s.db, id, now)
	if err != nil {
		return inv, err
	}
	if inv, err = model.ByID[model.Invitation](ctx, s.db, id); err != nil {
		return inv, err
	}
	if n == 0 {
		return inv, errInviteWasRevoked
	}
	return inv, nil
}
