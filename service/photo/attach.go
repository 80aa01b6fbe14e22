package photo

import (
	"context"
	"slices"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// MaxAttached is the most photos one order, inspection, appeal, wish or
// notice carries.
const MaxAttached = 9

var (
	// ErrBadPhotos refuses a list of photos that CheckIDs does not pass.
	ErrBadPhotos = service.Invalid("bad_photos", "照片最多 9 张，且不能重复")
	// ErrPhotoGone refuses a photo that CheckFree does not find free.
	ErrPhotoGone = service.Unprocessable("photo_unavailable", "照片不存在、不是您上传的或已用于工单")
)

// CheckIDs refuses (ErrBadPhotos) a list of photo ids shorter than least,
// longer than MaxAttached, or naming an id that is not positive or one
// twice.
func CheckIDs(ids []int64, least int) error {
	if len(ids) < least || len(ids) > MaxAttached {
		return ErrBadPhotos
	}
	for i, id := range ids {
		if id <= 0 || slices.Contains(ids[:i], id) {
			return ErrBadPhotos
		}
	}
	return nil
}

// CheckFree makes sure every photo of ids exists, was uploaded by userID
// and belongs to no order (ErrPhotoGone otherwise).
func CheckFree(ctx context.Context, db *gorm.DB, userID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	n, err := model.CountFreePhotos(ctx, db, userID, ids)
	if err != nil {
		return err
	}
	if n != int64(len(ids)) {
		return ErrPhotoGone
	}
	return nil
}
