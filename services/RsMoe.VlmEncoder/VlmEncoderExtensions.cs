using RsMoe.Model;
using RsMoe.Model.Moe;
using RsMoe.ServiceDefaults;
using RsMoe.ServiceDefaults.Health;

namespace RsMoe.VlmEncoder;

public static class VlmEncoderExtensions
{
    public static WebApplicationBuilder AddVlmEncoder(this WebApplicationBuilder builder)
    {
        var options = ValidatedOptions.Bind<VlmEncoderOptions>(builder.Configuration, VlmEncoderOptions.Section);
        var service = ValidatedOptions.Bind<ServiceOptions>(builder.Configuration, ServiceOptions.Section);
        service.MaxReceiveMessageBytes = options.MaxReceiveMessageBytes;
        builder.Services.AddSingleton(options);
        builder.Services.AddGrpcDefaults(service);
        builder.Services.AddSingleton(sp =>
        {
            var encoder = RoutingEncoder.Load(ModelLocator.Resolve(options.ModelDirectory), TorchRuntime.ResolveDevice(options.Device));
            sp.GetRequiredService<ILogger<VlmEncoderService>>().LogInformation("VLM encoder {Version} routes to {Roles} on {Device}",
                encoder.Version, string.Join(", ", encoder.Config.Router.ExpertRoles), encoder.Device);
            return encoder;
        });
        // Loaded at start, not on the first request, and ready once one routing pass has run.
        builder.Services.AddWarmup("vlm-encoder", (services, _) =>
        {
            var encoder = services.GetRequiredService<RoutingEncoder>();
            encoder.Route(new float[encoder.Config.VisionHiddenSize], [1, 1, encoder.Config.VisionHiddenSize], "warm-up");
            return Task.CompletedTask;
        });
        return builder;
    }
}
