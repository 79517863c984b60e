using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Backends;
using ExpertClient = RsMoe.Contracts.V1.Expert.ExpertClient;

namespace RsMoe.Gateway.Pipeline;

/// <summary>The experts as operators and frontends see them: role, checkpoint version, replicas and health; and their reload.</summary>
public sealed class ExpertDirectory(BackendChannels backends, ExpertRoster roster)
{
    internal async Task<ListExpertsResponse> ListAsync(CancellationToken cancellationToken)
    {
        var statuses = await Task.WhenAll(roster.Roles.Select(role => DescribeAsync(role, cancellationToken)));
        var response = new ListExpertsResponse();
        response.Experts.Add(statuses);
        return response;
    }

    static readonly TimeSpan ReloadTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Reloads every replica of a role, one after another, and reports each (see captioner.proto).</summary>
    internal async Task<ReloadExpertResponse> ReloadAsync(ReloadExpertRequest request, CancellationToken cancellationToken)
    {
        if (!roster.Roles.Contains(request.Role))
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"no expert role '{request.Role}' (the roles are {string.Join(", ", roster.Roles)})"));
        if (request.AdapterPath.Length > 0 && !Path.IsPathRooted(request.AdapterPath))
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"the adapter path '{request.AdapterPath}' is relative; give an absolute path on the experts' filesystem (rsmoe reload resolves it for you)"));
        var replicas = backends.All(CaptionPipeline.ExpertCluster(request.Role));
        if (replicas.Count == 0) throw new RpcException(new Status(StatusCode.FailedPrecondition, $"the {request.Role} expert has no replicas configured"));
        var response = new ReloadExpertResponse { Role = request.Role };
        foreach (var replica in replicas)
        {
            string address = replica.Model.Config.Address;
            var result = new ReplicaReload { Replica = address };
            try
            {
                var info = await new ExpertClient(backends.ChannelFor(address)).ReloadAsync(new ReloadRequest { AdapterPath = request.AdapterPath },
                    deadline: DateTime.UtcNow + ReloadTimeout, cancellationToken: cancellationToken);
                result.Version = info.Version;
                response.Reloaded++;
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                result.Error = $"{e.StatusCode}: {e.Status.Detail}";
            }
            response.Replicas.Add(result);
        }
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
