package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/lockstep-dev/lockstep/connectors/secret"
)

// Opts returns the client options for connecting to the configured cluster:
// seed brokers, client id, TLS dialer and SASL. Callers append their own
// (consumer group, transactional id, ...). It validates first and reads the
// TLS files and the password file, so a bad path fails here rather than on
// the first connection.
func (c Config) Opts() ([]kgo.Opt, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
	}
	tlsCfg, err := c.TLS.ClientConfig()
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsCfg))
	}
	mech, err := c.SASL.mechanism()
	if err != nil {
		return nil, err
	}
	if mech != nil {
		opts = append(opts, kgo.SASL(mech))
	}
	return opts, nil
}

// ClientConfig builds the TLS client configuration, or returns nil when TLS
// is disabled.
func (t TLSConfig) ClientConfig() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: t.ServerName,
		// An explicit operator choice for test clusters with throw-away
		// certificates; Validate refuses it alongside a CA file.
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in, see above
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%sTLS_CA_FILE: %w", EnvPrefix, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%sTLS_CA_FILE: %s holds no PEM certificate", EnvPrefix, t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%sTLS_CERT_FILE/%sTLS_KEY_FILE: %w", EnvPrefix, EnvPrefix, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// mechanism returns the franz-go SASL mechanism, or nil without SASL.
func (s SASLConfig) mechanism() (sasl.Mechanism, error) {
	mech, _ := normalizeMechanism(s.Mechanism)
	if mech == "" {
		return nil, nil
	}
	// Read once now so that a missing or empty file stops start-up.
	if _, err := s.password(); err != nil {
		return nil, err
	}
	// The callbacks read the password again on every authentication, so a
	// rotated secret file is picked up by new connections without a restart.
	switch mech {
	case MechanismPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			pass, err := s.password()
			return plain.Auth{User: s.Username, Pass: pass}, err
		}), nil
	case MechanismScramSHA256, MechanismScramSHA512:
		auth := func(context.Context) (scram.Auth, error) {
			pass, err := s.password()
			return scram.Auth{User: s.Username, Pass: pass}, err
		}
		if mech == MechanismScramSHA256 {
			return scram.Sha256(auth), nil
		}
		return scram.Sha512(auth), nil
	}
	return nil, fmt.Errorf("%sSASL_MECHANISM: unknown mechanism %q", EnvPrefix, s.Mechanism)
}

// password returns Password, or the contents of PasswordFile (see
// secret.Read). Errors never carry the password itself.
func (s SASLConfig) password() (string, error) {
	return secret.Read(EnvPrefix+"SASL_PASSWORD", s.Password, s.PasswordFile)
}
