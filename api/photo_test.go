package api

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
)

// testMaxPhotoBytes is the test server's photo cap: above its 1 MiB
// default body limit, so uploads between the two prove the route override.
const testMaxPhotoBytes = 2 << 20

// photoSecret stands for a GPS block: it must not survive an upload.
const photoSecret = "GPSLatitude=31,14.384N"

func photoSegment(marker byte, payload []byte) []byte {
	n := len(payload) + 2
	return append([]byte{0xFF, marker, byte(n >> 8), byte(n)}, payload...)
}

// photoJPEG encodes a small picture and splices in an Exif APP1 carrying
// photoSecret, plus pad bytes in kept APP2 segments to reach a size.
func photoJPEG(t *testing.T, pad int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	plain := buf.Bytes()
	out := append([]byte{}, plain[:2]...)
	out = append(out, photoSegment(0xE1, []byte("Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x00"+photoSecret))...)
	for pad > 0 {
		n := min(pad, 60000)
		out = append(out, photoSegment(0xE2, make([]byte, n))...)
		pad -= n
	}
	return append(out, plain[2:]...)
}

func photoPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.Gray{200})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartBody builds a form with a "file" part (field name overridable).
func multipartBody(t *testing.T, field, filename, contentType string, data []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("note", "门口积水")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, filename))
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	part, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(data)
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func (s *testServer) uploadPhoto(want int, token, filename, contentType string, data []byte) response {
	s.t.Helper()
	body, ct := multipartBody(s.t, "file", filename, contentType, data)
	return s.must(want, "POST", "/api/v1/photos", token, body, "Content-Type", ct)
}

func TestPhotoUploadAndDownload(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	resident, other := s.login("resident"), s.login("resident2")

	// Over the 1 MiB default, under the 2 MiB photo cap: the route's own limit applies.
	data := photoJPEG(t, 1200<<10)
	if len(data) <= 1<<20 || len(data) >= testMaxPhotoBytes {
		t.Fatalf("fixture is %d bytes", len(data))
	}
	r := s.uploadPhoto(http.StatusCreated, resident, "IMG_0001.jpg", "image/jpeg", data)
	id := peopleNum(r.Body["id"])
	if r.Body["mime"] != "image/jpeg" || peopleNum(r.Body["order_id"]) != 0 || r.Body["url"] != fmt.Sprintf("/api/v1/photos/%d", id) {
		t.Fatalf("upload answer %s", r.Raw)
	}
	path := fmt.Sprintf("/api/v1/photos/%d", id)
	got := s.must(http.StatusOK, "GET", path, resident, nil)
	if ct := got.Header.Get("Content-Type"); ct != "image/jpeg" {
		t.Fatalf("Content-Type %q", ct)
	}
	if cc := got.Header.Get("Cache-Control"); cc != "private, max-age=86400" {
		t.Fatalf("Cache-Control %q", cc)
	}
	if bytes.Contains(got.Raw, []byte(photoSecret)) {
		t.Fatal("served photo still carries its Exif block")
	}
	if int64(len(got.Raw)) != peopleNum(r.Body["size"]) || len(got.Raw) <= 1<<20 {
		t.Fatalf("served %d bytes, answer said %v", len(got.Raw), r.Body["size"])
	}
	if _, _, err := image.Decode(bytes.NewReader(got.Raw)); err != nil {
		t.Fatalf("served photo does not decode: %v", err)
	}
	etag := got.Header.Get("ETag")
	s.must(http.StatusNotModified, "GET", path, resident, nil, "If-None-Match", etag)

	// Nobody else sees an unattached photo, and it looks absent, not forbidden.
	r = s.must(http.StatusNotFound, "GET", path, other, nil)
	if r.ErrCode() != "photo_not_found" {
		t.Fatalf("other user: %s", r.Raw)
	}
	s.must(http.StatusNotFound, "GET", "/api/v1/photos/999999", resident, nil)
	s.must(http.StatusBadRequest, "GET", "/api/v1/photos/abc", resident, nil)
	s.must(http.StatusUnauthorized, "GET", path, "", nil)

	// A PNG with no declared type is fine.
	r = s.uploadPhoto(http.StatusCreated, other, "screenshot.png", "", photoPNG(t))
	if r.Body["mime"] != "image/png" {
		t.Fatalf("png: %s", r.Raw)
	}
}

func TestPhotoUploadRefusals(t *testing.T) {
	s := newTestServer(t)
	s.loadDemo()
	resident := s.login("resident")
	small := photoJPEG(t, 0)

	for _, tc := range []struct {
		name, filename, ct string
		data               []byte
		status             int
		code               string
	}{
		{"png bytes named .jpg", "a.jpg", "image/jpeg", photoPNG(t), http.StatusUnsupportedMediaType, "unsupported_photo"},
		{"jpeg declared as png", "a.png", "image/png", small, http.StatusUnsupportedMediaType, "unsupported_photo"},
		{"html named .jpg", "a.jpg", "image/jpeg", []byte("<html><script>alert(1)</script></html>"), http.StatusUnsupportedMediaType, "unsupported_photo"},
		{"empty file", "a.jpg", "image/jpeg", nil, http.StatusBadRequest, "empty_photo"},
		{"over the photo cap", "a.jpg", "image/jpeg", photoJPEG(t, testMaxPhotoBytes), http.StatusRequestEntityTooLarge, "photo_too_large"},
	} {
		r := s.uploadPhoto(tc.status, resident, tc.filename, tc.ct, tc.data)
		if r.ErrCode() != tc.code {
			t.Errorf("%s: code %s, want %s", tc.name, r.ErrCode(), tc.code)
		}
		peopleChinese(t, r)
	}

	// A body far over the route's limit is refused before it is read.
	huge, ct := multipartBody(t, "file", "a.jpg", "image/jpeg", make([]byte, testMaxPhotoBytes+200<<10))
	r := s.must(http.StatusRequestEntityTooLarge, "POST", "/api/v1/photos", resident, huge, "Content-Type", ct)
	if r.ErrCode() != "body_too_large" {
		t.Fatalf("huge body: %s", r.Raw)
	}
	// Not multipart, or no "file" part.
	r = s.must(http.StatusBadRequest, "POST", "/api/v1/photos", resident, small, "Content-Type", "image/jpeg")
	if r.ErrCode() != "bad_multipart" {
		t.Fatalf("raw body: %s", r.Raw)
	}
	body, ct := multipartBody(t, "photo", "a.jpg", "image/jpeg", small)
	r = s.must(http.StatusBadRequest, "POST", "/api/v1/photos", resident, body, "Content-Type", ct)
	if r.ErrCode() != "photo_missing" {
		t.Fatalf("wrong field: %s", r.Raw)
	}
	body, ct = multipartBody(t, "file", "a.jpg", "image/jpeg", small)
	s.must(http.StatusUnauthorized, "POST", "/api/v1/photos", "", body, "Content-Type", ct)
}
