using Microsoft.Extensions.Time.Testing;
using RsMoe.Gateway.Caching;

namespace RsMoe.Gateway.Tests.Caching;

/// <summary>The in-process cache (used when no Redis is configured): least recently used out first, bounded by entries and bytes, entries expire.</summary>
public sealed class InProcessFeatureCacheTests
{
    readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-06T00:00:00Z"));

    InProcessFeatureCache Cache(int maxEntries = 3, long maxBytes = 1000, TimeSpan? ttl = null) =>
        new(new CacheOptions { InProcessMaxEntries = maxEntries, InProcessMaxBytes = maxBytes, Ttl = ttl ?? TimeSpan.FromHours(1) }, _time);

    static byte[] Bytes(int length, byte fill = 1) => Enumerable.Repeat(fill, length).ToArray();

    [Fact]
    public async Task The_least_recently_used_entry_leaves_first_and_a_read_counts_as_use()
    {
        var cache = Cache(maxEntries: 3);
        await cache.SetAsync("a", Bytes(1), default);
        await cache.SetAsync("b", Bytes(1), default);
        await cache.SetAsync("c", Bytes(1), default);
        Assert.NotNull(await cache.GetAsync("a", default));   // a is now the most recent; b the least
        await cache.SetAsync("d", Bytes(1), default);

        Assert.Null(await cache.GetAsync("b", default));
        foreach (var key in new[] { "a", "c", "d" }) Assert.NotNull(await cache.GetAsync(key, default));
        Assert.Equal(3, cache.Count);
    }

    [Fact]
    public async Task The_byte_bound_evicts_as_many_entries_as_it_takes_and_a_value_above_it_is_not_kept()
    {
        var cache = Cache(maxEntries: 100, maxBytes: 100);
        await cache.SetAsync("a", Bytes(40), default);
        await cache.SetAsync("b", Bytes(40), default);
        await cache.SetAsync("c", Bytes(90), default);   // 170 bytes: a and b both go
        Assert.Null(await cache.GetAsync("a", default));
        Assert.Null(await cache.GetAsync("b", default));
        Assert.Equal(90, (await cache.GetAsync("c", default))!.Length);

        await cache.SetAsync("huge", Bytes(101), default);
        Assert.Null(await cache.GetAsync("huge", default));
        Assert.NotNull(await cache.GetAsync("c", default));   // a refused value evicts nothing
    }

    [Fact]
    public async Task Entries_expire_after_the_ttl_and_a_rewrite_replaces_the_value_and_its_size()
    {
        var cache = Cache(maxEntries: 10, maxBytes: 100, ttl: TimeSpan.FromMinutes(10));
        await cache.SetAsync("a", Bytes(60, 1), default);
        await cache.SetAsync("a", Bytes(60, 2), default);   // counted once: 60 bytes, not 120
        await cache.SetAsync("b", Bytes(30), default);
        Assert.Equal(2, (await cache.GetAsync("a", default))![0]);
        Assert.NotNull(await cache.GetAsync("b", default));

        _time.Advance(TimeSpan.FromMinutes(9));
        Assert.NotNull(await cache.GetAsync("a", default));
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(await cache.GetAsync("a", default));
        Assert.Equal(1, cache.Count);   // the expired entry was dropped when it was read
    }
}
