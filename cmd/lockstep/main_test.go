package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
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
		const secret = "binary-test-secret"
		cmd := exec.Command(bin, "run")
		cmd.Env = lockstepEnv("LOCKSTEP_ADMIN_ADDR=127.0.0.1:0", "LOCKSTEP_LOG_FORMAT=json",
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
		var logs bytes.Buffer
		lines := bufio.NewScanner(io.TeeReader(stderr, &logs))
		var addr string
		deadline := time.AfterFunc(10*time.Second, func() { _ = cmd.Process.Kill() })
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
		_, _ = io.Copy(&logs, stderr) // the rest of the log, before Wait closes the pipe
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run after SIGTERM = %v, want exit 0\n%s", err, logs.String())
		}
		for _, want := range []string{"no processors are enabled yet", `"msg":"shutting down"`, `"msg":"lockstep stopped"`} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("log lacks %q:\n%s", want, logs.String())
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("secret in the log:\n%s", logs.String())
		}
	})
}
