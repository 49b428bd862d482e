package flows

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lockstep-dev/lockstep/schemas"
)

func ledgerDeps(rc ReconcileConfig) *Deps {
	return &Deps{
		Serde: schemas.NewSerde(schemas.NewMemRegistry()), Registerer: prometheus.NewRegistry(),
		Ready:    func(string) func(bool) { return func(bool) {} },
		Settings: Settings{InstanceID: "t", Ledger: LedgerConfig{Enabled: true, Reconcile: rc}},
	}
}

func componentNames(cs []Component) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

// TestLedgerSchedulesReconciliation: `lockstep run` reconciles each day
// when the ledger flow runs, unless LOCKSTEP_RECONCILE_ENABLED=false.
func TestLedgerSchedulesReconciliation(t *testing.T) {
	for _, tc := range []struct {
		rc   ReconcileConfig
		want string
		err  string
	}{
		{rc: ReconcileConfig{Enabled: true, After: time.Hour}, want: "ledger/sink,ledger/reconcile"},
		{rc: ReconcileConfig{Enabled: false}, want: "ledger/sink"},
		{rc: ReconcileConfig{Enabled: true, After: 24 * time.Hour}, err: "LOCKSTEP_RECONCILE_AFTER"},
	} {
		cs, err := Build([]string{"ledger"}, ledgerDeps(tc.rc))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want one naming %s", tc.rc, err, tc.err)
			}
		case err != nil:
			t.Errorf("%+v: %v", tc.rc, err)
		case componentNames(cs) != tc.want:
			t.Errorf("%+v: components %s, want %s", tc.rc, componentNames(cs), tc.want)
		}
	}
}
