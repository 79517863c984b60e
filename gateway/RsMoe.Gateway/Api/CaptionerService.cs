using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Pipeline;

namespace RsMoe.Gateway.Api;

/// <summary>The public gRPC API. The caller's deadline (or the gateway's request timeout) bounds every downstream call.</summary>
internal sealed class CaptionerService(CaptionPipeline pipeline, ExpertDirectory experts, GatewayOptions options) : Captioner.CaptionerBase
{
    DateTime Deadline(ServerCallContext context)
    {
        var own = DateTime.UtcNow + options.RequestTimeout;
        return context.Deadline < own ? context.Deadline : own;
    }

    public override Task<CaptionResponse> Caption(CaptionRequest request, ServerCallContext context) =>
        pipeline.CaptionAsync(request.Image, request.Instruction, Deadline(context), context.CancellationToken);

    public override async Task StreamCaption(CaptionRequest request, IServerStreamWriter<CaptionEvent> responseStream, ServerCallContext context)
    {
        await foreach (var e in pipeline.StreamCaptionAsync(request.Image, request.Instruction, Deadline(context), context.CancellationToken))
            await responseStream.WriteAsync(e, context.CancellationToken);
    }

    public override Task<AskResponse> Ask(AskRequest request, ServerCallContext context) =>
        pipeline.AskAsync(request.Image, request.Question, Deadline(context), context.CancellationToken);

    public override Task<ListExpertsResponse> ListExperts(ListExpertsRequest request, ServerCallContext context) =>
        experts.ListAsync(context.CancellationToken);

    /// <summary>Operators only (<see cref="Security.ApiKeyMiddleware"/>).</summary>
    public override Task<ReloadExpertResponse> ReloadExpert(ReloadExpertRequest request, ServerCallContext context) =>
        experts.ReloadAsync(request, context.CancellationToken);
}
