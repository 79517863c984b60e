using RsMoe.Model.Configs;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>
/// Rotary position embedding in the Hugging Face rotate-half layout, with plain theta or the
/// <c>llama3</c> frequency scaling. cos/sin tables are cached per dtype and grown on demand.
/// </summary>
public sealed class LlamaRotaryEmbedding : nn.Module
{
    readonly Tensor inv_freq;
    Tensor? _cos, _sin;

    public LlamaRotaryEmbedding(LlamaConfig config) : base(nameof(LlamaRotaryEmbedding))
    {
        inv_freq = tensor(InverseFrequencies(config));
        register_buffer(nameof(inv_freq), inv_freq, persistent: false);
    }

    public static float[] InverseFrequencies(LlamaConfig config)
    {
        int dim = config.HeadDimension;
        var inv = new double[dim / 2];
        for (int i = 0; i < inv.Length; i++) inv[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / dim);

        var scaling = config.RopeScaling;
        if (scaling is not null && scaling.Kind == "llama3")
        {
            double lowWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
            double highWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
            for (int i = 0; i < inv.Length; i++)
            {
                double wavelen = 2 * Math.PI / inv[i];
                if (wavelen > lowWavelen) inv[i] /= scaling.Factor;
                else if (wavelen >= highWavelen)
                {
                    double smooth = (scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor)
                        / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                    inv[i] = (1 - smooth) * inv[i] / scaling.Factor + smooth * inv[i];
                }
            }
        }
        else if (scaling is not null && scaling.Kind is "linear")
        {
            for (int i = 0; i < inv.Length; i++) inv[i] /= scaling.Factor;
        }
        else if (scaling is not null && scaling.Kind is not "default")
        {
            throw new NotSupportedException($"rope_scaling type '{scaling.Kind}' is not supported");
        }
        // transformers computes inv_freq in fp32; round the same way so long positions match.
        return inv.Select(v => (float)v).ToArray();
    }

    /// <summary>cos and sin for the given positions, shaped [batch, seq, head_dim], in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Forward(Tensor positionIds, ScalarType dtype)
    {
        long needed = positionIds.numel() == 0 ? 1 : positionIds.max().item<long>() + 1;
        EnsureTables(needed, dtype, positionIds.device);
        return (_cos!.index_select(0, positionIds.flatten()).view(positionIds.shape[0], positionIds.shape[1], -1),
                _sin!.index_select(0, positionIds.flatten()).view(positionIds.shape[0], positionIds.shape[1], -1));
    }

    void EnsureTables(long length, ScalarType dtype, Device device)
    {
        if (_cos is not null && _cos.shape[0] >= length && _cos.dtype == dtype
            && _cos.device_type == device.type && _cos.device_index == device.index) return;
        long size = Math.Max(length, Math.Max(256, (_cos?.shape[0] ?? 0) * 2));
        using var scope = NewDisposeScope();
        // Angles in fp32 as transformers computes them, then cast.
        var positions = arange(size, ScalarType.Float32, device);
        var freqs = positions.unsqueeze(1) * inv_freq.to(device).unsqueeze(0);
        var emb = cat([freqs, freqs], -1);
        _cos?.Dispose();
        _sin?.Dispose();
        _cos = emb.cos().to_type(dtype).DetachFromDisposeScope();
        _sin = emb.sin().to_type(dtype).DetachFromDisposeScope();
    }

    public static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        return cat([-x.narrow(-1, half, half), x.narrow(-1, 0, half)], -1);
    }

    /// <summary>Applies RoPE to [batch, heads, seq, head_dim] given cos/sin of [batch, seq, head_dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        return (x * c).add_(RotateHalf(x) * s, Scalars.One).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _cos?.Dispose(); _sin?.Dispose(); }
        base.Dispose(disposing);
    }
}
