using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Backends;
using ExpertClient = RsMoe.Contracts.V1.Expert.ExpertClient;

namespace RsMoe.Gateway.Pipeline;

/// <summary>
/// Refuses, before any image is encoded, an instruction or question longer than the experts' context: an expert
/// counts its tokens with its own tokenizer (a cheap call, no model pass; every expert shares the base model's
/// tokenizer). When no expert can count, the check is left to the experts themselves. A text that cannot exceed the
/// limit is not sent to be counted: every tokenizer here makes at most one token per UTF-8 byte, plus BOS and a
/// SentencePiece word-start mark, so once the limit is known most requests (the default instruction among them) cost
/// no extra call.
/// </summary>
public sealed class PromptLimits(BackendChannels backends, ExpertRoster roster, ILogger<PromptLimits> logger)
{
    static readonly TimeSpan CountTimeout = TimeSpan.FromSeconds(2);
    const int MostTokensBeyondBytes = 2;
    volatile int _knownLimit;   // 0 until an expert has said

    internal async Task CheckAsync(string text, string what, DateTime deadline, CancellationToken cancellationToken)
    {
        if (_knownLimit > 0 && System.Text.Encoding.UTF8.GetByteCount(text) + MostTokensBeyondBytes <= _knownLimit) return;
        CountTokensResponse counted;
        try
        {
            using var call = backends.Pick(CaptionPipeline.ExpertCluster(roster.Roles[0]));
            counted = await new ExpertClient(call.Channel).CountTokensAsync(new CountTokensRequest { Text = text },
                deadline: StageDeadline.Of(deadline, CountTimeout).At, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode is not StatusCode.InvalidArgument && !cancellationToken.IsCancellationRequested)
        {
            logger.LogDebug("Token count unavailable ({Status}); the experts check the {What} themselves", e.StatusCode, what);
            return;
        }
        _knownLimit = counted.MaxPromptTokens;
        if (counted.Tokens > counted.MaxPromptTokens)
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"the {what} has {counted.Tokens} tokens; the experts accept at most {counted.MaxPromptTokens}"));
    }
}
