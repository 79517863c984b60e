using System.Runtime.InteropServices;
using RsMoe.Model.Checkpoints.Gguf;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Decoding;

/// <summary>Which weights the CPU decoder reads: the model's own (fp32 or bf16) or 8-bit blocks quantised at load.</summary>
public enum DecodeWeightFormat
{
    /// <summary>The model's own tensors, in its dtype.</summary>
    Full,
    /// <summary>GGUF's Q8_0: blocks of 32 int8 with an fp16 scale, 1.0625 bytes a weight.</summary>
    Q8_0,
}

public static class DecodeWeightFormats
{
    public const string Names = "full, q8_0";

    public static DecodeWeightFormat Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "full" => DecodeWeightFormat.Full,
        "q8_0" or "q8" => DecodeWeightFormat.Q8_0,
        _ => throw new ArgumentException($"unknown decode weight format '{name}' ({Names})"),
    };

    public static string Name(DecodeWeightFormat format) => format == DecodeWeightFormat.Q8_0 ? "q8_0" : "full";
}

/// <summary>
/// A [rows, columns] matrix in GGUF's Q8_0 layout, in native memory: each row is columns / 32 blocks of an fp16 scale
/// (max |w| / 127) and 32 int8, quantised exactly as llama.cpp's converter does (<see cref="GgmlEncoding.QuantizeQ8"/>),
/// so the blocks are byte for byte those of a Q8_0 GGUF file of the same weights.
/// </summary>
public sealed unsafe class Q8Matrix : IDisposable
{
    public const int BlockSize = GgmlEncoding.Q8BlockSize;
    public const int BlockBytes = GgmlEncoding.Q8BlockBytes;

    byte* _data;

    public int Rows { get; }
    public int Columns { get; }
    public long Bytes => (long)Rows * RowBytes;
    internal long RowBytes => Columns / BlockSize * BlockBytes;

    internal byte* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(Q8Matrix));

    Q8Matrix(int rows, int columns)
    {
        Rows = rows;
        Columns = columns;
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 64);
    }

    /// <summary>Whether a weight of this shape can be quantised: whole blocks per row.</summary>
    public static bool CanQuantize(Tensor weight) => weight.dim() == 2 && weight.shape[1] % BlockSize == 0;

    /// <summary>Quantises a 2-D CPU weight (any float dtype), a slab of rows at a time so no full fp32 copy is made.</summary>
    public static Q8Matrix Quantize(Tensor weight)
    {
        if (!CanQuantize(weight)) throw new ArgumentException($"Q8_0 needs a matrix whose rows are whole blocks of {BlockSize}, not [{string.Join(", ", weight.shape)}]");
        var matrix = new Q8Matrix(checked((int)weight.shape[0]), checked((int)weight.shape[1]));
        int slab = Math.Max(1, (1 << 22) / matrix.Columns);
        for (int row = 0; row < matrix.Rows; row += slab)
        {
            int count = Math.Min(slab, matrix.Rows - row);
            using var scope = NewDisposeScope();
            var values = weight.narrow(0, row, count).cpu().to_type(ScalarType.Float32).contiguous();
            var view = WeightView.Of(values);
            GgmlEncoding.QuantizeQ8(new ReadOnlySpan<float>(view.Data, count * matrix.Columns),
                new Span<byte>(matrix._data + row * matrix.RowBytes, checked((int)(count * matrix.RowBytes))));
        }
        return matrix;
    }

    /// <summary>A matrix from Q8_0 blocks as a GGUF file stores them.</summary>
    public static Q8Matrix FromBlocks(ReadOnlySpan<byte> blocks, int rows, int columns)
    {
        if (columns % BlockSize != 0) throw new ArgumentException($"Q8_0 rows are whole blocks of {BlockSize}, not {columns}");
        var matrix = new Q8Matrix(rows, columns);
        if (blocks.Length != matrix.Bytes) { matrix.Dispose(); throw new ArgumentException($"[{rows}, {columns}] Q8_0 takes {matrix.Bytes} bytes, not {blocks.Length}"); }
        blocks.CopyTo(new Span<byte>(matrix._data, checked((int)matrix.Bytes)));
        return matrix;
    }

    /// <summary>The blocks as a GGUF file stores them.</summary>
    public ReadOnlySpan<byte> Blocks => new(Data, checked((int)Bytes));

    /// <summary>The values the blocks stand for, as an fp32 tensor (tests and reference computations).</summary>
    public Tensor Dequantize() =>
        tensor(GgmlEncoding.Decode(GgmlType.Q8_0, Blocks, checked(Rows * Columns)), [Rows, Columns]);

    public void Dispose()
    {
        if (_data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
        GC.SuppressFinalize(this);
    }

    ~Q8Matrix() => Dispose();
}

/// <summary>fp16 → fp32 for the Q8_0 block scales: a 256 KiB table, as ggml keeps, cheaper than converting in the inner loop.</summary>
internal static unsafe class HalfTable
{
    public static readonly float* Values = Build();

    static float* Build()
    {
        var table = (float*)NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int i = 0; i < 65536; i++) table[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return table;
    }
}
