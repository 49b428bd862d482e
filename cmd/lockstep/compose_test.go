package main

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The docker-compose file cannot run on the build machine (no Docker
// engine), so its lockstep settings are checked against the binary's: a
// misspelt or renamed variable would silently fall back to a default.
func TestComposeSettingsExist(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command     []string       `yaml:"command"`
			Environment map[string]any `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	known := map[string]bool{}
	for _, s := range settings(Config{}) {
		known[s.Name] = true
	}
	svc, ok := compose.Services["lockstep"]
	if !ok || len(svc.Command) == 0 || svc.Command[0] != "run" {
		t.Fatalf("no lockstep service running `lockstep run`: %+v", svc)
	}
	for name := range svc.Environment {
		if strings.HasPrefix(name, "LOCKSTEP_") && !strings.HasPrefix(name, "LOCKSTEP_SIM_") && !known[name] {
			t.Errorf("docker-compose.yml sets %s, which lockstep does not read", name)
		}
	}
	for _, sim := range []string{"clarus-sim", "prima-sim"} {
		s, ok := compose.Services[sim]
		if !ok || len(s.Command) < 2 || s.Command[0] != "sim" {
			t.Errorf("no %s service running `lockstep sim`", sim)
		}
	}
}
