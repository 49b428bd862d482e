package schemas

import (
	"encoding/binary"
	"fmt"
)

// The Confluent wire format, so that Redpanda Console, kcat and every
// schema-registry tool can read lockstep's topics: a magic byte 0, the
// schema id as a 4-byte big-endian integer, then the Avro binary body.
const (
	magicByte      = 0
	frameHeaderLen = 5
)

// AppendFrame appends the header for schema id, then body, to dst. Schema
// ids are 32-bit in the wire format; the registries lockstep uses assign
// small positive ones.
func AppendFrame(dst []byte, id int, body []byte) []byte {
	dst = appendHeader(dst, id)
	return append(dst, body...)
}

func appendHeader(dst []byte, id int) []byte {
	dst = append(dst, magicByte)
	return binary.BigEndian.AppendUint32(dst, uint32(id))
}

// ParseFrame splits a framed value into its schema id and Avro body. The
// body aliases b.
func ParseFrame(b []byte) (id int, body []byte, err error) {
	if len(b) < frameHeaderLen {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrShortFrame, len(b))
	}
	if b[0] != magicByte {
		return 0, nil, fmt.Errorf("%w: %#02x", ErrBadMagic, b[0])
	}
	return int(binary.BigEndian.Uint32(b[1:frameHeaderLen])), b[frameHeaderLen:], nil
}
