#!/usr/bin/env bash
# churnflow local services: Apache Kafka (KRaft), a Confluent-API schema registry
# (Apicurio Registry) and Redis, installed from package registries only and run
# as plain processes bound to 127.0.0.1. See docs/services.md.
#
#   scripts/services/services.sh install [kafka|registry|redis|all]   (default: all)
#   scripts/services/services.sh start   [SERVICE...|all] [OPTIONS]   (installs if missing; waits until healthy)
#   scripts/services/services.sh stop    [SERVICE...|all]
#   scripts/services/services.sh restart SERVICE...|all [OPTIONS]     (stop + start, data kept)
#   scripts/services/services.sh kill    SERVICE...                   (SIGKILL: crash simulation)
#   scripts/services/services.sh status  [SERVICE...]                 (exit 1 unless all healthy)
#   scripts/services/services.sh env                                  (prints export lines)
#   scripts/services/services.sh logs    [SERVICE...] [LINES]
#   scripts/services/services.sh clean                                (stop all, delete runtime data)
#   SERVICE: kafka | registry | redis | redis-cluster (3 masters + 3 replicas; not part of 'all' for
#            start/restart, but 'stop all' and 'clean' include it; 'kill redis-cluster:PORT' kills one
#            node: see scripts/services/redis-cluster.sh)
#   OPTIONS: --aof / --no-aof (redis: appendonly + appendfsync always)
#            --persist / --no-persist (registry: file-backed H2 instead of in-memory)
#            without options, start/restart reuse the previous start's options
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

# ---------------------------------------------------------------- settings
KAFKA_VERSION="${CHURNFLOW_KAFKA_VERSION:-4.4.0}"
KAFKA_LOG4J_VERSION="${CHURNFLOW_KAFKA_LOG4J_VERSION:-2.25.5}"
KAFKA_PORT="${CHURNFLOW_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${CHURNFLOW_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_PARTITIONS="${CHURNFLOW_KAFKA_PARTITIONS:-1}"
KAFKA_HEAP="${CHURNFLOW_KAFKA_HEAP:--Xms128m -Xmx512m}"

# Apicurio 3.1+ is compiled for Java 21; 3.0.x runs on Java 17 and is the fallback
# when no Java >= 21 exists on the machine.
APICURIO_VERSION_NEW="3.3.3"
APICURIO_VERSION_J17="3.0.9"
REGISTRY_PORT="${CHURNFLOW_REGISTRY_PORT:-18081}"
REGISTRY_MGMT_PORT="${CHURNFLOW_REGISTRY_MGMT_PORT:-18082}"
REGISTRY_HEAP="${CHURNFLOW_REGISTRY_HEAP:--Xms64m -Xmx384m}"

REDIS_PORT="${CHURNFLOW_REDIS_PORT:-16390}"

CACHE_DIR="${CHURNFLOW_SERVICES_CACHE:-$HOME/.cache/churnflow/services}"
RUN_DIR="${CHURNFLOW_SERVICES_RUN:-$REPO_ROOT/.services}"

START_TIMEOUT="${CHURNFLOW_SERVICES_START_TIMEOUT:-120}"   # seconds per service
STOP_TIMEOUT="${CHURNFLOW_SERVICES_STOP_TIMEOUT:-30}"

ALL_SERVICES=(kafka registry redis)

# TLS/SASL listeners and their test certificates
# shellcheck source=scripts/services/secure.sh
source "$SCRIPT_DIR/secure.sh"
# the redis-cluster service lives in its own file
# shellcheck source=scripts/services/redis-cluster.sh
source "$SCRIPT_DIR/redis-cluster.sh"

