package reconcile

import (
	"fmt"
	"math"
)

// chart is an SVG bar chart of the units each side reports per warehouse,
// laid out here so the template only draws rectangles and text. Plain SVG
// with no script: the report must open from a mail attachment.
type chart struct {
	Width, Height float64
	PlotTop       float64 // y of the highest tick
	PlotBottom    float64 // y of the axis
	PlotLeft      float64
	PlotRight     float64
	Bars          []bar
	Groups        []axisLabel
	Ticks         []axisLabel
	Empty         bool
}

type bar struct {
	X, Y, W, H float64
	Class      string // shipped | noted
	Title      string // the tooltip: warehouse, side and units
	Value      int64
}

type axisLabel struct {
	X, Y float64
	Text string
}

const (
	chartWidth  = 720
	chartHeight = 280
	chartLeft   = 56
	chartRight  = 16
	chartTop    = 20
	chartBottom = 48
)

// newChart lays out shipped and noted units per warehouse as pairs of bars.
func newChart(ws []WarehouseUnits) chart {
	c := chart{Width: chartWidth, Height: chartHeight, PlotTop: chartTop, PlotBottom: chartHeight - chartBottom,
		PlotLeft: chartLeft, PlotRight: chartWidth - chartRight}
	var top int64
	for _, w := range ws {
		top = max(top, w.Shipped, w.Noted)
	}
	if len(ws) == 0 || top <= 0 {
		c.Empty = true
		return c
	}
	top = niceCeil(top)
	plotH := c.PlotBottom - c.PlotTop
	for i := range 5 {
		v := top * int64(i) / 4
		c.Ticks = append(c.Ticks, axisLabel{X: c.PlotLeft - 6, Y: c.PlotBottom - plotH*float64(v)/float64(top), Text: fmt.Sprint(v)})
	}
	groupW := (c.PlotRight - c.PlotLeft) / float64(len(ws))
	barW := math.Min(48, groupW*0.36)
	for i, w := range ws {
		mid := c.PlotLeft + groupW*(float64(i)+0.5)
		name := w.Warehouse
		if name == "" {
			name = "no shipment"
		}
		c.Groups = append(c.Groups, axisLabel{X: mid, Y: c.PlotBottom + 18, Text: name})
		for j, side := range []struct {
			class string
			v     int64
		}{{"shipped", w.Shipped}, {"noted", w.Noted}} {
			h := plotH * float64(side.v) / float64(top)
			c.Bars = append(c.Bars, bar{
				X: mid - barW + float64(j)*barW, Y: c.PlotBottom - h, W: barW - 2, H: h, Class: side.class, Value: side.v,
				Title: fmt.Sprintf("%s: %d units %s", name, side.v, map[string]string{"shipped": "shipped (Clarus)", "noted": "on despatch notes (Prima)"}[side.class]),
			})
		}
	}
	return c
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so that the
// axis ticks are round numbers.
func niceCeil(v int64) int64 {
	p := int64(1)
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []int64{1, 2, 4, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
