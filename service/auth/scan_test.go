package auth_test

import (
	"sync"
	"testing"
	"time"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
	"redprop/service/auth"
	"redprop/service/servicetest"
	"redprop/service/wechat"
)

type scanFixture struct {
	city *servicetest.City
	svc  *auth.Service
}

func newScan(t *testing.T) *scanFixture {
	city := servicetest.New(t)
	rdb, prefix := dbtest.Redis(t)
	svc := auth.New(city.DB, rdb, wechat.NewSandbox(), city.Clock, auth.Config{
		JWTSecret: []byte("test-secret-test-secret-test-secret"), AccessTTL: 15 * time.Minute, RefreshTTL: 24 * time.Hour,
		PerIPPerMin: 1000, PerCodePerMin: 1000, RedisPrefix: prefix, Sandbox: true,
		ConsoleTicketTTL: 3 * time.Minute, ConsoleSessionTTL: 12 * time.Hour,
	})
	return &scanFixture{city: city, svc: svc}
}

// phone logs a demo person in from the mini-program and returns the
// actor its token authenticates as.
func (f *scanFixture) phone(t *testing.T, name string) (*service.Actor, auth.Tokens) {
	t.Helper()
	tok, _, err := f.svc.Login(f.city.Ctx, "sandbox:"+name, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.svc.Authenticate(f.city.Ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	return a, tok
}

// console logs the console in as name by a scanned ticket.
func (f *scanFixture) console(t *testing.T, name string) (string, auth.Tokens) {
	t.Helper()
	a, tok := f.phone(t, name)
	tk, err := f.svc.NewTicket(f.city.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ConfirmTicket(f.city.Ctx, a, tk.Ticket); err != nil {
		t.Fatal(err)
	}
	c, err := f.svc.ClaimTicket(f.city.Ctx, tk.Ticket, tk.PollSecret)
	if err != nil || c.State != auth.TicketConfirmed || c.Session == "" {
		t.Fatalf("claim: %+v %v", c, err)
	}
	return c.Session, tok
}

func TestScanLogin(t *testing.T) {
	t.Run("a confirmed ticket gives its browser one session of the confirming user", func(t *testing.T) {
		f := newScan(t)
		a, _ := f.phone(t, "community")
		tk, err := f.svc.NewTicket(f.city.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(tk.Ticket) > 32 || tk.Ticket == tk.PollSecret {
			t.Fatalf("ticket %q does not fit a scene or equals its secret", tk.Ticket)
		}
		if c, _ := f.svc.ClaimTicket(f.city.Ctx, tk.Ticket, tk.PollSecret); c.State != auth.TicketPending {
			t.Fatalf("before confirmation: %+v", c)
		}
		if err := f.svc.ConfirmTicket(f.city.Ctx, a, tk.Ticket); err != nil {
			t.Fatal(err)
		}
		// A double tap on the phone confirms nothing more and is no error.
		if err := f.svc.ConfirmTicket(f.city.Ctx, a, tk.Ticket); err != nil {
			t.Fatalf("second confirmation by the same phone: %v", err)
		}
		if c, _ := f.svc.ClaimTicket(f.city.Ctx, tk.Ticket, "someone-else"); c.State != auth.TicketExpired || c.Session != "" {
			t.Fatalf("a poll without the secret got %+v", c)
		}
		c, err := f.svc.ClaimTicket(f.city.Ctx, tk.Ticket, tk.PollSecret)
		if err != nil || c.State != auth.TicketConfirmed {
			t.Fatalf("claim: %+v %v", c, err)
		}
		got, err := f.svc.AuthenticateConsole(f.city.Ctx, c.Session)
		if err != nil || got.UserID != f.city.UserID("community") || len(got.Grants) == 0 {
			t.Fatalf("console actor %+v %v", got, err)
		}
		if got.Family != "" {
			t.Fatal("a console actor must not carry a mini-program session")
		}
		if again, _ := f.svc.ClaimTicket(f.city.Ctx, tk.Ticket, tk.PollSecret); again.State != auth.TicketExpired || again.Session != "" {
			t.Fatalf("a ticket served twice: %+v", again)
		}
	})
	t.Run("two polls racing: one session", func(t *testing.T) {
		f := newScan(t)
		a, _ := f.phone(t, "community")
		tk, _ := f.svc.NewTicket(f.city.Ctx)
		if err := f.svc.ConfirmTicket(f.city.Ctx, a, tk.Ticket); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		claims := make([]auth.Claim, 4)
		for i := range claims {
			wg.Add(1)
			go func() { defer wg.Done(); claims[i], _ = f.svc.ClaimTicket(f.city.Ctx, tk.Ticket, tk.PollSecret) }()
		}
		wg.Wait()
		n := 0
		for _, c := range claims {
			if c.State == auth.TicketConfirmed {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d sessions from one ticket", n)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		f := newScan(t)
		staff, _ := f.phone(t, "community")
		resident, _ := f.phone(t, "resident")
		other, _ := f.phone(t, "street")
		tk, _ := f.svc.NewTicket(f.city.Ctx)
		servicetest.WantErr(t, f.svc.ConfirmTicket(f.city.Ctx, resident, tk.Ticket), service.KindForbidden, "console_staff_only")
		servicetest.WantErr(t, f.svc.ConfirmTicket(f.city.Ctx, &service.Actor{UserID: staff.UserID, Grants: staff.Grants}, tk.Ticket),
			service.KindForbidden, "console_confirm_in_mini_program")
		servicetest.WantErr(t, f.svc.ConfirmTicket(f.city.Ctx, staff, "not-a-ticket-at-all-x"), service.KindNotFound, "ticket_not_found")
		servicetest.WantErr(t, f.svc.ConfirmTicket(f.city.Ctx, staff, "bad ticket!"), service.KindNotFound, "ticket_not_found")
		if err := f.svc.ConfirmTicket(f.city.Ctx, staff, tk.Ticket); err != nil {
			t.Fatal(err)
		}
		servicetest.WantErr(t, f.svc.ConfirmTicket(f.city.Ctx, other, tk.Ticket), service.KindConflict, "ticket_used")

		late, _ := f.svc.NewTicket(f.city.Ctx)
		f.city.Clock.Advance(3*time.Minute + time.Second)
		servicetest.WantErr(t, f.svc.ConfirmTicket(f.city.Ctx, staff, late.Ticket), service.KindConflict, "ticket_expired")
		if c, _ := f.svc.ClaimTicket(f.city.Ctx, tk.Ticket, tk.PollSecret); c.State != auth.TicketExpired {
			t.Fatalf("an expired confirmed ticket still claimed: %+v", c)
		}
		if _, err := f.svc.AuthenticateConsole(f.city.Ctx, "made-up-session"); err != auth.ErrConsoleSession {
			t.Fatalf("made-up session: %v", err)
		}
	})
	t.Run("logging out in the mini-program ends the console session", func(t *testing.T) {
		f := newScan(t)
		session, tok := f.console(t, "community")
		if _, err := f.svc.AuthenticateConsole(f.city.Ctx, session); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Logout(f.city.Ctx, tok.AccessToken, ""); err != nil {
			t.Fatal(err)
		}
		servicetest.WantErr(t, errOf(f.svc.AuthenticateConsole(f.city.Ctx, session)), service.KindUnauthorized, "console_session_invalid")
	})
	t.Run("console logout ends it, the mini-program stays", func(t *testing.T) {
		f := newScan(t)
		session, tok := f.console(t, "community")
		if err := f.svc.EndConsole(f.city.Ctx, session); err != nil {
			t.Fatal(err)
		}
		servicetest.WantErr(t, errOf(f.svc.AuthenticateConsole(f.city.Ctx, session)), service.KindUnauthorized, "console_session_invalid")
		if _, err := f.svc.Authenticate(f.city.Ctx, tok.AccessToken); err != nil {
			t.Fatalf("the phone's session ended too: %v", err)
		}
	})
	t.Run("the session expires", func(t *testing.T) {
		f := newScan(t)
		session, _ := f.console(t, "community")
		f.city.Clock.Advance(12*time.Hour + time.Second)
		servicetest.WantErr(t, errOf(f.svc.AuthenticateConsole(f.city.Ctx, session)), service.KindUnauthorized, "console_session_invalid")
	})
	t.Run("a revoked grant stops acting at the next request", func(t *testing.T) {
		f := newScan(t)
		session, _ := f.console(t, "community")
		a, err := f.svc.AuthenticateConsole(f.city.Ctx, session)
		if err != nil || len(a.Grants) != 1 {
			t.Fatalf("%+v %v", a, err)
		}
		if _, err := model.RevokeGrant(f.city.Ctx, f.city.DB, a.Grants[0].ID, f.city.UserID("admin"), f.city.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		a, err = f.svc.AuthenticateConsole(f.city.Ctx, session)
		if err != nil || len(a.Grants) != 0 {
			t.Fatalf("after revocation: %+v %v", a, err)
		}
	})
}

func errOf(_ *service.Actor, err error) error { return err }
