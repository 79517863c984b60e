using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RsMoe.Gateway.Backends;
using Yarp.ReverseProxy;

namespace RsMoe.Gateway.Tests.Backends;

/// <summary>Every expert's YARP route and cluster from one template, under whatever the configuration says, in a real YARP.</summary>
public sealed class ExpertClustersTests
{
    static async Task<(WebApplication App, ExpertClusters Clusters, IProxyStateLookup Proxy)> StartAsync(Dictionary<string, string?> settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gateway:ExpertAddress"] = "http://expert-{role}.example:5000",
            ["Gateway:ExpertCluster:LoadBalancingPolicy"] = "PowerOfTwoChoices",
            ["Gateway:ExpertCluster:HttpRequest:Version"] = "2",
            ["Gateway:ExpertCluster:HealthCheck:Active:Enabled"] = "true",
            ["Gateway:ExpertCluster:HealthCheck:Active:Interval"] = "00:10:00",
            ["Gateway:ExpertCluster:HealthCheck:Active:Path"] = "/healthz",
        });
        builder.Configuration.AddInMemoryCollection(settings);
        var clusters = ExpertClusters.AddTo(builder.Configuration);
        builder.Services.AddReverseProxy().LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"));
        var app = builder.Build();
        app.MapReverseProxy();
        await app.StartAsync();
        return (app, clusters, app.Services.GetRequiredService<IProxyStateLookup>());
    }

    static async Task<Yarp.ReverseProxy.Model.ClusterState> ClusterAsync(IProxyStateLookup proxy, string id)
    {
        for (int i = 0; i < 200; i++)
        {
            if (proxy.TryGetCluster(id, out var cluster)) return cluster;
            await Task.Delay(10);
        }
        throw new Xunit.Sdk.XunitException($"YARP never got the cluster {id}");
    }

    [Fact]
    public async Task Each_role_gets_the_template_its_address_and_a_route_by_header_and_the_configuration_still_wins()
    {
        var (app, clusters, proxy) = await StartAsync(new()
        {
            ["ReverseProxy:Clusters:expert-objects:Destinations:primary:Address"] = "http://127.0.0.1:5104",
            ["ReverseProxy:Clusters:expert-objects:HealthCheck:Active:Enabled"] = "false",
        });
        await using var _ = app;
        clusters.Add(["theme", "objects"]);

        var theme = await ClusterAsync(proxy, "expert-theme");
        Assert.Equal("http://expert-theme.example:5000", Assert.Single(theme.Model.Config.Destinations!).Value.Address);
        Assert.Equal("PowerOfTwoChoices", theme.Model.Config.LoadBalancingPolicy);
        Assert.True(theme.Model.Config.HealthCheck!.Active!.Enabled);
        Assert.Equal(TimeSpan.FromMinutes(10), theme.Model.Config.HealthCheck.Active.Interval);

        var objects = await ClusterAsync(proxy, "expert-objects");
        Assert.Equal("http://127.0.0.1:5104", Assert.Single(objects.Model.Config.Destinations!).Value.Address);
        Assert.False(objects.Model.Config.HealthCheck!.Active!.Enabled);
        Assert.Equal("/healthz", objects.Model.Config.HealthCheck.Active.Path);

        var route = app.Services.GetRequiredService<Yarp.ReverseProxy.Configuration.IProxyConfigProvider>().GetConfig().Routes.Single(r => r.RouteId == "expert-theme");
        Assert.Equal(ExpertClusters.ExpertPath, route.Match.Path);
        var header = Assert.Single(route.Match.Headers!);
        Assert.Equal((ExpertClusters.RoleHeader, "theme"), (header.Name, Assert.Single(header.Values!)));
    }

    [Fact]
    public async Task A_role_learned_while_running_gets_its_cluster_and_a_known_one_changes_nothing()
    {
        var (app, clusters, proxy) = await StartAsync([]);
        await using var _ = app;
        Assert.True(clusters.Add(["theme", "objects", "relationships"]));
        await ClusterAsync(proxy, "expert-relationships");
        Assert.False(proxy.TryGetCluster("expert-positions", out var _));

        Assert.True(clusters.Add(["theme", "objects", "positions", "relations"]));
        var positions = await ClusterAsync(proxy, "expert-positions");
        Assert.Equal("http://expert-positions.example:5000", Assert.Single(positions.Model.Config.Destinations!).Value.Address);
        await ClusterAsync(proxy, "expert-relations");
        Assert.False(clusters.Add(["theme", "positions"]));
    }
}
