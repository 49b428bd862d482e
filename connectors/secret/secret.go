// Package secret reads the connectors' secrets, which come only from the environment or from files and are never logged.
package secret

import (
	"fmt"
	"os"
	"strings"
)

// Read returns the secret configured as the environment variable name
// (value) or as name+"_FILE" (file, a path to a mounted secret), never both.
// A file's contents are returned without the trailing newline editors and
// echo leave behind; a file that cannot be read or holds nothing is an
// error. Errors name the variables and the file, never the secret itself.
func Read(name, value, file string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", fmt.Errorf("%s: and %s_FILE are both set; use one", name, name)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_FILE: %w", name, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s_FILE: %s is empty", name, file)
	}
	return s, nil
}
