package model

// ListOrdersOr is the single OR query ListOrders splits, for tests that
// compare the two.
var ListOrdersOr = listOrdersOr
