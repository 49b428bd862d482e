#!/usr/bin/env bash
# Runs a one-node Apache Kafka (KRaft, combined broker+controller) for the
# integration tests and CI. Kafka's jars come from Maven Central through mvn
# into a cache outside the repository; data and logs live under .local/kafka.
#
#   deploy/local/kafka.sh start    install if missing, start, wait until it answers
#   deploy/local/kafka.sh stop     stop the broker started by this script
#   deploy/local/kafka.sh status   say whether it runs (exit 0) or not (exit 3)
#
# Environment:
#   LOCKSTEP_KAFKA_PORT             broker (client) port, default 19092
#   LOCKSTEP_KAFKA_CONTROLLER_PORT  KRaft controller port, default broker port + 1
#   LOCKSTEP_KAFKA_VERSION          org.apache.kafka:kafka_2.13 version, default 4.4.0
#   LOCKSTEP_KAFKA_HEAP             JVM max heap, default 768m
#   LOCKSTEP_LOCAL_DIR              runtime dir, default <repo>/.local
#   LOCKSTEP_CACHE                  download cache, default ~/.cache/lockstep
#   LOCKSTEP_KAFKA_START_TIMEOUT    seconds to wait for the broker, default 120
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VERSION="${LOCKSTEP_KAFKA_VERSION:-4.4.0}"
PORT="${LOCKSTEP_KAFKA_PORT:-19092}"
CPORT="${LOCKSTEP_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
HEAP="${LOCKSTEP_KAFKA_HEAP:-768m}"
CACHE="${LOCKSTEP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lockstep}"
DIST="$CACHE/kafka-$VERSION"
LIBS="$DIST/libs"
DIR="$LOCAL/kafka"
DATA="$DIR/data"
CONF="$DIR/server.properties"
LOG4J="$DIR/log4j2.properties"
LOGFILE="$DIR/kafka.log"
PIDFILE="$DIR/kafka.pid"
TIMEOUT="${LOCKSTEP_KAFKA_START_TIMEOUT:-120}"

# What lib.sh's service_* functions need to know.
SVC=kafka
NOUN=broker
PID_MATCH="kafka.Kafka $CONF"
PORTS=("$PORT")
PORT_ENV=LOCKSTEP_KAFKA_PORT
PROBE_PORT=$PORT
LOGS=("$LOGFILE" "$DIR/kafka.stdout")
LOG_HINT="logs: $LOGFILE"
STATUS_EXTRA=""

# ---------------------------------------------------------------- install ---

install() {
	if [[ -f "$DIST/.complete" ]]; then
		return 0
	fi
	command -v java >/dev/null || die "java not found (Kafka $VERSION needs Java 17+)"
	command -v mvn >/dev/null || die "mvn not found (used to fetch Kafka from Maven Central)"
	local start=$SECONDS
	log "fetching org.apache.kafka:kafka_2.13:$VERSION from Maven Central into $DIST"
	mkdir -p "$DIST"
	local work
	work="$(mktemp -d "$DIST/.fetch.XXXXXX")"
	# kafka_2.13 is the broker (kafka.Kafka, kafka.tools.StorageTool) and pulls in
	# kafka-server, kafka-storage, kafka-raft, kafka-metadata, the coordinators,
	# jackson, scala and log4j-core. Added by hand: kafka-tools (admin CLIs, used
	# only for debugging; connect-runtime and its web stack are left out) and
	# log4j-slf4j-impl, the binding for the slf4j 1.7 API Kafka logs through;
	# without it slf4j falls back to NOP and the broker log stays empty.
	cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.lockstep.local</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>$VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.25.5</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>2.8</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
	if ! (cd "$work" && mvn -q -B -f pom.xml dependency:copy-dependencies \
		-DoutputDirectory="$work/libs" -DincludeScope=runtime >"$work/mvn.log" 2>&1); then
		cat "$work/mvn.log" >&2
		rm -rf "$work"
		die "mvn could not fetch Kafka $VERSION"
	fi
	local jar
	for jar in kafka_2.13 kafka-server kafka-storage kafka-raft kafka-metadata kafka-clients kafka-tools log4j-core log4j-slf4j-impl; do
		compgen -G "$work/libs/$jar-[0-9]*.jar" >/dev/null || die "fetched Kafka is missing $jar (see $work)"
	done
	rm -rf "$LIBS"
	mv "$work/libs" "$LIBS"
	cp "$work/pom.xml" "$DIST/pom.xml"
	rm -rf "$work"
	touch "$DIST/.complete"
	log "installed Kafka $VERSION ($(find "$LIBS" -name '*.jar' | wc -l) jars) in $((SECONDS - start))s"
}

