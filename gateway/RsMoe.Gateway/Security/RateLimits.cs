using System.Threading.RateLimiting;

namespace RsMoe.Gateway.Security;

/// <summary>
/// A key's rate as a token bucket that keeps it exactly: <c>k</c> tokens every <c>60 s · k / perMinute</c>, with
/// <c>k</c> the fewest tokens that keep the period at 100 ms or more (so 30 a minute is one token every 2 s, 90 a
/// minute one every 667 ms, 6,000 a minute ten every 100 ms). Rounding the rate to whole tokens a second, as before,
/// made 30 a minute 60 and 90 a minute 60.
/// </summary>
public static class RateLimits
{
    static readonly TimeSpan ShortestPeriod = TimeSpan.FromMilliseconds(100);

    public static TokenBucketRateLimiterOptions TokenBucket(int perMinute, int burst)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perMinute);
        int tokens = Math.Max(1, (int)Math.Ceiling(perMinute * ShortestPeriod.TotalMinutes));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, burst),
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = TimeSpan.FromTicks((long)Math.Round(TimeSpan.TicksPerMinute * (double)tokens / perMinute)),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }
}
