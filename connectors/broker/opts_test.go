package broker

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const testTopic = "roundtrip"

// saslCluster starts a kfake cluster that only accepts SASL: a PLAIN
// superuser and SCRAM users subject to (disabled) ACLs.
func saslCluster(t *testing.T, prefix string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.EnableSASL(),
		kfake.Superuser(MechanismPlain, "admin", "admin-pw"),
		kfake.User(MechanismScramSHA256, "alice", "alice-pw"),
		kfake.User(MechanismScramSHA512, "bob", "bob-pw"),
		kfake.SeedTopics(1, prefix+testTopic),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// roundTrip produces one record with a client built from cfg and reads it
// back with the same client, which proves authentication and both paths.
func roundTrip(t *testing.T, cfg Config) error {
	t.Helper()
	opts, err := cfg.Opts()
	if err != nil {
		return err
	}
	topic := cfg.Topic(testTopic)
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RetryTimeout(3*time.Second),
	)...)
	if err != nil {
		return err
	}
	defer cl.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	want := "hello " + cfg.SASL.Mechanism
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(want)}).FirstErr(); err != nil {
		return err
	}
	for {
		fetches := cl.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			return err
		}
		for _, r := range fetches.Records() {
			if string(r.Value) == want {
				return nil
			}
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSASLAuthenticates(t *testing.T) {
	const prefix = "test."
	c := saslCluster(t, prefix)
	tests := []struct {
		name string
		sasl SASLConfig
	}{
		{"plain", SASLConfig{Mechanism: "PLAIN", Username: "admin", Password: "admin-pw"}},
		{"scram-sha-256 from file", SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "alice",
			PasswordFile: writeFile(t, "alice", "alice-pw\n")}},
		{"scram-sha-512 lower case", SASLConfig{Mechanism: "scram-sha-512", Username: "bob", Password: "bob-pw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Brokers: c.ListenAddrs(), ClientID: "broker-test", TopicPrefix: prefix, SASL: tt.sasl}
			if err := roundTrip(t, cfg); err != nil {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
}

func TestSASLWrongPasswordFails(t *testing.T) {
	c := saslCluster(t, "")
	ping := func(t *testing.T, s SASLConfig) error {
		t.Helper()
		opts, err := Config{Brokers: c.ListenAddrs(), ClientID: "broker-test", SASL: s}.Opts()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		// Ping does not retry, so a failure surfaces at once instead of as a
		// produce timeout.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return cl.Ping(ctx)
	}
	for _, tt := range []struct{ mech, user, pass string }{
		{"PLAIN", "admin", "admin-pw"},
		{"SCRAM-SHA-256", "alice", "alice-pw"},
	} {
		t.Run(tt.mech, func(t *testing.T) {
			if err := ping(t, SASLConfig{Mechanism: tt.mech, Username: tt.user, Password: tt.pass}); err != nil {
				t.Fatalf("control: Ping() with the right password = %v", err)
			}
			err := ping(t, SASLConfig{Mechanism: tt.mech, Username: tt.user, Password: "wrong-pw"})
			if err == nil {
				t.Fatal("Ping() with a wrong password succeeded")
			}
			// Kafka answers SASL_AUTHENTICATION_FAILED; kfake closes the
			// connection instead.
			if !errors.Is(err, kerr.SaslAuthenticationFailed) && !errors.Is(err, io.EOF) {
				t.Fatalf("Ping() = %v, want an authentication failure", err)
			}
			if strings.Contains(err.Error(), "wrong-pw") {
				t.Errorf("error repeats the password: %v", err)
			}
		})
	}
}

func TestOptsPasswordFileErrors(t *testing.T) {
	base := Config{Brokers: []string{"127.0.0.1:1"}, ClientID: "x"}
	tests := []struct {
		name, file, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), "LOCKSTEP_KAFKA_SASL_PASSWORD_FILE"},
		{"empty", writeFile(t, "empty", "\n"), "LOCKSTEP_KAFKA_SASL_PASSWORD_FILE: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordFile: tt.file}
			_, err := cfg.Opts()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Opts() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestOptsValidates(t *testing.T) {
	_, err := Config{ClientID: "x"}.Opts()
	if err == nil || !strings.Contains(err.Error(), "LOCKSTEP_KAFKA_BROKERS") {
		t.Fatalf("Opts() = %v, want a LOCKSTEP_KAFKA_BROKERS error", err)
	}
}

func TestPasswordKeepsInnerWhitespace(t *testing.T) {
	s := SASLConfig{PasswordFile: writeFile(t, "pw", " pass word \r\n")}
	got, err := s.password()
	if err != nil {
		t.Fatal(err)
	}
	if got != " pass word " {
		t.Errorf("password() = %q", got)
	}
}
