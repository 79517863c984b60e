using RsMoe.Model.Generation;
using RsMoe.ServiceDefaults;
using RsMoe.ServiceDefaults.Health;

namespace RsMoe.Expert;

public static class ExpertExtensions
{
    public static WebApplicationBuilder AddExpert(this WebApplicationBuilder builder)
    {
        var options = ValidatedOptions.Bind<ExpertOptions>(builder.Configuration, ExpertOptions.Section);
        if (string.IsNullOrWhiteSpace(options.Role)) throw new InvalidOperationException("Expert:Role must name the aspect this expert writes (theme, objects or relationships)");
        var service = ValidatedOptions.Bind<ServiceOptions>(builder.Configuration, ServiceOptions.Section);
        service.MaxReceiveMessageBytes = options.MaxReceiveMessageBytes;
        builder.Services.AddSingleton(options);
        builder.Services.AddGrpcDefaults(service);
        builder.Services.AddSingleton<ExpertSlot>();
        // Ready once the weights are loaded and a prefill and a decode step have run after a prefix of the router's length.
        builder.Services.AddWarmup("expert", async (services, cancellationToken) =>
        {
            var model = services.GetRequiredService<ExpertSlot>().Current;
            long width = model.Lm.Config.HiddenSize;
            await model.GenerateAsync(new float[model.PrefixPositions * width], [model.PrefixPositions, width], "warm-up",
                new GenerationOptions { MaxNewTokens = 2, MinNewTokens = 2 }, cancellationToken: cancellationToken);
        });
        return builder;
    }

    public static WebApplication MapExpert(this WebApplication app)
    {
        app.MapGrpcService<ExpertService>();
        return app;
    }
}
