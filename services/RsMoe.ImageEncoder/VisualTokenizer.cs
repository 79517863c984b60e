using RsMoe.Data.Images;
using RsMoe.Model;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.ImageEncoder;

/// <summary>
/// The configured frozen backbone and its preprocessing: the default model's ResNet-18, or EVA ViT-g from an
/// InstructBLIP checkpoint (the paper's). Decoding and preprocessing run on the caller's thread; encoding is batched.
/// </summary>
public sealed class VisualTokenizer : IDisposable
{
    readonly ImageBackbone _backbone;
    readonly IImageEncoder _encoder;
    public ImagePreprocessing Preprocessing => _backbone.Preprocessing;
    public ImageLimits Limits { get; }
    public string Identity => _encoder.Identity;
    public int TokenWidth => _encoder.TokenWidth;
    public Device Device { get; }

    public VisualTokenizer(ImageEncoderOptions options, ILogger<VisualTokenizer> logger)
    {
        Device = TorchRuntime.ResolveDevice(options.Device);
        Limits = new ImageLimits { MaxBytes = options.MaxImageBytes, MaxPixels = options.MaxPixels };
        var config = ModelFolder.LoadConfig(ModelLocator.Resolve(options.ModelDirectory));
        _backbone = ImageBackbone.For(config, Device, options.InstructBlipCheckpoint, string.IsNullOrWhiteSpace(options.ResNetDirectory) ? null : options.ResNetDirectory);
        _encoder = _backbone.Encoder;
        logger.LogInformation("Image encoder {Identity} on {Device}", Identity, Device);
    }

    /// <summary>Validates and preprocesses; throws <see cref="ImageRejectedException"/> for anything that is not a usable image.</summary>
    public PixelTensor Prepare(byte[] image) => ImageDecoder.Preprocess(image, Preprocessing, Limits);

    /// <summary>Visual tokens for same-sized images in one pass: one float array [tokens × width] per image.</summary>
    public (float[][] Tokens, long TokenCount) EncodeBatch(IReadOnlyList<PixelTensor> images)
    {
        using var scope = NewDisposeScope();
        var first = images[0];
        var batch = stack(images.Select(p => tensor(p.Data, [p.Channels, p.Height, p.Width])).ToArray(), 0);
        var tokens = _encoder.Encode(batch.to(Device)).to_type(ScalarType.Float32).cpu().contiguous();   // [B, N, W]
        long count = tokens.shape[1];
        var result = new float[images.Count][];
        for (int i = 0; i < images.Count; i++) result[i] = tokens[i].data<float>().ToArray();
        return (result, count);
    }

    public void Dispose() => _backbone.Dispose();
}
