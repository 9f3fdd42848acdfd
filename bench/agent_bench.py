"""Provider-agent pipeline benchmark: challenge pipeline vs raw fp32 matmul of the same size.

For each configuration the pipeline (``pinfi.protocol.commit_root``: generate A and B, exact
product, full SHA-256 Merkle tree) and numpy's ``a @ b`` in float32 are timed in the same run,
best of ``--repeat`` each, interleaved so machine noise hits both alike. The ratio
``pipeline_s / matmul_s`` is the overhead of the proof over the bare work.

Usage::

    python bench/agent_bench.py [--quick] [--config 4096:32 ...] [--repeat 3]
                                [--out bench/results/agent.json]

The tree is hashed by the native batch hasher when it was built (``machine.hasher`` in the JSON
says which: ``native/sha-ni``, ``native/portable`` or ``hashlib``); ``PINFI_NATIVE_HASH=0``
measures the hashlib fallback.

Other backends (the agent's torch/CUDA backend) plug in through :func:`bench_backend`, which
takes a pipeline callable and a baseline callable and returns rows of the same shape; pass them
as extra sections of the JSON (for example ``"cuda": [...]``) via :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinfi import protocol
from pinfi.protocol.merkle import hasher as tree_hasher

log = logging.getLogger("agent_bench")

CPU_CONFIGS: tuple[tuple[int, int], ...] = (
    (1024, 32),
    (2048, 32),
    (4096, 32),
    (4096, 128),
    (4096, 1024),
)
QUICK_CONFIGS: tuple[tuple[int, int], ...] = ((1024, 32),)
# GPU rows (provider agent's torch backend), only when CUDA is visible to torch.
CUDA_CONFIGS: tuple[tuple[int, int], ...] = (
    (1024, 32),
    (4096, 32),
    (8192, 128),
    (16384, 1024),
)
CUDA_QUICK_CONFIGS: tuple[tuple[int, int], ...] = ((4096, 32),)
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "agent.json"

# A pipeline takes (seed, n, leaf) and returns the 32-byte root; a baseline factory takes n and
# returns a zero-argument callable doing the bare matmul of that size on the same device.
Pipeline = Callable[[bytes, int, int], bytes]
BaselineFactory = Callable[[int], Callable[[], object]]


def _best(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def numpy_matmul(n: int) -> Callable[[], object]:
    """Baseline factory: float32 ``a @ b`` with entries in [0, 16) (same values as the work)."""
    rng = np.random.default_rng(n)
    a = rng.integers(0, 16, (n, n)).astype(np.float32)
    b = rng.integers(0, 16, (n, n)).astype(np.float32)
    return lambda: a @ b


def bench_backend(
    pipeline: Pipeline,
    baseline: BaselineFactory,
    configs: Iterable[tuple[int, int]],
    repeat: int = 3,
) -> list[dict[str, Any]]:
    """Time ``pipeline`` against ``baseline`` for each ``(n, leaf)``; rows as in agent.json."""
    rows = []
    for n, leaf in configs:
        seed = protocol.keccak(b"pinfi-bench" + n.to_bytes(4, "big") + leaf.to_bytes(4, "big"))
        base = baseline(n)
        base()  # warm-up (thread pools, page faults)
        pipeline(seed, n, leaf)
        best_mm = best_pipe = float("inf")
        for _ in range(repeat):  # interleaved so load changes hit both alike
            best_mm = min(best_mm, _best(base, 1))
            best_pipe = min(best_pipe, _best(lambda: pipeline(seed, n, leaf), 1))  # noqa: B023
        rows.append({
            "n": n,
            "leaf": leaf,
            "pipeline_s": round(best_pipe, 4),
            "matmul_s": round(best_mm, 4),
            "gflops": round(2 * n**3 / best_pipe / 1e9, 1),
            "ratio": round(best_pipe / best_mm, 3),
        })  # fmt: skip
        log.info("n=%d leaf=%d done", n, leaf)
    return rows


def machine_info() -> dict[str, Any]:
    """Describe the machine the numbers come from."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")  # type: ignore[call-arg, func-returns-value]
        blas = str(cfg.get("Build Dependencies", {}).get("blas", {}).get("name", "unknown"))
    except Exception:  # numpy builds without the dict mode
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {
        "cpu": cpu,
        "cores": cores,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "platform": platform.platform(),
        "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "hasher": tree_hasher(),
    }


