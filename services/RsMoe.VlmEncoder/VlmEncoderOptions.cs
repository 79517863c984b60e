using System.ComponentModel.DataAnnotations;
namespace RsMoe.VlmEncoder;

/// <summary>The section <c>VlmEncoder</c>.</summary>
public sealed class VlmEncoderOptions
{
    public const string Section = "VlmEncoder";

    /// <summary>The RS-MoE model folder (its <c>vlm_encoder.safetensors</c> and vocabularies); empty for the embedded default.</summary>
    public string? ModelDirectory { get; set; }
    public string Device { get; set; } = "auto";
    /// <summary>Longest instruction accepted, in characters (the Q-Former reads at most its configured tokens of it).</summary>
    [Range(1, 1_000_000)]
    public int MaxInstructionChars { get; set; } = 2000;
    /// <summary>Largest visual-token message: EVA ViT-g's 257 × 1408 float32 tokens are 1.4 MiB.</summary>
    [Range(1024, int.MaxValue)]
    public int MaxReceiveMessageBytes { get; set; } = 8 << 20;
}
