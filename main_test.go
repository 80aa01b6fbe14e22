package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Lines returns the complete lines written so far.
func (s *syncBuffer) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.FieldsFunc(s.b.String(), func(r rune) bool { return r == '\n' })
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The embedded default: first start loads the demo city and prints the
// sandbox codes; a cancelled context (as SIGTERM) stops it cleanly.
func TestServeEmbeddedLoadsDemoAndStops(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	vars := map[string]string{"REDPROP_DATA_DIR": dir, "REDPROP_ADDR": addr, "REDPROP_SHUTDOWN_TIMEOUT": "5s"}
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return vars[k] }, out) }()

	var ready bool
	for i := 0; i < 200 && !ready; i++ {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			ready = resp.StatusCode == 200
			resp.Body.Close()
		}
		if !ready {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !ready {
		cancel()
		t.Fatalf("server never became ready; output:\n%s", out.String())
	}
	resp, err := http.Post("http://"+addr+"/api/v1/auth/login", "application/json", strings.NewReader(`{"code":"sandbox:resident"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("demo resident login: %v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	logs := out.String()
	for _, want := range []string{"sandbox:resident", "sandbox:grid", "sandbox:manager", `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("output lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "access_token") {
		t.Error("a token reached the logs")
	}

	// A second start keeps the data and does not load the demo again.
	var out2 syncBuffer
	vars["REDPROP_ADDR"] = freeAddr(t)
	if err := run(context.Background(), []string{"demo"}, func(k string) string { return vars[k] }, &out2); err == nil {
		t.Fatal("demo into a non-empty database must be refused")
	}
}

func TestMigrateIsRepeatable(t *testing.T) {
	vars := map[string]string{"REDPROP_DATA_DIR": t.TempDir()}
	for i := 0; i < 2; i++ {
		var out syncBuffer
		if err := run(context.Background(), []string{"migrate"}, func(k string) string { return vars[k] }, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "schema at version") {
			t.Fatalf("migrate output: %s", out.String())
		}
	}
}

func TestProductionRefusesSandbox(t *testing.T) {
	vars := map[string]string{"REDPROP_ENV": "production"}
	err := run(context.Background(), nil, func(k string) string { return vars[k] }, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "sandbox") {
		t.Fatalf("production with the sandbox: %v", err)
	}
}
