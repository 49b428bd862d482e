package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/flows"
	"github.com/lockstep-dev/lockstep/connectors/broker"
	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/secret"
	"github.com/lockstep-dev/lockstep/processors/fulfilment"
	"github.com/lockstep-dev/lockstep/processors/inbound"
	"github.com/lockstep-dev/lockstep/processors/orders"
	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/state"
)

// envPrefix is the prefix of every setting; broker.EnvPrefix must extend it.
const envPrefix = "LOCKSTEP_"

// Config is the whole process configuration, read from LOCKSTEP_*
// variables. Every field has a default that works on a developer machine.
type Config struct {
	Kafka broker.Config `env:", prefix=KAFKA_"`
	// SchemaRegistryURL points at a Confluent-compatible registry; empty
	// runs franz-go's in-process registry.
	SchemaRegistryURL string           `env:"SCHEMA_REGISTRY_URL"`
	StateDir          string           `env:"STATE_DIR, default=.data/state"`
	State             StateConfig      `env:", prefix=STATE_"`
	AdminAddr         string           `env:"ADMIN_ADDR, default=127.0.0.1:9464"`
	LogLevel          string           `env:"LOG_LEVEL, default=info"`
	LogFormat         string           `env:"LOG_FORMAT, default=text"`
	ClickHouse        ClickHouseConfig `env:", prefix=CLICKHOUSE_"`
	// Flows are the flows this instance runs (comma separated); empty runs
	// every flow, so one process can do it all and a cluster can split.
	Flows []string `env:"FLOWS"`
	// InstanceID names this instance in transactional ids: unique among
	// instances, stable across restarts (default: the host name).
	InstanceID    string                `env:"INSTANCE_ID"`
	LedgerEnabled bool                  `env:"LEDGER_ENABLED, default=true"`
	Reconcile     flows.ReconcileConfig `env:", prefix=RECONCILE_"`
	Webhook       flows.WebhookConfig   `env:", prefix=WEBHOOK_"`
	Clarus        clarus.Config         `env:", prefix=CLARUS_"`
	Prima         prima.Config          `env:", prefix=PRIMA_"`
	// PrimaAllowPlainHTTPAuth lets Prima's basic-auth credentials
	// (LOCKSTEP_PRIMA_USERNAME and password, or user:password@ in the base
	// URL) go to an http:// base URL, readable by anyone on the path; only
	// for a private network. Without it such a configuration is refused.
	PrimaAllowPlainHTTPAuth bool              `env:"PRIMA_ALLOW_PLAIN_HTTP_AUTH, default=false"`
	Stock                   stock.Config      `env:", prefix="`
	Orders                  orders.Config     `env:", prefix="`
	Fulfilment              fulfilment.Config `env:", prefix="`
	Inbound                 inbound.Config    `env:", prefix="`
}

// ClickHouseConfig is the drift ledger's connection (native protocol).
type ClickHouseConfig struct {
	Addr     string `env:"ADDR, default=127.0.0.1:19000"`
	Database string `env:"DATABASE, default=lockstep"`
	Username string `env:"USERNAME, default=default"`
	// Password is filled from PasswordFile by Load when that is set, so
	// consumers only ever read Password.
	Password     string `env:"PASSWORD"`
	PasswordFile string `env:"PASSWORD_FILE"`
}

// StateConfig sizes each stream processor's Pebble store (every flow's
// processor has its own, so a process running all flows holds five).
type StateConfig struct {
	// CacheMB is Pebble's block cache, out of which its memtables are
	// reserved (up to 2 x MemtableMB while one flushes).
	CacheMB    int `env:"CACHE_MB, default=128"`
	MemtableMB int `env:"MEMTABLE_MB, default=32"`
	// RowCacheMB caches the values the processor read (0: off): a stock
	// level read again at its key's next movement skips Pebble.
	RowCacheMB int `env:"ROW_CACHE_MB, default=32"`
}

// Options is the state.Options these sizes make.
func (c StateConfig) Options() state.Options {
	o := state.Options{CacheSize: int64(c.CacheMB) << 20, MemTableSize: uint64(c.MemtableMB) << 20, RowCacheSize: int64(c.RowCacheMB) << 20}
	if c.RowCacheMB == 0 {
		o.RowCacheSize = -1
	}
	return o
}

