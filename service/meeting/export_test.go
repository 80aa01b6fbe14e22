package meeting

// OnBatch lets tests watch the batches of group expansion ("group") and
// of notices ("notify").
func (s *Service) OnBatch(f func(source string, n int)) { s.onBatch = f }
