using Google.Protobuf;
using RsMoe.Contracts.V1;
using RsMoe.Data.Images;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using WireTensor = RsMoe.Contracts.V1.Tensor;

namespace RsMoe.Services.FunctionalTests.Support;

/// <summary>The embedded default model run in this process: the reference the services must reproduce.</summary>
public sealed class DefaultModel : IDisposable
{
    public static string Directory => ModelLocator.DefaultModelDirectory();
    public static string Sample(string name) => Path.Combine(Directory, "samples", name + ".png");

    public RsMoeModel Model { get; }
    /// <summary>The image encoder the model's config names, as the image-encoder service must choose it.</summary>
    readonly ImageBackbone _backbone;

    public DefaultModel()
    {
        Model = ModelFolder.Load(Directory);
        _backbone = ImageBackbone.For(Model.Config);
    }

    /// <summary>Visual tokens [1, 49, 512] of a sample, as the image encoder service must give them.</summary>
    public float[] VisualTokens(string sample)
    {
        using var tokens = _backbone.Encode(File.ReadAllBytes(Sample(sample)));
        return tokens.data<float>().ToArray();
    }

    internal static WireTensor Wire(float[] values, params long[] shape) => WireTensor.FromFloats(values, shape);

    internal static float[] Values(WireTensor t) => t.ToFloats();

    public void Dispose()
    {
        Model.Dispose();
        _backbone.Dispose();
    }
}
