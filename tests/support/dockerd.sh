#!/bin/bash
# A private Docker engine in swarm mode for integration tests (see shared/REAL-DOCKERD.md).
#
#   dockerd.sh start <base-dir>           start dockerd in its own net+mount namespace, init a
#                                         one-node swarm, import tiny:latest; prints the socket path
#   dockerd.sh restart-daemon <base-dir> [down-seconds]
#                                         SIGTERM the daemon and start it again on the same data root
#                                         and socket (swarm state persists); with down-seconds, stay
#                                         down that long first (a restart takes only ~3 s otherwise)
#   dockerd.sh crash-restart <base-dir> [down-seconds]
#                                         SIGKILL the daemon (as a crash or OOM kill would), kill what
#                                         it left behind, and start it again on the same data root
#   dockerd.sh signal <base-dir> STOP|CONT send the daemon SIGSTOP (freeze it) or SIGCONT
#   dockerd.sh stop <base-dir>            leave the swarm, stop the daemon, kill what it left behind,
#                                         unmount and delete <base-dir>
#
# Everything lives under <base-dir>: data root, exec root, socket, pidfile, log. Processes are only
# ever killed by pid, and only when they belong to this base (cmdline mentions it and they run in a
# private mount namespace) or descend from one that does — never by name.
# Quiet on success; errors go to stderr with a non-zero exit.

set -euo pipefail
unset DOCKER_CONTEXT DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH
# dockerd runs iptables, ip and friends from PATH; a test runner's PATH may lack the sbin dirs.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

readonly kPingTimeout=30        # seconds for dockerd to answer _ping
readonly kCliTimeout=30         # seconds for any single docker CLI call
readonly kTermTimeout=30        # seconds for dockerd to exit after SIGTERM
readonly kKillTimeout=10        # seconds for SIGKILLed processes to disappear
readonly kNodeLsTimeout=60      # seconds for the swarm to answer again after a restart

die() {
  echo "dockerd.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: dockerd.sh start|stop <base-dir> | restart-daemon|crash-restart <base-dir>" \
    "[down-seconds] | signal <base-dir> STOP|CONT" >&2
  exit 2
}

