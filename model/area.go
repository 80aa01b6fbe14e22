package model

import (
	"errors"
	"strconv"
	"strings"
)

// ParseArea reads an area in m² with at most two decimals ("89.5") into
// hundredths of a m², exactly: vote weights must not suffer float rounding.
func ParseArea(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, errors.New("bad area")
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1_000_000 {
		return 0, errors.New("bad area")
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || f < 0 {
		return 0, errors.New("bad area")
	}
	return w*100 + f, nil
}

// FormatArea writes hundredths of a m² as "89.50".
func FormatArea(centi int64) string {
	return strconv.FormatInt(centi/100, 10) + "." + pad2(centi%100)
}

func pad2(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}
