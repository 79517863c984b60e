using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RsMoe.ServiceDefaults.Grpc;
using RsMoe.ServiceDefaults.Health;
using RsMoe.ServiceDefaults.Telemetry;

namespace RsMoe.ServiceDefaults;

/// <summary>One place for what every service of the constellation does the same way.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Endpoints, logging, telemetry and health checks, configured from the <c>Service</c> section.</summary>
    public static WebApplicationBuilder AddServiceDefaults(this WebApplicationBuilder builder, string serviceName)
    {
        var options = ValidatedOptions.Bind<ServiceOptions>(builder.Configuration, ServiceOptions.Section);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(ValidatedOptions.Bind<InternalOptions>(builder.Configuration, InternalOptions.Section));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var address = options.Bind is "any" or "" ? IPAddress.Any : IPAddress.Parse(options.Bind);
            if (options.GrpcPort > 0) kestrel.Listen(address, options.GrpcPort, l => l.Protocols = HttpProtocols.Http2);
            if (options.HttpPort > 0) kestrel.Listen(address, options.HttpPort, l => l.Protocols = HttpProtocols.Http1);
        });
        builder.Logging.ClearProviders();
        if (options.JsonLogs) builder.Logging.AddJsonConsole(o => o.IncludeScopes = true);
        else builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.IncludeScopes = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.AddTelemetry(serviceName);
        builder.Services.AddHostedService<ParentProcessWatch>();
        // Liveness ("self": the process answers) and readiness (its warm-ups are done: see AddWarmup), kept apart.
        builder.Services.AddSingleton<Readiness>();
        builder.Services.AddHostedService<WarmupRunner>();
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy())
            .AddCheck<ReadinessCheck>(Readiness.Tag, tags: [Readiness.Tag]);
        return builder;
    }

    /// <summary>gRPC with this service's message limits, status mapping for exceptions, reflection and the standard health service.</summary>
    public static IServiceCollection AddGrpcDefaults(this IServiceCollection services, ServiceOptions options)
    {
        services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = options.MaxReceiveMessageBytes;
            grpc.MaxSendMessageSize = options.MaxSendMessageBytes;
            grpc.Interceptors.Add<ExceptionStatusInterceptor>();
        });
        services.AddGrpcReflection();
        // The overall status ("") is readiness; the service name "liveness" is the process alone (Kubernetes' liveness probe).
        services.AddGrpcHealthChecks(health => health.Services.Map(LivenessService, check => !check.Tags.Contains(Readiness.Tag)));
        return services;
    }

    /// <summary>The gRPC health service name that reports liveness only (the overall status, "", is readiness).</summary>
    public const string LivenessService = "liveness";

    /// <summary>
    /// The standard gRPC health service, reflection, <c>/healthz</c> and <c>/healthz/ready</c> (readiness: YARP's probes,
    /// <c>rsmoe up</c>), <c>/healthz/live</c> (the process answers) and <c>/metrics</c> (Prometheus).
    /// An internal service (the default) also demands the internal credential on its gRPC calls; the public gateway does not.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, bool internalService = true)
    {
        if (internalService) app.UseMiddleware<InternalCredentialMiddleware>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        app.MapHealthChecks("/healthz");
        app.MapHealthChecks("/healthz/ready");
        app.MapHealthChecks("/healthz/live", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = check => !check.Tags.Contains(Readiness.Tag) });
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
