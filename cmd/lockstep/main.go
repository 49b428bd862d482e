// Command lockstep keeps the Clarus warehouse and the Prima ERP in step through Kafka stream processors.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"github.com/sethvargo/go-envconfig"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes: 2 for a wrong command line or configuration, which a restart
// will not fix, 1 for a failure while running.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const usage = `lockstep keeps the Clarus warehouse and the Prima ERP in step.

Usage:
  lockstep <command>

Commands:
  run       run the flows in LOCKSTEP_FLOWS (default: all) and the admin endpoints until SIGINT/SIGTERM
  demo      the stock flow end to end against the simulators, with an embedded Kafka, and its checks
  sim       run the Clarus or Prima simulator: lockstep sim clarus|prima --addr HOST:PORT
  migrate   apply the drift ledger's ClickHouse migrations, print what was applied
  reconcile reconcile a day's shipments and despatch notes: lockstep reconcile --date YYYY-MM-DD [--out DIR]
  config    print the effective configuration (secrets redacted) and check it
  version   print the version

Configuration comes from LOCKSTEP_* environment variables; run
"lockstep config" to list them with their effective values.
`

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], envconfig.OsLookuper(), os.Stdout, os.Stderr))
}

// execute is main without the process globals, so tests can drive every
// command with their own environment and output.
func execute(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	// Commands with subcommands or flags of their own.
	switch cmd {
	case "demo":
		return demoCommand(ctx, rest, stdout, stderr)
	case "sim":
		return simCommand(ctx, rest, env, stderr)
	case "reconcile":
		return reconcileCommand(ctx, rest, env, stdout, stderr)
	}
	fs := flag.NewFlagSet("lockstep "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(rest); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lockstep %s: unexpected arguments %q\n", cmd, fs.Args())
		return exitUsage
	}

	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "lockstep %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "config":
		return configCommand(ctx, env, stdout, stderr)
	case "run":
		return runCommand(ctx, env, stderr)
	case "migrate":
		return migrateCommand(ctx, env, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "lockstep: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// configCommand prints the configuration even when it is invalid, then the
// problems, because seeing the effective values is how one finds them.
func configCommand(ctx context.Context, env envconfig.Lookuper, stdout, stderr io.Writer) int {
	cfg, err := parse(ctx, env)
	if err != nil {
		fmt.Fprintf(stderr, "lockstep config: %v\n", err)
		return exitUsage
	}
	if err := printConfig(stdout, cfg); err != nil {
		fmt.Fprintf(stderr, "lockstep config: %v\n", err)
		return exitFailed
	}
	if _, err := Load(ctx, env); err != nil {
		fmt.Fprintf(stderr, "lockstep config: invalid configuration:\n%v\n", err)
		return exitUsage
	}
	return exitOK
}

// newLogger builds the process logger from the validated configuration.
func newLogger(w io.Writer, cfg Config) (*slog.Logger, error) {
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("%sLOG_LEVEL: %w", envPrefix, err)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}
	var h slog.Handler
	switch cfg.LogFormat {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("%sLOG_FORMAT: unknown format %q (want text or json)", envPrefix, cfg.LogFormat)
	}
	return slog.New(h), nil
}

// redactAttr keeps the credentials of URLs (https://user:password@host) out
// of every log line, whichever component logs the URL: the start-up
// configuration, a connector's base URL, an error quoting one. slog calls
// it for the message and for every attribute, those of groups included.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	var s string
	switch a.Value.Kind() {
	case slog.KindString:
		s = a.Value.String()
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error, fmt.Stringer:
			s = fmt.Sprint(v) // fmt survives a nil receiver that panics
		default:
			return a
		}
	default:
		return a
	}
	if r := redactURLs(s); r != s {
		a.Value = slog.StringValue(r)
	}
	return a
}
