using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace RsMoe.Services.FunctionalTests.Support;

/// <summary>A service in this process with a gRPC channel over its test server; settings override its appsettings.json.</summary>
public sealed class ServiceHost<TProgram> : IDisposable where TProgram : class
{
    readonly WebApplicationFactory<TProgram> _factory;
    public GrpcChannel Channel { get; }
    public IServiceProvider Services => _factory.Services;

    public ServiceHost(IReadOnlyDictionary<string, string>? settings = null)
    {
        _factory = new WebApplicationFactory<TProgram>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
        });
        Channel = GrpcChannel.ForAddress(_factory.Server.BaseAddress, new GrpcChannelOptions
        {
            HttpHandler = _factory.Server.CreateHandler(),
            MaxReceiveMessageSize = 64 << 20,
            MaxSendMessageSize = 64 << 20,
        });
    }

    public HttpClient CreateHttpClient() => _factory.CreateClient();

    /// <summary>The gRPC health service's status for a service name ("" is readiness, "liveness" the process alone).</summary>
    public async Task<Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus> HealthAsync(string service = "") =>
        (await new Grpc.Health.V1.Health.HealthClient(Channel).CheckAsync(new Grpc.Health.V1.HealthCheckRequest { Service = service })).Status;

    /// <summary>Waits until the service reports ready (its warm-ups done).</summary>
    public async Task WaitReadyAsync(TimeSpan? timeout = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (await HealthAsync() != Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving)
        {
            if (clock.Elapsed > (timeout ?? TimeSpan.FromSeconds(60))) throw new TimeoutException("the service did not become ready");
            await Task.Delay(100);
        }
    }

    public void Dispose()
    {
        Channel.Dispose();
        _factory.Dispose();
    }
}
