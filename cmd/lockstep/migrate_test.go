package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/analytics"
	"github.com/lockstep-dev/lockstep/analytics/analyticstest"
)

// TestMigrateCommand runs `lockstep migrate` against the real ClickHouse in
// a fresh database: the first run creates the database and applies every
// migration, the second finds it up to date, and the tables answer.
func TestMigrateCommand(t *testing.T) {
	cfg := analyticstest.Config(t)
	env := envconfig.MapLookuper(map[string]string{
		"LOCKSTEP_CLICKHOUSE_ADDR":     cfg.Addr,
		"LOCKSTEP_CLICKHOUSE_DATABASE": cfg.Database,
	})
	all, err := analytics.Migrations()
	if err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := execute(t.Context(), []string{"migrate"}, env, &stdout, &stderr); code != exitOK {
		t.Fatalf("first migrate = %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	var want strings.Builder
	for _, m := range all {
		fmt.Fprintf(&want, "applied %s\n", m.Name)
	}
	fmt.Fprintf(&want, "%s: %d migration(s) applied\n", cfg, len(all))
	if stdout.String() != want.String() {
		t.Fatalf("first migrate printed:\n%s\nwant:\n%s", stdout.String(), want.String())
	}

	stdout.Reset()
	if code := execute(t.Context(), []string{"migrate"}, env, &stdout, &stderr); code != exitOK {
		t.Fatalf("second migrate = %d\nstderr: %s", code, stderr.String())
	}
	if want := cfg.String() + ": up to date\n"; stdout.String() != want {
		t.Fatalf("second migrate printed %q, want %q", stdout.String(), want)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := analytics.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM drift_events FINAL").Scan(&n); err != nil {
		t.Fatalf("drift_events after migrate: %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM drift_current").Scan(&n); err != nil {
		t.Fatalf("drift_current after migrate: %v", err)
	}
}

// TestMigrateCommandFailures: a bad configuration is a usage error (2); an
// unreachable ClickHouse is a failure (1) that names the server but not the
// password.
func TestMigrateCommandFailures(t *testing.T) {
	var stdout, stderr bytes.Buffer
	bad := envconfig.MapLookuper(map[string]string{"LOCKSTEP_CLICKHOUSE_ADDR": "no-port"})
	if code := execute(t.Context(), []string{"migrate"}, bad, &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "LOCKSTEP_CLICKHOUSE_ADDR") {
		t.Fatalf("bad config: code %d, stderr %s", code, stderr.String())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	const secret = "migrate-test-secret"
	stdout.Reset()
	stderr.Reset()
	down := envconfig.MapLookuper(map[string]string{"LOCKSTEP_CLICKHOUSE_ADDR": closed, "LOCKSTEP_CLICKHOUSE_PASSWORD": secret})
	if code := execute(t.Context(), []string{"migrate"}, down, &stdout, &stderr); code != exitFailed {
		t.Fatalf("unreachable ClickHouse: code %d, want %d\nstderr: %s", code, exitFailed, stderr.String())
	}
	if !strings.Contains(stderr.String(), closed) || strings.Contains(stderr.String(), secret) || stdout.Len() != 0 {
		t.Fatalf("unreachable ClickHouse: stdout %q stderr %q", stdout.String(), stderr.String())
	}
}
