"""The guest side of a microVM execution: the `/init` every image's initramfs carries, and the
per-execution job script it runs (generated here, shipped on the job drive). Pure: text only.

The init contract (one screen):

* `/init` (below, the same for every execution of an image) mounts proc, sysfs, devtmpfs,
  loads the virtio modules shipped in `/.nunet`, finds the job drive (virtio-blk serial
  `nunet-job`, else `/dev/vda`), unpacks its tar into `/.nunet/job` and runs `job.sh` with the
  busybox shipped at `/.nunet/busybox` (the image need not have a shell).
* `job.sh` mounts each input drive read-only and each output drive read-write, puts the job in a
  cgroup with `memory.max` / `cpu.max`, runs entrypoint + command with the spec's env (and nothing
  else: `env -i`) in the working directory, stdin `/dev/null`.
* Everything the host must read arrives on the serial console as lines starting with
  `NUNET-<nonce> ` (a fresh nonce per execution): `started`, `out <text>` (a stdout line),
  `err <text>` (a stderr line), `health <status>`, `notfound <program>`, `error <why>`, and last
  `exit <code> <oom-kills>`. Then the guest reboots (`reboot -f`), which ends the VMM.
  Any other console line is the kernel's or init's own (stream "console").
"""

from __future__ import annotations

import shlex

import msgspec

BUSYBOX = "/.nunet/busybox"
JOB_DRIVE_SERIAL = "nunet-job"
OUTPUT_DRIVE_PREFIX = "nunet-out"  # output i is the drive with serial nunet-out<i>
GUEST_CGROUP = "/sys/fs/cgroup/job"

INIT_SCRIPT = """#!/.nunet/busybox sh
# nunet microVM init: kernel filesystems, virtio modules, then the job drive's job.sh.
B=/.nunet/busybox
$B mkdir -p /proc /sys /dev /tmp /run
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev
$B mkdir -p /dev/pts /dev/shm
$B mount -t devpts devpts /dev/pts
$B mount -t tmpfs tmpfs /dev/shm
for m in $($B cat /.nunet/modules); do $B insmod /.nunet/$m.ko || echo "nunet-init: insmod $m failed"; done
job=/dev/vda
for d in /sys/block/vd*; do
    [ "$($B cat $d/serial 2>/dev/null)" = nunet-job ] && job=/dev/${d##*/}
done
$B mkdir -p /.nunet/job
if ! $B tar -x -f $job -C /.nunet/job; then
    echo "nunet-init: no job drive at $job"
    $B reboot -f
fi
exec $B sh /.nunet/job/job.sh
"""


class GuestMount(msgspec.Struct, frozen=True, kw_only=True):
    """A drive the guest mounts: found by `serial`, else by `device` (VMMs without serials)."""

    serial: str
    device: str  # /dev/vdX in attachment order
    target: str  # where the job sees it
    read_only: bool
    file_name: str = ""  # a single-file input: the drive holds it under this name


class GuestPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Everything job.sh needs; built by the executor from a checked spec and the image config."""

    nonce: str
    argv: tuple[str, ...]
    env: dict[str, str]
    working_dir: str
    memory_bytes: int
    cpu_quota: float  # cores; the cgroup's cpu.max
    inputs: tuple[GuestMount, ...] = ()
    outputs: tuple[GuestMount, ...] = ()
    health_check: tuple[str, ...] = ()
    health_interval_seconds: float = 1.0


def output_drive_serial(index: int) -> str:
    """The serial of output `index`'s drive (virtio-blk serials hold at most 20 bytes)."""
    return f"{OUTPUT_DRIVE_PREFIX}{index}"


def sentinel(nonce: str) -> str:
    """The prefix of every line the guest's init writes for the host."""
    return f"NUNET-{nonce} "


def _q(word: str) -> str:
    return shlex.quote(word)


def _env_words(env: dict[str, str]) -> str:
    return " ".join(_q(f"{key}={value}") for key, value in env.items())


def _mount_lines(mount: GuestMount) -> list[str]:
    options = "ro" if mount.read_only else "rw"
    where = f"/.nunet/mnt/{mount.serial}" if mount.file_name else mount.target
    lines = [
        f"dev=$(drive {_q(mount.serial)} {_q(mount.device)})",
        f"$B mkdir -p {_q(where)}",
        f"$B mount -t ext4 -o {options} $dev {_q(where)} "
        f"|| fail {_q(f'the drive for {mount.target} could not be mounted')}",
    ]
    if mount.file_name:
        parent = mount.target.rsplit("/", 1)[0] or "/"
        lines += [
            f"$B mkdir -p {_q(parent)} && $B touch {_q(mount.target)}",
            f"$B mount --bind {_q(where + '/' + mount.file_name)} {_q(mount.target)}",
            f"$B mount -o remount,bind,ro {_q(mount.target)}",
        ]
    elif not mount.read_only:
        lines.append(f"$B rmdir {_q(where)}/lost+found 2>/dev/null")
    return lines


