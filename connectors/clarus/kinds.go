package clarus

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Which kind of record a webhook body holds, so that a record that does
// not fit its automation (an adjustment on the hold endpoint, a receipt on
// the goods-out one) is refused instead of read as something it is not.

// recordKind is the kind of record an automation sends.
type recordKind string

const (
	kindGoodsOut   recordKind = "goods_out"
	kindReceipt    recordKind = "goods_in_receipt"
	kindAdjustment recordKind = "stock_adjustment"
	kindStock      recordKind = "stock"
)

var triggerKinds = map[Trigger]recordKind{
	TriggerGoodsOutCompleted: kindGoodsOut, TriggerReceiptCompleted: kindReceipt,
	TriggerAdjustmentPositive: kindAdjustment, TriggerAdjustmentNegative: kindAdjustment,
	TriggerStockHeld: kindStock, TriggerStockReleased: kindStock,
}

// typeNames are the record types a body may name in data.type: the JSON:API
// type (plural, as REST answers carry it) or its singular.
var typeNames = map[string]recordKind{
	"goods_outs": kindGoodsOut, "goods_out": kindGoodsOut,
	"goods_in_receipts": kindReceipt, "goods_in_receipt": kindReceipt,
	"stock_adjustments": kindAdjustment, "stock_adjustment": kindAdjustment,
	"stocks": kindStock, "stock": kindStock,
}

// detectKind says which kind of record fields hold: the one data.type
// names, else the one whose distinctive fields it carries ("" when it
// carries none; the trigger's required fields then decide). A record with
// the fields of two kinds is refused.
func detectKind(fields map[string]json.RawMessage) (recordKind, string, error) {
	if raw, ok := fields["type"]; ok && string(raw) != "null" {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return "", "", invalid("type is not a string")
		}
		k, ok := typeNames[name]
		if !ok {
			return "", "", invalid("unknown record type %q", name)
		}
		return k, fmt.Sprintf("type %q", name), nil
	}
	found := map[recordKind]string{}
	note := func(k recordKind, field string) {
		if _, ok := found[k]; !ok {
			found[k] = field
		}
	}
	for _, f := range []string{"goods_out_status_id", "goods_out_status", "goods_out_type", "actual_date_of_dispatch"} {
		if _, ok := fields[f]; ok {
			note(kindGoodsOut, f)
		}
	}
	for _, f := range []string{"receipt_type", "actual_date_of_receipt", "expected_date_of_receipt", "expected_date_of_arrival"} {
		if _, ok := fields[f]; ok {
			note(kindReceipt, f)
		}
	}
	if _, ok := fields["direction"]; ok {
		note(kindAdjustment, "direction")
	}
	if raw, ok := fields["status"]; ok {
		var st string
		if json.Unmarshal(raw, &st) == nil && stockStatus(st) != "" {
			note(kindStock, "status "+strconv.Quote(st))
		}
	}
	var lines []map[string]json.RawMessage
	if raw, ok := fields["lines"]; ok && json.Unmarshal(raw, &lines) == nil {
		for _, l := range lines {
			if _, ok := l["dispatch_quantity"]; ok {
				note(kindGoodsOut, "lines[].dispatch_quantity")
			}
			if _, ok := l["received_quantity"]; ok {
				note(kindReceipt, "lines[].received_quantity")
			}
		}
	}
	switch len(found) {
	case 0:
		return "", "", nil
	case 1:
		for k, f := range found {
			return k, f, nil
		}
	}
	var parts []string
	for _, k := range []recordKind{kindGoodsOut, kindReceipt, kindAdjustment, kindStock} {
		if f, ok := found[k]; ok {
			parts = append(parts, fmt.Sprintf("%s (%s)", k, f))
		}
	}
	return "", "", invalid("the record mixes the fields of %s", strings.Join(parts, " and "))
}

// stockStatus is the hold state a stock record's status names: "held",
// "available" or "".
func stockStatus(s string) string {
	switch strings.ToLower(s) {
	case "held", "hold", "on_hold":
		return "held"
	case "available":
		return "available"
	}
	return ""
}
