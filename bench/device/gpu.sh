#!/usr/bin/env bash
# One device run for issue #6: WebGPU kernel tests on the real GPU, then bench/gpu-bench.ts; figures and logs in $OUT.
#
# Run from the repo root with $OUT set, carrying `.gpucarry` (node.xz, dawn.node.xz, a node_modules subset, Vulkan
# loader + GLVND debs; see docs/webgpu.md "Device run") and `dist` (built JS). The device has no node and no network.
# SMALL=1 runs the same steps against SwiftShader with the --small model (how the script is tested without a GPU).
# Every step has its own time limit, and the whole script stays under ~205 s even if something hangs (kernel tests 30 s,
# the benchmark the rest: since the precision rungs it times 8 weight paths, not 4). On NVIDIA, clocks.csv samples SM/memory clocks every 0.5 s during the benchmark.
set -u
: "${OUT:?set OUT to the folder for results}"
SMALL=${SMALL:-0}
CARRY=${CARRY:-.gpucarry}
TOTAL_S=${TOTAL_S:-200}
T0=$(date +%s)
mkdir -p "$OUT"
log() { echo "[gpu.sh +$(($(date +%s) - T0))s] $*"; }
left() { echo $((TOTAL_S - ($(date +%s) - T0))); }
unxz_to() { # unxz_to FILE.xz DEST: xz when present, else Python's lzma
  xz -dc "$1" >"$2" 2>/dev/null || python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
}

# 1. node, unpacked to /tmp.
NODE=/tmp/edgewise-node/node
mkdir -p /tmp/edgewise-node
if ! "$NODE" --version >/dev/null 2>&1; then
  unxz_to "$CARRY/node.xz" "$NODE" && chmod +x "$NODE" || { log "cannot unpack node"; exit 2; }
fi
log "node $("$NODE" --version)"

# 2. node_modules: the carried subset (webgpu's JS + dawn.node, msgpackr), linked where the repo's imports find it.
NM=/tmp/edgewise-node/node_modules
if [ ! -f "$NM/webgpu/dist/linux-x64/dawn.node" ]; then
  rm -rf "$NM" && mkdir -p "$NM" && cp -r "$CARRY/nm/." "$NM/" && mkdir -p "$NM/webgpu/dist/linux-x64" &&
    unxz_to "$CARRY/dawn.node.xz" "$NM/webgpu/dist/linux-x64/dawn.node" || { log "cannot unpack dawn.node"; exit 2; }
fi
if [ -e node_modules ] && [ ! -L node_modules ]; then
  log "node_modules exists here; using it"
else
  ln -sfn "$NM" node_modules
fi

# 3. Vulkan loader (and GLVND, which NVIDIA's ICD needs) when the system lacks them; NVIDIA's ICD when the loader finds none.
missing=0
for lib in libvulkan.so.1 libGLX.so.0 libEGL.so.1 libGLdispatch.so.0; do
  ldconfig -p | grep -q "$lib " || missing=1
