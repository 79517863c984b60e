using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace RsMoe.Model.Decoding;

/// <summary>
/// Matrix products over Q8_0 weights (<see cref="Q8Matrix"/>), as llama.cpp computes them: each input row is rounded to
/// int8 blocks of 32 with an fp32 scale (<see cref="QuantizeActivations"/>), each block's 32 products are summed in
/// integers (AVX-VNNI's vpdpbusd, or AVX2's pmaddubsw) and scaled once. Widening the weights to fp32 instead keeps the
/// activations exact but measured 0.44× the speed of this on the small shape (three times the vector operations per
/// block), slower than bf16 weights, so the 8-bit format would buy nothing.
/// </summary>
internal static unsafe partial class DecodeKernels
{
    const int QBlock = Q8Matrix.BlockSize;

    /// <summary>Bytes <see cref="QuantizeActivations"/> writes for <paramref name="n"/> inputs (it fits the fp32 packing buffer).</summary>
    public static int QuantizedActivationBytes(int n) => 2 * n + n / QBlock * sizeof(float);

    /// <summary>
    /// x as Q8 blocks into <paramref name="destination"/>: the int8 values, their magnitudes (the unsigned operand of
    /// vpdpbusd; the signs move to the weights with vpsignb), then one fp32 scale per block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void QuantizeActivations(float* x, byte* destination, int n)
    {
        sbyte* q = (sbyte*)destination;
        byte* magnitude = destination + n;
        float* scales = (float*)(destination + 2 * n);
        for (int b = 0; b < n / QBlock; b++)
        {
            float* block = x + b * QBlock;
            var v0 = Vector256.Load(block); var v1 = Vector256.Load(block + 8);
            var v2 = Vector256.Load(block + 16); var v3 = Vector256.Load(block + 24);
            float amax = Vector256.Max(Vector256.Max(Vector256.Abs(v0), Vector256.Abs(v1)), Vector256.Max(Vector256.Abs(v2), Vector256.Abs(v3))) is var m
                ? MathF.Max(MathF.Max(MathF.Max(m[0], m[1]), MathF.Max(m[2], m[3])), MathF.Max(MathF.Max(m[4], m[5]), MathF.Max(m[6], m[7])))
                : 0;
            float d = amax / 127f, id = d != 0 ? 1f / d : 0f;
            scales[b] = d;
            var scale = Vector256.Create(id);
            // Round half away from zero, as ggml's reference quantiser does: truncate |v|·id + 0.5, then restore the sign.
            var ints = Narrow(Round(v0 * scale), Round(v1 * scale), Round(v2 * scale), Round(v3 * scale));
            ints.Store(q + b * QBlock);
            Vector256.Abs(ints).AsByte().Store(magnitude + b * QBlock);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<int> Round(Vector256<float> v) =>
        Vector256.ConvertToInt32(Vector256.CopySign(Vector256.Abs(v) + Vector256.Create(0.5f), v));

    /// <summary>32 int32 in four vectors (each within ±127) to 32 sbytes, in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<sbyte> Narrow(Vector256<int> a, Vector256<int> b, Vector256<int> c, Vector256<int> d) =>
        Vector256.Narrow(Vector256.Narrow(a, b), Vector256.Narrow(c, d));

    static void MatMulQ8(in WeightView w, byte* xq, int rows, float* y, int yStride, int start, int end)
    {
        int n = w.Columns;
        long rowBytes = (long)(n / QBlock) * Q8Matrix.BlockBytes;
        byte* weights = (byte*)w.Data;
        // An input row's quantised form sits where its fp32 packing would (see CpuDecoder.Project): 4n bytes apart.
        long xStride = 4L * n;
        int o = start;
        // Several input rows: four weight rows at a time against each, so the four stay in L1/L2 for the next input row.
        // One input row: weight rows one after another, a single sequential stream the prefetcher follows across rows
        // (four rows read side by side measured 12 against 20+ GB/s on rows of 2048).
        if (rows > 1 && Avx2.IsSupported)
            for (; o + 4 <= end; o += 4)
                for (int r = 0; r < rows; r++)
                    Dot4Q8(weights + o * rowBytes, rowBytes, new QuantizedInput(xq + r * xStride, n), y + (long)r * yStride + o);
        for (; o < end; o++)
            for (int r = 0; r < rows; r++)
                y[(long)r * yStride + o] = DotQ8(weights + o * rowBytes, new QuantizedInput(xq + r * xStride, n));
    }

    /// <summary>An input row as <see cref="QuantizeActivations"/> lays it out: int8 values, their magnitudes, one scale a block.</summary>
    readonly struct QuantizedInput(byte* data, int n)
    {
        public readonly int Blocks = n / QBlock;
        public Vector256<sbyte> Values(int block) => Vector256.Load((sbyte*)data + block * QBlock);
        public Vector256<byte> Magnitudes(int block) => Vector256.Load(data + n + block * QBlock);
        public sbyte Value(int block, int i) => ((sbyte*)data)[block * QBlock + i];
        public float Scale(int block) => ((float*)(data + 2 * n))[block];
    }

    /// <summary>y[0..3] = four weight rows <paramref name="rowBytes"/> apart · x (AVX2).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4Q8(byte* w0, long rowBytes, QuantizedInput x, float* y)
    {
        float* half = HalfTable.Values;
        byte* w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        for (int b = 0; b < x.Blocks; b++)
        {
            var sx = x.Values(b);
            var ax = x.Magnitudes(b);
            float dx = x.Scale(b);
            long offset = (long)b * Q8Matrix.BlockBytes;
            a0 = Block(w0 + offset, sx, ax, dx, half, a0);
            a1 = Block(w1 + offset, sx, ax, dx, half, a1);
            a2 = Block(w2 + offset, sx, ax, dx, half, a2);
            a3 = Block(w3 + offset, sx, ax, dx, half, a3);
        }
        y[0] = Vector256.Sum(a0); y[1] = Vector256.Sum(a1); y[2] = Vector256.Sum(a2); y[3] = Vector256.Sum(a3);
    }

    /// <summary>One weight row · x: four blocks in flight with AVX2, else the scalar reference.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float DotQ8(byte* w, QuantizedInput x)
    {
        float* half = HalfTable.Values;
        const int B = Q8Matrix.BlockBytes;
        if (!Avx2.IsSupported)
        {
            float sum = 0;
            for (int b = 0; b < x.Blocks; b++)
            {
                byte* block = w + (long)b * B;
                int dot = 0;
                for (int i = 0; i < QBlock; i++) dot += (sbyte)block[2 + i] * x.Value(b, i);
                sum += dot * (half[*(ushort*)block] * x.Scale(b));
            }
            return sum;
        }
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int k = 0;
        for (; k + 4 <= x.Blocks; k += 4)
        {
            a0 = Block(w + (long)k * B, x.Values(k), x.Magnitudes(k), x.Scale(k), half, a0);
            a1 = Block(w + (long)(k + 1) * B, x.Values(k + 1), x.Magnitudes(k + 1), x.Scale(k + 1), half, a1);
            a2 = Block(w + (long)(k + 2) * B, x.Values(k + 2), x.Magnitudes(k + 2), x.Scale(k + 2), half, a2);
            a3 = Block(w + (long)(k + 3) * B, x.Values(k + 3), x.Magnitudes(k + 3), x.Scale(k + 3), half, a3);
        }
        for (; k < x.Blocks; k++) a0 = Block(w + (long)k * B, x.Values(k), x.Magnitudes(k), x.Scale(k), half, a0);
        return Vector256.Sum((a0 + a1) + (a2 + a3));
    }

    /// <summary>acc + (dw·dx)·Σ w·x over one block, the sum in int32 lanes: |x| (unsigned) times w carrying x's sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Block(byte* block, Vector256<sbyte> sx, Vector256<byte> ax, float dx, float* half, Vector256<float> acc)
    {
        var signed = Avx2.Sign(Vector256.Load((sbyte*)block + 2), sx);
        Vector256<int> dot = AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, ax, signed)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, signed), Vector256.Create((short)1));
        return Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), Vector256.Create(half[*(ushort*)block] * dx), acc);
    }
}
