using System.Text.Json;

namespace RsMoe.Data.Images;

/// <summary>
/// How an encoder wants its pixels: resize (stretch to a size, or shortest edge then centre crop), bicubic,
/// scale to [0, 1], then per-channel mean and std. Reads a Hugging Face <c>preprocessor_config.json</c>.
/// </summary>
public sealed record ImagePreprocessing
{
    public int Width { get; init; } = 224;
    public int Height { get; init; } = 224;
    /// <summary>When set, resize so the shorter side is this, then centre-crop Width×Height; else stretch to Width×Height.</summary>
    public int? ShortestEdge { get; init; }
    public float[] Mean { get; init; } = [0.48145466f, 0.4578275f, 0.40821073f];
    public float[] Std { get; init; } = [0.26862954f, 0.26130258f, 0.27577711f];

    /// <summary>InstructBLIP / EVA ViT-g: 224×224 stretch, CLIP mean and std.</summary>
    public static ImagePreprocessing InstructBlip => new();

    /// <summary>The CNTK ResNet-18 of the default model: shortest edge 224, centre crop 224, raw 0–255 RGB (its own graph subtracts the mean).</summary>
    public static ImagePreprocessing ResNet18Cntk => new() { ShortestEdge = 224, Mean = [0f, 0f, 0f], Std = [1 / 255f, 1 / 255f, 1 / 255f] };

    /// <summary>ImageNet models such as ResNet-18: shortest edge 256, centre crop 224, ImageNet mean and std.</summary>
    public static ImagePreprocessing ImageNet => new()
    {
        ShortestEdge = 256, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
    };

    public static ImagePreprocessing FromHuggingFace(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var root = doc.RootElement;
        var result = new ImagePreprocessing();
        if (root.TryGetProperty("image_mean", out var mean)) result = result with { Mean = mean.EnumerateArray().Select(e => e.GetSingle()).ToArray() };
        if (root.TryGetProperty("image_std", out var std)) result = result with { Std = std.EnumerateArray().Select(e => e.GetSingle()).ToArray() };
        if (root.TryGetProperty("size", out var size))
        {
            if (size.ValueKind == JsonValueKind.Number) result = result with { Width = size.GetInt32(), Height = size.GetInt32() };
            else if (size.TryGetProperty("shortest_edge", out var edge)) result = result with { ShortestEdge = edge.GetInt32() };
            else result = result with { Width = size.GetProperty("width").GetInt32(), Height = size.GetProperty("height").GetInt32() };
        }
        if (root.TryGetProperty("crop_size", out var crop) && result.ShortestEdge is not null)
            result = crop.ValueKind == JsonValueKind.Number
                ? result with { Width = crop.GetInt32(), Height = crop.GetInt32() }
                : result with { Width = crop.GetProperty("width").GetInt32(), Height = crop.GetProperty("height").GetInt32() };
        if (result.Mean.Length != 3 || result.Std.Length != 3) throw new InvalidDataException($"{path}: image_mean and image_std need three values");
        return result;
    }
}

/// <summary>Pixels ready for an encoder: [channels, height, width] floats.</summary>
public sealed record PixelTensor(float[] Data, int Channels, int Height, int Width);
