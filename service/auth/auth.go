// Package auth logs users in with WeChat, issues and verifies tokens, binds
// phone numbers and answers "who am I". It must not import gin or api/.
package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// WeChat is what auth needs from WeChat. Implementations return
// *service.Error for bad codes (400), rate limits (429) and outages (502/503).
type WeChat interface {
	Code2Session(ctx context.Context, code string) (openID, unionID string, err error)
	PhoneNumber(ctx context.Context, code string) (string, error)
}

// SandboxPrefix starts every made-up login code of the sandbox.
const SandboxPrefix = "sandbox:"

// Config of the auth service.
type Config struct {
	JWTSecret     []byte
	AccessTTL     time.Duration
	RefreshTTL    time.Duration
	PerIPPerMin   int
	PerCodePerMin int
	RedisPrefix   string
	Sandbox       bool // WeChat is simulated: sandbox codes are accepted
	// RefreshGrace is how long a rotated refresh token still gets the pair
	// its rotation issued (concurrent refreshes, a lost answer); 0 makes
	// every second use a replay.
	RefreshGrace time.Duration
	Log          *slog.Logger
	// ConsoleTicketTTL and ConsoleSessionTTL bound the PC console's scan
	// login (scan.go); defaults 3 minutes and 12 hours.
	ConsoleTicketTTL, ConsoleSessionTTL time.Duration
	// Names is the cache of display names (nil: none) that a user's new
	// name or phone invalidates.
	Names *model.NameCache
}

// Service is the auth capability.
type Service struct {
	db    *gorm.DB
	rdb   redis.UniversalClient
	wx    WeChat
	clock service.Clock
	cfg   Config
	limit service.Limiter
	local *localLimits // the login limits while Redis is unreachable
	// grants caches users' live grants across requests (see grantCache).
	grants *grantCache
	// live keeps the sessions found live, under a lease (see liveCache).
	live *liveCache
	// tokens keeps the claims of access tokens already verified.
	tokens *tokenCache
}

// New builds the service.
func New(db *gorm.DB, rdb redis.UniversalClient, wx WeChat, clock service.Clock, cfg Config) *Service {
	s := newService(db, rdb, wx, clock, cfg)
	// The changes written through db reach the cache before their commit.
	if err := model.WatchAuthChanges(db, s.live.heard); err != nil {
		panic(err) // registering a gorm plugin fails only on a name clash
	}
	return s
}

func newService(db *gorm.DB, rdb redis.UniversalClient, wx WeChat, clock service.Clock, cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	model.OrDefault(&cfg.ConsoleTicketTTL, 3*time.Minute)
	model.OrDefault(&cfg.ConsoleSessionTTL, 12*time.Hour)
	return &Service{db: db, rdb: rdb, wx: wx, clock: clock, cfg: cfg,
		limit: service.Limiter{Redis: rdb, Prefix: cfg.RedisPrefix, Clock: clock}, local: &localLimits{},
		grants: newGrantCache(), live: newLiveCache(), tokens: newTokenCache()}
}

// Errors of this package.
var (
	ErrMissingCode    = service.Invalid("missing_code", "缺少登录凭证 code")
	ErrSandboxOff     = service.Invalid("sandbox_disabled", "已配置真实微信小程序，不能使用沙箱登录码")
	ErrTokenInvalid   = service.Unauthorized("token_invalid", "登录已失效，请重新登录")
	ErrRefreshInvalid = service.Unauthorized("refresh_invalid", "登录已过期，请重新登录")
	ErrTooManyLogins  = "登录过于频繁，请稍后再试"
)

// Tokens are what a login or refresh hands out.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
}

