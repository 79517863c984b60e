using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model;

/// <summary>Run-time choices about where and how tensors compute.</summary>
public static class TorchRuntime
{
    /// <summary>"auto" (or null) picks cuda when this build and machine have it, else cpu; "cpu", "cuda", "cuda:1" are taken as given.</summary>
    public static Device ResolveDevice(string? requested = null)
    {
        if (string.IsNullOrWhiteSpace(requested) || requested == "auto") return cuda.is_available() ? CUDA : CPU;
        if (requested.StartsWith("cuda", StringComparison.Ordinal) && !cuda.is_available())
            throw new InvalidOperationException("CUDA was requested but is not available (this is a CPU build or no GPU is present; build with -p:TorchBackend=cuda)");
        return device(requested);
    }

    public static ScalarType ParseDType(string name) => name.ToLowerInvariant() switch
    {
        "fp32" or "float32" or "f32" or "float" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "float16" or "f16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"unknown dtype '{name}' (use fp32, bf16 or fp16)"),
    };

    public static string DTypeName(ScalarType type) => type switch
    {
        ScalarType.Float32 => "fp32",
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        _ => type.ToString(),
    };
}
