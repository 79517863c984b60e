using System.Security.Cryptography;
using Google.Protobuf;
using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Backends;
using RsMoe.Gateway.Caching;
using ImageEncoderClient = RsMoe.Contracts.V1.ImageEncoder.ImageEncoderClient;

namespace RsMoe.Gateway.Pipeline;

/// <summary>
/// Visual tokens for an image: from the feature cache when this image was seen by this encoder, else from the image
/// encoder (then cached). The key is the image bytes' SHA-256 and the encoder's identity, so a new backbone never
/// reads another's features. Concurrent misses for the same image share one encoder call (no stampede): the call runs
/// under the image-encoder stage's own timeout, not any one caller's cancellation, and each caller waits for it within
/// its own deadline.
/// </summary>
public sealed class VisualFeatures(BackendChannels backends, ResilientCalls calls, IFeatureCache cache, GatewayOptions options, CacheOptions cacheOptions,
    ILogger<VisualFeatures> logger)
{
    public const string Cluster = "image-encoder";
    static readonly System.Diagnostics.Metrics.Meter Meter = new("RsMoe.Gateway.Features");
    static readonly System.Diagnostics.Metrics.Counter<long> Encodes = Meter.CreateCounter<long>("rsmoe.gateway.image_encodes", description: "Image encoder calls (concurrent misses for one image share one)");
    volatile string? _encoderIdentity;
    long _identityCheckedAt = long.MinValue / 2;   // Environment.TickCount64 of the last Info answer
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<EncodeImageResponse>>> _encoding = new();

    internal sealed record Result(Tensor Tokens, CacheOutcome Cache, double LookupMs, double EncodeMs);

    internal async Task<Result> GetAsync(ByteString image, DateTime deadline, CancellationToken cancellationToken)
    {
        if (image.Length == 0) throw new RpcException(new Status(StatusCode.InvalidArgument, "the image is empty"));
        if (image.Length > options.MaxImageBytes)
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"the image is {image.Length / 1048576.0:F1} MiB; at most {options.MaxImageBytes / 1048576.0:F0} MiB is accepted"));
        string digest = Digest(image.Span);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // The encoder's identity is asked again before a lookup (at most every Cache:IdentityMaxAge), so features of an
        // encoder that was swapped out are never served; while no encoder answers, the last identity seen stands.
        string? identity = Environment.TickCount64 - Interlocked.Read(ref _identityCheckedAt) <= cacheOptions.IdentityMaxAge.TotalMilliseconds
            ? _encoderIdentity : await TryLearnIdentityAsync(deadline, cancellationToken) ?? _encoderIdentity;
        if (identity is not null)
        {
            var cached = await cache.GetAsync(CacheKey(identity, digest), cancellationToken);
            if (cached is not null)
            {
                try
                {
                    var tokens = Tensor.Parser.ParseFrom(cached);
                    CacheMetrics.Hit(cache.Kind);
                    return new Result(tokens, CacheOutcome.Hit, clock.Elapsed.TotalMilliseconds, 0);
                }
                catch (InvalidProtocolBufferException)
                {
                    logger.LogWarning("Unreadable cache entry for {Digest} ignored", digest);
                }
            }
        }
        double lookupMs = clock.Elapsed.TotalMilliseconds;
        CacheMetrics.Miss(cache.Kind);
        clock.Restart();
        EncodeImageResponse encoded;
        var shared = _encoding.GetOrAdd(digest, _ => new Lazy<Task<EncodeImageResponse>>(() => EncodeOnceAsync(image, digest)));
        try
        {
            encoded = await shared.Value.WaitAsync(StageDeadline.Of(deadline, options.ImageEncoderTimeout).At - DateTime.UtcNow is { Ticks: > 0 } left ? left : TimeSpan.Zero, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"{Cluster} did not answer in time"));
        }
        double encodeMs = clock.Elapsed.TotalMilliseconds;
        return new Result(encoded.VisualTokens, CacheOutcome.Miss, lookupMs, encodeMs);
    }

    /// <summary>The one encoder call for an image that concurrent misses share; it caches what it gets, then leaves the table.</summary>
    async Task<EncodeImageResponse> EncodeOnceAsync(ByteString image, string digest)
    {
        try
        {
            var stageDeadline = StageDeadline.Of(DateTime.MaxValue, options.ImageEncoderTimeout);
            EncodeImageResponse encoded;
            try
            {
                encoded = await calls.CallAsync(Cluster, stageDeadline, (channel, _) => new ImageEncoderClient(channel).EncodeAsync(
                    new EncodeImageRequest { Image = image }, deadline: stageDeadline.At).ResponseAsync, CancellationToken.None);
            }
            catch (RpcException e)
            {
                throw BackendFailure.Explain(Cluster, e);
            }
            Encodes.Add(1);
            _encoderIdentity = encoded.EncoderIdentity;
            await cache.SetAsync(CacheKey(encoded.EncoderIdentity, digest), encoded.VisualTokens.ToByteArray(), CancellationToken.None);
            return encoded;
        }
        finally
        {
            _encoding.TryRemove(digest, out _);
        }
    }

    async Task<string?> TryLearnIdentityAsync(DateTime deadline, CancellationToken cancellationToken)
    {
        try
        {
            using var call = backends.Pick(Cluster);
            var info = await new ImageEncoderClient(call.Channel).InfoAsync(new ImageEncoderInfoRequest(),
                deadline: StageDeadline.Of(deadline, TimeSpan.FromSeconds(2)).At, cancellationToken: cancellationToken);
            Interlocked.Exchange(ref _identityCheckedAt, Environment.TickCount64);
            return _encoderIdentity = info.EncoderIdentity;
        }
        catch (RpcException)
        {
            return null;   // the encode call that follows reports the encoder's state
        }
    }

    /// <summary>An image's identity in the cache: the SHA-256 of its bytes, lower-case hex.</summary>
    public static string Digest(ReadOnlySpan<byte> image) => Convert.ToHexString(SHA256.HashData(image)).ToLowerInvariant();

    /// <summary>
    /// The cache key of an image's features from one encoder. Redis is shared by every gateway replica and outlives
    /// deployments, so the format is versioned (<c>v1</c>): a change to it or to the value's encoding takes a new version.
    /// </summary>
    public static string CacheKey(string encoderIdentity, string digest) => $"rsmoe:v1:features:{encoderIdentity}:{digest}";
}
