package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"redprop/model"
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

func TestLogPassTellsDeadlockVictimsFromErrors(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	victim := fmt.Errorf("claim outbox rows: %w", fmt.Errorf("%w: Error 1213", model.ErrDeadlock))
	for _, c := range []struct {
		err  error
		want string
	}{
		{victim, `"level":"INFO"`},
		{errors.Join(victim, victim), `"level":"INFO"`},
		{errors.Join(victim, errors.New("disk full")), `"level":"ERROR"`},
		{errors.New("disk full"), `"level":"ERROR"`},
	} {
		buf.Reset()
		LogPass(context.Background(), log, "pass", c.err)
		if !strings.Contains(buf.String(), c.want) {
			t.Errorf("%v: logged %s, want %s", c.err, buf.String(), c.want)
		}
	}
}
