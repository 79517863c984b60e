using RsMoe.Model.Configs;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>Pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(.)).</summary>
public sealed class LlamaDecoderLayer : nn.Module<Tensor, AttentionInputs, Tensor>
{
    readonly LlamaAttention self_attn;
    readonly LlamaMLP mlp;
    readonly LlamaRMSNorm input_layernorm, post_attention_layernorm;

    internal LlamaAttention SelfAttention => self_attn;
    internal LlamaMLP Mlp => mlp;
    internal LlamaRMSNorm InputNorm => input_layernorm;
    internal LlamaRMSNorm PostAttentionNorm => post_attention_layernorm;

    public LlamaDecoderLayer(LlamaConfig config, int layerIndex) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(config, layerIndex);
        mlp = new LlamaMLP(config);
        input_layernorm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new LlamaRMSNorm(config.HiddenSize, config.RmsNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, AttentionInputs inputs)
    {
        using var scope = NewDisposeScope();
        // Explicit alpha: tensor + tensor makes a temporary Scalar (see Scalars).
        var h = hidden.add(self_attn.call(input_layernorm.call(hidden), inputs), Scalars.One);
        var output = h.add(mlp.call(post_attention_layernorm.call(h)), Scalars.One);
        return output.MoveToOuterDisposeScope();
    }
}
