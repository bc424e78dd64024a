# netns.sh -- shell functions for cluster tests on "separate hosts" made of
# Linux network namespaces on this machine. Sourced by run.sh and slurm.sh
# (bash).
#
# Layout: one namespace holds a Linux bridge ("br0"); every node (master,
# workers, session) is a namespace of its own whose "eth0" is one end of a
# veth pair, the other end plugged into the bridge as "p-NODE" (a bare
# "m" would be taken by `ip link` for a keyword).
# Keeping the bridge in a namespace too leaves the host's network untouched
# (no interfaces, no routes, no firewall rules), and lets two runs use the
# same subnet at once. All names carry the run's id ($$ unless NX_ID is set),
# so concurrent runs do not collide.
#
# Cutting a node off the network is `nx_link_down NODE`: its cable is pulled
# at the bridge, its TCP connections hang, nothing is told (the worst case,
# as with a dead switch port).
#
# Cleanup (nx_cleanup, to call from an EXIT trap): every process still in
# one of our namespaces is killed (we started them all: the namespaces are
# this run's), then the namespaces and the temporary directory go.

NX_ID=${NX_ID:-$$}
NX_PREFIX="emb$NX_ID"
NX_BRNS="$NX_PREFIX-br"
NX_NET=${NX_NET:-10.77.0}
NX_NODES=""
NX_TMP=""

# Says why a test cannot run here (on stdout) and fails, or succeeds when
# namespaces can be made: root, iproute2, and a kernel that allows them.
nx_unavailable() {
  if [ "$(id -u)" != 0 ]; then
    echo "not root"
    return 0
  fi
  if ! command -v ip >/dev/null 2>&1; then
    echo "no ip command (iproute2)"
    return 0
  fi
  if ! ip netns add "$NX_PREFIX-probe" >/dev/null 2>&1; then
    echo "ip netns add is not possible here"
    return 0
  fi
  ip netns del "$NX_PREFIX-probe" >/dev/null 2>&1 || true
  return 1
}

# Creates the temporary directory (seen by every namespace: they share the
# file system) and the bridge namespace.
nx_setup() {
  NX_TMP=$(mktemp -d "/tmp/ember-cluster-$NX_ID.XXXXXX")
  chmod 755 "$NX_TMP"
  ip netns add "$NX_BRNS"
  ip -n "$NX_BRNS" link add br0 type bridge
  ip -n "$NX_BRNS" link set br0 up
  ip -n "$NX_BRNS" link set lo up
}

# nx_add_node NAME ADDR: a namespace NAME with address ADDR/24 on eth0.
nx_add_node() {
  local name=$1 addr=$2 ns="$NX_PREFIX-$1"
  ip netns add "$ns"
  NX_NODES="$NX_NODES $name"
  ip -n "$NX_BRNS" link add "p-$name" type veth peer name eth0 netns "$ns"
  ip -n "$NX_BRNS" link set "p-$name" master br0
  ip -n "$NX_BRNS" link set "p-$name" up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
}

# nx_ns NAME: the namespace's full name.
nx_ns() {
  echo "$NX_PREFIX-$1"
}

# nx_exec NAME CMD...: runs CMD inside node NAME's namespace.
nx_exec() {
  local name=$1
  shift
  ip netns exec "$NX_PREFIX-$name" "$@"
}

# nx_spawn NAME LOG CMD...: starts CMD in the background inside NAME,
# output appended to LOG; prints its pid (`ip netns exec` execs CMD, so the pid is
# CMD's own, the one to signal).
nx_spawn() {
  local name=$1 log=$2
  shift 2
  ip netns exec "$NX_PREFIX-$name" "$@" </dev/null >>"$log" 2>&1 &
  echo $!
  # Not a job of ours any more: its death (we kill daemons on purpose) is
  # not reported on the terminal.
  disown $!
}

# nx_link_down NAME / nx_link_up NAME: pulls / plugs NAME's cable.
nx_link_down() {
  ip -n "$NX_BRNS" link set "p-$1" down
}
nx_link_up() {
  ip -n "$NX_BRNS" link set "p-$1" up
}

# nx_kill_ns_procs NAME: kills (SIGKILL) every process in NAME's namespace.
nx_kill_ns_procs() {
  local pids
  pids=$(ip netns pids "$NX_PREFIX-$1" 2>/dev/null || true)
  if [ -n "$pids" ]; then
    kill -9 $pids 2>/dev/null || true
  fi
}

# Kills what runs in our namespaces, deletes them and the temporary
# directory. Safe to call twice, and after a partial setup.
nx_cleanup() {
  local ns name
  for name in $NX_NODES; do
    nx_kill_ns_procs "$name"
  done
  # Processes take a moment to die; a namespace is deleted at once anyway
  # (its name goes; the kernel frees it with its last process).
  sleep 0.2
  for name in $NX_NODES; do
    ip netns del "$NX_PREFIX-$name" 2>/dev/null || true
  done
  ip netns del "$NX_BRNS" 2>/dev/null || true
  NX_NODES=""
  if [ -n "$NX_TMP" ] && [ -d "$NX_TMP" ]; then
    rm -rf "$NX_TMP"
  fi
  NX_TMP=""
}

# nx_now: seconds since the epoch, with milliseconds.
nx_now() {
  date +%s.%3N
}

# nx_wait_file FILE PATTERN SECONDS: waits until FILE has a line matching
# PATTERN (grep -E); prints the time it was seen; fails on timeout.
nx_wait_file() {
  local file=$1 pat=$2 limit=$3 t0
  t0=$(date +%s%N)
  while ! grep -qE "$pat" "$file" 2>/dev/null; do
    if [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt $((limit * 1000)) ]; then
      return 1
    fi
    sleep 0.05
  done
  nx_now
}