done
if [ "$missing" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    for f in "$CARRY"/*.deb; do dpkg -x "$f" /; done
    ldconfig
    log "Vulkan loader + GLVND unpacked from $(ls "$CARRY"/*.deb | wc -l) debs"
  else
    log "Vulkan loader/GLVND missing and not root: Dawn may find no adapter"
  fi
fi
if [ "$SMALL" != 1 ]; then
  icd=""
  for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d; do
    [ -f "$d/nvidia_icd.json" ] && icd="$d/nvidia_icd.json"
  done
  if [ -z "$icd" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json VK_ICD_FILENAMES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
  log "Vulkan ICD: ${VK_DRIVER_FILES:-${icd:-loader default}}"
  command -v nvidia-smi >/dev/null && timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,utilization.gpu --format=csv,noheader | sed 's/^/[nvidia-smi] /'
fi

# 3b. Probe the adapter Dawn picks; on a software (or no) adapter, try each NVIDIA ICD file found on the machine.
probe() {
  timeout -k 2 20 "$NODE" --input-type=module -e "
    const { openGpu } = await import(process.cwd() + '/dist/kernels/webgpu/device.js');
    const g = await openGpu();
    console.log(g ? (g.isSoftware ? 'software: ' : 'hardware: ') + g.adapterName : 'none');
    g?.destroy();
    process.exit(0);" 2>/dev/null | tail -1
}
adapter=$(probe)
log "adapter: ${adapter:-probe failed}"
if [ "$SMALL" != 1 ] && [ "${adapter%%:*}" != hardware ]; then
  for f in $(ls /usr/local/nvidia/share/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*nvidia*.json /etc/vulkan/icd.d/*nvidia*.json \
    /usr/local/nvidia/etc/vulkan/icd.d/*.json 2>/dev/null); do
    export VK_DRIVER_FILES="$f" VK_ICD_FILENAMES="$f"
    adapter=$(probe)
    log "with ICD $f: ${adapter:-probe failed}"
    [ "${adapter%%:*}" = hardware ] && break
  done
  if [ "${adapter%%:*}" != hardware ]; then
    log "no hardware adapter; diagnostics follow"
    ldconfig -p | grep -Ei 'vulkan|nvidia|GLX' | head -20
    ls -la /usr/local/nvidia/lib64 2>/dev/null | head -20
  fi
fi

# 4. Kernel tests on this GPU (decode bit-exact vs the CPU decoder, at every precision rung, fine index, fused GEMV, forward kernels).
TEST_S=${TEST_S:-$([ "$SMALL" = 1 ] && echo 150 || echo 30)}
log "kernel tests (limit ${TEST_S}s)"
timeout -k 5 "$TEST_S" "$NODE" --test --test-reporter=tap dist/kernels/webgpu/huff8.test.js dist/kernels/webgpu/huff8-planes.test.js dist/kernels/webgpu/forward-kernels.test.js dist/kernels/webgpu/wgsl-loader.test.js >"$OUT/tests.log" 2>&1
rc=$?
grep -E '^# (tests|pass|fail|skipped)' "$OUT/tests.log" | tr '\n' ' '
echo
grep -E '^\s*not ok' "$OUT/tests.log" | head -20
log "kernel tests exit $rc"

# 5. The benchmark, within what is left of the time limit.
BENCH_S=$(left)
[ "$SMALL" = 1 ] && BENCH_S=200
[ "$BENCH_S" -lt 20 ] && BENCH_S=20
log "gpu-bench (limit ${BENCH_S}s)"
args=(--out "$OUT/gpu-bench.json")
[ "$SMALL" = 1 ] && args+=(--small)
SMI_PID=""
if [ "$SMALL" != 1 ] && command -v nvidia-smi >/dev/null; then
  timeout 10 nvidia-smi --query-gpu=clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,pstate --format=csv | sed 's/^/[nvidia-smi idle] /'
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,pstate,utilization.gpu,power.draw --format=csv -lms 500 >"$OUT/clocks.csv" 2>&1 &
  SMI_PID=$!
fi
timeout -k 5 "$BENCH_S" "$NODE" dist/bench/gpu-bench.js "${args[@]}" 2>&1 | grep -v XDG_RUNTIME_DIR | tee "$OUT/gpu-bench.log"
rc=${PIPESTATUS[0]}
if [ -n "$SMI_PID" ]; then
  kill "$SMI_PID" 2>/dev/null
  echo "[nvidia-smi] SM clock MHz during the benchmark (min/max of $(($(wc -l <"$OUT/clocks.csv") - 1)) samples):" \
    "$(awk -F', ' 'NR > 1 && $2 + 0 > 0 { v = $2 + 0; if (min == "" || v < min) min = v; if (v > max) max = v } END { print min "/" max }' "$OUT/clocks.csv")"
fi
log "gpu-bench exit $rc (124: cut at the limit; the JSON holds every stage finished)"
exit "$rc"
