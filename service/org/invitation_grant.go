package org

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"redprop/model"
	"redprop/service"
)

// Errors of grants.
var (
	errGrantList         = service.Forbidden("cannot_list_grants", "您无权查看授权列表")
	errGrantGone         = service.NotFound("grant_not_found", "授权不存在")
	errGrantOwn          = service.Unprocessable("cannot_revoke_own", "不能撤销自己的授权，请联系上级")
	errGrantNotYours     = service.Forbidden("cannot_revoke_grant", "您无权撤销该授权")
	errGrantWasRevoked   = service.Conflict("grant_already_revoked", "该授权已被撤销")
	errFirstAdminTTL     = service.Invalid("bad_ttl", "有效期须在 1 分钟到 90 天之间")
	errFirstAdminNameLen = service.Invalid("bad_name", "姓名不能超过 32 个字")
)

// GrantFilter narrows a list of grants; zero fields do not filter.
type GrantFilter struct {
	UserID         int64
	Role           string
	ScopeKind      string
	ScopeID        int64
	IncludeRevoked bool
}

// GrantView is a grant with the name of its holder.
type GrantView = model.GrantView

// ListGrants lists the grants within the actor's scope, newest first.
func (s *Service) ListGrants(ctx context.Context, a *service.Actor, f GrantFilter, p service.Page) (service.Paged[GrantView], error) {
	areas, all := grantAreas(a)
	if !all && len(areas) == 0 {
		return service.Paged[GrantView]{}, errGrantList
	}
	q, err := grantQuery(f)
	if err != nil {
		return service.Paged[GrantView]{}, err
	}
	q.All, q.Areas = all, areas
	return model.GrantsPage(ctx, s.db, q, p)
}

// AdminListGrants lists every grant matching f, for the command line,
// which acts with the server's own authority and has no actor.
func (s *Service) AdminListGrants(ctx context.Context, f GrantFilter, p service.Page) (service.Paged[GrantView], error) {
	q, err := grantQuery(f)
	if err != nil {
		return service.Paged[GrantView]{}, err
	}
	q.All = true
	return model.GrantsPage(ctx, s.db, q, p)
}

// grantQuery checks a filter's role and scope kind and turns it into the
// storage's query.
func grantQuery(f GrantFilter) (model.GrantQuery, error) {
	if f.Role != "" {
		if _, ok := roleScopes[f.Role]; !ok {
			return model.GrantQuery{}, errInviteRole
		}
	}
	if f.ScopeKind != "" && !grantableScopeKind(f.ScopeKind) {
		return model.GrantQuery{}, errInviteScopeKind
	}
	return model.GrantQuery{UserID: f.UserID, Role: f.Role, ScopeKind: f.ScopeKind, ScopeID: f.ScopeID,
		IncludeRevoked: f.IncludeRevoked}, nil
}

// RevokeGrant revokes someone's grant. Only a person who could have
// invited that role over that scope may do it; nobody revokes their own
// grants here (a last admin locking themself out is a CLI job).
func (s *Service) RevokeGrant(ctx context.Context, a *service.Actor, id int64) (model.Grant, error) {
	g, err := s.grantByID(ctx, id)
	if err != nil {
		return g, err
	}
	if g.UserID == a.UserID {
		return g, errGrantOwn
	}
	// The scope object's current ancestry is the truth; the copy on the
	// grant serves only if the object has since been deleted.
	t, err := s.grantScopeTarget(ctx, g.ScopeKind, g.ScopeID)
	if errors.Is(err, errInviteScope) {
		t, err = service.Target{Kind: g.ScopeKind, ID: g.ScopeID, Ancestry: g.Ancestry}, nil
	}
	if err != nil {
		return g, err
	}
	if !canInvite(a, g.Role, t) {
		return g, errGrantNotYours
	}
	return s.revokeGrant(ctx, id, a.UserID)
}

// AdminRevokeGrant revokes any grant, for the command line.
func (s *Service) AdminRevokeGrant(ctx context.Context, id int64) (model.Grant, error) {
	if _, err := s.grantByID(ctx, id); err != nil {
		return model.Grant{}, err
	}
	return s.revokeGrant(ctx, id, 0)
}

func (s *Service) revokeGrant(ctx context.Context, id, by int64) (model.Grant, error) {
	now := s.clock.Now().UTC().Truncate(time.Microsecond)
	n, err := model.RevokeGrant(ctx, s.db, id, by, now)
	if err != nil {
		return model.Grant{}, err
	}
	g, err := s.grantByID(ctx, id)
	if err != nil {
		return g, err
	}
	if n == 0 {
		return g, errGrantWasRevoked
	}
	return g, nil
}

func (s *Service) grantByID(ctx context.Context, id int64) (model.Grant, error) {
	return take[model.Grant](ctx, s.db, id, errGrantGone)
}

// CreateFirstAdmin makes a single-use platform_admin invitation for the
// command line: the person named logs in with WeChat and redeems the code.
// It works on a database that already has admins too, as the way back in
// when every admin lost access. ttl 0 means one day.
func (s *Service) CreateFirstAdmin(ctx context.Context, displayName string, ttl time.Duration) (model.Invitation, error) {
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	if ttl < InvitationMinTTL || ttl > InvitationMaxTTL {
		return model.Invitation{}, errFirstAdminTTL
	}
	displayName = strings.TrimSpace(displayName)
	if utf8.RuneCountInString(displayName) > 32 {
		return model.Invitation{}, errFirstAdminNameLen
	}
	note := "平台管理员"
	if displayName != "" {
		note += "：" + displayName
	}
	inv := model.Invitation{
		Role: model.RolePlatformAdmin, ScopeKind: model.ScopePlatform, MaxUses: 1, Note: note,
		ExpiresAt: s.clock.Now().UTC().Add(ttl).Truncate(time.Second),
	}
	return inv, s.insertInvitation(ctx, &inv)
}
