// Package wire holds Prima's XML request and response documents, shared by the connector and its simulator, as prima.xsd defines them.
package wire

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Request types. The documented ones appear in Prima Solutions' public
// integrations; the assumed ones are lockstep's naming, in the same shape,
// for what the public material does not show (prima.xsd marks them so).
const (
	TypeNewOrder                    = "NewOrder"                    // documented
	TypeMultiNewOrder               = "MultiNewOrder"               // documented
	TypeOrderStatus                 = "OrderStatus"                 // documented
	TypeProductAvailableToSell      = "ProductAvailableToSell"      // documented
	TypeMultiAvailableToSell        = "MultiAvailableToSell"        // documented
	TypeItemsModifiedSince          = "ItemsModifiedSince"          // assumed
	TypeStockLevelsModifiedSince    = "StockLevelsModifiedSince"    // assumed
	TypeStockLevelUpdate            = "StockLevelUpdate"            // assumed
	TypeStockLevelUpdateStatus      = "StockLevelUpdateStatus"      // assumed
	TypeSalesOrdersModifiedSince    = "SalesOrdersModifiedSince"    // assumed
	TypeNewDespatchNote             = "NewDespatchNote"             // assumed
	TypeDespatchNotes               = "DespatchNotes"               // assumed
	TypeDespatchNotesModifiedSince  = "DespatchNotesModifiedSince"  // assumed
	TypePurchaseOrdersModifiedSince = "PurchaseOrdersModifiedSince" // assumed
)

// Documented reports, per request type the XSD lists, whether Prima's public
// material shows it (true) or lockstep assumed it (false).
var Documented = map[string]bool{
	TypeNewOrder:                    true,
	TypeMultiNewOrder:               true,
	TypeOrderStatus:                 true,
	TypeProductAvailableToSell:      true,
	TypeMultiAvailableToSell:        true,
	TypeItemsModifiedSince:          false,
	TypeStockLevelsModifiedSince:    false,
	TypeStockLevelUpdate:            false,
	TypeStockLevelUpdateStatus:      false,
	TypeSalesOrdersModifiedSince:    false,
	TypeNewDespatchNote:             false,
	TypeDespatchNotes:               false,
	TypeDespatchNotesModifiedSince:  false,
	TypePurchaseOrdersModifiedSince: false,
}

// Request statuses, as Prima answers them.
const (
	StatusOK    = "OK"
	StatusError = "ERROR"
)

// TimeLayout is how timestamps travel: xs:dateTime in UTC with
// milliseconds, the precision of the Avro timestamps they become.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatTime formats t in TimeLayout, in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime parses an xs:dateTime with an explicit zone.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// Request is the document every call passes, as a string, to wsomhandler
// or comwsomhandler (see soap.go).
type Request struct {
	XMLName     xml.Name    `xml:"Request"`
	RequestType string      `xml:"RequestType,attr"`
	Data        RequestData `xml:"Data"`
}

// RequestData is the union of every request type's Data, as in Prima's
// schema: one element whose attributes each request type picks from.
type RequestData struct {
	// ItemsModifiedSince, StockLevelsModifiedSince,
	// SalesOrdersModifiedSince, DespatchNotesModifiedSince,
	// PurchaseOrdersModifiedSince: the cursor is the
	// (ModifiedSince, AfterKey) pair, exclusive; AfterKey breaks ties
	// between records modified in the same millisecond.
	ModifiedSince string `xml:"ModifiedSince,attr,omitempty"`
	AfterKey      string `xml:"AfterKey,attr,omitempty"`
	PageSize      int    `xml:"PageSize,attr,omitempty"`
	// StockLevelUpdate, StockLevelUpdateStatus; Warehouse also narrows
	// MultiAvailableToSell.
	BatchRef  string `xml:"BatchRef,attr,omitempty"`
	Warehouse string `xml:"Warehouse,attr,omitempty"`
	AsOf      string `xml:"AsOf,attr,omitempty"`
	// ProductAvailableToSell: a range of product codes.
	ProductFrom string `xml:"ProductFrom,attr,omitempty"`
	ProductTo   string `xml:"ProductTo,attr,omitempty"`
	// OrderStatus; NewDespatchNote's order.
	OrderNumber string `xml:"OrderNumber,attr,omitempty"`
	// NewDespatchNote (DespatchNotes looks notes up by Reference alone):
	// the note's reference (lockstep's: the Clarus shipment id), its date
	// and carrier. Warehouse above is the despatching warehouse.
	Reference      string `xml:"Reference,attr,omitempty"`
	DespatchDate   string `xml:"DespatchDate,attr,omitempty"`
	Carrier        string `xml:"Carrier,attr,omitempty"`
	TrackingNumber string `xml:"TrackingNumber,attr,omitempty"`

	Lines []StockLine `xml:"Line"` // StockLevelUpdate
	// MultiAvailableToSell: lower-case <sku> in the request, as public
	// client code sends it; the answer's lines are <SKU>.
	SKUs          []Matrix       `xml:"sku"`
	DespatchLines []DespatchLine `xml:"DespatchLine"` // NewDespatchNote
}

