using TorchSharp;

namespace RsMoe.Model.Checkpoints;

/// <summary>The safetensors dtype names this project reads and writes, and their torch types.</summary>
public static class SafetensorsDType
{
    public static torch.ScalarType ToScalarType(string name) => name switch
    {
        "F32" => torch.ScalarType.Float32,
        "F16" => torch.ScalarType.Float16,
        "BF16" => torch.ScalarType.BFloat16,
        "F64" => torch.ScalarType.Float64,
        "I64" => torch.ScalarType.Int64,
        "I32" => torch.ScalarType.Int32,
        "I16" => torch.ScalarType.Int16,
        "I8" => torch.ScalarType.Int8,
        "U8" => torch.ScalarType.Byte,
        "BOOL" => torch.ScalarType.Bool,
        _ => throw new NotSupportedException($"safetensors dtype '{name}' is not supported"),
    };

    public static string FromScalarType(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float32 => "F32",
        torch.ScalarType.Float16 => "F16",
        torch.ScalarType.BFloat16 => "BF16",
        torch.ScalarType.Float64 => "F64",
        torch.ScalarType.Int64 => "I64",
        torch.ScalarType.Int32 => "I32",
        torch.ScalarType.Int16 => "I16",
        torch.ScalarType.Int8 => "I8",
        torch.ScalarType.Byte => "U8",
        torch.ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"torch dtype {type} cannot be written to safetensors"),
    };

    public static int ElementSize(string name) => name switch
    {
        "F64" or "I64" => 8,
        "F32" or "I32" => 4,
        "F16" or "BF16" or "I16" => 2,
        "I8" or "U8" or "BOOL" => 1,
        _ => throw new NotSupportedException($"safetensors dtype '{name}' is not supported"),
    };
}
