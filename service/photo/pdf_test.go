package photo

import (
	"strings"
	"testing"
)

func pdf(body string) []byte {
	return []byte("%PDF-1.4\n" + body + "\ntrailer << /Root 1 0 R >>\n%%EOF\n")
}

func TestPDFContentCheck(t *testing.T) {
	ok := [][]byte{
		pdf("1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj"),
		pdf("1 0 obj << /Type /Catalog /JSON (plain text) /JSX 1 >> endobj"),
	}
	for _, b := range ok {
		if err := checkPDF(b); err != nil {
			t.Errorf("refused %q: %v", b, err)
		}
	}
	bad := map[string][]byte{
		"not a pdf":         []byte("GIF89a........................"),
		"no end":            []byte("%PDF-1.4\n1 0 obj << >> endobj\n"),
		"javascript":        pdf("1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj"),
		"escaped name":      pdf("1 0 obj << /S /J#61vaScript >> endobj"),
		"launch":            pdf("1 0 obj << /S /Launch /F (cmd.exe) >> endobj"),
		"embedded file":     pdf("1 0 obj << /Type /EmbeddedFile >> endobj"),
		"object stream":     pdf("1 0 obj << /Type /ObjStm /N 3 >> stream\nxx\nendstream endobj"),
		"bad version":       []byte("%PDF-9.9\n" + strings.Repeat("x", 20) + "\n%%EOF"),
		"additional action": pdf("1 0 obj << /AA << /O 2 0 R >> >> endobj"),
	}
	for name, b := range bad {
		if err := checkPDF(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
