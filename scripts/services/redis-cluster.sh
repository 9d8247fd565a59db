# shellcheck shell=bash
# Sourced by services.sh: the `redis-cluster` service, a local Redis Cluster of 3 masters and 3 replicas
# (6 redis-server processes on 127.0.0.1, ports CHURNFLOW_REDIS_CLUSTER_PORT .. +5, cluster bus on
# port + 10000). Every node runs with appendonly + appendfsync always, and a short cluster-node-timeout
# so that a killed master's replica takes over within a few seconds (the failover fault test).
#
#   start  redis-cluster        launches the nodes that are not running, creates the cluster on the first
#                               start, waits until every slot is served and every master has a replica in sync
#   stop   redis-cluster        SHUTDOWN of every node (data kept: AOF + nodes.conf)
#   kill   redis-cluster        SIGKILL of every node
#   kill   redis-cluster:PORT   SIGKILL of one node (a master's replica is promoted after the node timeout;
#                               `start redis-cluster` brings the node back, it rejoins as a replica)
#   status redis-cluster        one line per node: role, pid, port

# Default 16400 with the default Redis port: it follows CHURNFLOW_REDIS_PORT like the TLS ports do.
RCLUSTER_BASE="${CHURNFLOW_REDIS_CLUSTER_PORT:-$((REDIS_PORT + 10))}"
RCLUSTER_NODE_TIMEOUT="${CHURNFLOW_REDIS_CLUSTER_NODE_TIMEOUT_MS:-2000}"
RCLUSTER_SIZE=6

rcluster_ports() { local i; for ((i = 0; i < RCLUSTER_SIZE; i++)); do echo $((RCLUSTER_BASE + i)); done; }
rcluster_dir() { printf '%s/redis-cluster\n' "$RUN_DIR"; }
rcluster_node_dir() { printf '%s/redis-cluster/%s\n' "$RUN_DIR" "$1"; }
rcluster_pid() {
  local f; f="$(rcluster_node_dir "$1")/redis.pid"
  if [[ -f "$f" ]]; then tr -dc '0-9' <"$f" || true; fi
}
rcluster_cli() { local port="$1"; shift; redis-cli -h 127.0.0.1 -p "$port" "$@"; }

# the pid file's process is alive and is the redis-server of that port (pids get reused)
rcluster_node_running() {
  local pid; pid="$(rcluster_pid "$1")"
  pid_alive "$pid" || return 1
  local cmd=""; cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *redis-server*":$1"* ]]
}

rcluster_launch_node() {
  local port="$1" dir; dir="$(rcluster_node_dir "$port")"
  rcluster_node_running "$port" && return 0
  mkdir -p "$dir"
  check_port_free redis-cluster "$port"
  check_port_free redis-cluster-bus "$((port + 10000))"
  rm -f "$dir/redis.pid"
  # AOF fsync'ed on every write on every node: a killed node loses nothing it acknowledged; what a
  # killed master had not yet sent to its replica is the engine's business (WAIT, docs/architecture.md).
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --hash-max-listpack-value 1024 \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$RCLUSTER_NODE_TIMEOUT" \
    --appendonly yes --appendfsync always --save "" --appenddirname appendonlydir \
    --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    >>"$dir/redis.out" 2>&1 9>&- </dev/null || { show_log_tail "$dir/redis.log"; die "redis-cluster: redis-server on port $port failed to start"; }
  local _i
  for _i in $(seq 1 50); do if [[ -s "$dir/redis.pid" ]]; then break; fi; sleep 0.1; done
  log "redis-cluster: node 127.0.0.1:$port started (pid $(rcluster_pid "$port"))"
}

# Healthy: every node answers with cluster_state:ok, all nodes agree that no node is failing, 3 masters
# own slots and each has a replica whose link is up and not syncing (so WAIT 1 can succeed).
rcluster_healthy() {
  local port info nodes masters replicas
  for port in $(rcluster_ports); do
    rcluster_node_running "$port" || return 1
    info="$(rcluster_cli "$port" cluster info 2>/dev/null)" || return 1
    [[ "$info" == *"cluster_state:ok"* ]] || return 1
    nodes="$(rcluster_cli "$port" cluster nodes 2>/dev/null)" || return 1
    # a line per node: id addr flags master-id ping pong epoch link-state slots...
    if awk '$3 ~ /fail|handshake|noaddr/ || $8 != "connected" { bad = 1 } END { exit bad ? 0 : 1 }' <<<"$nodes"; then return 1; fi
    masters="$(awk '$3 ~ /master/ && NF >= 9 { n++ } END { print n + 0 }' <<<"$nodes")"
    [[ "$masters" == 3 ]] || return 1
    # every master with slots has a replica pointing at it
    replicas="$(awk '$3 ~ /master/ && NF >= 9 { m[$1] = 1 } $3 ~ /slave/ { r[$4] = 1 } END { n = 0; for (id in m) if (id in r) n++; print n }' <<<"$nodes")"
    [[ "$replicas" == 3 ]] || return 1
    info="$(rcluster_cli "$port" info replication 2>/dev/null)" || return 1
    if [[ "$info" == *"role:slave"* ]]; then
      [[ "$info" == *"master_link_status:up"* && "$info" == *"master_sync_in_progress:0"* ]] || return 1
    fi
  done
}

