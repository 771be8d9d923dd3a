// Command ferretdb runs FerretDB v1 (MongoDB wire protocol) on SQLite for the
// Trellis local stack. It embeds the library instead of `go install`-ing
// FerretDB's own cmd, which panics without the version file its build adds,
// and keeps an index that makes lookups by `_id` use it (see idindex.go).
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := flag.String("data", "data", "SQLite data directory")
	var level slog.Level
	flag.TextVar(&level, "log-level", slog.LevelWarn, "debug, info, warn or error")
	flag.Parse()

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		slog.Error("cannot create data directory", "dir", *dir, "err", err)
		os.Exit(1)
	}

	// FerretDB is chatty: info logs every connection, warn every unsupported
	// command (the Node driver's endSessions on each close).
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  "sqlite",
		// WAL without fsyncs (synchronous=OFF): a killed process loses nothing,
		// an OS crash may lose or damage recent writes. The local stack is
		// disposable (PostgreSQL runs with fsync=off for the same reason). With
		// FULL an fsync per commit put a disk flush into every realtime event's
		// path; with NORMAL the WAL checkpoints, run by whichever insert crosses
		// the threshold (several a second under load), still flushed twice.
		SQLiteURL: "file:" + *dir + "/?_pragma=synchronous(off)",
	})
	if err != nil {
		logger.Error("cannot start FerretDB", "err", err)
		os.Exit(1)
	}

	// SIGTERM from `stack:down` cancels the context and FerretDB closes cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	go newIDIndexKeeper(*dir, logger).run(ctx, time.Second)

	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		logger.Error("FerretDB stopped", "err", err)
		os.Exit(1)
	}
}
