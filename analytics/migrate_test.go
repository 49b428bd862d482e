package analytics

import (
	"reflect"
	"testing"
)

// TestMigrateRerunsAddColumn: a migration whose ALTER ... ADD COLUMN ran
// but was not recorded (the process died in between) runs again without
// getting stuck on "column already exists", which 18.16 has no IF NOT
// EXISTS for; any other failure still stops Migrate.
func TestMigrateRerunsAddColumn(t *testing.T) {
	conn, _ := testDB(t)
	ctx := ctxT(t)
	if _, err := Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	const name = "0003_drift_shipment_id.sql"
	if err := conn.Exec(ctx, "ALTER TABLE schema_migrations DELETE WHERE name = '"+name+"'"); err != nil {
		t.Fatal(err)
	}
	waitMutations(t, ctx, conn)
	applied, err := Migrate(ctx, conn)
	if err != nil || !reflect.DeepEqual(applied, []string{name}) {
		t.Fatalf("Migrate after losing the record of %s = %v, %v; want it applied again", name, applied, err)
	}
	bad := []Migration{{Name: "0001_x.sql", Checksum: "x", SQL: "ALTER TABLE no_such_table ADD COLUMN c String"}}
	if _, err := migrate(ctx, conn, bad); err == nil {
		t.Fatal("ADD COLUMN on a missing table: want an error")
	}
	for stmt, want := range map[string]bool{
		"ALTER TABLE drift_events ADD COLUMN shipment_id String DEFAULT '' AFTER po_ref": true,
		"alter table t\n  add column c String":                                           true,
		"ALTER TABLE t ADD COLUMN a String, ADD COLUMN b String":                         false,
		"ALTER TABLE t DROP COLUMN a":                                                    false,
	} {
		if got := addColumn.MatchString(stmt); got != want {
			t.Errorf("addColumn(%q) = %v, want %v", stmt, got, want)
		}
	}
}
