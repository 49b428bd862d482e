package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/cmd/lockstep/internal/flows"
	"github.com/lockstep-dev/lockstep/connectors/broker"
	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/processors/fulfilment"
	"github.com/lockstep-dev/lockstep/processors/inbound"
	"github.com/lockstep-dev/lockstep/processors/orders"
	"github.com/lockstep-dev/lockstep/processors/stock"
	"github.com/lockstep-dev/lockstep/state"
)

func load(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	return Load(t.Context(), envconfig.MapLookuper(env))
}

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := load(t, nil)
	if err != nil {
		t.Fatalf("Load() with an empty environment: %v", err)
	}
	host, _ := os.Hostname()
	want := Config{
		Kafka:     broker.Config{Brokers: []string{"127.0.0.1:19092"}, ClientID: "lockstep", Partitions: 6, ReplicationFactor: -1},
		StateDir:  ".data/state",
		State:     StateConfig{CacheMB: 128, MemtableMB: 32, RowCacheMB: 32},
		AdminAddr: "127.0.0.1:9464",
		LogLevel:  "info",
		LogFormat: "text",
		ClickHouse: ClickHouseConfig{
			Addr: "127.0.0.1:19000", Database: "lockstep", Username: "default",
		},
		InstanceID:    host,
		LedgerEnabled: true,
		Reconcile:     flows.ReconcileConfig{Enabled: true, Dir: ".data/reconciliation", After: time.Hour},
		Webhook:       flows.WebhookConfig{Addr: ":8090"},
		Clarus: clarus.Config{
			BaseURL: "http://127.0.0.1:8081", ClientID: "lockstep", Subdomain: "demo",
			AutomationIDs: map[string]string{"101": "goods_out.completed", "102": "goods_in_receipt.completed",
				"103": "stock_adjustment.positive", "104": "stock_adjustment.negative", "105": "stock.held", "106": "stock.released"},
			SweepInterval: 5 * time.Minute, FullSweepInterval: 15 * time.Minute, PageSize: 100, WebhookMaxBytes: 1 << 20, RequestTimeout: 30 * time.Second,
		},
		Prima:      prima.DefaultConfig(),
		Stock:      stock.Config{PushInterval: 5 * time.Minute, DedupeTTL: 168 * time.Hour, JournalWindow: 15 * time.Minute, FeedGapGrace: 2 * time.Minute},
		Orders:     orders.Config{NonStockSKUs: []string{"SHIPPING*", "CARRIAGE*", "FEE-*"}, RedriveInterval: 30 * time.Second, MaxLines: 1000},
		Fulfilment: fulfilment.Config{DespatchSLA: 30 * time.Minute, MatchGrace: 10 * time.Minute},
		Inbound:    inbound.Config{LeadTime: 24 * time.Hour, AckGrace: 15 * time.Minute, RedriveInterval: 30 * time.Second, MaxLines: 1000},
	}
	if got, want := fmt.Sprintf("%+v", cfg), fmt.Sprintf("%+v", want); got != want {
		t.Errorf("defaults:\n got %s\nwant %s", got, want)
	}
}

