package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testPKI is a throw-away CA and a server certificate for 127.0.0.1 signed
// by it.
type testPKI struct {
	caPEM  []byte
	ca     *x509.Certificate
	server tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lockstep test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kafka"},
		DNSNames:     []string{"kafka.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		ca:     ca,
		server: tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
	}
}

func TestTLSClientConfigUsesCAFile(t *testing.T) {
	pki := newTestPKI(t)
	caFile := writeFile(t, "ca.pem", string(pki.caPEM))

	got, err := TLSConfig{Enabled: true, CAFile: caFile, ServerName: "kafka.test"}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := x509.NewCertPool()
	want.AddCert(pki.ca)
	if got.RootCAs == nil || !got.RootCAs.Equal(want) {
		t.Fatal("RootCAs is not the pool from the CA file")
	}
	if got.ServerName != "kafka.test" || got.MinVersion < tls.VersionTLS12 || got.InsecureSkipVerify {
		t.Errorf("unexpected tls.Config: ServerName=%q MinVersion=%x Insecure=%v", got.ServerName, got.MinVersion, got.InsecureSkipVerify)
	}
}

func TestTLSClientConfigDisabled(t *testing.T) {
	got, err := TLSConfig{}.ClientConfig()
	if got != nil || err != nil {
		t.Fatalf("ClientConfig() = %v, %v; want nil, nil", got, err)
	}
}

func TestTLSClientConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  TLSConfig
		want string
	}{
		{"missing CA", TLSConfig{Enabled: true, CAFile: filepath.Join(t.TempDir(), "nope.pem")}, "LOCKSTEP_KAFKA_TLS_CA_FILE"},
		{"CA not PEM", TLSConfig{Enabled: true, CAFile: writeFile(t, "ca.pem", "not a cert")}, "holds no PEM certificate"},
		{"bad key pair", TLSConfig{Enabled: true, CertFile: writeFile(t, "c", "x"), KeyFile: writeFile(t, "k", "y")}, "LOCKSTEP_KAFKA_TLS_CERT_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.ClientConfig()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ClientConfig() = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// TestTLSRoundTrip connects to a TLS-only kfake cluster with SASL on top, as
// a managed Kafka would be set up.
func TestTLSRoundTrip(t *testing.T) {
	pki := newTestPKI(t)
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(),
		kfake.Superuser(MechanismScramSHA256, "admin", "admin-pw"),
		kfake.SeedTopics(1, testTopic),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	cfg := Config{
		Brokers:  c.ListenAddrs(),
		ClientID: "broker-test",
		TLS:      TLSConfig{Enabled: true, CAFile: writeFile(t, "ca.pem", string(pki.caPEM))},
		SASL:     SASLConfig{Mechanism: MechanismScramSHA256, Username: "admin", Password: "admin-pw"},
	}
	if err := roundTrip(t, cfg); err != nil {
		t.Fatalf("round trip over TLS: %v", err)
	}

	// Control: without the CA file the system roots apply and the broker's
	// certificate must be refused.
	cfg.TLS.CAFile = ""
	opts, err := cfg.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var unknownAuthority x509.UnknownAuthorityError
	if err := cl.Ping(t.Context()); !errors.As(err, &unknownAuthority) {
		t.Fatalf("Ping() without the CA = %v, want an unknown authority error", err)
	}
}
