package clarus

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Rendering the configuration for logs and JSON without its secrets.

// String renders c with the secrets redacted, so %v cannot leak them.
func (c Config) String() string {
	return fmt.Sprintf("{BaseURL:%s ClientID:%s ClientSecret:%s ClientSecretFile:%s Subdomain:%s WebhookToken:%s WebhookTokenFile:%s WebhookTokenHeader:%s AutomationIDs:%v SweepInterval:%s FullSweepInterval:%s PageSize:%d}",
		c.BaseURL, c.ClientID, redact(c.ClientSecret), c.ClientSecretFile, c.Subdomain, redact(c.WebhookToken), c.WebhookTokenFile,
		c.WebhookTokenHeader, c.AutomationIDs, c.SweepInterval, c.FullSweepInterval, c.PageSize)
}

// GoString keeps %#v from printing the secrets too.
func (c Config) GoString() string { return "clarus.Config" + c.String() }

// LogValue renders c for a start-up log line, secrets redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redact(c.ClientSecret)),
		slog.String("subdomain", c.Subdomain),
		slog.String("webhook_token", redact(c.WebhookToken)),
		slog.String("webhook_token_header", c.WebhookTokenHeader),
		slog.Any("automation_ids", c.AutomationIDs),
		slog.String("domain", c.domain()),
		slog.String("api_domain", c.APIDomain),
		slog.String("integration_id", c.IntegrationID),
		slog.Any("warehouses", c.Warehouses),
		slog.String("account_id", c.AccountID),
		slog.Duration("sweep_interval", c.SweepInterval),
		slog.Duration("full_sweep_interval", c.FullSweepInterval),
		slog.Duration("shipment_sweep_interval", c.shipmentInterval()),
		slog.Duration("shipment_sweep_overlap", c.shipmentOverlap()),
		slog.Bool("receipt_events", c.ReceiptEvents),
		slog.Duration("receipt_sweep_interval", c.receiptInterval()),
		slog.Duration("receipt_sweep_overlap", c.receiptOverlap()),
	)
}

// MarshalJSON keeps the secrets out of JSON renderings.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	p := plain(c)
	p.ClientSecret, p.WebhookToken = redact(c.ClientSecret), redact(c.WebhookToken)
	return json.Marshal(p)
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return "<redacted>"
}