// Login exchanges a wx.login code for tokens, creating the user on first
// login. The openid comes from WeChat only, never from the client.
func (s *Service) Login(ctx context.Context, code, ip string) (Tokens, model.User, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 128 {
		return Tokens{}, model.User{}, ErrMissingCode
	}
	if strings.HasPrefix(code, SandboxPrefix) && !s.cfg.Sandbox {
		return Tokens{}, model.User{}, ErrSandboxOff
	}
	if err := s.allow(ctx, "login:ip:"+ip, s.cfg.PerIPPerMin); err != nil {
		return Tokens{}, model.User{}, err
	}
	if err := s.allow(ctx, "login:code:"+digest(code), s.cfg.PerCodePerMin); err != nil {
		return Tokens{}, model.User{}, err
	}
	openID, unionID, err := s.wx.Code2Session(ctx, code)
	if err != nil {
		return Tokens{}, model.User{}, err
	}
	user, err := s.findOrCreate(ctx, openID, unionID)
	if err != nil {
		return Tokens{}, model.User{}, err
	}
	tok, err := s.startSession(ctx, user.ID)
	return tok, user, err
}

func (s *Service) allow(ctx context.Context, key string, limit int) error {
	rctx, cancel := context.WithTimeout(ctx, redisBudget)
	defer cancel()
	ok, wait, err := s.limit.Allow(rctx, key, limit, time.Minute)
	if err != nil {
		// Redis is down or too slow: count in this process instead of
		// refusing every login for the length of the outage.
		s.log().WarnContext(ctx, "login limit counted in process: redis unreachable", "err", err)
		ok, wait = s.local.allow(s.clock.Now(), key, limit, time.Minute)
	}
	if !ok {
		return service.RateLimited("too_many_logins", ErrTooManyLogins, wait)
	}
	return nil
}

func (s *Service) findOrCreate(ctx context.Context, openID, unionID string) (model.User, error) {
	u, err := model.UserByOpenID(ctx, s.db, openID)
	if err == nil {
		if unionID != "" && (u.UnionID == nil || *u.UnionID != unionID) {
			return model.Patch[model.User](ctx, s.db, u.ID, map[string]any{"union_id": unionID})
		}
		return u, nil
	}
	if !errors.Is(err, model.ErrNotFound) {
		return u, err
	}
	u = model.User{OpenID: &openID}
	if unionID != "" {
		u.UnionID = &unionID
	}
	err = model.Create(ctx, s.db, &u)
	if errors.Is(err, model.ErrDuplicate) {
		// A concurrent first login of the same user won the insert.
		return model.UserByOpenID(ctx, s.db, openID)
	}
	return u, err
}

type claims struct {
	jwt.RegisteredClaims
	// Family is the login session the token belongs to: logout ends it
	// even when the client no longer holds its refresh token.
	Family string `json:"fam,omitempty"`
}

// redisBudget bounds every Redis call of this package: Redis only speeds
// things up here (the grace cache) or limits logins, so a dead or frozen
// Redis must cost a request no more than this.
const redisBudget = 300 * time.Millisecond

// errRotated: another rotation of the same token committed first.
var errRotated = errors.New("refresh token rotated by a concurrent request")

// newPair signs an access token and draws a refresh token of the family.
func (s *Service) newPair(userID int64, family string) (Tokens, error) {
	now := s.clock.Now()
	t := Tokens{AccessExpiresAt: now.Add(s.cfg.AccessTTL), RefreshExpiresAt: now.Add(s.cfg.RefreshTTL)}
	c := claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject:   strconv.FormatInt(userID, 10),
		ID:        randomToken(12),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(t.AccessExpiresAt),
	}, Family: family}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.cfg.JWTSecret)
	if err != nil {
		return Tokens{}, err
	}
	t.AccessToken = signed
	t.RefreshToken = randomToken(32)
	return t, nil
}

// startSession records a new login session with its first refresh token.
func (s *Service) startSession(ctx context.Context, userID int64) (Tokens, error) {
	family := newFamily()
	t, err := s.newPair(userID, family)
	if err != nil {
		return t, err
	}
	now := s.clock.Now()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		if err := model.Create(ctx, tx, &model.AuthSession{Family: family, UserID: userID, CreatedAt: now,
			ExpiresAt: t.RefreshExpiresAt}); err != nil {
			return err
		}
		return model.Create(ctx, tx, &model.RefreshToken{Hash: digest(t.RefreshToken), Family: family,
			UserID: userID, CreatedAt: now, ExpiresAt: t.RefreshExpiresAt})
	})
	if err != nil {
		return Tokens{}, err
	}
	return t, nil
}

