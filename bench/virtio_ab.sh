#!/bin/bash
# Two minivmm binaries and QEMU in turn on one virtio-blk row of the test payload, with the
# CPU time of each thread that used more than 2% of a CPU in the middle of the run: for
# telling a change from the host's drift, which moves a row by 2x within minutes here.
#
#   bench/virtio_ab.sh OLD-BINARY NEW-BINARY [ROW] [REPS]
#
# ROW is a payload row (default randwrite:1; e.g. randread:32, seqwrite:4), REPS the rounds
# (default 5). Environment: BENCH_IMG (the image, default a 512 MiB raw one of random data in
# /var/tmp, made once), BENCH_FMT (its format, default raw), BENCH_MS (run length, default
# 3000), BENCH_AIO (native|io_uring), BENCH_IOTHREAD=0 (the main loop, not an I/O thread).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=$1 NEW=$2 ROW=${3:-randwrite:1} REPS=${4:-5}
IMG=${BENCH_IMG:-/var/tmp/virtio_ab.raw}
MS=${BENCH_MS:-3000}
PAYLOAD=${BENCH_PAYLOAD:-$ROOT/tests/guest/payload.bin}
[ -f "$IMG" ] || dd if=/dev/urandom of="$IMG" bs=1M count=512 status=none

# one LABEL BINARY|qemu: one run; prints the result and the busy threads' CPU
one() {
    local label=$1 bin=$2 out dev=virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=1
    local args=(-bios "$PAYLOAD" -m 512 -display none
                -fw_cfg "name=opt/minivmm/args,string=virtio_blk_bench $MS $ROW"
                -drive "if=none,id=d0,file=$IMG,format=${BENCH_FMT:-raw},cache=none,aio=${BENCH_AIO:-native}")
    out=$(mktemp)
    if [ "${BENCH_IOTHREAD:-1}" = 1 ]; then
        args+=(-object iothread,id=io0)
        dev=$dev,iothread=io0
    fi
    args+=(-device "$dev" -serial "file:$out")
    if [ "$bin" = qemu ]; then
        qemu-system-x86_64 -name g,debug-threads=on -enable-kvm -machine pc -nodefaults \
            "${args[@]}" 2>/dev/null &
    else
        "$bin" -nodefaults -no-kvm-check "${args[@]}" &
    fi
    local pid=$! cpu="" t
    declare -A before
    sleep "$(awk "BEGIN { print $MS / 2000 }")"
    for t in /proc/$pid/task/*; do before[$t]=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0); done
    sleep 1
    for t in /proc/$pid/task/*; do
        local now name
        now=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null) || continue
        name=$(cat "$t/comm" 2>/dev/null) || continue
        if [ $((now - ${before[$t]:-0})) -gt 2 ]; then
            cpu="$cpu ${name// /_}:$((now - ${before[$t]:-0}))%"
        fi
    done
    wait $pid || true
    printf '%-5s %-24s%s\n' "$label" "$(awk '/^RESULT/ { printf "%s %s  ", $3, $4 }' "$out")" "$cpu"
    rm -f "$out"
}

for i in $(seq "$REPS"); do
    one old "$OLD"
    one new "$NEW"
    one qemu qemu
done
