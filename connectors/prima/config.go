package prima

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"
)

// EnvPrefix is where the caller mounts Config in the environment; Validate
// names variables with it so an operator can grep for the exact setting.
const EnvPrefix = "LOCKSTEP_PRIMA_"

// Config is the Prima connection, source and sink settings, read from
// LOCKSTEP_PRIMA_*. The defaults match the simulator (`lockstep sim prima`).
type Config struct {
	// BaseURL is the instance URL, the SOAP endpoint: its WSDL is
	// BaseURL/wsdl (a real instance's may add ?targetURI=urn:omlink). Calls
	// are SOAP 1.1 wsomhandler, or comwsomhandler with CompanyID when set.
	BaseURL   string `env:"BASE_URL, default=http://127.0.0.1:8082"`
	CompanyID string `env:"COMPANY_ID"`
	// Prima documents no authentication ("no auth" over a private network);
	// installations that add a basic-auth header set these. The password
	// comes from Password or PasswordFile, never both, and is never logged.
	Username       string        `env:"USERNAME"`
	Password       string        `env:"PASSWORD"`
	PasswordFile   string        `env:"PASSWORD_FILE"`
	TLS            TLSConfig     `env:", prefix=TLS_"`
	RequestTimeout time.Duration `env:"REQUEST_TIMEOUT, default=30s"`

	// Source: how often every feed (items, stock levels, sales orders,
	// despatch notes, purchase orders) is polled, and the page size of
	// each modified-since query. The feeds share them, as they share one
	// poller; which feeds run is the flows' choice (Options.Feeds), not
	// a setting.
	PollInterval time.Duration `env:"POLL_INTERVAL, default=30s"`
	PageSize     int           `env:"PAGE_SIZE, default=500"`

	// Sink: the token bucket in front of Prima, the retry budget of one
	// stock batch (failures; throttled answers have their own, larger
	// budget), and when Prima counts as down.
	RatePerSecond float64       `env:"RATE_PER_SECOND, default=5"`
	Burst         int           `env:"BURST, default=5"`
	MaxAttempts   int           `env:"MAX_ATTEMPTS, default=8"`
	MaxThrottled  int           `env:"MAX_THROTTLED, default=60"`
	BackoffBase   time.Duration `env:"BACKOFF_BASE, default=500ms"`
	BackoffMax    time.Duration `env:"BACKOFF_MAX, default=1m"`
	DownAfter     int           `env:"DOWN_AFTER, default=3"` // consecutive failures before fetching pauses
	// RetryFailedAfter is how long levels Prima refused (a batch that
	// used up its budget) wait before the sink pushes them again, until
	// Prima takes them: levels are absolute, so a late push is harmless,
	// and a key that moves no more would otherwise stay wrong in Prima.
	RetryFailedAfter time.Duration `env:"RETRY_FAILED_AFTER, default=1m"`

	// Despatch sink: its own token bucket in front of Prima, beside the
	// stock sink's (one process may run both, each with its own budget);
	// 0 takes the default. Each command costs at least two calls, the
	// look-up of its reference and the create, so notes go out at half
	// the rate at most. It shares BACKOFF_BASE, BACKOFF_MAX and
	// DOWN_AFTER with the stock sink.
	DespatchRatePerSecond float64 `env:"DESPATCH_RATE_PER_SECOND, default=5"`
	DespatchBurst         int     `env:"DESPATCH_BURST, default=5"`
	// DespatchConcurrency is how many of one poll's commands the
	// despatch sink handles at once; 0 takes the default. A note costs
	// Prima round trips more than anything, so handling one at a time
	// leaves the sink waiting on the network. The commands of one
	// shipment (one note reference) still go one after the other, in
	// offset order: two look-ups of one reference in flight together
	// would both find nothing and both create, two notes and two
	// invoices. Every call still waits for the bucket above, so the
	// rate, not this, bounds the load on Prima.
	DespatchConcurrency int `env:"DESPATCH_CONCURRENCY, default=4"`

	// Parity: how long after a push is done before Prima's level for it is
	// judged. It must exceed PollInterval, so the pushed level has been
	// polled back by then, with a margin for the poll itself.
	ParitySettle time.Duration `env:"PARITY_SETTLE, default=1m"`
}

// TLSConfig configures TLS to an https BaseURL.
type TLSConfig struct {
	CAFile             string `env:"CA_FILE"`   // replaces the system roots
	CertFile           string `env:"CERT_FILE"` // client certificate, with KeyFile
	KeyFile            string `env:"KEY_FILE"`
	ServerName         string `env:"SERVER_NAME"`
	InsecureSkipVerify bool   `env:"INSECURE_SKIP_VERIFY"`
}

// DefaultConfig is Config with every default, for tests and embedding.
func DefaultConfig() Config {
	return Config{
		BaseURL: "http://127.0.0.1:8082", RequestTimeout: 30 * time.Second,
		PollInterval: 30 * time.Second, PageSize: 500,
		RatePerSecond: 5, Burst: 5, MaxAttempts: 8, MaxThrottled: 60,
		BackoffBase: 500 * time.Millisecond, BackoffMax: time.Minute, DownAfter: 3, RetryFailedAfter: time.Minute,
		DespatchRatePerSecond: 5, DespatchBurst: 5, DespatchConcurrency: 4,
		ParitySettle: time.Minute,
	}
}

