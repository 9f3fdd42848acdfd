"""Every economic input of the simulation that is not a protocol parameter, with its source.

Protocol parameters live in ``pinfi/params/classes.json``. What lives here are facts about the
world (electricity, hardware, rental and API list prices, inference throughput) and behavioural
assumptions about providers and clients. Each number carries a :class:`Source`; the report and
``docs/economics.md`` print the table produced by :func:`assumption_table`.

Money is in USD; token amounts in PIN. ``TOKEN_USD`` = 1.0 is a numeraire, not a forecast: the
pool prices are set in PIN, so every USD figure scales with the token price (experiment 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CLASS_ECON",
    "INFERENCE",
    "SOURCES",
    "TOKEN_USD",
    "ClassEconomics",
    "InferenceAssumptions",
    "Source",
    "assumption_table",
]

TOKEN_USD = 1.0
"""USD per PIN at launch (numeraire)."""

HOURS_3Y = 3 * 8760


@dataclass(frozen=True)
class Source:
    """Where a number comes from."""

    key: str
    title: str
    url: str
    note: str = ""


SOURCES: dict[str, Source] = {s.key: s for s in [
    Source("eia", "EIA Electric Power Monthly, Table 5.6.B (avg. price by sector, YTD Jul 2024)",
           "https://www.eia.gov/electricity/monthly/epm_table_grapher.php?t=epmt_5_06_b",
           "US commercial ~12-13 c/kWh, industrial ~8 c/kWh (e.g. East North Central 12.2 / 8.1)"),
    Source("specs", "pricegpu: H100 vs A100 specs and cloud prices (early 2026)",
           "https://pricegpu.pages.dev/blog/h100-vs-a100-cloud-price",
           "TDP A100 SXM 400 W, H100 SXM 700 W; dense FP16 312 / 989 TFLOPS; INT8 624 / 3958 TOPS "
           "(H100: 1,979 dense, 3,958 with sparsity)"),
    Source("rtx4090", "Tom's Guide: GeForce RTX 4090 price and specs",
           "https://www.tomsguide.com/news/nvidia-geforce-rtx-4090",
           "launch price $1,599 (Oct 2022); 24 GB GDDR6X"),
    Source("rtx4090_power", "Engadget RTX 4090 review (mirror)",
           "https://gamebastion.com/n/nvidia-rtx-4090-review-unholy-power/236031",
           "450 W TDP"),
    Source("a100_price", "Mercatus: A100 vs H100 vs H200 (2026)",
           "https://www.mercatus-ai.com/blog/a100-vs-h100-vs-h200",
           "A100 refurb/used street price $8-15k"),
    Source("runpod", "Deploybase: RunPod GPU pricing (Mar 2026)",
           "https://deploybase.ai/articles/runpod-gpu-pricing",
           "spot: RTX 4090 $0.34, A100 SXM $1.39, H100 SXM $2.69 per GPU-hour"),
    Source("hyperbolic_gpu", "Hyperbolic docs: GPU marketplace pricing",
           "https://docs.hyperbolic.xyz/docs/gpu-marketplace-pricing",
           "max on-demand H100 SXM $3.20, A100 SXM $1.80, RTX 4090 $0.50 per hour; 10% fee"),
    Source("hyperbolic_inf", "Hyperbolic docs: serverless inference pricing",
           "https://docs.hyperbolic.ai/inference/performance-limits",
           "medium models (32B-72B) $0.20-0.40 per 1M tokens"),
    Source("vast_lambda", "Techplained: RunPod vs Vast.ai vs Lambda, 8xH100 (Apr 2026)",
           "https://techplained.aptechsolutions.io/runpod-vs-vast-ai",
           "Vast.ai spot floor $1.52, Lambda reserved $1.85, RunPod secure $2.79 per H100-hour"),
    Source("aws_p5", "The Next Platform: H100 GPU instance pricing on AWS",
           "https://www.nextplatform.com/2023/07/27/h100-gpu-instance-pricing-on-aws-grin-and-bear-it/",
           "p5.48xlarge (8x H100) on-demand $98.32/h = $12.29 per GPU-hour (2023 list)"),
    Source("aws_cut", "usage.ai: AWS GPU price reductions (June 2025)",
           "https://www.usage.ai/blogs/aws/ai-ml-cost/llm-cost-optimization-aws/",
           "P5 on-demand cut by up to 45% in June 2025"),
    Source("bedrock", "InventiveHQ: AWS Bedrock pricing guide",
           "https://inventivehq.com/blog/aws-bedrock-pricing-guide",
           "Llama 3 70B Instruct on-demand $0.99 / $0.99 per 1M input / output tokens "
           "(as listed there; the official page is https://aws.amazon.com/bedrock/pricing/)"),
    Source("trtllm", "NVIDIA TensorRT-LLM: H200 launch performance note",
           "https://raw.githubusercontent.com/NVIDIA/TensorRT-LLM/release/0.5.0/docs/source/blogs/H200launch.md",
           "Llama-70B FP8, 1 GPU, batch 512, 128/128 tokens: 3,014 output tok/s on H200; "
           "H200 up to 1.9x H100"),
    Source("mlperf", "AI infra index: MLPerf Inference v4.1 Llama 2 70B offline (8 GPUs)",
           "https://alpha-one-index.github.io/ai-infra-index/specs/inference-benchmarks.html",
           "H100 84.2 vs A100 32.1 samples/s: A100 ~0.38x H100"),
    Source("measured", "Measured in this repository (pinfi.protocol.MerkleTree, 2-core CI box)",
           "pinfi_dev/sim/sizing.py",
           "SHA-256 Merkle over C: ~0.25 GB/s per core at L=1024, ~2.6 us per hash call"),
    Source("ada", "NVIDIA Ada GPU architecture whitepaper (RTX 4090)",
           "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf",
           "RTX 4090: 660.6 dense INT8 TOPS (1,321.2 with sparsity); 16,384 CUDA cores, 2.52 GHz"),
    Source("hashcat", "hashcat v6.2.6 benchmark of an RTX 4090 (Chick3nman, Oct 2022)",
           "https://gist.github.com/Chick3nman",
           "mode 1400 (SHA2-256): about 22 GH/s, i.e. 22e9 SHA-256 compressions per second; "
           "A100 and H100 scaled by CUDA cores x boost clock (assumption)"),
    Source("assumption", "Modelling assumption (no external source)", "", ""),
]}  # fmt: skip


@dataclass(frozen=True)
class ClassEconomics:
    """Real-world economics of one device class (USD per device-hour unless stated)."""

    name: str
    gpu_watts: float
    host_watts: float
    pue: float
    power_usd_kwh: float
    gpu_usd: float
    host_usd: float
    overhead_frac: float
    cost_sigma: float
    market_usd_h: float
    wtp_sigma: float
    throughput_tflops: float
    vram_gb: float
    host_cores: int
    int8_tops: float
    """Dense INT8 tensor throughput (TOPS): the prover's fastest exact path (4-bit entries,
    int32 accumulation); 0 for a CPU class."""
    gpu_sha256_ghs: float
    """SHA-256 compressions per second on the GPU (G/s): Merkle hashing moved to the card."""
    sources: tuple[str, ...] = field(default=())

    @property
    def energy_usd_h(self) -> float:
        return (self.gpu_watts + self.host_watts) / 1000.0 * self.pue * self.power_usd_kwh

    @property
    def capex_usd_h(self) -> float:
        """Hardware amortized over three years of continuous operation."""
        return (self.gpu_usd + self.host_usd) / HOURS_3Y

    @property
    def opex_usd_h(self) -> float:
        """Median reservation cost of a device: energy + amortization + overhead."""
        return (self.energy_usd_h + self.capex_usd_h) * (1.0 + self.overhead_frac)


CLASS_ECON: dict[str, ClassEconomics] = {
    "cpu-test": ClassEconomics(
        name="cpu-test", gpu_watts=0.0, host_watts=65.0, pue=1.0, power_usd_kwh=0.13,
        gpu_usd=0.0, host_usd=600.0, overhead_frac=0.1, cost_sigma=0.35, market_usd_h=0.05,
        wtp_sigma=0.35, throughput_tflops=1.0, vram_gb=0.0, host_cores=4, int8_tops=0.0,
        gpu_sha256_ghs=0.0, sources=("assumption",)),
    "rtx4090": ClassEconomics(
        name="rtx4090", gpu_watts=450.0, host_watts=150.0, pue=1.1, power_usd_kwh=0.13,
        gpu_usd=1599.0, host_usd=800.0, overhead_frac=0.10, cost_sigma=0.35,
        market_usd_h=0.40, wtp_sigma=0.35, throughput_tflops=80.0, vram_gb=24.0, host_cores=8,
        int8_tops=660.6, gpu_sha256_ghs=22.0,
        sources=("rtx4090", "rtx4090_power", "ada", "hashcat", "eia", "runpod",
                 "hyperbolic_gpu")),
    "a100-80g": ClassEconomics(
        name="a100-80g", gpu_watts=400.0, host_watts=200.0, pue=1.4, power_usd_kwh=0.09,
        gpu_usd=12000.0, host_usd=5000.0, overhead_frac=0.10, cost_sigma=0.35,
        market_usd_h=1.45, wtp_sigma=0.35, throughput_tflops=300.0, vram_gb=80.0, host_cores=16,
        int8_tops=624.0, gpu_sha256_ghs=5.2,
        sources=("specs", "a100_price", "hashcat", "eia", "runpod", "hyperbolic_gpu")),
    "h100-80g": ClassEconomics(
        name="h100-80g", gpu_watts=700.0, host_watts=300.0, pue=1.4, power_usd_kwh=0.09,
        gpu_usd=25000.0, host_usd=6000.0, overhead_frac=0.10, cost_sigma=0.35,
        market_usd_h=2.40, wtp_sigma=0.35, throughput_tflops=700.0, vram_gb=80.0, host_cores=16,
        int8_tops=1979.0, gpu_sha256_ghs=17.8,
        sources=("specs", "hashcat", "eia", "runpod", "vast_lambda", "hyperbolic_gpu")),
}
"""Per-class economics. ``market_usd_h`` is the median client willingness to pay per device-hour
(set between the spot floor and on-demand list prices of the sources); ``cost_sigma`` and
``wtp_sigma`` are the log-normal spreads of provider reservation costs and client willingness to
pay (assumptions: power prices, hardware vintage and outside options differ by provider)."""


@dataclass(frozen=True)
class InferenceAssumptions:
    """Demand-side case (analysis 8.2): a startup serving a 70B-class model."""

    calls_per_day: int = 100_000
    prompt_tokens: int = 500
    output_tokens: int = 250
    h100_out_tok_s: float = 1600.0
    """One H100, FP8 70B, large batch: 3,014 tok/s on H200 / 1.9 (trtllm)."""
    long_prompt_derate: float = 0.7
    """500-token prompts instead of the benchmark's 128 (assumption)."""
    a100_ratio: float = 0.38
    """A100 throughput relative to H100 on Llama 2 70B (mlperf)."""
    a100_gpus: int = 2
    """A 70B model in FP16 needs two 80 GB A100s (no FP8 on Ampere)."""
    aws_p5_gpu_h: float = 98.32 / 8
    aws_cut: float = 0.45
    bedrock_in_per_m: float = 0.99
    bedrock_out_per_m: float = 0.99
    peer_gpu_h: float = 3.20
    """Hyperbolic marketplace H100 SXM on-demand ceiling."""
    peer_per_m: float = 0.40
    """Hyperbolic serverless, top of the 32B-72B band."""
    peer_fail: float = 0.01
    """Failed-job share on a peer marketplace (assumption)."""


