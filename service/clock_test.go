package service

import (
	"context"
	"testing"
	"time"
)

// With an hour between passes, the first pass must come at once, and
// cancelling must end the wait for the second.
func TestEveryRunsAtOnceAndStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	passes := make(chan struct{}, 4)
	done := make(chan struct{})
	go func() {
		Every(ctx, time.Hour, func(context.Context) { passes <- struct{}{} })
		close(done)
	}()
	<-passes
	cancel()
	<-done
	if n := len(passes); n != 0 {
		t.Fatalf("%d more passes after the first", n)
	}
}
