using RsMoe.Data.Images;
using RsMoe.ServiceDefaults;
using RsMoe.ServiceDefaults.Health;

namespace RsMoe.ImageEncoder;

public static class ImageEncoderExtensions
{
    public static WebApplicationBuilder AddImageEncoder(this WebApplicationBuilder builder)
    {
        var options = ValidatedOptions.Bind<ImageEncoderOptions>(builder.Configuration, ImageEncoderOptions.Section);
        var service = ValidatedOptions.Bind<ServiceOptions>(builder.Configuration, ServiceOptions.Section);
        // An image message is the image plus a few bytes of framing; nothing larger is accepted.
        service.MaxReceiveMessageBytes = (int)Math.Min(int.MaxValue, options.MaxImageBytes + 64 * 1024);
        service.MaxSendMessageBytes = 64 << 20;
        builder.Services.AddSingleton(options);
        builder.Services.AddGrpcDefaults(service);
        builder.Services.AddSingleton<VisualTokenizer>();
        builder.Services.AddSingleton<EncoderBatcher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EncoderBatcher>());
        // Ready once the backbone is loaded and has encoded one (blank) image through the batcher.
        builder.Services.AddWarmup("image-encoder", async (services, cancellationToken) =>
        {
            var size = services.GetRequiredService<VisualTokenizer>().Preprocessing;
            int height = size.ShortestEdge ?? size.Height, width = size.ShortestEdge ?? size.Width;
            await services.GetRequiredService<EncoderBatcher>().EncodeAsync(new PixelTensor(new float[3 * height * width], 3, height, width), cancellationToken);
        });
        return builder;
    }
}
