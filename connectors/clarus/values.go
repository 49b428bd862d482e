package clarus

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// The values of webhook records: ids, quantities, related records.

// clarusID is a record id, which Clarus renders as a number in records and
// as a string in JSON:API envelopes; both are accepted.
type clarusID string

func (id *clarusID) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("id %s is not an integer or a string", b)
		}
		s = strconv.FormatInt(n, 10)
	}
	if !validID(s) {
		return fmt.Errorf("id %+q is empty, too long or holds a space, a control character or one of / # @", s)
	}
	*id = clarusID(s)
	return nil
}

// quantity is a count of units: a JSON number with no fraction (Clarus's
// decimal quantities are accepted when whole: 5 and 5.0). Set tells a
// present field from an absent one.
type quantity struct {
	Set bool
	N   int64
}

func (q *quantity) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*q = quantity{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return fmt.Errorf("quantity %s is a string, not a number", s)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*q = quantity{Set: true, N: n}
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("quantity %s is not a number", s)
	}
	if f != math.Trunc(f) || math.Abs(f) > maxQuantity {
		return fmt.Errorf("quantity %s is not a whole number of units in range", s)
	}
	*q = quantity{Set: true, N: int64(f)}
	return nil
}

type codeRef struct {
	ID   clarusID `json:"id"`
	Code string   `json:"code"`
}

type reasonRef struct {
	Code string `json:"code"`
}
