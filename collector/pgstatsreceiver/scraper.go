package pgstatsreceiver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/scraper/scrapererror"
	"go.uber.org/zap"
)

const scopeName = "amas.invalid/otelcol/pgstatsreceiver"

// Server-wide statistics, read once per scrape from the first configured database.
const (
	maxConnectionsSQL = `SELECT current_setting('max_connections')::bigint`
	databasesSQL      = `
SELECT d.datname, s.numbackends, s.xact_commit, s.xact_rollback, s.deadlocks, pg_database_size(d.oid)
FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid
WHERE d.datallowconn AND NOT d.datistemplate`
	locksSQL = `
SELECT coalesce(d.datname, ''), coalesce(c.relname, ''), l.mode, l.locktype, count(*)
FROM pg_locks l
LEFT JOIN pg_database d ON d.oid = l.database
LEFT JOIN pg_class c ON c.oid = l.relation
GROUP BY 1, 2, 3, 4`
)

// Per-database statistics (pg_stat_user_* only show the database one is connected to).
const (
	tablesSQL = `
SELECT schemaname || '.' || relname, coalesce(seq_scan, 0), pg_table_size(relid)
FROM pg_stat_user_tables`
	indexesSQL = `
SELECT schemaname || '.' || relname, indexrelname, coalesce(idx_scan, 0), pg_relation_size(indexrelid)
FROM pg_stat_user_indexes`
)

type statsScraper struct {
	config  *Config
	logger  *zap.Logger
	started pcommon.Timestamp
	conns   map[string]*pgx.Conn // one connection per database, reopened after an error
}

func newStatsScraper(config *Config, logger *zap.Logger) *statsScraper {
	return &statsScraper{config: config, logger: logger, conns: map[string]*pgx.Conn{}}
}

// start connects to nothing: an absent server must not fail the Collector's start.
func (s *statsScraper) start(context.Context, component.Host) error {
	s.started = pcommon.NewTimestampFromTime(time.Now())
	return nil
}

func (s *statsScraper) shutdown(ctx context.Context) error {
	for name, conn := range s.conns {
		_ = conn.Close(ctx)
		delete(s.conns, name)
	}
	return nil
}

func (s *statsScraper) conn(ctx context.Context, database string) (*pgx.Conn, error) {
	if conn, ok := s.conns[database]; ok && !conn.IsClosed() {
		return conn, nil
	}
	// host and port go into the connection string, not into the parsed config: with
	// sslmode=prefer pgx derives a plaintext fallback from them, which must match
	host, port, _ := net.SplitHostPort(s.config.Endpoint)
	cfg, err := pgx.ParseConfig(fmt.Sprintf(
		"host=%s port=%s dbname=%s user=%s sslmode=%s connect_timeout=5 application_name=otelcol-pgstats",
		quote(host), quote(port), quote(database), quote(s.config.Username), quote(s.config.SSLMode),
	))
	if err != nil {
		return nil, err
	}
	cfg.Password = string(s.config.Password) // never in a string that an error could echo
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to database %q at %s: %w", database, s.config.Endpoint, err)
	}
	s.conns[database] = conn
	return conn, nil
}

// quote makes a libpq keyword/value connection-string value of v.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// forget closes a connection that failed, so that the next scrape opens a new one.
func (s *statsScraper) forget(ctx context.Context, database string) {
	if conn, ok := s.conns[database]; ok {
		_ = conn.Close(ctx)
		delete(s.conns, database)
	}
}

func (s *statsScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	b := newBuilder(s.started)
	first := s.config.Databases[0]
	if err := s.scrapeServer(ctx, b, first); err != nil {
		s.forget(ctx, first)
		return pmetric.NewMetrics(), err
	}
	var errs []error
	failed := 0
	for _, database := range s.config.Databases {
		if err := s.scrapeDatabase(ctx, b, database); err != nil {
			s.forget(ctx, database)
			errs = append(errs, err)
			failed++
		}
	}
	if len(errs) > 0 {
		return b.metrics, scrapererror.NewPartialScrapeError(errors.Join(errs...), failed)
	}
	return b.metrics, nil
}

