using RsMoe.Model.Configs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>
/// Patch embedding, class token and learned positions (<c>vision_model.embeddings.*</c>). Positions are
/// interpolated bicubically when the input grid differs from the checkpoint's.
/// </summary>
public sealed class EvaVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    readonly Parameter class_embedding;
    readonly Conv2d patch_embedding;
    readonly Parameter position_embedding;
    readonly VisionConfig _config;

    public EvaVisionEmbeddings(VisionConfig config) : base(nameof(EvaVisionEmbeddings))
    {
        _config = config;
        class_embedding = nn.Parameter(randn(1, 1, config.HiddenSize) * 0.02);
        patch_embedding = nn.Conv2d(config.NumChannels, config.HiddenSize, kernel_size: config.PatchSize, stride: config.PatchSize);
        position_embedding = nn.Parameter(randn(1, config.NumPositions, config.HiddenSize) * 0.02);
        RegisterComponents();
    }

    public override Tensor forward(Tensor pixelValues)
    {
        using var scope = NewDisposeScope();
        var patches = patch_embedding.call(pixelValues.to_type(patch_embedding.weight!.dtype)); // [B, D, h, w]
        long h = patches.shape[2], w = patches.shape[3];
        var tokens = patches.flatten(2).transpose(1, 2);                                         // [B, h*w, D]
        var cls = class_embedding.expand(tokens.shape[0], 1, -1);
        var embeddings = cat([cls, tokens], 1);
        return (embeddings + PositionsFor(h, w)).MoveToOuterDisposeScope();
    }

    /// <summary>The position table for an h×w patch grid, interpolated from the trained grid when they differ.</summary>
    public Tensor PositionsFor(long h, long w)
    {
        int side = _config.PatchesPerSide;
        if (h == side && w == side) return position_embedding;
        using var scope = NewDisposeScope();
        var cls = position_embedding.narrow(1, 0, 1);
        var grid = position_embedding.narrow(1, 1, side * side)
            .reshape(1, side, side, -1).permute(0, 3, 1, 2).to_type(ScalarType.Float32);
        var resized = nn.functional.interpolate(grid, size: [h, w], mode: InterpolationMode.Bicubic, align_corners: false);
        var flat = resized.permute(0, 2, 3, 1).reshape(1, h * w, -1).to_type(position_embedding.dtype);
        return cat([cls, flat], 1).MoveToOuterDisposeScope();
    }
}
