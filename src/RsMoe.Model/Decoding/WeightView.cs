using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Decoding;

/// <summary>
/// A row-major matrix (or vector, one row) of fp32 or bf16 values read straight from a CPU tensor's storage. The
/// pointer is valid while the tensor lives and keeps its storage: in-place updates (a merged adapter, a loaded
/// state dict) are seen, a move to another device is not, so a view is taken per generation, never cached for long.
/// </summary>
internal readonly unsafe struct WeightView
{
    public readonly void* Data;
    public readonly bool IsBf16;
    public readonly int Rows;
    public readonly int Columns;

    WeightView(void* data, bool isBf16, int rows, int columns)
    {
        Data = data;
        IsBf16 = isBf16;
        Rows = rows;
        Columns = columns;
    }

    public bool IsEmpty => Data == null;

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
        return new WeightView((void*)THSTensor_data(t.Handle), t.dtype == ScalarType.BFloat16, rows, columns);
    }

    public static WeightView OfOptional(Tensor? t) => t is null ? default : Of(t);

    /// <summary>One value as fp32 (norm weights, biases: off the hot path's inner loops).</summary>
    public float this[long index] => IsBf16 ? Bf16.ToFloat(((ushort*)Data)[index]) : ((float*)Data)[index];

    /// <summary>Row <paramref name="row"/> widened to fp32 into <paramref name="destination"/> (embedding lookup).</summary>
    public void CopyRow(int row, float* destination)
    {
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
