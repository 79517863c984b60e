using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Backends;
using ExpertClient = RsMoe.Contracts.V1.Expert.ExpertClient;

namespace RsMoe.Gateway.Pipeline;

/// <summary>The experts as operators and frontends see them: role, checkpoint version, replicas and health.</summary>
public sealed class ExpertDirectory(BackendChannels backends, GatewayOptions options)
{
    internal async Task<ListExpertsResponse> ListAsync(CancellationToken cancellationToken)
    {
        var statuses = await Task.WhenAll(options.ExpertRoles.Select(role => DescribeAsync(role, cancellationToken)));
        var response = new ListExpertsResponse();
        response.Experts.Add(statuses);
        return response;
    }

    async Task<ExpertStatus> DescribeAsync(string role, CancellationToken cancellationToken)
    {
        string cluster = CaptionPipeline.ExpertCluster(role);
        var status = new ExpertStatus
        {
            Role = role,
            Replicas = backends.All(cluster).Count,
            HealthyReplicas = backends.Available(cluster).Count,
            Health = "NOT_SERVING",
        };
        try
        {
            using var call = backends.Pick(cluster);
            var info = await new ExpertClient(call.Channel).InfoAsync(new ExpertInfoRequest(),
                deadline: DateTime.UtcNow.AddSeconds(2), cancellationToken: cancellationToken);
            status.Version = info.Version;
            status.Model = info.Model;
            status.Health = "SERVING";
        }
        catch (RpcException)
        {
            // Health stays NOT_SERVING; the version is unknown while no replica answers.
        }
        return status;
    }
}
