#!/usr/bin/env bash
# A single-node Slurm cluster under one folder, for tests: munged, slurmctld and slurmd in the foreground of
# background jobs, a slurm.conf generated for this machine's CPUs, free ports, nothing outside the folder.
#   bash tests/slurm/slurm_cluster.sh start DIR   # prints SLURM_CONF=DIR/slurm.conf once the node is idle
#   bash tests/slurm/slurm_cluster.sh stop DIR    # stops the three daemons by their pid files
# Needs slurm-wlm and munge (scripts/setup.sh installs them) and root, as the daemons run as root here.
set -euo pipefail

usage() { echo "usage: slurm_cluster.sh start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)

# A TCP port nothing listens on, from the range the kernel does not hand out for outgoing connections.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "slurm_cluster: no free port found" >&2
  return 1
}

stop() {
  local f
  for f in "$dir/d.pid" "$dir/ctld.pid" "$dir/munge/pid"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2> /dev/null || true
  done
  # Wait for them to go, so the folder can be removed.
  for _ in $(seq 1 50); do
    local alive=0
    for f in "$dir/d.pid" "$dir/ctld.pid" "$dir/munge/pid"; do
      [ -s "$f" ] && kill -0 "$(cat "$f")" 2> /dev/null && alive=1
    done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
}

start() {
  for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" > /dev/null || {
      echo "slurm_cluster: $tool not found (Debian: apt-get install slurm-wlm munge; scripts/setup.sh installs them)" >&2
      exit 1
    }
  done
  [ "$(id -u)" = 0 ] || { echo "slurm_cluster: the daemons run as root here; run as root" >&2; exit 1; }
  mkdir -p "$dir"/{state,spool,log,munge}
  chmod 700 "$dir/munge"
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 600 "$dir/munge/munge.key"
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/sock" --pid-file="$dir/munge/pid" \
    --log-file="$dir/munge/log" --seed-file="$dir/munge/seed" --force
  local host ctld_port d_port
  host=$(hostname -s)
  ctld_port=$(free_port)
  d_port=$(free_port)
  while [ "$d_port" = "$ctld_port" ]; do d_port=$(free_port); done
  cat > "$dir/slurm.conf" << CONF
ClusterName=slimpipe-test
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket=$dir/munge/sock
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/ctld.pid
SlurmdPidFile=$dir/d.pid
SlurmctldLogFile=$dir/log/ctld.log
SlurmdLogFile=$dir/log/d.log
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 2048)) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  # The cgroup plugin slurmd always loads: v1, which starts without a cgroup file system (a container or a chroot
  # may have none mounted; "autodetect" then fails), as nothing here confines jobs with cgroups.
  printf 'CgroupPlugin=cgroup/v1\nIgnoreSystemd=yes\n' > "$dir/cgroup.conf"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -D -f "$dir/slurm.conf" > "$dir/log/ctld.out" 2>&1 &
  slurmd -D -f "$dir/slurm.conf" > "$dir/log/d.out" 2>&1 &
  # Ready when the node is idle (a few seconds).
  for _ in $(seq 1 300); do
    if [ "$(sinfo -h -o %T 2> /dev/null | head -n 1)" = "idle" ]; then
      echo "SLURM_CONF=$dir/slurm.conf"
      return 0
    fi
    sleep 0.1
  done
  echo "slurm_cluster: the node did not become idle in 30 s; logs in $dir/log:" >&2
  tail -n 5 "$dir/log/"*.log "$dir/log/"*.out >&2 || true
  stop
  exit 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
