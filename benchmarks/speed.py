"""Speed and memory benchmark: the colour map (the default) and the auto-encoder (paper vs fast inference
and training), and a whole painting in bounded memory with each.

    python benchmarks/speed.py                 # the full set (about 15 minutes on 2 CPU cores)
    python benchmarks/speed.py --quick         # small sizes, for a smoke run
    python benchmarks/speed.py --device cuda   # the same on a GPU
    python benchmarks/speed.py --compare-devices cpu,cuda [--json F]
                                               # only the default's fit and whole-painting apply, the
                                               # auto-encoder's training and inference, and the default's
                                               # quality on one case, on each device in turn (one run, ratios)
    python benchmarks/speed.py --floor [--quick] [--dask [WORKERS]]
                                               # only: the I/O floor (tifffile reads an 8000×8000 pair and
                                               # writes six float32 layers; 2000×2000 with --quick) beside
                                               # `xraysep apply` of the default, whole process, uncompressed
                                               # and Deflate; --dask: also on a local cluster (2 workers)
    python benchmarks/speed.py --mosaic 24000,25000 [--time-cap 900]
                                               # only: peak memory of `xraysep separate` on a generated
                                               # 600-megapixel tiled BigTIFF pair (hours on 2 CPU cores
                                               # to the end; --time-cap stops it after that many seconds)

Every measurement runs in its own child process, so its peak resident memory (RSS) is its own.
Figures are printed as a Markdown table with ratios from this one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve()


# ----------------------------------------------------------------------------- measurements (child)


def _warm(device: str) -> None:
    """Run both methods once, small, on ``device`` before a timed region: the first use of a device
    loads libraries and creates handles (a GPU's context, cuBLAS/cuSOLVER/cuDNN, the optimiser's
    imports), seconds that are no part of what is measured."""
    from napari_xraysep import SeparationConfig, separate
    from napari_xraysep.datasets.synthetic import make_mixture

    small = make_mixture("concealed_portrait", (64, 96), seed=1)
    separate(small.x_mixed, small.rgb_surface, None, config=SeparationConfig(device=device, steps=3))
    config = SeparationConfig.autoencoder(device=device, steps=2, warm_start=False, channels=4, crop_size=32)
    separate(small.x_mixed, small.rgb_surface, small.region_mask, config=config)


def _model(channels: int, steps: int, device: str, method: str = "autoencoder"):
    """A model fitted on the sample: an auto-encoder trained briefly (the figures here are about speed,
    not quality), or the colour map as the default fits it (``channels`` and ``steps`` unused)."""
    from napari_xraysep import SeparationConfig, separate
    from napari_xraysep.datasets.synthetic import load_sample

    sample = load_sample()
    if method == "colour_map":
        config = SeparationConfig(device=device)
    else:
        config = SeparationConfig.autoencoder(steps=steps, channels=channels, device=device)
    return separate(sample.x_mixed, sample.rgb_surface, sample.region_mask, config=config).model


def _region(shape: tuple[int, int]):
    from napari_xraysep.datasets.synthetic import make_mixture

    return make_mixture("concealed_portrait", shape, seed=5)


def measure_inference(mode: str, shape: tuple[int, int], channels: int, device: str, out: Path) -> dict:
    """Apply one trained network to a region with patch-averaged (paper) or tiled (fast) inference."""
    import dataclasses

    from napari_xraysep.core import predict, prepare_inputs, resolve_device

    model = _model(channels, 20, device)
    model = dataclasses.replace(model, config=model.config.replace(mode=mode))
    mixture = _region(shape)
    inputs = prepare_inputs(mixture.x_mixed, mixture.rgb_surface, None, x_normalisation=model.x_normalisation, rgb_normalisation=model.rgb_normalisation)
    _warm(device)
    started = time.perf_counter()
    components = predict(model, inputs, resolve_device(device))
    seconds = time.perf_counter() - started
    np.save(out / f"x2_hat_{mode}.npy", components.x2_hat)
    return {"seconds": seconds, "pixels": shape[0] * shape[1]}


def measure_training(mode: str, steps: int, channels: int, device: str) -> dict:
    """Training throughput: pixels seen per second (crops or the paper's 50×50 patches)."""
    from napari_xraysep import SeparationConfig, separate

    mixture = _region((256, 384))
    preset = SeparationConfig.paper if mode == "paper" else SeparationConfig.autoencoder
    config = preset(channels=channels, steps=steps, device=device)
    _warm(device)
    result = separate(mixture.x_mixed, mixture.rgb_surface, mixture.region_mask, config=config)
    seconds = result.timings["train_s"]  # training only, not the inference that follows
    settings = config.method
    side = settings.patch_size if mode == "paper" else settings.crop_size
    return {"seconds": seconds, "steps": steps, "pixels_per_s": steps * settings.batch_size * side * side / seconds}


QUALITY_CASE = ("concealed_portrait", (192, 288), 0)  # the quality benchmark's first case, size and seed


def measure_time_to_quality(mode: str, budgets: list[int], target: float | None, time_cap_s: float, device: str) -> dict:
    """Complete runs (each with its own learning-rate schedule) of growing step budgets, the default
    settings with ``mode`` as the only change, until x2 reaches ``target`` dB or training passes ``time_cap_s``."""
    from napari_xraysep import SeparationConfig, separate
    from napari_xraysep.datasets.evaluation import score
    from napari_xraysep.datasets.synthetic import make_mixture

    case, shape, seed = QUALITY_CASE
    mixture = make_mixture(case, shape, seed=seed)
    separate(mixture.x_mixed, mixture.rgb_surface, mixture.region_mask, config=SeparationConfig.autoencoder(mode=mode, steps=1, device=device))  # warm-up
    runs = []
    for steps in budgets:
        config = SeparationConfig.autoencoder(mode=mode, steps=steps, device=device)
        result = separate(mixture.x_mixed, mixture.rgb_surface, mixture.region_mask, config=config)
        runs.append({"steps": steps, "train_s": result.timings["train_s"], "x2_psnr": score(result.x2, mixture.x2_true)["psnr_affine"]})
        if (target is not None and runs[-1]["x2_psnr"] >= target) or runs[-1]["train_s"] > time_cap_s:
            break
    return {"runs": runs}


def time_to(target: float, runs: list[dict]) -> float | None:
    """Training seconds of the first budget whose x2 reached ``target`` dB (None: never)."""
    return next((run["train_s"] for run in runs if run["x2_psnr"] >= target), None)


DEVICE_QUALITY_CASE = ("photo_coffee_over_astronaut", (256, 384), 0)  # one photographic case of the quality benchmark


def measure_default_quality(device: str, out: Path) -> dict:
    """The default (colour map) on one photographic case on ``device``: x2 PSNR after an affine fit,
    and the refined x2 saved so that two devices' results can be compared pixel by pixel."""
    from napari_xraysep import SeparationConfig, separate
    from napari_xraysep.datasets.evaluation import score
    from napari_xraysep.datasets.synthetic_photos import make_photo_mixture

    case, shape, seed = DEVICE_QUALITY_CASE
    mixture = make_photo_mixture(case, shape, seed)
    _warm(device)
    started = time.perf_counter()
    result = separate(mixture.x_mixed, mixture.rgb_surface, None, config=SeparationConfig(device=device, seed=seed))
    seconds = time.perf_counter() - started
    np.save(out / f"x2_{device.replace(':', '_')}.npy", result.x2)
    return {"seconds": seconds, "x2_psnr": score(result.x2, mixture.x2_true)["psnr_affine"], "x2_range": float(np.ptp(mixture.x2_true))}


def make_painting(folder: Path, side: int) -> tuple[Path, Path]:
    """An uncompressed side×side X-ray and RGB, written tile by tile from a 500×1000 synthetic
    mixture mirrored across the painting (nothing of painting size is ever in memory)."""
    import tifffile

    from napari_xraysep.datasets.synthetic import make_mixture

    block = make_mixture("landscape_over_portrait", (500, 1000), seed=9)
    x_path, rgb_path = folder / "painting-xray.tif", folder / "painting-rgb.tif"
    x = tifffile.memmap(x_path, shape=(side, side), dtype=np.float32)
    rgb = tifffile.memmap(rgb_path, shape=(side, side, 3), dtype=np.uint8, photometric="rgb")
    for y in range(0, side, 500):
        for x0 in range(0, side, 1000):
            flip = (slice(None, None, -1 if (y // 500) % 2 else 1), slice(None, None, -1 if (x0 // 1000) % 2 else 1))
            h, w = min(500, side - y), min(1000, side - x0)
            x[y : y + h, x0 : x0 + w] = block.x_mixed[flip][:h, :w]
            rgb[y : y + h, x0 : x0 + w] = (block.rgb_surface[flip][:h, :w] * 255).astype(np.uint8)
    x.flush()
    rgb.flush()
    del x, rgb
    return x_path, rgb_path


def measure_colour_map(shape: tuple[int, int], device: str) -> dict:
    """The default on a region: the colour-map fit alone, and the whole separation (fit, application,
    step 2) as ``separate`` runs it."""
    from napari_xraysep import SeparationConfig, separate

    mixture = _region(shape)
    _warm(device)
    started = time.perf_counter()
    result = separate(mixture.x_mixed, mixture.rgb_surface, mixture.region_mask, config=SeparationConfig(device=device))
    return {"fit_s": result.timings["train_s"], "total_s": time.perf_counter() - started, "pixels": shape[0] * shape[1]}


def measure_whole_painting(side: int, channels: int, device: str, folder: Path, tile: int, method: str) -> dict:
    """``xraysep apply`` of a model over a side×side painting streamed from and to TIFF."""
    from napari_xraysep import save_model
    from napari_xraysep.cli import main

    model_path = save_model(_model(channels, 20, device, method), folder / f"model-{method}.pt")
    x_path, rgb_path = folder / "painting-xray.tif", folder / "painting-rgb.tif"
    if not x_path.exists():
        make_painting(folder, side)
    out = folder / f"out-{method}"
    _warm(device)
    started = time.perf_counter()
    code = main(["apply", str(model_path), str(x_path), str(rgb_path), "--out", str(out), "--tile", str(tile), "--device", device, "--quiet"])
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "exit": code, "pixels": side * side}


MOSAIC_TILE = 512


def make_mosaic(folder: Path, height: int, width: int, compression: str | None = "zlib", stem: str = "mosaic") -> tuple[Path, Path]:
    """A height×width tiled BigTIFF pair (uint16 X-ray, uint8 RGB), Deflate-compressed as a museum's
    mosaic arrives (``compression`` None: uncompressed), ``folder/<stem>-xray.tif`` and ``-rgb.tif``:
    512-px tiles cut from a 1024×1024 synthetic mixture, mirrored in turn. Each distinct tile is
    encoded once and the file written tile by tile, so generating 600 megapixels takes minutes and
    little memory."""
    import zlib

    import tifffile

    from napari_xraysep.datasets.synthetic import make_mixture

    block = make_mixture("landscape_over_portrait", (2 * MOSAIC_TILE, 2 * MOSAIC_TILE), seed=9)
    low, high = float(block.x_mixed.min()), float(block.x_mixed.max())
    x16 = np.round((block.x_mixed - low) / (high - low) * 50000 + 5000).astype(np.uint16)
    rgb8 = np.round(block.rgb_surface * 255).astype(np.uint8)
    cache: dict[tuple, bytes] = {}

    def tiles(image: np.ndarray):
        for ty in range(-(-height // MOSAIC_TILE)):
            for tx in range(-(-width // MOSAIC_TILE)):
                key = (image.ndim, ty % 2, tx % 2, (ty // 2) % 2, (tx // 2) % 2)
                if key not in cache:
                    tile = image[key[1] * MOSAIC_TILE : (key[1] + 1) * MOSAIC_TILE, key[2] * MOSAIC_TILE : (key[2] + 1) * MOSAIC_TILE]
                    tile = tile[:: -1 if key[3] else 1, :: -1 if key[4] else 1]
                    raw = np.ascontiguousarray(tile).tobytes()
                    cache[key] = zlib.compress(raw, 1) if compression else raw
                yield cache[key]

    paths = folder / f"{stem}-xray.tif", folder / f"{stem}-rgb.tif"
    for path, image, photometric in ((paths[0], x16, "minisblack"), (paths[1], rgb8, "rgb")):
        tifffile.imwrite(
            path, tiles(image), shape=(height, width, *image.shape[2:]), dtype=image.dtype, tile=(MOSAIC_TILE, MOSAIC_TILE),
            compression=compression, photometric=photometric, bigtiff=True, metadata=None,
        )
    return paths


RESULT_LAYERS = ("x1_hat", "x2_hat", "error_map", "x1", "x2", "weave")  # what `xraysep apply` writes


def measure_floor(x_path: Path, rgb_path: Path, folder: Path) -> dict:
    """The I/O floor of applying a model to a pair: tifffile alone reads both images (decoding them)
    and writes six float32 layers of their size as `xraysep apply` writes its results (uncompressed)."""
    import tifffile

    out = folder / "floor"
    out.mkdir()
    started = time.perf_counter()
    x = tifffile.imread(x_path)
    rgb = tifffile.imread(rgb_path)
    layer = x.astype(np.float32)
    for name in RESULT_LAYERS:
        tifffile.imwrite(out / f"{name}.tif", layer, bigtiff=True)
    seconds = time.perf_counter() - started
    shutil.rmtree(out)
    return {"seconds": seconds, "pixels": int(x.size), "read_mib": (x.nbytes + rgb.nbytes) / 2**20}


def xraysep_command() -> list[str]:
    """The `xraysep` of this interpreter's environment (the console script beside it)."""
    script = Path(sys.executable).parent / "xraysep"
    return [str(script)] if script.exists() else [sys.executable, "-m", "napari_xraysep.cli"]


def _timed_process(command: list[str], out: Path, cluster=None) -> dict:
    """``command`` run to the end, the whole process timed, and its peak resident memory (the kernel's
    count over this process's children: each measurement runs in a fresh child, so it is this
    command's). ``out`` removed afterwards."""
    try:
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
    finally:
        if cluster is not None:
            cluster.close()
    shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return {"seconds": seconds, "process_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def measure_apply_process(model_path: Path, x_path: Path, rgb_path: Path, folder: Path, dask_workers: int) -> dict:
    """`xraysep apply` of ``model_path`` to the pair, the whole process timed (start, imports,
    calibration, tiles, writes). With ``dask_workers`` > 0, on a ``distributed.LocalCluster`` of that
    many single-threaded worker processes started here (``--dask ADDRESS``)."""
    out = folder / f"applied-{x_path.stem}-{dask_workers}"
    command = [*xraysep_command(), "apply", str(model_path), str(x_path), str(rgb_path), "--out", str(out), "--device", "cpu", "--quiet"]
    cluster = None
    if dask_workers:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=dask_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None)
        command += ["--dask", cluster.scheduler_address]
    return _timed_process(command, out, cluster)


def measure_separate_process(x_path: Path, rgb_path: Path, folder: Path) -> dict:
    """`xraysep separate` of the pair with the defaults and no region (over 36 MP: the colour map fitted
    on the central 1536×1536 area, then applied tile by tile), the whole process timed."""
    out = folder / f"separated-{x_path.stem}"
    return _timed_process([*xraysep_command(), "separate", str(x_path), str(rgb_path), "--out", str(out), "--device", "cpu", "--quiet"], out)


def measure_napari_path(x_path: Path, rgb_path: Path, folder: Path) -> dict:
    """The dock's whole-painting path without a window, in this process: the plugin's reader opens
    both files as the viewer does (lazily), the layers' full-resolution data become the run's
    sources, :func:`napari_xraysep.pipeline.iter_run` trains on the central area and writes the
    result set with its pyramids (``pyramid=True``, as the dock asks), and the result's layer data
    are made (:func:`napari_xraysep.plugin.shown.result_layers`, contrast limits included) — all but
    drawing them."""
    from napari_xraysep import SeparationConfig
    from napari_xraysep.core.progress import drive
    from napari_xraysep.core.sources import Sources
    from napari_xraysep.pipeline import iter_run
    from napari_xraysep.plugin.reader import read_image_layer
    from napari_xraysep.plugin.shown import result_layers

    out = folder / f"napari-{x_path.stem}"
    started = time.perf_counter()
    (x_data, x_kwargs, _), (rgb_data, rgb_kwargs, _) = read_image_layer(x_path), read_image_layer(rgb_path)
    x_full = x_data[0] if x_kwargs.get("multiscale") else x_data
    rgb_full = rgb_data[0] if rgb_kwargs.get("multiscale") else rgb_data
    run = iter_run(Sources(x_full, rgb_full), None, config=SeparationConfig(device="cpu"), out=out, pyramid=True)
    result = drive(run, lambda event: None)
    layers, _ = result_layers(result, x_path.stem, 1, False, {}, {})
    seconds = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "layers": len(layers)}


def floor_comparison(side: int, work: Path, dask_workers: int) -> tuple[str, dict]:
    """The I/O floor beside the product on a side×side pair, tiled BigTIFF both uncompressed and
    Deflate-compressed, in this one run: `xraysep apply` (whole process), `xraysep separate` (whole
    process: fit on the central area, then applied tile by tile), the dock's whole-painting path
    (:func:`measure_napari_path`) and, with ``dask_workers``, `xraysep apply --dask` on a local
    cluster. Returns a Markdown table (with the ratios) and the figures."""
    from napari_xraysep import save_model

    model_path = work / "model-floor.pt"
    save_model(_model(0, 0, "cpu", "colour_map"), model_path)
    figures: dict[str, dict] = {}
    for compression in (None, "zlib"):
        name = compression or "raw"
        x_path, rgb_path = make_mosaic(work, side, side, compression, stem=f"pair-{name}")
        figures[name] = {
            "floor": run_child(["floor", str(x_path), str(rgb_path), str(work)]),
            "apply": run_child(["apply_process", str(model_path), str(x_path), str(rgb_path), str(work), 0]),
            "separate": run_child(["separate_process", str(x_path), str(rgb_path), str(work)]),
            "napari": run_child(["napari_path", str(x_path), str(rgb_path), str(work)]),
        }
        if dask_workers:
            figures[name]["dask"] = run_child(["apply_process", str(model_path), str(x_path), str(rgb_path), str(work), dask_workers])
        print(f"floor {name}: {json.dumps(figures[name])}", file=sys.stderr)
        x_path.unlink()
        rgb_path.unlink()
    megapixels = side * side / 1e6
    what = {
        "floor": "I/O floor: tifffile reads both, writes six float32 layers",
        "apply": "`xraysep apply` (a saved default model), whole process",
        "separate": "`xraysep separate` (fit on the central 1536² area, then tile by tile), whole process",
        "napari": "the dock's whole-painting path (reader → run → result set with pyramids → layer data), no drawing",
        "dask": f"`xraysep apply --dask` on a local cluster of {dask_workers} workers, whole process",
    }
    lines = ["| pair (tiled BigTIFF) | what | time | rate | ÷ floor | peak memory |", "|---|---|---|---|---|---|"]
    for name, label in (("raw", "uncompressed"), ("zlib", "Deflate")):
        f = figures[name]
        floor = f["floor"]["seconds"]
        for key in [k for k in what if k in f]:
            seconds = f[key]["seconds"]
            ratio = "1" if key == "floor" else (f"**{seconds / floor:.1f}×**" if key == "apply" else f"{seconds / floor:.1f}×")
            lines.append(
                f"| {side}×{side}, {label} | {what[key]} | {seconds:.1f} s | {megapixels / seconds:.2f} Mpx/s | {ratio} "
                f"| {f[key].get('process_peak_rss_mib', f[key]['peak_rss_mib']) / 1024:.2f} GiB |"
            )
    return "\n".join(lines), figures


def _resident_mib(pid: int) -> float:
    """A process's resident memory now (Linux /proc), in MiB; 0 once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)


def _watch(command: list[str], log: Path, phase_of, time_cap_s: float = float("inf")) -> tuple[float, int, dict[str, float]]:
    """Run ``command`` with its stderr in ``log``, sampling its resident memory every 2 s under the
    phase ``phase_of()`` names; Ctrl-C it once after ``time_cap_s``. Returns (seconds, exit code,
    sampled peak MiB per phase)."""
    import signal

    peaks: dict[str, float] = {}
    started = time.perf_counter()
    with open(log, "w") as stderr:
        child = subprocess.Popen(command, stderr=stderr, stdout=subprocess.DEVNULL, text=True)
        while child.poll() is None:
            phase = phase_of()
            peaks[phase] = max(peaks.get(phase, 0.0), _resident_mib(child.pid))
            if time.perf_counter() - started > time_cap_s:
                child.send_signal(signal.SIGINT)  # first Ctrl-C: stop after this tile, leave nothing half-written
                time_cap_s = float("inf")
            time.sleep(2)
    return time.perf_counter() - started, child.returncode, peaks


def measure_mosaic(height: int, width: int, folder: Path, time_cap_s: float) -> dict:
    """Time and peak resident memory of ``xraysep separate`` (the default colour map, a region in the
    middle) on a generated mosaic pair — trained on the area around the region, applied tile by tile —
    then of ``xraysep align`` on the same pair. The peak of the separation (the kernel's count) and
    sampled peaks of its training and tile phases and of the alignment are reported. A separation still
    going after ``time_cap_s`` is stopped with Ctrl-C (its peaks so far count)."""
    import re

    started = time.perf_counter()
    x_path, rgb_path = make_mosaic(folder, height, width)
    generated_s = time.perf_counter() - started
    cy, cx = height // 2, width // 2
    cli = [sys.executable, "-m", "napari_xraysep.cli"]
    out = folder / "separated"
    log = folder / "separate.log"
    # The tiles have begun once the progress says "tile".
    seconds, code, peaks = _watch(
        [*cli, "separate", str(x_path), str(rgb_path), "--region", f"{cy - 384},{cx - 512},{cy + 384},{cx + 512}",
         "--out", str(out), "--device", "cpu"],
        log, lambda: "apply" if log.exists() and "tile " in log.read_text() else "train", time_cap_s,
    )
    separate_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    err = log.read_text()
    tiles = re.findall(r"tile (\d+)/(\d+)", err)
    done, total = (int(tiles[-1][0]), int(tiles[-1][1])) if tiles else (0, 0)
    align_s, align_code, align_peaks = _watch(
        [*cli, "align", str(x_path), str(rgb_path), "--out", str(folder / "aligned.tif"), "--overwrite"],
        folder / "align.log", lambda: "align",
    )
    return {
        "pixels": height * width, "generate_s": generated_s, "separate_s": seconds, "exit": code,
        "tiles_done": done, "tiles_total": total, "separate_peak_rss_mib": separate_peak,
        "sampled_peak_rss_mib_training": peaks.get("train", 0.0), "sampled_peak_rss_mib_tiles": peaks.get("apply", 0.0),
        "stderr_tail": err[-600:], "align_s": align_s, "align_exit": align_code,
        "align_sampled_peak_rss_mib": align_peaks.get("align", 0.0), "align_tail": (folder / "align.log").read_text()[-600:],
    }


def mosaic_report(height: int, width: int, result: dict) -> str:
    """The Markdown page of a --mosaic run."""
    gib = 1024
    finished = result["exit"] == 0
    rate = result["pixels"] * result["tiles_done"] / max(result["tiles_total"], 1) / result["separate_s"] / 1e6
    aligned = "finished" if result.get("align_exit") == 0 else f"exit {result.get('align_exit')}"
    return (
        "# `xraysep separate` and `xraysep align` on a 600-megapixel mosaic\n\n"
        f"Made by `python benchmarks/speed.py --mosaic {height},{width}` on {platform.machine()}, CPU "
        f"({os.cpu_count()} cores); one run.\n\n"
        f"A generated {height}×{width} pair ({result['pixels'] / 1e6:.0f} megapixels; Deflate-compressed, tiled BigTIFF: "
        "uint16 X-ray, RGB photograph) is separated with the default colour map and a 768×1024 region in the middle: "
        "trained on the area around the region (cut to 1536×1536 pixels), then applied tile by tile "
        f"({result['tiles_total']} tiles). Then the photograph is aligned to the X-ray (`xraysep align`, similarity).\n\n"
        "| | |\n|---|---|\n"
        f"| generating the pair | {result['generate_s']:.0f} s |\n"
        f"| `xraysep separate`, whole process | {result['separate_s']:.0f} s ({result['separate_s'] / 60:.1f} min), "
        f"{result['tiles_done']} of {result['tiles_total']} tiles"
        f"{'' if finished else ' (stopped at the time cap with Ctrl-C)'}; {rate:.2f} megapixels a second overall |\n"
        f"| peak resident memory of the separation | **{result['separate_peak_rss_mib'] / gib:.2f} GiB** (bound: 4 GiB) |\n"
        f"| sampled peak while training | {result.get('sampled_peak_rss_mib_training', 0) / gib:.2f} GiB |\n"
        f"| sampled peak while applying tiles | {result.get('sampled_peak_rss_mib_tiles', 0) / gib:.2f} GiB |\n"
        f"| `xraysep align`, whole process | {result.get('align_s', 0):.0f} s ({aligned}); sampled peak "
        f"{result.get('align_sampled_peak_rss_mib', 0) / gib:.2f} GiB |\n\n"
        "The tiles keep one halo'd tile of input and results in memory (and the next tile being read), whatever "
        "the painting's size, so the memory figures do not grow with the tiles done.\n"
    )


def tiled_equals_untiled(channels: int, device: str, method: str) -> dict:
    """Largest difference between halo-tiled and single-pass inference (float32 rounding only)."""
    import dataclasses

    from napari_xraysep.core import predict, prepare_inputs, resolve_device

    model = _model(channels, 20, device, method)
    mixture = _region((500, 1000))
    inputs = prepare_inputs(mixture.x_mixed, mixture.rgb_surface, None, x_normalisation=model.x_normalisation, rgb_normalisation=model.rgb_normalisation)
    tiled = predict(dataclasses.replace(model, config=model.config.replace(tile_size=128)), inputs, resolve_device(device))
    whole = predict(dataclasses.replace(model, config=model.config.replace(tile_size=4096)), inputs, resolve_device(device))
    return {"max_abs_difference": float(np.abs(tiled.x2_hat - whole.x2_hat).max()), "x2_hat_range": float(np.ptp(whole.x2_hat))}


# ----------------------------------------------------------------------------- driver (parent)

# What follows this line in benchmarks-speed.md (the GPU figures, made on another machine by
# benchmarks/gpu_check.sh) is kept when the CPU table above it is rewritten.
KEPT_BELOW = "<!-- kept by benchmarks/speed.py: the sections below come from other runs -->"


def compare_devices(devices: list[str], region: tuple[int, int], side: int, channels: int, work: Path) -> tuple[str, dict]:
    """The measurements a GPU changes, on each of ``devices`` in turn in this one run: the default's
    fit of a region and its ``xraysep apply`` to a side×side painting, the auto-encoder's training
    throughput and tiled inference, and the default's quality on one photographic case. Returns a
    Markdown table (with each device's speed-up over the first) and the raw figures."""
    figures: dict[str, dict] = {}
    for device in devices:
        steps = 30
        figures[device] = {
            "colour_map": run_child(["colour_map", list(region), device]),
            "whole": run_child(["whole", side, channels, device, str(work), 1024, "colour_map"]),
            "training": run_child(["training", "fast", steps, channels, device]),
            "inference": run_child(["inference", "fast", list(region), channels, device, str(work)]),
            "quality": run_child(["default_quality", device, str(work)]),
        }
        print(f"{device}: {json.dumps(figures[device])}", file=sys.stderr)
    x2 = {device: np.load(work / f"x2_{device.replace(':', '_')}.npy") for device in devices}
    base = devices[0]
    for device in devices[1:]:
        figures[device]["quality"]["max_abs_difference_from_" + base] = float(np.abs(x2[device] - x2[base]).max())
    rows = [
        (f"default: colour-map fit, {region[0]}×{region[1]}", lambda f: f["colour_map"]["fit_s"], "s"),
        (f"default: whole separation, {region[0]}×{region[1]}", lambda f: f["colour_map"]["total_s"], "s"),
        (f"default: `xraysep apply`, {side}×{side} painting (TIFF → TIFF)", lambda f: f["whole"]["seconds"], "s"),
        ("auto-encoder: training, 0.1 default sampling (30 steps)", lambda f: f["training"]["seconds"], "s"),
        (f"auto-encoder: tiled inference, {region[0]}×{region[1]}", lambda f: f["inference"]["seconds"], "s"),
        (f"default: separation of {DEVICE_QUALITY_CASE[0]} (seed {DEVICE_QUALITY_CASE[2]})", lambda f: f["quality"]["seconds"], "s"),
    ]
    header = "| measurement | " + " | ".join(devices) + " | " + " | ".join(f"{base}:{d}" for d in devices[1:]) + " |"
    lines = [header, "|---" * (1 + 2 * len(devices) - 1) + "|"]
    for name, get, unit in rows:
        values = [get(figures[d]) for d in devices]
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f} {unit}" for v in values) + " | "
                     + " | ".join(f"{values[0] / v:.1f}×" for v in values[1:]) + " |")
    quality = " ; ".join(
        f"{d}: x2 {figures[d]['quality']['x2_psnr']:.2f} dB"
        + (f", largest difference from {base} {figures[d]['quality']['max_abs_difference_from_' + base]:.2e} "
           f"(x2 range {figures[d]['quality']['x2_range']:.3f})" if d != base else "")
        for d in devices
    )
    peaks = " ; ".join(f"{d}: apply peak RSS {figures[d]['whole']['peak_rss_mib'] / 1024:.2f} GiB" for d in devices)
    text = "\n".join([*lines, "", f"Quality (same seed): {quality}.", f"Memory: {peaks}."])
    return text, figures



def run_child(args: list[str]) -> dict:
    """One measurement in a fresh interpreter; its JSON result plus its own peak RSS."""
    done = subprocess.run([sys.executable, str(SCRIPT), "--child", json.dumps(args)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measurement {args} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["peak_rss_mib"] = result.pop("_rss_kib") / 1024
    return result


def child_main(spec: list) -> None:
    kind, *params = spec
    functions = {
        "inference": measure_inference,
        "training": measure_training,
        "whole": measure_whole_painting,
        "colour_map": measure_colour_map,
        "tiling": tiled_equals_untiled,
        "quality": measure_time_to_quality,
        "mosaic": measure_mosaic,
        "default_quality": measure_default_quality,
        "floor": measure_floor,
        "apply_process": measure_apply_process,
        "separate_process": measure_separate_process,
        "napari_path": measure_napari_path,
    }
    params = [Path(p) if isinstance(p, str) and p.startswith("/") else (tuple(p) if isinstance(p, list) else p) for p in params]
    result = functions[kind](*params)
    result["_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels", type=int, default=32, help="network width for every measurement")
    parser.add_argument("--painting", type=int, default=8000, help="side of the whole painting in pixels")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "xraysep-speed")
    parser.add_argument("--out", type=Path, default=SCRIPT.parent.parent / "docs", help="where benchmarks-speed.md goes")
    parser.add_argument("--mosaic", metavar="H,W", help="only measure `xraysep separate`'s peak memory on an H×W mosaic")
    parser.add_argument("--time-cap", type=float, default=4 * 3600, help="--mosaic: stop the separation after this many seconds")
    parser.add_argument("--compare-devices", metavar="A,B", help="only the device comparison (e.g. cpu,cuda)")
    parser.add_argument("--json", type=Path, help="--compare-devices: also write the figures here")
    parser.add_argument("--floor", action="store_true", help="only the I/O floor beside `xraysep apply` on a --painting pair")
    parser.add_argument(
        "--dask", type=int, nargs="?", const=2, default=0, metavar="WORKERS",
        help="also `xraysep apply --dask` on a local cluster of WORKERS processes (2 if not given) beside the local run",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(json.loads(args.child))
        return 0
    if args.compare_devices:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        region = (60, 100) if args.quick else (500, 1000)
        side = 700 if args.quick else args.painting
        text, figures = compare_devices(args.compare_devices.split(","), region, side, args.channels, args.work)
        print(text)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
        shutil.rmtree(args.work, ignore_errors=True)
        return 0
    if args.floor:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        text, _ = floor_comparison(2000 if args.quick else args.painting, args.work, args.dask)
        print(text)
        shutil.rmtree(args.work, ignore_errors=True)
        return 0
    if args.mosaic:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        height, width = (int(v) for v in args.mosaic.split(","))
        result = run_child(["mosaic", height, width, str(args.work), args.time_cap])
        print(json.dumps(result, indent=2))
        (args.out / "benchmarks-mosaic.md").write_text(mosaic_report(height, width, result))
        shutil.rmtree(args.work, ignore_errors=True)
        return 0
    region = (60, 100) if args.quick else (500, 1000)
    side = 700 if args.quick else args.painting
    steps = 2 if args.quick else 30
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    rows = {}
    for mode in ("fast", "paper"):
        rows[f"inference {mode}"] = run_child(["inference", mode, list(region), args.channels, args.device, str(args.work)])
        print(f"inference {mode}: {rows[f'inference {mode}']}", file=sys.stderr)
    fast, paper = (np.load(args.work / f"x2_hat_{m}.npy") for m in ("fast", "paper"))
    difference = {"rms": float(np.sqrt(np.mean((fast - paper) ** 2))), "max": float(np.abs(fast - paper).max()), "range": float(np.ptp(fast))}
    for mode in ("fast", "paper"):
        rows[f"training {mode}"] = run_child(["training", mode, steps, args.channels, args.device])
        print(f"training {mode}: {rows[f'training {mode}']}", file=sys.stderr)
    fast_budgets, paper_budgets = ([2, 4], [2, 4, 8]) if args.quick else ([25, 50, 100, 200], [50, 100, 200, 400, 800, 1600])
    quality_fast = run_child(["quality", "fast", fast_budgets, None, float("inf"), args.device])
    target = quality_fast["runs"][-1]["x2_psnr"]  # the default's quality: its full step budget
    time_cap = 5 * quality_fast["runs"][-1]["train_s"]
    quality_paper = run_child(["quality", "paper", paper_budgets, target, time_cap, args.device])
    print(f"time to quality: fast {quality_fast}, paper {quality_paper}", file=sys.stderr)
    reach_fast, reach_paper = time_to(target, quality_fast["runs"]), time_to(target, quality_paper["runs"])
    tiling = {method: run_child(["tiling", args.channels, args.device, method]) for method in ("colour_map", "autoencoder")}
    colour_map = run_child(["colour_map", list(region), args.device])
    print(f"colour map: {colour_map}", file=sys.stderr)
    for method in ("colour_map", "autoencoder"):
        rows[f"whole painting {method}"] = run_child(["whole", side, args.channels, args.device, str(args.work), 1024, method])
        print(f"whole painting {method}: {rows[f'whole painting {method}']}", file=sys.stderr)

    floor_side = 2000 if args.quick else args.painting
    floor_table, _ = floor_comparison(floor_side, args.work, args.dask)

    i_fast, i_paper = rows["inference fast"], rows["inference paper"]
    t_fast, t_paper = rows["training fast"], rows["training paper"]
    whole, whole_cm = rows["whole painting autoencoder"], rows["whole painting colour_map"]
    lines = [
        f"Machine: {platform.processor() or platform.machine()}, device {args.device}, auto-encoder {args.channels} channels; one run.",
        "",
        f"**The default applied to a whole painting against the I/O floor** (tifffile alone reading the pair and writing "
        f"six float32 layers of its size; `xraysep apply` timed as a whole process, start and imports included):",
        "",
        floor_table,
        "",
        "| measurement | time (s) | throughput | peak RSS (MiB) |",
        "|---|---|---|---|",
        f"| **default**: colour-map fit, {region[0]}×{region[1]} | {colour_map['fit_s']:.1f} | {colour_map['pixels'] / colour_map['fit_s'] / 1e6:.2f} Mpx/s | {colour_map['peak_rss_mib']:.0f} |",
        f"| **default**: whole separation (fit, apply, step 2), {region[0]}×{region[1]} | {colour_map['total_s']:.1f} | {colour_map['pixels'] / colour_map['total_s'] / 1e6:.2f} Mpx/s | (same run) |",
        f"| **default**: whole painting {side}×{side}, `xraysep apply` (TIFF → TIFF) | {whole_cm['seconds']:.1f} | {whole_cm['pixels'] / whole_cm['seconds'] / 1e6:.2f} Mpx/s | {whole_cm['peak_rss_mib']:.0f} |",
        f"| auto-encoder: inference {region[0]}×{region[1]}, fast (tiled) | {i_fast['seconds']:.2f} | {i_fast['pixels'] / i_fast['seconds'] / 1e6:.2f} Mpx/s | {i_fast['peak_rss_mib']:.0f} |",
        f"| auto-encoder: inference {region[0]}×{region[1]}, paper (patch-averaged) | {i_paper['seconds']:.2f} | {i_paper['pixels'] / i_paper['seconds'] / 1e6:.3f} Mpx/s | {i_paper['peak_rss_mib']:.0f} |",
        f"| auto-encoder: training, 0.1 default (fast sampling: 64² crops, batch 8; {steps} steps) | {t_fast['seconds']:.1f} | {t_fast['pixels_per_s'] / 1e3:.0f} kpx/s | {t_fast['peak_rss_mib']:.0f} |",
        f"| auto-encoder: training, paper preset (50² patches at stride 5, batch 64; {steps} steps) | {t_paper['seconds']:.1f} | {t_paper['pixels_per_s'] / 1e3:.0f} kpx/s | {t_paper['peak_rss_mib']:.0f} |",
        f"| auto-encoder: whole painting {side}×{side}, `xraysep apply` (TIFF → TIFF) | {whole['seconds']:.1f} | {whole['pixels'] / whole['seconds'] / 1e6:.2f} Mpx/s | {whole['peak_rss_mib']:.0f} |",
        "",
        (f"* The default (colour map) on a {region[0]}×{region[1]} region: fit {colour_map['fit_s']:.1f} s, whole separation "
        f"{colour_map['total_s']:.1f} s. Whole painting: {whole['seconds'] / whole_cm['seconds']:.1f}× the auto-encoder's throughput."),
        (f"* Auto-encoder inference, fast vs paper: **{i_paper['seconds'] / i_fast['seconds']:.0f}×** faster. The outputs differ "
        f"(x̂2) by {difference['rms']:.4f} RMS and {difference['max']:.4f} at most, on a range of {difference['range']:.3f} "
        "(patch averaging blurs patch borders; fast mode has none)."),
        f"* Auto-encoder training throughput, 0.1 default vs paper preset: {t_fast['pixels_per_s'] / t_paper['pixels_per_s']:.2f}× (pixels per second).",
        f"* Auto-encoder, time to its 0.1 default's quality (x2 {target:.2f} dB after affine fit, {QUALITY_CASE[0]} {QUALITY_CASE[1][0]}×{QUALITY_CASE[1][1]}, "
        f"seed {QUALITY_CASE[2]}; default settings, only the sampling differs): fast sampling {reach_fast:.1f} s, "
        + (
            f"paper sampling {reach_paper:.1f} s ({reach_paper / reach_fast:.1f}×)."
            if reach_paper is not None
            else f"paper sampling not reached within {quality_paper['runs'][-1]['train_s']:.0f} s of training "
            f"(best {max(run['x2_psnr'] for run in quality_paper['runs']):.2f} dB)."
        ),
        "  Step budgets (complete runs, each with its own schedule): "
        + "; ".join(
            f"{name} " + ", ".join(f"{run['steps']} steps {run['train_s']:.1f} s → {run['x2_psnr']:.2f} dB" for run in runs["runs"])
            for name, runs in (("fast", quality_fast), ("paper", quality_paper))
        )
        + ".",
        "* Tiled = untiled inference (tiles of 128 px against one pass): largest difference in x̂2 "
        + "; ".join(f"{name} {t['max_abs_difference']:.2e} on a range of {t['x2_hat_range']:.3f}" for name, t in tiling.items())
        + ".",
        *(
            f"* Whole painting, {name}: exit {run['exit']}, peak RSS {run['peak_rss_mib'] / 1024:.2f} GiB "
            f"({'within' if run['peak_rss_mib'] <= 4096 else 'OVER'} the 4 GiB bound)."
            for name, run in (("colour map", whole_cm), ("auto-encoder", whole))
        ),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        page = args.out / "benchmarks-speed.md"
        kept = page.read_text().partition(KEPT_BELOW)[2] if page.exists() else ""
        page.write_text(
            "# Speed and memory\n\nMade by `python benchmarks/speed.py` "
            f"(region {region[0]}×{region[1]}, painting {side}×{side}, {steps} training steps per mode).\n\n{text}\n"
            + (f"\n{KEPT_BELOW}{kept}" if kept else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
