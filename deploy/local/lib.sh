# shellcheck shell=bash
# Shared by the deploy/local scripts, which source it after `set -euo
# pipefail`: messages, installs from apt, and the start / stop / status life
# of a service run from a pid file, so that every service starts, waits,
# stops and reports the same way and .ci/run and the Makefile can treat them
# alike.
#
# A service script sets, then calls `service_main "$@"`:
#   SVC           its name in messages ("kafka")
#   NOUN          what runs, in messages ("broker", "server")
#   DIR, PIDFILE  its runtime dir (under $LOCAL) and pid file
#   PID_MATCH     text of its command line that tells it from a recycled pid
#   PORT          the port clients use, as printed
#   PORTS         the ports it listens on, all checked free before a start
#   PORT_ENV      the variables that move them, for the "taken" message
#   PROBE_PORT    the port svc_ready asks
#   TIMEOUT       seconds a start may take
#   LOGS          log files, the first the main one, shown when a start fails
#   LOG_HINT      where its logs are, as printed at a start
#   STATUS_EXTRA  appended to the status line of an answering service
# and defines install (idempotent), svc_ready (it answers a real request,
# not merely an open port), svc_prepare (configure before a start) and
# svc_launch (start it in the background with &, as the last background
# job, its pid the service's).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SCRIPT="$(basename "${BASH_SOURCE[1]:-$0}")"
HOST=127.0.0.1
# shellcheck disable=SC2034 # the runtime dir of the scripts that source this
LOCAL="${LOCKSTEP_LOCAL_DIR:-$ROOT/.local}"
# Seconds stop waits after TERM before it KILLs: a broker flushing its logs
# needs some, a wedged JVM must not hold up CI.
STOP_GRACE=30

log() { printf '%s: %s\n' "$SCRIPT" "$*" >&2; }
die() {
	log "$*"
	exit 1
}

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	else
		sudo "$@"
	fi
}

# apt_install OUT WHAT PKG...: installs PKG from apt, updating the package
# lists first if they do not know the first PKG yet; apt's output goes to
# OUT, whose tail is shown if the install fails.
apt_install() {
	local out=$1 what=$2
	shift 2
	if ! apt-cache show "$1" >/dev/null 2>&1; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	fi
	log "installing $what from apt"
	# policy-rc.d normally keeps the postinst from starting the system
	# service (no systemd in containers); one that does start stays on its
	# default port, away from ours.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >"$out" 2>&1 ||
		{
			tail -n 30 "$out" >&2
			die "apt-get install $1 failed"
		}
}

port_open() {
	(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/$HOST/$1"
	)
}

# pid_alive prints the service's pid if the pid file names a live process
# that is still the service, not a recycled pid.
pid_alive() {
	local pid
	[[ -f "$PIDFILE" ]] || return 1
	pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$PID_MATCH" || return 1
	echo "$pid"
}

# service_start starts the service unless it runs, and waits until it
# answers or TIMEOUT passes; a service already running is left alone, so
# a start is idempotent.
service_start() {
	local pid t0="" p addrs="" taken=""
	if pid="$(pid_alive)"; then
		if svc_ready; then
			echo "$SVC listening on $HOST:$PORT"
			return 0
		fi
		log "$NOUN pid $pid is running but not answering yet; waiting"
	else
		for p in "${PORTS[@]}"; do
			addrs+="${addrs:+ or }$HOST:$p"
			if port_open "$p"; then
				taken=1
			fi
		done
		[[ -z "$taken" ]] || die "port $addrs is taken by another process (set $PORT_ENV)"
		install
		svc_prepare
		t0=$SECONDS
		svc_launch
		pid=$!
		echo "$pid" >"$PIDFILE"
		log "started $NOUN pid $pid ($LOG_HINT)"
	fi
	local deadline=$((SECONDS + TIMEOUT))
	until svc_ready; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "${LOGS[@]}" >&2 2>/dev/null || true
			rm -f "$PIDFILE"
			die "$NOUN exited during start-up"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 40 "${LOGS[0]}" >&2 2>/dev/null || true
			die "$NOUN did not answer on $HOST:$PROBE_PORT within ${TIMEOUT}s"
		fi
		sleep 0.2
	done
	[[ -n "$t0" ]] && log "$NOUN answered after $((SECONDS - t0))s"
	echo "$SVC listening on $HOST:$PORT"
}

# service_stop sends TERM, and KILL if the service has not gone after
# STOP_GRACE seconds.
service_stop() {
	local pid i
	if ! pid="$(pid_alive)"; then
		rm -f "$PIDFILE"
		echo "$SVC not running"
		return 0
	fi
	kill "$pid"
	for ((i = 0; i < STOP_GRACE * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$NOUN pid $pid did not stop in ${STOP_GRACE}s; killing it"
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
	echo "$SVC stopped"
}

# service_status says whether the service runs (exit 0) or not (exit 3, as
# LSB init scripts do).
service_status() {
	local pid
	if pid="$(pid_alive)"; then
		if svc_ready; then
			echo "$SVC running (pid $pid) on $HOST:$PORT$STATUS_EXTRA"
		else
			echo "$SVC running (pid $pid) on $HOST:$PORT but not answering"
		fi
		return 0
	fi
	echo "$SVC not running"
	return 3
}

# service_main runs a service script's command. start, stop and status hold
# a lock on the runtime dir, so two callers (make and CI, two terminals)
# cannot start two copies.
service_main() {
	mkdir -p "$DIR"
	case "${1:-}" in
	start | stop | status)
		exec 9>"$DIR/.lock"
		flock 9
		"service_$1"
		;;
	install) install ;;
	*)
		echo "usage: $0 {start|stop|status|install}" >&2
		exit 2
		;;
	esac
}
