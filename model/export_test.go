package model

// ListOrdersOr is the single OR query ListOrders splits, for tests that
// compare the two.
var ListOrdersOr = listOrdersOr

// StepCount is the number of migration steps: versions are ranges per
// capability, so the latest is not the count.
func StepCount() int { return len(steps) }
