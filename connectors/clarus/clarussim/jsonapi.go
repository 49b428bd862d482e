package clarussim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lockstep-dev/lockstep/connectors/simkit"
)

// The REST side of the simulator speaks the JSON:API envelope the Clarus
// documentation shows: {"data": {"type", "attributes", "relationships"}}
// in, {"data": {"id", "type", "attributes"}} out. Refusals carry the
// documented {"error": "..."} body of the processing endpoints plus a
// JSON:API "errors" list naming each field (that shape is assumed).

// maxRESTBody bounds a REST request body; a goods-out of a few thousand
// lines fits.
const maxRESTBody = 1 << 20

// resource is a JSON:API resource object as a client sends it.
type resource struct {
	Type          string                     `json:"type"`
	ID            json.RawMessage            `json:"id"`
	Attributes    map[string]json.RawMessage `json:"attributes"`
	Relationships map[string]struct {
		Data *resource `json:"data"`
	} `json:"relationships"`
}

// decodeResource reads a {"data": resource} body, answering 400 (and
// returning false) when it is not one.
func decodeResource(w http.ResponseWriter, r *http.Request) (*resource, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRESTBody))
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		simkit.WriteError(w, http.StatusRequestEntityTooLarge, "Request body too large")
		return nil, false
	}
	var env struct {
		Data *resource `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err == nil {
		err = dec.Decode(&env)
	}
	if err == nil && env.Data == nil {
		err = errors.New(`no "data" object`)
	}
	if err != nil {
		simkit.WriteError(w, http.StatusBadRequest, "Invalid JSON:API body: "+err.Error())
		return nil, false
	}
	if env.Data.Attributes == nil {
		env.Data.Attributes = map[string]json.RawMessage{}
	}
	return env.Data, true
}

// fieldError is one refused field, named by its JSON:API pointer's last
// part (lines as lines_changes[i].attributes.product_id).
type fieldError struct{ Field, Detail string }

// validation collects field errors, as a Rails model's errors do.
type validation []fieldError

func (v *validation) add(field, format string, args ...any) {
	*v = append(*v, fieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
}

// write answers 422 with every field error.
func (v validation) write(w http.ResponseWriter) {
	var msgs []string
	errs := make([]map[string]any, 0, len(v))
	for _, e := range v {
		msgs = append(msgs, e.Field+" "+e.Detail)
		errs = append(errs, map[string]any{
			"status": "422", "title": "Unprocessable Entity", "detail": e.Field + " " + e.Detail,
			"source": map[string]string{"pointer": pointer(e.Field)},
		})
	}
	simkit.WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": strings.Join(msgs, "; "), "errors": errs})
}

// pointer is the JSON pointer of a field as validation names it:
// lines_changes[0].attributes.product_id is an attribute's, address.name
// the related address's.
func pointer(field string) string {
	p := strings.NewReplacer("[", "/", "].", "/", ".", "/").Replace(field)
	if rest, ok := strings.CutPrefix(p, "address/"); ok {
		return "/data/relationships/address/data/attributes/" + rest
	}
	return "/data/attributes/" + p
}

// str reads an optional string attribute.
func (v *validation) str(attrs map[string]json.RawMessage, field string) string {
	raw, ok := attrs[field]
	if !ok || string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		v.add(field, "must be a string")
	}
	return s
}

// id reads an id attribute: JSON:API ids are strings, Rails takes numbers
// too. 0 when absent or invalid (invalid adds an error).
func (v *validation) id(attrs map[string]json.RawMessage, field string) int64 {
	raw, ok := attrs[field]
	if !ok || string(raw) == "null" {
		return 0
	}
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		v.add(field, "is not a valid id")
		return 0
	}
	return n
}

// quantity reads a whole-number attribute (3 or 3.0, or "3" as Rails
// casts it); set says whether it was given.
func (v *validation) quantity(attrs map[string]json.RawMessage, field string) (n int64, set bool) {
	raw, ok := attrs[field]
	if !ok || string(raw) == "null" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.Trim(string(raw), `"`), 64)
	if err != nil || f != float64(int64(f)) {
		v.add(field, "must be a whole number")
		return 0, true
	}
	return int64(f), true
}

// positive reads a required whole-number attribute above 0, named in
// errors as prefix+field.
func (v *validation) positive(attrs map[string]json.RawMessage, prefix, field string) int64 {
	q, set := v.quantity(attrs, field)
	switch {
	case !set:
		v.add(prefix+field, "can't be blank")
	case q <= 0:
		v.add(prefix+field, "must be greater than 0")
	}
	return q
}

// known refuses attributes outside allowed: a misspelt field must not be
// dropped in silence.
func (v *validation) known(attrs map[string]json.RawMessage, prefix string, allowed map[string]bool) {
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if !allowed[k] {
			v.add(prefix+k, "is not a known attribute")
		}
	}
}

// lineChange is one entry of lines_changes, documented as {type: ADD |
// UPDATE | DESTROY, id (UPDATE and DESTROY), attributes}.
type lineChange struct {
	Field      string // lines_changes[i], as errors name it
	Type       string
	ID         int64 // the line's; 0 when not given or not an id
	Attributes map[string]json.RawMessage
}

// lineChanges reads lines_changes, refusing entries of an unknown type.
// ok is false when it is not a list of changes at all.
func (v *validation) lineChanges(raw json.RawMessage) (out []lineChange, ok bool) {
	var changes []struct {
		Type       string                     `json:"type"`
		ID         json.RawMessage            `json:"id"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &changes); err != nil {
			v.add("lines_changes", "must be a list of {type, id, attributes}")
			return nil, false
		}
	}
	for i, c := range changes {
		lc := lineChange{Field: "lines_changes[" + strconv.Itoa(i) + "]", Type: c.Type, Attributes: c.Attributes}
		if lc.Attributes == nil {
			lc.Attributes = map[string]json.RawMessage{}
		}
		if n, err := strconv.ParseInt(strings.Trim(string(c.ID), `"`), 10, 64); err == nil && n > 0 {
			lc.ID = n
		}
		switch c.Type {
		case "ADD", "UPDATE", "DESTROY":
			out = append(out, lc)
		default:
			v.add(lc.Field+".type", "must be ADD, UPDATE or DESTROY")
		}
	}
	return out, true
}

// writeResource answers status with {"data": {"id", "type", "attributes"}}.
func writeResource(w http.ResponseWriter, status int, id int64, typ string, attrs any) {
	simkit.WriteJSON(w, status, map[string]any{"data": map[string]any{"id": strconv.FormatInt(id, 10), "type": typ, "attributes": attrs}})
}
