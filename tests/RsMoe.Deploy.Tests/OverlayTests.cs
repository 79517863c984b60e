using YamlDotNet.RepresentationModel;

namespace RsMoe.Deploy.Tests;

/// <summary>Every overlay rendered and checked for what an operator relies on.</summary>
public sealed class OverlayTests
{
    public static readonly string[] Roles = ["theme", "objects", "relationships"];
    public static TheoryData<string> Overlays => new() { "cpu", "gpu", "dev" };
    static readonly string[] InternalServices = ["image-encoder", "vlm-encoder", "expert-theme", "expert-objects", "expert-relationships"];

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Each_expert_is_its_own_deployment_with_service_autoscaler_and_disruption_budget(string overlay)
    {
        var objects = Manifests.Render(overlay);
        foreach (var role in Roles)
        {
            string name = $"expert-{role}";
            var deployment = Assert.Single(objects, o => o.Kind == "Deployment" && o.Name == name);
            var selector = deployment.Labels("spec", "selector", "matchLabels");
            Assert.Equal(role, selector["rsmoe.io/role"]);
            Assert.Equal(role, deployment.Labels("spec", "template", "metadata", "labels")["rsmoe.io/role"]);

            // Its configuration names its role.
            string configMap = deployment.Scalar("spec", "template", "spec", "containers", "0", "envFrom", "0", "configMapRef", "name")!;
            var config = Assert.Single(objects, o => o.Kind == "ConfigMap" && o.Name == configMap);
            Assert.Equal(role, config.Scalar("data", "Expert__Role"));

            var hpa = Assert.Single(objects, o => o.Kind == "HorizontalPodAutoscaler" && o.Scalar("spec", "scaleTargetRef", "name") == name);
            Assert.Equal("Deployment", hpa.Scalar("spec", "scaleTargetRef", "kind"));
            var pdb = Assert.Single(objects, o => o.Kind == "PodDisruptionBudget" && o.Name == name);
            Assert.Equal(selector, pdb.Labels("spec", "selector", "matchLabels"));
            var service = Assert.Single(objects, o => o.Kind == "Service" && o.Name == name);
            Assert.Equal(selector, service.Labels("spec", "selector"));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_service_has_native_grpc_probes_and_resource_requests_and_limits(string overlay)
    {
        foreach (var deployment in Manifests.Render(overlay).Where(o => o.Kind == "Deployment"))
        {
            var container = deployment.Containers.First();
            var probe = (string kind) => container.Children.TryGetValue(new YamlScalarNode(kind), out var p) ? (YamlMappingNode)p : null;
            Assert.NotNull(probe("readinessProbe"));
            Assert.NotNull(probe("livenessProbe"));
            if (deployment.Name != "redis")
            {
                Assert.True(probe("readinessProbe")!.Children.ContainsKey(new YamlScalarNode("grpc")), $"{deployment.Name}: readiness is not a gRPC probe");
                Assert.True(probe("livenessProbe")!.Children.ContainsKey(new YamlScalarNode("grpc")), $"{deployment.Name}: liveness is not a gRPC probe");
                // Readiness is the overall status (model loaded and warmed up); liveness the process alone, so loading is not a restart.
                var service = (YamlMappingNode grpc) => grpc.Children.TryGetValue(new YamlScalarNode("service"), out var s) ? s.ToString() : "";
                Assert.Equal("", service((YamlMappingNode)probe("readinessProbe")!.Children[new YamlScalarNode("grpc")]));
                Assert.Equal("liveness", service((YamlMappingNode)probe("livenessProbe")!.Children[new YamlScalarNode("grpc")]));
            }
            var resources = (YamlMappingNode)container.Children[new YamlScalarNode("resources")];
            Assert.True(resources.Children.ContainsKey(new YamlScalarNode("requests")), $"{deployment.Name}: no requests");
            Assert.True(resources.Children.ContainsKey(new YamlScalarNode("limits")), $"{deployment.Name}: no limits");
            Assert.Equal("true", deployment.Scalar("spec", "template", "spec", "securityContext", "runAsNonRoot"));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Only_the_gateway_is_exposed(string overlay)
    {
        var objects = Manifests.Render(overlay);
        Assert.DoesNotContain(objects, o => o.Kind == "Service" && o.Scalar("spec", "type") is "LoadBalancer" or "NodePort");
        foreach (var ingress in objects.Where(o => o.Kind == "Ingress"))
            foreach (var rule in ((YamlSequenceNode)ingress.At("spec", "rules")!).Children.OfType<YamlMappingNode>())
                foreach (var path in ((YamlSequenceNode)new K8sObject("", "", rule).At("http", "paths")!).Children.OfType<YamlMappingNode>())
                    Assert.Equal("gateway", new K8sObject("", "", path).Scalar("backend", "service", "name"));

        // Internal services are headless (YARP balances HTTP/2 per pod) and labelled internal.
        foreach (var name in InternalServices)
        {
            Assert.Equal("None", Assert.Single(objects, o => o.Kind == "Service" && o.Name == name).Scalar("spec", "clusterIP"));
            Assert.Equal("true", Assert.Single(objects, o => o.Kind == "Deployment" && o.Name == name).Labels("spec", "template", "metadata", "labels")["rsmoe.io/internal"]);
        }
        Assert.False(Assert.Single(objects, o => o.Kind == "Deployment" && o.Name == "gateway").Labels("spec", "template", "metadata", "labels").ContainsKey("rsmoe.io/internal"));

        // Network policies: deny by default; internal pods and Redis accept only the gateway's pods.
        var policies = objects.Where(o => o.Kind == "NetworkPolicy").ToList();
        var deny = Assert.Single(policies, p => p.Name == "default-deny-ingress");
        Assert.Empty(((YamlMappingNode)deny.At("spec", "podSelector")!).Children);
        var gatewayPods = objects.Single(o => o.Kind == "Deployment" && o.Name == "gateway").Labels("spec", "template", "metadata", "labels");
        foreach (var (policy, target) in new[] { ("internal-from-gateway", "rsmoe.io/internal"), ("redis-from-gateway", "app.kubernetes.io/name") })
        {
            var p = Assert.Single(policies, x => x.Name == policy);
            Assert.True(p.Labels("spec", "podSelector", "matchLabels").ContainsKey(target));
            var from = p.Labels("spec", "ingress", "0", "from", "0", "podSelector", "matchLabels");
            Assert.NotEmpty(from);
            Assert.All(from, label => Assert.Equal(label.Value, gatewayPods[label.Key]));
        }
    }

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_gateway_reaches_every_backend_through_its_headless_service(string overlay)
    {
        var objects = Manifests.Render(overlay);
        var gateway = objects.Single(o => o.Kind == "Deployment" && o.Name == "gateway");
        string configName = gateway.Scalar("spec", "template", "spec", "containers", "0", "envFrom", "0", "configMapRef", "name")!;
        var config = objects.Single(o => o.Kind == "ConfigMap" && o.Name == configName);
        foreach (var name in new[] { "image-encoder", "vlm-encoder" })
            Assert.Equal($"http://{name}:5000", config.Scalar("data", $"ReverseProxy__Clusters__{name}__Destinations__primary__Address"));
        // The experts' clusters come from one template: the gateway's expert address with the role filled in.
        using var appsettings = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Manifests.RepositoryRoot, "gateway", "RsMoe.Gateway", "appsettings.json")));
        string expertAddress = config.Scalar("data", "Gateway__ExpertAddress") ?? appsettings.RootElement.GetProperty("Gateway").GetProperty("ExpertAddress").GetString()!;
        var experts = objects.Where(o => o.Kind == "Service" && o.Name.StartsWith("expert-", StringComparison.Ordinal)).Select(o => o.Name).ToList();
        Assert.Equal(Roles.Select(r => $"expert-{r}").Order(), experts.Order());
        foreach (var name in experts)
            Assert.Equal($"http://{name}:5000", expertAddress.Replace("{role}", name["expert-".Length..], StringComparison.Ordinal));
        Assert.DoesNotContain(config.Labels("data").Keys, key => key.StartsWith("ReverseProxy__Clusters__expert-", StringComparison.Ordinal));
        Assert.Equal("redis:6379", config.Scalar("data", "Cache__Redis"));
    }

    [Fact]
    public void The_gpu_overlay_puts_the_model_services_on_gpu_nodes_and_leaves_the_gateway_alone()
    {
        var objects = Manifests.Render("gpu");
        foreach (var name in InternalServices)
        {
            var deployment = objects.Single(o => o.Kind == "Deployment" && o.Name == name);
            Assert.Equal("1", deployment.Scalar("spec", "template", "spec", "containers", "0", "resources", "limits", "nvidia.com/gpu"));
            Assert.Equal("true", deployment.Scalar("spec", "template", "spec", "nodeSelector", "nvidia.com/gpu.present"));
            Assert.Equal("nvidia.com/gpu", deployment.Scalar("spec", "template", "spec", "tolerations", "0", "key"));
            Assert.Equal("cuda", deployment.Scalar("spec", "template", "spec", "containers", "0", "env", "1", "value"));
        }
        var gateway = objects.Single(o => o.Kind == "Deployment" && o.Name == "gateway");
        Assert.Null(gateway.At("spec", "template", "spec", "nodeSelector"));
        Assert.Null(gateway.Scalar("spec", "template", "spec", "containers", "0", "resources", "limits", "nvidia.com/gpu"));
        Assert.DoesNotContain(Manifests.Render("cpu"), o => o.Scalar("spec", "template", "spec", "containers", "0", "resources", "limits", "nvidia.com/gpu") is not null);
    }

    [Fact]
    public void The_dev_overlay_runs_one_replica_of_everything()
    {
        var objects = Manifests.Render("dev");
        Assert.All(objects.Where(o => o.Kind == "Deployment"), d => Assert.Equal("1", d.Scalar("spec", "replicas")));
        Assert.All(objects.Where(o => o.Kind == "HorizontalPodAutoscaler"), h => Assert.Equal("1", h.Scalar("spec", "minReplicas")));
    }

    [Fact]
    public void Changing_one_experts_checkpoint_changes_only_that_experts_deployment()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"rsmoe-k8s-{Guid.NewGuid():N}");
        CopyDirectory(Path.Combine(Manifests.RepositoryRoot, "k8s"), copy);
        try
        {
            var before = Manifests.Render("cpu", copy);
            string env = Path.Combine(copy, "base", "experts", "theme", "checkpoint.env");
            File.WriteAllText(env, File.ReadAllText(env)
                .Replace("ADAPTER_URL=\n", "ADAPTER_URL=https://models.example.com/rsmoe/theme-v2.tar.gz\n")
                .Replace("Expert__Adapter=\n", "Expert__Adapter=/adapter\n"));
            var after = Manifests.Render("cpu", copy);

            var changedDeployments = after.Where(o => o.Kind == "Deployment")
                .Where(o => before.Single(b => b.Kind == "Deployment" && b.Name == o.Name).Canonical != o.Canonical).Select(o => o.Name).ToList();
            Assert.Equal(["expert-theme"], changedDeployments);
            var oldConfigs = before.Where(o => o.Kind == "ConfigMap").Select(o => o.Name).ToHashSet();
            var newConfigs = after.Where(o => o.Kind == "ConfigMap").Select(o => o.Name).Where(n => !oldConfigs.Contains(n)).ToList();
            Assert.Single(newConfigs);
            Assert.StartsWith("expert-config-theme-", newConfigs[0]);
            Assert.Equal(before.Count(o => o.Kind != "ConfigMap" && o.Kind != "Deployment"), after.Count(o => o.Kind != "ConfigMap" && o.Kind != "Deployment"));
            Assert.All(after.Where(o => o.Kind is not ("ConfigMap" or "Deployment")),
                o => Assert.Equal(before.Single(b => b.Kind == o.Kind && b.Name == o.Name).Canonical, o.Canonical));
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(file, file.Replace(from, to));
    }
}

