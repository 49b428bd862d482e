package flows

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// WebhookConfig is the public listener Clarus posts its automations to,
// apart from the localhost-only admin port.
type WebhookConfig struct {
	// Addr is where webhooks are received (LOCKSTEP_WEBHOOK_ADDR).
	Addr string `env:"ADDR, default=:8090"`
	// TLSCertFile and TLSKeyFile, both set, serve HTTPS; Clarus posts to
	// the URL its automation names, so production endpoints want TLS (or a
	// TLS-terminating proxy in front).
	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
}

// Validate checks that TLS is configured whole.
func (c WebhookConfig) Validate() error {
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("LOCKSTEP_WEBHOOK_TLS_CERT_FILE and LOCKSTEP_WEBHOOK_TLS_KEY_FILE must be set together")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("LOCKSTEP_WEBHOOK_ADDR: %q: %v", c.Addr, err)
	}
	return nil
}

// webhookServer serves h on cfg.Addr until ctx ends, then drains.
type webhookServer struct {
	cfg      WebhookConfig
	h        http.Handler
	log      *slog.Logger
	setReady func(bool)
	// bound, if set, is told the address actually listened on (":0" in
	// tests and the demo).
	bound func(addr string)
}

func (s *webhookServer) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("webhooks: listen %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	scheme := "http"
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("webhooks: TLS key pair: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	s.log.Info("receiving webhooks", "url", scheme+"://"+ln.Addr().String())
	if s.bound != nil {
		s.bound(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.setReady(true)
	select {
	case err := <-errc:
		s.setReady(false)
		return fmt.Errorf("webhooks: %w", err)
	case <-ctx.Done():
	}
	s.setReady(false)
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		return fmt.Errorf("webhooks: shutdown: %w", err)
	}
	return nil
}
