// Package clarus connects lockstep to Clarus WMS: webhook receivers and GraphQL sweeps capture its stock movements, shipments and goods-in receipts into Kafka, and sinks apply goods-out and pre-receipt commands to it.
package clarus

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/secret"
)

// EnvPrefix is where the caller mounts Config in the environment; Validate
// names variables with it so an operator can grep for the exact setting.
const EnvPrefix = "LOCKSTEP_CLARUS_"

// Config is the Clarus connection as configured from LOCKSTEP_CLARUS_*.
// The defaults match the simulator's (`lockstep sim clarus`), except for the
// secrets, which have none.
type Config struct {
	// BaseURL is the API root: OAuth at /oauth/token, GraphQL at /graphql.
	BaseURL  string `env:"BASE_URL, default=http://127.0.0.1:8081"`
	ClientID string `env:"CLIENT_ID, default=lockstep"`
	// The OAuth client secret, from ClientSecret or from ClientSecretFile
	// (a mounted secret), never both.
	ClientSecret     string `env:"CLIENT_SECRET"`
	ClientSecretFile string `env:"CLIENT_SECRET_FILE"`
	// Subdomain is the tenant: sent as X-Clarus-Subdomain on every call and
	// required in X-ClarusWMS-Subdomain on every webhook.
	Subdomain string `env:"SUBDOMAIN, default=demo"`
	// WebhookToken is the per-endpoint secret Clarus cannot sign with: the
	// last segment of the webhook URL (/webhooks/clarus/{token}), or the
	// value of WebhookTokenHeader when that is set.
	WebhookToken       string `env:"WEBHOOK_TOKEN"`
	WebhookTokenFile   string `env:"WEBHOOK_TOKEN_FILE"`
	WebhookTokenHeader string `env:"WEBHOOK_TOKEN_HEADER"`
	// AutomationIDs maps each Clarus automation id lockstep accepts to its
	// trigger (resource_name.event), as id:trigger pairs.
	AutomationIDs map[string]string `env:"AUTOMATION_IDS, default=101:goods_out.completed,102:goods_in_receipt.completed,103:stock_adjustment.positive,104:stock_adjustment.negative,105:stock.held,106:stock.released"`
	// Domain, APIDomain and IntegrationID are what webhooks must carry in
	// X-ClarusWMS-Domain, X-ClarusWMS-API-Domain and
	// X-ClarusWMS-Integration-ID. An empty Domain is SUBDOMAIN.claruswms.co.uk
	// (the format of the documented example, assumed); an empty
	// IntegrationID requires that webhooks carry none (Clarus sends it "only
	// if applicable").
	Domain        string `env:"DOMAIN"`
	APIDomain     string `env:"API_DOMAIN, default=clarus-api.com"`
	IntegrationID string `env:"INTEGRATION_ID"`
	// Warehouses maps the Clarus id of every warehouse lockstep keeps in
	// step to the code lockstep keys its stock by, as id=code pairs. The
	// documented stock_balances fields give a warehouse's id only; the sweep
	// checks the pairs against Clarus's warehouses query, and reads and
	// accepts stock of these warehouses only.
	Warehouses map[string]string `env:"WAREHOUSES, separator==, default=1=WH1,2=WH2,3=WH3"`
	// AccountID, when set, limits lockstep to the stock of one Clarus
	// account (stock owner): balances and held stock are read for it only,
	// and webhooks about another account's stock are refused. Unset, the
	// balances of all accounts are added up per sku@warehouse.
	AccountID string `env:"ACCOUNT_ID"`
	// SweepInterval is the time between the starts of two sweeps; every
	// FullSweepInterval a sweep reads every balance instead of those of the
	// SKUs webhooks touched since the last sweep (0: every sweep is full).
	// Allocations raise no webhook, so a full sweep is how an allocation
	// made in Clarus reaches Prima's availability: the default keeps that
	// within 15 minutes, at about 5 requests per 100 balances (a page, its
	// re-read and the held stock of each warehouse) per full sweep.
	SweepInterval     time.Duration `env:"SWEEP_INTERVAL, default=5m"`
	FullSweepInterval time.Duration `env:"FULL_SWEEP_INTERVAL, default=15m"`
	PageSize          int           `env:"PAGE_SIZE, default=100"`
	// ShipmentSweepInterval is the time between the starts of two shipment
	// sweeps; each reads the shipments dispatched since the last one
	// began, less ShipmentSweepOverlap, which covers a shipment Clarus
	// lists later than it is dated. The sweep is what reports a partial
	// shipment, and one whose goods-out webhook was lost. Zero takes the
	// default.
	ShipmentSweepInterval time.Duration `env:"SHIPMENT_SWEEP_INTERVAL, default=15s"`
	ShipmentSweepOverlap  time.Duration `env:"SHIPMENT_SWEEP_OVERLAP, default=2m"`
	// ReceiptEvents makes the receiver produce, for each completed goods-in
	// receipt webhook, a receipt event on clarus.receipts beside its stock
	// movements (the inbound flow's fast path; the receipt source reports
	// every receipt too, within ReceiptSweepInterval). Off, the receiver
	// writes no clarus.receipts, which a deployment without the inbound
	// flow need not have.
	ReceiptEvents bool `env:"RECEIPT_EVENTS"`
	// ReceiptSweepInterval is the time between the starts of two receipt
	// sweeps; each reads the goods-in receipts completed since the last one
	// began, less ReceiptSweepOverlap. Zero takes the default.
	ReceiptSweepInterval time.Duration `env:"RECEIPT_SWEEP_INTERVAL, default=1m"`
	ReceiptSweepOverlap  time.Duration `env:"RECEIPT_SWEEP_OVERLAP, default=5m"`
	WebhookMaxBytes      int64         `env:"WEBHOOK_MAX_BYTES, default=1048576"`
	// WebhookMaxLines caps the lines (movements) one webhook may carry; a
	// larger one is refused whole.
	WebhookMaxLines int           `env:"WEBHOOK_MAX_LINES, default=1000"`
	RequestTimeout  time.Duration `env:"REQUEST_TIMEOUT, default=30s"`
	// OrderRatePerSecond and OrderBurst pace the goods-out sink's calls
	// (a create is about three: products, a look-up by reference, the
	// create). Clarus documents no limits, only "throttling"; a 429's
	// Retry-After holds every call. Zero takes the default.
	OrderRatePerSecond float64 `env:"ORDER_RATE_PER_SECOND, default=20"`
	OrderBurst         int     `env:"ORDER_BURST, default=20"`
	// OrderBackoffBase doubles up to OrderBackoffMax between the sink's
	// attempts at a failed call. Zero takes the default.
	OrderBackoffBase time.Duration `env:"ORDER_BACKOFF_BASE, default=500ms"`
	OrderBackoffMax  time.Duration `env:"ORDER_BACKOFF_MAX, default=1m"`
}