// Matrix names a Prima SKU: a product code plus up to four matrix codes
// (style, colour, size...).
type Matrix struct {
	Product   string `xml:"Product,attr"`
	MtrxCode1 string `xml:"MtrxCode1,attr,omitempty"`
	MtrxCode2 string `xml:"MtrxCode2,attr,omitempty"`
	MtrxCode3 string `xml:"MtrxCode3,attr,omitempty"`
	MtrxCode4 string `xml:"MtrxCode4,attr,omitempty"`
}

// StockLine is one absolute level in a StockLevelUpdate.
type StockLine struct {
	Matrix
	Available int64 `xml:"Available,attr"`
}

// Response is every answer, the string a call returns. RequestError is set
// when RequestStatus is ERROR.
type Response struct {
	XMLName       xml.Name      `xml:"Response"`
	RequestType   string        `xml:"RequestType,attr,omitempty"`
	RequestStatus string        `xml:"RequestStatus,attr"`
	RequestError  string        `xml:"RequestError,attr,omitempty"`
	Data          *ResponseData `xml:"Data"`
}

// ResponseData is the union of every request type's answer.
type ResponseData struct {
	// Modified-since queries: More is true when the page was full.
	More bool `xml:"More,attr,omitempty"`
	// StockLevelUpdate and StockLevelUpdateStatus.
	BatchRef  string `xml:"BatchRef,attr,omitempty"`
	Found     bool   `xml:"Found,attr,omitempty"`
	AppliedAt string `xml:"AppliedAt,attr,omitempty"`
	Lines     int    `xml:"Lines,attr,omitempty"`
	// OrderStatus.
	OrderStatus string `xml:"OrderStatus,attr,omitempty"`
	// NewDespatchNote: the id Prima gave the note.
	DespatchNoteID string `xml:"DespatchNoteID,attr,omitempty"`

	Items         []Item         `xml:"Item"`
	StockLevels   []StockLevel   `xml:"StockLevel"`
	SKUs          []Available    `xml:"SKU"`
	SalesOrders   []SalesOrder   `xml:"SalesOrder"`
	DespatchNotes []DespatchNote `xml:"DespatchNote"` // DespatchNotes, DespatchNotesModifiedSince
	// PurchaseOrdersModifiedSince.
	PurchaseOrders []PurchaseOrder `xml:"PurchaseOrder"`
}

// Item is an item of the item master.
type Item struct {
	Matrix
	Description string `xml:"Description,attr"`
	ClarusCode  string `xml:"ClarusCode,attr,omitempty"` // empty while unmapped
	StockItem   bool   `xml:"StockItem,attr"`
	Active      bool   `xml:"Active,attr"`
	UnitCost    string `xml:"UnitCost,attr"` // decimal, at most four places
	Currency    string `xml:"Currency,attr"`
	Modified    string `xml:"Modified,attr"`
}

// StockLevel is what Prima holds for a SKU in a warehouse.
type StockLevel struct {
	Matrix
	Warehouse string `xml:"Warehouse,attr"`
	Available int64  `xml:"Available,attr"`
	OnHand    *int64 `xml:"OnHand,attr,omitempty"`
	Modified  string `xml:"Modified,attr"`
}

// Available is a MultiAvailableToSell or ProductAvailableToSell answer line.
type Available struct {
	Matrix
	Warehouse         string `xml:"Warehouse,attr,omitempty"`
	AvailableQuantity int64  `xml:"AvailableQuantity,attr"`
	AvailableDate     string `xml:"AvailableDate,attr,omitempty"`
}

// SKUSeparator joins a product code and its matrix codes into the one SKU
// string the rest of lockstep uses as a key ("STYLE12/NAVY/42"). Prima
// never shows a SKU as one string; this spelling is lockstep's.
const SKUSeparator = "/"

// ErrBadSKU reports a SKU string or matrix that cannot be spelled both ways.
var ErrBadSKU = errors.New("prima: bad SKU")

// SKU returns m's SKU string: the product code, then the matrix codes up to
// the last non-empty one, separated by SKUSeparator.
func (m Matrix) SKU() (string, error) {
	codes := []string{m.Product, m.MtrxCode1, m.MtrxCode2, m.MtrxCode3, m.MtrxCode4}
	if m.Product == "" {
		return "", fmt.Errorf("%w: empty product code", ErrBadSKU)
	}
	for _, c := range codes {
		if strings.ContainsAny(c, SKUSeparator+"@") || strings.TrimSpace(c) != c {
			return "", fmt.Errorf("%w: code %q holds a separator or surrounding space", ErrBadSKU, c)
		}
	}
	n := len(codes)
	for n > 1 && codes[n-1] == "" {
		n--
	}
	return strings.Join(codes[:n], SKUSeparator), nil
}

// ParseSKU splits a SKU string into its product and matrix codes.
func ParseSKU(sku string) (Matrix, error) {
	parts := strings.Split(sku, SKUSeparator)
	if len(parts) > 5 {
		return Matrix{}, fmt.Errorf("%w: %q has more than four matrix codes", ErrBadSKU, sku)
	}
	parts = append(parts, make([]string, 5-len(parts))...)
	m := Matrix{Product: parts[0], MtrxCode1: parts[1], MtrxCode2: parts[2], MtrxCode3: parts[3], MtrxCode4: parts[4]}
	// Round-trip, so that "P/" or " P" is refused rather than aliased.
	if back, err := m.SKU(); err != nil || back != sku {
		return Matrix{}, fmt.Errorf("%w: %q is not a canonical SKU", ErrBadSKU, sku)
	}
	return m, nil
}