func (s *statsScraper) scrapeServer(ctx context.Context, b *builder, database string) error {
	conn, err := s.conn(ctx, database)
	if err != nil {
		return err
	}
	var maxConnections int64
	if err := conn.QueryRow(ctx, maxConnectionsSQL).Scan(&maxConnections); err != nil {
		return fmt.Errorf("reading max_connections: %w", err)
	}
	b.gauge("postgresql.connection.max", "{connections}", "Configured maximum number of client connections allowed").
		add(maxConnections)

	rows, err := conn.Query(ctx, databasesSQL)
	if err != nil {
		return fmt.Errorf("reading pg_stat_database: %w", err)
	}
	backends := b.sum("postgresql.backends", "1", "The number of backends.", false)
	commits := b.sum("postgresql.commits", "1", "The number of commits.", true)
	rollbacks := b.sum("postgresql.rollbacks", "1", "The number of rollbacks.", true)
	deadlocks := b.sum("postgresql.deadlocks", "{deadlock}", "The number of deadlocks.", true)
	sizes := b.sum("postgresql.db_size", "By", "The database disk usage.", false)
	for rows.Next() {
		var name string
		var numBackends, commitCount, rollbackCount, deadlockCount, size int64
		if err := rows.Scan(&name, &numBackends, &commitCount, &rollbackCount, &deadlockCount, &size); err != nil {
			rows.Close()
			return fmt.Errorf("reading pg_stat_database: %w", err)
		}
		db := attr{"db.namespace", name}
		backends.add(numBackends, db)
		commits.add(commitCount, db)
		rollbacks.add(rollbackCount, db)
		deadlocks.add(deadlockCount, db)
		sizes.add(size, db)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading pg_stat_database: %w", err)
	}

	rows, err = conn.Query(ctx, locksSQL)
	if err != nil {
		return fmt.Errorf("reading pg_locks: %w", err)
	}
	locks := b.gauge("postgresql.database.locks", "{lock}", "The number of database locks.")
	for rows.Next() {
		var db, relation, mode, lockType string
		var count int64
		if err := rows.Scan(&db, &relation, &mode, &lockType, &count); err != nil {
			rows.Close()
			return fmt.Errorf("reading pg_locks: %w", err)
		}
		locks.add(count, attr{"relation", relation}, attr{"mode", mode}, attr{"lock_type", lockType},
			attr{"db.namespace", db})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading pg_locks: %w", err)
	}
	return nil
}

func (s *statsScraper) scrapeDatabase(ctx context.Context, b *builder, database string) error {
	conn, err := s.conn(ctx, database)
	if err != nil {
		return err
	}
	db := attr{"db.namespace", database}
	rows, err := conn.Query(ctx, tablesSQL)
	if err != nil {
		return fmt.Errorf("reading pg_stat_user_tables of %q: %w", database, err)
	}
	tableSize := b.sum("postgresql.table.size", "By", "Disk space used by a table.", false)
	seqScans := b.sum("postgresql.sequential_scans", "{sequential_scan}", "The number of sequential scans.", true)
	for rows.Next() {
		var table string
		var scans, size int64
		if err := rows.Scan(&table, &scans, &size); err != nil {
			rows.Close()
			return fmt.Errorf("reading pg_stat_user_tables of %q: %w", database, err)
		}
		collection := attr{"db.collection.name", table}
		tableSize.add(size, db, collection)
		seqScans.add(scans, db, collection)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading pg_stat_user_tables of %q: %w", database, err)
	}

	rows, err = conn.Query(ctx, indexesSQL)
	if err != nil {
		return fmt.Errorf("reading pg_stat_user_indexes of %q: %w", database, err)
	}
	indexScans := b.sum("postgresql.index.scans", "{scans}", "The number of index scans on a table.", true)
	indexSize := b.gauge("postgresql.index.size", "By", "The size of the index on disk.")
	for rows.Next() {
		var table, index string
		var scans, size int64
		if err := rows.Scan(&table, &index, &scans, &size); err != nil {
			rows.Close()
			return fmt.Errorf("reading pg_stat_user_indexes of %q: %w", database, err)
		}
		attrs := []attr{db, {"db.collection.name", table}, {"postgresql.index.name", index}}
		indexScans.add(scans, attrs...)
		indexSize.add(size, attrs...)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading pg_stat_user_indexes of %q: %w", database, err)
	}
	return nil
}
