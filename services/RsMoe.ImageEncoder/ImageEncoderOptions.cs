using System.ComponentModel.DataAnnotations;
namespace RsMoe.ImageEncoder;

/// <summary>The section <c>ImageEncoder</c>.</summary>
public sealed class ImageEncoderOptions
{
    public const string Section = "ImageEncoder";

    /// <summary>The RS-MoE model folder whose <c>rsmoe_config.json</c> names the backbone; empty for the embedded default.</summary>
    public string? ModelDirectory { get; set; }
    /// <summary>For ResNet-18: a folder holding <c>ResNet18Onnx/ResNet18.onnx</c> and <c>ResNetPrepOnnx/ResNetPreprocess.onnx</c>
    /// (a retrained encoder to swap in); empty for the package's copy. Features cached under the old weights are not served.</summary>
    public string? ResNetDirectory { get; set; }
    /// <summary>For the paper's backbone: the InstructBLIP checkpoint folder holding <c>vision_model.*</c>; empty for the one the model was trained with (its <c>vision_checkpoint</c>).</summary>
    public string? InstructBlipCheckpoint { get; set; }
    /// <summary>auto (cuda when present), cpu or cuda.</summary>
    public string Device { get; set; } = "auto";
    [Range(1L, long.MaxValue)]
    public long MaxImageBytes { get; set; } = 20L << 20;
    [Range(1L, long.MaxValue)]
    public long MaxPixels { get; set; } = 8192L * 8192;
    /// <summary>How many waiting images one encoder pass takes at most.</summary>
    [Range(1, 1024)]
    public int MaxBatch { get; set; } = 8;
}
