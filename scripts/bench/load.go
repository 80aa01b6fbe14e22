package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// client is the one load generator both servers are driven by.
type client struct {
	http *http.Client
	mu   sync.Mutex
	rec  map[string]*series
	// apis are the instances' API roots; requests take them in turn.
	apis []string
	next atomic.Uint64
}

// api is the API root of the next request's instance.
func (c *client) api() string {
	return c.apis[(c.next.Add(1)-1)%uint64(len(c.apis))]
}

// fetch saves what url answers (with a long wait allowed) to path.
func (c *client) fetch(url, token, path string) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d %.200s", url, resp.StatusCode, raw)
	}
	return os.WriteFile(path, raw, 0o644)
}

// series is what one endpoint did in one phase.
type series struct {
	lat      []time.Duration
	errors   int
	firstErr string
}

func newClient(conns int) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*conns, 2*conns
	return &client{http: &http.Client{Timeout: 30 * time.Second, Transport: tr}, rec: map[string]*series{}}
}

// call sends one request, records its latency and outcome under name and
// decodes a 2xx answer into out. Any other answer is an error.
func (c *client) call(name, token, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	t0 := time.Now()
	resp, err := c.http.Do(req)
	var raw []byte
	if err == nil {
		raw, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode/100 != 2 {
			err = fmt.Errorf("%s %s: %d %.300s", method, url, resp.StatusCode, raw)
		}
	}
	d := time.Since(t0)
	c.mu.Lock()
	s := c.rec[name]
	if s == nil {
		s = &series{}
		c.rec[name] = s
	}
	s.lat = append(s.lat, d)
	if err != nil {
		if s.errors == 0 {
			s.firstErr = err.Error()
		}
		s.errors++
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// Figure is one endpoint's result in one phase.
type Figure struct {
	Phase      string  `json:"phase"`
	Server     string  `json:"server"` // redprop | baseline
	Endpoint   string  `json:"endpoint"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	RPS        float64 `json:"req_per_s"`
	P50        float64 `json:"p50_ms"`
	P95        float64 `json:"p95_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

// phase runs work on conns goroutines for d and returns one figure per
// endpoint the work called. Each goroutine calls work(worker, i) in a loop
// with its own counter i; a failing request is counted, not fatal.
func (c *client) phase(name, server string, conns int, d time.Duration, work func(w, i int)) []Figure {
	c.mu.Lock()
	c.rec = map[string]*series{}
	c.mu.Unlock()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				work(w, i)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.rec))
	for n := range c.rec {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Figure
	for _, n := range names {
		s := c.rec[n]
		ds := slices.Clone(s.lat)
		slices.Sort(ds)
		q := func(p float64) float64 {
			if len(ds) == 0 {
				return 0
			}
			return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
		}
		out = append(out, Figure{Phase: name, Server: server, Endpoint: n, Requests: len(ds), Errors: s.errors,
			RPS: float64(len(ds)-s.errors) / elapsed, P50: q(0.5), P95: q(0.95), P99: q(0.99), Max: q(1), FirstError: s.firstErr})
	}
	return out
}
