package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/connectors/clarus"
	"github.com/lockstep-dev/lockstep/connectors/prima"
)

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"http://127.0.0.1:8081", "http://127.0.0.1:8081"},
		{"https://key:secret@registry", "https://key:xxxxx@registry"},
		{"https://key:secret@registry:8081/path?q=1#f", "https://key:xxxxx@registry:8081/path?q=1#f"},
		{"https://token@registry", "https://xxxxx@registry"},
		{"https://key:@registry", "https://key:xxxxx@registry"},
		{"https://key:p@ss@registry/x", "https://key:xxxxx@registry/x"},     // the last @ ends the userinfo
		{"https://key:p%40ss@registry", "https://key:xxxxx@registry"},       // percent-encoded
		{"HTTPS://Key:Secret@Registry", "HTTPS://Key:xxxxx@Registry"},       // any case
		{"sr+https://key:secret@registry", "sr+https://key:xxxxx@registry"}, // any scheme
		{"https://registry/path@v1", "https://registry/path@v1"},            // an @ in the path is no userinfo
		{"https://registry/?mail=a@b", "https://registry/?mail=a@b"},
		{"ops@example.com", "ops@example.com"},
		{"http://a:one@h1,http://b:two@h2", "http://a:xxxxx@h1,http://b:xxxxx@h2"},
		{`LOCKSTEP_SCHEMA_REGISTRY_URL: "ftp://key:secret@registry" is not an http(s) URL`,
			`LOCKSTEP_SCHEMA_REGISTRY_URL: "ftp://key:xxxxx@registry" is not an http(s) URL`},
		{`parse "https://key:secret@reg istry": invalid character " " in host name`,
			`parse "https://key:xxxxx@reg istry": invalid character " " in host name`},
		{`{"url":"https://key:secret@registry","other":"x"}`, `{"url":"https://key:xxxxx@registry","other":"x"}`},
	}
	for _, tt := range tests {
		if got := redactURLs(tt.in); got != tt.want {
			t.Errorf("redactURLs(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

// TestURLCredentialsRedacted puts credentials in every URL setting and
// looks for them in `lockstep config`, in the validation errors and in the
// logs, text and JSON.
func TestURLCredentialsRedacted(t *testing.T) {
	const secret = "url-s3cret"
	tests := []struct {
		name     string
		env      map[string]string
		wantLine string // in the config output
		wantErr  string // "" for a valid configuration
	}{
		{"registry", map[string]string{"LOCKSTEP_SCHEMA_REGISTRY_URL": "https://key:" + secret + "@registry.example:8081"},
			"LOCKSTEP_SCHEMA_REGISTRY_URL=https://key:xxxxx@registry.example:8081\n", ""},
		{"registry token as user", map[string]string{"LOCKSTEP_SCHEMA_REGISTRY_URL": "https://" + secret + "@registry.example"},
			"LOCKSTEP_SCHEMA_REGISTRY_URL=https://xxxxx@registry.example\n", ""},
		{"registry not http", map[string]string{"LOCKSTEP_SCHEMA_REGISTRY_URL": "ftp://key:" + secret + "@registry.example"},
			"LOCKSTEP_SCHEMA_REGISTRY_URL=ftp://key:xxxxx@registry.example\n",
			`LOCKSTEP_SCHEMA_REGISTRY_URL: "ftp://key:xxxxx@registry.example" is not an http(s) URL`},
		{"registry unparseable", map[string]string{"LOCKSTEP_SCHEMA_REGISTRY_URL": "https://key:" + secret + "@reg istry"},
			"LOCKSTEP_SCHEMA_REGISTRY_URL='https://key:xxxxx@reg istry'\n", "LOCKSTEP_SCHEMA_REGISTRY_URL"},
		{"clarus", map[string]string{"LOCKSTEP_CLARUS_BASE_URL": "https://lockstep:" + secret + "@clarus.example"},
			"LOCKSTEP_CLARUS_BASE_URL=https://lockstep:xxxxx@clarus.example\n", ""},
		{"prima https", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "https://svc:" + secret + "@prima.example/prima"},
			"LOCKSTEP_PRIMA_BASE_URL=https://svc:xxxxx@prima.example/prima\n", ""},
		{"prima plain http", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "http://svc:" + secret + "@prima.example"},
			"LOCKSTEP_PRIMA_BASE_URL=http://svc:xxxxx@prima.example\n", "LOCKSTEP_PRIMA_ALLOW_PLAIN_HTTP_AUTH=true"},
		{"prima plain http allowed", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "http://svc:" + secret + "@prima.internal",
			"LOCKSTEP_PRIMA_ALLOW_PLAIN_HTTP_AUTH": "true"},
			"LOCKSTEP_PRIMA_BASE_URL=http://svc:xxxxx@prima.internal\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			var stdout, stderr bytes.Buffer
			code := execute(t.Context(), []string{"config"}, envconfig.MapLookuper(env), &stdout, &stderr)
			if want := map[bool]int{true: exitOK, false: exitUsage}[tt.wantErr == ""]; code != want {
				t.Errorf("config exited %d, want %d: %s", code, want, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantLine) {
				t.Errorf("config output lacks %q:\n%s", tt.wantLine, stdout.String())
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("config errors lack %q:\n%s", tt.wantErr, stderr.String())
			}
			printed := stdout.String() + stderr.String()

			cfg, err := Load(t.Context(), envconfig.MapLookuper(env))
			if err != nil {
				printed += err.Error()
				if tt.wantErr == "" {
					t.Fatalf("Load: %v", err)
				}
			}
			if err == nil {
				// The start-up line of `lockstep run`, and the whole
				// configuration logged, through the process logger.
				for _, format := range []string{"text", "json"} {
					var buf bytes.Buffer
					cfg.LogFormat = format
					log, err := newLogger(&buf, cfg)
					if err != nil {
						t.Fatal(err)
					}
					log.Info("lockstep starting", "config", cfg) // as run.go logs it
					log.Info("config", "config", cfg, "clarus", cfg.Clarus, "prima", cfg.Prima)
					printed += buf.String()
					for _, url := range []string{cfg.SchemaRegistryURL, cfg.Clarus.BaseURL, cfg.Prima.BaseURL} {
						if r := redactURLs(url); r != url && !strings.Contains(buf.String(), r) {
							t.Errorf("%s log lacks %s:\n%s", format, r, buf.String())
						}
					}
				}
			}
			if strings.Contains(printed, secret) {
				t.Errorf("secret printed:\n%s", printed)
			}
		})
	}
}

