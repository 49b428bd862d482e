#!/usr/bin/env bash
# Installs Debian's prometheus package for promtool, and checks lockstep's
# Prometheus config and alert rules with it. The server itself is not run
# here (docker-compose runs one for users).
#
#   deploy/local/prometheus.sh install   install promtool if missing (idempotent)
#   deploy/local/prometheus.sh check     install, then check config and rules and run the rule unit tests
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PROM="$ROOT/deploy/prometheus"

log() { printf 'prometheus.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	else
		sudo "$@"
	fi
}

install() {
	if command -v promtool >/dev/null; then
		return 0
	fi
	local start=$SECONDS
	if ! apt-cache show prometheus >/dev/null 2>&1; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	fi
	log "installing prometheus (for promtool) from apt"
	local out
	out="$(mktemp)"
	# policy-rc.d normally keeps the postinst from starting the system service.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >"$out" 2>&1 ||
		{ tail -n 30 "$out" >&2; rm -f "$out"; die "apt-get install prometheus failed"; }
	rm -f "$out"
	command -v promtool >/dev/null || die "prometheus is installed but promtool is not on PATH"
	log "installed promtool in $((SECONDS - start))s"
}

check() {
	install
	promtool check config "$PROM/prometheus.yml"
	promtool check rules "$PROM/rules/lockstep.rules.yml"
	promtool test rules "$PROM/rules/lockstep.rules.test.yml"
}

case "${1:-}" in
install) install; promtool --version 2>&1 | head -n 1 ;;
check) check ;;
*)
	echo "usage: $0 {install|check}" >&2
	exit 2
	;;
esac
