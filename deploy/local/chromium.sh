#!/usr/bin/env bash
# Installs Debian's chromium package, the headless browser that renders the
# reconciliation report in the analytics tests: the report is an HTML file
# for finance, so a test opens it in a real browser and reads the totals
# back from the DOM the browser built, not from the bytes we wrote.
#
#   deploy/local/chromium.sh install   install chromium if missing (idempotent)
#   deploy/local/chromium.sh path      print the browser's path (what tests run: LOCKSTEP_CHROMIUM)
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The names distributions give the binary; Debian's is chromium.
CANDIDATES=(chromium chromium-browser google-chrome-stable google-chrome)

# find_browser prints the first browser on PATH, or fails.
find_browser() {
	local c
	if [[ -n "${LOCKSTEP_CHROMIUM:-}" && -x "$LOCKSTEP_CHROMIUM" ]]; then
		echo "$LOCKSTEP_CHROMIUM"
		return 0
	fi
	for c in "${CANDIDATES[@]}"; do
		if command -v "$c" >/dev/null; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

install() {
	if find_browser >/dev/null; then
		return 0
	fi
	local start=$SECONDS out
	out="$(mktemp)"
	# Expanded now: apt_install exits on failure, and the log goes then too.
	# shellcheck disable=SC2064
	trap "rm -f '$out'" EXIT
	# Fonts come with chromium's recommends, which apt_install leaves out:
	# without one, text renders as boxes and layout widths are off.
	apt_install "$out" "chromium (headless report tests)" chromium fonts-dejavu-core
	rm -f "$out"
	find_browser >/dev/null || die "chromium is installed but not on PATH"
	log "installed chromium in $((SECONDS - start))s"
}

case "${1:-}" in
install)
	install
	"$(find_browser)" --version 2>/dev/null | head -n 1
	;;
path)
	find_browser || die "no chromium on PATH (install it with $0 install)"
	;;
*)
	echo "usage: $0 {install|path}" >&2
	exit 2
	;;
esac
