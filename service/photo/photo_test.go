package photo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"redprop/model"
	"redprop/model/dbtest"
	"redprop/service"
)

var (
	alice = &service.Actor{UserID: 101}
	bob   = &service.Actor{UserID: 102}
	carol = &service.Actor{UserID: 103}
)

func newTestService(t *testing.T, maxBytes int64) (*Service, *gorm.DB, string) {
	t.Helper()
	db := dbtest.Open(t)
	dir := t.TempDir()
	clock := service.NewFakeClock(time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC))
	return New(db, NewLocalStorage(dir), clock, maxBytes, 0), db, dir
}

func wantErr(t *testing.T, err error, kind service.Kind, code string) {
	t.Helper()
	var e *service.Error
	if !errors.As(err, &e) || e.Kind != kind || e.Code != code {
		t.Fatalf("err = %v, want kind %d code %s", err, kind, code)
	}
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUploadStripsAndStores(t *testing.T) {
	s, db, _ := newTestService(t, 1<<20)
	ctx := context.Background()
	_, j := jpegWithGPS(t, 6)
	_, p := pngWithGPS(t)
	for _, tc := range []struct {
		name, filename, mime string
		data                 []byte
		want                 string
	}{
		{"jpeg", "IMG_2026.JPG", "image/jpeg", j, MimeJPEG},
		{"jpeg as image/jpg, no extension", "wxfile_tmp_abc", "image/jpg", j, MimeJPEG},
		{"png, octet-stream", "screenshot.png", "application/octet-stream", p, MimePNG},
		{"webp, nothing declared", "a.webp", "", webpWithGPS(), MimeWebP},
		{"windows path", `C:\Users\x\photo.jpeg`, "image/jpeg; charset=binary", j, MimeJPEG},
	} {
		ph, err := s.Upload(ctx, alice, tc.filename, tc.mime, tc.data)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if ph.ID == 0 || ph.Mime != tc.want || ph.UploaderID != alice.UserID || ph.OrderID != 0 || len(ph.Key) != 32 {
			t.Fatalf("%s: photo %+v", tc.name, ph)
		}
		got, rc, err := s.Open(ctx, alice, ph.ID)
		if err != nil {
			t.Fatalf("%s: open: %v", tc.name, err)
		}
		stored := readAll(t, rc)
		assertNoLocation(t, stored)
		sum := sha256.Sum256(stored)
		if got.SHA256 != hex.EncodeToString(sum[:]) || got.Size != int64(len(stored)) {
			t.Fatalf("%s: row %+v does not describe the stored bytes", tc.name, got)
		}
		if tc.want != MimeWebP {
			decodePixels(t, stored)
		}
		var row model.Photo
		if err := db.Take(&row, ph.ID).Error; err != nil || row.Key != ph.Key {
			t.Fatalf("%s: row not stored: %v", tc.name, err)
		}
	}
}

func TestUploadRefusesWhatIsNotAPhoto(t *testing.T) {
	s, db, dir := newTestService(t, 4096)
	ctx := context.Background()
	plainJPEG, j := jpegWithGPS(t, 1)
	_, p := pngWithGPS(t)
	big := append(append([]byte{}, plainJPEG...), make([]byte, 4096)...)
	cases := []struct {
		name, filename, mime string
		data                 []byte
		kind                 service.Kind
		code                 string
	}{
		{"png named .jpg", "a.jpg", "", p, service.KindUnsupported, "unsupported_photo"},
		{"jpeg declared as png", "a", "image/png", j, service.KindUnsupported, "unsupported_photo"},
		{"jpeg named .gif", "a.gif", "image/jpeg", j, service.KindUnsupported, "unsupported_photo"},
		{"jpeg named .html", "a.html", "", j, service.KindUnsupported, "unsupported_photo"},
		{"text named .jpg", "a.jpg", "image/jpeg", []byte("<html><script>alert(1)</script></html>"), service.KindUnsupported, "unsupported_photo"},
		{"gif", "a.gif", "image/gif", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"), service.KindUnsupported, "unsupported_photo"},
		{"jpeg magic, then junk", "a.jpg", "image/jpeg", []byte("\xFF\xD8\xFF\xE0\x00\x04\x00\x00junk junk"), service.KindUnsupported, "unsupported_photo"},
		{"jpeg without a frame", "a.jpg", "", []byte("\xFF\xD8\xFF\xDA\x00\x02\x00\x00\xFF\xD9"), service.KindUnsupported, "unsupported_photo"},
		{"bad content type", "a.jpg", "image/", j, service.KindUnsupported, "unsupported_photo"},
		{"empty", "a.jpg", "image/jpeg", nil, service.KindInvalid, "empty_photo"},
		{"too large", "a.jpg", "image/jpeg", big, service.KindTooLarge, "photo_too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Upload(ctx, alice, tc.filename, tc.mime, tc.data)
			wantErr(t, err, tc.kind, tc.code)
		})
	}
	if _, err := s.Upload(ctx, nil, "a.jpg", "", j); service.KindOf(err) != service.KindUnauthorized {
		t.Fatalf("anonymous upload: %v", err)
	}
	var n int64
	db.Model(&model.Photo{}).Count(&n)
	entries, _ := os.ReadDir(dir)
	if n != 0 || len(entries) != 0 {
		t.Fatalf("refused uploads left %d rows and %d entries in storage", n, len(entries))
	}
}

func upload(t *testing.T, s *Service, a *service.Actor) model.Photo {
	t.Helper()
	_, j := jpegWithGPS(t, 1)
	p, err := s.Upload(context.Background(), a, "p.jpg", "image/jpeg", j)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func attach(s *Service, db *gorm.DB, uploader int64, ids []int64, order int64) error {
	return model.InTx(context.Background(), db, func(tx *gorm.DB) error {
		return s.Attach(context.Background(), tx, uploader, ids, order)
	})
}

func orderOf(t *testing.T, db *gorm.DB, id int64) int64 {
	t.Helper()
	var p model.Photo
	if err := db.Take(&p, id).Error; err != nil {
		t.Fatal(err)
	}
	return p.OrderID
}

func TestAttach(t *testing.T) {
	s, db, _ := newTestService(t, 1<<20)
	a1, a2, a3 := upload(t, s, alice), upload(t, s, alice), upload(t, s, alice)
	b1 := upload(t, s, bob)

	if err := attach(s, db, alice.UserID, []int64{a1.ID, a2.ID, a1.ID}, 10); err != nil {
		t.Fatal(err)
	}
	if orderOf(t, db, a1.ID) != 10 || orderOf(t, db, a2.ID) != 10 || orderOf(t, db, a3.ID) != 0 {
		t.Fatal("attach did not mark exactly the given photos")
	}
	// A retry of the same request, plus a new photo, is fine.
	if err := attach(s, db, alice.UserID, []int64{a1.ID, a2.ID, a3.ID}, 10); err != nil {
		t.Fatalf("re-attach: %v", err)
	}
	if err := attach(s, db, alice.UserID, nil, 10); err != nil {
		t.Fatalf("no photos: %v", err)
	}
	a4 := upload(t, s, alice)
	for _, tc := range []struct {
		name     string
		uploader int64
		ids      []int64
		code     string
	}{
		{"another order", alice.UserID, []int64{a4.ID, a1.ID}, "photo_attached"},
		{"someone else's", alice.UserID, []int64{a4.ID, b1.ID}, "photo_unavailable"},
		{"no such photo", alice.UserID, []int64{a4.ID, 999999}, "photo_unavailable"},
	} {
		err := attach(s, db, tc.uploader, tc.ids, 11)
		wantErr(t, err, service.KindUnprocessable, tc.code)
		// The caller's transaction rolled back: a4 is still free.
		if orderOf(t, db, a4.ID) != 0 {
			t.Fatalf("%s: a4 attached although the call failed", tc.name)
		}
	}
	if orderOf(t, db, a1.ID) != 10 || orderOf(t, db, b1.ID) != 0 {
		t.Fatal("a refused attach changed other photos")
	}
}

// Two orders claiming one photo at once: exactly one wins. Real goroutines
// need MariaDB's row locks; the SQLite suite has one connection.
func TestAttachRace(t *testing.T) {
	if !dbtest.MySQL() {
		t.Skip("concurrency test: runs on MariaDB only (REDPROP_TEST_MYSQL_DSN)")
	}
	s, db, _ := newTestService(t, 1<<20)
	for round := 0; round < 10; round++ {
		p := upload(t, s, alice)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = attach(s, db, alice.UserID, []int64{p.ID}, int64(100+i))
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case service.KindOf(err) == service.KindUnprocessable || service.KindOf(err) == service.KindConflict:
			default:
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
		}
		if got := orderOf(t, db, p.ID); wins != 1 || (got != 100 && got != 101) {
			t.Fatalf("round %d: %d winners, photo on order %d", round, wins, got)
		}
	}
}

// Open serves the uploader only; who else may see an order's photo is
// the order capability's call, which opens it with OpenChecked.
func TestOpenVisibility(t *testing.T) {
	s, db, _ := newTestService(t, 1<<20)
	ctx := context.Background()
	loose := upload(t, s, alice)
	attached := upload(t, s, alice)
	if err := attach(s, db, alice.UserID, []int64{attached.ID}, 42); err != nil {
		t.Fatal(err)
	}
	t.Run("the uploader always sees their photos", func(t *testing.T) {
		for _, id := range []int64{loose.ID, attached.ID} {
			if _, rc, err := s.Open(ctx, alice, id); err != nil {
				t.Fatalf("photo %d: %v", id, err)
			} else {
				rc.Close()
			}
		}
	})
	t.Run("nobody else, attached or not, and absence looks the same", func(t *testing.T) {
		for _, id := range []int64{attached.ID, loose.ID, 987654} {
			_, _, err := s.Open(ctx, bob, id)
			wantErr(t, err, service.KindNotFound, "photo_not_found")
		}
		_, _, err := s.Open(ctx, nil, attached.ID)
		wantErr(t, err, service.KindUnauthorized, "unauthenticated")
	})
	t.Run("a capability that has decided opens any photo", func(t *testing.T) {
		p, rc, err := s.OpenChecked(ctx, attached.ID)
		if err != nil {
			t.Fatal(err)
		}
		if b := readAll(t, rc); int64(len(b)) != p.Size || p.OrderID != 42 {
			t.Fatalf("short read or wrong photo %+v", p)
		}
		_, _, err = s.OpenChecked(ctx, 987654)
		wantErr(t, err, service.KindNotFound, "photo_not_found")
	})
	t.Run("find reads the record only", func(t *testing.T) {
		p, err := s.Find(ctx, attached.ID)
		if err != nil || p.OrderID != 42 || p.UploaderID != alice.UserID {
			t.Fatalf("find: %+v %v", p, err)
		}
		_, err = s.Find(ctx, 987654)
		wantErr(t, err, service.KindNotFound, "photo_not_found")
	})
}

func TestLocalStorage(t *testing.T) {
	dir := t.TempDir()
	st := NewLocalStorage(filepath.Join(dir, "photos"))
	ctx := context.Background()
	for _, key := range []string{"", "a", "../etc", "..", "a/b", `a\b`, ".hidden", "x.jpg", "abc\x00", "ключ", string(bytes.Repeat([]byte("a"), 65))} {
		if err := st.Put(ctx, key, []byte("x")); !errors.Is(err, ErrBadKey) {
			t.Errorf("Put(%q): %v, want ErrBadKey", key, err)
		}
		if _, err := st.Open(ctx, key); !errors.Is(err, ErrBadKey) {
			t.Errorf("Open(%q): %v, want ErrBadKey", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "etc")); err == nil {
		t.Fatal("a traversing key wrote outside the store")
	}
	if err := st.Put(ctx, "abcdef0123", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "abcdef0123", []byte("two")); err != nil {
		t.Fatal(err)
	}
	rc, err := st.Open(ctx, "abcdef0123")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, rc); string(got) != "two" {
		t.Fatalf("read %q", got)
	}
	if _, err := st.Open(ctx, "ffffffff"); !errors.Is(err, ErrNoObject) {
		t.Fatalf("missing key: %v", err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Join(dir, "photos", "ab"))
	if len(entries) != 1 || entries[0].Name() != "abcdef0123" {
		t.Fatalf("store holds %v", entries)
	}
}

// A tiny file whose header claims a huge picture (a decompression bomb)
// is refused before anything decodes it, in each format we take; the
// limit is the service's.
func TestUploadRefusesPixelBombs(t *testing.T) {
	s, db, dir := newTestService(t, 1<<20)
	ctx := context.Background()
	plainJPEG, _ := jpegWithGPS(t, 1)
	plainPNG, _ := pngWithGPS(t)
	jpegBomb := append([]byte{}, plainJPEG...)
	sof := bytes.Index(jpegBomb, []byte{0xFF, 0xC0})
	if sof < 0 {
		t.Fatal("no SOF0 in the test JPEG")
	}
	binary.BigEndian.PutUint16(jpegBomb[sof+5:], 60000) // height
	binary.BigEndian.PutUint16(jpegBomb[sof+7:], 60000) // width
	pngBomb := append([]byte{}, plainPNG...)
	binary.BigEndian.PutUint32(pngBomb[16:], 60000)
	binary.BigEndian.PutUint32(pngBomb[20:], 60000)
	binary.BigEndian.PutUint32(pngBomb[29:], crc32.ChecksumIEEE(pngBomb[12:29]))
	vp8lBomb := append([]byte{}, vp8l1x1...)
	binary.LittleEndian.PutUint32(vp8lBomb[1:], 0x3fff|0x3fff<<14) // 16384×16384
	lossy, err := os.ReadFile("testdata/lossy_gps.webp")
	if err != nil {
		t.Fatal(err)
	}
	vp8Bomb := setWebPCanvas(t, lossy, 16000, 16000)
	for _, tc := range []struct {
		name, file string
		data       []byte
	}{
		{"jpeg 60000×60000", "a.jpg", jpegBomb},
		{"png 60000×60000", "a.png", pngBomb},
		{"lossless webp 16384×16384", "a.webp", riff(riffChunk("VP8L", vp8lBomb))},
		{"webp canvas 16000×16000", "a.webp", vp8Bomb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.data) > 4096 {
				t.Fatalf("the bomb is %d bytes; it should be tiny", len(tc.data))
			}
			_, err := s.Upload(ctx, alice, tc.file, "", tc.data)
			wantErr(t, err, service.KindTooLarge, "photo_too_many_pixels")
		})
	}
	var n int64
	db.Model(&model.Photo{}).Count(&n)
	if entries, _ := os.ReadDir(dir); n != 0 || len(entries) != 0 {
		t.Fatalf("refused bombs left %d rows and %d files", n, len(entries))
	}
	t.Run("real files are within the limit", func(t *testing.T) {
		for _, f := range []string{"lossy_gps.webp", "lossless_gps.webp", "progressive_gps.jpg"} {
			b, err := os.ReadFile("testdata/" + f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Upload(ctx, alice, f, "", b); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	})
	t.Run("the limit is configurable", func(t *testing.T) {
		small := New(db, NewLocalStorage(t.TempDir()), service.NewFakeClock(time.Now()), 1<<20, 16*8-1)
		_, err := small.Upload(ctx, alice, "a.jpg", "", plainJPEG) // 16×8
		wantErr(t, err, service.KindTooLarge, "photo_too_many_pixels")
	})
}

// setWebPCanvas rewrites the size a WebP's first image chunk claims:
// VP8X's canvas, or the VP8 key frame's width and height.
func setWebPCanvas(t *testing.T, b []byte, w, h int) []byte {
	t.Helper()
	out := append([]byte{}, b...)
	p := out[20:]
	switch string(out[12:16]) {
	case "VP8X":
		p[4], p[5], p[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
		p[7], p[8], p[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	case "VP8 ":
		binary.LittleEndian.PutUint16(p[6:], uint16(w))
		binary.LittleEndian.PutUint16(p[8:], uint16(h))
	default:
		t.Fatalf("first chunk %q", out[12:16])
	}
	return out
}
