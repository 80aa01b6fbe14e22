package main

import (
	"strings"
	"testing"
	"time"
)

func TestRatios(t *testing.T) {
	t.Run("submit is compared with the submit phase, not the mixed loop", func(t *testing.T) {
		r := &Report{Figures: []Figure{
			{Phase: "mixed: the whole order loop", Server: "redprop", Endpoint: "POST /orders", RPS: 10},
			{Phase: "insert (2 rows, 1 tx)", Server: "baseline", Endpoint: "POST /orders (insert)", RPS: 1000},
			{Phase: "submit", Server: "redprop", Endpoint: "POST /orders", RPS: 700},
		}}
		r.ratios()
		if len(r.Ratios) != 1 || r.Ratios[0].Ratio != 0.7 {
			t.Fatalf("ratios = %+v, want one of 0.7", r.Ratios)
		}
		if md := r.markdown(); !strings.Contains(md, "**0.70** ✓") {
			t.Errorf("markdown does not mark the met target:\n%s", md)
		}
	})
	t.Run("a pair without its baseline figure is left out", func(t *testing.T) {
		r := &Report{Figures: []Figure{{Phase: "queue mine", Server: "redprop", Endpoint: "GET /orders?queue=mine", RPS: 5}}}
		r.ratios()
		if len(r.Ratios) != 0 {
			t.Fatalf("ratios = %+v, want none", r.Ratios)
		}
	})
}

func TestPhase(t *testing.T) {
	t.Run("failed requests count as errors, not throughput", func(t *testing.T) {
		c := newClient(2)
		figs := c.phase("p", "redprop", 2, 50*time.Millisecond, func(w, i int) {
			c.call("x", "", "GET", "http://127.0.0.1:1/nothing", nil, nil)
		})
		if len(figs) != 1 || figs[0].Errors == 0 || figs[0].Errors != figs[0].Requests || figs[0].RPS != 0 {
			t.Fatalf("figures = %+v, want every request an error and 0 req/s", figs)
		}
	})
}
