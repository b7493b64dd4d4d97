# nats.sh: a 3-node NATS JetStream cluster on loopback and operator shards on it, for tests and
# benches (sourced after common.sh, bash).
# NATS: gw_nats_start DIR (sets GW_NATS_URLS and GW_NATS_PORTS[1..3]), gw_nats_kill N,
# gw_nats_restart N, gw_nats_stop. Client and route ports come from gw_free_port (common.sh);
# file storage lives in DIR/n<N>; every server listens on 127.0.0.1 only. With GW_NATS_AUTH=1
# set before gw_nats_start, clients must log in: user GW_NATS_USER (default "gw"), a random
# password written to GW_NATS_PWFILE (DIR/password, mode 0600). With GW_NATS_TLS=1, clients
# connect with TLS: a CA and a server certificate for 127.0.0.1 are made by openssl at start-up
# (DIR/tls/ca.pem = GW_NATS_CA; routes between the nodes stay plain on loopback).
# Shards: gw_shard_rrdcached DIR [FLUSH_S], gw_shard_start IDX ID DIR LOG [OPERATOR ARGS...]
# (sets GW_SHARD_HP[IDX], GW_SHARD_ZP[IDX], GW_SHARD_PID[IDX]; see there), gw_shard_auth_args.

GW_NATS_DIR=""
GW_NATS_AUTH=${GW_NATS_AUTH:-0}
GW_NATS_USER=${GW_NATS_USER:-gw}
GW_NATS_PWFILE=""
GW_NATS_TLS=${GW_NATS_TLS:-0}
GW_NATS_CA=""
declare -a GW_NATS_PORTS GW_NATS_RPORTS GW_NATS_PIDS
declare -a GW_SHARD_HP GW_SHARD_ZP GW_SHARD_PID

