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

    public RsMoeModel Model { get; } = ModelFolder.Load(Directory);
    readonly ResNetImageEncoder _encoder = new();

    /// <summary>Visual tokens [1, 49, 512] of a sample, as the image encoder service must give them.</summary>
    public float[] VisualTokens(string sample)
    {
        var pixels = ImageDecoder.Preprocess(File.ReadAllBytes(Sample(sample)), ImagePreprocessing.ResNet18Cntk);
        using var tokens = _encoder.Encode(TorchSharp.torch.tensor(pixels.Data, [1, 3, pixels.Height, pixels.Width]));
        return tokens.data<float>().ToArray();
    }

    internal static WireTensor Wire(float[] values, params long[] shape) => WireTensor.FromFloats(values, shape);

    internal static float[] Values(WireTensor t) => t.ToFloats();

    public void Dispose()
    {
        Model.Dispose();
        _encoder.Dispose();
    }
}
