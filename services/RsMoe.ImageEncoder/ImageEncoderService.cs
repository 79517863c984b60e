using Google.Protobuf;
using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Data.Images;
using RsMoe.ServiceDefaults.Tensors;

namespace RsMoe.ImageEncoder;

/// <summary>Image bytes in, visual tokens out (float32 on the wire, exact).</summary>
internal sealed class ImageEncoderService(VisualTokenizer tokenizer, EncoderBatcher batcher, ImageEncoderOptions options) : RsMoe.Contracts.V1.ImageEncoder.ImageEncoderBase
{
    public override async Task<EncodeImageResponse> Encode(EncodeImageRequest request, ServerCallContext context)
    {
        PixelTensor pixels;
        try
        {
            pixels = tokenizer.Prepare(request.Image.ToByteArray());
        }
        catch (ImageRejectedException e)
        {
            var code = e.Problem is ImageProblem.TooLarge or ImageProblem.TooManyPixels ? StatusCode.ResourceExhausted : StatusCode.InvalidArgument;
            throw new RpcException(new Status(code, e.Message));
        }
        var (tokens, count) = await batcher.EncodeAsync(pixels, context.CancellationToken);
        var response = new EncodeImageResponse
        {
            EncoderIdentity = tokenizer.Identity,
            VisualTokens = new Tensor { Dtype = DType.Float32, Data = ByteString.CopyFrom(TensorBytes.Encode(tokens, WireDType.Float32)) },
        };
        response.VisualTokens.Shape.Add([1, count, tokenizer.TokenWidth]);
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
