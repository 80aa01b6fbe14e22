package photo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Storage keeps photo bytes under opaque keys. Keys are made by this
// package, but implementations still refuse anything that is not a plain
// name, so a bug upstream cannot reach outside the store.
type Storage interface {
	Put(ctx context.Context, key string, data []byte) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// ErrBadKey is returned for a key that is not a safe name.
var ErrBadKey = errors.New("photo storage: key must be 2 to 64 letters, digits, '-' or '_'")

// ErrNoObject is returned by Open for a key that holds nothing.
var ErrNoObject = errors.New("photo storage: no such object")

// validKey admits letters, digits, '-' and '_': no separators, no dots,
// nothing a file system reads as a path.
func validKey(key string) bool {
	if len(key) < 2 || len(key) > 64 {
		return false
	}
	for _, r := range key {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

// LocalStorage keeps photos as files under one directory, fanned out by
// the key's first two characters so no directory grows to millions.
type LocalStorage struct {
	dir string
}

// NewLocalStorage stores under dir (created on first write).
func NewLocalStorage(dir string) *LocalStorage { return &LocalStorage{dir: dir} }

func (s *LocalStorage) path(key string) string {
	return filepath.Join(s.dir, key[:2], key)
}

// Put writes data under key: to a temporary file first, synced, then
// renamed, so a reader never sees half a photo and a crash leaves none.
func (s *LocalStorage) Put(ctx context.Context, key string, data []byte) error {
	if !validKey(key) {
		return ErrBadKey
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	final := s.path(key)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("photo storage: %w", err)
	}
	f, err := os.CreateTemp(dir, ".put-*")
	if err != nil {
		return fmt.Errorf("photo storage: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("photo storage: write %s: %w", key, err)
	}
	return nil
}

// Open reads the photo stored under key.
func (s *LocalStorage) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if !validKey(key) {
		return nil, ErrBadKey
	}
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoObject, key)
	}
	if err != nil {
		return nil, fmt.Errorf("photo storage: %w", err)
	}
	return f, nil
}
