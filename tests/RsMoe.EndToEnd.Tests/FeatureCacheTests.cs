using Google.Protobuf;
using RsMoe.Contracts.V1;
using RsMoe.EndToEnd.Tests.Support;
using StackExchange.Redis;

namespace RsMoe.EndToEnd.Tests;

/// <summary>The visual-feature cache under concurrency and its bounds, against the real Redis that <c>rsmoe up</c> starts.</summary>
[Collection(ConstellationCollection.Name)]
public sealed class FeatureCacheTests(ConstellationFixture fixture)
{
    [Fact]
    public async Task Concurrent_first_requests_for_one_new_image_run_the_image_encoder_once()
    {
        var image = ByteString.CopyFrom(File.ReadAllBytes(SharedData.Path("rsscn7", "images", "dRiverLake", "d150.jpg")));
        double encoded = await fixture.MetricAsync("image-encoder", "rsmoe_image_encoder_images_total");
        var captioner = new Captioner.CaptionerClient(fixture.Gateway);
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            captioner.AskAsync(new AskRequest { Image = image, Question = "Is there a river?" }, deadline: DateTime.UtcNow.AddSeconds(60)).ResponseAsync));
        Assert.All(answers, a => Assert.False(string.IsNullOrWhiteSpace(a.Answer)));
        Assert.Equal(encoded + 1, await fixture.MetricAsync("image-encoder", "rsmoe_image_encoder_images_total"));
        // Later requests read the cache.
        Assert.Equal(CacheOutcome.Hit, (await captioner.AskAsync(new AskRequest { Image = image, Question = "Is there water?" })).Cache);
    }

    [Fact]
    public async Task The_private_redis_is_bounded_and_evicts_the_least_recently_used()
    {
        using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Constellation.RedisConnection + ",allowAdmin=true");
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        Assert.Equal((256L << 20).ToString(), (await server.ConfigGetAsync("maxmemory")).Single().Value);
        Assert.Equal("allkeys-lru", (await server.ConfigGetAsync("maxmemory-policy")).Single().Value);
    }
}
