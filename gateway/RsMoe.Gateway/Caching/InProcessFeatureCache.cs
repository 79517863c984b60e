namespace RsMoe.Gateway.Caching;

/// <summary>A least-recently-used cache in this process, bounded by entries and bytes, with the same TTL as Redis.</summary>
public sealed class InProcessFeatureCache(CacheOptions options, TimeProvider time) : IFeatureCache
{
    sealed record Entry(string Key, byte[] Value, DateTimeOffset Expires);

    readonly object _gate = new();
    readonly LinkedList<Entry> _order = new();   // most recent first
    readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    long _bytes;

    public string Kind => "in-process";
    public int Count { get { lock (_gate) return _entries.Count; } }

    public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var node)) return Task.FromResult<byte[]?>(null);
            if (node.Value.Expires <= time.GetUtcNow())
            {
                Remove(node);
                return Task.FromResult<byte[]?>(null);
            }
            _order.Remove(node);
            _order.AddFirst(node);
            return Task.FromResult<byte[]?>(node.Value.Value);
        }
    }

    public Task SetAsync(string key, byte[] value, CancellationToken cancellationToken)
    {
        if (value.LongLength > options.InProcessMaxBytes) return Task.CompletedTask;
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var existing)) Remove(existing);
            var node = _order.AddFirst(new Entry(key, value, time.GetUtcNow() + options.Ttl));
            _entries[key] = node;
            _bytes += value.LongLength;
            while (_entries.Count > options.InProcessMaxEntries || _bytes > options.InProcessMaxBytes) Remove(_order.Last!);
        }
        return Task.CompletedTask;
    }

    void Remove(LinkedListNode<Entry> node)
    {
        _order.Remove(node);
        _entries.Remove(node.Value.Key);
        _bytes -= node.Value.Value.LongLength;
    }
}
