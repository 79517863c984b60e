using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace RsMoe.ServiceDefaults.Telemetry;

/// <summary>
/// OpenTelemetry for every service: traces (incoming ASP.NET Core and gRPC, outgoing HTTP/2 calls, our own stages)
/// propagate W3C trace context so one trace shows a caption's fan-out; metrics go to a Prometheus endpoint; logs
/// carry trace ids. Traces and logs are exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
/// </summary>
public static class TelemetryExtensions
{
    /// <summary>Every ActivitySource and Meter of this product starts with this.</summary>
    public const string SourcePrefix = "RsMoe";

    public static WebApplicationBuilder AddTelemetry(this WebApplicationBuilder builder, string serviceName)
    {
        bool otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing =>
            {
                tracing.AddSource($"{SourcePrefix}.*")
                    .AddAspNetCoreInstrumentation(o => o.Filter = context => context.Request.Path is not { Value: "/healthz" or "/metrics" })
                    .AddHttpClientInstrumentation();
            })
            .WithMetrics(metrics => metrics
                .AddMeter($"{SourcePrefix}.*")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));   // every scrape is current
        if (otlp) telemetry.UseOtlpExporter();
        return builder;
    }
}
