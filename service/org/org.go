// Package org manages the org tree (regions, compounds, grids, buildings,
// households), firms and their contracts, committees, departments, and the
// people in it: residency applications, invitations and grants. It must
// not import gin or api/.
package org

import (
	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Service is the org capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
	// names is told of every edit of a row whose name views cache.
	names *model.NameCache
}

// New builds the service; names (nil: none) is the cache of display
// names its edits invalidate.
func New(db *gorm.DB, clock service.Clock, names *model.NameCache) *Service {
	return &Service{db: db, clock: clock, names: names}
}
