package wire

import "encoding/xml"

// Purchase orders (all assumed: Prima's public material shows no
// purchase-order request type). PurchaseOrdersModifiedSince answers them
// as SalesOrdersModifiedSince answers sales orders: the whole PO as it
// stands, with a Version that grows on every change, in (Modified,
// PONumber) order after the cursor.

// MaxPurchaseOrderBytes bounds the text of one PurchaseOrder element, as
// MaxSalesOrderBytes bounds a sales order's, for the same reason.
const MaxPurchaseOrderBytes = MaxSalesOrderBytes

// PurchaseOrder is one PO of a PurchaseOrdersModifiedSince answer. Every
// attribute is kept as text, as on SalesOrder: a value the connector
// cannot read (a cost that is not a decimal, a date in another format)
// spoils that one PO, which it dead-letters, never the decoding of the
// page around it.
type PurchaseOrder struct {
	PONumber    string `xml:"PONumber,attr"`
	Version     string `xml:"Version,attr"` // 1 when placed, one more on every change
	Status      string `xml:"Status,attr"`  // POPurchase or POCancelled
	SupplierRef string `xml:"SupplierRef,attr"`
	Warehouse   string `xml:"Warehouse,attr"` // the receiving depot
	Currency    string `xml:"Currency,attr"`  // of the line costs
	// ExpectedDate is the delivery date, DateLayout; empty when the PO
	// has none.
	ExpectedDate string `xml:"ExpectedDate,attr,omitempty"`
	Modified     string `xml:"Modified,attr"`

	Lines []POLine `xml:"POLine"`

	kept // the element's text, for a dead letter
}

// POLine is one line of a PurchaseOrder: a SKU as product and matrix
// codes, the units ordered and their unit cost, as text.
type POLine struct {
	LineNo string `xml:"LineNo,attr"`
	Matrix
	Quantity string `xml:"Quantity,attr"`
	UnitCost string `xml:"UnitCost,attr"` // decimal, at most four places
}

// PO statuses on the feed (assumed). Prima's own PO statuses run
// Outstanding -> Purchase (placed with the supplier) -> Part Received ->
// Received; a PO reaches the feed once placed, so Purchase is what
// lockstep calls approved, and Cancelled a PO withdrawn after that.
const (
	POPurchase  = "Purchase"
	POCancelled = "Cancelled"
)

// DateLayout is how a date without a time travels (ExpectedDate): an
// xs:date without a zone, the depot's calendar day.
const DateLayout = "2006-01-02"

// UnmarshalXML decodes the element, keeping its text for Raw.
func (o *PurchaseOrder) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain PurchaseOrder // without this method: the default decoding
	return decodeKeepingText(d, start, MaxPurchaseOrderBytes, (*plain)(o), &o.kept)
}