gw_nats_conf() {  # N
	local n=$1 routes="" m auth=""
	if [ "$GW_NATS_AUTH" = 1 ]; then
		auth="authorization { user: \"$GW_NATS_USER\", password: \"$(cat "$GW_NATS_PWFILE")\" }"
	fi
	for m in 1 2 3; do
		[ "$m" = "$n" ] && continue
		routes="$routes${routes:+, }\"nats-route://127.0.0.1:${GW_NATS_RPORTS[$m]}\""
	done
	if [ "$GW_NATS_TLS" = 1 ]; then
		auth="$auth
tls { cert_file: \"$GW_NATS_DIR/tls/server.pem\", key_file: \"$GW_NATS_DIR/tls/server.key\", timeout: 2 }"
	fi
	cat >"$GW_NATS_DIR/n$n.conf" <<CONF
server_name: gwn$n
listen: 127.0.0.1:${GW_NATS_PORTS[$n]}
$auth
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

# A throw-away CA and a server certificate for IP 127.0.0.1 signed by it, in DIR (1 day).
gw_nats_tls_make() {  # DIR
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=gatewatch test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" >"$d/openssl.log" 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" \
		-out "$d/server.csr" >>"$d/openssl.log" 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf" &&
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 1 -extfile "$d/ext.cnf" -out "$d/server.pem" >>"$d/openssl.log" 2>&1 || return 1
	GW_NATS_CA=$d/ca.pem
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
		if [ "$GW_NATS_AUTH" = 1 ]; then
			GW_NATS_PWFILE=$GW_NATS_DIR/password
			(umask 077; od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$GW_NATS_PWFILE"; echo >>"$GW_NATS_PWFILE")
		fi
		if [ "$GW_NATS_TLS" = 1 ]; then
			gw_nats_tls_make "$GW_NATS_DIR/tls" || { echo "openssl: cannot make the test CA" >&2; return 1; }
		fi
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

# ---- operator shards ----

# The operator options that log in to the cluster started by gw_nats_start (credentials, TLS CA;
# none without GW_NATS_AUTH / GW_NATS_TLS).
gw_shard_auth_args() {
	[ "$GW_NATS_AUTH" = 1 ] && printf '%s\n' --nats-user "$GW_NATS_USER" --nats-password-file "$GW_NATS_PWFILE"
	[ "$GW_NATS_TLS" = 1 ] && printf '%s\n' --nats-tls-ca "$GW_NATS_CA"
	return 0
}

# gw_shard_rrdcached DIR [FLUSH_S]: an rrdcached with socket DIR/rrdcached.sock, base DIR/rrd,
# journal DIR/journal (write delay FLUSH_S, default 3600), pid in DIR/rrdcached.pidof; waits
# (5 s) for its socket. The caller's cleanup kills it.
gw_shard_rrdcached() {
	local d=$1 w=${2:-3600}
	mkdir -p "$d/rrd" "$d/journal"
	rrdcached -l "unix:$d/rrdcached.sock" -p "$d/rrdcached.pid" -b "$d/rrd" -B -j "$d/journal" \
		-w "$w" -z 1 -F -g >"$d/rrdcached.log" 2>&1 &
	echo $! >"$d/rrdcached.pidof"
	gw_cleanup_add "kill $! 2>/dev/null"
	for _ in $(seq 50); do [ -S "$d/rrdcached.sock" ] && return 0; sleep 0.1; done
	return 1
}

# gw_shard_start IDX ID DIR LOG [ARGS...]: starts operator shard ID (gatewatch-operator of
# GW_BUILD) on the cluster of gw_nats_start, with its API on 127.0.0.1:GW_SHARD_HP[IDX], RRD
# files in DIR/rrd through DIR/rrdcached.sock (gw_shard_rrdcached), its database DIR/gw.db, the
# cluster credentials (gw_shard_auth_args), ARGS (where the word @ZP@ becomes the port
# GW_SHARD_ZP[IDX], e.g. for a tcp:// listener), output appended to LOG; waits (20 s) for its
# /healthz. A port taken meanwhile (the machine is shared; ports below 40000 can be a client's
# ephemeral port) gets new ports, 3 tries. Unset GW_SHARD_HP/ZP[IDX] are picked here; a restart
# keeps them. Returns 1 when it did not come up (or exited).
gw_shard_start() {
	local i=$1 id=$2 d=$3 log=$4 try a
	local -a args auth
	shift 4
	mapfile -t auth < <(gw_shard_auth_args)
	[ -n "${GW_SHARD_HP[$i]:-}" ] || GW_SHARD_HP[$i]=$(gw_free_port)
	[ -n "${GW_SHARD_ZP[$i]:-}" ] || GW_SHARD_ZP[$i]=$(gw_free_port)
	for try in 1 2 3; do
		args=()
		for a in "$@"; do args+=("${a//@ZP@/${GW_SHARD_ZP[$i]}}"); done
		"$GW_BUILD/gatewatch-operator" --http "127.0.0.1:${GW_SHARD_HP[$i]}" --rrd-dir "$d/rrd" \
			--rrdcached "unix:$d/rrdcached.sock" --db "$d/gw.db" --nats "$GW_NATS_URLS" \
			--shard-id "$id" "${auth[@]}" "${args[@]}" >>"$log" 2>&1 &
		GW_SHARD_PID[$i]=$!
		gw_cleanup_add "kill ${GW_SHARD_PID[$i]} 2>/dev/null"
		for _ in $(seq 200); do
			curl -sf -o /dev/null "http://127.0.0.1:${GW_SHARD_HP[$i]}/healthz" && return 0
			kill -0 "${GW_SHARD_PID[$i]}" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "${GW_SHARD_PID[$i]}" 2>/dev/null; wait "${GW_SHARD_PID[$i]}" 2>/dev/null
		GW_SHARD_HP[$i]=$(gw_free_port); GW_SHARD_ZP[$i]=$(gw_free_port)
	done
	return 1
}
