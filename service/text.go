package service

import "unicode/utf8"

// CutRunes shortens s to at most n characters (runes, not bytes: Chinese
// text is three bytes a character and must not be cut mid-character).
func CutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:max(n, 0)])
}
