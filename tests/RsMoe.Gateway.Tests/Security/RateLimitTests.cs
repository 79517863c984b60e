using System.Threading.RateLimiting;
using RsMoe.Gateway.Security;

namespace RsMoe.Gateway.Tests.Security;

/// <summary>A configured rate is the rate the bucket keeps, at rates that are not multiples of 60 too.</summary>
public sealed class RateLimitTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(30)]
    [InlineData(45)]
    [InlineData(90)]
    [InlineData(100)]
    [InlineData(599)]
    [InlineData(601)]
    [InlineData(6000)]
    [InlineData(100_000)]
    public void The_bucket_refills_at_exactly_the_configured_rate(int perMinute)
    {
        var bucket = RateLimits.TokenBucket(perMinute, burst: 5);
        double perMinuteKept = bucket.TokensPerPeriod * (TimeSpan.FromMinutes(1) / bucket.ReplenishmentPeriod);
        Assert.Equal(perMinute, perMinuteKept, 1e-6 * perMinute);
        Assert.True(bucket.ReplenishmentPeriod >= TimeSpan.FromMilliseconds(100), $"{bucket.ReplenishmentPeriod}");
        Assert.Equal(5, bucket.TokenLimit);
        Assert.Equal(0, bucket.QueueLimit);
    }

    [Fact]
    public async Task Thirty_a_minute_allows_one_request_every_two_seconds_not_one_a_second()
    {
        // Timed from before the limiter exists, so a reading under the period proves no refill can have happened yet;
        // a loaded machine (CI runs test assemblies side by side) may sleep past it, and then the check says nothing.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var options = RateLimits.TokenBucket(30, burst: 1);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ReplenishmentPeriod);
        using var limiter = new TokenBucketRateLimiter(options);
        using (var first = limiter.AttemptAcquire()) Assert.True(first.IsAcquired);
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        using (var early = limiter.AttemptAcquire())
        {
            if (clock.Elapsed < options.ReplenishmentPeriod)
            {
                Assert.False(early.IsAcquired);   // rounded to whole tokens a second, this was allowed: 60 a minute
                Assert.True(early.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
                Assert.InRange(retryAfter, TimeSpan.Zero, TimeSpan.FromSeconds(2));
            }
        }
        // The refill comes from a timer on the thread pool, which a loaded machine may run late: allow it a while.
        var onTime = limiter.AttemptAcquire();
        for (int i = 0; !onTime.IsAcquired && i < 100; i++)
        {
            onTime.Dispose();
            await Task.Delay(TimeSpan.FromMilliseconds(100));
            onTime = limiter.AttemptAcquire();
        }
        using (onTime) Assert.True(onTime.IsAcquired);
    }
}
