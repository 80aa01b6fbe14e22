package api

import (
	"net/http"
	"strings"
	"testing"
)

// Every true/false query parameter is read by one parser: absent or
// true/false is fine, anything else is 400 bad_query naming the parameter.
// A malformed Idempotency-Key is refused the same way on every endpoint
// that reads one.
func TestQueryBoolAndIdempotencyKeyAreCheckedAlike(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	com := s.login("community")
	for _, tc := range []struct{ path, param string }{
		{"/api/v1/orders?queue=all&overdue=", "overdue"},
		{"/api/v1/order-categories?include_inactive=", "include_inactive"},
		{"/api/v1/me/messages?unread=", "unread"},
		{"/api/v1/grants?include_revoked=", "include_revoked"},
		{"/api/v1/action-items?overdue=", "overdue"},
	} {
		t.Run(tc.param+" "+strings.SplitN(tc.path, "?", 2)[0], func(t *testing.T) {
			for _, v := range []string{"true", "false"} {
				if r := s.do("GET", tc.path+v, com, nil); r.Status != http.StatusOK {
					t.Fatalf("%s%s: %d %s", tc.path, v, r.Status, r.Raw)
				}
			}
			r := s.do("GET", tc.path+"yes", com, nil)
			msg, _ := r.Body["error"].(map[string]any)["message"].(string)
			if r.Status != http.StatusBadRequest || r.ErrCode() != "bad_query" || !strings.Contains(msg, tc.param) {
				t.Fatalf("%s=yes: %d %s", tc.param, r.Status, r.Raw)
			}
		})
	}
	resident := s.login("resident")
	for _, key := range []string{strings.Repeat("k", 65), "键", "a b"} {
		r := s.do("POST", "/api/v1/orders", resident, map[string]any{"category_id": 9, "compound_id": 1,
			"place": "2号楼", "description": "消防通道被堵"}, "Idempotency-Key", key)
		if r.Status != http.StatusBadRequest || r.ErrCode() != "bad_idempotency_key" {
			t.Errorf("order with key %q: %d %s", key, r.Status, r.Raw)
		}
	}
}
