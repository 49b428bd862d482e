package clarussim

import "time"

// The webhook bodies: {"data": <full record>}, as clarus.openapi.yaml
// describes them. The documentation says the body is the full record and
// that automation conditions address it as data.*; the field sets below
// follow the documented REST and GraphQL fields, and the rest is marked
// x-assumed in the schema file.

// Automation triggers: resource_name "." event. Only goods_out.completed is
// a documented machine name; the others are described by name only.
const (
	TriggerGoodsOutCompleted  = "goods_out.completed"
	TriggerReceiptCompleted   = "goods_in_receipt.completed"
	TriggerAdjustmentPositive = "stock_adjustment.positive"
	TriggerAdjustmentNegative = "stock_adjustment.negative"
	TriggerStockHeld          = "stock.held"
	TriggerStockReleased      = "stock.released"
)

type envelope struct {
	Data any `json:"data"`
}

type ref struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
}

type reasonCode struct {
	Code        string `json:"code"`
	Description string `json:"description,omitempty"`
}

type adjustmentRecord struct {
	ID        int64       `json:"id"`
	Type      string      `json:"type"`
	Quantity  int64       `json:"quantity"`  // units, always positive
	Direction string      `json:"direction"` // positive | negative
	Product   ref         `json:"product"`
	Warehouse ref         `json:"warehouse"`
	Account   ref         `json:"account"`
	Location  ref         `json:"location"`
	Reason    *reasonCode `json:"reason_code"`
	CreatedAt time.Time   `json:"created_at"`
}

type stockRecord struct {
	ID        int64       `json:"id"`
	Type      string      `json:"type"`
	Quantity  int64       `json:"quantity"`
	Status    string      `json:"status"` // held | available
	Product   ref         `json:"product"`
	Warehouse ref         `json:"warehouse"`
	Account   ref         `json:"account"`
	Location  ref         `json:"location"`
	Reason    *reasonCode `json:"reason_code"`
	UpdatedAt time.Time   `json:"updated_at"`
}

type receiptRecord struct {
	ID                       int64         `json:"id"`
	Type                     string        `json:"type"`
	Reference                string        `json:"reference"`
	Status                   string        `json:"status"`
	ReceiptType              string        `json:"receipt_type"`
	Warehouse                ref           `json:"warehouse"`
	Account                  ref           `json:"account"`
	ExpectedDateOfArrival    *time.Time    `json:"expected_date_of_arrival"`
	ActualDateOfReceipt      time.Time     `json:"actual_date_of_receipt"`
	ExternalSystemReference1 *string       `json:"external_system_reference1"`
	Lines                    []receiptLine `json:"lines"`
}

type receiptLine struct {
	ID               int64 `json:"id"`
	Product          ref   `json:"product"`
	ExpectedQuantity int64 `json:"expected_quantity"`
	ReceivedQuantity int64 `json:"received_quantity"`
}

type goodsOutStatus struct {
	ID   int    `json:"id"`
	Code string `json:"code"`
	Name string `json:"name"`
}

type goodsOutRecord struct {
	ID                       int64          `json:"id"`
	Type                     string         `json:"type"`
	GoodsOutType             string         `json:"goods_out_type"`
	Reference                string         `json:"reference"`
	GoodsOutStatusID         int            `json:"goods_out_status_id"`
	GoodsOutStatus           goodsOutStatus `json:"goods_out_status"`
	Warehouse                ref            `json:"warehouse"`
	Account                  ref            `json:"account"`
	ActualDateOfDispatch     time.Time      `json:"actual_date_of_dispatch"`
	ExternalSystemReference1 *string        `json:"external_system_reference1"`
	String1                  *string        `json:"string1"`
	Lines                    []goodsOutLine `json:"lines"`
}

type goodsOutLine struct {
	ID                int64  `json:"id"`
	Product           ref    `json:"product"`
	OrderQuantity     int64  `json:"order_quantity"`
	AllocatedQuantity int64  `json:"allocated_quantity"`
	PickQuantity      int64  `json:"pick_quantity"`
	DispatchQuantity  int64  `json:"dispatch_quantity"`
	ShortStatus       string `json:"short_status"`
}

func (s *Sim) product(code string) ref { return ref{ID: s.st.productID(code), Code: code} }

func (s *Sim) warehouse(code string) ref { return ref{ID: s.st.warehouseID(code), Code: code} }

func (s *Sim) account() ref { return ref{ID: 1, Code: s.cfg.Account} }

// location is the bulk location of a warehouse: the simulator keeps stock
// per warehouse, not per bin.
func (s *Sim) location(wh string) ref { return ref{ID: 100 + s.st.warehouseID(wh), Code: wh + "-BULK"} }

func reason(code string) *reasonCode {
	if code == "" {
		return nil
	}
	return &reasonCode{Code: code}
}
