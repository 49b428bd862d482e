package main

import (
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
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
		lf := listFormat{delimiter: tagOption(opts, "delimiter", ","), separator: tagOption(opts, "separator", ":")}
		*out = append(*out, setting{Name: name, Value: lf.value(fv), Secret: isSecret(name)})
	}
}

// tagPrefix extracts the prefix= option from the options part of a tag.
func tagPrefix(opts string) string { return tagOption(opts, "prefix", "") }

// tagOption extracts option name= from the options part of a tag, or def.
// default= comes last and takes the rest of the tag, commas included.
func tagOption(opts, name, def string) string {
	for _, o := range strings.Split(opts, ",") {
		o = strings.TrimSpace(o)
		if strings.HasPrefix(o, "default=") {
			break
		}
		if v, ok := strings.CutPrefix(o, name+"="); ok {
			return v
		}
	}
	return def
}

// listFormat is how envconfig reads a slice or a map from one variable:
// items between delimiters, a map's keys and values between separators.
type listFormat struct{ delimiter, separator string }

// value formats v as envconfig reads it back.
func (f listFormat) value(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Map:
		// Sorted, so the output is stable.
		pairs := make([]string, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			pairs = append(pairs, formatValue(it.Key())+f.separator+formatValue(it.Value()))
		}
		slices.Sort(pairs)
		return strings.Join(pairs, f.delimiter)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return string(v.Bytes())
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatValue(v.Index(i))
		}
		return strings.Join(parts, f.delimiter)
	default:
		return formatValue(v)
	}
}

func formatValue(v reflect.Value) string {
	switch v.Kind() {
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
	// A header name (LOCKSTEP_CLARUS_WEBHOOK_TOKEN_HEADER) says where a
	// secret travels, not what it is.
	if strings.HasSuffix(name, "_FILE") || strings.HasSuffix(name, "_HEADER") {
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
// empty so that one can still see whether it is set. Credentials in URLs
// (https://user:password@host) are redacted in every value.
func printConfig(w io.Writer, cfg Config) error {
	for _, s := range settings(cfg) {
		v := redactURLs(s.Value)
		if s.Secret {
			v = redact(s.Value)
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

// urlCredentials matches the scheme and the userinfo of URLs anywhere in a
// text: in a setting, a validation error, a log line. The userinfo runs to
// the last @ before the host, as net/url reads it, so a password holding an
// @ is redacted whole.
var urlCredentials = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)([^\s/?#]*)@`)

// redactedPassword is what stands for a URL's password, as in
// net/url.URL.Redacted.
const redactedPassword = "xxxxx"

// redactURLs replaces the credentials of every URL in s:
// https://key:secret@registry becomes https://key:xxxxx@registry, and a
// user alone (https://token@host, often a token) becomes xxxxx.
func redactURLs(s string) string {
	if !strings.Contains(s, "@") || !strings.Contains(s, "://") {
		return s // the common case, cheap: this runs on every log attribute
	}
	return urlCredentials.ReplaceAllStringFunc(s, func(m string) string {
		sub := urlCredentials.FindStringSubmatch(m)
		scheme, userinfo := sub[1], sub[2]
		if user, _, ok := strings.Cut(userinfo, ":"); ok {
			return scheme + user + ":" + redactedPassword + "@"
		}
		return scheme + redactedPassword + "@"
	})
}

// redactedError is an error whose text has its URL credentials redacted;
// errors.Is and errors.As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr returns err with the credentials of URLs in its text redacted,
// or err itself when its text holds none.
func redactErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if r := redactURLs(msg); r != msg {
		return &redactedError{msg: r, err: err}
	}
	return err
}
