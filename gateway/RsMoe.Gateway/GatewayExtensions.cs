using Microsoft.Extensions.FileProviders;
using RsMoe.Gateway.Api;
using RsMoe.Gateway.Backends;
using RsMoe.Gateway.Caching;
using RsMoe.Gateway.Pipeline;
using RsMoe.Gateway.Scenes;
using RsMoe.Gateway.Security;
using RsMoe.ServiceDefaults.Grpc;
using Yarp.ReverseProxy.Transforms;
using RsMoe.ServiceDefaults;

namespace RsMoe.Gateway;

public static class GatewayExtensions
{
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder)
    {
        var options = ValidatedOptions.Bind<GatewayOptions>(builder.Configuration, GatewayOptions.Section);
        if (options.ExpertRoles.Count == 0) options.ExpertRoles.AddRange(RsMoe.Captions.CaptionPolicy.Roles);
        var cache = ValidatedOptions.Bind<CacheOptions>(builder.Configuration, CacheOptions.Section);
        var service = ValidatedOptions.Bind<ServiceOptions>(builder.Configuration, ServiceOptions.Section);
        service.MaxReceiveMessageBytes = (int)Math.Min(int.MaxValue, options.MaxImageBytes + 64 * 1024);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(cache);
        builder.Services.AddGrpcDefaults(service);
        // YARP owns the backends: clusters, replicas, active health checks and load balancing (section ReverseProxy).
        // A destination named by a host (a Kubernetes headless Service) expands to one destination per address it
        // resolves to, refreshed, so YARP health-checks and balances HTTP/2 across every replica.
        var @internal = ValidatedOptions.Bind<InternalOptions>(builder.Configuration, InternalOptions.Section);
        builder.Services.AddSingleton(ExpertClusters.AddTo(builder.Configuration));
        builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .AddDnsDestinationResolver(dns => dns.RefreshPeriod = options.DnsRefreshPeriod)
            .AddConfigFilter<ClusterDefaults>()
            .AddTransforms(transforms =>
            {
                // Pass-through calls reach the internal services as the gateway: its credential replaces whatever came in.
                transforms.AddRequestHeaderRemove(InternalOptions.Header);
                if (!string.IsNullOrEmpty(@internal.Credential)) transforms.AddRequestHeader(InternalOptions.Header, @internal.Credential, append: false);
                transforms.AddRequestHeaderRemove("x-api-key");
            });
        builder.Services.AddSingleton(ValidatedOptions.Bind<AccessOptions>(builder.Configuration, AccessOptions.Section));
        builder.Services.AddSingleton<BackendChannels>();
        builder.Services.AddSingleton(ValidatedOptions.Bind<ResilienceOptions>(builder.Configuration, ResilienceOptions.Section));
        builder.Services.AddSingleton<ResilientCalls>();
        builder.Services.AddSingleton(TimeProvider.System);
        if (string.IsNullOrWhiteSpace(cache.Redis)) builder.Services.AddSingleton<IFeatureCache, InProcessFeatureCache>();
        else builder.Services.AddSingleton<IFeatureCache, RedisFeatureCache>();
        builder.Services.AddSingleton<VisualFeatures>();
        builder.Services.AddSingleton<PromptLimits>();
        builder.Services.AddSingleton<CaptionPipeline>();
        builder.Services.AddSingleton<BatchCaptions>();
        builder.Services.AddSingleton<ExpertDirectory>();
        builder.Services.AddSingleton(ValidatedOptions.Bind<SceneOptions>(builder.Configuration, SceneOptions.Section));
        builder.Services.AddSingleton<SceneRunner>();
        builder.Services.AddSingleton<SceneJobs>();
        builder.Services.AddSingleton<ExpertRoster>();
        builder.Services.AddHostedService<ExpertRosterRefresh>();
        return builder;
    }

    public static WebApplication MapGateway(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<GatewayOptions>();
        app.Logger.LogInformation("Feature cache: {Kind}", app.Services.GetRequiredService<IFeatureCache>().Kind);
        app.UseMiddleware<ApiKeyMiddleware>();
        // The web page (wwwroot) and its sample scenes.
        app.UseDefaultFiles();
        app.UseStaticFiles();
        var samples = SamplesDirectory(app, options);
        if (samples is not null)
            app.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(samples), RequestPath = "/samples" });
        app.MapGet("/v1/samples", () => Results.Json(new
        {
            samples = (samples is null ? [] : Directory.GetFiles(samples).Where(IsSampleImage)).Order()
                .Select(f => new { name = Path.GetFileNameWithoutExtension(f), url = $"samples/{Path.GetFileName(f)}" }),
            // Large georeferenced scenes for the scene panel (GeoTIFF).
            scenes = (samples is null ? [] : Directory.GetFiles(samples).Where(IsSampleScene)).Order()
                .Select(f => new { name = Path.GetFileNameWithoutExtension(f), url = $"samples/{Path.GetFileName(f)}" }),
        }));
        app.MapGrpcService<CaptionerService>();
        app.MapRestApi(options);
        app.MapBatchApi(options);
        app.MapSceneApi(app.Services.GetRequiredService<SceneOptions>());
        // Pass-through routes to the internal services (operators' tools, e.g. an expert's Reload): see appsettings.json.
        app.MapReverseProxy();
        return app;
    }

    static bool IsSampleImage(string path) => Path.GetExtension(path).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg";
    static bool IsSampleScene(string path) => Path.GetExtension(path).ToLowerInvariant() is ".tif" or ".tiff";

    static string? SamplesDirectory(WebApplication app, GatewayOptions options)
    {
        string folder = string.IsNullOrWhiteSpace(options.SamplesDirectory) ? Path.Combine(app.Environment.ContentRootPath, "samples") : options.SamplesDirectory;
        return Directory.Exists(folder) ? Path.GetFullPath(folder) : null;
    }
}
