using RsMoe.Model.Configs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>The decoder stack (<c>model.*</c> in a LlamaForCausalLM checkpoint).</summary>
public sealed class LlamaModel : nn.Module
{
    readonly Embedding embed_tokens;
    readonly ModuleList<LlamaDecoderLayer> layers;
    readonly LlamaRMSNorm norm;
    readonly LlamaRotaryEmbedding rotary_emb;

    public LlamaConfig Config { get; }
    public Embedding EmbedTokens => embed_tokens;
    internal IReadOnlyList<LlamaDecoderLayer> Layers => layers.ToList();
    internal LlamaRMSNorm Norm => norm;

    public LlamaModel(LlamaConfig config) : base(nameof(LlamaModel))
    {
        Config = config;
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new LlamaDecoderLayer(config, i)).ToArray());
        norm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps);
        rotary_emb = new LlamaRotaryEmbedding(config);
        RegisterComponents();
    }

    /// <summary>
    /// Runs the stack on [batch, seq, hidden] embeddings at the given positions. <paramref name="mask"/> is a
    /// boolean [batch, 1, seq, keys] (true = may attend) or null for plain causal attention.
    /// </summary>
    public Tensor Forward(Tensor inputsEmbeds, Tensor positionIds, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = rotary_emb.Forward(positionIds, inputsEmbeds.dtype);
        var inputs = new AttentionInputs(cos, sin, mask, cache);
        var hidden = inputsEmbeds;
        foreach (var layer in layers) hidden = layer.call(hidden, inputs);
        cache?.Advance(inputsEmbeds.shape[1]);
        return norm.call(hidden).MoveToOuterDisposeScope();
    }
}