def format_table(rows: Sequence[dict[str, Any]], title: str) -> str:
    """Plain-text table of benchmark rows."""
    cols = f"{'n':>6} {'leaf':>5} {'pipeline_s':>11} {'matmul_s':>9} {'GFLOP/s':>8} {'ratio':>6}"
    lines = [title, cols]
    for r in rows:
        lines.append(
            f"{r['n']:>6} {r['leaf']:>5} {r['pipeline_s']:>11.3f} {r['matmul_s']:>9.3f} "
            f"{r['gflops']:>8.1f} {r['ratio']:>6.2f}"
        )
    return "\n".join(lines)


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA device."""
    try:
        import torch  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cuda_rows(
    configs: Iterable[tuple[int, int]], repeat: int, mode: str = "int8"
) -> list[dict[str, Any]]:
    """The ``cuda`` section: the agent's torch pipeline (generation on the GPU, exact GEMM in
    ``mode``, copy back, SHA-256 tree on the CPU) against torch's bare GEMM of the same size,
    inputs and arithmetic on the same GPU."""
    import torch  # type: ignore[import-not-found, unused-ignore]

    from provider_agent.backends import TorchBackend

    backend = TorchBackend("cuda", mode)
    backend.self_check()

    def pipeline(seed: bytes, n: int, leaf: int) -> bytes:
        return backend.compute(seed, n, leaf).root

    def baseline(n: int) -> Callable[[], object]:
        gen = torch.Generator(device="cuda").manual_seed(n)
        a = torch.randint(0, 16, (n, n), dtype=torch.int8, device="cuda", generator=gen)
        bt = torch.randint(0, 16, (n, n), dtype=torch.int8, device="cuda", generator=gen)
        b = (
            bt.t()
            if mode == "int8"
            else bt.to(
                {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[mode]
            ).t()
        )

        def mm() -> object:
            c = backend._mm(a, b)
            torch.cuda.synchronize()
            return c

        return mm

    return bench_backend(pipeline, baseline, configs, repeat)


def run(
    configs: Iterable[tuple[int, int]],
    repeat: int,
    out: Path,
    extra: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Run the CPU rows (plus any ``extra`` backend sections), write ``out``, return the dict."""
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    result: dict[str, Any] = {
        "cpu": bench_backend(protocol.commit_root, numpy_matmul, configs, repeat),
        "machine": machine_info(),
    }
    # Other processes on the machine skew wall times: keep the load seen around the run.
    result["machine"]["load_avg_before"] = list(load_before) if load_before else None
    if extra:
        result.update(extra)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def parse_config(text: str) -> tuple[int, int]:
    """``N:L`` (for example ``4096:32``) as ``(n, leaf)``."""
    try:
        n, leaf = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N:L such as 4096:32, got {text!r}") from None
    return n, leaf


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n=1024 only")
    ap.add_argument(
        "--config",
        type=parse_config,
        action="append",
        metavar="N:L",
        help="run only this CPU configuration (repeatable), e.g. 4096:32",
    )
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (default 3)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output path")
    ap.add_argument(
        "--cuda-mode",
        default="int8",
        choices=("int8", "fp16", "bf16", "fp32"),
        help="GEMM arithmetic of the cuda rows (default int8)",
    )
    ap.add_argument("--no-cuda", action="store_true", help="skip the cuda rows")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    extra = None
    if not args.no_cuda and cuda_available():
        import torch  # type: ignore[import-not-found, unused-ignore]

        cfgs = CUDA_QUICK_CONFIGS if args.quick else CUDA_CONFIGS
        extra = {"cuda": cuda_rows(cfgs, args.repeat, args.cuda_mode)}
        gpu = torch.cuda.get_device_name(0)
    configs = args.config or (QUICK_CONFIGS if args.quick else CPU_CONFIGS)
    result = run(configs, args.repeat, args.out, extra)
    hasher = result["machine"]["hasher"]
    print(format_table(result["cpu"], f"cpu (numpy fp32 BLAS + SHA-256 {hasher})"))
    if extra:
        result["machine"]["gpu"] = gpu
        result["machine"]["cuda_mode"] = args.cuda_mode
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(format_table(result["cuda"], f"cuda ({gpu}, {args.cuda_mode} GEMM + SHA-256)"))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
