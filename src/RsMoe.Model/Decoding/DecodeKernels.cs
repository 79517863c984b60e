using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace RsMoe.Model.Decoding;

/// <summary>
/// The arithmetic of one decode step on the CPU, vectorised with <see cref="Vector256"/>. Decoding reads every weight
/// once per step, so the matrix kernels stream four weight rows at a time against every input row (the weights are
/// read once for all sequences in the batch) and bf16 weights are widened in registers, never copied to fp32.
/// </summary>
internal static unsafe partial class DecodeKernels
{
    /// <summary>
    /// y[r, o] = Σ_i W[o, i]·x[r, i] for output rows o in [start, end). <paramref name="xPacked"/> is x in the layout
    /// <see cref="PackForBf16"/> writes when W is bf16, <see cref="QuantizeActivations"/>'s when W is Q8_0, else x itself.
    /// </summary>
    /// <summary>Part <paramref name="part"/> of <paramref name="parts"/> of a matrix's output rows, split on multiples of 4 (the kernels' row block).</summary>
    public static (int Start, int End) OutputRows(int rows, int part, int parts)
    {
        int chunk = (rows / parts + 3) & ~3;
        int start = Math.Min(rows, part * chunk);
        return (start, part == parts - 1 ? rows : Math.Min(rows, start + chunk));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MatMul(in WeightView w, float* x, float* xPacked, int rows, float* y, int yStride, int start, int end)
    {
        int n = w.Columns;
        int o = start;
        if (w.IsQ8)
        {
            MatMulQ8(w, (byte*)xPacked, rows, y, yStride, start, end);
            return;
        }
        if (w.IsBf16 && rows == 1 && Vector512.IsHardwareAccelerated)
        {
            // One input row: weight rows one after another, a single sequential stream the prefetcher follows across rows.
            ushort* weights = (ushort*)w.Data;
            for (; o < end; o++) y[o] = DotBf16Stream(weights + (long)o * n, n, x, xPacked);
            return;
        }
        if (w.IsBf16)
        {
            ushort* weights = (ushort*)w.Data;
            for (; o + 4 <= end; o += 4)
            {
                int r = 0;
                for (; r + 2 <= rows; r += 2)
                    Dot4x2Bf16(weights + (long)o * n, n, x + (long)r * n, xPacked + (long)r * n, y + (long)r * yStride + o, yStride);
                if (r < rows) Dot4Bf16(weights + (long)o * n, n, x + (long)r * n, xPacked + (long)r * n, y + (long)r * yStride + o);
            }
            for (; o < end; o++)
                for (int r = 0; r < rows; r++)
                    y[(long)r * yStride + o] = DotBf16(weights + (long)o * n, n, x + (long)r * n, xPacked + (long)r * n);
        }
        else if (rows == 1 && Vector512.IsHardwareAccelerated)
        {
            // As for bf16: one input row streams the weight rows one after another.
            float* weights = (float*)w.Data;
            for (; o < end; o++) y[o] = DotStream(weights + (long)o * n, x, n);
        }
        else
        {
            float* weights = (float*)w.Data;
            // Input rows two at a time: each weight vector loaded once serves both (a batch reads the weights once).
            for (; o + 4 <= end; o += 4)
            {
                int r = 0;
                for (; r + 2 <= rows; r += 2)
                    Dot4x2(weights + (long)o * n, n, x + (long)r * n, y + (long)r * yStride + o, yStride);
                if (r < rows) Dot4(weights + (long)o * n, n, x + (long)r * n, y + (long)r * yStride + o);
            }
            for (; o < end; o++)
                for (int r = 0; r < rows; r++)
                    y[(long)r * yStride + o] = Dot(weights + (long)o * n, x + (long)r * n, n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* a, float* b, int n)
    {
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
            acc1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), acc1);
        }
        for (; i + 8 <= n; i += 8) acc0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), acc0);
        float sum = Vector256.Sum(acc0 + acc1);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>One fp32 weight row against x, 64 values (four cache lines) an iteration in four 512-bit accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float DotStream(float* w, float* x, int n)
    {
        var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int i = 0;
        for (; i + 64 <= n; i += 64)
        {
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i), Vector512.Load(x + i), a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 16), Vector512.Load(x + i + 16), a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 32), Vector512.Load(x + i + 32), a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i + 48), Vector512.Load(x + i + 48), a3);
        }
        for (; i + 16 <= n; i += 16) a0 = Vector512.FusedMultiplyAdd(Vector512.Load(w + i), Vector512.Load(x + i), a0);
        float sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += w[i] * x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4(float* w0, int n, float* x, float* y)
    {
        float* w1 = w0 + n, w2 = w1 + n, w3 = w2 + n;
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var xv = Vector256.Load(x + i);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Load(w0 + i), xv, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Load(w1 + i), xv, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Load(w2 + i), xv, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Load(w3 + i), xv, a3);
        }
        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < n; i++) { s0 += w0[i] * x[i]; s1 += w1[i] * x[i]; s2 += w2[i] * x[i]; s3 += w3[i] * x[i]; }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    /// <summary>Four weight rows against two input rows (x and x + n), writing y[0..3] and y[stride..stride+3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4x2(float* w0, int n, float* x, float* y, int stride)
    {
        float* w1 = w0 + n, w2 = w1 + n, w3 = w2 + n, z = x + n;
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var xv = Vector256.Load(x + i);
            var zv = Vector256.Load(z + i);
            var v0 = Vector256.Load(w0 + i); var v1 = Vector256.Load(w1 + i);
            var v2 = Vector256.Load(w2 + i); var v3 = Vector256.Load(w3 + i);
            a0 = Vector256.FusedMultiplyAdd(v0, xv, a0); b0 = Vector256.FusedMultiplyAdd(v0, zv, b0);
            a1 = Vector256.FusedMultiplyAdd(v1, xv, a1); b1 = Vector256.FusedMultiplyAdd(v1, zv, b1);
            a2 = Vector256.FusedMultiplyAdd(v2, xv, a2); b2 = Vector256.FusedMultiplyAdd(v2, zv, b2);
            a3 = Vector256.FusedMultiplyAdd(v3, xv, a3); b3 = Vector256.FusedMultiplyAdd(v3, zv, b3);
        }
        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        float t0 = Vector256.Sum(b0), t1 = Vector256.Sum(b1), t2 = Vector256.Sum(b2), t3 = Vector256.Sum(b3);
        for (; i < n; i++)
        {
            s0 += w0[i] * x[i]; s1 += w1[i] * x[i]; s2 += w2[i] * x[i]; s3 += w3[i] * x[i];
            t0 += w0[i] * z[i]; t1 += w1[i] * z[i]; t2 += w2[i] * z[i]; t3 += w3[i] * z[i];
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
        y[stride] = t0; y[stride + 1] = t1; y[stride + 2] = t2; y[stride + 3] = t3;
    }

    /// <summary>The bf16 form of <see cref="Dot4x2"/>: each weight block is widened once for both input rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4x2Bf16(ushort* w0, int n, float* x, float* packed, float* y, int stride)
    {
        ushort* w1 = w0 + n, w2 = w1 + n, w3 = w2 + n;
        float* z = x + n, packedZ = packed + n;
        int i = 0;
        float s0, s1, s2, s3, t0, t1, t2, t3;
        if (Vector512.IsHardwareAccelerated)
        {
            var mask = Vector512.Create(0xFFFF0000u);
            var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
            for (; i + 32 <= n; i += 32)
            {
                var xe = Vector512.Load(packed + i); var xo = Vector512.Load(packed + i + 16);
                var ze = Vector512.Load(packedZ + i); var zo = Vector512.Load(packedZ + i + 16);
                var l = Vector512.Load((uint*)(w0 + i));
                var e = Vector512.ShiftLeft(l, 16).AsSingle(); var d = (l & mask).AsSingle();
                a0 = Vector512.FusedMultiplyAdd(d, xo, Vector512.FusedMultiplyAdd(e, xe, a0)); b0 = Vector512.FusedMultiplyAdd(d, zo, Vector512.FusedMultiplyAdd(e, ze, b0));
                l = Vector512.Load((uint*)(w1 + i));
                e = Vector512.ShiftLeft(l, 16).AsSingle(); d = (l & mask).AsSingle();
                a1 = Vector512.FusedMultiplyAdd(d, xo, Vector512.FusedMultiplyAdd(e, xe, a1)); b1 = Vector512.FusedMultiplyAdd(d, zo, Vector512.FusedMultiplyAdd(e, ze, b1));
                l = Vector512.Load((uint*)(w2 + i));
                e = Vector512.ShiftLeft(l, 16).AsSingle(); d = (l & mask).AsSingle();
                a2 = Vector512.FusedMultiplyAdd(d, xo, Vector512.FusedMultiplyAdd(e, xe, a2)); b2 = Vector512.FusedMultiplyAdd(d, zo, Vector512.FusedMultiplyAdd(e, ze, b2));
                l = Vector512.Load((uint*)(w3 + i));
                e = Vector512.ShiftLeft(l, 16).AsSingle(); d = (l & mask).AsSingle();
                a3 = Vector512.FusedMultiplyAdd(d, xo, Vector512.FusedMultiplyAdd(e, xe, a3)); b3 = Vector512.FusedMultiplyAdd(d, zo, Vector512.FusedMultiplyAdd(e, ze, b3));
            }
            s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
            t0 = Vector512.Sum(b0); t1 = Vector512.Sum(b1); t2 = Vector512.Sum(b2); t3 = Vector512.Sum(b3);
        }
        else
        {
            var mask = Vector256.Create(0xFFFF0000u);
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
            for (; i + 16 <= n; i += 16)
            {
                var xe = Vector256.Load(packed + i); var xo = Vector256.Load(packed + i + 8);
                var ze = Vector256.Load(packedZ + i); var zo = Vector256.Load(packedZ + i + 8);
                var l = Vector256.Load((uint*)(w0 + i));
                var e = Vector256.ShiftLeft(l, 16).AsSingle(); var d = (l & mask).AsSingle();
                a0 = Vector256.FusedMultiplyAdd(d, xo, Vector256.FusedMultiplyAdd(e, xe, a0)); b0 = Vector256.FusedMultiplyAdd(d, zo, Vector256.FusedMultiplyAdd(e, ze, b0));
                l = Vector256.Load((uint*)(w1 + i));
                e = Vector256.ShiftLeft(l, 16).AsSingle(); d = (l & mask).AsSingle();
                a1 = Vector256.FusedMultiplyAdd(d, xo, Vector256.FusedMultiplyAdd(e, xe, a1)); b1 = Vector256.FusedMultiplyAdd(d, zo, Vector256.FusedMultiplyAdd(e, ze, b1));
                l = Vector256.Load((uint*)(w2 + i));
                e = Vector256.ShiftLeft(l, 16).AsSingle(); d = (l & mask).AsSingle();
                a2 = Vector256.FusedMultiplyAdd(d, xo, Vector256.FusedMultiplyAdd(e, xe, a2)); b2 = Vector256.FusedMultiplyAdd(d, zo, Vector256.FusedMultiplyAdd(e, ze, b2));
                l = Vector256.Load((uint*)(w3 + i));
                e = Vector256.ShiftLeft(l, 16).AsSingle(); d = (l & mask).AsSingle();
                a3 = Vector256.FusedMultiplyAdd(d, xo, Vector256.FusedMultiplyAdd(e, xe, a3)); b3 = Vector256.FusedMultiplyAdd(d, zo, Vector256.FusedMultiplyAdd(e, ze, b3));
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
            t0 = Vector256.Sum(b0); t1 = Vector256.Sum(b1); t2 = Vector256.Sum(b2); t3 = Vector256.Sum(b3);
        }
        for (; i < n; i++)
        {
            float xi = x[i], zi = z[i];
            float f0 = Bf16.ToFloat(w0[i]), f1 = Bf16.ToFloat(w1[i]), f2 = Bf16.ToFloat(w2[i]), f3 = Bf16.ToFloat(w3[i]);
            s0 += f0 * xi; s1 += f1 * xi; s2 += f2 * xi; s3 += f3 * xi;
            t0 += f0 * zi; t1 += f1 * zi; t2 += f2 * zi; t3 += f3 * zi;
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
        y[stride] = t0; y[stride + 1] = t1; y[stride + 2] = t2; y[stride + 3] = t3;
    }

    /// <summary>
    /// Reorders each block of <see cref="Bf16Block"/> inputs as its even then its odd elements. A bf16 weight block loaded as eight
    /// 32-bit lanes then widens without shuffles: lane &lt;&lt; 16 is the even element, lane &amp; 0xFFFF0000 the odd.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackForBf16(float* x, float* packed, int n)
    {
        int block = Bf16Block, half = block / 2, i = 0;
        for (; i + block <= n; i += block)
            for (int j = 0; j < half; j++)
            {
                packed[i + j] = x[i + 2 * j];
                packed[i + half + j] = x[i + 2 * j + 1];
            }
        for (; i < n; i++) packed[i] = x[i];
    }

    /// <summary>bf16 elements per vector step: two vectors' worth of fp32 lanes.</summary>
    static int Bf16Block => Vector512.IsHardwareAccelerated ? 32 : 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float DotBf16Stream(ushort* w, int n, float* x, float* packed)
    {
        var mask = Vector512.Create(0xFFFF0000u);
        var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        int i = 0;
        for (; i + 64 <= n; i += 64)
        {
            var l0 = Vector512.Load((uint*)(w + i));
            var l1 = Vector512.Load((uint*)(w + i + 32));
            a0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(l0, 16).AsSingle(), Vector512.Load(packed + i), a0);
            a1 = Vector512.FusedMultiplyAdd((l0 & mask).AsSingle(), Vector512.Load(packed + i + 16), a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(l1, 16).AsSingle(), Vector512.Load(packed + i + 32), a2);
            a3 = Vector512.FusedMultiplyAdd((l1 & mask).AsSingle(), Vector512.Load(packed + i + 48), a3);
        }
        for (; i + 32 <= n; i += 32)
        {
            var l0 = Vector512.Load((uint*)(w + i));
            a0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(l0, 16).AsSingle(), Vector512.Load(packed + i), a0);
            a1 = Vector512.FusedMultiplyAdd((l0 & mask).AsSingle(), Vector512.Load(packed + i + 16), a1);
        }
        float sum = Vector512.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++) sum += Bf16.ToFloat(w[i]) * x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float DotBf16(ushort* w, int n, float* x, float* packed)
    {
        // The scalar form of the vector kernels' block layout (see PackForBf16).
        int block = Bf16Block, half = block / 2, i = 0;
        float sum = 0;
        for (; i + block <= n; i += block)
            for (int j = 0; j < half; j++)
                sum += Bf16.ToFloat(w[i + 2 * j]) * packed[i + j] + Bf16.ToFloat(w[i + 2 * j + 1]) * packed[i + half + j];
        for (; i < n; i++) sum += Bf16.ToFloat(w[i]) * x[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Dot4Bf16(ushort* w0, int n, float* x, float* packed, float* y)
    {
        ushort* w1 = w0 + n, w2 = w1 + n, w3 = w2 + n;
        int i = 0;
        float s0, s1, s2, s3;
        if (Vector512.IsHardwareAccelerated)
        {
            // Even and odd halves accumulate apart: two independent chains per row instead of two dependent FMAs.
            var mask = Vector512.Create(0xFFFF0000u);
            var a0 = Vector512<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var c0 = a0; var c1 = a0; var c2 = a0; var c3 = a0;
            for (; i + 32 <= n; i += 32)
            {
                var xe = Vector512.Load(packed + i);
                var xo = Vector512.Load(packed + i + 16);
                var l0 = Vector512.Load((uint*)(w0 + i)); var l1 = Vector512.Load((uint*)(w1 + i));
                var l2 = Vector512.Load((uint*)(w2 + i)); var l3 = Vector512.Load((uint*)(w3 + i));
                a0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(l0, 16).AsSingle(), xe, a0); c0 = Vector512.FusedMultiplyAdd((l0 & mask).AsSingle(), xo, c0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(l1, 16).AsSingle(), xe, a1); c1 = Vector512.FusedMultiplyAdd((l1 & mask).AsSingle(), xo, c1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(l2, 16).AsSingle(), xe, a2); c2 = Vector512.FusedMultiplyAdd((l2 & mask).AsSingle(), xo, c2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(l3, 16).AsSingle(), xe, a3); c3 = Vector512.FusedMultiplyAdd((l3 & mask).AsSingle(), xo, c3);
            }
            s0 = Vector512.Sum(a0 + c0); s1 = Vector512.Sum(a1 + c1); s2 = Vector512.Sum(a2 + c2); s3 = Vector512.Sum(a3 + c3);
        }
        else
        {
            var mask = Vector256.Create(0xFFFF0000u);
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            for (; i + 16 <= n; i += 16)
            {
                var xe = Vector256.Load(packed + i);
                var xo = Vector256.Load(packed + i + 8);
                var l0 = Vector256.Load((uint*)(w0 + i)); var l1 = Vector256.Load((uint*)(w1 + i));
                var l2 = Vector256.Load((uint*)(w2 + i)); var l3 = Vector256.Load((uint*)(w3 + i));
                a0 = Vector256.FusedMultiplyAdd((l0 & mask).AsSingle(), xo, Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(l0, 16).AsSingle(), xe, a0));
                a1 = Vector256.FusedMultiplyAdd((l1 & mask).AsSingle(), xo, Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(l1, 16).AsSingle(), xe, a1));
                a2 = Vector256.FusedMultiplyAdd((l2 & mask).AsSingle(), xo, Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(l2, 16).AsSingle(), xe, a2));
                a3 = Vector256.FusedMultiplyAdd((l3 & mask).AsSingle(), xo, Vector256.FusedMultiplyAdd(Vector256.ShiftLeft(l3, 16).AsSingle(), xe, a3));
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        for (; i < n; i++)
        {
            float xi = x[i];
            s0 += Bf16.ToFloat(w0[i]) * xi; s1 += Bf16.ToFloat(w1[i]) * xi; s2 += Bf16.ToFloat(w2[i]) * xi; s3 += Bf16.ToFloat(w3[i]) * xi;
        }
        y[0] = s0; y[1] = s1; y[2] = s2; y[3] = s3;
    }

    /// <summary>y = x / rms(x) · weight, in fp32 as Llama's norm computes it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(float* x, in WeightView weight, float eps, float* y, int n)
    {
        var acc = Vector256<float>.Zero;
        int i = 0;
        for (; i + 8 <= n; i += 8) { var v = Vector256.Load(x + i); acc = Vector256.FusedMultiplyAdd(v, v, acc); }
        float sum = Vector256.Sum(acc);
        for (; i < n; i++) sum += x[i] * x[i];
        float scale = 1f / MathF.Sqrt(sum / n + eps);
        for (i = 0; i < n; i++) y[i] = weight[i] * (x[i] * scale);
    }

    /// <summary>Rotate-half RoPE on <paramref name="heads"/> vectors of <paramref name="dim"/> at one position.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Rope(float* x, int heads, int dim, float* cos, float* sin)
    {
        int half = dim / 2;
        for (int h = 0; h < heads; h++)
        {
            float* v = x + h * dim;
            for (int i = 0; i < half; i++)
            {
                float a = v[i], b = v[i + half];
                v[i] = a * cos[i] - b * sin[i];
                v[i + half] = b * cos[i + half] + a * sin[i + half];
            }
        }
    }

    /// <summary>gate = silu(gate) · up, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SiluMul(float* gate, float* up, int n)
    {
        for (int i = 0; i < n; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>
    /// One query head against a sequence's cached keys and values ([t, kvHeads, dim] layout): softmax(q·kᵀ·scale)·v.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Attend(float* q, float* keys, float* values, int length, int kvStride, int dim, float scale, float* scores, float* output)
    {
        float max = float.NegativeInfinity;
        for (int t = 0; t < length; t++)
        {
            float s = Dot(q, keys + (long)t * kvStride, dim) * scale;
            scores[t] = s;
            if (s > max) max = s;
        }
        float total = 0;
        for (int t = 0; t < length; t++) { float e = MathF.Exp(scores[t] - max); scores[t] = e; total += e; }
        float inverse = 1f / total;
        new Span<float>(output, dim).Clear();
        for (int t = 0; t < length; t++)
        {
            float p = scores[t] * inverse;
            float* v = values + (long)t * kvStride;
            int i = 0;
            var pv = Vector256.Create(p);
            for (; i + 8 <= dim; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(v + i), pv, Vector256.Load(output + i)).Store(output + i);
            for (; i < dim; i++) output[i] += p * v[i];
        }
    }

    /// <summary>x += a·y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddScaled(float* x, float* y, float a, int n)
    {
        var av = Vector256.Create(a);
        int i = 0;
        for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(y + i), av, Vector256.Load(x + i)).Store(x + i);
        for (; i < n; i++) x[i] += a * y[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(float* x, float* y, int n)
    {
        int i = 0;
        for (; i + 8 <= n; i += 8) (Vector256.Load(x + i) + Vector256.Load(y + i)).Store(x + i);
        for (; i < n; i++) x[i] += y[i];
    }
}
