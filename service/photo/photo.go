// Package photo takes photo uploads for orders: it checks that the bytes
// are a JPEG, PNG or WebP, strips location and other metadata without
// re-encoding, stores them under a random key, and later ties them to an
// order. It knows nothing of orders beyond the id a photo is tied to: who
// else may see an attached photo is the order capability's call, which
// opens it with OpenChecked. It must not import gin, api/ or service/order.
package photo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	_ "image/jpeg" // DecodeConfig of JPEG headers
	_ "image/png"  // DecodeConfig of PNG headers
	"io"
	"mime"
	"path"
	"slices"
	"strings"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/service"
)

// Service is the photo capability.
type Service struct {
	db       *gorm.DB
	storage  Storage
	clock    service.Clock
	maxBytes int64
	// maxPixels bounds width × height as the header claims them.
	maxPixels int64
}

// New builds the service; photos over maxBytes, or whose header claims
// more than maxPixels pixels (0: DefaultMaxPixels), are refused.
func New(db *gorm.DB, storage Storage, clock service.Clock, maxBytes, maxPixels int64) *Service {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	return &Service{db: db, storage: storage, clock: clock, maxBytes: maxBytes, maxPixels: maxPixels}
}

// MaxBytes is the largest photo accepted.
func (s *Service) MaxBytes() int64 { return s.maxBytes }

var (
	errUnsupported = service.Unsupported("unsupported_photo", "仅支持 JPEG、PNG、WebP 格式的照片")
	errMismatch    = service.Unsupported("unsupported_photo", "照片的文件类型与内容不符，请重新选择照片")
	errBroken      = service.Unsupported("unsupported_photo", "照片文件已损坏，无法识别")
	errEmpty       = service.Invalid("empty_photo", "照片内容为空")
	errNotFound    = service.NotFound("photo_not_found", "照片不存在")
)

// typeOfExt maps a file name extension to the content type it promises.
var typeOfExt = map[string]string{
	".jpg": MimeJPEG, ".jpeg": MimeJPEG, ".jpe": MimeJPEG, ".jfif": MimeJPEG,
	".png":  MimePNG,
	".webp": MimeWebP,
}

// declaredType normalises a client's Content-Type. Clients that do not
// know send nothing or application/octet-stream: that promises nothing.
func declaredType(ct string) (string, bool) {
	if ct == "" {
		return "", false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid", true
	}
	switch mt {
	case "application/octet-stream":
		return "", false
	case "image/jpg", "image/pjpeg":
		return MimeJPEG, true
	}
	return mt, true
}

