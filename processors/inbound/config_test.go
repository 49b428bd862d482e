package inbound

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
)

func load(t *testing.T, env map[string]string) Config {
	t.Helper()
	var c Config
	if err := envconfig.ProcessWith(context.Background(), &envconfig.Config{Target: &c,
		Lookuper: envconfig.PrefixLookuper("LOCKSTEP_", envconfig.MapLookuper(env))}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigFromEnvironment(t *testing.T) {
	c := load(t, nil)
	if c.LeadTime != 24*time.Hour || c.AckGrace != 15*time.Minute || c.ReceiptTolerancePct != 0 || c.RedriveInterval != 30*time.Second || c.MaxLines != 1000 {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c = load(t, map[string]string{"LOCKSTEP_PO_LEAD_TIME": "48h", "LOCKSTEP_RECEIPT_TOLERANCE_PCT": "2.5", "LOCKSTEP_PO_ACK_GRACE": "1h",
		"LOCKSTEP_INBOUND_REDRIVE_INTERVAL": "1m", "LOCKSTEP_INBOUND_MAX_LINES": "50"})
	r := c.Rules()
	if r.LeadTime != 48*time.Hour || r.ToleranceBP != 250 || r.AckGrace != time.Hour || r.RedriveInterval != time.Minute || r.MaxLines != 50 {
		t.Fatalf("rules %+v", r)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{LeadTime: -time.Hour, AckGrace: time.Millisecond, ReceiptTolerancePct: -1, RedriveInterval: time.Millisecond, MaxLines: -1}.Validate()
	for _, name := range []string{"LOCKSTEP_PO_LEAD_TIME", "LOCKSTEP_PO_ACK_GRACE", "LOCKSTEP_RECEIPT_TOLERANCE_PCT", "LOCKSTEP_INBOUND_REDRIVE_INTERVAL", "LOCKSTEP_INBOUND_MAX_LINES"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Validate: %v lacks %s", err, name)
		}
	}
	if _, err := Topology(Config{ReceiptTolerancePct: 1001}, nil); err == nil || !strings.Contains(err.Error(), "LOCKSTEP_RECEIPT_TOLERANCE_PCT") {
		t.Errorf("Topology: %v", err)
	}
}
