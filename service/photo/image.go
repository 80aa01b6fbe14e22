package photo

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
)

// The content types we take. Phones produce JPEG, PNG (screenshots) and
// WebP; anything else is refused rather than stored blind.
const (
	MimeJPEG = "image/jpeg"
	MimePNG  = "image/png"
	MimeWebP = "image/webp"
)

var errMalformed = errors.New("malformed image")

var pngSignature = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}

// sniff names the format by its magic bytes ("" for anything else).
func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return MimeJPEG
	case bytes.HasPrefix(b, pngSignature):
		return MimePNG
	case len(b) >= 16 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		switch string(b[12:16]) {
		case "VP8 ", "VP8L", "VP8X":
			return MimeWebP
		}
	}
	return ""
}

// strip removes what can reveal where and when a picture was taken (Exif
// with GPS, XMP, text chunks) without re-encoding the image: the pixels
// stay byte-for-byte. A structure it cannot walk is refused.
func strip(mime string, b []byte) ([]byte, error) {
	switch mime {
	case MimeJPEG:
		return stripJPEG(b)
	case MimePNG:
		return stripPNG(b)
	case MimeWebP:
		return stripWebP(b)
	}
	return nil, errMalformed
}

// JPEG markers we act on.
const (
	jpegSOI  = 0xD8
	jpegEOI  = 0xD9
	jpegSOS  = 0xDA
	jpegAPP0 = 0xE0
	jpegAPP1 = 0xE1 // Exif and XMP
	jpegAPPD = 0xED // Photoshop IRB / IPTC, which can hold a location
	jpegCOM  = 0xFE
)

// stripJPEG walks the marker segments, dropping APP1, APP13 and comments,
// and copies entropy-coded scans as they are. Whatever follows EOI (phone
// makers append videos and depth maps there, with their own metadata) is
// dropped too. The Exif orientation is kept in a minimal APP1 of its own:
// without it, portrait photos from phones show up lying on their side.
func stripJPEG(b []byte) ([]byte, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != jpegSOI {
		return nil, errMalformed
	}
	out := make([]byte, 0, len(b))
	out = append(out, 0xFF, jpegSOI)
	orientation, afterAPP0, scanned := 0, 2, false
	i := 2
	for {
		if i >= len(b) {
			if !scanned {
				return nil, errMalformed
			}
			// A file cut short after its scans still decodes; end it properly.
			out = append(out, 0xFF, jpegEOI)
			break
		}
		if b[i] != 0xFF {
			return nil, errMalformed
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			return nil, errMalformed
		}
		m := b[i]
		i++
		if m == jpegEOI {
			if !scanned {
				return nil, errMalformed
			}
			out = append(out, 0xFF, jpegEOI)
			break
		}
		if m == 0x00 || m == jpegSOI {
			return nil, errMalformed
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) { // TEM, RSTn: no length
			out = append(out, 0xFF, m)
			continue
		}
		if i+2 > len(b) {
			return nil, errMalformed
		}
		n := int(b[i])<<8 | int(b[i+1])
		if n < 2 || i+n > len(b) {
			return nil, errMalformed
		}
		seg := b[i : i+n] // length field and payload
		i += n
		switch m {
		case jpegAPP1:
			if o := exifOrientation(seg[2:]); o > 1 && orientation == 0 {
				orientation = o
			}
			continue
		case jpegAPPD, jpegCOM:
			continue
		}
		out = append(out, 0xFF, m)
		out = append(out, seg...)
		if m == jpegAPP0 && len(out) == 4+n {
			afterAPP0 = len(out) // JFIF wants APP0 right after SOI
		}
		if m == jpegSOS {
			scanned = true
			j := scanEnd(b, i)
			out = append(out, b[i:j]...)
			i = j
		}
	}
	if orientation > 1 {
		app1 := orientationAPP1(orientation)
		out = append(out[:afterAPP0], append(app1, out[afterAPP0:]...)...)
	}
	return out, nil
}

// scanEnd returns where the entropy-coded data starting at i ends: at the
// next marker that is not byte stuffing (FF 00), a restart marker or fill.
func scanEnd(b []byte, i int) int {
	for ; i+1 < len(b); i++ {
		if b[i] != 0xFF {
			continue
		}
		next := b[i+1]
		if next == 0x00 || next == 0xFF || (next >= 0xD0 && next <= 0xD7) {
			continue
		}
		return i
	}
	return len(b)
}

