package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FerretDB v1's PostgreSQL backend pushes a top-level equality filter down as
// `_jsonb -> 'field' @> 'value'` (jsonb containment), but builds the indexes a
// client asks for as B-trees on `(_jsonb -> 'field')`, which cannot answer `@>`:
// every find, count or update by a field other than the record's own id reads
// the whole table, and an inbox read or a consumer's lookup slows down as its
// collection grows.
//
// ginIndexKeeper adds a GIN index, which serves `@>`, on the same expression as
// the leading field of every index FerretDB made and every field of its unique
// indexes (the `_id` index included) — the fields queries name by equality. The
// later fields of a non-unique index are sort keys, which FerretDB v1 applies in
// Go whatever the indexes: a GIN index on them would only cost every insert.
// FerretDB does not know of these (it lists only its own indexes); they go with
// the table when a collection or database is dropped. New indexes get theirs on
// the next pass, a second at most after creation.
type ginIndexKeeper struct {
	// A pool of one: it opens a new connection after PostgreSQL restarts, where a plain
	// connection would fail every pass from then on.
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// The suffix of our index names, to tell them from FerretDB's.
const ginIndexSuffix = "_trellis_gin"

// One column of an index as `pg_get_indexdef(…, column, true)` prints a top-level field:
// `(_jsonb -> 'userId'::text)`; a nested one reads `((_jsonb -> 'a'::text) -> 'b'::text)`.
var topLevelField = regexp.MustCompile(`^\(_jsonb -> '((?:[^']|'')+)'::text\)$`)

func newGINIndexKeeper(ctx context.Context, url string, logger *slog.Logger) (*ginIndexKeeper, error) {
	config, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	config.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return &ginIndexKeeper{pool: pool, logger: logger}, nil
}

func (k *ginIndexKeeper) close() {
	k.pool.Close()
}

func (k *ginIndexKeeper) run(ctx context.Context, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		if err := k.pass(ctx); err != nil && ctx.Err() == nil {
			// A table dropped between the listing and the statement, mostly: the next pass sees.
			k.logger.Debug("index pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

type ginIndex struct{ schema, table, field, name string }

func (k *ginIndexKeeper) pass(ctx context.Context) error {
	missing, err := k.missing(ctx)
	if err != nil {
		return err
	}
	for _, index := range missing {
		// jsonb_path_ops: `@>` is all FerretDB asks of it, and such an index is smaller and
		// faster than the default. fastupdate off: with a pending list, every lookup read all
		// entries not yet merged (2 ms for an `_id` after 20 000 inserts, against 0.1 ms).
		// Not CONCURRENTLY: FerretDB's own CREATE INDEX locks the table the same way, and a
		// collection's indexes are created while it is small (at a service's start).
		statement := fmt.Sprintf(
			`CREATE INDEX IF NOT EXISTS %s ON %s USING gin ((_jsonb -> %s) jsonb_path_ops) WITH (fastupdate = off)`,
			pgx.Identifier{index.name}.Sanitize(),
			pgx.Identifier{index.schema, index.table}.Sanitize(),
			quoteLiteral(index.field),
		)
		if _, err := k.pool.Exec(ctx, statement); err != nil {
			return fmt.Errorf("%s.%s (%s): %w", index.schema, index.table, index.field, err)
		}
		k.logger.Debug("GIN index created", "schema", index.schema, "table", index.table, "field", index.field)
	}
	return nil
}

// missing lists the GIN indexes FerretDB's B-tree indexes call for that do not exist yet.
func (k *ginIndexKeeper) missing(ctx context.Context) ([]ginIndex, error) {
	rows, err := k.pool.Query(ctx, `
		SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid, col, true), am.amname,
		       col = 1 OR i.indisunique
		FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_am am ON am.oid = ic.relam
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		CROSS JOIN LATERAL generate_series(1, i.indnkeyatts) AS col
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
		  AND c.relname NOT LIKE '\_ferretdb\_%'`)
	if err != nil {
		return nil, err
	}
	// Closed on every path: an early return would otherwise keep the pool's one connection busy.
	defer rows.Close()
	type key struct{ schema, table, field string }
	wanted := map[key]bool{}
	have := map[key]bool{}
	for rows.Next() {
		var schema, table, column, method string
		var equality bool
		if err := rows.Scan(&schema, &table, &column, &method, &equality); err != nil {
			return nil, err
		}
		match := topLevelField.FindStringSubmatch(column)
		if match == nil {
			continue
		}
		field := key{schema, table, strings.ReplaceAll(match[1], "''", "'")}
		if method == "gin" {
			have[field] = true
		} else if equality {
			wanted[field] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var missing []ginIndex
	for field := range wanted {
		if !have[field] {
			missing = append(missing, ginIndex{field.schema, field.table, field.field, indexName(field.table, field.field)})
		}
	}
	return missing, nil
}

// indexName is unique per (table, field) and within PostgreSQL's 63 bytes.
func indexName(table, field string) string {
	sum := sha256.Sum256([]byte(table + "\x00" + field))
	return fmt.Sprintf("%.32s_%s%s", table, hex.EncodeToString(sum[:6]), ginIndexSuffix)
}

func quoteLiteral(text string) string {
	return "'" + strings.ReplaceAll(text, "'", "''") + "'"
}
