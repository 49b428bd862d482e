package schemas

import "errors"

// Sentinels, wrapped with context where they are returned; test with
// errors.Is. Each says something is wrong with one record, so a consumer
// parks that record in the DLQ rather than stopping (see IsPermanent).
var (
	// ErrShortFrame is returned for a value shorter than the 5-byte header.
	ErrShortFrame = errors.New("schemas: frame shorter than its 5-byte header")
	// ErrBadMagic is returned when the first byte is not the Confluent magic 0.
	ErrBadMagic = errors.New("schemas: bad magic byte")
	// ErrUnknownSchema is returned for a schema id the registry does not
	// know, or an event type without an embedded schema.
	ErrUnknownSchema = errors.New("schemas: unknown schema")
	// ErrSchemaMismatch is returned when a frame holds another event than
	// the one asked for.
	ErrSchemaMismatch = errors.New("schemas: frame holds a different event")
	// ErrMalformed is returned when the Avro body does not decode with the
	// writer's schema.
	ErrMalformed = errors.New("schemas: malformed avro")
	// ErrIncompatible is returned when the writer's schema breaks the
	// evolution rule: a field the reader needs is missing and has no
	// default, or a field changed type.
	ErrIncompatible = errors.New("schemas: writer schema incompatible with reader")
	// ErrDecimalRange is returned for money beyond decimal(18,4) or with
	// more than 4 decimal places.
	ErrDecimalRange = errors.New("schemas: decimal out of range")
)

// IsPermanent reports whether a Decode error comes from the record itself, so
// that retrying cannot help and the record belongs in the DLQ. Other errors
// (the registry unreachable, a cancelled context) are worth a retry.
func IsPermanent(err error) bool {
	for _, s := range []error{ErrShortFrame, ErrBadMagic, ErrUnknownSchema, ErrSchemaMismatch, ErrMalformed, ErrIncompatible, ErrDecimalRange} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
