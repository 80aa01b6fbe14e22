package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"redprop/model"
	"redprop/service"
)

// photoEnvelope is what a multipart upload adds around the file itself
// (boundaries, part headers, a file name); the photo's own cap is enforced
// on the file part.
const photoEnvelope = 64 << 10

// photoRoutes registers photo upload and download.
func (h *handlers) photoRoutes(authed *gin.RouterGroup) {
	limit := h.MaxBodyBytes
	if h.Photo != nil {
		limit = h.Photo.MaxBytes() + photoEnvelope
	}
	h.bodies.handle(authed, http.MethodPost, "/photos", limit, h.idempotentOrPass(h.uploadPhoto))
	authed.GET("/photos/:id", h.getPhoto)
}

type photoResponse struct {
	ID        int64  `json:"id"`
	Mime      string `json:"mime"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	URL       string `json:"url"`
	OrderID   int64  `json:"order_id"`
	CreatedAt string `json:"created_at"`
}

func newPhotoResponse(p model.Photo) photoResponse {
	return photoResponse{
		ID: p.ID, Mime: p.Mime, Size: p.Size, SHA256: p.SHA256, OrderID: p.OrderID,
		URL: "/api/v1/photos/" + strconv.FormatInt(p.ID, 10), CreatedAt: ts(p.CreatedAt),
	}
}

var (
	errPhotoForm    = service.Invalid("bad_multipart", "请以 multipart/form-data 上传照片，文件字段名为 file")
	errPhotoMissing = service.Invalid("photo_missing", "请求中没有照片：文件字段名应为 file")
)

// uploadPhoto streams the multipart body and reads the "file" part, at
// most one byte over the cap, so an oversized photo is told apart without
// buffering it whole or spilling it to temporary files.
func (h *handlers) uploadPhoto(c *gin.Context) {
	h.uploadFile(c, h.Photo.Upload)
}

// uploadFile is uploadPhoto with the service call that checks and stores
// the file (a photo, a PDF).
func (h *handlers) uploadFile(c *gin.Context, upload func(context.Context, *service.Actor, string, string, []byte) (model.Photo, error)) {
	mr, err := c.Request.MultipartReader()
	if err != nil {
		fail(c, errPhotoForm)
		return
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			fail(c, photoReadError(err, errPhotoMissing))
			return
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, h.Photo.MaxBytes()+1))
		if err != nil {
			fail(c, photoReadError(err, errPhotoForm))
			return
		}
		p, err := upload(c.Request.Context(), actor(c), part.FileName(), part.Header.Get("Content-Type"), data)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, newPhotoResponse(p))
		return
	}
}

// photoReadError names why a multipart body could not be read: over the
// body limit, no file part before the end, or malformed.
func photoReadError(err error, atEOF *service.Error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errBodyTooBig
	case errors.Is(err, io.EOF):
		return atEOF
	}
	return errPhotoForm.Wrap(err)
}

func (h *handlers) getPhoto(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	// The uploader's own photo, or one of an order the viewer may see: the
	// order capability decides, then opens it through the photo service.
	p, rc, err := h.Order.OpenPhoto(c.Request.Context(), actor(c), id)
	servePhoto(c, p, rc, err)
}

// servePhoto answers with a photo's bytes (or the error of opening it).
func servePhoto(c *gin.Context, p model.Photo, rc io.ReadCloser, err error) {
	if err != nil {
		fail(c, err)
		return
	}
	defer rc.Close()
	// A photo's bytes never change under its id, so the hash is a strong
	// validator and clients may keep it; but only in their own cache.
	etag := `"` + p.SHA256 + `"`
	c.Header("Cache-Control", "private, max-age=86400")
	c.Header("ETag", etag)
	c.Header("X-Content-Type-Options", "nosniff")
	if c.GetHeader("If-None-Match") == etag {
		c.Status(http.StatusNotModified)
		return
	}
	releaseSlots(c)
	c.DataFromReader(http.StatusOK, p.Size, p.Mime, rc, nil)
}
