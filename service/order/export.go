package order

import (
	"context"

	"redprop/model"
	"redprop/service"
)

// Count counts the orders List would page through for the actor, queue
// and filter (an export's total).
func (s *Service) Count(ctx context.Context, a *service.Actor, f Filter) (int64, error) {
	q, err := listQuery(a, f)
	if err != nil {
		return 0, err
	}
	return model.CountOrders(ctx, s.db, q)
}