// Refresh rotates a refresh token: a new pair is issued and the old token
// is used up. A token is used up in the same transaction that records its
// successor, so a refresh that fails anywhere consumes nothing and its
// retry succeeds.
//
// Within RefreshGrace of its rotation, the old token presented again (a
// mini-program refreshing from several requests at once, or retrying a
// refresh whose answer it lost) gets the pair the rotation issued, kept in
// Redis for that long; when Redis cannot say, it gets another pair of the
// same session. Presented later, or after a token issued for it has been
// used, it is a replay: someone else holds a copy, and the whole session
// ends.
func (s *Service) Refresh(ctx context.Context, refresh string) (Tokens, error) {
	if refresh == "" || len(refresh) > 128 {
		return Tokens{}, ErrRefreshInvalid
	}
	h := digest(refresh)
	old, err := model.RefreshByHash(ctx, s.db, h)
	if errors.Is(err, model.ErrNotFound) {
		return Tokens{}, ErrRefreshInvalid
	}
	if err != nil {
		return Tokens{}, err
	}
	now := s.clock.Now()
	if !now.Before(old.ExpiresAt) {
		return Tokens{}, ErrRefreshInvalid
	}
	known, err := model.Exists[model.User](ctx, s.db, old.UserID)
	if err != nil {
		return Tokens{}, err
	}
	if !known {
		return Tokens{}, ErrRefreshInvalid
	}
	if old.UsedAt == nil {
		t, err := s.rotate(ctx, refresh, old, true)
		if !errors.Is(err, errRotated) {
			return t, err
		}
		// A concurrent request rotated it first: this one is a second use.
		if old, err = model.RefreshByHash(ctx, s.db, h); err != nil {
			return Tokens{}, err
		}
	}
	return s.reuse(ctx, refresh, old)
}

// rotate issues the successor of old. With consume it also marks old used
// (compare-and-set: errRotated when another request did first). It all
// commits together or not at all: the session row is locked first, so a
// revocation cannot slip between the check and the new token.
func (s *Service) rotate(ctx context.Context, refresh string, old model.RefreshToken, consume bool) (Tokens, error) {
	t, err := s.newPair(old.UserID, old.Family)
	if err != nil {
		return t, err
	}
	now := s.clock.Now()
	err = model.InTx(ctx, s.db, func(tx *gorm.DB) error {
		sess, err := model.LockSession(ctx, tx, old.Family)
		if errors.Is(err, model.ErrNotFound) {
			return ErrRefreshInvalid
		}
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil {
			return ErrRefreshInvalid
		}
		if consume {
			ok, err := model.MarkRefreshUsed(ctx, tx, old.Hash, now)
			if err != nil {
				return err
			}
			if !ok {
				return errRotated
			}
		}
		if err := model.Create(ctx, tx, &model.RefreshToken{Hash: digest(t.RefreshToken), Family: old.Family,
			UserID: old.UserID, Parent: old.Hash, CreatedAt: now, ExpiresAt: t.RefreshExpiresAt}); err != nil {
			return err
		}
		if err := model.ExtendSession(ctx, tx, old.Family, t.RefreshExpiresAt); err != nil {
			return err
		}
		if consume {
			// Kept before the commit, so a concurrent second use that
			// waited on the row lock finds it. A pair whose transaction
			// then fails is never handed out: reuse checks it was stored.
			s.keepForGrace(ctx, refresh, t)
		}
		return nil
	})
	if err != nil {
		return Tokens{}, err
	}
	return t, nil
}

// reuse answers a refresh token presented again after its rotation.
func (s *Service) reuse(ctx context.Context, refresh string, old model.RefreshToken) (Tokens, error) {
	now := s.clock.Now()
	replay := s.cfg.RefreshGrace <= 0 || old.UsedAt == nil || now.After(old.UsedAt.Add(s.cfg.RefreshGrace))
	if !replay {
		used, err := model.RefreshChildUsed(ctx, s.db, old.Hash)
		if err != nil {
			return Tokens{}, err
		}
		replay = used
	}
	if replay {
		if err := model.RevokeSession(ctx, s.db, old.Family, "replay", now); err != nil {
			return Tokens{}, err
		}
		return Tokens{}, ErrRefreshInvalid
	}
	if t, ok := s.graceAnswer(ctx, refresh); ok {
		return t, nil
	}
	// Redis lost the answer or cannot be reached: a sibling pair of the
	// same session serves the client as well.
	return s.rotate(ctx, refresh, old, false)
}

