// Package analytics owns the ClickHouse drift ledger: its migrations and queries.
//
// The ledger is reached over ClickHouse's native protocol with
// clickhouse-go/v2. Its SQL keeps to the subset that both the distro's
// ClickHouse 18.16 (tests, CI) and current releases (docker-compose) accept;
// see DESIGN.md section 6.
//
// clickhouse-go v2 talks to 18.16 (protocol revision 54412) by negotiating
// the revision down at handshake. What 18.16 lacks: server-side query
// parameters ({name:Type} with clickhouse.WithParameters): bind with "?"
// instead, which the client substitutes; DateTime64, LowCardinality (beta
// in 18.16), window functions and the JSON type.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Defaults for Config's zero fields.
const (
	DefaultAddr     = "127.0.0.1:19000"
	DefaultDatabase = "lockstep"
	DefaultUsername = "default"
)

// Config says where the ledger lives. The zero value reaches the server
// started by deploy/local/clickhouse.sh.
type Config struct {
	// Addr is the host:port of the native protocol (not HTTP).
	Addr string
	// Database is created if missing; it holds the ledger tables.
	Database string
	Username string
	// Password is never logged or printed: String and errors leave it out.
	Password    string
	DialTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Username == "" {
		c.Username = DefaultUsername
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	return c
}

// String describes the config for logs, without the password.
func (c Config) String() string {
	c = c.withDefaults()
	pw := "no"
	if c.Password != "" {
		pw = "yes"
	}
	return fmt.Sprintf("clickhouse://%s@%s/%s (password: %s)", c.Username, c.Addr, c.Database, pw)
}

// LogValue keeps the password out of slog output.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects to ClickHouse, creates cfg.Database if it does not exist and
// returns a connection pool whose default database is cfg.Database.
func Open(ctx context.Context, cfg Config) (driver.Conn, error) {
	cfg = cfg.withDefaults()
	if !identRE.MatchString(cfg.Database) {
		return nil, fmt.Errorf("analytics: database name %q is not a plain identifier", cfg.Database)
	}
	// The database may not exist yet, so the first connection uses "default".
	boot, err := dial(ctx, cfg, "default")
	if err != nil {
		return nil, err
	}
	err = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+cfg.Database)
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("analytics: create database %s on %s: %w", cfg.Database, cfg.Addr, err)
	}
	return dial(ctx, cfg, cfg.Database)
}

func dial(ctx context.Context, cfg Config, database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Addr},
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.Username,
			Password: cfg.Password,
		},
		// LZ4 block compression works with 18.16 and current servers alike.
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		DialTimeout:  cfg.DialTimeout,
		MaxOpenConns: 4,
		MaxIdleConns: 2,
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "lockstep", Version: "0"}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("analytics: open %s: %w", cfg.String(), err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		var ex *clickhouse.Exception
		if errors.As(err, &ex) {
			return nil, fmt.Errorf("analytics: connect %s: %s (code %d)", cfg.String(), ex.Message, ex.Code)
		}
		return nil, fmt.Errorf("analytics: connect %s: %w", cfg.String(), err)
	}
	return conn, nil
}
