package model

import "gorm.io/gorm"

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

// PreparedCount is how many statements db's pool keeps prepared.
func PreparedCount(db *gorm.DB) int {
	sqlDB, err := db.DB()
	if err != nil {
		return 0
	}
	p, ok := stmtPools.Load(sqlDB)
	if !ok {
		return 0
	}
	return p.(*stmtPool).prepared()
}

// MaxPrepared bounds PreparedCount.
const MaxPrepared = maxPrepared
