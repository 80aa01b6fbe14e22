package model

import (
	"fmt"

	"gorm.io/gorm"
)

// ListOrdersOr is the single OR query ListOrders splits, for tests that
// compare the two.
var ListOrdersOr = listOrdersOr

// StepVersions are the versions of the migration steps, in their order.
func StepVersions() []int {
	vs := make([]int, len(steps))
	for i, s := range steps {
		vs[i] = s.version
	}
	return vs
}

// OrderStates and OrderLevels are every state and level an order can be in.
func OrderStates() []string { return orderStates }
func OrderLevels() []string { return orderLevels }

// OrderColumns are the columns orders are read by, in their scan order.
func OrderColumns() []string { return orderColumns }

// OrderFieldCount is how many fields orderFields scans into.
func OrderFieldCount() int { return len(orderFields(&Order{})) }

// RunStep runs the migration step of version again (its data fixes are
// safe to repeat).
func RunStep(db *gorm.DB, version int) error {
	for _, s := range steps {
		if s.version == version {
			return s.run(db)
		}
	}
	return fmt.Errorf("no step %d", version)
}

// EventColumns and EventFieldCount are the same for timeline rows.
func EventColumns() []string { return eventColumns }
func EventFieldCount() int   { return len(eventFields(&OrderEvent{})) }
