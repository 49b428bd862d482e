package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// nativeDefault turns a field's JSON default into goavro's native form, so
// the field's own converter decodes it like a value from the wire. A union's
// default belongs to its first branch.
func nativeDefault(f *avroField) (any, error) {
	var raw any
	d := json.NewDecoder(bytes.NewReader(f.def))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, err
	}
	return defaultFor(f.typ, raw)
}

func defaultFor(t *avroType, raw any) (any, error) {
	bad := func() (any, error) { return nil, fmt.Errorf("default %v does not fit %s", raw, t.signature()) }
	switch t.kind {
	case "null":
		if raw != nil {
			return bad()
		}
		return nil, nil
	case "union":
		first := t.branches[0]
		v, err := defaultFor(first, raw)
		if err != nil || v == nil {
			return v, err
		}
		return map[string]any{first.unionName(): v}, nil
	case "string", "enum":
		if s, ok := raw.(string); ok {
			return s, nil
		}
	case "boolean":
		if v, ok := raw.(bool); ok {
			return v, nil
		}
	case "int", "long":
		num, ok := raw.(json.Number)
		if !ok {
			return bad()
		}
		v, err := num.Int64()
		if err != nil || t.kind == "int" && int64(int32(v)) != v {
			return bad()
		}
		if t.kind == "int" {
			return int32(v), nil
		}
		return v, nil // timestamp-millis too: timeConv takes int64
	case "array":
		if arr, ok := raw.([]any); ok && len(arr) == 0 {
			return []any{}, nil
		}
	}
	// Records, non-empty arrays and byte defaults have no use yet.
	return bad()
}