[[ $# -ge 2 && -n $2 ]] || usage
readonly cmd=$1
DOWN_SECONDS=0
SIGNAL=""
if [[ ($cmd == restart-daemon || $cmd == crash-restart) && $# -eq 3 ]]; then
  [[ $3 =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage
  DOWN_SECONDS=$3
elif [[ $cmd == signal && $# -eq 3 ]]; then
  [[ $3 == STOP || $3 == CONT ]] || usage
  SIGNAL=$3
elif [[ $# -ne 2 ]]; then
  usage
fi
readonly DOWN_SECONDS SIGNAL

# An absolute, normalised base so every cmdline comparison below is exact.
BASE=$(realpath -m -- "$2")
readonly BASE
# stop ends in rm -rf: refuse anything that can't be a per-run directory.
[[ $BASE == /*/* && $BASE != "${HOME:-/root}" ]] || die "refusing base directory '$BASE'"
readonly SOCK=$BASE/docker.sock
readonly PIDFILE=$BASE/dockerd.pid
readonly LOG=$BASE/dockerd.log
readonly DOCKERD=/usr/sbin/dockerd

now_ms() { date +%s%3N; }

docker_cli() { timeout "$kCliTimeout" docker -H "unix://$SOCK" "$@"; }

ping_ok() { curl -sf --max-time 2 --unix-socket "$SOCK" http://localhost/_ping >/dev/null 2>&1; }

# Running and not a zombie (a launched child stays a zombie until this script exits).
alive() {
  local stat
  [[ -n ${1:-} ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# The pid of this base's dockerd if it is running, else empty. The pidfile is written by dockerd
# itself (and removed on a clean exit); the cmdline check guards against pid reuse.
daemon_pid() {
  local pid
  [[ -r $PIDFILE ]] || return 0
  pid=$(<"$PIDFILE") || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if [[ -r /proc/$pid/cmdline ]] &&
     tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--data-root $BASE/root "; then
    echo "$pid"
  fi
}

log_tail() {
  if [[ -r $LOG ]]; then
    echo "--- last lines of $LOG ---" >&2
    tail -n 20 "$LOG" >&2
  fi
}

check_prerequisites() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (dockerd needs it); uid is $(id -u)"
  local tool
  for tool in "$DOCKERD" docker unshare setsid curl ip tar timeout; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "missing '$tool' (install: apt-get install -y docker.io busybox-static iproute2 curl)"
  done
  [[ -x /bin/busybox ]] || die "missing /bin/busybox (install: apt-get install -y busybox-static)"
}

# Starts dockerd in fresh net+mount namespaces and waits for _ping. The namespaces are new on every
# launch (also on restart): the swarm only needs lo and 127.0.0.1, which every new netns has.
launch_daemon() {
  rm -f "$SOCK"
  # setsid: own session, so a ^C in the test's terminal doesn't reach the daemon directly.
  # unshare --propagation private: mounts dockerd makes (overlays, netns files) stay invisible to
  # the host and vanish with the namespace.
  setsid unshare --net --mount --propagation private \
    sh -c 'ip link set lo up && exec "$@"' sh \
    "$DOCKERD" --data-root "$BASE/root" --exec-root "$BASE/exec" \
    --host "unix://$SOCK" --pidfile "$PIDFILE" </dev/null >>"$LOG" 2>&1 &
  local launched=$! deadline=$(( $(now_ms) + kPingTimeout * 1000 ))
  until ping_ok; do
    if ! alive "$launched" && [[ -z $(daemon_pid) ]]; then
      log_tail
      die "dockerd exited during startup (log: $LOG)"
    fi
    if (( $(now_ms) > deadline )); then
      log_tail
      die "dockerd did not answer _ping within ${kPingTimeout}s (log: $LOG)"
    fi
    sleep 0.05
  done
  # setsid/sh/unshare exec into dockerd, so $! should be dockerd itself; the pidfile (written by
  # dockerd) is authoritative either way.
  local pid
  pid=$(daemon_pid)
  [[ -n $pid ]] || die "dockerd answers but $PIDFILE does not name it"
  [[ $(readlink "/proc/$pid/exe") == "$DOCKERD" ]] || die "pid $pid from $PIDFILE is not $DOCKERD"
  if [[ $pid != "$launched" ]]; then
    echo "dockerd.sh: note: dockerd pid $pid differs from launched pid $launched" >>"$LOG"
  fi
}

# Every process belonging to this base: the seeds (cmdline mentions the base and the process is in
# a mount namespace other than ours: dockerd, containerd, containerd-shims — the shims are
# re-parented to init, so they are not dockerd's descendants) plus all their descendants
# (container processes). Our own callers (the test, narwhal, docker CLI) run in the host mount
# namespace and are never matched. Children are listed before parents.
base_processes() {
  local self_mnt p mnt cmdline stat rest ppid
  self_mnt=$(readlink /proc/self/ns/mnt)
  local -A parent_of=()
  local -a seeds=()
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" || $p == "$BASHPID" ]] && continue
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${stat##*) }
    read -r _ ppid _ <<<"$rest"
    parent_of[$p]=$ppid
    mnt=$(readlink "/proc/$p/ns/mnt" 2>/dev/null) || continue
    [[ $mnt == "$self_mnt" ]] && continue
    cmdline=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
    [[ $cmdline == *"$BASE/"* ]] && seeds+=("$p")
  done
  ((${#seeds[@]})) || return 0
  local -A member=()
  for p in "${seeds[@]}"; do member[$p]=1; done
  # Close over descendants (the process tree is shallow; iterate to a fixpoint).
  local changed=1
  while ((changed)); do
    changed=0
    for p in "${!parent_of[@]}"; do
      if [[ -z ${member[$p]:-} && -n ${member[${parent_of[$p]}]:-} ]]; then
        member[$p]=1
        changed=1
      fi
    done
  done
  # Children before parents: sort by depth below the nearest non-member, deepest first.
  local -a out=()
  for p in "${!member[@]}"; do
    local depth=0 q=$p
    while [[ -n ${member[$q]:-} ]]; do
      depth=$((depth + 1))
      q=${parent_of[$q]:-0}
    done
    out+=("$depth $p")
  done
  printf '%s\n' "${out[@]}" | sort -rn | cut -d' ' -f2
}

# SIGTERM dockerd and wait for it to exit; returns 1 if it is still alive after the timeout.
term_daemon() {
  local pid=$1 deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$(( $(now_ms) + kTermTimeout * 1000 ))
  while alive "$pid"; do
    (( $(now_ms) > deadline )) && return 1
    sleep 0.05
  done
  return 0
}

kill_leftovers() {
  local -a pids
  local deadline=$(( $(now_ms) + kKillTimeout * 1000 ))
  while :; do
    mapfile -t pids < <(base_processes)
    ((${#pids[@]})) || return 0
    if (( $(now_ms) > deadline )); then
      echo "dockerd.sh: processes of $BASE survived SIGKILL: ${pids[*]}" >&2
      return 1
    fi
    kill -KILL "${pids[@]}" 2>/dev/null || true
    sleep 0.1
  done
}

# Empty cgroups that runc created for our containers (cgroup v1 and v2); rmdir only removes empty
# ones, so a live container of someone else is never touched (and the IDs are ours anyway).
remove_container_cgroups() {
  local entry id dir
  for entry in "$BASE"/root/containers/*; do
    id=${entry##*/}
    [[ $id =~ ^[0-9a-f]{64}$ ]] || continue
    for dir in /sys/fs/cgroup/*/docker/"$id" /sys/fs/cgroup/docker/"$id" \
               /sys/fs/cgroup/*/system.slice/docker-"$id".scope \
               /sys/fs/cgroup/system.slice/docker-"$id".scope; do
      if [[ -d $dir ]]; then rmdir "$dir" 2>/dev/null || true; fi
    done
  done
}

unmount_under_base() {
  local target
  # Deepest first. In the host namespace there should be none (dockerd's mounts are private).
  while read -r target; do
    [[ $target == "$BASE" || $target == "$BASE/"* ]] || continue
    umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null ||
      echo "dockerd.sh: cannot unmount $target" >&2
  done < <(findmnt -rn -o TARGET 2>/dev/null | sort -r)
}

cmd_start() {
  check_prerequisites
  if [[ -n $(daemon_pid) ]]; then die "a dockerd is already running for $BASE"; fi
  mkdir -p "$BASE"
  launch_daemon
  docker_cli swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null ||
    { log_tail; die "docker swarm init failed"; }
  # A runnable image without any registry: a static busybox as the whole rootfs.
  local rootfs=$BASE/tiny-rootfs
  rm -rf "$rootfs"
  mkdir -p "$rootfs/bin"
  cp /bin/busybox "$rootfs/busybox"
  ln -s ../busybox "$rootfs/bin/sh"
  tar -C "$rootfs" -c . | docker_cli import - tiny:latest >/dev/null ||
    die "importing tiny:latest failed"
  rm -rf "$rootfs"
  echo "$SOCK"
}

cmd_restart_daemon() {
  check_prerequisites
  local pid
  pid=$(daemon_pid)
  [[ -n $pid ]] || die "no dockerd running for $BASE"
  term_daemon "$pid" || die "dockerd $pid did not exit within ${kTermTimeout}s of SIGTERM"
  # Shims of containers that outlived the daemon would keep the old namespace alive; a clean
  # shutdown stops them, but don't start the new daemon next to stragglers.
  kill_leftovers || die "could not clean up after the old dockerd"
  sleep "$DOWN_SECONDS"
  relaunch_and_wait
}

# Starts the daemon again after it went away and waits until the swarm answers.
relaunch_and_wait() {
  launch_daemon
  local deadline=$(( $(now_ms) + kNodeLsTimeout * 1000 ))
  until docker_cli node ls >/dev/null 2>&1; do
    if (( $(now_ms) > deadline )); then
      log_tail
      die "swarm did not answer 'docker node ls' within ${kNodeLsTimeout}s after restart"
    fi
    sleep 0.1
  done
}

cmd_crash_restart() {
  check_prerequisites
  local pid
  pid=$(daemon_pid)
  [[ -n $pid ]] || die "no dockerd running for $BASE"
  kill -KILL "$pid" 2>/dev/null || true
  local deadline=$(( $(now_ms) + kKillTimeout * 1000 ))
  while alive "$pid"; do
    (( $(now_ms) > deadline )) && die "dockerd $pid survived SIGKILL"
    sleep 0.05
  done
  # containerd, the shims and the containers outlive a killed dockerd: as after a host crash,
  # none of them may be there when it starts again.
  kill_leftovers || die "could not clean up after the killed dockerd"
  # A killed containerd may linger as a zombie nobody reaps; dockerd would take its pidfile for a
  # live containerd and wait for it forever.
  rm -f "$PIDFILE" "$BASE/exec/containerd/containerd.pid"
  sleep "$DOWN_SECONDS"
  relaunch_and_wait
}

cmd_signal() {
  local pid
  pid=$(daemon_pid)
  [[ -n $pid ]] || die "no dockerd running for $BASE"
  kill "-$SIGNAL" "$pid" || die "cannot send SIG$SIGNAL to dockerd $pid"
}

cmd_stop() {
  [[ -d $BASE ]] || return 0  # nothing to do: stop is idempotent
  # Only delete what start made (its log is the first thing it writes) or an empty directory.
  if [[ ! -e $LOG && -n $(ls -A "$BASE") ]]; then
    die "$BASE does not look like a dockerd.sh base directory (no dockerd.log); not touching it"
  fi
  [[ $(id -u) -eq 0 ]] || die "must run as root; uid is $(id -u)"
  local pid status=0
  pid=$(daemon_pid)
  if [[ -n $pid ]]; then
    kill -CONT "$pid" 2>/dev/null || true  # a test may have left it frozen
    # Leaving first makes the shutdown fast: no raft, no task reconciliation on the way out.
    docker_cli swarm leave --force >/dev/null 2>&1 || true
    if ! term_daemon "$pid"; then
      echo "dockerd.sh: dockerd $pid ignored SIGTERM for ${kTermTimeout}s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  kill_leftovers || status=1
  remove_container_cgroups
  unmount_under_base
  if ! rm -rf -- "$BASE" 2>/dev/null; then
    echo "dockerd.sh: could not remove $BASE" >&2
    status=1
  fi
  return "$status"
}

case $cmd in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart-daemon) cmd_restart_daemon ;;
  crash-restart) cmd_crash_restart ;;
  signal) cmd_signal ;;
  *) usage ;;
esac
