package org_test

import (
	"errors"
	"fmt"
	"testing"

	"redprop/model"
	"redprop/service"
	"redprop/service/org"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

// env is the demo city of the shared harness with the org service over it.
type env struct {
	*servicetest.City
	svc *org.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := servicetest.New(t)
	return &env{City: c, svc: org.New(c.DB, c.Clock, nil)}
}

// actor is the demo person (or a user made by user) with the grants they
// hold now, as auth would load them: read afresh, since the tests revoke
// and redeem grants through the service.
func (f *env) actor(name string) *service.Actor {
	f.T.Helper()
	return f.User(f.UserID(name))
}

// user creates a user without grants or home.
func (f *env) user(name string) *service.Actor {
	f.T.Helper()
	openID := wechat.SandboxOpenID(name)
	u := model.User{OpenID: &openID, DisplayName: name}
	servicetest.Must(f.T, model.Create(f.Ctx, f.DB, &u))
	f.Users[name] = u.ID
	return f.actor(name)
}

// grant gives name (made a user first if need be) a grant directly and
// returns the refreshed actor.
func (f *env) grant(name, role, kind string, id int64, anc model.Ancestry) *service.Actor {
	f.T.Helper()
	if _, ok := f.Users[name]; !ok {
		f.user(name)
	}
	f.Grant(name, role, kind, id, anc)
	return f.actor(name)
}

// staff makes a new user holding role over a region.
func (f *env) staff(name, role string, r model.Region) *service.Actor {
	f.T.Helper()
	return f.grant(name, role, r.Level, r.ID, r.Ancestry)
}

func (f *env) region(id int64) model.Region {
	f.T.Helper()
	r, err := model.ByID[model.Region](f.Ctx, f.DB, id)
	servicetest.Must(f.T, err)
	return r
}

// count counts the rows of m.
func (f *env) count(m any) int64 {
	f.T.Helper()
	var n int64
	servicetest.Must(f.T, f.DB.Model(m).Count(&n).Error)
	return n
}

// snapshot counts every table the org API writes.
func (f *env) snapshot() string {
	return fmt.Sprint(f.count(&model.Region{}), f.count(&model.Compound{}), f.count(&model.Grid{}), f.count(&model.Building{}),
		f.count(&model.Household{}), f.count(&model.Firm{}), f.count(&model.Contract{}), f.count(&model.Committee{}), f.count(&model.Department{}))
}

// wantCode fails unless err is a service error with code, and returns it.
func wantCode(t *testing.T, err error, code string) *service.Error {
	t.Helper()
	servicetest.WantCode(t, err, code)
	var e *service.Error
	errors.As(err, &e)
	return e
}

// must unwraps a (value, error) result: must(call())(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
