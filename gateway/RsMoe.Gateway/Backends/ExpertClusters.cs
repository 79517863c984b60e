using Microsoft.Extensions.Primitives;

namespace RsMoe.Gateway.Backends;

/// <summary>
/// The YARP route and cluster of every expert role, written from one template (<c>Gateway:ExpertCluster</c>, with
/// <c>Gateway:ExpertAddress</c>'s <c>{role}</c> filled in) as the lowest-priority configuration: whatever appsettings or
/// the environment say about <c>ReverseProxy:Clusters:expert-{role}</c> (a launcher's addresses, a test's health
/// checks) still wins. New roles are added while the gateway runs, and YARP picks them up as a configuration reload.
/// </summary>
public sealed class ExpertClusters : ConfigurationProvider, IConfigurationSource
{
    public const string ExpertPath = "/rsmoe.v1.Expert/{**method}";
    public const string RoleHeader = "x-rsmoe-expert";

    readonly IReadOnlyList<KeyValuePair<string, string?>> _template;
    readonly string _address;
    readonly HashSet<string> _roles = [];
    readonly Lock _lock = new();

    ExpertClusters(IConfiguration gateway)
    {
        var template = gateway.GetSection("ExpertCluster");
        _template = template.AsEnumerable(makePathsRelative: true).Where(kv => kv.Value is not null).ToList();
        _address = gateway["ExpertAddress"] ?? "http://expert-{role}:5000";
    }

    /// <summary>Adds the template beneath every other configuration source of <paramref name="configuration"/>.</summary>
    public static ExpertClusters AddTo(ConfigurationManager configuration)
    {
        var clusters = new ExpertClusters(configuration.GetSection(GatewayOptions.Section));
        ((IConfigurationBuilder)configuration).Sources.Insert(0, clusters);
        return clusters;
    }

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public static string Cluster(string role) => $"expert-{role}";

    /// <summary>Writes the route and cluster of each role not yet written; true when any was new.</summary>
    public bool Add(IEnumerable<string> roles)
    {
        lock (_lock)
        {
            var added = roles.Where(_roles.Add).ToList();
            if (added.Count == 0) return false;
            var data = new Dictionary<string, string?>(Data, StringComparer.OrdinalIgnoreCase);
            foreach (var role in added)
            {
                string route = $"ReverseProxy:Routes:{Cluster(role)}:", cluster = $"ReverseProxy:Clusters:{Cluster(role)}:";
                data[route + "ClusterId"] = Cluster(role);
                data[route + "Match:Path"] = ExpertPath;
                data[route + "Match:Headers:0:Name"] = RoleHeader;
                data[route + "Match:Headers:0:Values:0"] = role;
                data[route + "Match:Headers:0:Mode"] = "ExactHeader";
                foreach (var (key, value) in _template) data[cluster + key] = value;
                data[cluster + "Destinations:primary:Address"] = _address.Replace("{role}", role, StringComparison.Ordinal);
            }
            Data = data;
        }
        OnReload();
        return true;
    }
}
