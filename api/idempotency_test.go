package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"redprop/model"
)

func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	newcomer := s.login("newcomer")
	body := map[string]any{"household_id": city.Households[1].ID, "relation": "tenant"}
	first := s.must(http.StatusCreated, "POST", "/api/v1/applications", newcomer, body, "Idempotency-Key", "apply-1")
	again := s.must(http.StatusCreated, "POST", "/api/v1/applications", newcomer, body, "Idempotency-Key", "apply-1")
	if !bytes.Equal(first.Raw, again.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %s differs from %s", again.Raw, first.Raw)
	}
	var n int64
	s.db.Model(&model.ResidencyApplication{}).Count(&n)
	if n != 1 {
		t.Fatalf("%d applications after a repeated request", n)
	}
	// Without the key the rule of one open application answers.
	s.must(http.StatusConflict, "POST", "/api/v1/applications", newcomer, body)
	// The same key with another body is refused, not replayed.
	other := map[string]any{"household_id": city.Households[1].ID, "relation": "owner"}
	if r := s.must(http.StatusUnprocessableEntity, "POST", "/api/v1/applications", newcomer, other, "Idempotency-Key", "apply-1"); r.ErrCode() != "idempotency_key_reused" {
		t.Fatalf("reused key: %s", r.Raw)
	}
	// Keys belong to their user: another user's same key is a new request.
	resident := s.login("resident")
	r := s.do("POST", "/api/v1/applications", resident, body, "Idempotency-Key", "apply-1")
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("another user's request was replayed: %s", r.Raw)
	}
}

func TestRefusedRequestDoesNotHoldItsKey(t *testing.T) {
	s := newTestServer(t)
	city := s.loadDemo()
	newcomer := s.login("newcomer")
	bad := map[string]any{"household_id": city.Households[1].ID, "relation": "landlord"}
	s.must(http.StatusBadRequest, "POST", "/api/v1/applications", newcomer, bad, "Idempotency-Key", "apply-2")
	good := map[string]any{"household_id": city.Households[1].ID, "relation": "tenant"}
	r := s.must(http.StatusCreated, "POST", "/api/v1/applications", newcomer, good, "Idempotency-Key", "apply-2")
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the corrected request was answered from the refusal")
	}
	for _, k := range []string{"有中文", strings.Repeat("k", 65)} {
		if r := s.do("POST", "/api/v1/applications", newcomer, good, "Idempotency-Key", k); r.Status != http.StatusBadRequest || r.ErrCode() != "bad_idempotency_key" {
			t.Fatalf("key %q: %d %s", k, r.Status, r.Raw)
		}
	}
}
