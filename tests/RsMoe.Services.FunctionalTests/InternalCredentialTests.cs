extern alias ImageEncoderHost;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using RsMoe.Contracts.V1;
using RsMoe.Services.FunctionalTests.Support;
using ImageEncoderProgram = ImageEncoderHost::Program;

namespace RsMoe.Services.FunctionalTests;

/// <summary>With an internal credential configured, a service serves only callers that present it (health stays open).</summary>
public sealed class InternalCredentialTests : IDisposable
{
    const string Credential = "internal-test-credential-5b7e";
    readonly ServiceHost<ImageEncoderProgram> _host = new(new Dictionary<string, string> { ["Internal:Credential"] = Credential });
    static EncodeImageRequest Request => new() { Image = ByteString.CopyFrom(File.ReadAllBytes(DefaultModel.Sample("harbor"))) };

    [Fact]
    public async Task Calls_without_or_with_a_wrong_credential_are_unauthenticated()
    {
        var client = new ImageEncoder.ImageEncoderClient(_host.Channel);
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () => await client.EncodeAsync(Request))).StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () =>
            await client.EncodeAsync(Request, new Metadata { { "x-rsmoe-internal", "wrong" } }))).StatusCode);
        var response = await client.EncodeAsync(Request, new Metadata { { "x-rsmoe-internal", Credential } });
        Assert.Equal([1L, 49, 512], response.VisualTokens.Shape);
    }

    [Fact]
    public async Task Health_checks_need_no_credential()
    {
        await _host.WaitReadyAsync();
        var health = await new Health.HealthClient(_host.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await _host.CreateHttpClient().GetAsync("/healthz")).StatusCode);
    }

    public void Dispose() => _host.Dispose();
}