# --------------------------------------------------------------- process ---

# metadata_ok sends a Kafka Metadata v1 request (all topics) over bash's
# /dev/tcp and checks that the reply carries our correlation id and at least
# one broker: the broker is up, unfenced and serving clients.
metadata_ok() {
	local client="lockstep" reply
	# size(4) | api_key=3 (Metadata) | api_version=1 | correlation_id=0x4c53 |
	# client_id (int16 length + bytes) | topics = null (int32 -1: all topics)
	local size=$((2 + 2 + 4 + 2 + ${#client} + 4))
	local fmt
	fmt="$(printf '\\x00\\x00\\x00\\x%02x\\x00\\x03\\x00\\x01\\x00\\x00\\x4c\\x53\\x00\\x%02x%s\\xff\\xff\\xff\\xff' \
		"$size" "${#client}" "$client")"
	reply="$(
		exec 2>/dev/null
		exec 3<>"/dev/tcp/$HOST/$PORT" || exit 1
		# shellcheck disable=SC2059
		printf "$fmt" >&3
		timeout 5 head -c 16 <&3 | od -An -tx1 | tr -d ' \n'
	)" 2>/dev/null || return 1
	# reply: size(4) | correlation_id(4) | brokers count(4) | first node_id(4)
	[[ ${#reply} -ge 24 && "${reply:8:8}" == "00004c53" && "${reply:16:8}" != "00000000" ]]
}

write_config() {
	mkdir -p "$DATA"
	cat >"$CONF" <<EOF
# Generated by deploy/local/kafka.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CPORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CPORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA

# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# Tests create their own topics; new consumer groups start at once.
auto.create.topics.enable=false
num.partitions=6
group.initial.rebalance.delay.ms=0

# Small footprint for a laptop or a CI box.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.cleaner.backoff.ms=5000
log.retention.hours=24
log.segment.bytes=67108864
EOF
	cat >"$LOG4J" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $LOGFILE
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.zk.name = org.apache.kafka.clients
logger.zk.level = WARN
EOF
}

format_storage() {
	[[ -f "$DATA/meta.properties" ]] && return 0
	# A cluster id is 16 random bytes, base64url without padding.
	local cluster_id
	# One starting with '-' reads as an option to kafka-storage's argument
	# parser (one start in 64 failed so), hence the "=" form below.
	cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
	log "formatting $DATA (cluster $cluster_id)"
	java -Xmx256m -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS/*" kafka.tools.StorageTool \
		format --cluster-id="$cluster_id" -c "$CONF" --ignore-formatted >>"$DIR/format.log" 2>&1 ||
		{ cat "$DIR/format.log" >&2; die "storage format failed"; }
}

svc_ready() { metadata_ok; }

svc_prepare() {
	write_config
	format_storage
}

svc_launch() {
	# 9>&-: the broker must not inherit the lock fd, or it would hold the
	# lock for as long as it runs.
	# shellcheck disable=SC2086
	nohup java -Xms256m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
		-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$LOG4J" -Dkafka.logs.dir="$DIR" \
		-cp "$LIBS/*" kafka.Kafka "$CONF" >>"$DIR/kafka.stdout" 2>&1 </dev/null 9>&- &
}

service_main "$@"