func TestLoadOverrides(t *testing.T) {
	cfg, err := load(t, map[string]string{
		"LOCKSTEP_KAFKA_BROKERS":              "kafka-0:9092, kafka-1:9092",
		"LOCKSTEP_KAFKA_TOPIC_PREFIX":         "staging.",
		"LOCKSTEP_KAFKA_SASL_MECHANISM":       "SCRAM-SHA-512",
		"LOCKSTEP_KAFKA_SASL_USERNAME":        "lockstep",
		"LOCKSTEP_KAFKA_SASL_PASSWORD_FILE":   writeSecret(t, "kafka-pw\n"),
		"LOCKSTEP_SCHEMA_REGISTRY_URL":        "http://127.0.0.1:8081",
		"LOCKSTEP_LOG_LEVEL":                  "DEBUG",
		"LOCKSTEP_LOG_FORMAT":                 "json",
		"LOCKSTEP_ADMIN_ADDR":                 ":9464",
		"LOCKSTEP_CLICKHOUSE_PASSWORD_FILE":   writeSecret(t, "ch-pw\n"),
		"LOCKSTEP_CLICKHOUSE_DATABASE":        "ledger",
		"LOCKSTEP_UNRELATED_VARIABLE_IGNORED": "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Kafka.Brokers, []string{"kafka-0:9092", "kafka-1:9092"}) {
		t.Errorf("Brokers = %q", cfg.Kafka.Brokers)
	}
	if cfg.Kafka.Topic("lockstep.drift") != "staging.lockstep.drift" {
		t.Errorf("Topic = %q", cfg.Kafka.Topic("lockstep.drift"))
	}
	if cfg.ClickHouse.Password != "ch-pw" {
		t.Errorf("ClickHouse.Password = %q, want the file's content without newline", cfg.ClickHouse.Password)
	}
	if cfg.ClickHouse.Database != "ledger" || cfg.LogFormat != "json" || cfg.AdminAddr != ":9464" {
		t.Errorf("overrides not applied: %+v", cfg)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"log level", map[string]string{"LOCKSTEP_LOG_LEVEL": "loud"},
			`LOCKSTEP_LOG_LEVEL: unknown level "loud"`},
		{"log format", map[string]string{"LOCKSTEP_LOG_FORMAT": "xml"},
			`LOCKSTEP_LOG_FORMAT: unknown format "xml"`},
		{"sasl mechanism", map[string]string{"LOCKSTEP_KAFKA_SASL_MECHANISM": "FOO"},
			`LOCKSTEP_KAFKA_SASL_MECHANISM: unknown mechanism "FOO" (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)`},
		{"empty brokers", map[string]string{"LOCKSTEP_KAFKA_BROKERS": ""},
			"LOCKSTEP_KAFKA_BROKERS: no broker addresses"},
		{"bool syntax", map[string]string{"LOCKSTEP_KAFKA_TLS_ENABLED": "yes"},
			`LOCKSTEP_KAFKA_TLS_ENABLED: strconv.ParseBool: parsing "yes": invalid syntax`},
		{"admin addr", map[string]string{"LOCKSTEP_ADMIN_ADDR": "9464"},
			"LOCKSTEP_ADMIN_ADDR"},
		{"clickhouse addr", map[string]string{"LOCKSTEP_CLICKHOUSE_ADDR": "localhost:0"},
			`LOCKSTEP_CLICKHOUSE_ADDR: "localhost:0": bad port`},
		{"registry url", map[string]string{"LOCKSTEP_SCHEMA_REGISTRY_URL": "localhost:8081"},
			"LOCKSTEP_SCHEMA_REGISTRY_URL"},
		{"state dir", map[string]string{"LOCKSTEP_STATE_DIR": " "},
			"LOCKSTEP_STATE_DIR: must not be empty"},
		{"block cache too small for the memtables", map[string]string{"LOCKSTEP_STATE_CACHE_MB": "64", "LOCKSTEP_STATE_MEMTABLE_MB": "32"},
			"LOCKSTEP_STATE_CACHE_MB: 64: want at least 2 x LOCKSTEP_STATE_MEMTABLE_MB + 16 = 80"},
		{"no memtable", map[string]string{"LOCKSTEP_STATE_MEMTABLE_MB": "0"},
			"LOCKSTEP_STATE_MEMTABLE_MB: 0: want at least 1"},
		{"negative row cache", map[string]string{"LOCKSTEP_STATE_ROW_CACHE_MB": "-1"},
			"LOCKSTEP_STATE_ROW_CACHE_MB: -1: want 0 (off) or more"},
		{"clickhouse password twice", map[string]string{
			"LOCKSTEP_CLICKHOUSE_PASSWORD": "a", "LOCKSTEP_CLICKHOUSE_PASSWORD_FILE": "/b"},
			"LOCKSTEP_CLICKHOUSE_PASSWORD: and LOCKSTEP_CLICKHOUSE_PASSWORD_FILE are both set"},
		{"clickhouse password file missing", map[string]string{
			"LOCKSTEP_CLICKHOUSE_PASSWORD_FILE": "/nonexistent/lockstep/pw"},
			"LOCKSTEP_CLICKHOUSE_PASSWORD_FILE: open /nonexistent/lockstep/pw"},
		{"kafka password file missing", map[string]string{
			"LOCKSTEP_KAFKA_SASL_MECHANISM":     "PLAIN",
			"LOCKSTEP_KAFKA_SASL_USERNAME":      "u",
			"LOCKSTEP_KAFKA_SASL_PASSWORD_FILE": "/nonexistent/lockstep/pw"},
			"LOCKSTEP_KAFKA_SASL_PASSWORD_FILE: open /nonexistent/lockstep/pw"},
		{"kafka CA file missing", map[string]string{
			"LOCKSTEP_KAFKA_TLS_ENABLED": "true",
			"LOCKSTEP_KAFKA_TLS_CA_FILE": "/nonexistent/lockstep/ca.pem"},
			"LOCKSTEP_KAFKA_TLS_CA_FILE: open /nonexistent/lockstep/ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := load(t, map[string]string{
		"LOCKSTEP_LOG_LEVEL":            "loud",
		"LOCKSTEP_KAFKA_SASL_MECHANISM": "FOO",
		"LOCKSTEP_KAFKA_BROKERS":        "",
	})
	if err == nil {
		t.Fatal("Load() = nil")
	}
	for _, name := range []string{"LOCKSTEP_LOG_LEVEL", "LOCKSTEP_KAFKA_SASL_MECHANISM", "LOCKSTEP_KAFKA_BROKERS"} {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// TestSettingNames pins the variable names: they are the operator-facing
// interface, listed in the README, and renaming one breaks deployments.
func TestSettingNames(t *testing.T) {
	var names []string
	for _, s := range settings(Config{}) {
		names = append(names, s.Name)
	}
	want := []string{
		"LOCKSTEP_KAFKA_BROKERS", "LOCKSTEP_KAFKA_CLIENT_ID", "LOCKSTEP_KAFKA_TOPIC_PREFIX",
		"LOCKSTEP_KAFKA_TLS_ENABLED", "LOCKSTEP_KAFKA_TLS_CA_FILE", "LOCKSTEP_KAFKA_TLS_CERT_FILE",
		"LOCKSTEP_KAFKA_TLS_KEY_FILE", "LOCKSTEP_KAFKA_TLS_SERVER_NAME", "LOCKSTEP_KAFKA_TLS_INSECURE_SKIP_VERIFY",
		"LOCKSTEP_KAFKA_SASL_MECHANISM", "LOCKSTEP_KAFKA_SASL_USERNAME", "LOCKSTEP_KAFKA_SASL_PASSWORD",
		"LOCKSTEP_KAFKA_SASL_PASSWORD_FILE", "LOCKSTEP_KAFKA_PARTITIONS", "LOCKSTEP_KAFKA_REPLICATION_FACTOR",
		"LOCKSTEP_SCHEMA_REGISTRY_URL", "LOCKSTEP_STATE_DIR",
		"LOCKSTEP_STATE_CACHE_MB", "LOCKSTEP_STATE_MEMTABLE_MB", "LOCKSTEP_STATE_ROW_CACHE_MB", "LOCKSTEP_ADMIN_ADDR",
		"LOCKSTEP_LOG_LEVEL", "LOCKSTEP_LOG_FORMAT",
		"LOCKSTEP_CLICKHOUSE_ADDR", "LOCKSTEP_CLICKHOUSE_DATABASE", "LOCKSTEP_CLICKHOUSE_USERNAME",
		"LOCKSTEP_CLICKHOUSE_PASSWORD", "LOCKSTEP_CLICKHOUSE_PASSWORD_FILE",
		"LOCKSTEP_FLOWS", "LOCKSTEP_INSTANCE_ID", "LOCKSTEP_LEDGER_ENABLED",
		"LOCKSTEP_RECONCILE_ENABLED", "LOCKSTEP_RECONCILE_DIR", "LOCKSTEP_RECONCILE_AFTER",
		"LOCKSTEP_WEBHOOK_ADDR", "LOCKSTEP_WEBHOOK_TLS_CERT_FILE", "LOCKSTEP_WEBHOOK_TLS_KEY_FILE",
	}
	// The connectors' and processors' settings follow, pinned by their
	// own packages' tests.
	if len(names) > len(want) {
		names = names[:len(want)]
	}
	if !slices.Equal(names, want) {
		t.Errorf("settings:\n got %q\nwant %q", names, want)
	}
	if !strings.HasPrefix(broker.EnvPrefix, envPrefix+"KAFKA_") {
		t.Errorf("broker.EnvPrefix %q does not match the KAFKA_ mount under %q", broker.EnvPrefix, envPrefix)
	}
}

// TestSecretsNeverPrinted renders a configuration holding secrets through
// the config command, fmt and slog, and looks for the secrets.
func TestSecretsNeverPrinted(t *testing.T) {
	const kafkaSecret, chSecret = "kafka-s3cret-value", "clickhouse-s3cret-value"
	env := map[string]string{
		"LOCKSTEP_KAFKA_SASL_MECHANISM": "PLAIN",
		"LOCKSTEP_KAFKA_SASL_USERNAME":  "lockstep",
		"LOCKSTEP_KAFKA_SASL_PASSWORD":  kafkaSecret,
		// From a file, to cover the value Load resolves into Password.
		"LOCKSTEP_CLICKHOUSE_PASSWORD_FILE": writeSecret(t, chSecret),
	}
	var stdout, stderr bytes.Buffer
	if code := execute(t.Context(), []string{"config"}, envconfig.MapLookuper(env), &stdout, &stderr); code != exitOK {
		t.Fatalf("config exited %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"LOCKSTEP_KAFKA_SASL_PASSWORD='<redacted>'", "LOCKSTEP_KAFKA_SASL_USERNAME=lockstep",
		"LOCKSTEP_CLICKHOUSE_PASSWORD=\n", "LOCKSTEP_KAFKA_BROKERS=127.0.0.1:19092"} {
		if !strings.Contains(out, want) {
			t.Errorf("config output lacks %q:\n%s", want, out)
		}
	}

	cfg, err := Load(t.Context(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouse.Password != chSecret {
		t.Fatalf("password file not read: %q", cfg.ClickHouse.Password)
	}
	var buf bytes.Buffer
	if err := printConfig(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&buf, "%v %+v", cfg, cfg)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("t", "kafka", cfg.Kafka, "clickhouse", cfg.ClickHouse)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("j", "kafka", cfg.Kafka, "clickhouse", cfg.ClickHouse, "cfg", cfg)
	if j, err := json.Marshal(cfg.Kafka); err == nil {
		buf.Write(j)
	}
	for _, secret := range []string{kafkaSecret, chSecret} {
		if strings.Contains(out+stderr.String()+buf.String(), secret) {
			t.Errorf("secret %q printed:\n%s%s", secret, out, buf.String())
		}
	}
}

func TestConfigCommandShowsInvalidConfig(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := envconfig.MapLookuper(map[string]string{"LOCKSTEP_LOG_LEVEL": "loud"})
	if code := execute(t.Context(), []string{"config"}, env, &stdout, &stderr); code != exitUsage {
		t.Errorf("exit code %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stdout.String(), "LOCKSTEP_LOG_LEVEL=loud") || !strings.Contains(stderr.String(), "LOCKSTEP_LOG_LEVEL: unknown level") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

func TestStateOptions(t *testing.T) {
	for _, c := range []struct {
		in   StateConfig
		want state.Options
	}{
		{StateConfig{CacheMB: 128, MemtableMB: 32, RowCacheMB: 32}, state.Options{CacheSize: 128 << 20, MemTableSize: 32 << 20, RowCacheSize: 32 << 20}},
		{StateConfig{CacheMB: 512, MemtableMB: 64, RowCacheMB: 0}, state.Options{CacheSize: 512 << 20, MemTableSize: 64 << 20, RowCacheSize: -1}}, // 0 turns it off
	} {
		if got := c.in.Options(); got.CacheSize != c.want.CacheSize || got.MemTableSize != c.want.MemTableSize || got.RowCacheSize != c.want.RowCacheSize {
			t.Errorf("%+v: %+v, want %+v", c.in, got, c.want)
		}
	}
}
