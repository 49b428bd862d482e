package admin

import (
	"fmt"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Readiness collects the readiness of the process's components. The process
// is ready when every registered component has said so; a component that
// registers starts not ready, so /readyz stays 503 through restore.
type Readiness struct {
	mu    sync.Mutex
	ready map[string]bool
	gauge *prometheus.GaugeVec
}

// NewReadiness returns an empty registry. With a non-nil reg it also exports
// lockstep_component_ready{component} so that alerts can name the component
// that never became ready, which /readyz only shows to whoever polls it.
func NewReadiness(reg prometheus.Registerer) *Readiness {
	r := &Readiness{ready: make(map[string]bool)}
	if reg != nil {
		r.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lockstep_component_ready",
			Help: "1 when the component reports ready, 0 while it starts, restores or has failed.",
		}, []string{"component"})
		reg.MustRegister(r.gauge)
	}
	return r
}

// Add registers a component, not ready, and returns the function through
// which it reports its readiness; the function is safe for concurrent use.
// Names are unique: registering one twice is a wiring bug and panics.
func (r *Readiness) Add(name string) func(ready bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.ready[name]; dup {
		panic(fmt.Sprintf("admin: readiness check %q registered twice", name))
	}
	r.ready[name] = false
	r.setGauge(name, false)
	return func(ready bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.ready[name] = ready
		r.setGauge(name, ready)
	}
}

// NoComponents is what NotReady lists while nothing is registered: a
// process that runs nothing is not doing its job, whatever else is fine.
const NoComponents = "no components are running"

// NotReady lists, sorted, the components that are not ready; empty means
// the process is ready.
func (r *Readiness) NotReady() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ready) == 0 {
		return []string{NoComponents}
	}
	names := []string{}
	for name, ok := range r.ready {
		if !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func (r *Readiness) setGauge(name string, ready bool) {
	if r.gauge == nil {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	r.gauge.WithLabelValues(name).Set(v)
}