// keepForGrace stores the pair a rotation issued for the grace window,
// sealed with a key drawn from the old refresh token: the database keeps
// only its digest, so only a holder of that token can open the pair, and
// reading Redis is not enough to take over a session. Failing is harmless
// (reuse issues a sibling), so it is only logged.
func (s *Service) keepForGrace(ctx context.Context, oldToken string, t Tokens) {
	if s.cfg.RefreshGrace <= 0 {
		return
	}
	raw, err := json.Marshal(t)
	if err == nil {
		var sealed []byte
		if sealed, err = seal(oldToken, raw); err == nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisBudget)
			defer cancel()
			err = s.rdb.Set(rctx, s.key("grace:"+digest(oldToken)), sealed, s.cfg.RefreshGrace).Err()
		}
	}
	if err != nil {
		s.log().WarnContext(ctx, "refresh grace cache not written", "err", err)
	}
}

// graceAnswer reads the pair kept for a rotated token, if Redis has it
// and its transaction committed.
func (s *Service) graceAnswer(ctx context.Context, oldToken string) (Tokens, bool) {
	oldHash := digest(oldToken)
	rctx, cancel := context.WithTimeout(ctx, redisBudget)
	defer cancel()
	sealed, err := s.rdb.Get(rctx, s.key("grace:"+oldHash)).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			s.log().WarnContext(ctx, "refresh grace cache not read", "err", err)
		}
		return Tokens{}, false
	}
	raw, err := open(oldToken, sealed)
	var t Tokens
	if err != nil || json.Unmarshal(raw, &t) != nil {
		return Tokens{}, false
	}
	next, err := model.RefreshByHash(ctx, s.db, digest(t.RefreshToken))
	if err != nil || next.Parent != oldHash {
		return Tokens{}, false
	}
	return t, true
}

// graceKey is the AES key of a grace entry: a hash of the old refresh
// token apart from its digest (another prefix, all 32 bytes).
func graceKey(oldToken string) []byte {
	k := sha256.Sum256([]byte("redprop refresh grace\x00" + oldToken))
	return k[:]
}

func seal(oldToken string, plain []byte) ([]byte, error) {
	block, err := aes.NewCipher(graceKey(oldToken))
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

func open(oldToken string, sealed []byte) ([]byte, error) {
	block, err := aes.NewCipher(graceKey(oldToken))
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("grace entry too short")
	}
	n := gcm.NonceSize()
	return gcm.Open(nil, sealed[:n], sealed[n:], nil)
}

// Logout ends the session of the access token, and that of the refresh
// token if given. The end is recorded in the database, so it holds for
// every token of the session whether Redis is up or not.
func (s *Service) Logout(ctx context.Context, accessToken, refresh string) error {
	now := s.clock.Now()
	if c, err := s.parse(accessToken); err == nil && c.Family != "" {
		if err := model.RevokeSession(ctx, s.db, c.Family, "logout", now); err != nil {
			return err
		}
	}
	if refresh != "" {
		t, err := model.RefreshByHash(ctx, s.db, digest(refresh))
		if err == nil {
			return model.RevokeSession(ctx, s.db, t.Family, "logout", now)
		}
		if !errors.Is(err, model.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Purge deletes sessions and refresh tokens that have expired.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	n, err := model.PurgeSessions(ctx, s.db, s.clock.Now())
	if err != nil {
		return n, err
	}
	m, err := model.PurgeConsole(ctx, s.db, s.clock.Now())
	return n + m, err
}

// Run purges expired sessions every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
				service.LogPass(ctx, s.log(), "purge expired sessions", err)
			}
		}
	}
}

func (s *Service) log() *slog.Logger { return s.cfg.Log }

