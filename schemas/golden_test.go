package schemas

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const goldenDir = "testdata/golden"

// TestGolden fails when a schema's canonical form, its registered text or the
// encoding of its sample changes: either would break every reader of the topic. An intended
// change is recorded with: go test ./schemas -run TestGolden -update
func TestGolden(t *testing.T) {
	want := map[string]bool{}
	for _, ev := range samples() {
		e := catalogByName[ev.SchemaName()]
		short := shortName(e.name)
		body, err := encodeBody(ev)
		if err != nil {
			t.Fatal(err)
		}
		canonical, registered, sample := short+".canonical.json", short+".registered.json", short+".sample.hex"
		want[canonical], want[registered], want[sample] = true, true, true
		checkGolden(t, canonical, e.codec.CanonicalSchema()+"\n")
		// goavro's canonical form drops logical types and defaults; the text
		// as registered keeps them, and a change to it is a new version in
		// the registry.
		checkGolden(t, registered, e.text+"\n")
		checkGolden(t, sample, formatHex(body))

		// The golden bytes decode back to the sample: the file is a fixture
		// other code (fuzzing, other languages) can trust.
		got, _ := NewEvent(e.name)
		if err := decodeBody(&writer{name: e.name, codec: e.codec}, readGoldenHex(t, sample), e, reflect.ValueOf(got).Elem()); err != nil || !reflect.DeepEqual(got, ev) {
			t.Errorf("%s does not decode to the sample: %v", sample, err)
		}
	}
	files, _ := os.ReadDir(goldenDir)
	for _, f := range files {
		if !want[f.Name()] {
			t.Errorf("%s/%s belongs to no schema; delete it", goldenDir, f.Name())
		}
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s changed (run with -update if that is intended):\n got %s\nwant %s", path, got, want)
	}
}

// encodeBody is the Avro body of ev without the frame, whose schema id
// depends on the registry.
func encodeBody(ev Event) ([]byte, error) {
	e, rv, err := lookup(ev)
	if err != nil {
		return nil, err
	}
	native, err := e.plan.encode(rv)
	if err != nil {
		return nil, err
	}
	return e.codec.BinaryFromNative(nil, native)
}

// formatHex writes 32 bytes a line, so a diff points at the bytes that moved.
func formatHex(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		n := min(len(b), 32)
		sb.WriteString(hex.EncodeToString(b[:n]))
		sb.WriteByte('\n')
		b = b[n:]
	}
	return sb.String()
}

func readGoldenHex(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func shortName(full string) string { return strings.TrimPrefix(full, "lockstep.v1.") }