rcluster_create_if_needed() {
  local marker; marker="$(rcluster_dir)/created"
  [[ -f "$marker" ]] && return 0
  local -a addrs=(); local port
  for port in $(rcluster_ports); do addrs+=("127.0.0.1:$port"); done
  log "redis-cluster: creating the cluster (3 masters, 3 replicas) on ${addrs[*]}"
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$(rcluster_dir)/create.log" 2>&1 \
    || { show_log_tail "$(rcluster_dir)/create.log"; die "redis-cluster: redis-cli --cluster create failed (a stale nodes.conf? run: services.sh clean)"; }
  touch "$marker"
}

rcluster_start() {
  local t0 port deadline _i; t0="$(now)"
  command -v redis-server >/dev/null 2>&1 || install_redis
  (( RCLUSTER_BASE >= 1024 && RCLUSTER_BASE + RCLUSTER_SIZE - 1 + 10000 <= 65535 )) \
    || die "CHURNFLOW_REDIS_CLUSTER_PORT must be in [1024, 55530] (the cluster bus uses port + 10000), got $RCLUSTER_BASE"
  mkdir -p "$(rcluster_dir)"
  for port in $(rcluster_ports); do rcluster_launch_node "$port"; done
  for port in $(rcluster_ports); do
    for _i in $(seq 1 100); do [[ "$(rcluster_cli "$port" ping 2>/dev/null)" == PONG ]] && break; sleep 0.1; done
  done
  rcluster_create_if_needed
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  until rcluster_healthy; do
    for port in $(rcluster_ports); do
      rcluster_node_running "$port" || { show_log_tail "$(rcluster_node_dir "$port")/redis.log"; die "redis-cluster: node $port exited"; }
    done
    if (( $(date +%s) >= deadline )); then
      rcluster_status || true
      die "redis-cluster failed to start: not healthy after ${START_TIMEOUT}s"
    fi
    sleep 0.3
  done
  log "redis-cluster healthy (127.0.0.1:${RCLUSTER_BASE}-$((RCLUSTER_BASE + RCLUSTER_SIZE - 1)), $(elapsed "$t0")s)"
}

rcluster_stop() {
  local port pid
  [[ -d "$(rcluster_dir)" ]] || return 0
  for port in $(rcluster_ports); do
    if ! rcluster_node_running "$port"; then rm -f "$(rcluster_node_dir "$port")/redis.pid"; continue; fi
    pid="$(rcluster_pid "$port")"
    rcluster_cli "$port" shutdown >/dev/null 2>&1 || true
    stop_pid "redis-cluster:$port" "$pid"
    rm -f "$(rcluster_node_dir "$port")/redis.pid"
  done
  log "redis-cluster stopped"
}

# rcluster_kill [PORT]: SIGKILL of one node, or of all
rcluster_kill() {
  local port pid _i
  for port in ${1:-$(rcluster_ports)}; do
    rcluster_node_running "$port" || { log "redis-cluster: node $port not running"; continue; }
    pid="$(rcluster_pid "$port")"
    kill -KILL "$pid" 2>/dev/null || true
    for _i in $(seq 1 50); do pid_alive "$pid" || break; sleep 0.1; done
    rm -f "$(rcluster_node_dir "$port")/redis.pid"
    log "redis-cluster: node $port killed with SIGKILL (pid $pid)"
  done
}

rcluster_status() {
  local port role rc=0
  for port in $(rcluster_ports); do
    if rcluster_node_running "$port"; then
      role="$(rcluster_cli "$port" info replication 2>/dev/null | sed -n 's/^role:\(.*\)\r*$/\1/p' | tr -d '\r')"
      printf '%-22s %-22s pid %-8s 127.0.0.1:%s\n' "redis-cluster:$port" "running, ${role:-?}" "$(rcluster_pid "$port")" "$port"
    else
      rc=1
      printf '%-22s %-22s %-12s 127.0.0.1:%s\n' "redis-cluster:$port" "stopped" "" "$port"
    fi
  done
  if (( rc == 0 )) && ! rcluster_healthy; then
    printf '%-22s %s\n' redis-cluster "NOT healthy (slots not all served, a node failing, or a replica missing / syncing)"
    rc=1
  fi
  return "$rc"
}

rcluster_env() {
  local -a addrs=(); local port
  for port in $(rcluster_ports); do addrs+=("127.0.0.1:$port"); done
  local IFS=,
  printf 'export CHURNFLOW_REDIS_CLUSTER_NODES=%s\n' "${addrs[*]}"
}

rcluster_logs() {
  local port
  for port in $(rcluster_ports); do show_log_tail "$(rcluster_node_dir "$port")/redis.log" "$1"; done
}

rcluster_clean() {
  rcluster_stop
  rm -rf "$(rcluster_dir)"
}
