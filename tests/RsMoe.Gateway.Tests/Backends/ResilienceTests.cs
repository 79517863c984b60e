using Grpc.Core;
using RsMoe.Gateway.Backends;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;

namespace RsMoe.Gateway.Tests.Backends;

/// <summary>What opens a replica's circuit, and the availability policy that makes an open circuit stop traffic.</summary>
public sealed class ResilienceTests
{
    static readonly StageDeadline OwnTimeout = new(DateTime.UtcNow.AddSeconds(5), IsStageTimeout: true);
    static readonly StageDeadline CallersDeadline = new(DateTime.UtcNow.AddSeconds(5), IsStageTimeout: false);

    [Theory]
    [InlineData(StatusCode.Unavailable)]
    [InlineData(StatusCode.Internal)]
    [InlineData(StatusCode.Unknown)]
    [InlineData(StatusCode.DataLoss)]
    public void Failures_of_the_replica_itself_count(StatusCode status)
    {
        Assert.True(ReplicaFailure.Counts(status, OwnTimeout));
        Assert.True(ReplicaFailure.Counts(status, CallersDeadline));
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument)]
    [InlineData(StatusCode.FailedPrecondition)]
    [InlineData(StatusCode.ResourceExhausted)]
    [InlineData(StatusCode.OutOfRange)]
    [InlineData(StatusCode.Cancelled)]
    [InlineData(StatusCode.NotFound)]
    [InlineData(StatusCode.PermissionDenied)]
    [InlineData(StatusCode.Unauthenticated)]
    public void A_request_s_own_faults_and_the_caller_s_cancellation_never_count(StatusCode status)
    {
        Assert.False(ReplicaFailure.Counts(status, OwnTimeout));
        Assert.False(ReplicaFailure.Counts(status, CallersDeadline));
    }

    [Fact]
    public void A_deadline_counts_only_when_it_was_the_stage_s_own_timeout()
    {
        Assert.True(ReplicaFailure.Counts(StatusCode.DeadlineExceeded, OwnTimeout));
        Assert.False(ReplicaFailure.Counts(StatusCode.DeadlineExceeded, CallersDeadline));
    }

    [Fact]
    public void A_stage_deadline_is_the_earlier_of_its_timeout_and_the_caller_s()
    {
        var soon = DateTime.UtcNow.AddMilliseconds(300);
        var callers = StageDeadline.Of(soon, TimeSpan.FromSeconds(15));
        Assert.Equal(soon, callers.At);
        Assert.False(callers.IsStageTimeout);

        var own = StageDeadline.Of(DateTime.UtcNow.AddMinutes(5), TimeSpan.FromSeconds(15));
        Assert.True(own.IsStageTimeout);
        Assert.InRange(own.At - DateTime.UtcNow, TimeSpan.FromSeconds(14), TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Clusters_default_to_HealthyAndUnknown_so_an_open_circuit_on_the_only_replica_stops_traffic()
    {
        var filter = new ClusterDefaults();
        var plain = await filter.ConfigureClusterAsync(new ClusterConfig { ClusterId = "expert-theme", HealthCheck = new HealthCheckConfig { Passive = new() { Enabled = true } } }, default);
        Assert.Equal(HealthCheckConstants.AvailableDestinations.HealthyAndUnknown, plain.HealthCheck!.AvailableDestinationsPolicy);
        Assert.True(plain.HealthCheck.Passive!.Enabled);
        var none = await filter.ConfigureClusterAsync(new ClusterConfig { ClusterId = "vlm-encoder" }, default);
        Assert.Equal(HealthCheckConstants.AvailableDestinations.HealthyAndUnknown, none.HealthCheck!.AvailableDestinationsPolicy);
        // Without any health check YARP would ignore the policy: a passive one is enabled; a configured active one stands alone.
        Assert.True(none.HealthCheck.Passive!.Enabled);
        Assert.Equal(HealthCheckConstants.PassivePolicy.TransportFailureRate, none.HealthCheck.Passive.Policy);
        var active = await filter.ConfigureClusterAsync(new ClusterConfig { ClusterId = "expert-theme", HealthCheck = new HealthCheckConfig { Active = new() { Enabled = true } } }, default);
        Assert.Null(active.HealthCheck!.Passive);
        // An operator's explicit choice stands.
        var chosen = await filter.ConfigureClusterAsync(new ClusterConfig
        {
            ClusterId = "image-encoder",
            HealthCheck = new HealthCheckConfig { AvailableDestinationsPolicy = HealthCheckConstants.AvailableDestinations.HealthyOrPanic },
        }, default);
        Assert.Equal(HealthCheckConstants.AvailableDestinations.HealthyOrPanic, chosen.HealthCheck!.AvailableDestinationsPolicy);
    }
}
