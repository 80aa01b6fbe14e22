package score

import (
	"context"

	"redprop/model"
	"redprop/service"
)

func (s *Service) gridRows(ctx context.Context, f model.ScoreFormula, p Period) ([]model.ScoredRow, error) {
	return nil, nil
}

func (s *Service) gridEvidence(ctx context.Context, sc model.Score, comp string, p service.Page) (service.Paged[model.Evidence], bool, error) {
	return service.Paged[model.Evidence]{}, false, nil
}
