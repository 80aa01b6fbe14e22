package photo_test

import (
	"errors"
	"testing"

	"redprop/service/photo"
)

func TestCheckIDs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ids   []int64
		least int
		ok    bool
	}{
		{"none", nil, 0, true},
		{"none when one is needed", nil, 1, false},
		{"nine", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, true},
		{"ten", []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0, false},
		{"twice", []int64{3, 4, 3}, 0, false},
		{"zero", []int64{0}, 0, false},
		{"negative", []int64{-2}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := photo.CheckIDs(tc.ids, tc.least)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, photo.ErrBadPhotos)) {
				t.Fatalf("CheckIDs(%v, %d) = %v", tc.ids, tc.least, err)
			}
		})
	}
}
