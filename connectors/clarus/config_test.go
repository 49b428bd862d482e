package clarus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
)

func loadEnv(t *testing.T, env map[string]string) clarus.Config {
	t.Helper()
	var cfg clarus.Config
	err := envconfig.ProcessWith(context.Background(), &envconfig.Config{
		Target: &cfg, Lookuper: envconfig.PrefixLookuper(clarus.EnvPrefix, envconfig.MapLookuper(env)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := loadEnv(t, map[string]string{
		"LOCKSTEP_CLARUS_BASE_URL":                "https://clarus-api.com",
		"LOCKSTEP_CLARUS_CLIENT_SECRET_FILE":      secretFile,
		"LOCKSTEP_CLARUS_SUBDOMAIN":               "acme",
		"LOCKSTEP_CLARUS_WEBHOOK_TOKEN":           "0123456789abcdef0123",
		"LOCKSTEP_CLARUS_AUTOMATION_IDS":          "7:goods_out.completed,8:stock.held",
		"LOCKSTEP_CLARUS_SWEEP_INTERVAL":          "2m",
		"LOCKSTEP_CLARUS_WAREHOUSES":              "7=MAN,8=LDS",
		"LOCKSTEP_CLARUS_INTEGRATION_ID":          "int-3",
		"LOCKSTEP_CLARUS_ACCOUNT_ID":              "12",
		"LOCKSTEP_CLARUS_WEBHOOK_MAX_LINES":       "50",
		"LOCKSTEP_CLARUS_SHIPMENT_SWEEP_INTERVAL": "30s",
		"LOCKSTEP_CLARUS_RECEIPT_EVENTS":          "true",
		"LOCKSTEP_CLARUS_RECEIPT_SWEEP_OVERLAP":   "10m",
	})
	cfg, err := cfg.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientSecret != "file-secret" || cfg.ClientID != "lockstep" || cfg.SweepInterval != 2*time.Minute ||
		cfg.FullSweepInterval != 15*time.Minute || cfg.PageSize != 100 || cfg.WebhookMaxBytes != 1<<20 ||
		len(cfg.AutomationIDs) != 2 || cfg.AutomationIDs["8"] != "stock.held" ||
		!maps.Equal(cfg.Warehouses, map[string]string{"7": "MAN", "8": "LDS"}) || cfg.IntegrationID != "int-3" || cfg.AccountID != "12" ||
		cfg.WebhookMaxLines != 50 || cfg.APIDomain != "clarus-api.com" || cfg.Domain != "" ||
		cfg.ShipmentSweepInterval != 30*time.Second || cfg.ShipmentSweepOverlap != 2*time.Minute ||
		!cfg.ReceiptEvents || cfg.ReceiptSweepInterval != time.Minute || cfg.ReceiptSweepOverlap != 10*time.Minute {
		t.Fatalf("config %#v", cfg)
	}
	defaults := loadEnv(t, nil)
	if len(defaults.AutomationIDs) != 6 || defaults.AutomationIDs["101"] != "goods_out.completed" || defaults.BaseURL != "http://127.0.0.1:8081" ||
		!maps.Equal(defaults.Warehouses, map[string]string{"1": "WH1", "2": "WH2", "3": "WH3"}) || defaults.WebhookMaxLines != 1000 ||
		defaults.APIDomain != "clarus-api.com" || defaults.IntegrationID != "" || defaults.AccountID != "" ||
		defaults.ShipmentSweepInterval != 15*time.Second || defaults.ShipmentSweepOverlap != 2*time.Minute || defaults.ReceiptEvents {
		t.Fatalf("defaults %#v", defaults)
	}
}

func TestConfigValidate(t *testing.T) {
	err := loadEnv(t, map[string]string{
		"LOCKSTEP_CLARUS_BASE_URL":               "clarus-api.com",
		"LOCKSTEP_CLARUS_CLIENT_SECRET":          "s",
		"LOCKSTEP_CLARUS_CLIENT_SECRET_FILE":     "/x",
		"LOCKSTEP_CLARUS_WEBHOOK_TOKEN":          "short",
		"LOCKSTEP_CLARUS_AUTOMATION_IDS":         "9:stock.moved",
		"LOCKSTEP_CLARUS_PAGE_SIZE":              "500",
		"LOCKSTEP_CLARUS_WAREHOUSES":             "1=WH1,x/1=WH2,3=WH\u00a03,4=WH1,5=Lager\u200b",
		"LOCKSTEP_CLARUS_ACCOUNT_ID":             "1 2",
		"LOCKSTEP_CLARUS_WEBHOOK_MAX_LINES":      "0",
		"LOCKSTEP_CLARUS_API_DOMAIN":             "",
		"LOCKSTEP_CLARUS_SHIPMENT_SWEEP_OVERLAP": "-1s",
		"LOCKSTEP_CLARUS_RECEIPT_SWEEP_INTERVAL": "-1s",
	}).Validate()
	for _, want := range []string{
		"LOCKSTEP_CLARUS_BASE_URL:", "LOCKSTEP_CLARUS_CLIENT_SECRET: and LOCKSTEP_CLARUS_CLIENT_SECRET_FILE are both set",
		"LOCKSTEP_CLARUS_WEBHOOK_TOKEN: too short", `unknown trigger "stock.moved"`, "LOCKSTEP_CLARUS_PAGE_SIZE: 500",
		`LOCKSTEP_CLARUS_WAREHOUSES: "x/1" is not a Clarus warehouse id`, "LOCKSTEP_CLARUS_WAREHOUSES: warehouse 3: code",
		"a no-break space", "LOCKSTEP_CLARUS_WAREHOUSES: warehouses 1 and 4 are both WH1", "zero-width",
		"LOCKSTEP_CLARUS_ACCOUNT_ID:", "LOCKSTEP_CLARUS_WEBHOOK_MAX_LINES: 0", "LOCKSTEP_CLARUS_API_DOMAIN:",
		"LOCKSTEP_CLARUS_SHIPMENT_SWEEP_OVERLAP: must not be negative", "LOCKSTEP_CLARUS_RECEIPT_SWEEP_INTERVAL: must not be negative",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "short\"") {
		t.Error("the error quotes the token")
	}
	err = loadEnv(t, nil).Validate()
	if err == nil || !strings.Contains(err.Error(), "LOCKSTEP_CLARUS_CLIENT_SECRET: or LOCKSTEP_CLARUS_CLIENT_SECRET_FILE required") {
		t.Errorf("missing secret: %v", err)
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	cfg := testConfig("https://clarus-api.com")
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "clarus", cfg)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("start", "clarus", cfg)
	j, _ := json.Marshal(cfg)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String(), string(j)} {
		if strings.Contains(out, testSecret) || strings.Contains(out, testToken) {
			t.Fatalf("secret in %s", out)
		}
		if !strings.Contains(out, "redacted") {
			t.Fatalf("no redaction marker in %s", out)
		}
	}
}
