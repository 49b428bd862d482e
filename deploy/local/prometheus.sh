#!/usr/bin/env bash
# Installs Debian's prometheus package for promtool, and checks lockstep's
# Prometheus config and alert rules with it. The server itself is not run
# here (docker-compose runs one for users).
#
#   deploy/local/prometheus.sh install   install promtool if missing (idempotent)
#   deploy/local/prometheus.sh check     install, then check config and rules and run the rule unit tests
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROM="$ROOT/deploy/prometheus"

install() {
	if command -v promtool >/dev/null; then
		return 0
	fi
	local start=$SECONDS out
	out="$(mktemp)"
	# Expanded now: apt_install exits on failure, and the log goes then too.
	# shellcheck disable=SC2064
	trap "rm -f '$out'" EXIT
	apt_install "$out" "prometheus (for promtool)" prometheus
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
