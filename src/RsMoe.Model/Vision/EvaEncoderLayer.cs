using RsMoe.Model.Configs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>The ViT MLP (<c>fc1</c>, GELU, <c>fc2</c>).</summary>
public sealed class EvaMlp : nn.Module<Tensor, Tensor>
{
    readonly Linear fc1, fc2;

    public EvaMlp(VisionConfig config) : base(nameof(EvaMlp))
    {
        fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize);
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc2.call(nn.functional.gelu(fc1.call(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-LayerNorm ViT block (<c>vision_model.encoder.layers.{i}.*</c>).</summary>
public sealed class EvaEncoderLayer : nn.Module<Tensor, Tensor>
{
    readonly EvaAttention self_attn;
    readonly LayerNorm layer_norm1, layer_norm2;
    readonly EvaMlp mlp;

    public EvaEncoderLayer(VisionConfig config) : base(nameof(EvaEncoderLayer))
    {
        self_attn = new EvaAttention(config);
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        mlp = new EvaMlp(config);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var h = hidden + self_attn.call(layer_norm1.call(hidden));
        return (h + mlp.call(layer_norm2.call(h))).MoveToOuterDisposeScope();
    }
}