def job_script(plan: GuestPlan) -> str:
    """The shell script the guest's init runs for one execution (busybox sh)."""
    tag = _q(sentinel(plan.nonce))
    path = plan.env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    lines = [
        "B=/.nunet/busybox",
        f"N={tag}",
        'say() { echo "$N$*"; }',
        'fail() { say error "$*"; $B sync; $B reboot -f; }',
        "drive() {",
        "    for d in /sys/block/vd*; do",
        '        [ "$($B cat $d/serial 2>/dev/null)" = "$1" ] && { echo /dev/${d##*/}; return; }',
        "    done",
        '    echo "$2"',
        "}",
        # Lines of one stream, tagged; a last line without a newline still counts.
        'relay() { while IFS= read -r l || [ -n "$l" ]; do echo "$N$1 $l"; done; }',
        "$B mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail 'no cgroup2 in this kernel'",
        "echo '+memory +cpu +pids' > /sys/fs/cgroup/cgroup.subtree_control",
        f"$B mkdir -p {GUEST_CGROUP}",
        f"echo {plan.memory_bytes} > {GUEST_CGROUP}/memory.max",
        f"echo 0 > {GUEST_CGROUP}/memory.swap.max 2>/dev/null",
        f"echo '{int(plan.cpu_quota * 100_000)} 100000' > {GUEST_CGROUP}/cpu.max",
    ]
    for mount in plan.inputs:
        lines += _mount_lines(mount)
    for mount in plan.outputs:
        lines += _mount_lines(mount)
    workdir = plan.working_dir or "/"
    program = plan.argv[0]
    lines += [
        f"$B mkdir -p {_q(workdir)} && cd {_q(workdir)} || fail {_q(f'no working dir {workdir}')}",
        f"P={_q(path)}",
        # An absolute path: busybox would otherwise prefer its own applets to the image's programs.
        "resolve() {",
        '    case "$1" in',
        '    */*) [ -f "$1" ] && [ -x "$1" ] && echo "$1" ;;',
        '    *) IFS=:; for d in $P; do if [ -f "$d/$1" ] && [ -x "$d/$1" ]; then',
        '        unset IFS; echo "$d/$1"; return 0; fi; done; unset IFS; return 1 ;;',
        "    esac",
        "}",
        f"p=$(resolve {_q(program)}) || {{ say notfound {_q(program)}; $B reboot -f; }}",
        f'set -- "$p" {" ".join(_q(word) for word in plan.argv[1:])}',
        "$B mkfifo /.nunet/stdout /.nunet/stderr",
        "relay out < /.nunet/stdout & r1=$!",
        "relay err < /.nunet/stderr & r2=$!",
    ]
    if plan.health_check:
        check = " ".join(_q(word) for word in plan.health_check[1:])
        lines += [
            "(",
            "    last=''",
            "    while :; do",
            f"        if c=$(resolve {_q(plan.health_check[0])}); then",
            f'            $B env -i {_env_words(plan.env)} "$c" {check} >/dev/null 2>&1 </dev/null',
            "            s=$?",
            "        else s=127; fi",
            '        [ "$s" = "$last" ] || say health $s',
            f"        last=$s; $B sleep {plan.health_interval_seconds:g}",
            "    done",
            ") & hc=$!",
        ]
    lines += [
        "say started",
        f"$B sh -c 'echo $$ > {GUEST_CGROUP}/cgroup.procs && exec \"$@\"' job "
        f'$B env -i {_env_words(plan.env)} "$@" </dev/null >/.nunet/stdout 2>/.nunet/stderr',
        "code=$?",
        # Whatever the job left running would hold the relays open.
        f"echo 1 > {GUEST_CGROUP}/cgroup.kill 2>/dev/null",
        "wait $r1 $r2",
    ]
    if plan.health_check:
        lines.append("kill $hc 2>/dev/null")
    oom = f"$($B awk '/^oom_kill /{{print $2}}' {GUEST_CGROUP}/memory.events)"
    lines += [f"oom={oom}"]
    if plan.outputs:
        lines.append("$B sync")
        lines += [f"$B umount {_q(mount.target)} 2>/dev/null" for mount in plan.outputs]
    lines += ['say exit $code "${oom:-0}"', "$B sync", "$B reboot -f", ""]
    return "\n".join(lines)
