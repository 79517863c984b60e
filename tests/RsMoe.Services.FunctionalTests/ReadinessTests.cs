extern alias ExpertHost;
extern alias VlmEncoderHost;
using System.Net;
using Grpc.Health.V1;
using RsMoe.Services.FunctionalTests.Support;
using ExpertProgram = ExpertHost::Program;
using VlmEncoderProgram = VlmEncoderHost::Program;
using ServingStatus = Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace RsMoe.Services.FunctionalTests;

/// <summary>
/// Readiness means ready: NOT_SERVING (gRPC) and 503 (<c>/healthz/ready</c>) until the model is loaded and one warm-up
/// pass has run, while liveness (the gRPC service "liveness", <c>/healthz/live</c>) answers from the start.
/// </summary>
public sealed class ReadinessTests
{
    [Fact]
    public async Task An_expert_is_not_ready_until_its_warm_up_pass_has_run_and_is_live_meanwhile()
    {
        // Every decode step paused 5 s: the warm-up's decode step (it may not stop at the prefill: MinNewTokens) keeps the
        // expert not ready for that long.
        using var host = new ServiceHost<ExpertProgram>(new Dictionary<string, string> { ["Expert:Role"] = "theme", ["Expert:TokenDelay"] = "00:00:05" });
        using var http = host.CreateHttpClient();
        Assert.Equal(ServingStatus.NotServing, await host.HealthAsync());
        Assert.Equal(ServingStatus.Serving, await host.HealthAsync("liveness"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/healthz/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/healthz")).StatusCode);   // YARP's probe is readiness
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz/live")).StatusCode);

        await host.WaitReadyAsync();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz/ready")).StatusCode);
        Assert.Equal(ServingStatus.Serving, await host.HealthAsync("liveness"));
    }

    [Fact]
    public async Task The_vlm_encoder_loads_at_start_and_a_model_that_cannot_load_leaves_it_live_but_never_ready()
    {
        using (var good = new ServiceHost<VlmEncoderProgram>())
        {
            await good.WaitReadyAsync();   // the warm-up loaded the model and routed once, before any request
            Assert.Equal(ServingStatus.Serving, await good.HealthAsync());
        }

        using var broken = new ServiceHost<VlmEncoderProgram>(new Dictionary<string, string> { ["VlmEncoder:ModelDirectory"] = "/nonexistent/rsmoe-model" });
        using var http = broken.CreateHttpClient();
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(ServingStatus.NotServing, await broken.HealthAsync());
            Assert.Equal(ServingStatus.Serving, await broken.HealthAsync("liveness"));
            await Task.Delay(100);
        }
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/healthz/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz/live")).StatusCode);
    }
}
