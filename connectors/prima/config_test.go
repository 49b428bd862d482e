package prima_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockstep-dev/lockstep/connectors/prima"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
)

func TestConfigValidate(t *testing.T) {
	if err := prima.DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		edit func(*prima.Config)
		want string
	}{
		{func(c *prima.Config) { c.BaseURL = "ftp://x" }, "LOCKSTEP_PRIMA_BASE_URL"},
		{func(c *prima.Config) { c.Password, c.PasswordFile = "a", "b" }, "LOCKSTEP_PRIMA_PASSWORD_FILE"},
		{func(c *prima.Config) { c.Password = "a" }, "LOCKSTEP_PRIMA_USERNAME"},
		{func(c *prima.Config) { c.BaseURL = "https://p"; c.TLS.CertFile = "c" }, "LOCKSTEP_PRIMA_TLS_CERT_FILE"},
		{func(c *prima.Config) { c.TLS.CAFile = "ca" }, "BASE_URL is http"},
		{func(c *prima.Config) { c.RatePerSecond = 0 }, "LOCKSTEP_PRIMA_RATE_PER_SECOND"},
		{func(c *prima.Config) { c.DespatchConcurrency = -1 }, "LOCKSTEP_PRIMA_DESPATCH_CONCURRENCY"},
		{func(c *prima.Config) { c.BackoffMax = time.Millisecond }, "LOCKSTEP_PRIMA_BACKOFF_MAX"},
		{func(c *prima.Config) { c.ParitySettle = c.PollInterval }, "LOCKSTEP_PRIMA_PARITY_SETTLE"},
	} {
		cfg := prima.DefaultConfig()
		tc.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}

// The password reaches the wire and nowhere else: not %v, not the logs,
// not the error of a refused call.
func TestBasicAuthPasswordNeverShown(t *testing.T) {
	const secret = "hunter2-very-secret"
	_, srv := newSim(t, newClock(), primasim.Options{BasicAuthUser: "lockstep", BasicAuthPassword: secret})
	cfg := testConfig(srv.URL)
	_, _, err := newClient(t, cfg).Items(context.Background(), prima.Cursor{}, 1)
	var ae *prima.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Retryable {
		t.Fatalf("without credentials: %#v", err)
	}

	cfg.Username = "lockstep"
	cfg.PasswordFile = filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(cfg.PasswordFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := newClient(t, cfg).Items(context.Background(), prima.Cursor{}, 1); err != nil {
		t.Fatalf("from a password file: %v", err)
	}
	cfg.PasswordFile, cfg.Password = "", "wrong-"+secret
	_, _, err = newClient(t, cfg).Items(context.Background(), prima.Cursor{}, 1)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "prima", cfg, "err", err)
	for _, shown := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%#v", err), logs.String()} {
		if strings.Contains(shown, secret) {
			t.Fatalf("password shown: %s", shown)
		}
	}
}

// An installation that adds TLS with client certificates: the client
// trusts the configured CA and presents its certificate; without it the
// server refuses the handshake.
func TestClientTLSClientCertificate(t *testing.T) {
	dir := t.TempDir()
	clientCert, certFile, keyFile := selfSigned(t, dir)
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	srv := httptest.NewUnstartedServer(primasim.New(primasim.Options{}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(srv.URL)
	cfg.TLS = prima.TLSConfig{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := newClient(t, cfg).Items(context.Background(), prima.Cursor{}, 1); err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	cfg.TLS.CertFile, cfg.TLS.KeyFile = "", ""
	if _, _, err := newClient(t, cfg).Items(context.Background(), prima.Cursor{}, 1); err == nil {
		t.Fatal("the server accepted a client without a certificate")
	}
}

// selfSigned writes a throw-away client certificate and key.
func selfSigned(t *testing.T, dir string) (*x509.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "lockstep"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}
