package state

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Pebble reports background failures (a flush that hit a full disk) only
// through its logger; they must reach ours.
func TestPebbleErrorsAreLogged(t *testing.T) {
	var buf bytes.Buffer
	l := pebbleLogger{slog.New(slog.NewTextHandler(&buf, nil))}
	l.Infof("noise %d", 1)
	if buf.Len() != 0 {
		t.Errorf("Infof logged %q", buf.String())
	}
	l.Errorf("background error: %s", "no space left on device")
	if got := buf.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "no space left on device") {
		t.Errorf("Errorf logged %q", got)
	}
}
