// Package contracttest runs clients that no one here wrote (Python's zeep,
// confluent-kafka) against lockstep's endpoints, from Go tests, with the
// virtualenv that deploy/local/python.sh installs.
package contracttest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Python returns the contract virtualenv's interpreter: LOCKSTEP_PYTHON,
// else .local/pyenv/bin/python in the repository. When it is missing, the
// test skips locally and fails under CI=true, where a missing tool is a
// failure.
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("LOCKSTEP_PYTHON")
	if py == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		py = filepath.Join(root, ".local", "pyenv", "bin", "python")
	}
	if _, err := os.Stat(py); err != nil {
		msg := fmt.Sprintf("no contract Python at %s (install it with deploy/local/python.sh install): %v", py, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// Run runs a Python script (its source as text) with args and returns its
// combined output; a non-zero exit fails the test with that output.
func Run(t testing.TB, script string, args ...string) string {
	t.Helper()
	py := Python(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append([]string{"-c", script}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python contract script failed: %v\n%s", err, out)
	}
	return string(out)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("contracttest: no go.mod above the working directory")
		}
		dir = parent
	}
}
