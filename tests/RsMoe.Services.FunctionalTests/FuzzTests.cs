extern alias ImageEncoderHost;
extern alias VlmEncoderHost;
using Google.Protobuf;
using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Data.Images;
using RsMoe.Services.FunctionalTests.Support;
using Xunit.Abstractions;
using ImageEncoderProgram = ImageEncoderHost::Program;
using VlmEncoderProgram = VlmEncoderHost::Program;

namespace RsMoe.Services.FunctionalTests;

/// <summary>
/// Bounded fuzzing with fixed seeds: thousands of mutated images through the decoder, hundreds through the image
/// encoder service, and malformed tensors into the VLM encoder. Every input gets a clear answer; nothing crashes.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    static readonly StatusCode[] ClearAnswers = [StatusCode.OK, StatusCode.InvalidArgument, StatusCode.ResourceExhausted];

    static List<byte[]> Seeds()
    {
        string shared = SharedData();
        return
        [
            File.ReadAllBytes(DefaultModel.Sample("harbor")),                                   // PNG
            File.ReadAllBytes(Path.Combine(shared, "rsscn7", "images", "aGrass", "a001.jpg")),  // JPEG
            File.ReadAllBytes(Path.Combine(shared, "images", "ucm", "1.tif")),                   // TIFF
        ];
    }

    static string SharedData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RsMoe.Micro.sln"))) return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
        throw new DirectoryNotFoundException("../shared/data");
    }

    [Fact]
    public void Thousands_of_mutated_images_are_decoded_or_refused_with_a_reason()
    {
        var seeds = Seeds();
        var mutator = new Mutator(20261128);
        int decoded = 0, refused = 0;
        var reasons = new Dictionary<ImageProblem, int>();
        var limits = new ImageLimits { MaxBytes = 8 << 20, MaxPixels = 4096L * 4096 };
        const int Count = 3000;
        for (int i = 0; i < Count; i++)
        {
            var image = mutator.Mutate(seeds[i % seeds.Count]);
            try
            {
                var pixels = ImageDecoder.Preprocess(image, ImagePreprocessing.ResNet18Cntk, limits);
                Assert.Equal(3 * 224 * 224, pixels.Data.Length);
                Assert.All(pixels.Data.Take(64), v => Assert.True(float.IsFinite(v)));
                decoded++;
            }
            catch (ImageRejectedException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                reasons[e.Problem] = reasons.GetValueOrDefault(e.Problem) + 1;
                refused++;
            }
        }
        output.WriteLine($"{Count} mutated images: {decoded} decoded, {refused} refused ({string.Join(", ", reasons.Select(r => $"{r.Key} {r.Value}"))})");
        Assert.Equal(Count, decoded + refused);
        Assert.True(refused > 0 && decoded > 0);
    }

    [Fact]
    public async Task Hundreds_of_mutated_images_through_the_image_encoder_get_clear_statuses()
    {
        using var host = new ServiceHost<ImageEncoderProgram>();
        var client = new ImageEncoder.ImageEncoderClient(host.Channel);
        var seeds = Seeds();
        var mutator = new Mutator(7);
        var statuses = new Dictionary<StatusCode, int>();
        const int Count = 400;
        for (int i = 0; i < Count; i++)
        {
            var image = mutator.Mutate(seeds[i % seeds.Count]);
            StatusCode code;
            try
            {
                var response = await client.EncodeAsync(new EncodeImageRequest { Image = ByteString.CopyFrom(image) });
                Assert.Equal(49 * 512 * 4, response.VisualTokens.Data.Length);
                code = StatusCode.OK;
            }
            catch (RpcException e)
            {
                code = e.StatusCode;
                Assert.DoesNotContain("   at ", e.Status.Detail);
            }
            Assert.Contains(code, ClearAnswers);
            statuses[code] = statuses.GetValueOrDefault(code) + 1;
        }
        output.WriteLine($"{Count} mutated images via gRPC: {string.Join(", ", statuses.Select(s => $"{s.Key} {s.Value}"))}");
        // Still serving after all that.
        var healthy = await client.EncodeAsync(new EncodeImageRequest { Image = ByteString.CopyFrom(seeds[0]) });
        Assert.Equal(49 * 512 * 4, healthy.VisualTokens.Data.Length);
    }

    [Fact]
    public async Task Malformed_tensors_into_the_vlm_encoder_are_invalid_arguments()
    {
        using var host = new ServiceHost<VlmEncoderProgram>();
        var client = new VlmEncoder.VlmEncoderClient(host.Channel);
        var random = new Random(11);
        var statuses = new Dictionary<StatusCode, int>();
        const int Count = 1000;
        for (int i = 0; i < Count; i++)
        {
            // Shapes, dtypes and byte counts that mostly disagree with each other or with the model.
            var shape = Enumerable.Range(0, random.Next(5)).Select(_ => (long)(random.Next(4) switch { 0 => 1, 1 => 49, 2 => 512, _ => random.Next(-3, 600) })).ToArray();
            int bytes = random.Next(3) == 0 ? (int)Math.Clamp(shape.Aggregate(4L, (a, b) => a * Math.Max(b, 0)), 0, 1 << 20) : random.Next(0, 200_000);
            var tensor = new RsMoe.Contracts.V1.Tensor { Dtype = (DType)random.Next(-1, 5), Data = ByteString.CopyFrom(new byte[bytes]) };
            tensor.Shape.Add(shape);
            var instruction = new string(Enumerable.Range(0, random.Next(3000)).Select(_ => (char)random.Next(32, 0x2FFF)).ToArray());
            StatusCode code;
            try
            {
                await client.RouteAsync(new RouteRequest { VisualTokens = tensor, Instruction = instruction });
                code = StatusCode.OK;
            }
            catch (RpcException e)
            {
                code = e.StatusCode;
            }
            Assert.True(code is StatusCode.OK or StatusCode.InvalidArgument, $"case {i}: {code} for shape [{string.Join(",", shape)}], {bytes} bytes");
            statuses[code] = statuses.GetValueOrDefault(code) + 1;
        }
        output.WriteLine($"{Count} malformed tensors: {string.Join(", ", statuses.Select(s => $"{s.Key} {s.Value}"))}");
    }
}
