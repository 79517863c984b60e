namespace RsMoe.Model.Checkpoints.Gguf;

/// <summary>The ggml tensor types this project writes, with ggml's numbers (ggml.h).</summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q8_0 = 8,
    BF16 = 30,
}

/// <summary>Encodes fp32 values as the bytes of a ggml type, the way llama.cpp's own converter does.</summary>
public static class GgmlEncoding
{
    /// <summary>Q8_0: blocks of 32 values as an fp16 scale (max |x| / 127) and 32 int8, 34 bytes a block.</summary>
    public const int Q8BlockSize = 32;
    public const int Q8BlockBytes = 2 + Q8BlockSize;

    /// <summary>GGUF's <c>general.file_type</c> (llama_ftype) for a model whose matrices are of this type.</summary>
    public static uint FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q8_0 => 7,
        GgmlType.BF16 => 32,
        _ => throw new NotSupportedException($"no file type for {type}"),
    };

    /// <summary>Bytes of a tensor whose rows hold <paramref name="rowLength"/> values.</summary>
    public static long ByteCount(GgmlType type, long elements, long rowLength) => type switch
    {
        GgmlType.F32 => elements * 4,
        GgmlType.F16 or GgmlType.BF16 => elements * 2,
        GgmlType.Q8_0 when rowLength % Q8BlockSize == 0 => elements / Q8BlockSize * Q8BlockBytes,
        GgmlType.Q8_0 => throw new ArgumentException($"Q8_0 needs rows of a multiple of {Q8BlockSize} values, not {rowLength}"),
        _ => throw new NotSupportedException(type.ToString()),
    };

    public static byte[] Encode(GgmlType type, ReadOnlySpan<float> values)
    {
        var bytes = new byte[ByteCount(type, values.Length, type == GgmlType.Q8_0 ? Q8BlockSize : values.Length)];
        switch (type)
        {
            case GgmlType.F32:
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(bytes);
                break;
            case GgmlType.F16:
                for (int i = 0; i < values.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), (Half)values[i]);
                break;
            case GgmlType.BF16:
                for (int i = 0; i < values.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), ToBFloat16(values[i]));
                break;
            case GgmlType.Q8_0:
                QuantizeQ8(values, bytes);
                break;
        }
        return bytes;
    }

    /// <summary>Q8_0 blocks of <paramref name="values"/> (a whole number of blocks) into <paramref name="destination"/>.</summary>
    public static void QuantizeQ8(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (values.Length % Q8BlockSize != 0) throw new ArgumentException($"Q8_0 quantises whole blocks of {Q8BlockSize} values, not {values.Length}");
        if (destination.Length < values.Length / Q8BlockSize * Q8BlockBytes) throw new ArgumentException("the destination is too small");
        for (int block = 0; block < values.Length / Q8BlockSize; block++)
            QuantizeQ8Block(values.Slice(block * Q8BlockSize, Q8BlockSize), destination.Slice(block * Q8BlockBytes, Q8BlockBytes));
    }

    /// <summary>Round to nearest even, NaN kept quiet: gguf-py's <c>__compute_fp32_to_bf16</c>.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) return (ushort)((bits >> 16) | 64);
        return (ushort)((bits + (0x7fff + ((bits >> 16) & 1))) >> 16);
    }

    /// <summary>ggml's <c>quantize_row_q8_0_ref</c>: d = max|x| / 127, q = round(x / d).</summary>
    static void QuantizeQ8Block(ReadOnlySpan<float> x, Span<byte> block)
    {
        float amax = 0;
        foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        BitConverter.TryWriteBytes(block, (Half)d);
        for (int i = 0; i < x.Length; i++) block[2 + i] = unchecked((byte)(sbyte)MathF.Round(x[i] * id, MidpointRounding.AwayFromZero));
    }

    /// <summary>Back to fp32, for tests and for reading Q8_0 weights.</summary>
    public static float[] Decode(GgmlType type, ReadOnlySpan<byte> bytes, int count)
    {
        var values = new float[count];
        switch (type)
        {
            case GgmlType.F32:
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes)[..count].CopyTo(values);
                break;
            case GgmlType.F16:
                for (int i = 0; i < count; i++) values[i] = (float)BitConverter.ToHalf(bytes.Slice(2 * i, 2));
                break;
            case GgmlType.BF16:
                for (int i = 0; i < count; i++) values[i] = BitConverter.UInt32BitsToSingle((uint)BitConverter.ToUInt16(bytes.Slice(2 * i, 2)) << 16);
                break;
            case GgmlType.Q8_0:
                for (int block = 0; block < count / Q8BlockSize; block++)
                {
                    var b = bytes.Slice(block * Q8BlockBytes, Q8BlockBytes);
                    float d = (float)BitConverter.ToHalf(b[..2]);
                    for (int i = 0; i < Q8BlockSize; i++) values[block * Q8BlockSize + i] = d * (sbyte)b[2 + i];
                }
                break;
        }
        return values;
    }
}