// Validate checks the settings without touching the file system and
// reports every problem at once, each under its variable name.
func (c Config) Validate() error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail("BASE_URL", "%q: want an http(s) URL", c.BaseURL)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		fail("CLIENT_ID", "must not be empty")
	}
	if strings.TrimSpace(c.Subdomain) == "" {
		fail("SUBDOMAIN", "must not be empty")
	}
	oneOf := func(name, value, file string) {
		switch {
		case value != "" && file != "":
			fail(name, "and %s%s_FILE are both set; use one", EnvPrefix, name)
		case value == "" && file == "":
			fail(name, "or %s%s_FILE required", EnvPrefix, name)
		}
	}
	oneOf("CLIENT_SECRET", c.ClientSecret, c.ClientSecretFile)
	oneOf("WEBHOOK_TOKEN", c.WebhookToken, c.WebhookTokenFile)
	if c.WebhookToken != "" && len(c.WebhookToken) < 16 {
		fail("WEBHOOK_TOKEN", "too short: want at least 16 characters of randomness")
	}
	if c.WebhookToken != "" && c.WebhookTokenHeader == "" && strings.ContainsAny(c.WebhookToken, "/?#% ") {
		fail("WEBHOOK_TOKEN", "must be URL-path safe when it goes in the URL (no / ? # %% or space)")
	}
	if len(c.AutomationIDs) == 0 {
		fail("AUTOMATION_IDS", "no automation configured: every webhook would be refused")
	}
	for id, t := range c.AutomationIDs {
		if !slices.Contains(Triggers(), Trigger(t)) {
			fail("AUTOMATION_IDS", "automation %s: unknown trigger %q (want one of %v)", id, t, Triggers())
		}
	}
	if c.OrderBackoffBase < 0 || c.OrderBackoffMax < c.OrderBackoffBase {
		fail("ORDER_BACKOFF_BASE", "%s (max %s): want 0 <= base <= max", c.OrderBackoffBase, c.OrderBackoffMax)
	}
	if c.OrderRatePerSecond < 0 || c.OrderBurst < 0 {
		fail("ORDER_RATE_PER_SECOND", "%g (burst %d): want positive values, or 0 for the defaults", c.OrderRatePerSecond, c.OrderBurst)
	}
	if strings.TrimSpace(c.APIDomain) == "" || strings.ContainsAny(c.APIDomain, " /") {
		fail("API_DOMAIN", "%q: want a host name", c.APIDomain)
	}
	if strings.ContainsAny(c.Domain, " /") {
		fail("DOMAIN", "%q: want a host name", c.Domain)
	}
	if c.IntegrationID != "" && strings.TrimSpace(c.IntegrationID) != c.IntegrationID {
		fail("INTEGRATION_ID", "%q has surrounding spaces", c.IntegrationID)
	}
	if c.AccountID != "" && !validID(c.AccountID) {
		fail("ACCOUNT_ID", "%q: want a Clarus id", c.AccountID)
	}
	if len(c.Warehouses) == 0 {
		fail("WAREHOUSES", "no warehouse configured: want id=code pairs, such as 1=WH1,2=WH2")
	}
	codes := map[string]string{}
	for _, id := range slices.Sorted(maps.Keys(c.Warehouses)) {
		if !validID(id) {
			fail("WAREHOUSES", "%q is not a Clarus warehouse id", id)
		}
		code, err := Identifier("code", c.Warehouses[id])
		if err != nil {
			fail("WAREHOUSES", "warehouse %s: %v", id, err)
			continue
		}
		if other, dup := codes[code]; dup {
			fail("WAREHOUSES", "warehouses %s and %s are both %s", other, id, code)
		}
		codes[code] = id
	}
	if c.SweepInterval <= 0 {
		fail("SWEEP_INTERVAL", "must be positive")
	}
	if c.FullSweepInterval < 0 {
		fail("FULL_SWEEP_INTERVAL", "must not be negative")
	}
	if c.ShipmentSweepInterval < 0 {
		fail("SHIPMENT_SWEEP_INTERVAL", "must not be negative (0 takes the default, 15s)")
	}
	if c.ShipmentSweepOverlap < 0 {
		fail("SHIPMENT_SWEEP_OVERLAP", "must not be negative (0 takes the default, 2m)")
	}
	if c.ReceiptSweepInterval < 0 {
		fail("RECEIPT_SWEEP_INTERVAL", "must not be negative (0 takes the default, 1m)")
	}
	if c.ReceiptSweepOverlap < 0 {
		fail("RECEIPT_SWEEP_OVERLAP", "must not be negative (0 takes the default, 5m)")
	}
	if c.PageSize < 1 || c.PageSize > 100 {
		fail("PAGE_SIZE", "%d: want 1 to 100", c.PageSize)
	}
	if c.WebhookMaxBytes < 1024 {
		fail("WEBHOOK_MAX_BYTES", "%d: want at least 1024", c.WebhookMaxBytes)
	}
	if c.WebhookMaxLines < 1 || c.WebhookMaxLines > 100_000 {
		fail("WEBHOOK_MAX_LINES", "%d: want 1 to 100000", c.WebhookMaxLines)
	}
	if c.RequestTimeout <= 0 {
		fail("REQUEST_TIMEOUT", "must be positive")
	}
	return errors.Join(errs...)
}

