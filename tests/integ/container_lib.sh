# SPDX-License-Identifier: GPL-2.0-only
# Real containers for the integration scripts: podman with runc, the
# runtime's defaults (seccomp profile, pid and mount namespaces), run from a
# root filesystem built from the host's installed files (no image, no pulls,
# no network). Source it after lib.sh, from a script that called
# ctr_private_namespace first.
#
# Everything podman keeps (its storage, run state, the root filesystem, the
# containers' overlay upper dirs) lives on a tmpfs mounted at $CTR_DIR in the
# script's own mount namespace: it disappears with the script, whatever
# happens. Containers are named rwctr-$$-N and removed at exit.

# ctr_private_namespace SCRIPT "$@": run SCRIPT (the caller) again in its own mount
# namespace with an empty tmpfs on /tmp. A watched "/tmp" is then either the
# container's (resolved in its mount namespace) or this empty one, never the
# machine's /tmp that other programs use.
ctr_private_namespace() {
	[ -n "${REWINDD_CTR_NS:-}" ] && return 0
	local self=$1
	shift
	[ "$(id -u)" = 0 ] || return 0	# the script skips its tests
	command -v unshare >/dev/null || return 0
	REWINDD_CTR_NS=1 exec unshare --mount --propagation private -- /bin/bash -c \
		'mount -t tmpfs -o mode=1777 ctr-tmp /tmp && exec /bin/bash "$0" "$@"' "$self" "$@"
}

CTR_SEQ=0
CTR_DIR=
CTR_NAMES=()

# ctr_missing: why containers cannot run here (empty: they can).
ctr_missing() {
	local t
	for t in podman runc conmon; do
		command -v "$t" >/dev/null || { echo "podman/runc not installed ($t missing)"; return; }
	done
	[ -n "${REWINDD_CTR_NS:-}" ] || echo "no private mount namespace (unshare)"
}

# ctr_setup: state dirs on a private tmpfs and the root filesystem, built once.
ctr_setup() {
	CTR_DIR=$(mktemp -d /var/tmp/rewindd-ctr.XXXXXX) || return 1
	mount -t tmpfs -o mode=0755 rewindd-ctr "$CTR_DIR" || { rmdir "$CTR_DIR"; CTR_DIR=; return 1; }
	mkdir -p "$CTR_DIR"/{storage,run,tmp,rootfs,work} || return 1
	chmod 1777 "$CTR_DIR/work"
	# The root filesystem: /usr bind-mounted read-only at run time, the rest
	# symlinks into it, a copy of /etc, empty mount points.
	local r=$CTR_DIR/rootfs d
	mkdir -p "$r"/{usr,proc,sys,dev,run,root,tmp} || return 1
	chmod 1777 "$r/tmp"
	for d in bin lib lib64 sbin; do
		[ -L "/$d" ] && ln -s "usr/$d" "$r/$d"
	done
	cp -a /etc "$r/etc" 2>/dev/null
	[ -f "$r/etc/passwd" ] || { echo "could not copy /etc into the root filesystem"; return 1; }
	podman_cmd info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}' >"$CTR_DIR/info" 2>&1 ||
		{ echo "podman info failed: $(tail -3 "$CTR_DIR/info")"; return 1; }
}

# podman_cmd ARGS...: podman with state of its own, runc, cgroupfs.
podman_cmd() {
	podman --root "$CTR_DIR/storage" --runroot "$CTR_DIR/run" --tmpdir "$CTR_DIR/tmp" \
		--events-backend none --cgroup-manager cgroupfs --runtime runc "$@"
}

# podman_run [OPTIONS...] -- COMMAND...: podman run -i of COMMAND in a new
# container on an overlay of the root filesystem (its /tmp on the overlay),
# as the coprocess FN (FPID, FIN, FOUT; lib.sh's fn_ask speaks to it), and
# reads its first line into READY. Its name is in CTR, its host pid in HPID.
# Root here lacks CAP_SYS_RESOURCE, so podman's default rlimits (above the
# hard ones) would fail: the hard ones are passed explicitly.
podman_run() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	CTR_SEQ=$((CTR_SEQ + 1))
	CTR=rwctr-$$-$CTR_SEQ
	CTR_NAMES+=("$CTR")
	coproc FN {
		exec podman --root "$CTR_DIR/storage" --runroot "$CTR_DIR/run" --tmpdir "$CTR_DIR/tmp" \
			--events-backend none --cgroup-manager cgroupfs --runtime runc \
			run -i --rm --name "$CTR" --log-driver none --network none \
			--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096 \
			-v /usr:/usr:ro "${opts[@]}" --rootfs "$CTR_DIR/rootfs:O" "$@" 2>"$CTR_DIR/$CTR.err"
	}
	FPID=$FN_PID
	exec {FIN}>&"${FN[1]}" {FOUT}<&"${FN[0]}"
	read -r READY <&"$FOUT" ||
		{ echo "container $CTR exited before ready: $(tail -3 "$CTR_DIR/$CTR.err")"; return 1; }
	case "$READY" in ready*) ;; *) echo "function in $CTR said: $READY"; return 1 ;; esac
	HPID=$(ctr_pid "$CTR") || return 1
}

# ctr_pid NAME: the host pid of the container's command.
ctr_pid() {
	local pid
	pid=$(podman_cmd inspect "$1" --format '{{.State.Pid}}' 2>&1)
	case "$pid" in
	'' | 0 | *[!0-9]*) echo "no pid for container $1: $pid"; return 1 ;;
	esac
	echo "$pid"
}

# ctr_cgroup PID: the cgroup v2 directory of a host pid.
ctr_cgroup() {
	local rel
	rel=$(sed -n 's/^0:://p' /proc/"$1"/cgroup) || return 1
	[ -n "$rel" ] || { echo "pid $1 has no cgroup v2 line"; return 1; }
	echo "$(cgroup2_root)$rel"
}

# ctr_stop: the current container (CTR, coprocess FN) and what it left.
ctr_stop() {
	[ -n "${CTR:-}" ] || return 0
	podman_cmd rm -f -t 0 "$CTR" >/dev/null 2>&1
	[ -n "${FIN:-}" ] && exec {FIN}>&- 2>/dev/null
	[ -n "${FOUT:-}" ] && exec {FOUT}<&- 2>/dev/null
	[ -n "${FPID:-}" ] && wait "$FPID" 2>/dev/null
	CTR= FPID= FIN= FOUT=
}

# ctr_cleanup: every container of this script, then any conmon left that
# names our state dir, then the tmpfs. Runs from the EXIT trap.
ctr_cleanup() {
	[ -n "$CTR_DIR" ] || return 0
	local n p
	for n in "${CTR_NAMES[@]}"; do
		podman_cmd rm -f -t 0 "$n" >/dev/null 2>&1
	done
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = conmon ] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$CTR_DIR/" && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	umount -l "$CTR_DIR" 2>/dev/null
	rmdir "$CTR_DIR" 2>/dev/null
	CTR_DIR=
}
