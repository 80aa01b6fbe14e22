package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// With a bound of one, requests are served one at a time, the waiting
// ones after the one being served, and one whose client leaves while it
// waits is dropped as cancelled without being served. (The order among
// waiters is the channel's, first in first out; the test does not lean
// on its timing.)
func TestInflightQueuesFirstComeFirstServed(t *testing.T) {
	r := gin.New()
	release, entered := make(chan struct{}), make(chan struct{})
	var (
		mu       sync.Mutex
		order    []string
		now, top atomic.Int32
	)
	r.Use(inflight(1, nil))
	r.GET("/:name", func(c *gin.Context) {
		if n := now.Add(1); n > top.Load() {
			top.Store(n)
		}
		mu.Lock()
		order = append(order, c.Param("name"))
		mu.Unlock()
		if c.Param("name") == "first" {
			close(entered)
			<-release
		}
		now.Add(-1)
		c.Status(http.StatusNoContent)
	})
	codes := map[string]int{}
	var wg sync.WaitGroup
	send := func(name string, ctx context.Context) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/"+name, nil).WithContext(ctx))
			mu.Lock()
			codes[name] = w.Code
			mu.Unlock()
		}()
		time.Sleep(20 * time.Millisecond)
	}
	gone, leave := context.WithCancel(context.Background())
	send("first", context.Background())
	<-entered
	send("second", context.Background())
	send("gone", gone)
	send("third", context.Background())
	leave()
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if len(order) != 3 || order[0] != "first" || !slices.Contains(order, "second") || !slices.Contains(order, "third") {
		t.Fatalf("served %v, want first, then second and third", order)
	}
	if top.Load() != 1 {
		t.Fatalf("%d served at once, want 1", top.Load())
	}
	if codes["gone"] != statusClientClosed || codes["third"] != http.StatusNoContent {
		t.Fatalf("codes %v", codes)
	}
}

// A bound on reads lets writes through: with the one read slot taken, a
// write is served at once and another read waits for the slot.
func TestInflightReadsBoundLetsWritesThrough(t *testing.T) {
	r := gin.New()
	release, entered := make(chan struct{}), make(chan struct{})
	r.Use(inflight(1, isRead))
	r.GET("/hold", func(c *gin.Context) {
		close(entered)
		<-release
		c.Status(http.StatusOK)
	})
	r.GET("/read", func(c *gin.Context) { c.Status(http.StatusOK) })
	r.POST("/write", func(c *gin.Context) { c.Status(http.StatusCreated) })
	serve := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	go serve("GET", "/hold")
	<-entered
	if w := serve("POST", "/write"); w.Code != http.StatusCreated {
		t.Fatalf("a write while the read slot is taken: %d", w.Code)
	}
	done := make(chan int)
	go func() { done <- serve("GET", "/read").Code }()
	select {
	case code := <-done:
		t.Fatalf("a second read served (%d) while the slot is taken", code)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Fatalf("the waiting read: %d", code)
	}
}

// A handler streaming a file gives its slot back before the transfer: a
// slow download does not keep the next read waiting.
func TestInflightSlotGivenBackForAFileStream(t *testing.T) {
	r := gin.New()
	release, streaming := make(chan struct{}), make(chan struct{})
	r.Use(inflight(1, isRead))
	r.GET("/file", func(c *gin.Context) {
		releaseSlots(c)
		releaseSlots(c) // twice is once: a second give-back would block here
		close(streaming)
		<-release
		c.Status(http.StatusOK)
	})
	r.GET("/read", func(c *gin.Context) { c.Status(http.StatusOK) })
	serve := func(path string) int {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code
	}
	go serve("/file")
	<-streaming
	done := make(chan int)
	go func() { done <- serve("/read") }()
	select {
	case code := <-done:
		if code != http.StatusOK {
			t.Fatalf("the read beside the stream: %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read kept waiting by a file stream")
	}
	close(release)
}
