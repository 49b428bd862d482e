// Package analyticstest gives tests a ClickHouse database of their own on the server that deploy/local/clickhouse.sh runs.
//
// Tests that need ClickHouse skip when none answers locally and fail in CI
// (CI=true), where the server must have been started. Each test gets a
// database with a unique name, dropped when the test ends, so tests can share
// one server and run in parallel.
package analyticstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lockstep-dev/lockstep/analytics"
)

// Addr is the ClickHouse native address tests use: LOCKSTEP_CLICKHOUSE_ADDR,
// or analytics.DefaultAddr.
func Addr() string {
	if a := os.Getenv("LOCKSTEP_CLICKHOUSE_ADDR"); a != "" {
		return a
	}
	return analytics.DefaultAddr
}

// Require skips t when no ClickHouse answers at Addr, or fails it in CI.
func Require(t testing.TB) {
	t.Helper()
	addr := Addr()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("ClickHouse is not reachable at %s (%v): CI must start it with deploy/local/clickhouse.sh start", addr, err)
	}
	t.Skipf("ClickHouse not reachable at %s: run deploy/local/clickhouse.sh start", addr)
}

// Config returns the configuration of a database with a unique name, which
// does not exist yet and is dropped (if it then exists) when t ends.
func Config(t testing.TB) analytics.Config {
	t.Helper()
	Require(t)
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	cfg := analytics.Config{
		Addr:     Addr(),
		Database: "lockstep_test_" + time.Now().UTC().Format("150405") + "_" + hex.EncodeToString(b[:]),
	}
	t.Cleanup(func() { drop(t, cfg) })
	return cfg
}

func drop(t testing.TB, cfg analytics.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{cfg.Addr},
		Auth: clickhouse.Auth{Database: "default", Username: analytics.DefaultUsername},
	})
	if err != nil {
		t.Errorf("drop test database %s: %v", cfg.Database, err)
		return
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
		t.Errorf("drop test database %s: %v", cfg.Database, err)
	}
}

// Open returns a connection to a fresh database (see Config), closed and
// dropped when t ends.
func Open(t testing.TB) (driver.Conn, analytics.Config) {
	t.Helper()
	cfg := Config(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := analytics.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("analytics.Open(%s): %v", cfg, err)
	}
	// Cleanups run last-in first-out: the connection closes before the
	// database is dropped.
	t.Cleanup(func() { conn.Close() })
	return conn, cfg
}

// Migrated is Open followed by analytics.Migrate.
func Migrated(t testing.TB) (driver.Conn, analytics.Config) {
	t.Helper()
	conn, cfg := Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := analytics.Migrate(ctx, conn); err != nil {
		t.Fatalf("analytics.Migrate(%s): %v", cfg, err)
	}
	return conn, cfg
}
