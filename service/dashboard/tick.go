package dashboard

import (
	"context"
	"time"

	"redprop/service"
)

// Run refreshes the rollups every interval until ctx ends. Every
// instance may run it: the watermark's lock makes the refreshes take
// turns.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	service.Every(ctx, every, func(ctx context.Context) {
		st, err := s.Refresh(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.ErrorContext(ctx, "dashboard refresh failed", "err", err)
		case st.Events > 0:
			s.log.InfoContext(ctx, "dashboard refresh", "events", st.Events, "rows", st.Rows, "watermark", st.Watermark)
		}
	})
}
