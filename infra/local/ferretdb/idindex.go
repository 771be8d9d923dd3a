package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // the SQLite driver FerretDB itself links (registers "sqlite")
)

// FerretDB v1's SQLite backend pushes an `_id` equality filter down as
// `WHERE _ferretdb_sjson->'$._id' = ?`, but builds each collection's unique `_id`
// index on `_ferretdb_sjson->"_id"`. SQLite matches an expression index only on
// the same expression, so that index is never used: every find, update and
// delete by `_id` reads the whole table (33 ms at 20 000 documents, measured),
// and an event consumer slows down as its collections grow.
//
// idIndexKeeper adds, to every collection table of every database in the data
// directory, an index on the expression the queries use. FerretDB does not know
// of it (it lists only its own indexes) and drops it with the table. New
// collections get theirs on the next pass, a second at most after creation.
type idIndexKeeper struct {
	dir    string
	logger *slog.Logger
	// One handle per database file, opened without create so that a database
	// dropped meanwhile is never brought back as an empty file.
	dbs map[string]*sql.DB
	// The inode each handle was opened on: a database dropped and created again
	// under the same name is a new file, and needs a new handle.
	inodes map[string]uint64
	// Tables already given their index, per database file.
	done map[string]map[string]bool
}

const idIndexSuffix = "_trellis_id_path"

func newIDIndexKeeper(dir string, logger *slog.Logger) *idIndexKeeper {
	return &idIndexKeeper{
		dir:    dir,
		logger: logger,
		dbs:    map[string]*sql.DB{},
		inodes: map[string]uint64{},
		done:   map[string]map[string]bool{},
	}
}

func (k *idIndexKeeper) run(ctx context.Context, every time.Duration) {
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	defer k.closeAll()
	for {
		k.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (k *idIndexKeeper) pass(ctx context.Context) {
	files, err := filepath.Glob(filepath.Join(k.dir, "*.sqlite"))
	if err != nil {
		k.logger.Error("cannot list databases", "err", err)
		return
	}
	present := map[string]bool{}
	for _, file := range files {
		present[file] = true
		if err := k.indexDatabase(ctx, file); err != nil && ctx.Err() == nil {
			// A database dropped between the listing and the query, mostly: the next pass sees.
			k.logger.Debug("cannot index database", "file", file, "err", err)
			k.forget(file)
		}
	}
	for file := range k.dbs {
		if !present[file] {
			k.forget(file)
		}
	}
}

func (k *idIndexKeeper) indexDatabase(ctx context.Context, file string) error {
	inode, err := inodeOf(file)
	if err != nil {
		return err
	}
	if known, ok := k.inodes[file]; ok && known != inode {
		k.forget(file)
	}
	db, ok := k.dbs[file]
	if !ok {
		// mode=rw: never create; busy_timeout: wait for FerretDB's writers like FerretDB does.
		db, err = sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)")
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		k.dbs[file] = db
		k.inodes[file] = inode
		k.done[file] = map[string]bool{}
	}
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM _ferretdb_collections`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	done := k.done[file]
	wanted := map[string]bool{}
	for _, table := range tables {
		wanted[table] = true
		if done[table] {
			continue
		}
		quotedTable := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
		quotedIndex := `"` + strings.ReplaceAll(table+idIndexSuffix, `"`, `""`) + `"`
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (_ferretdb_sjson->'$._id')`, quotedIndex, quotedTable)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
		done[table] = true
	}
	// A dropped collection's table (and index) is gone: a new one of the same name needs its own.
	for table := range done {
		if !wanted[table] {
			delete(done, table)
		}
	}
	return nil
}

func (k *idIndexKeeper) forget(file string) {
	if db, ok := k.dbs[file]; ok {
		_ = db.Close()
	}
	delete(k.dbs, file)
	delete(k.inodes, file)
	delete(k.done, file)
}

func inodeOf(file string) (uint64, error) {
	info, err := os.Stat(file)
	if err != nil {
		return 0, err
	}
	stat, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("no inode for %s", file)
	}
	return stat.Ino, nil
}

func (k *idIndexKeeper) closeAll() {
	for file := range k.dbs {
		k.forget(file)
	}
}
