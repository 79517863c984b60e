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
/// reads another's features.
/// </summary>
public sealed class VisualFeatures(BackendChannels backends, ResilientCalls calls, IFeatureCache cache, GatewayOptions options, ILogger<VisualFeatures> logger)
{
    public const string Cluster = "image-encoder";
    volatile string? _encoderIdentity;

    internal sealed record Result(Tensor Tokens, CacheOutcome Cache, double LookupMs, double EncodeMs);

    internal async Task<Result> GetAsync(ByteString image, DateTime deadline, CancellationToken cancellationToken)
    {
        if (image.Length == 0) throw new RpcException(new Status(StatusCode.InvalidArgument, "the image is empty"));
        if (image.Length > options.MaxImageBytes)
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"the image is {image.Length / 1048576.0:F1} MiB; at most {options.MaxImageBytes / 1048576.0:F0} MiB is accepted"));
        string digest = Convert.ToHexString(SHA256.HashData(image.Span)).ToLowerInvariant();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string? identity = _encoderIdentity ?? await TryLearnIdentityAsync(deadline, cancellationToken);
        if (identity is not null)
        {
            var cached = await cache.GetAsync(Key(identity, digest), cancellationToken);
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
        try
        {
            var stageDeadline = StageDeadline.Of(deadline, options.ImageEncoderTimeout);
            encoded = await calls.CallAsync(Cluster, stageDeadline, (channel, _) => new ImageEncoderClient(channel).EncodeAsync(
                new EncodeImageRequest { Image = image }, deadline: stageDeadline.At, cancellationToken: cancellationToken).ResponseAsync, cancellationToken);
        }
        catch (RpcException e)
        {
            throw BackendFailure.Explain(Cluster, e);
        }
        double encodeMs = clock.Elapsed.TotalMilliseconds;
        _encoderIdentity = encoded.EncoderIdentity;
        await cache.SetAsync(Key(encoded.EncoderIdentity, digest), encoded.VisualTokens.ToByteArray(), cancellationToken);
        return new Result(encoded.VisualTokens, CacheOutcome.Miss, lookupMs, encodeMs);
    }

    async Task<string?> TryLearnIdentityAsync(DateTime deadline, CancellationToken cancellationToken)
    {
        try
        {
            using var call = backends.Pick(Cluster);
            var info = await new ImageEncoderClient(call.Channel).InfoAsync(new ImageEncoderInfoRequest(),
                deadline: StageDeadline.Of(deadline, TimeSpan.FromSeconds(2)).At, cancellationToken: cancellationToken);
            return _encoderIdentity = info.EncoderIdentity;
        }
        catch (RpcException)
        {
            return null;   // the encode call that follows reports the encoder's state
        }
    }

    static string Key(string identity, string digest) => $"rsmoe:v1:features:{identity}:{digest}";
}
