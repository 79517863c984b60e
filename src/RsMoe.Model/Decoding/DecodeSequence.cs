using System.Runtime.CompilerServices;

namespace RsMoe.Model.Decoding;

/// <summary>
/// One sequence's state in the CPU decoder: its keys and values per layer as [position, kv_heads, head_dim] fp32
/// (pinned, grown by doubling), how many positions they hold, and the adapter of a <see cref="Lora.LoraBank"/> it
/// decodes with (-1: none). Sequences of any lengths decode together in one step.
/// </summary>
public sealed unsafe class DecodeSequence
{
    readonly float[][] _keys, _values;
    readonly int _rowWidth;   // kv_heads · head_dim

    public int Length { get; private set; }
    public int Capacity { get; private set; }
    public int Adapter { get; }

    internal DecodeSequence(int layers, int rowWidth, int capacity, int adapter)
    {
        _rowWidth = rowWidth;
        Capacity = Math.Max(16, capacity);
        Adapter = adapter;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = GC.AllocateUninitializedArray<float>(Capacity * rowWidth, pinned: true);
            _values[l] = GC.AllocateUninitializedArray<float>(Capacity * rowWidth, pinned: true);
        }
    }

    internal float* Keys(int layer) => (float*)Unsafe.AsPointer(ref _keys[layer][0]);
    internal float* Values(int layer) => (float*)Unsafe.AsPointer(ref _values[layer][0]);

    /// <summary>Makes room for <paramref name="positions"/> more positions.</summary>
    internal void Reserve(int positions)
    {
        if (Length + positions <= Capacity) return;
        int capacity = Capacity;
        while (capacity < Length + positions) capacity *= 2;
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = Grow(_keys[l], capacity);
            _values[l] = Grow(_values[l], capacity);
        }
        Capacity = capacity;
    }

    float[] Grow(float[] old, int capacity)
    {
        var fresh = GC.AllocateUninitializedArray<float>(capacity * _rowWidth, pinned: true);
        Array.Copy(old, fresh, (long)Length * _rowWidth);
        return fresh;
    }

    /// <summary>Copies <paramref name="positions"/> prefilled positions for one layer ([positions, kv_heads, head_dim] fp32).</summary>
    internal void Fill(int layer, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int positions)
    {
        if (positions > Capacity) throw new InvalidOperationException("reserve before filling");
        keys.CopyTo(_keys[layer]);
        values.CopyTo(_values[layer]);
        Length = positions;
    }

    internal void Advance() => Length++;

    /// <summary>Bytes of key/value memory this sequence holds.</summary>
    public long Bytes => 2L * _keys.Length * Capacity * _rowWidth * sizeof(float);
}
