using Google.Protobuf;
using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Model.Moe;

namespace RsMoe.VlmEncoder;

/// <summary>Visual tokens and an instruction in; each expert's prefix and the gate out.</summary>
internal sealed class VlmEncoderService(RoutingEncoder encoder, VlmEncoderOptions options) : RsMoe.Contracts.V1.VlmEncoder.VlmEncoderBase
{
    public override Task<RouteResponse> Route(RouteRequest request, ServerCallContext context)
    {
        if (request.VisualTokens is null) throw new ArgumentException("visual_tokens is required");
        if (request.Instruction.Length > options.MaxInstructionChars)
            throw new ArgumentException($"the instruction has {request.Instruction.Length} characters; at most {options.MaxInstructionChars} are accepted");
        var shape = request.VisualTokens.ValidatedShape("visual_tokens");
        encoder.ValidateVisualTokens(shape);
        var tokens = request.VisualTokens.ToFloats();
        context.CancellationToken.ThrowIfCancellationRequested();
        var routing = encoder.Route(tokens, shape, request.Instruction);
        var response = new RouteResponse();
        response.Gate.Add(routing.Gate);
        for (int i = 0; i < routing.Roles.Count; i++)
        {
            var prefix = Tensor.FromFloats(routing.Prefixes[i], [routing.PrefixLength, routing.HiddenSize]);
            response.Prefixes.Add(new ExpertPrefix { Role = routing.Roles[i], Prefix = prefix });
        }
        return Task.FromResult(response);
    }

    public override Task<VlmEncoderInfo> Info(VlmEncoderInfoRequest request, ServerCallContext context)
    {
        var info = new VlmEncoderInfo
        {
            VisualTokenWidth = encoder.Config.VisionHiddenSize,
            LlmHiddenSize = encoder.Config.Llm.HiddenSize,
            CheckpointVersion = encoder.Version,
            Device = encoder.Device.ToString(),
        };
        info.ExpertRoles.Add(encoder.Config.Router.ExpertRoles);
        return Task.FromResult(info);
    }
}