func TestPrimaPlainHTTPAuth(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{"defaults: http, no auth", nil, false},
		{"http with a user", map[string]string{"LOCKSTEP_PRIMA_USERNAME": "svc", "LOCKSTEP_PRIMA_PASSWORD": "pw"}, true},
		{"http with a user and a password file", map[string]string{"LOCKSTEP_PRIMA_USERNAME": "svc", "LOCKSTEP_PRIMA_PASSWORD_FILE": "/run/secrets/pw"}, true},
		{"http with a user only", map[string]string{"LOCKSTEP_PRIMA_USERNAME": "svc"}, true},
		{"http with credentials in the URL", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "http://svc:pw@prima.example"}, true},
		{"HTTP in capitals", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "HTTP://prima.example", "LOCKSTEP_PRIMA_USERNAME": "svc"}, true},
		{"http on loopback", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "http://127.0.0.1:8082", "LOCKSTEP_PRIMA_USERNAME": "svc"}, true},
		{"http allowed", map[string]string{"LOCKSTEP_PRIMA_USERNAME": "svc", "LOCKSTEP_PRIMA_PASSWORD": "pw",
			"LOCKSTEP_PRIMA_ALLOW_PLAIN_HTTP_AUTH": "true"}, false},
		{"http in the URL allowed", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "http://svc:pw@prima.example",
			"LOCKSTEP_PRIMA_ALLOW_PLAIN_HTTP_AUTH": "true"}, false},
		{"https with a user", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "https://prima.example",
			"LOCKSTEP_PRIMA_USERNAME": "svc", "LOCKSTEP_PRIMA_PASSWORD": "pw"}, false},
		{"https with credentials in the URL", map[string]string{"LOCKSTEP_PRIMA_BASE_URL": "https://svc:pw@prima.example"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse(t.Context(), envconfig.MapLookuper(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if got := err != nil && strings.Contains(err.Error(), "LOCKSTEP_PRIMA_ALLOW_PLAIN_HTTP_AUTH"); got != tt.wantErr {
				t.Errorf("Validate() = %v, want the plain-http refusal: %v", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), ":pw@") {
				t.Errorf("password in the error: %v", err)
			}
		})
	}
}

