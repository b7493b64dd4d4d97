# nats.sh: a 3-node NATS JetStream cluster on loopback for tests and benches (sourced, bash).
# Provides: gw_nats_start DIR (sets GW_NATS_URLS and GW_NATS_PORTS[1..3]), gw_nats_kill N,
# gw_nats_restart N, gw_nats_stop. Client and route ports come from gw_free_port (common.sh);
# file storage lives in DIR/n<N>; every server listens on 127.0.0.1 only.

GW_NATS_DIR=""
declare -a GW_NATS_PORTS GW_NATS_RPORTS GW_NATS_PIDS

gw_nats_conf() {  # N
	local n=$1 routes="" m
	for m in 1 2 3; do
		[ "$m" = "$n" ] && continue
		routes="$routes${routes:+, }\"nats-route://127.0.0.1:${GW_NATS_RPORTS[$m]}\""
	done
	cat >"$GW_NATS_DIR/n$n.conf" <<CONF
server_name: gwn$n
listen: 127.0.0.1:${GW_NATS_PORTS[$n]}
jetstream {
  store_dir: "$GW_NATS_DIR/n$n"
  max_memory_store: 64MB
  max_file_store: 512MB
}
cluster {
  name: gwtest
  listen: 127.0.0.1:${GW_NATS_RPORTS[$n]}
  routes: [ $routes ]
}
CONF
}

gw_nats_run() {  # N
	nats-server -c "$GW_NATS_DIR/n$1.conf" >>"$GW_NATS_DIR/n$1.log" 2>&1 &
	GW_NATS_PIDS[$1]=$!
}

gw_nats_pick_ports() {
	local n p
	GW_NATS_PORTS=(); GW_NATS_RPORTS=()
	for n in 1 2 3; do
		p=$(gw_free_port); while [[ " ${GW_NATS_PORTS[*]:-} ${GW_NATS_RPORTS[*]:-} " == *" $p "* ]]; do p=$((p + 1)); done
		GW_NATS_PORTS[$n]=$p
		p=$(gw_free_port); while [[ " ${GW_NATS_PORTS[*]:-} ${GW_NATS_RPORTS[*]:-} " == *" $p "* ]]; do p=$((p + 1)); done
		GW_NATS_RPORTS[$n]=$p
	done
}

# Up when all three processes run, each listens on its client port and JetStream has a
# metadata leader. A port taken meanwhile by someone else (the machine is shared): start over
# with new ports, at most 3 times.
gw_nats_up() {
	local n
	for n in 1 2 3; do
		kill -0 "${GW_NATS_PIDS[$n]}" 2>/dev/null || return 2
		ss -Htln "sport = :${GW_NATS_PORTS[$n]}" | grep -q . || return 1
	done
	grep -qs "JetStream cluster new metadata leader\|Self is new JetStream cluster metadata leader" \
		"$GW_NATS_DIR"/n*.log || return 1
	return 0
}

gw_nats_start() {  # DIR
	local n try rc
	GW_NATS_DIR=$1
	gw_cleanup_add "gw_nats_stop"
	for try in 1 2 3; do
		rm -rf "$GW_NATS_DIR"; mkdir -p "$GW_NATS_DIR"
		gw_nats_pick_ports
		for n in 1 2 3; do gw_nats_conf "$n"; gw_nats_run "$n"; done
		GW_NATS_URLS="nats://127.0.0.1:${GW_NATS_PORTS[1]},nats://127.0.0.1:${GW_NATS_PORTS[2]},nats://127.0.0.1:${GW_NATS_PORTS[3]}"
		for _ in $(seq 150); do
			gw_nats_up; rc=$?
			[ $rc = 0 ] && return 0
			[ $rc = 2 ] && break
			sleep 0.1
		done
		echo "nats cluster did not form (try $try):" >&2; tail -n 3 "$GW_NATS_DIR"/n*.log >&2
		gw_nats_stop
	done
	return 1
}

gw_nats_kill() {  # N: SIGKILL, like a crashed host
	[ -n "${GW_NATS_PIDS[$1]:-}" ] && kill -9 "${GW_NATS_PIDS[$1]}" 2>/dev/null
	wait "${GW_NATS_PIDS[$1]}" 2>/dev/null
	GW_NATS_PIDS[$1]=""
}

gw_nats_restart() { gw_nats_run "$1"; }

gw_nats_stop() {
	local n
	for n in 1 2 3; do
		[ -n "${GW_NATS_PIDS[$n]:-}" ] && kill "${GW_NATS_PIDS[$n]}" 2>/dev/null
	done
	for n in 1 2 3; do
		[ -n "${GW_NATS_PIDS[$n]:-}" ] && wait "${GW_NATS_PIDS[$n]}" 2>/dev/null
		GW_NATS_PIDS[$n]=""
	done
}
