package service

import (
	"context"
	"testing"
	"time"
)

func TestEveryRunsAtOnceThenEachTickUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	passes := make(chan struct{})
	done := make(chan struct{})
	go func() {
		Every(ctx, time.Millisecond, func(context.Context) { passes <- struct{}{} })
		close(done)
	}()
	<-passes // the first pass does not wait for the ticker
	<-passes
	cancel()
	// A pass already under way may still report; then the loop ends.
	for {
		select {
		case <-passes:
		case <-done:
			return
		}
	}
}
