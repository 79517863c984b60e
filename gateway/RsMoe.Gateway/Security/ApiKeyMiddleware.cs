using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Grpc.Core;
using RsMoe.ServiceDefaults.Grpc;

namespace RsMoe.Gateway.Security;

/// <summary>
/// API keys and rate limits for the API (REST under /v1 and every gRPC call but the health service). A key comes in
/// the <c>x-api-key</c> header (or <c>Authorization: Bearer</c>) and is compared by its SHA-256 in constant time; it is
/// never logged. The pass-through routes to internal services need an operator key. Each key (or client address when
/// keys are off) has a token bucket; over it the answer is 429 / ResourceExhausted with a retry hint.
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, AccessOptions options, ILogger<ApiKeyMiddleware> logger)
{
    static readonly Meter Meter = new("RsMoe.Gateway.Access");
    static readonly Counter<long> Refused = Meter.CreateCounter<long>("rsmoe.gateway.access.refused", description: "Requests refused for a missing or wrong key, or a rate limit");

    /// <summary>The pass-through routes to the internal services, and the gateway's own operator calls.</summary>
    static readonly string[] OperatorOnlyPrefixes = ["/rsmoe.v1.Expert/", "/rsmoe.v1.ImageEncoder/", "/rsmoe.v1.VlmEncoder/", "/rsmoe.v1.Captioner/ReloadExpert"];

    readonly (byte[] Hash, ApiKey Key)[] _keys = options.ApiKeys
        .Select(k => (Convert.FromHexString(k.Sha256.Trim()), k))
        .ToArray();

    /// <summary>A token bucket per key (per client address without one), with the key's own limits where it has them.</summary>
    readonly PartitionedRateLimiter<string>? _limiter = CreateLimiter(options);

    static PartitionedRateLimiter<string>? CreateLimiter(AccessOptions options) =>
        options.RequestsPerMinute <= 0 && options.ApiKeys.All(k => (k.RequestsPerMinute ?? 0) <= 0)
            ? null
            : PartitionedRateLimiter.Create<string, string>(partition =>
            {
                var (perMinute, burst) = Limits(options, partition);
                return perMinute <= 0
                    ? RateLimitPartition.GetNoLimiter(partition)
                    : RateLimitPartition.GetTokenBucketLimiter(partition, _ => RateLimits.TokenBucket(perMinute, burst));
            });

    static (int PerMinute, int Burst) Limits(AccessOptions options, string partition) =>
        partition.StartsWith("key:", StringComparison.Ordinal) && options.ApiKeys.FirstOrDefault(k => k.Name == partition[4..]) is { } key
            ? (key.RequestsPerMinute ?? options.RequestsPerMinute, key.Burst ?? options.Burst)
            : (options.RequestsPerMinute, options.Burst);

    public static string Hash(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    public async Task InvokeAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? "";
        bool grpc = Refusal.IsGrpc(context);
        if (!(path.StartsWith("/v1/", StringComparison.Ordinal) || grpc) || path.StartsWith("/grpc.health.v1.", StringComparison.Ordinal))
        {
            await next(context);
            return;
        }

        ApiKey? key = Find(Presented(context));
        if (options.RequireApiKey && key is null)
        {
            bool given = Presented(context) is not null;
            Refused.Add(1, new KeyValuePair<string, object?>("reason", given ? "invalid-key" : "missing-key"));
            logger.LogInformation("Refused {Path}: {Reason}", path, given ? "the API key is not valid" : "no API key");
            await Refusal.WriteAsync(context, StatusCodes.Status401Unauthorized, StatusCode.Unauthenticated, "Unauthorized",
                given ? "the API key is not valid" : "an API key is required (header x-api-key)");
            return;
        }
        if (options.RequireApiKey && OperatorOnlyPrefixes.Any(p => path.StartsWith(p, StringComparison.Ordinal)) && key is { Operator: false })
        {
            Refused.Add(1, new KeyValuePair<string, object?>("reason", "not-operator"));
            await Refusal.WriteAsync(context, StatusCodes.Status403Forbidden, StatusCode.PermissionDenied, "Forbidden",
                "this key may not call the internal services (an operator key is needed)");
            return;
        }

        string partition = key is not null ? $"key:{key.Name}" : $"ip:{context.Connection.RemoteIpAddress}";
        using var lease = _limiter?.AttemptAcquire(partition);
        if (lease is { IsAcquired: false })
        {
            Refused.Add(1, new KeyValuePair<string, object?>("reason", "rate-limit"));
            var (perMinute, burst) = Limits(options, partition);
            int retrySeconds = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
            context.Response.Headers.RetryAfter = retrySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Refusal.WriteAsync(context, StatusCodes.Status429TooManyRequests, StatusCode.ResourceExhausted, "Too many requests",
                $"the rate limit of {perMinute} requests a minute (burst {burst}) is used up; retry in {retrySeconds} s");
            return;
        }
        if (key is not null) context.Items["rsmoe.api_key"] = key.Name;
        await next(context);
    }

    static string? Presented(HttpContext context)
    {
        if (context.Request.Headers.TryGetValue("x-api-key", out var header) && !string.IsNullOrEmpty(header)) return header.ToString();
        string? authorization = context.Request.Headers.Authorization;
        return authorization?.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) == true ? authorization[7..].Trim() : null;
    }

    ApiKey? Find(string? presented)
    {
        if (string.IsNullOrEmpty(presented)) return null;
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        ApiKey? found = null;
        foreach (var (stored, key) in _keys)   // every key compared, in constant time each
            if (stored.Length == hash.Length && CryptographicOperations.FixedTimeEquals(stored, hash)) found = key;
        return found;
    }
}
