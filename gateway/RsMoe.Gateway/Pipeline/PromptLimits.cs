using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Backends;
using ExpertClient = RsMoe.Contracts.V1.Expert.ExpertClient;

namespace RsMoe.Gateway.Pipeline;

/// <summary>
/// Refuses, before any image is encoded, an instruction or question longer than the experts' context: an expert
/// counts its tokens with its own tokenizer (a cheap call, no model pass; every expert shares the base model's
/// tokenizer). When no expert can count, the check is left to the experts themselves.
/// </summary>
public sealed class PromptLimits(BackendChannels backends, GatewayOptions options, ILogger<PromptLimits> logger)
{
    static readonly TimeSpan CountTimeout = TimeSpan.FromSeconds(2);

    internal async Task CheckAsync(string text, string what, DateTime deadline, CancellationToken cancellationToken)
    {
        CountTokensResponse counted;
        try
        {
            using var call = backends.Pick(CaptionPipeline.ExpertCluster(options.ExpertRoles[0]));
            counted = await new ExpertClient(call.Channel).CountTokensAsync(new CountTokensRequest { Text = text },
                deadline: StageDeadline.Of(deadline, CountTimeout).At, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode is not StatusCode.InvalidArgument && !cancellationToken.IsCancellationRequested)
        {
            logger.LogDebug("Token count unavailable ({Status}); the experts check the {What} themselves", e.StatusCode, what);
            return;
        }
        if (counted.Tokens > counted.MaxPromptTokens)
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"the {what} has {counted.Tokens} tokens; the experts accept at most {counted.MaxPromptTokens}"));
    }
}
