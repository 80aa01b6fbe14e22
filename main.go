// Command redprop is the backend of the 红色物业 mini-program.
//
//	redprop [-config file] [serve]   start the API (the default)
//	redprop [-config file] migrate   bring the schema up to date
//	redprop [-config file] demo      load the demo city into an empty database
//	redprop [-config file] demo-history  write a closed past quarter and month of the demo city (to score)
//	redprop [-config file] admin ... first admin invitation, list/revoke grants
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/redis/go-redis/v9"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redprop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("redprop", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML configuration file (REDPROP_* variables override it)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: redprop [-config file] [serve | migrate | demo | demo-history | admin <invite|grants|revoke>]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd, rest := "serve", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel, out)
	// go-redis complains (a dropped connection, a failed pool dial)
	// through a process-wide logger of its own that writes to stderr.
	redis.SetLogger(redisLog{log})
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log)
	case "migrate":
		return migrateCmd(ctx, cfg, log, out)
	case "demo":
		return demoCmd(ctx, cfg, log, out)
	case "demo-history":
		return demoHistoryCmd(ctx, cfg, log, out)
	case "admin":
		return adminCmd(ctx, cfg, log, rest, out)
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func newLogger(level string, out io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: l}))
}

// redisLog is the configured logger in the shape go-redis logs through.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis", "detail", fmt.Sprintf(format, v...))
}

// devSecret makes a JWT secret for development when none is configured:
// tokens then last as long as the process. Production refuses to start
// without one (config.Validate).
func devSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sqlitePath(dataDir string) string { return filepath.Join(dataDir, "redprop.db") }
