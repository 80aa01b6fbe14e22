package auth

import (
	"context"
	"slices"
	"sync"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// maxCachedUsers bounds the grant cache; past it the cache starts over
// (a miss costs one indexed query).
const maxCachedUsers = 20000

// grantCache keeps each user's live grants between requests, under the
// GrantsVersion they were loaded at. Every request reads the user's
// current GrantsVersion in the same statement that checks its session
// (model.CheckAuth), and a cached copy is used only while the two are
// equal. Every change of a grant moves the version in its own
// transaction, so a revoked grant never acts again, on any instance,
// from the very next request on; there is no TTL to wait out.
type grantCache struct {
	mu sync.Mutex
	m  map[int64]cachedGrants
}

type cachedGrants struct {
	version int64
	access  access
}

// access is what a user may do and where they live, loaded together
// under one GrantsVersion (a new grant or residency moves it).
type access struct {
	grants []model.Grant
	homes  []model.Residency
}

// loadAccess reads a user's live grants and residencies.
func loadAccess(ctx context.Context, db *gorm.DB, userID int64) (access, error) {
	grants, err := model.LiveGrants(ctx, db, userID)
	if err != nil {
		return access{}, err
	}
	homes, err := model.Residencies(ctx, db, userID)
	if err != nil {
		return access{}, err
	}
	return access{grants: grants, homes: homes}, nil
}

// actor is the service.Actor of userID with what access holds.
func (ac access) actor(userID int64) *service.Actor {
	return &service.Actor{UserID: userID, Grants: ac.grants, Homes: ac.homes, HomesKnown: true}
}

func newGrantCache() *grantCache { return &grantCache{m: map[int64]cachedGrants{}} }

// get returns a copy of userID's access cached at version.
func (c *grantCache) get(userID, version int64) (access, bool) {
	c.mu.Lock()
	e, ok := c.m[userID]
	c.mu.Unlock()
	if !ok || e.version != version {
		return access{}, false
	}
	return access{grants: slices.Clone(e.access.grants), homes: slices.Clone(e.access.homes)}, true
}

// load returns userID's access at version, from the cache or read (and
// kept).
func (c *grantCache) load(ctx context.Context, db *gorm.DB, userID, version int64) (access, error) {
	if ac, ok := c.get(userID, version); ok {
		return ac, nil
	}
	ac, err := loadAccess(ctx, db, userID)
	if err != nil {
		return access{}, err
	}
	c.put(userID, version, ac)
	return ac, nil
}

// put caches grants loaded after version was read: they are at least as
// new as version, never older.
func (c *grantCache) put(userID, version int64, ac access) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[userID]; ok && e.version > version {
		return // a newer load won the race
	}
	if len(c.m) >= maxCachedUsers {
		clear(c.m)
	}
	c.m[userID] = cachedGrants{version: version, access: access{grants: slices.Clone(ac.grants), homes: slices.Clone(ac.homes)}}
}

// maxCachedTokens bounds the token cache; past it the cache starts over.
const maxCachedTokens = 10000

// tokenCache keeps the claims of access tokens whose signature has been
// verified, by the exact token text: a client presents the same token for
// many requests, and verifying it (two base64 decodes, two JSON decodes,
// an HMAC) was a twentieth of a list's server time. Claims are immutable;
// a kept token is answered only while its times allow it. Whether its
// session is still live is asked separately, every request.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]*claims
}

func newTokenCache() *tokenCache { return &tokenCache{m: map[string]*claims{}} }

func (c *tokenCache) get(token string, now time.Time) (*claims, bool) {
	c.mu.Lock()
	cl, ok := c.m[token]
	c.mu.Unlock()
	if !ok || cl.ExpiresAt == nil || !now.Before(cl.ExpiresAt.Time) ||
		(cl.NotBefore != nil && now.Before(cl.NotBefore.Time)) {
		return nil, false
	}
	return cl, true
}

func (c *tokenCache) put(token string, cl *claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedTokens {
		clear(c.m)
	}
	c.m[token] = cl
}
