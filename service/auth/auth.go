// Package auth logs users in with WeChat, issues and verifies tokens, binds
// phone numbers and answers "who am I". It must not import gin or api/.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
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
}

// Service is the auth capability.
type Service struct {
	db    *gorm.DB
	rdb   redis.UniversalClient
	wx    WeChat
	clock service.Clock
	cfg   Config
	limit service.Limiter
}

// New builds the service.
func New(db *gorm.DB, rdb redis.UniversalClient, wx WeChat, clock service.Clock, cfg Config) *Service {
	return &Service{db: db, rdb: rdb, wx: wx, clock: clock, cfg: cfg,
		limit: service.Limiter{Redis: rdb, Prefix: cfg.RedisPrefix, Clock: clock}}
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
	tok, err := s.issue(ctx, user.ID, newFamily())
	return tok, user, err
}

func (s *Service) allow(ctx context.Context, key string, limit int) error {
	ok, wait, err := s.limit.Allow(ctx, key, limit, time.Minute)
	if err != nil {
		return err
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

var errRedisDown = service.Unavailable("redis_down", "服务繁忙，请稍后再试")

// storeRefresh records a refresh token in its family unless the family has
// been revoked (a stolen token was replayed, or the user logged out):
// then nothing is stored and it returns 0.
var storeRefresh = redis.NewScript(`
if redis.call("EXISTS", KEYS[3]) == 1 then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[3])
redis.call("SADD", KEYS[2], ARGV[2])
redis.call("PEXPIRE", KEYS[2], ARGV[3])
return 1`)

// takeRefresh swaps a refresh token for its value and marks it rotated in
// one step, so that a concurrent replay of the same token always finds
// the mark.
var takeRefresh = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if not v then return false end
redis.call("DEL", KEYS[1])
redis.call("SET", KEYS[2], v, "PX", ARGV[1])
return v`)

// issue creates an access token and a refresh token of the given family.
func (s *Service) issue(ctx context.Context, userID int64, family string) (Tokens, error) {
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
		return t, err
	}
	t.AccessToken = signed
	t.RefreshToken = randomToken(32)
	val := fmt.Sprintf("%d|%d|%s", userID, t.RefreshExpiresAt.Unix(), family)
	h := digest(t.RefreshToken)
	stored, err := storeRefresh.Run(ctx, s.rdb,
		[]string{s.key("refresh:" + h), s.key("family:" + family), s.key("revoked:" + family)},
		val, h, s.cfg.RefreshTTL.Milliseconds()).Int()
	if err != nil {
		return t, errRedisDown.Wrap(err)
	}
	if stored == 0 {
		return Tokens{}, ErrRefreshInvalid
	}
	return t, nil
}

// Refresh rotates a refresh token: the old one stops working, a new pair
// is issued. Presenting an already rotated token revokes its whole family
// (someone else holds a copy).
func (s *Service) Refresh(ctx context.Context, refresh string) (Tokens, error) {
	if refresh == "" || len(refresh) > 128 {
		return Tokens{}, ErrRefreshInvalid
	}
	h := digest(refresh)
	val, err := takeRefresh.Run(ctx, s.rdb, []string{s.key("refresh:" + h), s.key("rotated:" + h)},
		s.cfg.RefreshTTL.Milliseconds()).Text()
	if errors.Is(err, redis.Nil) {
		// Unknown, or rotated before: a replayed copy ends its whole family.
		if old, err := s.rdb.Get(ctx, s.key("rotated:"+h)).Result(); err == nil {
			if _, _, fam, ok := parseRefresh(old); ok {
				if err := s.revokeFamily(ctx, fam); err != nil {
					return Tokens{}, err
				}
			}
		}
		return Tokens{}, ErrRefreshInvalid
	}
	if err != nil {
		return Tokens{}, errRedisDown.Wrap(err)
	}
	userID, exp, family, ok := parseRefresh(val)
	if !ok || s.clock.Now().Unix() >= exp {
		return Tokens{}, ErrRefreshInvalid
	}
	s.rdb.SRem(ctx, s.key("family:"+family), h)
	known, err := model.Exists[model.User](ctx, s.db, userID)
	if err != nil {
		return Tokens{}, err
	}
	if !known {
		return Tokens{}, ErrRefreshInvalid
	}
	return s.issue(ctx, userID, family)
}

func parseRefresh(val string) (userID, exp int64, family string, ok bool) {
	parts := strings.Split(val, "|")
	if len(parts) != 3 {
		return 0, 0, "", false
	}
	u, err1 := strconv.ParseInt(parts[0], 10, 64)
	e, err2 := strconv.ParseInt(parts[1], 10, 64)
	return u, e, parts[2], err1 == nil && err2 == nil
}

// revokeFamily ends a login session: its refresh tokens go, and the mark
// stops a rotation under way from adding a new one to it.
func (s *Service) revokeFamily(ctx context.Context, family string) error {
	if err := s.rdb.Set(ctx, s.key("revoked:"+family), "1", s.cfg.RefreshTTL).Err(); err != nil {
		return errRedisDown.Wrap(err)
	}
	members, _ := s.rdb.SMembers(ctx, s.key("family:"+family)).Result()
	keys := []string{s.key("family:" + family)}
	for _, m := range members {
		keys = append(keys, s.key("refresh:"+m))
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		return errRedisDown.Wrap(err)
	}
	return nil
}

// Logout revokes the access token itself and its login session (the
// family named in the token, and that of the refresh token if given).
func (s *Service) Logout(ctx context.Context, accessToken, refresh string) error {
	if c, err := s.parse(accessToken); err == nil {
		if ttl := c.ExpiresAt.Time.Sub(s.clock.Now()); ttl > 0 {
			if err := s.rdb.Set(ctx, s.key("deny:"+c.ID), "1", ttl).Err(); err != nil {
				return errRedisDown.Wrap(err)
			}
		}
		if c.Family != "" {
			if err := s.revokeFamily(ctx, c.Family); err != nil {
				return err
			}
		}
	}
	if refresh != "" {
		if val, err := s.rdb.Get(ctx, s.key("refresh:"+digest(refresh))).Result(); err == nil {
			if _, _, fam, ok := parseRefresh(val); ok {
				return s.revokeFamily(ctx, fam)
			}
		}
	}
	return nil
}

func (s *Service) parse(token string) (*claims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		return s.cfg.JWTSecret, nil
	}, jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(s.clock.Now))
	if err != nil {
		return nil, err
	}
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
	// The token itself logged out, or its session ended (logout from
	// another token of it, or a replayed refresh token).
	keys := []string{s.key("deny:" + c.ID)}
	if c.Family != "" {
		keys = append(keys, s.key("revoked:"+c.Family))
	}
	denied, err := s.rdb.Exists(ctx, keys...).Result()
	if err != nil {
		return nil, errRedisDown.Wrap(err)
	}
	if denied > 0 {
		return nil, ErrTokenInvalid
	}
	grants, err := model.LiveGrants(ctx, s.db, userID)
	if err != nil {
		return nil, err
	}
	return &service.Actor{UserID: userID, Grants: grants}, nil
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
	return model.Patch[model.User](ctx, s.db, a.UserID, map[string]any{"phone": phone})
}

// SetName lets a user set the name others see (grid workers need it).
func (s *Service) SetName(ctx context.Context, a *service.Actor, name string) (model.User, error) {
	name = strings.TrimSpace(name)
	if n := len([]rune(name)); n == 0 || n > 32 {
		return model.User{}, service.Invalid("bad_name", "姓名须为 1 到 32 个字符")
	}
	return model.Patch[model.User](ctx, s.db, a.UserID, map[string]any{"display_name": name})
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
