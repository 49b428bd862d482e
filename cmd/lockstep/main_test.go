package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/lockstep-dev/lockstep/connectors/broker/brokertest"
	"github.com/lockstep-dev/lockstep/connectors/clarus/clarussim"
	"github.com/lockstep-dev/lockstep/connectors/prima/primasim"
)

func TestExecuteUsage(t *testing.T) {
	env := envconfig.MapLookuper(nil)
	tests := []struct {
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{nil, exitUsage, "", "Usage:"},
		{[]string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{[]string{"help"}, exitOK, "Commands:", ""},
		{[]string{"version"}, exitOK, "lockstep dev " + runtime.Version(), ""},
		{[]string{"version", "extra"}, exitUsage, "", "unexpected arguments"},
		{[]string{"run", "-nope"}, exitUsage, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := execute(t.Context(), tt.args, env, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("execute(%q) = %d\nstdout: %s\nstderr: %s", tt.args, code, stdout.String(), stderr.String())
			}
		})
	}
}

// buildBinary builds lockstep with a version stamped in, as a release would.
func buildBinary(t *testing.T, version string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "lockstep")
	cmd := exec.Command(goBin, "build", "-ldflags", "-X main.version="+version, "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// lockstepEnv is a minimal environment, so that LOCKSTEP_* variables of
// whoever runs the tests do not leak into the binary.
func lockstepEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t, "v9.8.7-test")

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		want := "lockstep v9.8.7-test " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
		if string(out) != want {
			t.Errorf("version = %q, want %q", out, want)
		}
	})

	t.Run("bad config", func(t *testing.T) {
		cmd := exec.Command(bin, "run")
		cmd.Env = lockstepEnv("LOCKSTEP_LOG_LEVEL=loud", "LOCKSTEP_KAFKA_SASL_MECHANISM=FOO")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitUsage {
			t.Fatalf("run = %v, want exit %d", err, exitUsage)
		}
		for _, name := range []string{"LOCKSTEP_LOG_LEVEL", "LOCKSTEP_KAFKA_SASL_MECHANISM"} {
			if !strings.Contains(stderr.String(), name) {
				t.Errorf("stderr does not name %s:\n%s", name, stderr.String())
			}
		}
	})

	t.Run("run until SIGTERM", func(t *testing.T) {
		// The stock flow, as an operator runs it: the real broker, the two
		// simulators as the systems, the ledger off (its own tests cover
		// it), secrets from the environment.
		seeds := brokertest.RealKafka(t)
		const secret = "binary-test-secret"
		const token = "binary-test-webhook-token"
		csim, err := clarussim.New(clarussim.Config{ClientID: "lockstep", ClientSecret: secret, Subdomain: "demo", Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		clarusSrv := httptest.NewServer(csim)
		t.Cleanup(clarusSrv.Close)
		primaSrv := httptest.NewServer(primasim.New(primasim.Options{Seed: 1}))
		t.Cleanup(primaSrv.Close)
		prefix := fmt.Sprintf("bin%d.", time.Now().UnixNano()%1e9)
		cmd := exec.Command(bin, "run")
		cmd.Env = lockstepEnv("LOCKSTEP_ADMIN_ADDR=127.0.0.1:0", "LOCKSTEP_LOG_FORMAT=json",
			"LOCKSTEP_KAFKA_BROKERS="+strings.Join(seeds, ","), "LOCKSTEP_KAFKA_TOPIC_PREFIX="+prefix,
			"LOCKSTEP_STATE_DIR="+t.TempDir(), "LOCKSTEP_INSTANCE_ID=binary-test", "LOCKSTEP_LEDGER_ENABLED=false",
			"LOCKSTEP_WEBHOOK_ADDR=127.0.0.1:0",
			"LOCKSTEP_CLARUS_BASE_URL="+clarusSrv.URL, "LOCKSTEP_CLARUS_CLIENT_SECRET="+secret,
			"LOCKSTEP_CLARUS_WEBHOOK_TOKEN="+token, "LOCKSTEP_PRIMA_BASE_URL="+primaSrv.URL, "LOCKSTEP_CLARUS_ACCOUNT_ID=1",
			"LOCKSTEP_CLICKHOUSE_PASSWORD="+secret)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })

		// The admin address is only known from the log, as port 0 was asked.
		var logs syncBuffer
		lines := bufio.NewScanner(io.TeeReader(stderr, &logs))
		var addr string
		deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
		for addr == "" && lines.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "admin server listening" {
				addr = rec.Addr
			}
		}
		deadline.Stop()
		if addr == "" {
			t.Fatalf("no admin address in the log:\n%s", logs.String())
		}
		go func() { _, _ = io.Copy(io.Discard, io.TeeReader(stderr, &logs)) }()
		// Ready once every component of every flow is: joined, restored,
		// cursors read, webhook listener up.
		waitReadyz(t, "http://"+addr+"/readyz", &logs)

		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
			resp, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
			}
		}

		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run after SIGTERM = %v, want exit 0\n%s", err, logs.String())
		}
		for _, want := range []string{`"msg":"processor started"`, `"msg":"shutting down"`, `"msg":"lockstep stopped"`} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, logs.String())
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("secret in the log:\n%s", logs.String())
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the log copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitReadyz(t *testing.T, url string, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz still %d after 90s: %s\n%s", resp.StatusCode, body, logs.String())
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("/readyz: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling a child process, not timing a test
	}
}
