using Google.Protobuf;
using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Data.Images;

namespace RsMoe.ImageEncoder;

/// <summary>Image bytes in, visual tokens out (float32 on the wire, exact).</summary>
internal sealed class ImageEncoderService(VisualTokenizer tokenizer, EncoderBatcher batcher, ImageEncoderOptions options, ILogger<ImageEncoderService> logger)
    : RsMoe.Contracts.V1.ImageEncoder.ImageEncoderBase
{
    /// <summary>Longer than this, a stage of one request is logged as a warning (decoding, or waiting for and running the backbone).</summary>
    static readonly TimeSpan Slow = TimeSpan.FromSeconds(2);

    public override async Task<EncodeImageResponse> Encode(EncodeImageRequest request, ServerCallContext context)
    {
        PixelTensor pixels;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            pixels = tokenizer.Prepare(request.Image.ToByteArray());
            if (clock.Elapsed > Slow) logger.LogWarning("Decoding a {Bytes}-byte image took {Ms:F0} ms", request.Image.Length, clock.Elapsed.TotalMilliseconds);
        }
        catch (ImageRejectedException e)
        {
            var code = e.Problem is ImageProblem.TooLarge or ImageProblem.TooManyPixels ? StatusCode.ResourceExhausted : StatusCode.InvalidArgument;
            throw new RpcException(new Status(code, e.Message));
        }
        clock.Restart();
        var (tokens, count) = await batcher.EncodeAsync(pixels, context.CancellationToken);
        if (clock.Elapsed > Slow) logger.LogWarning("A {Height}×{Width} image waited for and ran through the backbone for {Ms:F0} ms", pixels.Height, pixels.Width, clock.Elapsed.TotalMilliseconds);
        var response = new EncodeImageResponse
        {
            EncoderIdentity = tokenizer.Identity,
            VisualTokens = Tensor.FromFloats(tokens, [1, count, tokenizer.TokenWidth]),
        };
        return response;
    }

    public override Task<ImageEncoderInfo> Info(ImageEncoderInfoRequest request, ServerCallContext context) => Task.FromResult(new ImageEncoderInfo
    {
        EncoderIdentity = tokenizer.Identity,
        TokenWidth = tokenizer.TokenWidth,
        Device = tokenizer.Device.ToString(),
        MaxImageBytes = options.MaxImageBytes,
    });
}
