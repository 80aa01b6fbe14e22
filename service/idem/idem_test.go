package idem_test

import (
	"context"
	"errors"
	"testing"

	"redprop/model/dbtest"
	"redprop/service/idem"
)

func TestBeginFinishAndReplay(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := dbtest.Redis(t)
	s := idem.New(rdb, prefix)
	prev, c, err := s.Begin(ctx, 7, "k", "fp1")
	if err != nil || prev != nil || c == nil {
		t.Fatalf("first: %v %v %v", prev, c, err)
	}
	if _, _, err := s.Begin(ctx, 7, "k", "fp1"); !errors.Is(err, idem.ErrInFlight) {
		t.Fatalf("repeat in flight: %v", err)
	}
	if _, _, err := s.Begin(ctx, 7, "k", "fp2"); !errors.Is(err, idem.ErrReused) {
		t.Fatalf("other body in flight: %v", err)
	}
	// Another user's key of the same name is theirs.
	if _, c2, err := s.Begin(ctx, 8, "k", "fp1"); err != nil || c2 == nil {
		t.Fatalf("other user: %v %v", c2, err)
	}
	if err := s.Finish(ctx, c, idem.Answer{Status: 201, Body: []byte(`{"id":1}`), Fingerprint: "fp1"}); err != nil {
		t.Fatal(err)
	}
	prev, c, err = s.Begin(ctx, 7, "k", "fp1")
	if err != nil || c != nil || prev == nil || prev.Status != 201 || string(prev.Body) != `{"id":1}` {
		t.Fatalf("replay: %+v %v %v", prev, c, err)
	}
	if _, _, err := s.Begin(ctx, 7, "k", "fp2"); !errors.Is(err, idem.ErrReused) {
		t.Fatalf("other body after: %v", err)
	}
}

// A request that outlived its lease can neither free nor overwrite the
// entry of the request that took the key after it.
func TestStaleClaimCannotTouchTheNextOne(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := dbtest.Redis(t)
	s := idem.New(rdb, prefix)
	_, stale, err := s.Begin(ctx, 7, "k", "fp")
	if err != nil {
		t.Fatal(err)
	}
	// The lease runs out.
	keys, _ := rdb.Keys(ctx, prefix+"*").Result()
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	_, next, err := s.Begin(ctx, 7, "k", "fp")
	if err != nil || next == nil {
		t.Fatalf("next: %v %v", next, err)
	}
	if err := s.Abort(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, stale, idem.Answer{Status: 500, Fingerprint: "fp"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Begin(ctx, 7, "k", "fp"); !errors.Is(err, idem.ErrInFlight) {
		t.Fatalf("the next request lost its hold: %v", err)
	}
	if err := s.Finish(ctx, next, idem.Answer{Status: 201, Fingerprint: "fp"}); err != nil {
		t.Fatal(err)
	}
	if prev, _, err := s.Begin(ctx, 7, "k", "fp"); err != nil || prev == nil || prev.Status != 201 {
		t.Fatalf("answer %+v %v", prev, err)
	}
}
