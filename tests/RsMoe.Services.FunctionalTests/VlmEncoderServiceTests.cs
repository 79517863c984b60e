extern alias VlmEncoderHost;
using Google.Protobuf;
using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Services.FunctionalTests.Support;
using VlmEncoderProgram = VlmEncoderHost::Program;

namespace RsMoe.Services.FunctionalTests;

public sealed class VlmEncoderServiceTests(DefaultModelFixture fixture) : IClassFixture<DefaultModelFixture>, IDisposable
{
    readonly ServiceHost<VlmEncoderProgram> _host = new();
    VlmEncoder.VlmEncoderClient Client => new(_host.Channel);

    [Fact]
    public async Task Prefixes_and_gate_equal_the_model_run_in_process()
    {
        var tokens = fixture.Model.VisualTokens("airport");
        const string instruction = "Describe this image in detail.";
        var response = await Client.RouteAsync(new RouteRequest { VisualTokens = DefaultModel.Wire(tokens, 1, 49, 512), Instruction = instruction });

        var model = fixture.Model.Model;
        using var encoded = model.Encode(TorchSharp.torch.tensor(tokens, [1, 49, 512]), [instruction]);
        var gate = encoded.Routing.Gate()[0].to_type(TorchSharp.torch.ScalarType.Float64).data<double>().ToArray();
        Assert.Equal(["theme", "objects", "relationships"], response.Prefixes.Select(p => p.Role));
        Assert.Equal(gate, response.Gate.ToArray());
        Assert.Equal(1.0, response.Gate.Sum(), 6);
        for (int i = 0; i < 3; i++)
        {
            using var expected = encoded.ExpertPrefix(0, i);
            Assert.Equal(expected.shape, response.Prefixes[i].Prefix.Shape.ToArray());
            Assert.Equal(expected.data<float>().ToArray(), DefaultModel.Values(response.Prefixes[i].Prefix));
        }
    }

    [Fact]
    public async Task Half_precision_visual_tokens_are_accepted()
    {
        var tokens = fixture.Model.VisualTokens("forest");
        var half = RsMoe.Contracts.V1.Tensor.FromFloats(tokens, [1, 49, 512], DType.Float16);
        var response = await Client.RouteAsync(new RouteRequest { VisualTokens = half, Instruction = "What is this?" });
        Assert.Equal(3, response.Prefixes.Count);
    }

    public static TheoryData<string, long[], int, int> BadTensors() => new()
    {
        { "wrong width", [1, 49, 256], 49 * 256 * 4, (int)DType.Float32 },
        { "two images", [2, 49, 512], 2 * 49 * 512 * 4, (int)DType.Float32 },
        { "bytes do not match the shape", [1, 49, 512], 100, (int)DType.Float32 },
        { "no dtype", [1, 49, 512], 49 * 512 * 4, (int)DType.Unspecified },
        { "negative dimension", [1, -49, 512], 0, (int)DType.Float32 },
    };

    [Theory]
    [MemberData(nameof(BadTensors))]
    public async Task Tensors_that_do_not_fit_the_model_are_invalid_arguments(string what, long[] shape, int bytes, int dtype)
    {
        var tensor = new RsMoe.Contracts.V1.Tensor { Dtype = (DType)dtype, Data = ByteString.CopyFrom(new byte[bytes]) };
        tensor.Shape.Add(shape);
        var e = await Assert.ThrowsAsync<RpcException>(async () => await Client.RouteAsync(new RouteRequest { VisualTokens = tensor, Instruction = "x" }));
        Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"{what}: {e.StatusCode} {e.Status.Detail}");
        Assert.Contains("visual", e.Status.Detail);
    }

    [Fact]
    public async Task Missing_tokens_and_oversized_instructions_are_refused()
    {
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await Client.RouteAsync(new RouteRequest { Instruction = "x" }));
        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);
        var tokens = DefaultModel.Wire(new float[49 * 512], 1, 49, 512);
        var tooLong = await Assert.ThrowsAsync<RpcException>(async () => await Client.RouteAsync(new RouteRequest { VisualTokens = tokens, Instruction = new string('a', 5000) }));
        Assert.Equal(StatusCode.InvalidArgument, tooLong.StatusCode);
        Assert.Contains("2000", tooLong.Status.Detail);
    }

    [Fact]
    public async Task Info_names_the_roles_and_checkpoint()
    {
        var info = await Client.InfoAsync(new VlmEncoderInfoRequest());
        Assert.Equal(["theme", "objects", "relationships"], info.ExpertRoles);
        Assert.Equal(512, info.VisualTokenWidth);
        Assert.StartsWith("vlm-", info.CheckpointVersion);
    }

    public void Dispose() => _host.Dispose();
}
