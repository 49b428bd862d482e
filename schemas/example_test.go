package schemas_test

import (
	"context"
	"fmt"
	"time"

	"github.com/lockstep-dev/lockstep/schemas"
)

func Example_encodeDecode() {
	ctx := context.Background()
	// In production: schemas.NewRegistryClient(sr.URLs(...)) or an
	// EmbeddedRegistry; a MemRegistry needs no server.
	serde := schemas.NewSerde(schemas.NewMemRegistry())

	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	b, err := serde.Encode(ctx, &schemas.StockMovement{
		Meta: schemas.Meta{
			EventID: "clarus-mv-1", Source: schemas.SourceClarus,
			OccurredAt: at, IngestedAt: at.Add(time.Second),
		},
		MovementID: "mv-1", SKU: "TSHIRT-BLK-M", Warehouse: "LON1",
		Kind: schemas.MovementPick, Quantity: -2, Reference: new("SO-1001"),
	})
	if err != nil {
		panic(err)
	}
	id, body, _ := schemas.ParseFrame(b)
	fmt.Printf("magic %d, schema id %d, %d bytes of Avro\n", b[0], id, len(body))

	var m schemas.StockMovement
	if err := serde.Decode(ctx, b, &m); err != nil {
		panic(err)
	}
	fmt.Println(m.SKU, m.Kind, m.Quantity, *m.Reference, m.Reason == nil, m.OccurredAt)

	var wrong schemas.StockLevel
	fmt.Println(serde.Decode(ctx, b, &wrong))
	// Output:
	// magic 0, schema id 1, 60 bytes of Avro
	// TSHIRT-BLK-M pick -2 SO-1001 true 2026-03-02 09:00:00 +0000 UTC
	// schemas: frame holds a different event: schema 1 is lockstep.v1.StockMovement, not lockstep.v1.StockLevel
}

func ExampleDecimal() {
	cost := schemas.MustParseDecimal("4.1275")
	value, err := cost.Mul(-2)
	fmt.Println(value, err, value+schemas.NewDecimal(10, 0))
	// Output: -8.2550 <nil> 1.7450
}
