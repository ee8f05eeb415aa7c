"""Small vector operations the kernels need and numba does not emit by itself.

numba compiles with LLVM's loop vectoriser but without its SLP vectoriser (``NUMBA_SLP_VECTORIZE``
is off by default), so eight neighbouring scalar stores stay eight stores. :func:`store8_plus`
writes them as one 8 x int32 vector load, add and store (portable LLVM IR: one AVX2 instruction
each, two SSE2 ones on older machines).
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core.extending import intrinsic

__all__ = ["store8_plus"]


def _int32_array(t) -> bool:
    return isinstance(t, types.Array) and t.dtype == types.int32 and t.layout == "C"


@intrinsic
def store8_plus(typingctx, dst, at, src, row, base):
    """``dst[at:at + 8] = src[row:row + 8] + base`` for C-contiguous int32 arrays ``dst`` and ``src``
    and integer ``at``, ``row``, ``base`` (base taken modulo 2**32), as one vector load, add and
    store. No bounds checks: both ranges must lie inside their arrays."""
    if not (_int32_array(dst) and _int32_array(src)
            and all(isinstance(t, types.Integer) for t in (at, row, base))):
        return None
    sig = types.void(dst, at, src, row, base)

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        vec = ir.VectorType(i32, 8)
        d = context.make_array(sig.args[0])(context, builder, args[0])
        s = context.make_array(sig.args[2])(context, builder, args[2])
        dptr = builder.bitcast(builder.gep(d.data, [args[1]]), vec.as_pointer())
        sptr = builder.bitcast(builder.gep(s.data, [args[3]]), vec.as_pointer())
        b = args[4]
        b = builder.trunc(b, i32) if b.type.width > 32 else builder.sext(b, i32) if b.type.width < 32 else b
        undef = ir.Constant(vec, ir.Undefined)
        splat = builder.shuffle_vector(builder.insert_element(undef, b, ir.Constant(i32, 0)), undef,
                                       ir.Constant(vec, [0] * 8))
        builder.store(builder.add(builder.load(sptr, align=4), splat), dptr, align=4)
        return context.get_dummy_value()

    return sig, codegen
