// Package broker turns lockstep's Kafka settings into franz-go client options.
package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
)

// EnvPrefix is where the caller mounts Config in the environment. Validate
// names variables with it so that an operator can grep for the exact setting;
// it must match the prefix used by cmd/lockstep.
const EnvPrefix = "LOCKSTEP_KAFKA_"

// SASL mechanisms accepted in SASLConfig.Mechanism; the spelling is Kafka's.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// redacted replaces a secret wherever a configuration value is rendered.
const redacted = "<redacted>"

// Config is the Kafka connection as configured from LOCKSTEP_KAFKA_*.
type Config struct {
	// Brokers are the seed brokers, host:port (port defaults to 9092).
	Brokers  []string `env:"BROKERS, default=127.0.0.1:19092"`
	ClientID string   `env:"CLIENT_ID, default=lockstep"`
	// TopicPrefix is prepended verbatim to every topic name, separator
	// included ("staging." gives "staging.clarus.shipments"), so that several
	// environments can share one cluster.
	TopicPrefix string     `env:"TOPIC_PREFIX"`
	TLS         TLSConfig  `env:", prefix=TLS_"`
	SASL        SASLConfig `env:", prefix=SASL_"`
	// Partitions and ReplicationFactor size the topics lockstep creates
	// when they are missing (-1: the broker's default replication).
	// Co-partitioned inputs need one count, hence one setting.
	Partitions        int32 `env:"PARTITIONS, default=6"`
	ReplicationFactor int16 `env:"REPLICATION_FACTOR, default=-1"`
}

// TLSConfig configures TLS to the brokers.
type TLSConfig struct {
	Enabled bool `env:"ENABLED"`
	// CAFile replaces the system roots: only brokers signed by it are trusted.
	CAFile string `env:"CA_FILE"`
	// CertFile and KeyFile form the client certificate for mutual TLS.
	CertFile string `env:"CERT_FILE"`
	KeyFile  string `env:"KEY_FILE"`
	// ServerName overrides the host name verified in broker certificates;
	// empty verifies each broker against the host it was dialled at.
	ServerName         string `env:"SERVER_NAME"`
	InsecureSkipVerify bool   `env:"INSECURE_SKIP_VERIFY"`
}

// SASLConfig configures SASL authentication. The password comes either from
// Password or from PasswordFile (a mounted secret), never from both.
type SASLConfig struct {
	// Mechanism is empty (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism    string `env:"MECHANISM"`
	Username     string `env:"USERNAME"`
	Password     string `env:"PASSWORD"`
	PasswordFile string `env:"PASSWORD_FILE"`
}

// Topic returns the broker-side name of a logical topic.
func (c Config) Topic(name string) string { return c.TopicPrefix + name }

// Validate checks the settings without touching the file system or the
// network, and reports every problem at once, each under its variable name.
func (c Config) Validate() error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}

	if len(c.Brokers) == 0 {
		fail("BROKERS", "no broker addresses (want host:port[,host:port...])")
	}
	for _, b := range c.Brokers {
		if err := checkBrokerAddr(b); err != nil {
			fail("BROKERS", "%q: %v", b, err)
		}
	}
	if strings.TrimSpace(c.ClientID) == "" {
		fail("CLIENT_ID", "must not be empty")
	}
	if i := strings.IndexFunc(c.TopicPrefix, func(r rune) bool { return !isTopicRune(r) }); i >= 0 {
		fail("TOPIC_PREFIX", "%q: character %q not allowed in a Kafka topic name (want a-z A-Z 0-9 . _ -)", c.TopicPrefix, c.TopicPrefix[i])
	}

	t := c.TLS
	if !t.Enabled {
		// A TLS setting without TLS is almost always a forgotten
		// TLS_ENABLED=true; connecting in plaintext instead would be a surprise.
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"TLS_CA_FILE", t.CAFile != ""},
			{"TLS_CERT_FILE", t.CertFile != ""},
			{"TLS_KEY_FILE", t.KeyFile != ""},
			{"TLS_SERVER_NAME", t.ServerName != ""},
			{"TLS_INSECURE_SKIP_VERIFY", t.InsecureSkipVerify},
		} {
			if f.set {
				fail(f.name, "set but %sTLS_ENABLED is false", EnvPrefix)
			}
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		fail("TLS_CERT_FILE", "and %sTLS_KEY_FILE must be set together", EnvPrefix)
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		fail("TLS_INSECURE_SKIP_VERIFY", "set together with %sTLS_CA_FILE, which has no effect without verification", EnvPrefix)
	}

	s := c.SASL
	mech, ok := normalizeMechanism(s.Mechanism)
	switch {
	case !ok:
		fail("SASL_MECHANISM", "unknown mechanism %q (want %s, %s or %s)", s.Mechanism, MechanismPlain, MechanismScramSHA256, MechanismScramSHA512)
	case mech == "":
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			fail("SASL_MECHANISM", "empty, but SASL credentials are set (want %s, %s or %s)", MechanismPlain, MechanismScramSHA256, MechanismScramSHA512)
		}
	default:
		if s.Username == "" {
			fail("SASL_USERNAME", "required with %sSASL_MECHANISM=%s", EnvPrefix, mech)
		}
		switch {
		case s.Password != "" && s.PasswordFile != "":
			fail("SASL_PASSWORD", "and %sSASL_PASSWORD_FILE are both set; use one", EnvPrefix)
		case s.Password == "" && s.PasswordFile == "":
			fail("SASL_PASSWORD", "or %sSASL_PASSWORD_FILE required with %sSASL_MECHANISM=%s", EnvPrefix, EnvPrefix, mech)
		}
	}
	return errors.Join(errs...)
}

// checkBrokerAddr accepts what kgo.SeedBrokers accepts: host or host:port.
func checkBrokerAddr(addr string) error {
	if addr == "" {
		return errors.New("empty address")
	}
	if strings.ContainsAny(addr, " \t/") {
		return errors.New("want host:port")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return nil
		}
		return err
	}
	if host == "" {
		return errors.New("missing host")
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

func isTopicRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// normalizeMechanism accepts any letter case, since operators copy the name
// from varied documentation, and returns Kafka's spelling.
func normalizeMechanism(m string) (string, bool) {
	switch u := strings.ToUpper(strings.TrimSpace(m)); u {
	case "", MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
		return u, true
	}
	return "", false
}

// String renders the SASL settings with the password redacted, so that
// printing a configuration with %v or %+v cannot leak it.
func (s SASLConfig) String() string {
	return fmt.Sprintf("{Mechanism:%s Username:%s Password:%s PasswordFile:%s}",
		s.Mechanism, s.Username, redact(s.Password), s.PasswordFile)
}

// LogValue keeps the password out of slog output.
func (s SASLConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mechanism", s.Mechanism),
		slog.String("username", s.Username),
		slog.String("password", redact(s.Password)),
		slog.String("password_file", s.PasswordFile),
	)
}

// MarshalJSON keeps the password out of JSON, which slog's JSON handler uses
// for nested structs that it does not resolve through LogValue.
func (s SASLConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Mechanism, Username, Password, PasswordFile string
	}{s.Mechanism, s.Username, redact(s.Password), s.PasswordFile})
}

// LogValue renders the whole connection configuration for a start-up log
// line, secrets redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("brokers", c.Brokers),
		slog.String("client_id", c.ClientID),
		slog.String("topic_prefix", c.TopicPrefix),
		slog.Bool("tls", c.TLS.Enabled),
		slog.Any("sasl", c.SASL),
	)
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}
