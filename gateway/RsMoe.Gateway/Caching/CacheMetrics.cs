using System.Diagnostics.Metrics;

namespace RsMoe.Gateway.Caching;

/// <summary>Hits, misses and bypasses (the cache was slow or down and the request went on without it).</summary>
public static class CacheMetrics
{
    static readonly Meter Meter = new("RsMoe.Gateway.Cache");
    static readonly Counter<long> Hits = Meter.CreateCounter<long>("rsmoe.feature_cache.hits");
    static readonly Counter<long> Misses = Meter.CreateCounter<long>("rsmoe.feature_cache.misses");
    static readonly Counter<long> Bypasses = Meter.CreateCounter<long>("rsmoe.feature_cache.bypasses", description: "Cache calls abandoned because the cache was slow or down");

    static long _hits, _misses, _bypasses;
    public static long HitCount => Interlocked.Read(ref _hits);
    public static long MissCount => Interlocked.Read(ref _misses);
    public static long BypassCount => Interlocked.Read(ref _bypasses);

    public static void Hit(string kind) { Interlocked.Increment(ref _hits); Hits.Add(1, new KeyValuePair<string, object?>("cache", kind)); }
    public static void Miss(string kind) { Interlocked.Increment(ref _misses); Misses.Add(1, new KeyValuePair<string, object?>("cache", kind)); }
    public static void Bypass(string kind, string operation)
    {
        Interlocked.Increment(ref _bypasses);
        Bypasses.Add(1, new KeyValuePair<string, object?>("cache", kind), new KeyValuePair<string, object?>("operation", operation));
    }
}
