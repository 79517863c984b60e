using System.Buffers.Binary;
using System.Runtime.InteropServices;

using RsMoe.Contracts.V1;

namespace RsMoe.Contracts.Tensors;

/// <summary>
/// The tensor wire format: raw little-endian bytes in row-major order with a shape and an element type. Float32 is
/// exact; float16 and bfloat16 halve the bytes where a consumer tolerates it.
/// </summary>
public static class TensorBytes
{
    public static int ElementSize(DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float16 or DType.Bfloat16 => 2,
        _ => throw new ArgumentException($"unsupported tensor dtype {dtype}"),
    };

    /// <summary>Checks shape, dtype and byte count agree; a message names what is wrong.</summary>
    public static long Validate(IReadOnlyList<long> shape, DType dtype, int byteCount, string what)
    {
        if (!Enum.IsDefined(dtype) || dtype == DType.Unspecified) throw new ArgumentException($"{what}: dtype {(int)dtype} is not float32, float16 or bfloat16");
        if (shape.Count == 0) throw new ArgumentException($"{what}: the shape is empty");
        long count = 1;
        foreach (var dim in shape)
        {
            if (dim < 1) throw new ArgumentException($"{what}: dimension {dim} in [{string.Join(", ", shape)}] is not positive");
            count = checked(count * dim);
        }
        long expected = count * ElementSize(dtype);
        if (expected != byteCount) throw new ArgumentException($"{what}: shape [{string.Join(", ", shape)}] of {dtype} needs {expected} bytes, got {byteCount}");
        return count;
    }

    public static byte[] Encode(ReadOnlySpan<float> values, DType dtype)
    {
        var bytes = new byte[values.Length * ElementSize(dtype)];
        switch (dtype)
        {
            case DType.Float32:
                if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(values).CopyTo(bytes);
                else for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
                break;
            case DType.Float16:
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]);
                break;
            case DType.Bfloat16:
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), ToBFloat16(values[i]));
                break;
        }
        return bytes;
    }

    public static float[] Decode(ReadOnlySpan<byte> bytes, DType dtype)
    {
        int size = ElementSize(dtype);
        if (bytes.Length % size != 0) throw new ArgumentException($"{bytes.Length} bytes is not a whole number of {dtype} values");
        var values = new float[bytes.Length / size];
        switch (dtype)
        {
            case DType.Float32:
                if (BitConverter.IsLittleEndian) bytes.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
                else for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                break;
            case DType.Float16:
                for (int i = 0; i < values.Length; i++) values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(i * 2)..]);
                break;
            case DType.Bfloat16:
                for (int i = 0; i < values.Length; i++) values[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]) << 16);
                break;
        }
        return values;
    }

    /// <summary>Round to nearest even, as torch converts; NaN stays NaN.</summary>
    static ushort ToBFloat16(float value)
    {
        uint bits = (uint)BitConverter.SingleToInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
