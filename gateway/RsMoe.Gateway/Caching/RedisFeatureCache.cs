using StackExchange.Redis;

namespace RsMoe.Gateway.Caching;

/// <summary>
/// Features in Redis with a TTL, shared by every gateway replica. Each call is bounded by
/// <see cref="CacheOptions.RedisTimeout"/>; a slow, failing or unreachable Redis is bypassed and counted, never
/// allowed to fail or stall a request. The connection is made in the background and retried by the client.
/// </summary>
public sealed class RedisFeatureCache : IFeatureCache, IDisposable
{
    readonly CacheOptions _options;
    readonly ILogger<RedisFeatureCache> _logger;
    readonly Task<ConnectionMultiplexer?> _connection;

    public string Kind => "redis";

    public RedisFeatureCache(CacheOptions options, ILogger<RedisFeatureCache> logger)
    {
        _options = options;
        _logger = logger;
        var config = ConfigurationOptions.Parse(options.Redis!);
        config.AbortOnConnectFail = false;   // start without Redis; the client reconnects when it comes
        config.ConnectTimeout = (int)Math.Max(1000, options.RedisTimeout.TotalMilliseconds * 4);
        config.SyncTimeout = config.AsyncTimeout = (int)Math.Max(50, options.RedisTimeout.TotalMilliseconds);
        _connection = Task.Run(async () =>
        {
            try
            {
                return await ConnectionMultiplexer.ConnectAsync(config);
            }
            catch (Exception e)
            {
                logger.LogWarning("Redis at {Endpoints} unusable, features will not be cached: {Message}", string.Join(",", config.EndPoints), e.Message);
                return null;
            }
        });
    }

    async Task<IDatabase?> Database()
    {
        if (!_connection.IsCompleted) return null;   // still connecting: do not make a request wait for it
        var connection = await _connection;
        return connection is { IsConnected: true } ? connection.GetDatabase() : null;
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            var db = await Database();
            if (db is null) { CacheMetrics.Bypass(Kind, "get"); return null; }
            var value = await db.StringGetAsync(key).WaitAsync(_options.RedisTimeout, cancellationToken);
            return value.IsNull ? null : (byte[]?)value;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            CacheMetrics.Bypass(Kind, "get");
            _logger.LogWarning("Redis get bypassed: {Message}", e.Message);
            return null;
        }
    }

    public async Task SetAsync(string key, byte[] value, CancellationToken cancellationToken)
    {
        try
        {
            var db = await Database();
            if (db is null) { CacheMetrics.Bypass(Kind, "set"); return; }
            await db.StringSetAsync(key, value, _options.Ttl).WaitAsync(_options.RedisTimeout, cancellationToken);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            CacheMetrics.Bypass(Kind, "set");
            _logger.LogWarning("Redis set bypassed: {Message}", e.Message);
        }
    }

    public void Dispose()
    {
        if (_connection.IsCompletedSuccessfully) _connection.Result?.Dispose();
    }
}
