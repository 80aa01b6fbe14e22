//go:build unix

package main

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

var instanceName = regexp.MustCompile(`^[0-9a-f]{12}$`)

// workerInstance names this process's outbox worker, so that after a
// crash the restarted process releases at once the pushes its predecessor
// held instead of waiting out their leases. The name lives in
// data_dir/outbox-worker-<n>.id, made once at random (so no two hosts
// share one), and is locked while the process runs: a second process on
// the same data dir takes the next file, and a file that can be locked
// belongs to no live process. Without a usable data dir the worker has no
// name and its rows are freed by their short leases alone.
func workerInstance(dir string, log *slog.Logger) (string, func()) {
	none := func() {}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Warn("outbox worker without an instance name", "err", err)
		return "", none
	}
	for n := range 16 {
		path := filepath.Join(dir, fmt.Sprintf("outbox-worker-%d.id", n))
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			log.Warn("outbox worker without an instance name", "err", err)
			return "", none
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close() // another live process holds it
			continue
		}
		b, err := io.ReadAll(f)
		name := strings.TrimSpace(string(b))
		if err != nil || !instanceName.MatchString(name) {
			var r [6]byte
			if _, err := crand.Read(r[:]); err != nil {
				panic(err)
			}
			name = hex.EncodeToString(r[:])
			if err := f.Truncate(0); err == nil {
				_, err = f.WriteAt([]byte(name+"\n"), 0)
			}
			if err == nil {
				err = f.Sync()
			}
			if err != nil {
				f.Close()
				log.Warn("outbox worker without an instance name", "err", err)
				return "", none
			}
		}
		return name, func() { f.Close() }
	}
	log.Warn("outbox worker without an instance name: 16 processes already use this data dir", "data_dir", dir)
	return "", none
}
