using RsMoe.Model.Configs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>
/// EVA/BLIP-2 self-attention: one fused <c>qkv</c> projection without its own bias, whose bias is
/// (<c>q_bias</c>, zeros, <c>v_bias</c>): the key never has a bias. Output through <c>projection</c>.
/// </summary>
public sealed class EvaAttention : nn.Module<Tensor, Tensor>
{
    readonly Linear qkv;
    readonly Parameter? q_bias, v_bias;
    readonly Linear projection;
    readonly int _heads, _headDim;

    public EvaAttention(VisionConfig config) : base(nameof(EvaAttention))
    {
        _heads = config.NumAttentionHeads;
        _headDim = config.HiddenSize / config.NumAttentionHeads;
        qkv = nn.Linear(config.HiddenSize, 3 * config.HiddenSize, hasBias: false);
        if (config.QkvBias)
        {
            q_bias = nn.Parameter(zeros(config.HiddenSize));
            v_bias = nn.Parameter(zeros(config.HiddenSize));
        }
        projection = nn.Linear(config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        Tensor? bias = q_bias is null ? null : cat([q_bias, zeros_like(v_bias!), v_bias!]);
        var mixed = nn.functional.linear(hidden, qkv.weight!, bias)
            .reshape(batch, length, 3, _heads, _headDim).permute(2, 0, 3, 1, 4);
        var attended = nn.functional.scaled_dot_product_attention(mixed[0], mixed[1], mixed[2]);
        var merged = attended.transpose(1, 2).reshape(batch, length, _heads * _headDim);
        return projection.call(merged).MoveToOuterDisposeScope();
    }
}
