using RsMoe.Model.Configs;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Llm;

/// <summary>
/// Keys and values of every layer, preallocated as [batch, kv_heads, capacity, head_dim] and filled in
/// place, so decoding allocates nothing per token for the cache. Grows by doubling when full.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor?[] _keys;
    readonly Tensor?[] _values;
    readonly long _kvHeads, _headDim;
    readonly ScalarType _dtype;
    readonly Device _device;

    public long Batch { get; private set; }
    public long Length { get; private set; }
    public long Capacity { get; private set; }

    public KvCache(LlamaConfig config, long batch, long capacity, ScalarType dtype, Device device)
    {
        _keys = new Tensor?[config.NumHiddenLayers];
        _values = new Tensor?[config.NumHiddenLayers];
        _kvHeads = config.KeyValueHeads;
        _headDim = config.HeadDimension;
        _dtype = dtype;
        _device = device;
        Batch = batch;
        Capacity = Math.Max(1, capacity);
    }

    /// <summary>Writes this step's keys and values for one layer and returns everything cached so far, this step included.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        long step = keys.shape[2];
        EnsureCapacity(layer, Length + step);
        var k = _keys[layer]!;
        var v = _values[layer]!;
        using (no_grad())
        {
            k.narrow(2, Length, step).copy_(keys);
            v.narrow(2, Length, step).copy_(values);
        }
        return (k.narrow(2, 0, Length + step), v.narrow(2, 0, Length + step));
    }

    /// <summary>One layer's cached keys and values, [batch, kv_heads, capacity, head_dim]; the first <see cref="Length"/> positions are filled.</summary>
    internal (Tensor Keys, Tensor Values) Layer(int layer) => (_keys[layer]!, _values[layer]!);

    /// <summary>Called once per forward pass, after every layer has appended.</summary>
    public void Advance(long step) => Length += step;

    void EnsureCapacity(int layer, long needed)
    {
        if (_keys[layer] is { } existing && existing.shape[2] >= needed) return;
        long capacity = Capacity;
        while (capacity < needed) capacity *= 2;
        Capacity = Math.Max(Capacity, capacity);
        _keys[layer] = Grow(_keys[layer], capacity);
        _values[layer] = Grow(_values[layer], capacity);
    }

    Tensor Grow(Tensor? old, long capacity)
    {
        // The cache outlives the forward pass that grows it, so it never belongs to a dispose scope.
        var fresh = zeros([Batch, _kvHeads, capacity, _headDim], _dtype, _device).DetachFromDisposeScope();
        if (old is not null)
        {
            using (no_grad()) fresh.narrow(2, 0, Length).copy_(old.narrow(2, 0, Length));
            old.Dispose();
        }
        return fresh;
    }

    /// <summary>Keeps rows in the order given (beam search picks which beams live on).</summary>
    public void Reorder(Tensor rowIndices)
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            if (_keys[i] is null) continue;
            var k = _keys[i]!.index_select(0, rowIndices).DetachFromDisposeScope();
            var v = _values[i]!.index_select(0, rowIndices).DetachFromDisposeScope();
            _keys[i]!.Dispose();
            _values[i]!.Dispose();
            _keys[i] = k;
            _values[i] = v;
        }
        Batch = rowIndices.shape[0];
    }

    public void Dispose()
    {
        foreach (var t in _keys) t?.Dispose();
        foreach (var t in _values) t?.Dispose();
    }
}
