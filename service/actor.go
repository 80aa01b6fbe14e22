package service

import (
	"slices"
	"time"

	"redprop/model"
)

// Actor is the authenticated user a service acts for, with their live
// grants. It travels as an explicit argument.
type Actor struct {
	UserID int64
	Grants []model.Grant
	// Family is the mini-program login session the request's token
	// belongs to; empty for a PC console session, which cannot vouch for
	// another login (扫码登录 is confirmed from the mini-program only).
	Family string
	// OwnReportsOnly: the user has never submitted an order for someone
	// else (model.User.ReportedForOthers), so their own orders are those
	// they are the resident of. False when unknown.
	OwnReportsOnly bool
	// Homes are the user's residencies, oldest first, when HomesKnown
	// (loaded with the grants, under the same version); otherwise ask
	// the database.
	Homes      []model.Residency
	HomesKnown bool
}

// Target is something a scope may cover: a node of the tree or an
// organisation (firm, department), with its ancestry.
type Target struct {
	Kind string // a model.Scope* kind
	ID   int64
	model.Ancestry
}

// TargetOf returns the target of a tree row of the given kind.
func TargetOf(kind string, id int64, anc model.Ancestry) Target {
	return Target{Kind: kind, ID: id, Ancestry: anc}
}

// ScopeCovers reports whether a grant's scope contains t.
func ScopeCovers(g model.Grant, t Target) bool {
	if g.ScopeKind == model.ScopePlatform {
		return true
	}
	if g.ScopeKind == t.Kind && g.ScopeID == t.ID {
		return true
	}
	// Firm and department scopes cover only themselves (Of is 0).
	id := t.Of(g.ScopeKind)
	return id != 0 && id == g.ScopeID
}

// Can reports whether the actor holds one of roles over t.
func (a *Actor) Can(t Target, roles ...string) bool {
	return a.grantFor(t, roles) != nil
}

// GrantFor returns the first grant with one of roles covering t, or nil.
func (a *Actor) grantFor(t Target, roles []string) *model.Grant {
	if a == nil {
		return nil
	}
	for i := range a.Grants {
		g := &a.Grants[i]
		if (len(roles) == 0 || slices.Contains(roles, g.Role)) && ScopeCovers(*g, t) {
			return g
		}
	}
	return nil
}

// GrantFor returns the grant that lets the actor act on t in one of roles.
func (a *Actor) GrantFor(t Target, roles ...string) (model.Grant, bool) {
	g := a.grantFor(t, roles)
	if g == nil {
		return model.Grant{}, false
	}
	return *g, true
}

// Has reports whether the actor holds any of roles anywhere.
func (a *Actor) Has(roles ...string) bool {
	if a == nil {
		return false
	}
	for _, g := range a.Grants {
		if slices.Contains(roles, g.Role) {
			return true
		}
	}
	return false
}

// Scopes returns the grants of the actor in one of roles.
func (a *Actor) Scopes(roles ...string) []model.Grant {
	if a == nil {
		return nil
	}
	var out []model.Grant
	for _, g := range a.Grants {
		if slices.Contains(roles, g.Role) {
			out = append(out, g)
		}
	}
	return out
}

// IsAdmin reports whether the actor is a platform admin.
func (a *Actor) IsAdmin() bool { return a.Has(model.RolePlatformAdmin) }

// Clock tells the time; tests use a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock, in UTC.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }
