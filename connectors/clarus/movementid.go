package clarus

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

// How a movement is identified: the Clarus record path it comes from and a
// hash of what it says, the same for the webhook records and for the
// shipments a completed goods out is read back as.

// movement is the movement a record path says, identified by the path and
// a hash of its content.
func movement(path string, kind schemas.StockMovementKind, sku, warehouse string, qty int64, ref, reason string, at time.Time) schemas.StockMovement {
	id := path + "#" + contentHash(kind, sku, warehouse, qty, ref)
	m := schemas.StockMovement{
		Meta:       schemas.Meta{EventID: "clarus/" + id, Source: schemas.SourceClarus, OccurredAt: at},
		MovementID: id, SKU: sku, Warehouse: warehouse, Kind: kind, Quantity: qty,
	}
	if ref != "" {
		m.Reference = &ref
	}
	if reason != "" {
		m.Reason = &reason
	}
	return m
}

// contentHash is the first 64 bits of SHA-256 over what a movement says,
// hex-encoded. The reason and the time are left out: a record re-sent with
// an edited reason code or a re-rendered timestamp is the same movement.
func contentHash(kind schemas.StockMovementKind, sku, warehouse string, qty int64, ref string) string {
	h := sha256.New()
	for _, s := range []string{string(kind), sku, warehouse, strconv.FormatInt(qty, 10), ref} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// RecordPath returns the Clarus record path a movement id starts with
// (resource/record id[/line id]; a shipment's pick is
// shipment/<shipment id>/<line id>), without its content hash.
func RecordPath(movementID string) string {
	p, _, _ := strings.Cut(movementID, "#")
	return p
}
