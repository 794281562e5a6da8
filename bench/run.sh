#!/usr/bin/env bash
# bench/run.sh is what `make bench` runs (after building bin/disque-server and
# bin/disque-bench): it starts a fresh godisque node, a redis-server and the
# bare redcon LPUSH ceiling, each its own process on a loopback port, runs
# `disque-bench suite` against them in one process and one run, and stops
# every process it started, however it ends.
#
# Settings (environment; the Makefile passes its BENCH_* variables):
#   BENCH_DIR       where logs, the node's dir, the plot and the JSON go (tmp/bench)
#   BENCH_PORT      first of three ports: godisque, redis, ceiling (17711)
#   BENCH_CONNS     connections (50)
#   BENCH_DURATION  measured time per scenario (5s); BENCH_COUNT=N measures N ops instead
#   BENCH_WARMUP    unmeasured time before each scenario (1s)
#   BENCH_MEM_JOBS  jobs per body size for the memory figures, of a lone node and
#                   of three in-process nodes with REPLICATE 3 (200000; 0 skips)
#   BENCH_CLUSTER   host:port,... of a cluster for the replicated/federated
#                   scenarios; empty: three godisque nodes started here, on
#                   BENCH_PORT+3..+5 (bus ports +10000), joined by seeds;
#                   none: skip those scenarios
#   BENCH_ROUNDS    run each comparison this many times, interleaved, and judge
#                   the median (1); 3 gives steadier ratios on a noisy machine
#   BENCH_ARGS      more disque-bench suite flags
set -euo pipefail

BIN=${BIN:-bin}
DIR=${BENCH_DIR:-tmp/bench}
PORT=${BENCH_PORT:-17711}
CONNS=${BENCH_CONNS:-50}
DURATION=${BENCH_DURATION:-5s}
COUNT=${BENCH_COUNT:-}
WARMUP=${BENCH_WARMUP:-1s}
ROUNDS=${BENCH_ROUNDS:-1}
MEM_JOBS=${BENCH_MEM_JOBS:-200000}
CLUSTER=${BENCH_CLUSTER:-}
DISQUE_PORT=$PORT
REDIS_PORT=$((PORT + 1))
CEILING_PORT=$((PORT + 2))

pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_port NAME PID PORT: until PORT answers, or fail if PID died.
wait_port() {
	local name=$1 pid=$2 port=$3 i
	for i in $(seq 1 100); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench: $name exited at start (port $port in use? set BENCH_PORT); its log:" >&2
			tail -n 20 "$DIR/$name.log" >&2 || true
			exit 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "bench: $name does not answer on port $port" >&2
	exit 1
}

rm -rf "$DIR/node"
mkdir -p "$DIR/node"

# maxmemory 8gb: a timed getjob run fills the queue with twice what the
# warm-up says it will take, millions of jobs at -P 16; under the default
# 1gb they would reach 75% of maxmemory, where a node alone refuses ADDJOB
# (it would have to replicate the job elsewhere).
"$BIN/disque-server" --bind 127.0.0.1 --port "$DISQUE_PORT" --dir "$DIR/node" --appendonly no --maxmemory 8gb \
	>"$DIR/disque-server.log" 2>&1 &
pids+=($!)
wait_port disque-server $! "$DISQUE_PORT"

redis_flag=()
if command -v redis-server >/dev/null 2>&1; then
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$DIR" \
		>"$DIR/redis-server.log" 2>&1 &
	pids+=($!)
	wait_port redis-server $! "$REDIS_PORT"
	redis_flag=(--redis "127.0.0.1:$REDIS_PORT")
else
	echo "redis-server not found: apt-get install -y redis-server"
	echo "(running the godisque numbers alone)"
fi

"$BIN/disque-bench" ceiling --listen "127.0.0.1:$CEILING_PORT" >"$DIR/ceiling.log" 2>&1 &
pids+=($!)
wait_port ceiling $! "$CEILING_PORT"

if [ -z "$CLUSTER" ]; then
	# Three fresh nodes that join each other by cluster-seeds; the suite
	# waits until each reaches the other two.
	cports=($((PORT + 3)) $((PORT + 4)) $((PORT + 5)))
	CLUSTER=""
	for cp in "${cports[@]}"; do
		seeds=()
		for other in "${cports[@]}"; do
			[ "$other" = "$cp" ] || seeds+=("127.0.0.1:$((other + 10000))")
		done
		rm -rf "$DIR/cluster-$cp"
		mkdir -p "$DIR/cluster-$cp"
		"$BIN/disque-server" --bind 127.0.0.1 --port "$cp" --dir "$DIR/cluster-$cp" --appendonly no \
			--maxmemory 8gb --cluster-seeds "${seeds[@]}" >"$DIR/cluster-$cp.log" 2>&1 &
		pids+=($!)
		wait_port "cluster-$cp" $! "$cp"
		CLUSTER="${CLUSTER:+$CLUSTER,}127.0.0.1:$cp"
	done
elif [ "$CLUSTER" = none ]; then
	CLUSTER=""
fi

load=(--duration "$DURATION")
if [ -n "$COUNT" ]; then
	load=(-n "$COUNT")
fi
cluster_flag=()
if [ -n "$CLUSTER" ]; then
	cluster_flag=(--cluster "$CLUSTER")
fi

echo "bench: $("$BIN/disque-server" --version | head -n1); $(redis-server --version 2>/dev/null | cut -d' ' -f1-3 || true)"
echo "bench: $(nproc) cores; $CONNS connections, 24-byte bodies, ${COUNT:-$DURATION} per scenario after a $WARMUP warm-up"
echo "bench: the load generator shares the machine with the servers: read ratios, not absolutes"
# ${arr[@]+...}: an empty array under set -u on older bash.
"$BIN/disque-bench" suite --disque "127.0.0.1:$DISQUE_PORT" ${redis_flag[@]+"${redis_flag[@]}"} \
	--ceiling "127.0.0.1:$CEILING_PORT" ${cluster_flag[@]+"${cluster_flag[@]}"} \
	-c "$CONNS" -d 24 "${load[@]}" --warmup "$WARMUP" --pipelines 1,16 --mem-jobs "$MEM_JOBS" --rounds "$ROUNDS" \
	--plot "$DIR/bench.svg" --json-file "$DIR/bench.json" ${BENCH_ARGS:-}
echo "bench: plots $DIR/bench-P1.svg and $DIR/bench-P16.svg, JSON $DIR/bench.json, server logs in $DIR/"