// exifOrientation reads tag 0x0112 of IFD0 from an APP1 payload (0 when
// absent or not Exif).
func exifOrientation(p []byte) int {
	tiff, ok := bytes.CutPrefix(p, []byte("Exif\x00\x00"))
	if !ok || len(tiff) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 0
	}
	off := int64(bo.Uint32(tiff[4:]))
	if off < 8 || off+2 > int64(len(tiff)) {
		return 0
	}
	entries := int(bo.Uint16(tiff[off:]))
	for k := 0; k < entries; k++ {
		e := int(off) + 2 + 12*k
		if e+12 > len(tiff) {
			return 0
		}
		if bo.Uint16(tiff[e:]) == 0x0112 && bo.Uint16(tiff[e+2:]) == 3 { // SHORT
			if v := int(bo.Uint16(tiff[e+8:])); v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}

// orientationAPP1 builds an Exif segment holding nothing but the orientation.
func orientationAPP1(o int) []byte {
	payload := []byte("Exif\x00\x00")
	payload = append(payload,
		'M', 'M', 0, 42, 0, 0, 0, 8, // big-endian TIFF, IFD0 at 8
		0, 1, // one entry
		0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, // Orientation, SHORT, 1, value
		0, 0, 0, 0, // no next IFD
	)
	n := len(payload) + 2
	return append([]byte{0xFF, jpegAPP1, byte(n >> 8), byte(n)}, payload...)
}

// stripPNG copies the chunks up to IEND but the metadata ones (eXIf and
// the three text kinds), checking each CRC; bytes after IEND are dropped.
func stripPNG(b []byte) ([]byte, error) {
	if !bytes.HasPrefix(b, pngSignature) {
		return nil, errMalformed
	}
	out := make([]byte, 0, len(b))
	out = append(out, pngSignature...)
	for i := len(pngSignature); ; {
		if i+12 > len(b) {
			return nil, errMalformed
		}
		n := int64(binary.BigEndian.Uint32(b[i:]))
		if n > 1<<31-1 || int64(i)+12+n > int64(len(b)) {
			return nil, errMalformed
		}
		end := i + 12 + int(n)
		typ := string(b[i+4 : i+8])
		if i == len(pngSignature) && typ != "IHDR" {
			return nil, errMalformed
		}
		if crc32.ChecksumIEEE(b[i+4:end-4]) != binary.BigEndian.Uint32(b[end-4:]) {
			return nil, errMalformed
		}
		switch typ {
		case "eXIf", "tEXt", "zTXt", "iTXt":
		default:
			out = append(out, b[i:end]...)
		}
		i = end
		if typ == "IEND" {
			return out, nil
		}
	}
}

// VP8X flags that announce metadata chunks.
const (
	webpFlagEXIF = 0x08
	webpFlagXMP  = 0x04
)

// stripWebP drops the EXIF and XMP chunks of the RIFF container, clears
// their flags in VP8X and rewrites the RIFF size. Bytes after the RIFF
// container are dropped.
func stripWebP(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errMalformed
	}
	size := int64(binary.LittleEndian.Uint32(b[4:]))
	if size < 4 || 8+size > int64(len(b)) {
		return nil, errMalformed
	}
	body := b[12 : 8+size]
	out := make([]byte, 12, len(b))
	copy(out, b[:12])
	vp8x, image := -1, false
	for i := 0; i < len(body); {
		if i+8 > len(body) {
			return nil, errMalformed
		}
		fourcc := string(body[i : i+4])
		n := int64(binary.LittleEndian.Uint32(body[i+4:]))
		if int64(i)+8+n > int64(len(body)) {
			return nil, errMalformed
		}
		end := i + 8 + int(n)
		pad := int(n & 1)
		if end+pad > len(body) {
			pad = 0 // a last chunk missing its pad byte; added back below
		}
		switch fourcc {
		case "EXIF", "XMP ":
		default:
			switch fourcc {
			case "VP8X":
				if i != 0 || n < 10 {
					return nil, errMalformed
				}
				vp8x = len(out) + 8
			case "VP8 ", "VP8L", "ANIM":
				image = true
			}
			out = append(out, body[i:end]...)
			if n&1 == 1 {
				out = append(out, 0)
			}
		}
		i = end + pad
	}
	if !image {
		return nil, errMalformed
	}
	if vp8x >= 0 {
		out[vp8x] &^= webpFlagEXIF | webpFlagXMP
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}

// DefaultMaxPixels is the pixel count (width × height) above which a photo
// is refused when no other limit is configured: 40 megapixels is above
// what phones shoot, and decoding it for a thumbnail takes 160 MB.
const DefaultMaxPixels = 40_000_000

// dimensions reads the width and height a photo's header claims, without
// decoding pixels: a few hundred bytes can claim 60000×60000 (a
// decompression bomb), which must be refused before anyone decodes it.
func dimensions(mime string, b []byte) (w, h int, err error) {
	if mime == MimeWebP {
		return webpDimensions(b)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}

// webpDimensions reads the canvas size of a WebP (the standard library has
// no WebP decoder): from VP8X when present, else from the VP8 or VP8L
// bitstream header of the first chunk.
func webpDimensions(b []byte) (int, int, error) {
	if len(b) < 20 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, errMalformed
	}
	fourcc, n := string(b[12:16]), int(binary.LittleEndian.Uint32(b[16:20]))
	p := b[20:]
	if n > len(p) {
		return 0, 0, errMalformed
	}
	p = p[:n]
	u24 := func(q []byte) int { return int(q[0]) | int(q[1])<<8 | int(q[2])<<16 }
	switch fourcc {
	case "VP8X":
		if len(p) < 10 {
			return 0, 0, errMalformed
		}
		return 1 + u24(p[4:7]), 1 + u24(p[7:10]), nil
	case "VP8L":
		if len(p) < 5 || p[0] != 0x2f {
			return 0, 0, errMalformed
		}
		bits := binary.LittleEndian.Uint32(p[1:5])
		return 1 + int(bits&0x3fff), 1 + int(bits>>14&0x3fff), nil
	case "VP8 ":
		if len(p) < 10 || p[3] != 0x9d || p[4] != 0x01 || p[5] != 0x2a {
			return 0, 0, errMalformed
		}
		return int(binary.LittleEndian.Uint16(p[6:8]) & 0x3fff), int(binary.LittleEndian.Uint16(p[8:10]) & 0x3fff), nil
	}
	return 0, 0, errMalformed
}
