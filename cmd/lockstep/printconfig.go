package main

import (
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

const redacted = "<redacted>"

// setting is one configuration variable with its effective value.
type setting struct {
	Name   string
	Value  string
	Secret bool
}

// settings lists every variable of cfg, in declaration order, by walking
// the same env tags that envconfig reads, so the list cannot drift from the
// struct.
func settings(cfg Config) []setting {
	var out []setting
	walkSettings(reflect.ValueOf(cfg), envPrefix, &out)
	return out
}

func walkSettings(v reflect.Value, prefix string, out *[]setting) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("env")
		if !ok || !f.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		key = strings.TrimSpace(key)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			walkSettings(fv, prefix+tagPrefix(opts), out)
			continue
		}
		name := prefix + key
		*out = append(*out, setting{Name: name, Value: formatValue(fv), Secret: isSecret(name)})
	}
}

// tagPrefix extracts the prefix= option from the options part of a tag.
func tagPrefix(opts string) string {
	for _, o := range strings.Split(opts, ",") {
		if p, ok := strings.CutPrefix(strings.TrimSpace(o), "prefix="); ok {
			return p
		}
	}
	return ""
}

func formatValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatValue(v.Index(i))
		}
		return strings.Join(parts, ",")
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.String:
		return v.String()
	default:
		return fmt.Sprint(v.Interface())
	}
}

// isSecret decides by name, so that a secret added later is redacted
// without anyone remembering to mark it. File paths are not secret: they
// show where a secret comes from.
func isSecret(name string) bool {
	if strings.HasSuffix(name, "_FILE") {
		return false
	}
	for _, word := range []string{"PASSWORD", "SECRET", "TOKEN", "CREDENTIALS"} {
		if strings.Contains(name, word) {
			return true
		}
	}
	return false
}

// printConfig writes the effective configuration as NAME=value lines, ready
// to paste into an env file, with secrets redacted: an empty secret stays
// empty so that one can still see whether it is set.
func printConfig(w io.Writer, cfg Config) error {
	for _, s := range settings(cfg) {
		v := s.Value
		if s.Secret {
			v = redact(v)
		}
		if _, err := fmt.Fprintf(w, "%s=%s\n", s.Name, shellQuote(v)); err != nil {
			return err
		}
	}
	return nil
}

// shellQuote quotes values that a shell would otherwise split or expand.
func shellQuote(v string) string {
	if v == "" || strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:/@+=", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}
