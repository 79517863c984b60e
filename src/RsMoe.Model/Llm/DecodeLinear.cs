using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>
/// y = x·Wᵀ + b, split across CPU threads by output rows when x has only a few rows (decoding). libtorch's
/// fp32 matrix-vector product runs on one core and reaches ~16 GB/s here, while decoding is bound by memory
/// bandwidth; two cores each streaming half the rows reach ~24 GB/s. bf16 kernels already use every thread.
/// </summary>
public static class DecodeLinear
{
    /// <summary>Weights smaller than this (elements) are not worth a thread hand-off.</summary>
    public static long MinimumElements { get; set; } = 1L << 19;
    const long MaxRows = 8;

    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias)
    {
        int threads = get_num_threads();
        if (threads < 2 || weight.dtype != ScalarType.Float32 || weight.device_type != DeviceType.CPU
            || weight.numel() < MinimumElements || x.numel() / Math.Max(1, x.shape[^1]) > MaxRows || is_grad_enabled() && weight.requires_grad)
            return nn.functional.linear(x, weight, bias);

        long outFeatures = weight.shape[0];
        int parts = (int)Math.Min(threads, outFeatures / 64);
        if (parts < 2) return nn.functional.linear(x, weight, bias);
        var pieces = new Tensor[parts];
        long chunk = (outFeatures + parts - 1) / parts;
        try
        {
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, i =>
            {
                long start = i * chunk, length = Math.Min(chunk, outFeatures - start);
                using var rows = weight.narrow(0, start, length);
                using var biasRows = bias?.narrow(0, start, length);
                pieces[i] = nn.functional.linear(x, rows, biasRows);
            });
            return cat(pieces, -1);
        }
        finally
        {
            foreach (var piece in pieces) piece?.Dispose();
        }
    }
}
