extern alias ImageEncoderHost;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using RsMoe.Contracts.V1;
using RsMoe.Services.FunctionalTests.Support;
using ImageEncoderProgram = ImageEncoderHost::Program;

namespace RsMoe.Services.FunctionalTests;

public sealed class ImageEncoderServiceTests : IClassFixture<DefaultModelFixture>, IDisposable
{
    readonly DefaultModel _reference;
    readonly ServiceHost<ImageEncoderProgram> _host = new(new Dictionary<string, string> { ["ImageEncoder:MaxImageBytes"] = "2000000" });
    ImageEncoder.ImageEncoderClient Client => new(_host.Channel);

    public ImageEncoderServiceTests(DefaultModelFixture fixture) => _reference = fixture.Model;

    [Fact]
    public async Task Visual_tokens_equal_the_encoder_run_in_process()
    {
        var response = await Client.EncodeAsync(new EncodeImageRequest { Image = ByteString.CopyFrom(File.ReadAllBytes(DefaultModel.Sample("harbor"))) });
        Assert.Equal([1L, 49, 512], response.VisualTokens.Shape);
        Assert.Equal(DType.Float32, response.VisualTokens.Dtype);
        Assert.StartsWith("resnet18-", response.EncoderIdentity);
        Assert.Equal(_reference.VisualTokens("harbor"), DefaultModel.Values(response.VisualTokens));
    }

    [Fact]
    public async Task Concurrent_requests_are_batched_and_each_gets_its_own_tokens()
    {
        string[] samples = ["airport", "forest", "harbor", "farmland", "industrial", "residential", "parking-lot", "airport"];
        var calls = samples.Select(s => Client.EncodeAsync(new EncodeImageRequest { Image = ByteString.CopyFrom(File.ReadAllBytes(DefaultModel.Sample(s))) }).ResponseAsync).ToList();
        var responses = await Task.WhenAll(calls);
        for (int i = 0; i < samples.Length; i++)
            Assert.Equal(_reference.VisualTokens(samples[i]), DefaultModel.Values(responses[i].VisualTokens));
    }

    public static TheoryData<string, byte[], StatusCode> BadImages()
    {
        var png = File.ReadAllBytes(DefaultModel.Sample("harbor"));
        return new()
        {
            { "empty", [], StatusCode.InvalidArgument },
            { "text", "hello, this is not an image"u8.ToArray(), StatusCode.InvalidArgument },
            { "truncated PNG", png[..(png.Length / 3)], StatusCode.InvalidArgument },
            { "over the byte limit", [.. png, .. new byte[2_000_000]], StatusCode.ResourceExhausted },
            { "PNG claiming 100000×100000 pixels", WithPngSize(png, 100_000, 100_000), StatusCode.ResourceExhausted },
        };
    }

    [Theory]
    [MemberData(nameof(BadImages))]
    public async Task Bad_images_get_a_clear_status(string what, byte[] image, StatusCode expected)
    {
        var e = await Assert.ThrowsAsync<RpcException>(async () => await Client.EncodeAsync(new EncodeImageRequest { Image = ByteString.CopyFrom(image) }));
        Assert.True(expected == e.StatusCode, $"{what}: {e.StatusCode} {e.Status.Detail}");
        Assert.False(string.IsNullOrWhiteSpace(e.Status.Detail));
        Assert.DoesNotContain("   at ", e.Status.Detail);
    }

    [Fact]
    public async Task Health_and_info_report_the_encoder()
    {
        await _host.WaitReadyAsync();   // the backbone loaded and one blank image encoded
        var health = await new Health.HealthClient(_host.Channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        var info = await Client.InfoAsync(new ImageEncoderInfoRequest());
        Assert.Equal(512, info.TokenWidth);
        Assert.Equal(2_000_000, info.MaxImageBytes);
    }

    /// <summary>A real PNG whose header claims other dimensions (CRC left stale, as a crafted file has it): a decompression bomb.</summary>
    static byte[] WithPngSize(byte[] png, int width, int height)
    {
        var bytes = png.ToArray();
        BitConverter.GetBytes(width).Reverse().ToArray().CopyTo(bytes, 16);
        BitConverter.GetBytes(height).Reverse().ToArray().CopyTo(bytes, 20);
        return bytes;
    }

    public void Dispose() => _host.Dispose();
}
