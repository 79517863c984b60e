using RsMoe.ServiceDefaults;

namespace RsMoe.Expert;

public static class ExpertExtensions
{
    public static WebApplicationBuilder AddExpert(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(ExpertOptions.Section).Get<ExpertOptions>() ?? new ExpertOptions();
        if (string.IsNullOrWhiteSpace(options.Role)) throw new InvalidOperationException("Expert:Role must name the aspect this expert writes (theme, objects or relationships)");
        var service = builder.Configuration.GetSection(ServiceOptions.Section).Get<ServiceOptions>() ?? new ServiceOptions();
        service.MaxReceiveMessageBytes = options.MaxReceiveMessageBytes;
        builder.Services.AddSingleton(options);
        builder.Services.AddGrpcDefaults(service);
        builder.Services.AddSingleton<ExpertSlot>();
        return builder;
    }

    public static WebApplication MapExpert(this WebApplication app)
    {
        app.Services.GetRequiredService<ExpertSlot>();   // load the weights before the first health probe says serving
        app.MapGrpcService<ExpertService>();
        return app;
    }
}