/// <summary>Secrets: the internal credential reaches every internal service and the gateway; API key hashes only the gateway.</summary>
public sealed class SecretTests
{
    static IEnumerable<string> SecretRefs(K8sObject deployment) =>
        deployment.Containers.SelectMany(c => c.Children.TryGetValue(new YamlScalarNode("envFrom"), out var e) ? ((YamlSequenceNode)e).Children.OfType<YamlMappingNode>() : [])
            .Select(e => new K8sObject("", "", e).Scalar("secretRef", "name")).OfType<string>();

    [Theory]
    [MemberData(nameof(OverlayTests.Overlays), MemberType = typeof(OverlayTests))]
    public void The_internal_credential_and_api_keys_come_from_secrets(string overlay)
    {
        var objects = Manifests.Render(overlay);
        foreach (var deployment in objects.Where(o => o.Kind == "Deployment" && o.Name != "redis"))
            Assert.Contains("rsmoe-internal", SecretRefs(deployment));
        var gateway = objects.Single(o => o.Kind == "Deployment" && o.Name == "gateway");
        Assert.Contains("rsmoe-api-keys", SecretRefs(gateway));
        Assert.All(objects.Where(o => o.Kind == "Deployment" && o.Name != "gateway"), d => Assert.DoesNotContain("rsmoe-api-keys", SecretRefs(d)));
        // Only the dev overlay carries secrets in git; the others expect the cluster's own.
        Assert.Equal(overlay == "dev", objects.Any(o => o.Kind == "Secret"));
        var config = objects.Single(o => o.Kind == "ConfigMap" && o.Name.StartsWith("gateway-config-"));
        Assert.Equal(overlay == "dev" ? "false" : "true", config.Scalar("data", "Access__RequireApiKey"));
    }
}