// TestConnectorSettingsInConfig: the Clarus and Prima settings are part of
// `lockstep config`, their secrets redacted and nothing else.
func TestConnectorSettingsInConfig(t *testing.T) {
	byName := map[string]setting{}
	for _, s := range settings(Config{}) {
		byName[s.Name] = s
	}
	tests := []struct {
		name   string
		secret bool
	}{
		{"LOCKSTEP_CLARUS_BASE_URL", false},
		{"LOCKSTEP_CLARUS_CLIENT_ID", false},
		{"LOCKSTEP_CLARUS_CLIENT_SECRET", true},
		{"LOCKSTEP_CLARUS_CLIENT_SECRET_FILE", false},
		{"LOCKSTEP_CLARUS_WEBHOOK_TOKEN", true},
		{"LOCKSTEP_CLARUS_WEBHOOK_TOKEN_FILE", false},
		{"LOCKSTEP_CLARUS_WEBHOOK_TOKEN_HEADER", false},
		{"LOCKSTEP_CLARUS_AUTOMATION_IDS", false},
		{"LOCKSTEP_PRIMA_BASE_URL", false},
		{"LOCKSTEP_PRIMA_COMPANY_ID", false},
		{"LOCKSTEP_PRIMA_USERNAME", false},
		{"LOCKSTEP_PRIMA_PASSWORD", true},
		{"LOCKSTEP_PRIMA_PASSWORD_FILE", false},
		{"LOCKSTEP_PRIMA_TLS_CA_FILE", false},
		{"LOCKSTEP_PRIMA_TLS_KEY_FILE", false},
		{"LOCKSTEP_PRIMA_ALLOW_PLAIN_HTTP_AUTH", false},
	}
	for _, tt := range tests {
		s, ok := byName[tt.name]
		if !ok {
			t.Errorf("%s is not listed by lockstep config", tt.name)
		} else if s.Secret != tt.secret {
			t.Errorf("%s: secret %v, want %v", tt.name, s.Secret, tt.secret)
		}
	}

	const clarusSecret, clarusToken, primaPassword = "clarus-s3cret", "clarus-t0ken-0123456789", "prima-pa55word"
	env := map[string]string{
		"LOCKSTEP_CLARUS_CLIENT_SECRET":        clarusSecret,
		"LOCKSTEP_CLARUS_WEBHOOK_TOKEN":        clarusToken,
		"LOCKSTEP_CLARUS_WEBHOOK_TOKEN_HEADER": "X-Lockstep-Token",
		"LOCKSTEP_PRIMA_BASE_URL":              "https://prima.example",
		"LOCKSTEP_PRIMA_USERNAME":              "svc",
		"LOCKSTEP_PRIMA_PASSWORD":              primaPassword,
	}
	var stdout, stderr bytes.Buffer
	if code := execute(t.Context(), []string{"config"}, envconfig.MapLookuper(env), &stdout, &stderr); code != exitOK {
		t.Fatalf("config exited %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"LOCKSTEP_CLARUS_CLIENT_SECRET='<redacted>'\n", "LOCKSTEP_CLARUS_WEBHOOK_TOKEN='<redacted>'\n",
		"LOCKSTEP_CLARUS_WEBHOOK_TOKEN_HEADER=X-Lockstep-Token\n", "LOCKSTEP_CLARUS_CLIENT_SECRET_FILE=\n",
		"LOCKSTEP_PRIMA_BASE_URL=https://prima.example\n", "LOCKSTEP_PRIMA_USERNAME=svc\n",
		"LOCKSTEP_PRIMA_PASSWORD='<redacted>'\n", "LOCKSTEP_PRIMA_ALLOW_PLAIN_HTTP_AUTH=false\n",
		"LOCKSTEP_CLARUS_AUTOMATION_IDS=101:goods_out.completed,102:goods_in_receipt.completed,",
		"LOCKSTEP_PRIMA_REQUEST_TIMEOUT=30s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config output lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{clarusSecret, clarusToken, primaPassword} {
		if strings.Contains(out+stderr.String(), secret) {
			t.Errorf("secret %q printed:\n%s", secret, out)
		}
	}
}

// TestConfigOutputReadsBack: what `lockstep config` prints, secrets aside,
// reads back as the same configuration, maps and lists included, so the
// output can seed an env file.
func TestConfigOutputReadsBack(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := map[string]string{
		"LOCKSTEP_KAFKA_BROKERS": "kafka-0:9092,kafka-1:9092",
		"LOCKSTEP_FLOWS":         "stock",
		"LOCKSTEP_WEBHOOK_ADDR":  "127.0.0.1:8090",
	}
	if code := execute(t.Context(), []string{"config"}, envconfig.MapLookuper(env), &stdout, &stderr); code != exitOK {
		t.Fatalf("config exited %d: %s", code, stderr.String())
	}
	back := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("not NAME=value: %q", sc.Text())
		}
		back[name] = shellUnquote(t, value)
	}
	want, err := parse(t.Context(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	got, err := parse(t.Context(), envconfig.MapLookuper(back))
	if err != nil {
		t.Fatalf("config output does not read back: %v", err)
	}
	if !slices.Equal(settings(got), settings(want)) {
		t.Errorf("read back:\n got %v\nwant %v", settings(got), settings(want))
	}
	if fmt.Sprint(got.Clarus.AutomationIDs) != fmt.Sprint(want.Clarus.AutomationIDs) || len(want.Clarus.AutomationIDs) == 0 {
		t.Errorf("automation ids read back as %v, want %v", got.Clarus.AutomationIDs, want.Clarus.AutomationIDs)
	}
}

// shellUnquote undoes shellQuote.
func shellUnquote(t *testing.T, v string) string {
	t.Helper()
	if !strings.HasPrefix(v, "'") {
		return v
	}
	if !strings.HasSuffix(v, "'") || len(v) < 2 {
		t.Fatalf("bad quoting: %s", v)
	}
	return strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
}

// TestLoggerRedactsURLs: whatever logs a URL with credentials through the
// process logger, as a message, an attribute, a group member, an error or
// a Stringer, the logs show it redacted.
func TestLoggerRedactsURLs(t *testing.T) {
	const raw = "https://key:l0g-s3cret@registry.example"
	_, parseErr := url.Parse("https://key:l0g-s3cret@reg istry")
	tests := []struct {
		name string
		log  func(l *slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Info("connecting to " + raw) }},
		{"string", func(l *slog.Logger) { l.Info("m", "url", raw) }},
		{"group", func(l *slog.Logger) { l.Info("m", slog.Group("registry", "url", raw)) }},
		{"with", func(l *slog.Logger) { l.With("url", raw).Info("m") }},
		{"error", func(l *slog.Logger) { l.Error("m", "err", fmt.Errorf("fetch %s: %w", raw, errors.New("refused"))) }},
		{"url error", func(l *slog.Logger) { l.Error("m", "err", parseErr) }},
		{"stringer", func(l *slog.Logger) { u, _ := url.Parse(raw); l.Info("m", "url", u) }},
		{"clarus config", func(l *slog.Logger) { l.Info("m", "clarus", clarus.Config{BaseURL: raw}) }},
		{"prima config", func(l *slog.Logger) { l.Info("m", "prima", prima.Config{BaseURL: raw}) }},
	}
	for _, tt := range tests {
		for _, format := range []string{"text", "json"} {
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				l, err := newLogger(&buf, Config{LogLevel: "info", LogFormat: format})
				if err != nil {
					t.Fatal(err)
				}
				tt.log(l)
				if strings.Contains(buf.String(), "l0g-s3cret") || !strings.Contains(buf.String(), "key:xxxxx@") {
					t.Errorf("log line:\n%s", buf.String())
				}
			})
		}
	}
}
