//go:build !unix

package main

import "log/slog"

// workerInstance gives no name where files cannot be locked: the rows of a
// crashed worker are then freed by their short leases alone.
func workerInstance(string, *slog.Logger) (string, func()) { return "", func() {} }