// Upload checks, cleans and stores one photo of the actor.
func (s *Service) Upload(ctx context.Context, a *service.Actor, filename, declaredMime string, data []byte) (model.Photo, error) {
	if a == nil {
		return model.Photo{}, service.ErrUnauthenticated
	}
	if int64(len(data)) > s.maxBytes {
		return model.Photo{}, service.TooLarge("photo_too_large", "照片不能超过 "+humanSize(s.maxBytes))
	}
	if len(data) == 0 {
		return model.Photo{}, errEmpty
	}
	kind := sniff(data)
	if kind == "" {
		return model.Photo{}, errUnsupported
	}
	name := strings.ReplaceAll(filename, `\`, "/")
	if ext := strings.ToLower(path.Ext(name)); ext != "" {
		want, ok := typeOfExt[ext]
		if !ok {
			return model.Photo{}, errUnsupported
		}
		if want != kind {
			return model.Photo{}, errMismatch
		}
	}
	if mt, ok := declaredType(declaredMime); ok && mt != kind {
		return model.Photo{}, errMismatch
	}
	clean, err := strip(kind, data)
	if err != nil {
		return model.Photo{}, errBroken
	}
	w, h, err := dimensions(kind, clean)
	if err != nil || w <= 0 || h <= 0 {
		return model.Photo{}, errBroken
	}
	if int64(w)*int64(h) > s.maxPixels {
		return model.Photo{}, service.TooLarge("photo_too_many_pixels",
			fmt.Sprintf("照片像素过多（%d×%d），最多 %d 万像素，请压缩后重新上传", w, h, s.maxPixels/10000))
	}
	sum := sha256.Sum256(clean)
	p := model.Photo{
		Key: newKey(), UploaderID: a.UserID, Mime: kind, Size: int64(len(clean)),
		SHA256: hex.EncodeToString(sum[:]),
	}
	p.CreatedAt = s.clock.Now()
	p.UpdatedAt = p.CreatedAt
	// Bytes first: a row never points at nothing. A failed insert leaves an
	// unreferenced file, which costs disk, not correctness.
	if err := s.storage.Put(ctx, p.Key, clean); err != nil {
		return model.Photo{}, err
	}
	if err := model.Create(ctx, s.db, &p); err != nil {
		return model.Photo{}, fmt.Errorf("record photo: %w", err)
	}
	return p, nil
}

func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func humanSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MB", n>>20)
	}
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", (n+1023)>>10)
}

// Attach ties photos of uploaderID to orderID within the caller's
// transaction. Photos already on this order are fine (a retried request);
// photos that do not exist, are someone else's or sit on another order
// refuse the whole call.
func (s *Service) Attach(ctx context.Context, tx *gorm.DB, uploaderID int64, ids []int64, orderID int64) error {
	if len(ids) == 0 {
		return nil
	}
	if orderID <= 0 {
		return fmt.Errorf("attach photos: order id %d", orderID)
	}
	uniq := slices.Clone(ids)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	rows, err := model.LockPhotos(ctx, tx, uniq)
	if err != nil {
		return err
	}
	byID := make(map[int64]model.Photo, len(rows))
	for _, p := range rows {
		byID[p.ID] = p
	}
	var fresh []int64
	for _, id := range uniq {
		p, ok := byID[id]
		if !ok || p.UploaderID != uploaderID {
			// One message for both: a stranger's photo id must not be told apart from a wrong one.
			return service.Unprocessable("photo_unavailable", fmt.Sprintf("照片 %d 不存在或不是您上传的", id))
		}
		if p.Mime == MimePDF {
			return service.Unprocessable("photo_is_document", fmt.Sprintf("文件 %d 是 PDF，工单只能附照片", id))
		}
		switch p.OrderID {
		case 0:
			fresh = append(fresh, id)
		case orderID:
		default:
			return service.Unprocessable("photo_attached", fmt.Sprintf("照片 %d 已用于其他工单，请重新上传", id))
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	// The rows are locked and checked above: they are changed by primary
	// key only (see model.AttachPhotos).
	n, err := model.AttachPhotos(ctx, tx, fresh, orderID)
	if err != nil {
		return err
	}
	if n != int64(len(fresh)) {
		return service.Conflict("photo_changed", "照片状态已变化，请重试")
	}
	return nil
}

// Open returns a photo and its bytes to its uploader; everyone else gets
// 404, not 403: photo ids are sequential and must not be probed. Who else
// may see a photo attached to an order is the order capability's call
// (order.Service.OpenPhoto).
func (s *Service) Open(ctx context.Context, a *service.Actor, id int64) (model.Photo, io.ReadCloser, error) {
	if a == nil {
		return model.Photo{}, nil, service.ErrUnauthenticated
	}
	p, err := s.Find(ctx, id)
	if err != nil {
		return model.Photo{}, nil, err
	}
	if p.UploaderID != a.UserID {
		return model.Photo{}, nil, errNotFound
	}
	return s.open(ctx, p)
}

// Find returns a photo's record, without its bytes.
func (s *Service) Find(ctx context.Context, id int64) (model.Photo, error) {
	p, err := model.ByID[model.Photo](ctx, s.db, id)
	if errors.Is(err, model.ErrNotFound) {
		return model.Photo{}, errNotFound
	}
	return p, err
}

// OpenChecked returns a photo and its bytes for a capability that has
// itself decided the actor may see it (an order's or a meeting's photo).
func (s *Service) OpenChecked(ctx context.Context, id int64) (model.Photo, io.ReadCloser, error) {
	p, err := s.Find(ctx, id)
	if err != nil {
		return model.Photo{}, nil, err
	}
	return s.open(ctx, p)
}

func (s *Service) open(ctx context.Context, p model.Photo) (model.Photo, io.ReadCloser, error) {
	rc, err := s.storage.Open(ctx, p.Key)
	if err != nil {
		return model.Photo{}, nil, fmt.Errorf("photo %d: %w", p.ID, err)
	}
	return p, rc, nil
}
