package service

import (
	"errors"
	"fmt"
	"testing"

	"redprop/model"
)

func TestOrNotFound(t *testing.T) {
	mine := NotFound("thing_not_found", "不存在")
	other := errors.New("down")
	for _, c := range []struct {
		name     string
		err, out error
	}{
		{"not found becomes the capability's", fmt.Errorf("load: %w", model.ErrNotFound), mine},
		{"other errors pass", other, other},
		{"no error stays none", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := OrNotFound(c.err, mine); got != c.out {
				t.Fatalf("OrNotFound(%v) = %v, want %v", c.err, got, c.out)
			}
		})
	}
}
