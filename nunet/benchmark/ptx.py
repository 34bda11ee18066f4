"""The GPU workload: a hand-written PTX kernel, each thread running a long chain of FP32 FMAs.

Eight independent accumulators per thread keep the FMA pipes busy despite each FMA's latency;
each loop iteration does UNROLL FMAs on every accumulator. The chain converges to a fixed point
near 1 (x -> 0.999999 x + 1e-6), so values stay normal and finite, and the sum is stored so the
work cannot be optimised away. PTX ISA 6.0 for sm_50 and later: the driver compiles it for the
device it runs on.
"""

from __future__ import annotations

ENTRY = "fma_loop"
ACCUMULATORS = 8
UNROLL = 4
FLOPS_PER_ITERATION = ACCUMULATORS * UNROLL * 2  # an FMA is two floating-point operations
_MULTIPLIER = "0f3F7FFFEF"  # 0.999999
_ADDEND = "0f358637BD"  # 1e-6
_STARTS = ("0f3F800000", "0f3F000000", "0f3E800000", "0f3E000000",
           "0f40000000", "0f3FC00000", "0f3F400000", "0f33800000")  # fmt: skip


def kernel_source() -> str:
    """PTX text of `fma_loop(float *out, unsigned iterations)`; out has one float per thread."""
    # %f0 (a small per-thread value) seeds the others before it is offset itself.
    starts = "\n".join(
        f"\tadd.f32 \t%f{i}, %f0, {_STARTS[i]};" for i in (*range(1, ACCUMULATORS), 0)
    )
    fmas = "\n".join(
        f"\tfma.rn.f32 \t%f{i}, %f{i}, %f8, %f9;"
        for _ in range(UNROLL)
        for i in range(ACCUMULATORS)
    )
    sums = "\n".join(f"\tadd.f32 \t%f10, %f10, %f{i};" for i in range(1, ACCUMULATORS))
    return f"""\
.version 6.0
.target sm_50
.address_size 64

.visible .entry {ENTRY}(
\t.param .u64 out,
\t.param .u32 iterations
)
{{
\t.reg .pred \t%p<1>;
\t.reg .b32 \t%r<6>;
\t.reg .f32 \t%f<11>;
\t.reg .b64 \t%rd<3>;

\tld.param.u64 \t%rd0, [out];
\tld.param.u32 \t%r0, [iterations];
\tmov.u32 \t%r1, %ctaid.x;
\tmov.u32 \t%r2, %ntid.x;
\tmov.u32 \t%r3, %tid.x;
\tmad.lo.s32 \t%r4, %r1, %r2, %r3;
\tcvt.rn.f32.u32 \t%f0, %r4;
\tmul.f32 \t%f0, %f0, 0f33800000;
{starts}
\tmov.f32 \t%f8, {_MULTIPLIER};
\tmov.f32 \t%f9, {_ADDEND};
\tmov.u32 \t%r5, 0;
\tsetp.eq.u32 \t%p0, %r0, 0;
\t@%p0 bra \t$Ldone;
$Lloop:
{fmas}
\tadd.u32 \t%r5, %r5, 1;
\tsetp.lt.u32 \t%p0, %r5, %r0;
\t@%p0 bra \t$Lloop;
$Ldone:
\tmov.f32 \t%f10, %f0;
{sums}
\tcvta.to.global.u64 \t%rd1, %rd0;
\tmul.wide.u32 \t%rd2, %r4, 4;
\tadd.s64 \t%rd1, %rd1, %rd2;
\tst.global.f32 \t[%rd1], %f10;
\tret;
}}
"""
