package metricstest_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockstep-dev/lockstep/connectors/metricstest"
)

func TestValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "calls_total"}, []string{"call", "outcome"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "paused"})
	reg.MustRegister(c, g)
	c.WithLabelValues("create", "ok").Add(3)
	c.WithLabelValues("create", "failed").Add(2)
	g.Set(1)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"calls_total", []string{"create", "ok"}, 3},
		{"calls_total", []string{"create", "failed"}, 2},
		{"calls_total", []string{"cancel", "ok"}, 0},
		{"paused", nil, 1},
		{"absent", nil, 0},
	} {
		if got := metricstest.Value(t, reg, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}
