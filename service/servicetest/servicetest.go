// Package servicetest is the shared test harness of the capabilities: a
// clean database with the demo city loaded, a fake clock, the demo people
// as actors with their live grants, extra grants and uploaded photos. Tests
// of service/… and api/ use it instead of a copy per package.
//
// It is imported by tests only. It must not import a capability package
// (service/order, service/meeting, …): their own tests import it, and a
// capability's internal test importing a package that imports the
// capability is a cycle.
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/demo"
)

// Start is the harness clock's first reading: Monday 2026-11-23, 10:00 in
// Beijing, a working day.
var Start = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

// City is the demo city in a fresh database.
type City struct {
	T     testing.TB
	Ctx   context.Context
	DB    *gorm.DB
	Clock *service.FakeClock
	*demo.City

	actors map[string]*service.Actor
}

// New opens a clean database, loads the demo city into it at Start and
// returns the harness. Options run before the city is loaded (e.g. seeding
// the order categories, which the demo's contracts do not need).
func New(t testing.TB, before ...func(ctx context.Context, db *gorm.DB) error) *City {
	t.Helper()
	ctx := context.Background()
	db := dbtest.Open(t)
	clock := service.NewFakeClock(Start)
	for _, f := range before {
		if err := f(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	city, err := demo.Load(ctx, db, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &City{T: t, Ctx: ctx, DB: db, Clock: clock, City: city, actors: map[string]*service.Actor{}}
}

// UserID is the id of a demo person, failing the test for an unknown name.
func (c *City) UserID(name string) int64 {
	c.T.Helper()
	id, ok := c.Users[name]
	if !ok {
		c.T.Fatalf("no demo user %q", name)
	}
	return id
}

// Actor is a demo person with their live grants, as the auth middleware
// loads them. It is cached until Grant or Forget changes them.
func (c *City) Actor(name string) *service.Actor {
	c.T.Helper()
	if a, ok := c.actors[name]; ok {
		return a
	}
	a := c.User(c.UserID(name))
	c.actors[name] = a
	return a
}

// User is any user with their live grants, read now.
func (c *City) User(id int64) *service.Actor {
	c.T.Helper()
	gs, err := model.LiveGrants(c.Ctx, c.DB, id)
	if err != nil {
		c.T.Fatal(err)
	}
	return &service.Actor{UserID: id, Grants: gs}
}

// Forget drops the cached actor of name, so the next Actor reads again.
func (c *City) Forget(name string) { delete(c.actors, name) }

// Grant gives a demo person one more grant and returns it.
func (c *City) Grant(name, role, kind string, scopeID int64, anc model.Ancestry) model.Grant {
	c.T.Helper()
	g := model.Grant{UserID: c.UserID(name), Role: role, ScopeKind: kind, ScopeID: scopeID, Ancestry: anc}
	if err := c.DB.Create(&g).Error; err != nil {
		c.T.Fatal(err)
	}
	c.Forget(name)
	return g
}

// Photo stores an uploaded photo of the demo person (no file behind it)
// and returns its id.
func (c *City) Photo(name string) int64 {
	c.T.Helper()
	var b [8]byte
	rand.Read(b[:])
	p := model.Photo{Key: hex.EncodeToString(b[:]), UploaderID: c.UserID(name), Mime: "image/jpeg", Size: 10,
		SHA256: strings.Repeat("0", 64)}
	if err := c.DB.Create(&p).Error; err != nil {
		c.T.Fatal(err)
	}
	return p.ID
}

// WantErr fails the test unless err is a service error of kind (and of
// code, when code is not empty).
func WantErr(t testing.TB, err error, kind service.Kind, code string) {
	t.Helper()
	var se *service.Error
	if !errors.As(err, &se) || se.Kind != kind || (code != "" && se.Code != code) {
		t.Fatalf("error %v, want kind %d code %q", err, kind, code)
	}
}

// WantCode fails the test unless err is a service error with code.
func WantCode(t testing.TB, err error, code string) {
	t.Helper()
	var se *service.Error
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("error %v, want code %q", err, code)
	}
}

// Must fails the test on err.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Step runs one scenario of a long test as a named subtest, the harness
// failing through the subtest while it runs. A failed step stops the
// test: the steps after it build on what it did.
func (c *City) Step(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	ok := t.Run(name, func(t *testing.T) {
		parent := c.T
		c.T = t
		defer func() { c.T = parent }()
		f(t)
	})
	if !ok {
		t.FailNow()
	}
}
