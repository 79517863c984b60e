using Grpc.Core;
using RsMoe.Contracts.V1;
using RsMoe.Gateway.Backends;
using Yarp.ReverseProxy;
using VlmEncoderClient = RsMoe.Contracts.V1.VlmEncoder.VlmEncoderClient;

namespace RsMoe.Gateway.Pipeline;

/// <summary>
/// The experts in caption order, as the VLM encoder's router names them (its Info at start and every routing after):
/// the model decides how many experts there are and what they write, not the gateway's configuration.
/// <c>Gateway:ExpertRoles</c> only says whom to list before the encoder has answered.
/// </summary>
public sealed class ExpertRoster
{
    readonly ExpertClusters _clusters;
    readonly IProxyStateLookup _proxy;
    readonly ILogger<ExpertRoster> _logger;
    volatile IReadOnlyList<string> _roles;

    public ExpertRoster(GatewayOptions options, ExpertClusters clusters, IProxyStateLookup proxy, ILogger<ExpertRoster> logger)
    {
        _clusters = clusters;
        _proxy = proxy;
        _logger = logger;
        _roles = options.ExpertRoles;
        _clusters.Add(_roles);
    }

    public IReadOnlyList<string> Roles => _roles;

    /// <summary>Takes the router's roles as the caption order; a role seen for the first time gets its YARP cluster before this returns.</summary>
    public async Task LearnAsync(IReadOnlyList<string> roles, CancellationToken cancellationToken)
    {
        if (roles.Count == 0 || roles.SequenceEqual(_roles)) return;
        _logger.LogInformation("The router's experts are {Roles}", string.Join(", ", roles));
        _roles = roles.ToArray();
        if (!_clusters.Add(roles)) return;
        // YARP applies a configuration reload on its own schedule: wait (briefly) until the new clusters exist.
        for (int i = 0; i < 100 && !roles.All(r => _proxy.TryGetCluster(ExpertClusters.Cluster(r), out _)); i++)
            await Task.Delay(20, cancellationToken);
    }
}

/// <summary>Asks the VLM encoder for its experts until it answers, then now and then, so listings are right before the first caption.</summary>
public sealed class ExpertRosterRefresh(ExpertRoster roster, BackendChannels backends, ILogger<ExpertRosterRefresh> logger) : BackgroundService
{
    static readonly TimeSpan Retry = TimeSpan.FromSeconds(1), Refresh = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = Retry;
            try
            {
                using var call = backends.Pick(CaptionPipeline.VlmCluster);
                var info = await new VlmEncoderClient(call.Channel).InfoAsync(new VlmEncoderInfoRequest(), deadline: DateTime.UtcNow.AddSeconds(5), cancellationToken: stoppingToken);
                await roster.LearnAsync(info.ExpertRoles, stoppingToken);
                wait = Refresh;
            }
            catch (RpcException e)
            {
                logger.LogDebug("The VLM encoder did not say its experts yet ({Status})", e.StatusCode);
            }
            try { await Task.Delay(wait, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }
}
