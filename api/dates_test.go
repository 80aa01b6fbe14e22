package api

import (
	"net/http"
	"testing"
)

// Times at the far ends of the calendar are malformed input, not a 500
// (MariaDB's DATETIME stops at year 1000 and 9999).
func TestFarDatesAreRefusedAsBadInput(t *testing.T) {
	s := newTestServer(t)
	c := s.loadDemo()
	com, admin := s.login("community"), s.login("admin")
	for _, q := range []string{"from=0000-01-01", "from=0001-01-01T00:00:00%2B08:00", "to=9999-12-31T23:00:00-02:00", "to=1899-12-31"} {
		for _, path := range []string{"/api/v1/orders?queue=all&", "/api/v1/action-items?", "/api/v1/action-items/export?"} {
			if r := s.do("GET", path+q, com, nil); r.Status != http.StatusBadRequest || r.ErrCode() != "bad_date" {
				t.Errorf("%s%s: %d %s", path, q, r.Status, r.Raw)
			}
		}
	}
	body := s.jointMeeting(c)
	body["starts_at"], body["ends_at"] = "0001-01-01T10:00:00+08:00", "0001-01-01T11:00:00+08:00"
	if r := s.do("POST", "/api/v1/meetings", com, body); r.Status != http.StatusBadRequest {
		t.Errorf("meeting in year 1: %d %s", r.Status, r.Raw)
	}
	contract := map[string]any{"firm_id": c.Firm.ID, "compound_id": c.Compounds[0].ID, "starts_on": "0001-01-01", "ends_on": "2027-01-01"}
	if r := s.do("POST", "/api/v1/contracts", admin, contract); r.Status != http.StatusBadRequest {
		t.Errorf("contract from year 1: %d %s", r.Status, r.Raw)
	}
}
