using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Decoding;

/// <summary>
/// Measurements the performance report needs: the machine's read bandwidth (the ceiling of decoding, which reads every
/// weight once per token) and the rate the decoder's matrix kernels stream weights at.
/// </summary>
public static unsafe class DecodeProbes
{
    /// <summary>GB/s of summing a buffer far larger than the caches, split over <paramref name="threads"/> threads; best of a few passes.</summary>
    public static double ReadBandwidth(int threads, long bytes = 1L << 30, int passes = 5)
    {
        long count = bytes / sizeof(float);
        var buffer = GC.AllocateUninitializedArray<float>(checked((int)count), pinned: true);
        Array.Fill(buffer, 1f);
        double best = 0;
        fixed (float* data = buffer)
        {
            nint start = (nint)data;
            for (int pass = 0; pass < passes; pass++)
            {
                var clock = Stopwatch.StartNew();
                var sums = new float[threads];
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    long chunk = count / threads;
                    sums[t] = Sum((float*)start + t * chunk, chunk);
                });
                best = Math.Max(best, bytes / clock.Elapsed.TotalSeconds / 1e9);
                if (sums.Sum() <= 0) throw new InvalidOperationException("unreachable: keeps the sums alive");
            }
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static float Sum(float* p, long count)
    {
        var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
        for (long i = 0; i + 32 <= count; i += 32)
        {
            a0 += Vector256.Load(p + i); a1 += Vector256.Load(p + i + 8);
            a2 += Vector256.Load(p + i + 16); a3 += Vector256.Load(p + i + 24);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3);
    }

    /// <summary>
    /// Microseconds one parallel region of the decoder costs with nothing to do: its thread synchronisation alone. The
    /// decoder's regions run on a <see cref="ThreadTeam"/>; with <paramref name="parallelFor"/>, a <see cref="Parallel.For"/>
    /// over the same parts instead (what the decoder used before, for comparison).
    /// </summary>
    public static double ParallelRegionMicroseconds(int threads, bool parallelFor = false, int regions = 20000)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        long sink = 0;
        Action<int> body = p => Interlocked.Add(ref sink, p);
        var team = ThreadTeam.Rent(threads);
        try
        {
            void Region()
            {
                if (parallelFor) Parallel.For(0, threads, options, body);
                else team.Run(threads, body);
            }
            for (int i = 0; i < 1000; i++) Region();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < regions; i++) Region();
            return clock.Elapsed.TotalMicroseconds / regions;
        }
        finally { ThreadTeam.Return(team); }
    }

    /// <summary>
    /// GB/s of weights the decoder's matrix kernel reads for one input row against a [rows, columns] matrix of fp32 or
    /// bf16 (<paramref name="dtype"/>), or of Q8_0 blocks when <paramref name="q8"/>.
    /// </summary>
    public static double MatVecBandwidth(ScalarType dtype, int rows, int columns, int threads, int repeats = 20, bool q8 = false)
    {
        using var scope = NewDisposeScope();
        // Enough matrices, visited in turn, that none is still in the last-level cache when it comes round again.
        long matrixBytes = q8 ? (long)rows * (columns / Q8Matrix.BlockSize) * Q8Matrix.BlockBytes : (long)rows * columns * (dtype == ScalarType.BFloat16 ? 2 : 4);
        int count = (int)Math.Max(2, (512L << 20) / matrixBytes);
        var tensors = Enumerable.Range(0, count).Select(_ => randn(rows, columns).to_type(dtype)).ToArray();
        var quantized = q8 ? tensors.Select(Q8Matrix.Quantize).ToArray() : [];
        var views = q8 ? quantized.Select(WeightView.Of).ToArray() : tensors.Select(WeightView.Of).ToArray();
        var x = GC.AllocateUninitializedArray<float>(columns, pinned: true);
        var packed = GC.AllocateUninitializedArray<float>(columns, pinned: true);
        var y = GC.AllocateUninitializedArray<float>(rows, pinned: true);
        Array.Fill(x, 0.5f);
        double best = 0;
        var team = ThreadTeam.Rent(threads);
        try
        {
            fixed (float* xp = x, pp = packed, yp = y)
            {
                nint xs = (nint)xp, ps = (nint)pp, ys = (nint)yp;
                for (int repeat = 0; repeat < repeats * count; repeat++)
                {
                    var view = views[repeat % count];
                    var clock = Stopwatch.StartNew();
                    if (view.IsBf16) DecodeKernels.PackForBf16(xp, pp, columns);
                    if (view.IsQ8) DecodeKernels.QuantizeActivations(xp, (byte*)pp, columns);
                    team.Run(threads, t =>
                    {
                        var (start, end) = DecodeKernels.OutputRows(rows, t, threads);
                        DecodeKernels.MatMul(view, (float*)xs, (float*)ps, 1, (float*)ys, rows, start, end);
                    });
                    best = Math.Max(best, matrixBytes / clock.Elapsed.TotalSeconds / 1e9);
                }
            }
        }
        finally
        {
            ThreadTeam.Return(team);
            foreach (var m in quantized) m.Dispose();
        }
        return best;
    }
}
