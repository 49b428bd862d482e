package analytics

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// MigrationsTable records the applied migrations in the ledger's database.
const MigrationsTable = "schema_migrations"

// Migration is one numbered .sql file under analytics/migrations.
type Migration struct {
	// Name is the file name, e.g. "0001_drift_events.sql"; migrations run
	// in name order.
	Name string
	// Checksum is the hex SHA-256 of the file; an applied migration whose
	// file changed afterwards makes Migrate refuse to run.
	Checksum string
	// SQL is the file's text: statements separated by ';'.
	SQL string
}

var migrationName = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)

// Migrations returns the embedded migrations in the order they apply.
func Migrations() ([]Migration, error) { return loadMigrations(migrationFS, "migrations") }

func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("analytics: read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		if !migrationName.MatchString(e.Name()) {
			return nil, fmt.Errorf("analytics: migration %q: want NNNN_lower_snake.sql", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("analytics: read migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Name: e.Name(), Checksum: hex.EncodeToString(sum[:]), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	for i := 1; i < len(ms); i++ {
		if ms[i].Name[:4] == ms[i-1].Name[:4] {
			return nil, fmt.Errorf("analytics: migrations %s and %s share a number", ms[i-1].Name, ms[i].Name)
		}
	}
	return ms, nil
}

// ChecksumMismatchError says that a migration recorded as applied no longer
// matches its file: edit-in-place of an applied migration is refused; add a
// new numbered migration instead.
type ChecksumMismatchError struct {
	Name             string
	Applied, Current string
}

func (e *ChecksumMismatchError) Error() string {
	return fmt.Sprintf("analytics: migration %s was applied with checksum %s but the file now has %s; "+
		"applied migrations must not change (add a new migration instead)", e.Name, e.Applied, e.Current)
}

// Migrate applies the embedded migrations that conn's database lacks, in
// order, and records each in schema_migrations (name, checksum, applied_at).
// It returns the names it applied (none when the schema is up to date). It
// refuses, before applying anything, when an applied migration's checksum
// differs from its embedded file.
//
// ClickHouse has no DDL transactions: a migration that fails half-way is not
// recorded and runs again from its first statement next time, so migrations
// use IF NOT EXISTS. Rows for migrations this binary does not know (applied by
// a newer version) are left alone.
func Migrate(ctx context.Context, conn driver.Conn) (applied []string, err error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return migrate(ctx, conn, ms)
}

func migrate(ctx context.Context, conn driver.Conn, ms []Migration) ([]string, error) {
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+MigrationsTable+` (
    name       String,
    checksum   String,
    applied_at DateTime
) ENGINE = MergeTree ORDER BY name`); err != nil {
		return nil, fmt.Errorf("analytics: create %s: %w", MigrationsTable, err)
	}
	done, err := appliedMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if sum, ok := done[m.Name]; ok && sum != m.Checksum {
			return nil, &ChecksumMismatchError{Name: m.Name, Applied: sum, Current: m.Checksum}
		}
	}
	var applied []string
	for _, m := range ms {
		if _, ok := done[m.Name]; ok {
			continue
		}
		stmts, err := SplitStatements(m.SQL)
		if err != nil {
			return applied, fmt.Errorf("analytics: migration %s: %w", m.Name, err)
		}
		for i, stmt := range stmts {
			if err := conn.Exec(ctx, stmt); err != nil && !columnAlreadyAdded(stmt, err) {
				return applied, fmt.Errorf("analytics: migration %s, statement %d: %w", m.Name, i+1, err)
			}
		}
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+MigrationsTable+" (name, checksum, applied_at)")
		if err != nil {
			return applied, fmt.Errorf("analytics: record migration %s: %w", m.Name, err)
		}
		if err := batch.Append(m.Name, m.Checksum, time.Now().UTC().Truncate(time.Second)); err != nil {
			batch.Abort()
			return applied, fmt.Errorf("analytics: record migration %s: %w", m.Name, err)
		}
		if err := batch.Send(); err != nil {
			return applied, fmt.Errorf("analytics: record migration %s: %w", m.Name, err)
		}
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// addColumn matches a statement that adds one column; migrations add one
// column per statement so that the check below is exact.
var addColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s+[^,]+$`)

// columnAlreadyAdded reports whether err is ClickHouse refusing to add a
// column that exists. ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so
// this is how a migration whose ALTER ran but was not recorded (the process
// died in between) runs again without getting stuck.
func columnAlreadyAdded(stmt string, err error) bool {
	var ex *clickhouse.Exception
	return addColumn.MatchString(stmt) && errors.As(err, &ex) && ex.Code == codeIllegalColumn &&
		strings.Contains(ex.Message, "already exists")
}

// codeIllegalColumn is ClickHouse's ILLEGAL_COLUMN, which ADD COLUMN of an
// existing column raises in 18.16 and current releases alike.
const codeIllegalColumn = 44

func appliedMigrations(ctx context.Context, conn driver.Conn) (map[string]string, error) {
	rows, err := conn.Query(ctx, "SELECT name, checksum FROM "+MigrationsTable+" ORDER BY name, applied_at")
	if err != nil {
		return nil, fmt.Errorf("analytics: read %s: %w", MigrationsTable, err)
	}
	defer rows.Close()
	done := map[string]string{}
	for rows.Next() {
		var name, sum string
		if err := rows.Scan(&name, &sum); err != nil {
			return nil, fmt.Errorf("analytics: read %s: %w", MigrationsTable, err)
		}
		// Two instances migrating at once may both record a migration; the
		// rows then carry the same checksum, so keeping either is right.
		done[name] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: read %s: %w", MigrationsTable, err)
	}
	return done, nil
}

// SplitStatements splits a .sql file into statements at top-level ';',
// dropping comments ("--" to end of line and /* ... */) and empty
// statements. Quotes ('...', "...", `...`) with backslash or doubled-quote
// escapes are kept intact. The native protocol runs one statement per query.
func SplitStatements(src string) ([]string, error) {
	var (
		stmts []string
		cur   strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated /* comment")
			}
			i += 2 + end + 1
			cur.WriteByte(' ')
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(src); j++ {
				if src[j] == '\\' {
					j++
					continue
				}
				if src[j] == c {
					if j+1 < len(src) && src[j+1] == c { // doubled quote
						j++
						continue
					}
					break
				}
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated %c quote", c)
			}
			cur.WriteString(src[i : j+1])
			i = j
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return stmts, nil
}
