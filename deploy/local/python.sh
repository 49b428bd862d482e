#!/usr/bin/env bash
# Installs the Python clients that lockstep's contract tests drive against
# it, clients that no one here wrote: zeep (a stock SOAP client, against the
# Prima simulator's WSDL) and confluent-kafka (Confluent's own Avro
# deserializer, against the embedded schema registry). They go in a
# virtualenv under .local/, never in the system Python.
#
#   deploy/local/python.sh install   create the virtualenv and install the clients (idempotent)
#   deploy/local/python.sh path      print the virtualenv's python (what tests run: LOCKSTEP_PYTHON)
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VENV="$LOCAL/pyenv"
PY="$VENV/bin/python"
# Pinned: a contract test must not change under us.
PACKAGES=(zeep==4.3.1 "confluent-kafka[avro,schemaregistry]==2.16.1")

installed() {
	[[ -x $PY ]] && "$PY" -c 'import zeep, confluent_kafka.schema_registry.avro, fastavro' 2>/dev/null
}

install() {
	if installed; then
		return 0
	fi
	local start=$SECONDS out
	out="$(mktemp)"
	# shellcheck disable=SC2064
	trap "rm -f '$out'" EXIT
	command -v python3 >/dev/null || apt_install "$out" "python3" python3
	if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
		apt_install "$out" "python3-venv" python3-venv
	fi
	mkdir -p "$LOCAL"
	python3 -m venv "$VENV" >"$out" 2>&1 || { tail -n 20 "$out" >&2; die "python3 -m venv $VENV failed"; }
	log "installing ${PACKAGES[*]} from PyPI"
	"$PY" -m pip install -q --disable-pip-version-check "${PACKAGES[@]}" >"$out" 2>&1 ||
		{ tail -n 30 "$out" >&2; die "pip install failed"; }
	installed || die "installed, but the modules do not import"
	rm -f "$out"
	log "installed the Python contract clients in $((SECONDS - start))s"
}

case "${1:-}" in
install) install; "$PY" -c 'import zeep, confluent_kafka; print("zeep", zeep.__version__, "confluent-kafka", confluent_kafka.__version__)' ;;
path) echo "$PY" ;;
*)
	echo "usage: $0 {install|path}" >&2
	exit 2
	;;
esac