// Load reads the configuration from l, validates it and reads the secret
// files, so that a process that starts has a usable configuration. Errors
// name the offending variable, and never carry the credentials of a URL.
func Load(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	cfg, err := parse(ctx, l)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	if err := cfg.resolve(); err != nil {
		return Config{}, redactErr(err)
	}
	return cfg, nil
}

// parse only decodes; `lockstep config` uses it to show an invalid
// configuration before explaining what is wrong with it.
func parse(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	cfg, err := decode(ctx, l)
	return cfg, redactErr(err)
}

func decode(ctx context.Context, l envconfig.Lookuper) (Config, error) {
	var cfg Config
	rec := &recordingLookuper{next: l}
	err := envconfig.ProcessWith(ctx, &envconfig.Config{
		Target:   &cfg,
		Lookuper: envconfig.PrefixLookuper(envPrefix, rec),
	})
	if err != nil {
		// envconfig names the Go field path; operators know the variable.
		if rec.last != "" {
			return Config{}, fmt.Errorf("%s: %w", rec.last, stripFieldPath(err))
		}
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	return cfg, nil
}

// Validate checks every setting and reports all problems at once, with the
// credentials of URLs redacted.
func (c Config) Validate() error {
	return redactErr(c.validate())
}

func (c Config) validate() error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", envPrefix, name, fmt.Sprintf(format, args...)))
	}
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.SchemaRegistryURL != "" {
		u, err := url.Parse(c.SchemaRegistryURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("SCHEMA_REGISTRY_URL", "%q is not an http(s) URL (leave empty for the embedded registry)", c.SchemaRegistryURL)
		}
	}
	if strings.TrimSpace(c.StateDir) == "" {
		fail("STATE_DIR", "must not be empty")
	}
	switch st := c.State; {
	case st.MemtableMB < 1:
		fail("STATE_MEMTABLE_MB", "%d: want at least 1", st.MemtableMB)
	case st.CacheMB < 2*st.MemtableMB+16:
		// Pebble reserves the memtables out of the block cache: with less,
		// no block stays cached and every read goes to disk.
		fail("STATE_CACHE_MB", "%d: want at least 2 x %sSTATE_MEMTABLE_MB + 16 = %d", st.CacheMB, envPrefix, 2*st.MemtableMB+16)
	}
	if c.State.RowCacheMB < 0 {
		fail("STATE_ROW_CACHE_MB", "%d: want 0 (off) or more", c.State.RowCacheMB)
	}
	if err := checkHostPort(c.AdminAddr, true); err != nil {
		fail("ADMIN_ADDR", "%q: %v", c.AdminAddr, err)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		fail("LOG_LEVEL", "%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		fail("LOG_FORMAT", "unknown format %q (want text or json)", c.LogFormat)
	}
	ch := c.ClickHouse
	if err := checkHostPort(ch.Addr, false); err != nil {
		fail("CLICKHOUSE_ADDR", "%q: %v", ch.Addr, err)
	}
	if ch.Database == "" {
		fail("CLICKHOUSE_DATABASE", "must not be empty")
	}
	if ch.Password != "" && ch.PasswordFile != "" {
		fail("CLICKHOUSE_PASSWORD", "and %sCLICKHOUSE_PASSWORD_FILE are both set; use one", envPrefix)
	}
	if c.Kafka.Partitions < 1 {
		fail("KAFKA_PARTITIONS", "%d: want at least 1", c.Kafka.Partitions)
	}
	if err := c.Reconcile.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Webhook.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Stock.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Orders.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Fulfilment.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Inbound.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := checkPrimaAuth(c.Prima, c.PrimaAllowPlainHTTPAuth); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkPrimaAuth refuses basic-auth credentials bound for a plain http://
// Prima, where anyone on the path reads them, unless the operator allowed it
// for a private network. A base URL that is not a URL at all is
// prima.Config.Validate's to report.
func checkPrimaAuth(p prima.Config, allow bool) error {
	u, err := url.Parse(p.BaseURL)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || allow {
		return nil
	}
	var from string
	switch {
	case u.User != nil:
		from = "the user name and password in " + envPrefix + "PRIMA_BASE_URL"
	case p.Username != "" || p.Password != "" || p.PasswordFile != "":
		from = envPrefix + "PRIMA_USERNAME and its password"
	default:
		return nil
	}
	return fmt.Errorf("%sPRIMA_BASE_URL: basic-auth credentials (%s) would go to Prima over plain http, readable on the network: "+
		"use an https:// base URL, or set %sPRIMA_ALLOW_PLAIN_HTTP_AUTH=true if the network is private", envPrefix, from, envPrefix)
}

// resolve reads the secret files: the ClickHouse password into Password,
// and, through broker.Config.Opts, the Kafka TLS and password files, only to
// fail now rather than at the first connection.
func (c *Config) resolve() error {
	pw, err := secret.Read(envPrefix+"CLICKHOUSE_PASSWORD", c.ClickHouse.Password, c.ClickHouse.PasswordFile)
	if err != nil {
		return err
	}
	c.ClickHouse.Password = pw
	if _, err := c.Kafka.Opts(); err != nil {
		return err
	}
	if c.InstanceID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			return fmt.Errorf("%sINSTANCE_ID: not set, and no host name to default to", envPrefix)
		}
		c.InstanceID = host
	}
	return nil
}

