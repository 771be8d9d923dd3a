// Command ferretdb runs FerretDB v1 (MongoDB wire protocol) on PostgreSQL for the
// Trellis local stack. It embeds the library instead of `go install`-ing
// FerretDB's own cmd, which panics without the version file its build adds,
// and keeps the indexes that let PostgreSQL serve FerretDB's filters (see
// ginindex.go).
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
	// Unused here: it names the local stack this process belongs to on its command line, where the
	// stack manager looks for its own daemons (the data lives in PostgreSQL, not under that folder).
	flag.String("stack", "", "the local stack's state folder")
	var level slog.Level
	flag.TextVar(&level, "log-level", slog.LevelWarn, "debug, info, warn or error")
	flag.Parse()

	// FerretDB is chatty: info logs every connection, warn every unsupported
	// command (the Node driver's endSessions on each close).
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// From the environment, not a flag: the URL may hold a password, and `ps` shows flags.
	url := os.Getenv("FERRETDB_POSTGRESQL_URL")
	if url == "" {
		logger.Error("FERRETDB_POSTGRESQL_URL (the PostgreSQL database to keep the data in) is not set")
		os.Exit(2)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: url,
	})
	if err != nil {
		logger.Error("cannot start FerretDB", "err", err)
		os.Exit(1)
	}

	// SIGTERM from `stack:down` cancels the context and FerretDB closes cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	keeper, err := newGINIndexKeeper(ctx, url, logger)
	if err != nil {
		logger.Error("cannot connect the index keeper", "err", err)
		os.Exit(1)
	}
	defer keeper.close()
	go keeper.run(ctx, time.Second)

	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		logger.Error("FerretDB stopped", "err", err)
		os.Exit(1)
	}
}