func (s *Service) parse(token string) (*claims, error) {
	now := s.clock.Now()
	if c, ok := s.tokens.get(token, now); ok {
		return c, nil
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		return s.cfg.JWTSecret, nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.clock.Now))
	if err != nil {
		return nil, err
	}
	s.tokens.put(token, &c)
	return &c, nil
}

// Authenticate verifies an access token and loads the user's live grants.
func (s *Service) Authenticate(ctx context.Context, token string) (*service.Actor, error) {
	c, err := s.parse(token)
	if err != nil {
		return nil, ErrTokenInvalid
	}
	userID, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil {
		return nil, ErrTokenInvalid
	}
	// The session must still be live: logged out (from this token or
	// another of it) or ended by a replayed refresh token, it is not. The
	// database says so, not Redis, so revocation holds while Redis is down.
	if c.Family == "" {
		return nil, ErrTokenInvalid
	}
	// A session found live is kept under a lease (liveCache): then the
	// request costs no statement. Otherwise one statement checks the
	// session and reads the user's grants version; the grants come from
	// the cache while that version holds.
	now := s.clock.Now()
	chk, ok := s.live.get(userID, c.Family, now)
	if !ok {
		began := s.live.begin()
		var err error
		if chk, err = model.CheckAuth(ctx, s.db, c.Family, userID, now); err != nil {
			return nil, err
		}
		if !chk.Live {
			return nil, ErrTokenInvalid
		}
		s.live.put(began, userID, c.Family, chk)
	}
	ac, err := s.grants.load(ctx, s.db, userID, chk.GrantsVersion)
	if err != nil {
		return nil, err
	}
	a := ac.actor(userID)
	a.Family, a.OwnReportsOnly = c.Family, !chk.ReportedForOthers
	return a, nil
}

// BindPhone asks WeChat for the phone number behind a getPhoneNumber code.
func (s *Service) BindPhone(ctx context.Context, a *service.Actor, code string) (model.User, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 128 {
		return model.User{}, ErrMissingCode
	}
	if strings.HasPrefix(code, SandboxPrefix) && !s.cfg.Sandbox {
		return model.User{}, ErrSandboxOff
	}
	phone, err := s.wx.PhoneNumber(ctx, code)
	if err != nil {
		return model.User{}, err
	}
	u, err := model.Patch[model.User](ctx, s.db, a.UserID, map[string]any{"phone": phone})
	if err == nil {
		s.cfg.Names.Forget(ctx, &model.User{}, a.UserID)
	}
	return u, err
}

// SetName lets a user set the name others see (grid workers need it).
func (s *Service) SetName(ctx context.Context, a *service.Actor, name string) (model.User, error) {
	name = strings.TrimSpace(name)
	if n := len([]rune(name)); n == 0 || n > 32 {
		return model.User{}, service.Invalid("bad_name", "姓名须为 1 到 32 个字符")
	}
	u, err := model.Patch[model.User](ctx, s.db, a.UserID, map[string]any{"display_name": name})
	if err == nil {
		s.cfg.Names.Forget(ctx, &model.User{}, a.UserID)
	}
	return u, err
}

// HouseholdView is one household of the user, with names for display.
type HouseholdView = model.HomeView

// Me is what GET /me answers.
type Me struct {
	User         model.User
	Households   []HouseholdView
	Applications []model.ResidencyApplication
	Grants       []model.Grant
}

// Me returns the user with their households, pending applications and grants.
func (s *Service) Me(ctx context.Context, a *service.Actor) (Me, error) {
	var m Me
	var err error
	if m.User, err = model.ByID[model.User](ctx, s.db, a.UserID); err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return m, ErrTokenInvalid
		}
		return m, err
	}
	if m.Households, err = model.HomesOf(ctx, s.db, a.UserID); err != nil {
		return m, err
	}
	if m.Applications, err = model.PendingApplicationsOf(ctx, s.db, a.UserID); err != nil {
		return m, err
	}
	m.Grants = a.Grants
	return m, nil
}

func (s *Service) key(k string) string { return s.cfg.RedisPrefix + "auth:" + k }

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the OS random source never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newFamily() string { return randomToken(9) }
