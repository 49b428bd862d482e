package broker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// valid is a configuration that passes Validate; cases change one thing.
func valid() Config {
	return Config{Brokers: []string{"127.0.0.1:19092"}, ClientID: "lockstep"}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr []string // substrings; nil means valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"several brokers and a host without port", func(c *Config) {
			c.Brokers = []string{"kafka-0:9092", "kafka-1", "[::1]:9093"}
		}, nil},
		{"no brokers", func(c *Config) { c.Brokers = nil },
			[]string{"LOCKSTEP_KAFKA_BROKERS: no broker addresses"}},
		{"empty broker entry", func(c *Config) { c.Brokers = []string{"a:1", ""} },
			[]string{`LOCKSTEP_KAFKA_BROKERS: "": empty address`}},
		{"bad port", func(c *Config) { c.Brokers = []string{"kafka:http"} },
			[]string{`LOCKSTEP_KAFKA_BROKERS: "kafka:http": bad port`}},
		{"url instead of address", func(c *Config) { c.Brokers = []string{"kafka://host:9092"} },
			[]string{"LOCKSTEP_KAFKA_BROKERS"}},
		{"empty client id", func(c *Config) { c.ClientID = " " },
			[]string{"LOCKSTEP_KAFKA_CLIENT_ID: must not be empty"}},
		{"topic prefix", func(c *Config) { c.TopicPrefix = "staging." }, nil},
		{"bad topic prefix", func(c *Config) { c.TopicPrefix = "stag/ing" },
			[]string{"LOCKSTEP_KAFKA_TOPIC_PREFIX"}},
		{"tls full", func(c *Config) {
			c.TLS = TLSConfig{Enabled: true, CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem", ServerName: "kafka"}
		}, nil},
		{"tls file without tls", func(c *Config) { c.TLS.CAFile = "ca.pem" },
			[]string{"LOCKSTEP_KAFKA_TLS_CA_FILE: set but LOCKSTEP_KAFKA_TLS_ENABLED is false"}},
		{"cert without key", func(c *Config) { c.TLS = TLSConfig{Enabled: true, CertFile: "c.pem"} },
			[]string{"LOCKSTEP_KAFKA_TLS_CERT_FILE: and LOCKSTEP_KAFKA_TLS_KEY_FILE must be set together"}},
		{"insecure with ca", func(c *Config) { c.TLS = TLSConfig{Enabled: true, CAFile: "ca", InsecureSkipVerify: true} },
			[]string{"LOCKSTEP_KAFKA_TLS_INSECURE_SKIP_VERIFY"}},
		{"sasl plain", func(c *Config) { c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", Password: "p"} }, nil},
		{"sasl scram lower case, file", func(c *Config) {
			c.SASL = SASLConfig{Mechanism: "scram-sha-512", Username: "u", PasswordFile: "/run/secret"}
		}, nil},
		{"unknown mechanism", func(c *Config) { c.SASL = SASLConfig{Mechanism: "FOO", Username: "u", Password: "p"} },
			[]string{`LOCKSTEP_KAFKA_SASL_MECHANISM: unknown mechanism "FOO" (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)`}},
		{"credentials without mechanism", func(c *Config) { c.SASL = SASLConfig{Username: "u", Password: "p"} },
			[]string{"LOCKSTEP_KAFKA_SASL_MECHANISM: empty, but SASL credentials are set"}},
		{"no username", func(c *Config) { c.SASL = SASLConfig{Mechanism: "PLAIN", Password: "p"} },
			[]string{"LOCKSTEP_KAFKA_SASL_USERNAME: required with LOCKSTEP_KAFKA_SASL_MECHANISM=PLAIN"}},
		{"no password", func(c *Config) { c.SASL = SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "u"} },
			[]string{"LOCKSTEP_KAFKA_SASL_PASSWORD: or LOCKSTEP_KAFKA_SASL_PASSWORD_FILE required"}},
		{"password twice", func(c *Config) {
			c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", Password: "p", PasswordFile: "f"}
		}, []string{"LOCKSTEP_KAFKA_SASL_PASSWORD: and LOCKSTEP_KAFKA_SASL_PASSWORD_FILE are both set"}},
		{"every problem reported", func(c *Config) {
			c.Brokers = nil
			c.SASL.Mechanism = "FOO"
		}, []string{"LOCKSTEP_KAFKA_BROKERS", "LOCKSTEP_KAFKA_SASL_MECHANISM"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mod(&c)
			err := c.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestTopic(t *testing.T) {
	c := valid()
	if got := c.Topic("clarus.shipments"); got != "clarus.shipments" {
		t.Errorf("Topic without prefix = %q", got)
	}
	c.TopicPrefix = "staging."
	if got := c.Topic("clarus.shipments"); got != "staging.clarus.shipments" {
		t.Errorf("Topic with prefix = %q", got)
	}
}

// TestSecretsRedacted renders the configuration every way the code base is
// likely to: fmt verbs, both slog handlers, JSON.
func TestSecretsRedacted(t *testing.T) {
	const secret = "hunter2-very-secret"
	c := valid()
	c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "alice", Password: secret}

	var out bytes.Buffer
	fmt.Fprintf(&out, "%v\n%+v\n%s\n", c, c, c.SASL)
	slog.New(slog.NewTextHandler(&out, nil)).Info("text", "kafka", c, "sasl", c.SASL)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("json", "kafka", c, "sasl", c.SASL)
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out.Write(j)

	if strings.Contains(out.String(), secret) {
		t.Fatalf("secret leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "alice") || !strings.Contains(out.String(), redacted) {
		t.Fatalf("expected username and %s marker in:\n%s", redacted, out.String())
	}
}
