package photo

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// gpsRationals are the bytes of 31°14'23.04"N as Exif writes them: a
// sequence no encoder produces by chance, so finding it means the GPS block
// survived.
var gpsRationals = []byte{0, 0, 0, 31, 0, 0, 0, 1, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0x09, 0x00, 0, 0, 0, 100}

const xmpLocation = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="31,14.384N" exif:GPSLongitude="121,28.2E"/></rdf:RDF></x:xmpmeta>`

// exifWithGPS builds a big-endian Exif TIFF block: IFD0 with an
// orientation and a pointer to a GPS IFD holding latitude N 31°14'23.04".
func exifWithGPS(orientation uint16) []byte {
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.BigEndian, v) }
	b.WriteString("MM")
	w(uint16(42))
	w(uint32(8)) // IFD0
	// IFD0: 2 entries → 2 + 24 + 4 = 30 bytes, GPS IFD at 38.
	w(uint16(2))
	w([]uint16{0x0112, 3})
	w(uint32(1))
	w([]uint16{orientation, 0})
	w([]uint16{0x8825, 4}) // GPSInfo, LONG
	w(uint32(1))
	w(uint32(38))
	w(uint32(0))
	// GPS IFD: 2 entries → 2 + 24 + 4 = 30 bytes, rationals at 68.
	w(uint16(2))
	w([]uint16{0x0001, 2}) // GPSLatitudeRef, ASCII "N\0"
	w(uint32(2))
	b.Write([]byte{'N', 0, 0, 0})
	w([]uint16{0x0002, 5}) // GPSLatitude, 3 RATIONAL
	w(uint32(3))
	w(uint32(68))
	w(uint32(0))
	b.Write(gpsRationals)
	return b.Bytes()
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 16, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 16; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 32), 200, 255})
		}
	}
	return img
}

func jpegSegment(marker byte, payload []byte) []byte {
	n := len(payload) + 2
	return append([]byte{0xFF, marker, byte(n >> 8), byte(n)}, payload...)
}

// jpegWithGPS is a real JPEG with an Exif GPS block, an XMP packet and a
// comment spliced in after SOI, and a "motion photo" trailer after EOI.
func jpegWithGPS(t testing.TB, orientation uint16) (plain, tagged []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	plain = buf.Bytes()
	var out []byte
	out = append(out, plain[:2]...)
	out = append(out, jpegSegment(0xE1, append([]byte("Exif\x00\x00"), exifWithGPS(orientation)...))...)
	out = append(out, jpegSegment(0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), xmpLocation...))...)
	out = append(out, jpegSegment(0xFE, []byte("shot at 31,14.384N"))...)
	out = append(out, plain[2:]...)
	out = append(out, "ftypmp42 GPSLatitude trailer"...)
	return plain, out
}

func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// pngWithGPS is a real PNG with eXIf, tEXt, zTXt and iTXt chunks spliced
// in after IHDR and before IEND.
func pngWithGPS(t testing.TB) (plain, tagged []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage()); err != nil {
		t.Fatal(err)
	}
	plain = buf.Bytes()
	ihdrEnd := 8 + 12 + 13
	iend := len(plain) - 12
	var out []byte
	out = append(out, plain[:ihdrEnd]...)
	out = append(out, pngChunk("eXIf", exifWithGPS(1))...)
	out = append(out, pngChunk("tEXt", []byte("Comment\x00GPSLatitude 31,14.384N"))...)
	out = append(out, plain[ihdrEnd:iend]...)
	out = append(out, pngChunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), xmpLocation...))...)
	out = append(out, pngChunk("zTXt", []byte("Raw profile\x00\x00x\x9c\x03\x00\x00\x00\x00\x01"))...)
	out = append(out, plain[iend:]...)
	out = append(out, "trailing GPSLatitude"...)
	return plain, out
}

// vp8l1x1 is a lossless WebP bitstream of one pixel: the
// header (width-1 = 0, height-1 = 0, no alpha, version 0), no transform,
// no colour cache, no meta prefix codes, and five one-symbol simple codes.
var vp8l1x1 = []byte{0x2f, 0x00, 0x00, 0x00, 0x00, 0x88, 0x88, 0x08}

func riffChunk(fourcc string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString(fourcc)
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	if len(data)%2 == 1 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func riff(chunks ...[]byte) []byte {
	body := bytes.Join(chunks, nil)
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+len(body)))
	b.WriteString("WEBP")
	b.Write(body)
	return b.Bytes()
}

// webpWithGPS is an extended WebP whose VP8X announces EXIF and XMP, with
// both chunks present (the EXIF one of odd length, so padded).
func webpWithGPS() []byte {
	vp8x := make([]byte, 10)
	vp8x[0] = webpFlagEXIF | webpFlagXMP
	// canvas 1×1: width-1 and height-1 as 24-bit zeros
	exif := append(exifWithGPS(6), 0xAB) // odd length
	return riff(
		riffChunk("VP8X", vp8x),
		riffChunk("VP8L", vp8l1x1),
		riffChunk("EXIF", exif),
		riffChunk("XMP ", []byte(xmpLocation)),
	)
}

type riffEntry struct {
	fourcc string
	data   []byte
}

func parseRIFF(t *testing.T, b []byte) []riffEntry {
	t.Helper()
	if string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		t.Fatalf("not a RIFF WEBP: % x", b[:12])
	}
	if n := binary.LittleEndian.Uint32(b[4:]); int(n) != len(b)-8 {
		t.Fatalf("RIFF size %d, file holds %d", n, len(b)-8)
	}
	var out []riffEntry
	for i := 12; i < len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		out = append(out, riffEntry{string(b[i : i+4]), b[i+8 : i+8+n]})
		i += 8 + n + n%2
		if i > len(b) {
			t.Fatalf("chunk overruns the file")
		}
	}
	return out
}

func decodePixels(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("stripped image does not decode: %v", err)
	}
	return img
}

func samePixels(t *testing.T, a, b image.Image) {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v vs %v", a.Bounds(), b.Bounds())
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				t.Fatalf("pixel (%d,%d) changed: %v vs %v", x, y, a.At(x, y), b.At(x, y))
			}
		}
	}
}

func assertNoLocation(t *testing.T, b []byte) {
	t.Helper()
	for _, needle := range [][]byte{gpsRationals, []byte("GPSLatitude"), []byte("31,14.384N")} {
		if bytes.Contains(b, needle) {
			t.Fatalf("stripped bytes still contain %q", needle)
		}
	}
}

func TestStripJPEG(t *testing.T) {
	plain, tagged := jpegWithGPS(t, 6)
	if !bytes.Contains(tagged, gpsRationals) {
		t.Fatal("fixture lacks its GPS block")
	}
	if sniff(tagged) != MimeJPEG {
		t.Fatal("not sniffed as JPEG")
	}
	out, err := stripJPEG(tagged)
	if err != nil {
		t.Fatal(err)
	}
	assertNoLocation(t, out)
	samePixels(t, decodePixels(t, plain), decodePixels(t, out))
	// Orientation survives in an APP1 of its own, right after SOI.
	if !bytes.HasPrefix(out[2:], []byte{0xFF, 0xE1}) {
		t.Fatalf("no orientation segment after SOI: % x", out[:8])
	}
	n := int(out[4])<<8 | int(out[5])
	if o := exifOrientation(out[6 : 4+n]); o != 6 {
		t.Fatalf("orientation = %d, want 6", o)
	}
	if !bytes.HasSuffix(out, []byte{0xFF, 0xD9}) {
		t.Fatal("trailer after EOI kept")
	}
	// Stripping is idempotent and leaves a clean file alone but for the APP1.
	again, err := stripJPEG(out)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("second strip changed the file (err %v)", err)
	}
	clean, err := stripJPEG(plain)
	if err != nil || !bytes.Equal(clean, plain) {
		t.Fatalf("a metadata-free JPEG changed (err %v)", err)
	}
	// Orientation 1 (upright) needs no segment at all.
	_, upright := jpegWithGPS(t, 1)
	out1, err := stripJPEG(upright)
	if err != nil || !bytes.Equal(out1, plain) {
		t.Fatalf("upright JPEG: want the plain encoding back (err %v)", err)
	}
}

// JFIF wants APP0 right after SOI; the orientation segment goes after it.
func TestStripJPEGAfterJFIFKeepsAPP0First(t *testing.T) {
	plain, tagged := jpegWithGPS(t, 8)
	jfif := jpegSegment(0xE0, []byte("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
	withJFIF := append(append(append([]byte{}, tagged[:2]...), jfif...), tagged[2:]...)
	out, err := stripJPEG(withJFIF)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[2:2+len(jfif)], jfif) {
		t.Fatal("APP0 is not first after SOI")
	}
	if !bytes.HasPrefix(out[2+len(jfif):], []byte{0xFF, 0xE1}) {
		t.Fatal("orientation APP1 not after APP0")
	}
	assertNoLocation(t, out)
	samePixels(t, decodePixels(t, plain), decodePixels(t, out))
}

func TestStripJPEGRefusesBrokenFiles(t *testing.T) {
	plain, _ := jpegWithGPS(t, 1)
	for name, b := range map[string][]byte{
		"only SOI":          {0xFF, 0xD8, 0xFF},
		"segment overruns":  append([]byte{0xFF, 0xD8}, 0xFF, 0xE1, 0x40, 0x00, 'E'),
		"garbage after SOI": append([]byte{0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0}, "not a marker"...),
		"EOI before a scan": {0xFF, 0xD8, 0xFF, 0xD9},
		"cut before SOS":    plain[:20],
	} {
		if _, err := stripJPEG(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStripPNG(t *testing.T) {
	plain, tagged := pngWithGPS(t)
	if !bytes.Contains(tagged, gpsRationals) {
		t.Fatal("fixture lacks its GPS block")
	}
	if _, err := png.Decode(bytes.NewReader(tagged)); err != nil {
		t.Fatalf("fixture does not decode: %v", err)
	}
	out, err := stripPNG(tagged)
	if err != nil {
		t.Fatal(err)
	}
	assertNoLocation(t, out)
	if !bytes.Equal(out, plain) {
		t.Fatal("stripped PNG differs from the plain encoding")
	}
	samePixels(t, decodePixels(t, plain), decodePixels(t, out))

	bad := append([]byte{}, tagged...)
	bad[40] ^= 0xFF // inside the first spliced chunk: its CRC no longer matches
	if _, err := stripPNG(bad); err == nil {
		t.Fatal("a chunk with a bad CRC was accepted")
	}
	if _, err := stripPNG(plain[:len(plain)-12]); err == nil {
		t.Fatal("a PNG without IEND was accepted")
	}
}

func TestStripWebP(t *testing.T) {
	in := webpWithGPS()
	if sniff(in) != MimeWebP {
		t.Fatal("not sniffed as WebP")
	}
	if !bytes.Contains(in, gpsRationals) {
		t.Fatal("fixture lacks its GPS block")
	}
	out, err := stripWebP(in)
	if err != nil {
		t.Fatal(err)
	}
	assertNoLocation(t, out)
	chunks := parseRIFF(t, out)
	if len(chunks) != 2 || chunks[0].fourcc != "VP8X" || chunks[1].fourcc != "VP8L" {
		t.Fatalf("chunks = %v", chunks)
	}
	if f := chunks[0].data[0]; f&(webpFlagEXIF|webpFlagXMP) != 0 {
		t.Fatalf("VP8X flags still announce metadata: %08b", f)
	}
	if !bytes.Equal(chunks[1].data, vp8l1x1) {
		t.Fatal("the image chunk changed")
	}
	// A simple (lossy or lossless) file has nothing to strip.
	simple := riff(riffChunk("VP8L", vp8l1x1))
	same, err := stripWebP(simple)
	if err != nil || !bytes.Equal(same, simple) {
		t.Fatalf("simple WebP changed (err %v)", err)
	}
	// Metadata with no image is not a photo.
	if _, err := stripWebP(riff(riffChunk("EXIF", exifWithGPS(1)))); err == nil {
		t.Fatal("a WebP without image data was accepted")
	}
	trunc := append([]byte{}, in[:len(in)-10]...)
	if _, err := stripWebP(trunc); err == nil {
		t.Fatal("a truncated RIFF was accepted")
	}
}

func TestSniff(t *testing.T) {
	_, j := jpegWithGPS(t, 1)
	_, p := pngWithGPS(t)
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"jpeg":  {j, MimeJPEG},
		"png":   {p, MimePNG},
		"webp":  {webpWithGPS(), MimeWebP},
		"gif":   {[]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), ""},
		"text":  {[]byte("hello, this is not a picture"), ""},
		"wav":   {append([]byte("RIFF\x24\x00\x00\x00WAVEfmt "), make([]byte, 8)...), ""},
		"empty": {nil, ""},
	}
	for name, tc := range cases {
		if got := sniff(tc.b); got != tc.want {
			t.Errorf("%s: sniff = %q, want %q", name, got, tc.want)
		}
	}
}

// Files written by real tools from the fixtures above (jpegtran
// -progressive -copy all; cwebp -metadata all, lossy and lossless), so the
// walk meets what encoders other than ours produce.
func TestStripFilesFromRealEncoders(t *testing.T) {
	for _, name := range []string{"progressive_gps.jpg", "lossy_gps.webp", "lossless_gps.webp"} {
		in, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(in, []byte("GPSLatitude")) { // cwebp copies only XMP from a PNG
			t.Fatalf("%s: fixture lacks its location", name)
		}
		kind := sniff(in)
		out, err := strip(kind, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		assertNoLocation(t, out)
		switch kind {
		case MimeJPEG:
			plain, _ := jpegWithGPS(t, 1)
			samePixels(t, decodePixels(t, plain), decodePixels(t, out))
			if bytes.Count(out, []byte{0xFF, 0xDA}) < 2 {
				t.Fatalf("%s: scans lost", name)
			}
		case MimeWebP:
			chunks := parseRIFF(t, out)
			if len(chunks) != 2 || chunks[0].fourcc != "VP8X" || chunks[0].data[0]&(webpFlagEXIF|webpFlagXMP) != 0 {
				t.Fatalf("%s: chunks %v", name, chunks)
			}
		default:
			t.Fatalf("%s: sniffed as %q", name, kind)
		}
	}
}