// Validate checks the settings without touching files or the network and
// reports every problem at once, each under its variable name.
func (c Config) Validate() error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail("BASE_URL", "want http(s)://host[:port][/path], got %q", c.BaseURL)
	} else if u.Scheme == "http" && (c.TLS.CAFile != "" || c.TLS.CertFile != "") {
		fail("TLS_*", "TLS files are set but BASE_URL is http")
	}
	if c.Password != "" && c.PasswordFile != "" {
		fail("PASSWORD_FILE", "set PASSWORD or PASSWORD_FILE, not both")
	}
	if (c.Password != "" || c.PasswordFile != "") && c.Username == "" {
		fail("USERNAME", "a password is set without a user name")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		fail("TLS_CERT_FILE", "the client certificate needs both CERT_FILE and KEY_FILE")
	}
	if c.TLS.InsecureSkipVerify && c.TLS.CAFile != "" {
		fail("TLS_INSECURE_SKIP_VERIFY", "contradicts TLS_CA_FILE")
	}
	positive := map[string]bool{
		"REQUEST_TIMEOUT": c.RequestTimeout > 0, "POLL_INTERVAL": c.PollInterval > 0, "PAGE_SIZE": c.PageSize > 0,
		"RATE_PER_SECOND": c.RatePerSecond > 0, "BURST": c.Burst > 0, "MAX_ATTEMPTS": c.MaxAttempts > 0,
		"MAX_THROTTLED": c.MaxThrottled > 0, "BACKOFF_BASE": c.BackoffBase > 0,
		"BACKOFF_MAX": c.BackoffMax >= c.BackoffBase, "DOWN_AFTER": c.DownAfter > 0,
		"RETRY_FAILED_AFTER": c.RetryFailedAfter > 0,
	}
	for _, name := range []string{"REQUEST_TIMEOUT", "POLL_INTERVAL", "PAGE_SIZE", "RATE_PER_SECOND", "BURST",
		"MAX_ATTEMPTS", "MAX_THROTTLED", "BACKOFF_BASE", "BACKOFF_MAX", "DOWN_AFTER"} {
		if !positive[name] {
			fail(name, "must be positive (BACKOFF_MAX at least BACKOFF_BASE)")
		}
	}
	if c.DespatchRatePerSecond < 0 || c.DespatchBurst < 0 {
		fail("DESPATCH_RATE_PER_SECOND", "%g (burst %d): want positive values, or 0 for the defaults", c.DespatchRatePerSecond, c.DespatchBurst)
	}
	if c.DespatchConcurrency < 0 {
		fail("DESPATCH_CONCURRENCY", "%d: want at least 1, or 0 for the default (4)", c.DespatchConcurrency)
	}
	if c.ParitySettle <= c.PollInterval {
		// Shorter, and a level pushed just after a poll is judged before
		// the next poll reads it back: drift that is not there.
		fail("PARITY_SETTLE", "must be longer than POLL_INTERVAL (%s), got %s", c.PollInterval, c.ParitySettle)
	}
	return errors.Join(errs...)
}

// httpClient builds the HTTP client: the request timeout, and TLS roots and
// client certificate when configured.
func (c Config) httpClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Keep a connection per despatch lane (4 at least), and two for the
	// rest (the source, the stock sink): with the default two per host,
	// lanes beyond two would close theirs after every call and dial
	// again.
	tr.MaxIdleConnsPerHost = max(c.DespatchConcurrency, 4) + http.DefaultMaxIdleConnsPerHost
	if c.TLS != (TLSConfig{}) {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName,
			InsecureSkipVerify: c.TLS.InsecureSkipVerify} //nolint:gosec // an explicit operator choice, refused alongside a CA file
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("%sTLS_CA_FILE: %w", EnvPrefix, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%sTLS_CA_FILE: %s holds no PEM certificate", EnvPrefix, c.TLS.CAFile)
			}
			cfg.RootCAs = pool
		}
		if c.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("%sTLS_CERT_FILE/%sTLS_KEY_FILE: %w", EnvPrefix, EnvPrefix, err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Timeout: c.RequestTimeout, Transport: tr}, nil
}

// LogValue implements slog.LogValuer without the password.
func (c Config) LogValue() slog.Value {
	pw := ""
	if c.Password != "" {
		pw = "<redacted>"
	}
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL), slog.String("company_id", c.CompanyID),
		slog.String("username", c.Username), slog.String("password", pw),
		slog.String("password_file", c.PasswordFile), slog.Duration("poll_interval", c.PollInterval),
		slog.Float64("rate_per_second", c.RatePerSecond), slog.Int("burst", c.Burst),
		slog.Float64("despatch_rate_per_second", c.DespatchRatePerSecond), slog.Int("despatch_burst", c.DespatchBurst),
		slog.Int("despatch_concurrency", c.DespatchConcurrency),
		slog.Duration("parity_settle", c.ParitySettle),
	)
}

// String formats c without the password, so %v never leaks it.
func (c Config) String() string {
	if c.Password != "" {
		c.Password = "<redacted>"
	}
	type plain Config // no String method: no recursion
	return fmt.Sprintf("%+v", plain(c))
}

// GoString is String, so %#v does not leak the password either.
func (c Config) GoString() string { return c.String() }
