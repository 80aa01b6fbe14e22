// Package org manages the org tree (regions, compounds, grids, buildings,
// households), firms and their contracts, committees, departments, and the
// people in it: residency applications, invitations and grants. It must
// not import gin or api/.
package org

import (
	"gorm.io/gorm"

	"redprop/service"
)

// Service is the org capability.
type Service struct {
	db    *gorm.DB
	clock service.Clock
}

// New builds the service.
func New(db *gorm.DB, clock service.Clock) *Service {
	return &Service{db: db, clock: clock}
}
