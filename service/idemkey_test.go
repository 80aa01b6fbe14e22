package service

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckIdemKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"":                       true,
		"order-1":                true,
		strings.Repeat("k", 64):  true,
		strings.Repeat("k", 65):  false,
		"with space":             false,
		"tab\t":                  false,
		"中文":                     false,
		"~!@#$%^&*()_+{}|:<>?[]": true,
	} {
		if err := CheckIdemKey(key); (err == nil) != ok || (err != nil && !errors.Is(err, ErrIdemKey)) {
			t.Errorf("CheckIdemKey(%q) = %v, want ok=%v", key, err, ok)
		}
	}
}