// Resolve validates c and fills ClientSecret and WebhookToken from their
// files, so the components only ever read the values. Errors never carry a
// secret.
func (c Config) Resolve() (Config, error) {
	if err := c.Validate(); err != nil {
		return c, err
	}
	var err error
	if c.ClientSecret, err = secret.Read(EnvPrefix+"CLIENT_SECRET", c.ClientSecret, c.ClientSecretFile); err != nil {
		return c, err
	}
	if c.WebhookToken, err = secret.Read(EnvPrefix+"WEBHOOK_TOKEN", c.WebhookToken, c.WebhookTokenFile); err != nil {
		return c, err
	}
	return c, nil
}

// automations returns the configured automation ids by trigger.
func (c Config) automations() map[string]Trigger {
	out := make(map[string]Trigger, len(c.AutomationIDs))
	for id, t := range c.AutomationIDs {
		out[strings.TrimSpace(id)] = Trigger(strings.TrimSpace(t))
	}
	return out
}

// shipmentInterval and shipmentOverlap are the shipment sweep's, zero
// taking the defaults.
func (c Config) shipmentInterval() time.Duration {
	if c.ShipmentSweepInterval <= 0 {
		return 15 * time.Second
	}
	return c.ShipmentSweepInterval
}

func (c Config) shipmentOverlap() time.Duration {
	if c.ShipmentSweepOverlap <= 0 {
		return 2 * time.Minute
	}
	return c.ShipmentSweepOverlap
}

// receiptInterval and receiptOverlap are the receipt sweep's, zero taking
// the defaults.
func (c Config) receiptInterval() time.Duration { return cmp.Or(c.ReceiptSweepInterval, time.Minute) }

func (c Config) receiptOverlap() time.Duration { return cmp.Or(c.ReceiptSweepOverlap, 5*time.Minute) }

// domain is the X-ClarusWMS-Domain webhooks must carry.
func (c Config) domain() string {
	if c.Domain != "" {
		return strings.ToLower(c.Domain)
	}
	return strings.ToLower(c.Subdomain) + ".claruswms.co.uk"
}

// warehouseCodes returns the configured warehouses, id to normalised code,
// leaving out any Validate refuses.
func (c Config) warehouseCodes() map[string]string {
	out := make(map[string]string, len(c.Warehouses))
	for id, code := range c.Warehouses {
		if n, err := Identifier("code", code); err == nil && validID(id) {
			out[id] = n
		}
	}
	return out
}

// validID reports whether id can be a Clarus record id: what clarusID
// accepts.
func validID(id string) bool {
	return id != "" && len(id) <= 64 && !strings.ContainsFunc(id, func(r rune) bool {
		return r <= ' ' || r == '/' || r == '#' || r == '@' || r >= 0x7f
	})
}
