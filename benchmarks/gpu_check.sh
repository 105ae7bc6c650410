#!/usr/bin/env bash
# The CUDA check (issue 27): one prepared run on a machine with an NVIDIA GPU, in well under 8 minutes.
#
#   bash benchmarks/gpu_check.sh [OUT]      # OUT: where the figures and logs go (default: gpu-check/)
#
# It runs from the repository's source tree with the machine's own PyTorch (any CUDA build ≥ 2.2), so
# it needs no install of the package. Dependencies the machine lacks can travel as wheels in .whl/
# (imagecodecs, zarr and zarr's own needs, for Python 3.12), which are installed to /tmp/site first.
# Steps, each with its own time limit so one hang cannot eat the others' time:
#   1. the GPU and PyTorch as seen (gpu.txt);
#   2. the device tests (tests/test_devices.py: every method on cpu and cuda; model files across
#      devices), the training loop's and the engine's tests (pytest.log);
#   3. `xraysep demo --device cuda` (demo.log, montage.png, demo-run.json);
#   4. `benchmarks/speed.py --compare-devices cpu,cuda`: the default's fit and whole-painting apply,
#      the auto-encoder's training and inference, the default's quality on one case, on each device
#      in the same run (speed.log, devices.json).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-${OUT:-gpu-check}}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "could not install the carried wheels"; exit 2; }
    export PYTHONPATH="/tmp/site"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
status=0

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
    python3 -c "import torch, os; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-', 'cpu threads', torch.get_num_threads(), 'cores', os.cpu_count())"
} 2>&1 | tee "$OUT/gpu.txt"

echo "== device tests"
timeout 150 python3 -m pytest tests/test_devices.py tests/test_training.py tests/test_engine.py -q -p no:cacheprovider 2>&1 | tee "$OUT/pytest.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== demo on cuda"
rm -rf /tmp/gpu-demo
timeout 100 python3 -m napari_xraysep.cli demo --device cuda --out /tmp/gpu-demo 2>&1 | tee "$OUT/demo.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
cp /tmp/gpu-demo/montage.png "$OUT/" 2>/dev/null
cp /tmp/gpu-demo/run.json "$OUT/demo-run.json" 2>/dev/null

echo "== speed: cpu against cuda"
timeout 270 python3 benchmarks/speed.py --compare-devices cpu,cuda --json "$OUT/devices.json" 2>&1 | tee "$OUT/speed.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== gpu_check finished with status $status"
exit $status
