package auth

import (
	"slices"
	"sync"
	"time"

	"redprop/model"
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
	grants  []model.Grant
}

func newGrantCache() *grantCache { return &grantCache{m: map[int64]cachedGrants{}} }

// get returns a copy of userID's grants cached at version.
func (c *grantCache) get(userID, version int64) ([]model.Grant, bool) {
	c.mu.Lock()
	e, ok := c.m[userID]
	c.mu.Unlock()
	if !ok || e.version != version {
		return nil, false
	}
	return slices.Clone(e.grants), true
}

// put caches grants loaded after version was read: they are at least as
// new as version, never older.
func (c *grantCache) put(userID, version int64, grants []model.Grant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[userID]; ok && e.version > version {
		return // a newer load won the race
	}
	if len(c.m) >= maxCachedUsers {
		clear(c.m)
	}
	c.m[userID] = cachedGrants{version: version, grants: slices.Clone(grants)}
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
