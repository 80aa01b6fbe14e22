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
	r.Use(inflight(1))
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
