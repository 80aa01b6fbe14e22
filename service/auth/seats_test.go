package auth_test

import (
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service/auth"
)

// Who fills a seat (asked by every order move) is answered from what an
// instance keeps while it reads the changes: no statement once loaded, a
// revoked holder gone on every instance once the revocation returns, a
// new one seen within a lease, the writer's own transaction answered by
// the database, and the database asked again once the reads stop.
func TestSeatsKeptUnderALease(t *testing.T) {
	f := newFixture(t, nil, "")
	p := newPair(t, f)
	seat := model.Seat{Role: model.RoleGridWorker, ScopeKind: model.ScopeGrid, ScopeID: 9}
	// holders answers the users filling seat on s, and the statements the
	// answer took.
	holders := func(t *testing.T, s *auth.Service, db *gorm.DB) (string, int) {
		t.Helper()
		var gs []model.Grant
		var err error
		sql := p.statements(func() { gs, err = s.Holders(f.ctx, db, seat) })
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, g := range gs {
			ids = append(ids, g.UserID)
		}
		return fmt.Sprint(ids), len(sql)
	}
	instances := []*auth.Service{f.svc, p.other}
	eventually := func(t *testing.T, want string) {
		t.Helper()
		p.eventually(t, instances, want, func(s *auth.Service) string {
			got, _ := holders(t, s, f.db)
			return got
		})
	}
	first := model.Grant{UserID: 501, Role: seat.Role, ScopeKind: seat.ScopeKind, ScopeID: seat.ScopeID}
	if err := model.Create(f.ctx, f.db, &first); err != nil {
		t.Fatal(err)
	}
	t.Run("a seat once loaded costs no statement", func(t *testing.T) {
		eventually(t, "[501]")
	})
	t.Run("a revoked holder is gone everywhere once the revocation returns", func(t *testing.T) {
		if n, err := model.RevokeGrant(f.ctx, f.db, first.ID, 1, f.clock.Now()); err != nil || n != 1 {
			t.Fatalf("revoke: %d %v", n, err)
		}
		for i, s := range instances {
			if got, _ := holders(t, s, f.db); got != "[]" {
				t.Fatalf("instance %d right after the revocation: %s", i+1, got)
			}
		}
		eventually(t, "[]")
	})
	t.Run("the writer's own transaction sees its new holder", func(t *testing.T) {
		err := model.InTx(f.ctx, f.db, func(tx *gorm.DB) error {
			g := model.Grant{UserID: 502, Role: seat.Role, ScopeKind: seat.ScopeKind, ScopeID: seat.ScopeID}
			if err := model.Create(f.ctx, tx, &g); err != nil {
				return err
			}
			if got, _ := holders(t, f.svc, tx); got != "[502]" {
				t.Errorf("inside the granting transaction: %s", got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "[502]")
	})
	t.Run("an instance that stops reading the changes asks the database", func(t *testing.T) {
		p.stopOther()
		time.Sleep(2 * model.AuthChangeLease)
		if _, statements := holders(t, p.other, f.db); statements == 0 {
			t.Fatal("answered from the cache past its lease")
		}
		// A change it never reads: only the database can tell it.
		if err := f.db.Exec("UPDATE grants SET revoked_at = ? WHERE user_id = 502", f.clock.Now()).Error; err != nil {
			t.Fatal(err)
		}
		if got, _ := holders(t, p.other, f.db); got != "[]" {
			t.Fatalf("past its lease: %s", got)
		}
	})
}

// Where a user lives comes with their grants, under the same version: a
// new residency counts from the next request, a removed one is gone on
// every instance once the removal returns, and known homes cost no
// statement.
func TestHomesKeptWithTheGrants(t *testing.T) {
	f := newFixture(t, nil, "")
	p := newPair(t, f)
	tok, user, err := f.svc.Login(f.ctx, "sandbox:newcomer", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	homes := func(t *testing.T, s *auth.Service) string {
		t.Helper()
		a, err := s.Authenticate(f.ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if !a.HomesKnown {
			t.Fatal("an authenticated actor without its homes")
		}
		var ids []int64
		for _, r := range a.Homes {
			ids = append(ids, r.HouseholdID)
		}
		return fmt.Sprint(ids)
	}
	instances := []*auth.Service{f.svc, p.other}
	eventually := func(t *testing.T, want string) {
		t.Helper()
		p.eventually(t, instances, want, func(s *auth.Service) string { return homes(t, s) })
	}
	eventually(t, "[]")
	home := model.Residency{UserID: user.ID, HouseholdID: 4242, Relation: model.RelationOwner,
		Ancestry: model.Ancestry{CityID: 1, CompoundID: 42, GridID: 4}}
	if err := model.Create(f.ctx, f.db, &home); err != nil {
		t.Fatal(err)
	}
	if got := homes(t, f.svc); got != "[4242]" {
		t.Fatalf("right after moving in, where it was recorded: %s", got)
	}
	eventually(t, "[4242]")
	if n, err := model.DeleteResidency(f.ctx, f.db, home.ID); err != nil || n != 1 {
		t.Fatalf("remove: %d %v", n, err)
	}
	for i, s := range instances {
		if got := homes(t, s); got != "[]" {
			t.Fatalf("instance %d right after the removal: %s", i+1, got)
		}
	}
	eventually(t, "[]")
}
