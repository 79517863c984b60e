using RsMoe.Model.Configs;
using RsMoe.Model.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>What every attention layer needs for one forward pass besides the hidden states.</summary>
public sealed record AttentionInputs(Tensor Cos, Tensor Sin, Tensor? Mask, KvCache? Cache);

/// <summary>Grouped-query self-attention with RoPE and an optional KV cache.</summary>
public sealed class LlamaAttention : nn.Module<Tensor, AttentionInputs, Tensor>
{
    readonly int _layerIndex, _heads, _kvHeads, _headDim;
    readonly LoraLinear q_proj, k_proj, v_proj, o_proj;

    internal LoraLinear QProj => q_proj;
    internal LoraLinear KProj => k_proj;
    internal LoraLinear VProj => v_proj;
    internal LoraLinear OProj => o_proj;

    public LlamaAttention(LlamaConfig config, int layerIndex) : base(nameof(LlamaAttention))
    {
        _layerIndex = layerIndex;
        _heads = config.NumAttentionHeads;
        _kvHeads = config.KeyValueHeads;
        _headDim = config.HeadDimension;
        q_proj = new LoraLinear(config.HiddenSize, _heads * _headDim, config.AttentionBias);
        k_proj = new LoraLinear(config.HiddenSize, _kvHeads * _headDim, config.AttentionBias);
        v_proj = new LoraLinear(config.HiddenSize, _kvHeads * _headDim, config.AttentionBias);
        o_proj = new LoraLinear(_heads * _headDim, config.HiddenSize, config.AttentionBias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, AttentionInputs inputs)
    {
        using var scope = NewDisposeScope();
        long batch = hidden.shape[0], length = hidden.shape[1];
        var q = q_proj.call(hidden).view(batch, length, _heads, _headDim).transpose(1, 2);
        var k = k_proj.call(hidden).view(batch, length, _kvHeads, _headDim).transpose(1, 2);
        var v = v_proj.call(hidden).view(batch, length, _kvHeads, _headDim).transpose(1, 2);
        q = LlamaRotaryEmbedding.Apply(q, inputs.Cos, inputs.Sin);
        k = LlamaRotaryEmbedding.Apply(k, inputs.Cos, inputs.Sin);
        if (inputs.Cache is not null) (k, v) = inputs.Cache.Append(_layerIndex, k, v);

        int groups = _heads / _kvHeads;
        if (groups > 1)
        {
            long keys = k.shape[2];
            k = k.unsqueeze(2).expand(batch, _kvHeads, groups, keys, _headDim).reshape(batch, _heads, keys, _headDim);
            v = v.unsqueeze(2).expand(batch, _kvHeads, groups, keys, _headDim).reshape(batch, _heads, keys, _headDim);
        }
        bool causal = inputs.Mask is null && length > 1 && k.shape[2] == length;
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, inputs.Mask, 0.0, causal);
        var merged = attended.transpose(1, 2).reshape(batch, length, _heads * _headDim);
        return o_proj.call(merged).MoveToOuterDisposeScope();
    }
}
