package secret_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockstep-dev/lockstep/connectors/secret"
)

const (
	name = "LOCKSTEP_TEST_PASSWORD"
	pw   = "s3cret-value"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, value, file string
		want              string // the secret; "" when an error is wanted
		wantErr           []string
	}{
		{name: "value only", value: pw, want: pw},
		{name: "neither", want: ""},
		{name: "file with newline", file: file("lf", pw+"\n"), want: pw},
		{name: "file with CRLF", file: file("crlf", pw+"\r\n"), want: pw},
		{name: "file without newline", file: file("bare", pw), want: pw},
		{name: "inner whitespace kept", file: file("ws", " "+pw+" \n"), want: " " + pw + " "},
		{name: "missing file", file: filepath.Join(dir, "nope"),
			wantErr: []string{name + "_FILE: ", "nope"}},
		{name: "empty file", file: file("empty", "\r\n"),
			wantErr: []string{name + "_FILE: ", "is empty"}},
		{name: "both set", value: pw, file: file("both", pw+"\n"),
			wantErr: []string{name + ": ", name + "_FILE", "both set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secret.Read(name, tc.value, tc.file)
			if tc.wantErr == nil {
				if err != nil || got != tc.want {
					t.Fatalf("Read = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Read = %q, want an error", got)
			}
			if got != "" {
				t.Errorf("Read returned %q alongside its error", got)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error %q carries the secret", err)
			}
		})
	}
}