INFERENCE = InferenceAssumptions()


def assumption_table() -> list[tuple[str, str, str, str]]:
    """Rows ``(what, value, source keys, note)`` for the report and the docs."""
    rows: list[tuple[str, str, str, str]] = [("PIN price", f"${TOKEN_USD:.2f}", "assumption",
                                              "numeraire; exp. 4 moves it")]
    for e in CLASS_ECON.values():
        if e.name == "cpu-test":
            continue
        src = ", ".join(e.sources)
        rows += [
            (f"{e.name} power", f"{e.gpu_watts:.0f} W GPU + {e.host_watts:.0f} W host, PUE "
             f"{e.pue}, ${e.power_usd_kwh}/kWh -> ${e.energy_usd_h:.3f}/h", src, ""),
            (f"{e.name} hardware", f"${e.gpu_usd:,.0f} GPU + ${e.host_usd:,.0f} host share over "
             f"3 y -> ${e.capex_usd_h:.3f}/h", src,
             "H100 unit price: no public list price; common quotes $25-30k (assumption)"
             if e.name == "h100-80g" else ""),
            (f"{e.name} reservation cost", f"median ${e.opex_usd_h:.3f}/h (+{e.overhead_frac:.0%}"
             f" overhead), log-normal sigma {e.cost_sigma}", "assumption",
             "spread of power prices, vintages, outside options"),
            (f"{e.name} client willingness to pay", f"median ${e.market_usd_h:.2f}/h, log-normal "
             f"sigma {e.wtp_sigma}", src, "between spot floors and on-demand list prices"),
        ]
    i = INFERENCE
    rows += [
        ("70B request", f"{i.prompt_tokens} prompt + {i.output_tokens} output tokens",
         "assumption", "analysis 8.2: 100,000 calls/day"),
        ("H100 70B throughput", f"{i.h100_out_tok_s:,.0f} output tok/s x {i.long_prompt_derate} "
         "prompt derate", "trtllm", "FP8, one GPU, large batch"),
        ("A100 70B throughput", f"{i.a100_ratio}x H100 per GPU, {i.a100_gpus} GPUs per replica",
         "mlperf", "FP16, no FP8 on Ampere"),
        ("hyperscaler GPU", f"AWS p5 ${i.aws_p5_gpu_h:.2f}/GPU-h (list); -{i.aws_cut:.0%} after "
         "the June 2025 cut", "aws_p5, aws_cut", ""),
        ("hyperscaler API", f"Bedrock Llama 3 70B ${i.bedrock_in_per_m}/${i.bedrock_out_per_m} "
         "per 1M in/out tokens", "bedrock", ""),
        ("decentralized peer", f"Hyperbolic H100 ${i.peer_gpu_h:.2f}/h; serverless "
         f"${i.peer_per_m:.2f}/1M tokens; {i.peer_fail:.0%} failed jobs",
         "hyperbolic_gpu, hyperbolic_inf", "failure share is an assumption"),
    ]
    return rows
