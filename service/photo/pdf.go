package photo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	"redprop/model"
	"redprop/service"
)

// MimePDF is a scanned receipt or statement: public revenue reports carry
// them beside photos.
const MimePDF = "application/pdf"

var (
	errNotPDF    = service.Unsupported("unsupported_document", "仅支持 PDF 格式的文件")
	errPDFBroken = service.Unsupported("unsupported_document", "PDF 文件不完整或已损坏，请重新导出后上传")
	errPDFActive = service.Unsupported("unsupported_document", "PDF 中含有脚本、自动操作或嵌入文件，不能上传；请以打印为 PDF 的方式另存后上传")
)

// activeNames are PDF names of content that runs or carries other files:
// a receipt needs none of them, and a reader that honours them would run
// them on the phones of residents.
var activeNames = []string{"/JavaScript", "/JS", "/Launch", "/OpenAction", "/AA", "/EmbeddedFile", "/RichMedia", "/XFA", "/SubmitForm", "/ImportData"}

// checkPDF checks that data is a whole PDF — the header, an end-of-file
// marker near its end — and names no active content. Names may spell a
// character as #hh; they are decoded before the check. Content inside
// compressed object streams is not unpacked: a PDF holding object streams
// (/ObjStm) is refused too, since what they hold cannot be checked.
func checkPDF(data []byte) error {
	if len(data) < 16 || !bytes.HasPrefix(data, []byte("%PDF-")) || data[5] < '1' || data[5] > '2' || data[6] != '.' {
		return errNotPDF
	}
	tail := data[max(0, len(data)-1024):]
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return errPDFBroken
	}
	names := decodeNames(data)
	for _, n := range append(activeNames, "/ObjStm") {
		if hasName(names, n) {
			return errPDFActive
		}
	}
	return nil
}

// hasName reports whether name occurs as a whole PDF name (not as the
// prefix of a longer one: /JS is not /JSON).
func hasName(data []byte, name string) bool {
	b := []byte(name)
	for i := 0; ; {
		j := bytes.Index(data[i:], b)
		if j < 0 {
			return false
		}
		end := i + j + len(b)
		if end >= len(data) || !isNameChar(data[end]) {
			return true
		}
		i = end
	}
}

func isNameChar(c byte) bool {
	return c > 0x20 && c < 0x7f && !strings.ContainsRune("()<>[]{}/%", rune(c))
}

// decodeNames replaces #hh escapes in names with the byte they stand for.
func decodeNames(data []byte) []byte {
	if !bytes.Contains(data, []byte("#")) {
		return data
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		if data[i] == '#' && i+2 < len(data) {
			if v, err := hex.DecodeString(string(data[i+1 : i+3])); err == nil {
				out = append(out, v[0])
				i += 2
				continue
			}
		}
		out = append(out, data[i])
	}
	return out
}

// UploadPDF checks and stores one PDF of the actor, kept beside photos:
// it is attached by id as a photo is, and served with its own type.
func (s *Service) UploadPDF(ctx context.Context, a *service.Actor, filename, declaredMime string, data []byte) (model.Photo, error) {
	if a == nil {
		return model.Photo{}, service.ErrUnauthenticated
	}
	if int64(len(data)) > s.maxBytes {
		return model.Photo{}, service.TooLarge("document_too_large", "文件不能超过 "+humanSize(s.maxBytes))
	}
	if len(data) == 0 {
		return model.Photo{}, errEmpty
	}
	name := strings.ReplaceAll(filename, `\`, "/")
	if ext := strings.ToLower(path.Ext(name)); ext != "" && ext != ".pdf" {
		return model.Photo{}, errNotPDF
	}
	if mt, ok := declaredType(declaredMime); ok && mt != MimePDF {
		return model.Photo{}, errNotPDF
	}
	if err := checkPDF(data); err != nil {
		return model.Photo{}, err
	}
	sum := sha256.Sum256(data)
	p := model.Photo{Key: newKey(), UploaderID: a.UserID, Mime: MimePDF, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	p.CreatedAt = s.clock.Now()
	p.UpdatedAt = p.CreatedAt
	if err := s.storage.Put(ctx, p.Key, data); err != nil {
		return model.Photo{}, err
	}
	if err := model.Create(ctx, s.db, &p); err != nil {
		return model.Photo{}, fmt.Errorf("record document: %w", err)
	}
	return p, nil
}
