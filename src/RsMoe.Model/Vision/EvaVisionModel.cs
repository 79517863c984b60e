using RsMoe.Model.Configs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary><c>vision_model.encoder</c>: the stack of ViT blocks.</summary>
public sealed class EvaEncoder : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<EvaEncoderLayer> layers;

    public EvaEncoder(VisionConfig config) : base(nameof(EvaEncoder))
    {
        layers = new ModuleList<EvaEncoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new EvaEncoderLayer(config)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        foreach (var layer in layers) hidden = layer.call(hidden);
        return hidden.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The frozen EVA ViT image encoder in InstructBLIP's <c>vision_model.*</c> layout: pixels [B, 3, H, W]
/// to visual tokens [B, 1 + patches, hidden] after <c>post_layernorm</c>.
/// </summary>
public sealed class EvaVisionModel : nn.Module<Tensor, Tensor>
{
    readonly EvaVisionEmbeddings embeddings;
    readonly EvaEncoder encoder;
    readonly LayerNorm post_layernorm;

    public VisionConfig Config { get; }

    public EvaVisionModel(VisionConfig config) : base(nameof(EvaVisionModel))
    {
        Config = config;
        embeddings = new EvaVisionEmbeddings(config);
        encoder = new EvaEncoder(config);
        post_layernorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor pixelValues)
    {
        using var scope = NewDisposeScope();
        return post_layernorm.call(encoder.call(embeddings.call(pixelValues))).MoveToOuterDisposeScope();
    }
}