# ---------------------------------------------------------------- helpers
log()  { printf '[services] %s\n' "$*" >&2; }
die()  { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }
now()  { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# java_major <java-binary> -> prints the feature version (17, 21, 25...)
java_major() {
  local out v
  out="$("$1" -version 2>&1)" || return 1
  v="$(awk -F'"' '/version/ { print $2; exit }' <<<"$out")"
  [[ -n "$v" ]] || return 1
  v="${v#1.}"
  printf '%s\n' "${v%%[.+-]*}"
}

# find_java <min-major> [explicit] -> prints a java binary whose version >= min
find_java() {
  local min="$1" explicit="${2:-}" c m
  local -a cands=()
  if [[ -n "$explicit" ]]; then
    if [[ -d "$explicit" ]]; then explicit="$explicit/bin/java"; fi
    cands+=("$explicit")
  fi
  if [[ -n "${JAVA_HOME:-}" ]]; then cands+=("$JAVA_HOME/bin/java"); fi
  if command -v java >/dev/null 2>&1; then cands+=("$(command -v java)"); fi
  for c in /usr/lib/jvm/*/bin/java; do if [[ -x "$c" ]]; then cands+=("$c"); fi; done
  for c in "${cands[@]}"; do
    [[ -x "$c" ]] || continue
    m="$(java_major "$c" 2>/dev/null)" || continue
    if [[ "$m" =~ ^[0-9]+$ ]] && (( m >= min )); then printf '%s\n' "$c"; return 0; fi
  done
  return 1
}

kafka_java() {
  find_java 17 "${CHURNFLOW_KAFKA_JAVA:-}" \
    || die "java not found: Kafka ${KAFKA_VERSION} needs Java >= 17 (install openjdk-17-jre-headless, or set CHURNFLOW_KAFKA_JAVA / JAVA_HOME)"
}

# Which Apicurio version and which java run it. Prints "<version> <java>".
registry_choice() {
  local j
  if [[ -n "${CHURNFLOW_APICURIO_VERSION:-}" ]]; then
    local min=21
    if [[ "$CHURNFLOW_APICURIO_VERSION" == 3.0.* ]]; then min=17; fi
    j="$(find_java "$min" "${CHURNFLOW_REGISTRY_JAVA:-}")" \
      || die "java not found: Apicurio Registry ${CHURNFLOW_APICURIO_VERSION} needs Java >= ${min} (set CHURNFLOW_REGISTRY_JAVA to a JDK/JRE home or java binary)"
    printf '%s %s\n' "$CHURNFLOW_APICURIO_VERSION" "$j"
  elif j="$(find_java 21 "${CHURNFLOW_REGISTRY_JAVA:-}")"; then
    printf '%s %s\n' "$APICURIO_VERSION_NEW" "$j"
  elif j="$(find_java 17 "${CHURNFLOW_REGISTRY_JAVA:-}")"; then
    log "no Java >= 21 found; using Apicurio Registry ${APICURIO_VERSION_J17} (Java 17) instead of ${APICURIO_VERSION_NEW}"
    printf '%s %s\n' "$APICURIO_VERSION_J17" "$j"
  else
    die "java not found: the schema registry needs Java >= 17 (>= 21 for Apicurio ${APICURIO_VERSION_NEW})"
  fi
}

# resolved once per invocation (java -version is not free)
KJAVA=""; RVER=""; RJAVA=""
ensure_kafka_java() { if [[ -z "$KJAVA" ]]; then KJAVA="$(kafka_java)"; fi; }
ensure_registry_choice() {
  if [[ -z "$RVER" ]]; then
    local c; c="$(registry_choice)"; RVER="${c%% *}"; RJAVA="${c#* }"
  fi
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 || die "mvn not found: install Maven (apt-get install -y maven) to download Kafka/Apicurio from Maven Central"
}

# mvn with quiet batch output; CHURNFLOW_MAVEN_REPO selects another local repository
mvn_run() {
  local -a extra=()
  if [[ -n "${CHURNFLOW_MAVEN_REPO:-}" ]]; then extra+=("-Dmaven.repo.local=$CHURNFLOW_MAVEN_REPO"); fi
  mvn -B -q -ntp "${extra[@]}" "$@"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(\(.*\))/\1/p' | head -n1 || true
  fi
}

# alive = exists and is not a zombie (daemons are re-parented to PID 1, which may reap late)
pid_alive() {
  [[ -n "${1:-}" ]] || return 1
  kill -0 "$1" 2>/dev/null || return 1
  local st=""
  if [[ -r "/proc/$1/stat" ]]; then st="$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null || true)"; fi
  [[ "$st" != Z ]]
}

svc_dir()     { printf '%s/%s\n' "$RUN_DIR" "$1"; }
svc_pidfile() { printf '%s/%s/%s.pid\n' "$RUN_DIR" "$1" "$1"; }
svc_log()     { printf '%s/%s/%s.log\n' "$RUN_DIR" "$1" "$1"; }
svc_pid() {
  local f; f="$(svc_pidfile "$1")"
  if [[ -f "$f" ]]; then tr -dc '0-9' <"$f" || true; fi
}
# the pid file's process is alive AND is still our service (pids get reused)
svc_running() {
  local pid; pid="$(svc_pid "$1")"
  pid_alive "$pid" || return 1
  local cmd=""; cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  case "$1" in
    kafka) [[ "$cmd" == *kafka.Kafka* ]] ;;
    registry) [[ "$cmd" == *apicurio-registry* ]] ;;
    redis) [[ "$cmd" == *redis-server* ]] ;;
  esac
}

svc_port() {
  case "$1" in
    kafka) echo "$KAFKA_PORT" ;; registry) echo "$REGISTRY_PORT" ;; redis) echo "$REDIS_PORT" ;;
  esac
}

show_log_tail() {
  local f="$1" n="${2:-40}"
  if [[ -f "$f" ]]; then
    printf '[services] ---- last %s lines of %s ----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf '[services] ----\n' >&2
  fi
}

# fail early if something else listens on one of our ports
check_port_free() {
  local svc="$1" port="$2" owner
  if port_open "$port"; then
    owner="$(port_owner "$port")"
    die "port busy: 127.0.0.1:${port} (needed by ${svc}) is already in use${owner:+ by ${owner}}; stop it or choose another port (see 'env' variables in docs/services.md)"
  fi
}

# start a detached process (own session), recording its pid
spawn() { # spawn <svc> <logfile> cmd...
  local svc="$1" logf="$2"; shift 2
  local pidf; pidf="$(svc_pidfile "$svc")"
  rm -f "$pidf"
  printf '==== %s: starting %s ====\n' "$(date '+%F %T')" "$svc" >>"$logf"
  # fd 9 is the run-dir lock: the daemon must not inherit it
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" </dev/null >>"$logf" 2>&1 9>&- &
  local _i
  for _i in $(seq 1 50); do if [[ -s "$pidf" ]]; then return 0; fi; sleep 0.1; done
  die "could not launch $svc"
}

# stop_pid <svc> <pid>: TERM, wait, KILL
stop_pid() {
  local svc="$1" pid="$2" _i
  kill -TERM "$pid" 2>/dev/null || true
  for _i in $(seq 1 $((STOP_TIMEOUT * 10))); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  log "$svc (pid $pid) did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _i in $(seq 1 50); do pid_alive "$pid" || return 0; sleep 0.1; done
  die "$svc (pid $pid) survived SIGKILL"
}

with_lock() { # serialise concurrent invocations on one run dir
  mkdir -p "$RUN_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$RUN_DIR/.lock"
    flock -w 300 9 || die "another services.sh holds $RUN_DIR/.lock"
  fi
}

# ================================================================= Kafka
kafka_home() { printf '%s/kafka-%s\n' "$CACHE_DIR" "$KAFKA_VERSION"; }

install_kafka() {
  local home t0; home="$(kafka_home)"; t0="$(now)"
  ensure_kafka_java; local java="$KJAVA"
  if [[ ! -f "$home/.complete" ]]; then
    need_mvn
    log "kafka: resolving org.apache.kafka:kafka_2.13:${KAFKA_VERSION} and its runtime dependencies from Maven Central"
    rm -rf "$home.tmp"; mkdir -p "$home.tmp"
    if ! mvn_run -f "$SCRIPT_DIR/kafka/pom.xml" \
        -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$KAFKA_LOG4J_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$home.tmp/libs" >"$home.tmp/mvn.log" 2>&1; then
      show_log_tail "$home.tmp/mvn.log" 40
      die "kafka: mvn dependency:copy-dependencies failed (is Maven Central reachable? is ${KAFKA_VERSION} a published version?)"
    fi
    ls "$home.tmp/libs"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka: kafka_2.13 jar missing after copy-dependencies"
    rm -rf "$home"; mv "$home.tmp" "$home"
    touch "$home/.complete"
  fi
  # readiness probe (tiny AdminClient program), compiled once per cached version
  if [[ ! -f "$home/health/KafkaHealth.class" || "$SCRIPT_DIR/kafka/KafkaHealth.java" -nt "$home/health/KafkaHealth.class" ]]; then
    local javac; javac="$(dirname "$(readlink -f "$java")")/javac"
    [[ -x "$javac" ]] || javac="$(command -v javac || true)"
    [[ -x "$javac" ]] || die "javac not found (needed once to build the Kafka readiness probe; install openjdk-17-jdk-headless)"
    mkdir -p "$home/health"
    "$javac" -nowarn -d "$home/health" -cp "$home/libs/*" "$SCRIPT_DIR/kafka/KafkaHealth.java" \
      || die "kafka: compiling the readiness probe failed"
  fi
  log "kafka ${KAFKA_VERSION} installed in $home ($(elapsed "$t0")s)"
}

kafka_write_config() {
  local dir; dir="$(svc_dir kafka)"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# generated by scripts/services/services.sh -- single-node KRaft (broker + controller)
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT},$(kafka_secure_listeners)
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT},$(kafka_secure_listeners)
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
log.dirs=${dir}/data
num.partitions=${KAFKA_PARTITIONS}
default.replication.factor=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# after a crash (kill) the restarted broker must wait for its old registration to
# expire before it can register again: keep that short (defaults 9000 / 2000)
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
# Time-based retention off: simulated and replayed records carry their event time (often long past)
# as the message timestamp, which a 7-day retention would delete within minutes.
log.retention.ms=-1
$(kafka_secure_properties)
EOF
  cat >"$dir/log4j2.properties" <<EOF
# generated by scripts/services/services.sh
status = warn
# Kafka logs its own shutdown from a JVM shutdown hook: keep log4j alive until the end
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${dir}/kafka.log
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.zk.name = org.apache.kafka.clients
logger.zk.level = WARN
EOF
}

kafka_cp() { printf '%s/libs/*\n' "$(kafka_home)"; }

kafka_format_if_needed() {
  local dir cid stamp; dir="$(svc_dir kafka)"
  ensure_kafka_java; local java="$KJAVA"
  stamp="controller=127.0.0.1:${KAFKA_CONTROLLER_PORT} version=${KAFKA_VERSION} $(kafka_secure_stamp)"
  if [[ -f "$dir/data/meta.properties" ]]; then
    if [[ "$(cat "$dir/formatted-for" 2>/dev/null)" == "$stamp" ]]; then return 0; fi
    log "kafka: data in $dir/data was formatted for '$(cat "$dir/formatted-for" 2>/dev/null)', now '$stamp'; wiping it"
    rm -rf "$dir/data"; mkdir -p "$dir/data"
  fi
  # what 'StorageTool random-uuid' prints (a base64url UUID), without starting a JVM for it
  cid=""
  while [[ -z "$cid" || "$cid" == -* ]]; do
    cid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  local -a scram; mapfile -t scram < <(kafka_scram_format_args)
  if ! "$java" -cp "$(kafka_cp)" -Dlog4j2.configurationFile="$dir/log4j2.properties" \
        kafka.tools.StorageTool format --standalone -t "$cid" -c "$dir/server.properties" "${scram[@]}" \
        >>"$dir/kafka.out" 2>&1; then
    show_log_tail "$dir/kafka.out"; die "kafka: StorageTool format failed"
  fi
  echo "$cid" >"$dir/cluster-id"
  echo "$stamp" >"$dir/formatted-for"
}

launch_kafka() {
  local dir; dir="$(svc_dir kafka)"
  [[ -f "$(kafka_home)/.complete" ]] || install_kafka
  ensure_kafka_java; local java="$KJAVA"
  check_port_free kafka "$KAFKA_PORT"
  check_port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
  check_port_free kafka-tls "$KAFKA_TLS_PORT"
  check_port_free kafka-sasl "$KAFKA_SASL_PORT"
  tls_certs
  kafka_write_config
  kafka_format_if_needed
  KAFKA_LOG_OFFSET="$(stat -c %s "$dir/kafka.log" 2>/dev/null || echo 0)"
  # shellcheck disable=SC2086
  spawn kafka "$dir/kafka.out" "$java" -server $KAFKA_HEAP \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir" \
    -cp "$(kafka_cp)" kafka.Kafka "$dir/server.properties"
}

KAFKA_LOG_OFFSET=""
kafka_healthy() {
  port_open "$KAFKA_PORT" || return 1
  # while booting, don't compete for the CPU with a probe JVM: first wait for the log line
  if [[ -n "$KAFKA_LOG_OFFSET" ]]; then
    grep -q 'Kafka Server started' < <(tail -c +"$((KAFKA_LOG_OFFSET + 1))" "$(svc_dir kafka)/kafka.log" 2>/dev/null) \
      || return 1
  fi
  ensure_kafka_java
  "$KJAVA" -Xmx64m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.level=OFF \
    -Dlog4j2.configurationFile=/dev/null -cp "$(kafka_home)/health:$(kafka_cp)" \
    KafkaHealth "127.0.0.1:${KAFKA_PORT}" 5000 >/dev/null 2>&1
}

# ================================================================= Registry
registry_home() { printf '%s/apicurio-registry-%s\n' "$CACHE_DIR" "$1"; }

install_registry() {
  local home t0; t0="$(now)"
  ensure_registry_choice; local ver="$RVER" java="$RJAVA"
  home="$(registry_home "$ver")"
  if [[ ! -f "$home/.complete" ]]; then
    need_mvn
    command -v tar >/dev/null 2>&1 || die "tar not found"
    log "registry: downloading io.apicurio:apicurio-registry-app:${ver}:tar.gz:all from Maven Central (~160 MB)"
    rm -rf "$home.tmp"; mkdir -p "$home.tmp"
    if ! (cd "$home.tmp" && mvn_run dependency:copy \
          -Dartifact="io.apicurio:apicurio-registry-app:${ver}:tar.gz:all" \
          -DoutputDirectory="$home.tmp" >"$home.tmp/mvn.log" 2>&1); then
      show_log_tail "$home.tmp/mvn.log" 40
      die "registry: mvn dependency:copy of apicurio-registry-app ${ver} failed"
    fi
    tar -xzf "$home.tmp/apicurio-registry-app-${ver}-all.tar.gz" -C "$home.tmp" \
      || die "registry: unpacking the Apicurio tarball failed"
    rm -f "$home.tmp/apicurio-registry-app-${ver}-all.tar.gz"
    rm -rf "$home"; mv "$home.tmp" "$home"
    registry_jar "$home" >/dev/null || die "registry: no quarkus-run.jar / *-runner.jar in $home"
    touch "$home/.complete"
  fi
  log "registry (Apicurio ${ver}, $("$java" -version 2>&1 | head -n1)) installed in $home ($(elapsed "$t0")s)"
}

registry_jar() {
  local home="$1" j
  if [[ -f "$home/quarkus-run.jar" ]]; then echo "$home/quarkus-run.jar"; return 0; fi
  for j in "$home"/*-runner.jar; do if [[ -f "$j" ]]; then echo "$j"; return 0; fi; done
  return 1
}

registry_base() { printf 'http://127.0.0.1:%s/apis/ccompat/v7\n' "$REGISTRY_PORT"; }

launch_registry() {
  local persist="$1" dir home jar
  dir="$(svc_dir registry)"; mkdir -p "$dir"
  ensure_registry_choice; local ver="$RVER" java="$RJAVA"
  home="$(registry_home "$ver")"
  [[ -f "$home/.complete" ]] || install_registry
  jar="$(registry_jar "$home")"
  check_port_free registry "$REGISTRY_PORT"
  check_port_free registry-management "$REGISTRY_MGMT_PORT"
  check_port_free registry-tls "$REGISTRY_TLS_PORT"
  tls_certs
  local -a tls; mapfile -t tls < <(registry_tls_args)
  local -a storage=()
  if [[ "$persist" == 1 ]]; then
    mkdir -p "$dir/h2"
    storage=("-Dapicurio.datasource.url=jdbc:h2:file:${dir}/h2/registry;DB_CLOSE_ON_EXIT=FALSE")
  fi
  echo "$ver" >"$dir/version"
  # shellcheck disable=SC2086
  spawn registry "$dir/registry.log" "$java" $REGISTRY_HEAP -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    -Djava.net.preferIPv4Stack=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MGMT_PORT" \
    -Dquarkus.http.access-log.enabled=false \
    '-Dquarkus.log.console.format=%d{yyyy-MM-dd HH:mm:ss,SSS} %p [%c{3.}] (%t) %m%n' \
    '-Dquarkus.log.category."io.apicurio.registry.logging.audit".level=WARN' \
    -Dapicurio.rules.global.compatibility=BACKWARD \
    -Dapicurio.rest.deletion.artifact.enabled=true \
    -Dapicurio.rest.deletion.artifact-version.enabled=true \
    -Dapicurio.rest.deletion.group.enabled=true \
    "${storage[@]}" "${tls[@]}" \
    -jar "$jar"
}

registry_healthy() {
  port_open "$REGISTRY_PORT" || return 1
  curl -fsS -m 5 -o /dev/null "$(registry_base)/subjects" 2>/dev/null
}

# Confluent's registry defaults to BACKWARD compatibility; Apicurio 3.3 takes it from
# apicurio.rules.global.compatibility, older 3.0.x needs it set through the API.
registry_after_start() {
  local dir; dir="$(svc_dir registry)"
  if [[ -f "$dir/compat-set" && -f "$dir/persist" ]]; then return 0; fi
  local cfg; cfg="$(curl -fsS -m 5 "$(registry_base)/config" 2>/dev/null || true)"
  if [[ "$cfg" == *'"NONE"'* ]]; then
    curl -fsS -m 5 -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
      -d '{"compatibility":"BACKWARD"}' "$(registry_base)/config" >/dev/null \
      || log "registry: could not set global compatibility to BACKWARD"
  fi
  touch "$dir/compat-set"
}

# ================================================================= Redis
install_redis() {
  local t0; t0="$(now)"
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "redis-server not found and apt-get is unavailable"
    local sudo=""; if [[ "$(id -u)" -ne 0 ]]; then sudo="sudo"; fi
    log "redis: installing Debian's redis-server with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y -q --no-install-recommends redis-server >"$CACHE_DIR/apt-redis.log" 2>&1; then
      log "redis: apt-get install failed, running apt-get update first"
      $sudo apt-get update -q >>"$CACHE_DIR/apt-redis.log" 2>&1 || true
      $sudo apt-get install -y -q --no-install-recommends redis-server >>"$CACHE_DIR/apt-redis.log" 2>&1 \
        || { show_log_tail "$CACHE_DIR/apt-redis.log" 30; die "redis: apt-get install redis-server failed"; }
    fi
  fi
  log "redis installed: $(redis-server --version | head -n1) ($(elapsed "$t0")s)"
}

redis_cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

launch_redis() {
  local aof="$1" dir; dir="$(svc_dir redis)"
  mkdir -p "$dir/data"
  command -v redis-server >/dev/null 2>&1 || install_redis
  check_port_free redis "$REDIS_PORT"
  check_port_free redis-tls "$REDIS_TLS_PORT"
  tls_certs
  local -a tls; mapfile -t tls < <(redis_tls_args)
  local -a persistence
  if [[ "$aof" == 1 ]]; then
    # every write is fsync'ed before it is acknowledged: survives kill -9 of redis
    persistence=(--appendonly yes --appendfsync always --save "")
  else
    # in-memory; 'stop'/'restart' still keep data through SHUTDOWN SAVE (dump.rdb)
    persistence=(--appendonly no --save "")
  fi
  rm -f "$dir/redis.pid"
  # hash-max-listpack-value 1024: churnflow's per-customer hashes hold day buckets of up to ~300 bytes;
  # the default (64) would push every customer to the larger hashtable encoding (docs/architecture.md).
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes --hash-max-listpack-value 1024 \
    --dir "$dir/data" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --dbfilename dump.rdb --appenddirname appendonlydir "${persistence[@]}" "${tls[@]}" \
    >>"$dir/redis.out" 2>&1 9>&- </dev/null || { show_log_tail "$dir/redis.log"; show_log_tail "$dir/redis.out"; die "redis-server failed to start"; }
  local _i
  for _i in $(seq 1 50); do if [[ -s "$dir/redis.pid" ]]; then break; fi; sleep 0.1; done
}

redis_healthy() {
  port_open "$REDIS_PORT" || return 1
  [[ "$(redis_cli ping 2>/dev/null)" == "PONG" ]] || return 1
  # still loading a big AOF/RDB answers PING with -LOADING in older versions
  local info; info="$(redis_cli info persistence 2>/dev/null || true)"
  [[ "$info" == *"loading:0"* ]]
}

# ================================================================= generic verbs
healthy() { "${1}_healthy"; }

# remember start options so that 'restart' reuses them
save_opts() { mkdir -p "$(svc_dir "$1")"; printf 'aof=%s\npersist=%s\n' "$AOF" "$PERSIST" >"$(svc_dir "$1")/start.opts"; }
# without explicit options, start/restart reuse the options of the previous start
# (so 'kill redis' + 'start redis' comes back with AOF if it ran with --aof)
load_opts() {
  local f; f="$(svc_dir "$1")/start.opts"
  [[ "$OPTS_GIVEN" == 0 ]] || return 0
  AOF=0; PERSIST=0
  if [[ -f "$f" ]]; then
    AOF="$(sed -n 's/^aof=//p' "$f")"; PERSIST="$(sed -n 's/^persist=//p' "$f")"
  fi
}

# launch (no wait). Prints nothing if already running.
launch() {
  local svc="$1"
  if svc_running "$svc"; then
    return 0
  fi
  rm -f "$(svc_pidfile "$svc")"
  mkdir -p "$(svc_dir "$svc")"
  case "$svc" in
    kafka) launch_kafka ;;
    registry) launch_registry "$PERSIST"; if [[ "$PERSIST" == 1 ]]; then touch "$(svc_dir registry)/persist"; else rm -f "$(svc_dir registry)/persist" "$(svc_dir registry)/compat-set"; fi ;;
    redis) launch_redis "$AOF" ;;
  esac
  save_opts "$svc"
  echo launched >"$(svc_dir "$svc")/.launched"
}

wait_healthy() {
  local svc="$1" t0 deadline logf; t0="$(now)"
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  logf="$(svc_log "$svc")"
  if [[ "$svc" == kafka ]]; then logf="$(svc_dir kafka)/kafka.log"; fi
  while :; do
    if ! svc_running "$svc"; then
      if [[ "$svc" == kafka ]]; then show_log_tail "$(svc_dir kafka)/kafka.out" 20; fi
      show_log_tail "$logf" 40
      die "$svc failed to start (process exited)"
    fi
    if healthy "$svc"; then break; fi
    if (( $(date +%s) >= deadline )); then
      show_log_tail "$logf" 40
      die "$svc failed to start: not healthy after ${START_TIMEOUT}s"
    fi
    sleep 0.3
  done
  if [[ "$svc" == registry ]]; then registry_after_start; fi
  if [[ -f "$(svc_dir "$svc")/.launched" ]]; then
    rm -f "$(svc_dir "$svc")/.launched"
    log "$svc started (pid $(svc_pid "$svc"), 127.0.0.1:$(svc_port "$svc"), ready after $(elapsed "$t0")s of waiting)"
  else
    log "$svc already running (pid $(svc_pid "$svc"), 127.0.0.1:$(svc_port "$svc"))"
  fi
}

stop_svc() {
  local svc="$1" pid; pid="$(svc_pid "$svc")"
  if ! svc_running "$svc"; then
    rm -f "$(svc_pidfile "$svc")"
    log "$svc not running"
    return 0
  fi
  local t0; t0="$(now)"
  if [[ "$svc" == redis ]]; then
    # persist the dataset on a clean stop so that restart keeps data in every mode
    redis_cli shutdown save >/dev/null 2>&1 || true
  fi
  stop_pid "$svc" "$pid"
  rm -f "$(svc_pidfile "$svc")"
  log "$svc stopped ($(elapsed "$t0")s)"
}

kill_svc() {
  local svc="$1" pid; pid="$(svc_pid "$svc")"
  svc_running "$svc" || { log "$svc not running"; return 0; }
  kill -KILL "$pid" 2>/dev/null || true
  local _i; for _i in $(seq 1 50); do pid_alive "$pid" || break; sleep 0.1; done
  rm -f "$(svc_pidfile "$svc")"
  log "$svc killed with SIGKILL (pid $pid); data left as a crash would leave it"
}

# prints one line per service; returns 1 if the service is not running and healthy
status_svc() {
  local svc="$1" pid state port owner rc=0
  pid="$(svc_pid "$svc")"; port="$(svc_port "$svc")"
  if svc_running "$svc"; then
    if healthy "$svc"; then state="running, healthy"; else state="running, NOT healthy"; rc=1; fi
    printf '%-9s %-22s pid %-8s 127.0.0.1:%s\n' "$svc" "$state" "$pid" "$port"
  else
    rc=1
    owner=""
    if port_open "$port"; then owner="$(port_owner "$port")"; owner="port in use${owner:+ by $owner}"; fi
    printf '%-9s %-22s %-12s 127.0.0.1:%s %s\n' "$svc" "stopped" "" "$port" "$owner"
  fi
  return "$rc"
}

print_env() {
  cat <<EOF
export CHURNFLOW_KAFKA_BROKERS=127.0.0.1:${KAFKA_PORT}
export CHURNFLOW_SCHEMA_REGISTRY_URL=$(registry_base)
export CHURNFLOW_REDIS_URL=redis://127.0.0.1:${REDIS_PORT}
EOF
  print_secure_env
  rcluster_env
}

usage() {
  sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

# ---------------------------------------------------------------- argument parsing
CMD="${1:-}"; if [[ $# -gt 0 ]]; then shift; fi
AOF=0; PERSIST=0; OPTS_GIVEN=0
SVCS=()
LINES=60
CLUSTER=0; CLUSTER_NODE=""; ALL_GIVEN=0
for a in "$@"; do
  case "$a" in
    --aof) AOF=1; OPTS_GIVEN=1 ;;
    --no-aof) AOF=0; OPTS_GIVEN=1 ;;
    --persist) PERSIST=1; OPTS_GIVEN=1 ;;
    --no-persist) PERSIST=0; OPTS_GIVEN=1 ;;
    all) SVCS=("${ALL_SERVICES[@]}"); ALL_GIVEN=1 ;;
    kafka|registry|redis) SVCS+=("$a") ;;
    redis-cluster) CLUSTER=1 ;;
    redis-cluster:[0-9]*) CLUSTER=1; CLUSTER_NODE="${a#redis-cluster:}" ;;
    [0-9]*) LINES="$a" ;;
    -h|--help) usage 0 ;;
    *) die "unknown argument '$a' (services: kafka registry redis redis-cluster all; options: --aof --persist)" ;;
  esac
done
if [[ ${#SVCS[@]} -eq 0 && "$CLUSTER" == 0 ]]; then SVCS=("${ALL_SERVICES[@]}"); ALL_GIVEN=1; fi
if [[ -n "$CLUSTER_NODE" && "$CMD" != kill ]]; then die "redis-cluster:PORT is for 'kill' only (start/stop/status take redis-cluster)"; fi

mkdir -p "$CACHE_DIR"

case "$CMD" in
  install)
    t0="$(now)"
    for s in "${SVCS[@]}"; do "install_$s"; done
    log "install done ($(elapsed "$t0")s)"
    ;;
  start)
    with_lock
    t0="$(now)"
    # launch everything first (the JVMs boot in parallel), then wait for each
    # Kafka last: its first start formats the storage, let the registry JVM boot meanwhile
    for s in "${SVCS[@]}"; do [[ "$s" == kafka ]] || { load_opts "$s"; launch "$s"; }; done
    for s in "${SVCS[@]}"; do [[ "$s" != kafka ]] || { load_opts "$s"; launch "$s"; }; done
    for s in "${SVCS[@]}"; do wait_healthy "$s"; done
    if [[ "$CLUSTER" == 1 ]]; then rcluster_start; fi
    log "start done ($(elapsed "$t0")s)"
    ;;
  stop)
    with_lock
    for s in "${SVCS[@]}"; do stop_svc "$s"; done
    if [[ "$CLUSTER" == 1 || "$ALL_GIVEN" == 1 ]]; then rcluster_stop; fi
    ;;
  restart)
    [[ $# -gt 0 ]] || die "restart needs a service: kafka, registry, redis or all"
    with_lock
    t0="$(now)"
    for s in "${SVCS[@]}"; do
      load_opts "$s"
      stop_svc "$s"
      launch "$s"
      wait_healthy "$s"
    done
    if [[ "$CLUSTER" == 1 ]]; then rcluster_stop; rcluster_start; fi
    log "restart done ($(elapsed "$t0")s)"
    ;;
  kill)
    [[ $# -gt 0 ]] || die "kill needs a service: kafka, registry or redis"
    with_lock
    for s in "${SVCS[@]}"; do kill_svc "$s"; done
    if [[ "$CLUSTER" == 1 ]]; then rcluster_kill "$CLUSTER_NODE"; fi
    ;;
  status)
    rc=0
    for s in "${SVCS[@]}"; do status_svc "$s" || rc=1; done
    if [[ "$CLUSTER" == 1 ]]; then rcluster_status || rc=1; fi
    exit "$rc"
    ;;
  env)
    print_env
    ;;
  logs)
    for s in "${SVCS[@]}"; do
      f="$(svc_log "$s")"; if [[ "$s" == kafka ]]; then f="$(svc_dir kafka)/kafka.log"; fi
      show_log_tail "$f" "$LINES"
    done
    if [[ "$CLUSTER" == 1 ]]; then rcluster_logs "$LINES"; fi
    ;;
  clean)
    with_lock
    for s in "${ALL_SERVICES[@]}"; do stop_svc "$s"; done
    for s in "${ALL_SERVICES[@]}"; do rm -rf "${RUN_DIR:?}/$s"; done
    rcluster_clean
    log "removed runtime data under $RUN_DIR"
    ;;
  ""|-h|--help|help) usage 0 ;;
  *) die "unknown command '$CMD' (install start stop restart kill status env logs clean)" ;;
esac
