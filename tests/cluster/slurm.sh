#!/bin/bash
# slurm.sh BUILD -- the Slurm recipe (share/slurm/ember-cluster.sbatch) on
# a one-node Slurm cluster made here: installs Debian's slurm-wlm if it is
# missing, starts a private munged, slurmctld and slurmd (own key, socket,
# ports, state and logs in a temporary directory; the machine's /etc/slurm
# and /etc/munge are not touched), submits the script, and runs a session
# on the worker Slurm started. Then cancels the job, stops the daemons and
# removes everything, also when a check fails.
#
# Needs root (to install and to run slurmd); prints SKIP without it. Slow
# (the install), so tests/cluster/run.sh runs it only in "all" mode.
set -eu
build=$(cd "${1:?usage: slurm.sh BUILD}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ "$(id -u)" != 0 ]; then
  echo "SKIP slurm test: not root"
  exit 0
fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "slurm test: installing slurm-wlm (Debian)"
  if ! DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y slurm-wlm >/dev/null 2>&1; then
    # A stale package index: refresh it once.
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y slurm-wlm >/dev/null ||
      { echo "slurm test: cannot install slurm-wlm" >&2; exit 1; }
  fi
fi

T=$(mktemp -d /tmp/ember-slurm-$$.XXXXXX)
chmod 755 "$T"
pids=""
job=""
export SLURM_CONF="$T/slurm.conf"

# Cancels the job, stops the daemons we started (by pid), removes $T.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$job" ]; then
    timeout 10 scancel "$job" >/dev/null 2>&1 || true
    # The job's processes (the master, srun, workers, executors) end with
    # it; give them a moment before slurmd goes.
    for _ in $(seq 1 40); do
      timeout 5 squeue -h -j "$job" 2>/dev/null | grep -q . || break
      sleep 0.25
    done
  fi
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  if [ $rc != 0 ]; then
    for f in slurmctld.log slurmd.log munged.log job.log; do
      [ -f "$T/$f" ] && { echo "-- $f (tail)" >&2; tail -n 15 "$T/$f" >&2; }
    done
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "  FAIL: $*" >&2
  exit 1
}

# Ports away from a real Slurm's (6817/6818) and the master's default,
# and different for concurrent runs.
base=$((20000 + $$ % 20000))
ctld_port=$base
slurmd_port=$((base + 1))
ember_port=$((base + 2))

# munge: a key of our own, a socket of our own.
mkdir -p "$T/munge" "$T/state" "$T/spool"
chmod 700 "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
munged --force --socket="$T/munge/munge.sock" --key-file="$T/munge/munge.key" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/munged.seed"
# munged forks: its pid comes from its pid file.
for _ in $(seq 1 50); do [ -s "$T/munge/munged.pid" ] && break; sleep 0.1; done
pids="$(cat "$T/munge/munged.pid")"

cpus=$(nproc)
cat >"$SLURM_CONF" <<CONF
ClusterName=embertest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SlurmdParameters=config_overrides
NodeName=localhost CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -D -i -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
pids="$pids $!"
slurmd -D -f "$SLURM_CONF" -N localhost >"$T/slurmd.out" 2>&1 &
pids="$pids $!"
ok=0
for _ in $(seq 1 120); do
  if timeout 5 sinfo -h -N -o '%t' 2>/dev/null | grep -qE '^(idle|mix)'; then ok=1; break; fi
  sleep 0.25
done
[ $ok = 1 ] || { timeout 5 sinfo -N 2>&1 >&2 || true; fail "the Slurm node did not come up"; }
echo "  slurm: one-node cluster up (slurmctld :$ctld_port, slurmd :$slurmd_port, $cpus CPUs)"

# The recipe, as a user would submit it (one node here).
secret="$T/secret"
export EMBER="$build/ember" EMBER_SECRET_FILE="$secret" EMBER_PORT=$ember_port EMBER_URL_FILE="$T/ember.url"
unset EMBER_SECRET EMBER_MASTER 2>/dev/null || true
job=$(cd "$T" && timeout 30 sbatch --parsable -N 1 -o "$T/job.log" "$root/share/slurm/ember-cluster.sbatch")
job=${job%%;*}
echo "  slurm: job $job submitted"
for _ in $(seq 1 240); do [ -s "$T/ember.url" ] && break; sleep 0.25; done
[ -s "$T/ember.url" ] || fail "no master URL from the job"
url=$(cat "$T/ember.url")
[ -s "$secret" ] || fail "the job did not make the secret file"
[ "$(stat -c %a "$secret")" = 600 ] || fail "the secret file is not private"
ok=0
for _ in $(seq 1 80); do
  if timeout 10 "$build/ember" status "$url" 2>/dev/null | grep -qE " alive +0/$cpus cores"; then ok=1; break; fi
  sleep 0.25
done
[ $ok = 1 ] || { timeout 10 "$build/ember" status "$url" >&2 || true; fail "no worker with $cpus cores registered"; }
timeout 10 "$build/ember" status "$url" | sed 's/^/  | /'

# A session on the worker Slurm started: the 1e7-row reduce_by_key.
cat >"$T/rbk.c" <<'SCRIPT'
ds r = reduce_by_key(map(range(10000000), [](long i) { return kv(i % 100000, i); }), add);
count(r)
sum(values(r))
:status
SCRIPT
timeout -k 5 120 "$build/ember" --master "$url" "$T/rbk.c" >"$T/out" 2>"$T/err" ||
  { cat "$T/err" >&2; fail "the session failed"; }
[ "$(head -2 "$T/out" | tr '\n' ' ')" = "100000 49999995000000 " ] || { cat "$T/out" >&2; fail "wrong result"; }
grep -qE '^executors: [1-9][0-9]* alive$' "$T/out" || { cat "$T/out" >&2; fail "no executors in :status"; }
echo "  slurm: a session ran the 1e7-row reduce_by_key on the Slurm-started worker: $(head -2 "$T/out" | tr '\n' ' ')"
echo "  slurm: ok"
