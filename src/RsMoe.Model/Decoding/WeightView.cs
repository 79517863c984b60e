using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Decoding;

/// <summary>
/// A row-major matrix (or vector, one row) read in place: fp32 or bf16 values straight from a CPU tensor's storage, or
/// the blocks of a <see cref="Q8Matrix"/>. The pointer is valid while the tensor (or matrix) lives and keeps its storage:
/// in-place updates (a merged adapter, a loaded state dict) are seen, a move to another device is not, so a view is
/// taken per generation, never cached for long.
/// </summary>
internal readonly unsafe struct WeightView
{
    public enum Kind : byte { F32, Bf16, Q8_0 }

    public readonly void* Data;
    public readonly Kind Format;
    public readonly int Rows;
    public readonly int Columns;

    WeightView(void* data, Kind format, int rows, int columns)
    {
        Data = data;
        Format = format;
        Rows = rows;
        Columns = columns;
    }

    public bool IsEmpty => Data == null;
    public bool IsBf16 => Format == Kind.Bf16;
    public bool IsQ8 => Format == Kind.Q8_0;

    /// <summary>Bytes one pass over the matrix reads.</summary>
    public long Bytes => Format switch
    {
        Kind.F32 => (long)Rows * Columns * 4,
        Kind.Bf16 => (long)Rows * Columns * 2,
        _ => (long)Rows * (Columns / Q8Matrix.BlockSize) * Q8Matrix.BlockBytes,
    };

    public static WeightView Of(Q8Matrix matrix) => new(matrix.Data, Kind.Q8_0, matrix.Rows, matrix.Columns);

    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr handle);

    public static bool CanView(Tensor? t) =>
        t is not null && t.device_type == DeviceType.CPU && t.is_contiguous() && t.dim() is 1 or 2
        && t.dtype is ScalarType.Float32 or ScalarType.BFloat16;

    public static WeightView Of(Tensor t)
    {
        if (!CanView(t)) throw new NotSupportedException($"the CPU decoder reads contiguous fp32/bf16 CPU tensors, not {t.dtype} on {t.device_type} [{string.Join(", ", t.shape)}]");
        int rows = t.dim() == 2 ? checked((int)t.shape[0]) : 1;
        int columns = checked((int)t.shape[^1]);
        return new WeightView((void*)THSTensor_data(t.Handle), t.dtype == ScalarType.BFloat16 ? Kind.Bf16 : Kind.F32, rows, columns);
    }

    public static WeightView OfOptional(Tensor? t) => t is null ? default : Of(t);

    /// <summary>One value as fp32 (norm weights, biases: off the hot path's inner loops).</summary>
    public float this[long index] => Format switch
    {
        Kind.Bf16 => Bf16.ToFloat(((ushort*)Data)[index]),
        Kind.F32 => ((float*)Data)[index],
        _ => throw new NotSupportedException("Q8_0 views are read by the matrix kernels only"),
    };

    /// <summary>Row <paramref name="row"/> widened to fp32 into <paramref name="destination"/> (embedding lookup).</summary>
    public void CopyRow(int row, float* destination)
    {
        if (IsQ8) throw new NotSupportedException("Q8_0 views are read by the matrix kernels only");
        long offset = (long)row * Columns;
        if (IsBf16) for (int i = 0; i < Columns; i++) destination[i] = Bf16.ToFloat(((ushort*)Data)[offset + i]);
        else Buffer.MemoryCopy((float*)Data + offset, destination, Columns * 4L, Columns * 4L);
    }
}

internal static class Bf16
{
    /// <summary>bf16 is the upper half of an fp32: widening is a shift.</summary>
    public static float ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);
}