// checkHostPort wants host:port with a numeric port. The host may be empty
// (all interfaces); port 0 (any free port) suits only a listener, in tests.
func checkHostPort(addr string, listen bool) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// parseLevel accepts slog's names (debug, info, warn, error), any case.
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown level %q (want debug, info, warn or error)", s)
	}
	return l, nil
}

// LogValue renders the whole configuration for a start-up log line:
// secrets redacted, and the credentials in URLs (the schema registry's,
// Clarus's and Prima's base URLs) too.
func (c Config) LogValue() slog.Value {
	clarusCfg, primaCfg := c.Clarus, c.Prima
	clarusCfg.BaseURL, primaCfg.BaseURL = redactURLs(clarusCfg.BaseURL), redactURLs(primaCfg.BaseURL)
	return slog.GroupValue(
		slog.Any("kafka", c.Kafka),
		slog.String("schema_registry", schemaRegistryName(c.SchemaRegistryURL)),
		slog.String("state_dir", c.StateDir),
		slog.Any("state", c.State),
		slog.String("admin_addr", c.AdminAddr),
		slog.Any("clickhouse", c.ClickHouse),
		slog.Any("flows", c.Flows),
		slog.String("instance_id", c.InstanceID),
		slog.Bool("ledger_enabled", c.LedgerEnabled),
		slog.Any("reconcile", c.Reconcile),
		slog.String("webhook_addr", c.Webhook.Addr),
		slog.Any("clarus", clarusCfg),
		slog.Any("prima", primaCfg),
		slog.Bool("prima_allow_plain_http_auth", c.PrimaAllowPlainHTTPAuth),
	)
}

// schemaRegistryName is the registry URL without credentials, or
// "embedded".
func schemaRegistryName(u string) string {
	if u == "" {
		return "embedded"
	}
	return redactURLs(u)
}

// String renders the ClickHouse settings with the password redacted.
func (c ClickHouseConfig) String() string {
	return fmt.Sprintf("{Addr:%s Database:%s Username:%s Password:%s PasswordFile:%s}",
		c.Addr, c.Database, c.Username, redact(c.Password), c.PasswordFile)
}

// LogValue keeps the password out of slog output.
func (c ClickHouseConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("database", c.Database),
		slog.String("username", c.Username),
		slog.String("password", redact(c.Password)),
		slog.String("password_file", c.PasswordFile),
	)
}

// MarshalJSON keeps the password out of JSON, which slog's JSON handler uses
// for a Config logged whole.
func (c ClickHouseConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Addr, Database, Username, Password, PasswordFile string
	}{c.Addr, c.Database, c.Username, redact(c.Password), c.PasswordFile})
}

// recordingLookuper remembers the last variable looked up. envconfig decodes
// a value right after looking it up, so on a decoding error this is the
// variable at fault.
type recordingLookuper struct {
	next envconfig.Lookuper
	last string
}

func (r *recordingLookuper) Lookup(key string) (string, bool) {
	r.last = key
	return r.next.Lookup(key)
}

// stripFieldPath drops envconfig's "Kafka: TLS: Enabled: " wrapping, which
// names Go fields, and keeps the decoding error beneath it.
func stripFieldPath(err error) error {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return err
		}
		field, ok := strings.CutSuffix(err.Error(), ": "+inner.Error())
		if !ok || !isGoIdent(field) {
			return err
		}
		err = inner
	}
}

func isGoIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
