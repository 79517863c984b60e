using RsMoe.Data.Images;
using RsMoe.Model.Configs;
using RsMoe.Model.Moe;
using static TorchSharp.torch;

namespace RsMoe.Model.Vision;

/// <summary>
/// The frozen image encoder a model's config names, with the preprocessing its weights expect: the one place the
/// backbone is chosen, for the trainer, the image-encoder service, <c>rsmoe caption</c>/<c>ask</c> and <c>rsmoe eval</c>.
/// </summary>
public sealed class ImageBackbone : IDisposable
{
    public const string ResNet18 = "resnet18";
    /// <summary>ResNet-18's third stage at 224 px: 196 tokens of 256.</summary>
    public static string ResNet18ThirdStage => ResNetTap.ThirdStage.BackboneName;
    /// <summary>ResNet-18's last stage at 448 px in 2 × 2 tiles: 196 tokens of 512.</summary>
    public static string ResNet18Tiled => ResNetTap.LastStageTiled.BackboneName;
    /// <summary>ResNet-18's last stage before its final residual block, at 224 px: 49 tokens of 512.</summary>
    public static string ResNet18BeforeLastBlock => ResNetTap.BeforeLastBlock.BackboneName;
    /// <summary>Every backbone name <see cref="Create"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. ResNetTap.All.Select(t => t.BackboneName), InstructBlipVision];
    public const string InstructBlipVision = "instructblip-vision";

    public IImageEncoder Encoder { get; }
    public ImagePreprocessing Preprocessing { get; }
    public string Identity => Encoder.Identity;

    ImageBackbone(IImageEncoder encoder, ImagePreprocessing preprocessing)
    {
        Encoder = encoder;
        Preprocessing = preprocessing;
    }

    /// <summary>
    /// The backbone of <paramref name="config"/>: ImageNet ResNet-18 (from <paramref name="resNetDirectory"/>, default the
    /// packaged one), or EVA ViT-g from <paramref name="instructBlipCheckpoint"/> or else the checkpoint the config
    /// records. Fails when its tokens are not as wide as the model expects.
    /// </summary>
    public static ImageBackbone For(RsMoeConfig config, Device? device = null, string? instructBlipCheckpoint = null, string? resNetDirectory = null)
    {
        var backbone = Create(config.ImageEncoder, instructBlipCheckpoint ?? config.VisionCheckpoint, device, resNetDirectory, config.ImageOrientations);
        if (backbone.Encoder.TokenWidth != config.VisionHiddenSize)
        {
            backbone.Dispose();
            throw new InvalidDataException($"the image encoder gives {backbone.Encoder.TokenWidth}-wide tokens but the model expects {config.VisionHiddenSize}");
        }
        return backbone;
    }

    /// <summary>
    /// A backbone by name (<see cref="ResNet18"/>, one of its other taps, or <see cref="InstructBlipVision"/>) before any
    /// model exists (training), its tokens averaged over <paramref name="orientations"/> of the photo (ResNet-18 only).
    /// </summary>
    public static ImageBackbone Create(string name, string? instructBlipCheckpoint = null, Device? device = null, string? resNetDirectory = null, int orientations = 1)
    {
        if (name == InstructBlipVision)
            return orientations == 1
                ? InstructBlip(instructBlipCheckpoint ?? throw new ArgumentException($"the {InstructBlipVision} image encoder needs an InstructBLIP checkpoint folder"), device)
                : throw new NotSupportedException($"the {InstructBlipVision} image encoder reads each photo once (image_orientations 1)");
        var tap = ResNetTap.ByName(name)
            ?? throw new InvalidDataException($"unknown image encoder '{name}' ({string.Join(", ", Names)})");
        // The exported graphs take 224 px; a tiled tap takes its larger input, prepared the same way.
        var preprocessing = ImagePreprocessing.ResNet18Cntk with { ShortestEdge = tap.InputSize, Width = tap.InputSize, Height = tap.InputSize };
        return new ImageBackbone(new ResNetImageEncoder(resNetDirectory, device, tap: tap, orientations: orientations), preprocessing);
    }

    /// <summary>EVA ViT-g with the checkpoint's own preprocessing (<c>preprocessor_config.json</c>), else CLIP's at its vision input size.</summary>
    static ImageBackbone InstructBlip(string checkpoint, Device? device)
    {
        if (!Directory.Exists(checkpoint)) throw new DirectoryNotFoundException($"no InstructBLIP checkpoint folder at '{checkpoint}'");
        string preprocessor = Path.Combine(checkpoint, "preprocessor_config.json");
        int size = InstructBlipConfig.Load(checkpoint).VisionConfig.ImageSize;
        var preprocessing = File.Exists(preprocessor) ? ImagePreprocessing.FromHuggingFace(preprocessor) : ImagePreprocessing.InstructBlip with { Width = size, Height = size };
        return new ImageBackbone(new InstructBlipImageEncoder(checkpoint, device: device), preprocessing);
    }

    /// <summary>Visual tokens [1, N, width] of one image file's bytes.</summary>
    public Tensor Encode(byte[] image, ImageLimits? limits = null)
    {
        var pixels = ImageDecoder.Preprocess(image, Preprocessing, limits);
        using var batch = tensor(pixels.Data, [1, pixels.Channels, pixels.Height, pixels.Width]);
        return Encoder.Encode(batch);
    }

    public void Dispose() => Encoder.Dispose();
}
