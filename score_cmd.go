package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"redprop/config"
	"redprop/service/demo"
)

// demoHistoryCmd writes a closed past quarter and month of the demo
// city's orders, inspections and action items (see demo.LoadHistory), so
// that the sandbox has a period to score.
func demoHistoryCmd(ctx context.Context, cfg config.Config, log *slog.Logger, out io.Writer) error {
	a, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.loadDemoIfEmpty(ctx); err != nil {
		return err
	}
	h, err := demo.LoadHistory(ctx, a.db, a.clock.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Demo history written: %d past orders; score the quarter %s (firms) and the month %s (grid workers).\n",
		h.Orders, h.Quarter, h.Month)
	return nil
}
