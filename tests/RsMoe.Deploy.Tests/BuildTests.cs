using YamlDotNet.RepresentationModel;

namespace RsMoe.Deploy.Tests;

/// <summary>skaffold.yaml and the Dockerfiles agree with each other and with the manifests.</summary>
public sealed class BuildTests
{
    static YamlMappingNode Skaffold => Manifests.LoadYaml(Path.Combine(Manifests.RepositoryRoot, "skaffold.yaml"));
    static readonly K8sObject Config = new("Config", "skaffold", Skaffold);

    static IReadOnlyList<(string Image, string Dockerfile)> Artifacts() =>
        ((YamlSequenceNode)Config.At("build", "artifacts")!).Children.OfType<YamlMappingNode>()
            .Select(a => new K8sObject("", "", a))
            .Select(a => (a.Scalar("image")!, a.Scalar("docker", "dockerfile")!)).ToList();

    [Theory]
    [InlineData("cpu")]
    [InlineData("gpu")]
    [InlineData("dev")]
    public void The_images_the_manifests_run_are_the_skaffold_artifacts(string overlay)
    {
        var artifacts = Artifacts().Select(a => a.Image).ToHashSet();
        var ours = Manifests.Render(overlay).Where(o => o.Kind == "Deployment")
            .SelectMany(d => d.Containers).Select(c => ((YamlScalarNode)c.Children[new YamlScalarNode("image")]).Value!)
            .Where(image => image.StartsWith("rsmoe-")).ToHashSet();
        Assert.Equal(artifacts.Order(), ours.Order());
    }

    [Fact]
    public void There_is_one_artifact_per_service_and_profiles_for_cpu_gpu_and_dev()
    {
        Assert.Equal(["rsmoe-expert", "rsmoe-gateway", "rsmoe-image-encoder", "rsmoe-vlm-encoder"], Artifacts().Select(a => a.Image).Order());
        var profiles = ((YamlSequenceNode)Config.At("profiles")!).Children.OfType<YamlMappingNode>().Select(p => new K8sObject("", "", p)).ToList();
        Assert.Equal(["cpu", "dev", "gpu"], profiles.Select(p => p.Scalar("name")!).Order());
        foreach (var profile in profiles)
        {
            string path = profile.Scalar("manifests", "kustomize", "paths", "0")!;
            Assert.Equal($"k8s/overlays/{profile.Scalar("name")}", path);
            Assert.True(File.Exists(Path.Combine(Manifests.RepositoryRoot, path, "kustomization.yaml")));
        }
        // The gpu profile builds the three model services with CUDA.
        var gpu = profiles.Single(p => p.Scalar("name") == "gpu");
        var patches = ((YamlSequenceNode)gpu.At("patches")!).Children.OfType<YamlMappingNode>().Select(p => new K8sObject("", "", p)).ToList();
        var cuda = patches.Where(p => p.Scalar("value") == "cuda").Select(p => int.Parse(p.Scalar("path")!.Split('/')[3])).Select(i => Artifacts()[i].Image).Order();
        Assert.Equal(["rsmoe-expert", "rsmoe-image-encoder", "rsmoe-vlm-encoder"], cuda);
        // The gateway's ports are forwarded.
        var forwards = ((YamlSequenceNode)Config.At("portForward")!).Children.OfType<YamlMappingNode>().Select(p => new K8sObject("", "", p)).ToList();
        Assert.All(forwards, f => Assert.Equal("gateway", f.Scalar("resourceName")));
        Assert.Equal(["80", "81"], forwards.Select(f => f.Scalar("port")!).Order());
    }

    [Fact]
    public void Every_dockerfile_is_multi_stage_built_from_the_root_and_runs_as_a_non_root_user()
    {
        foreach (var (image, dockerfile) in Artifacts())
        {
            var lines = File.ReadAllLines(Path.Combine(Manifests.RepositoryRoot, dockerfile)).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
            Assert.True(lines.Count(l => l.StartsWith("FROM ")) >= 2, $"{image}: not multi-stage");
            Assert.Contains(lines, l => l == "COPY protos/ protos/");
            var finalStage = lines.Skip(lines.FindLastIndex(l => l.StartsWith("FROM "))).ToList();
            var user = finalStage.LastOrDefault(l => l.StartsWith("USER "));
            Assert.NotNull(user);
            Assert.DoesNotContain(user.Split(' ')[1], new[] { "0", "root" });
            Assert.StartsWith("ENTRYPOINT", finalStage[^1]);
            Assert.Contains(lines, l => l.StartsWith("ARG TORCH_BACKEND"));
            if (image != "rsmoe-gateway")
            {
                Assert.Contains(lines, l => l.StartsWith("FROM ") && l.EndsWith(" AS runtime-cuda"));
                Assert.Contains(lines, l => l == "FROM runtime-${TORCH_BACKEND} AS final");
                Assert.Contains(lines, l => l.Contains("-p:TorchBackend=$TORCH_BACKEND"));
            }
        }
    }

    [Fact]
    public void The_model_services_share_one_dockerfile_and_each_artifact_names_an_existing_project()
    {
        var artifacts = ((YamlSequenceNode)Config.At("build", "artifacts")!).Children.OfType<YamlMappingNode>().Select(a => new K8sObject("", "", a)).ToList();
        var models = artifacts.Where(a => a.Scalar("image") != "rsmoe-gateway").ToList();
        Assert.Equal(["services/Dockerfile"], models.Select(a => a.Scalar("docker", "dockerfile")).Distinct());
        Assert.Equal(["Expert", "ImageEncoder", "VlmEncoder"], models.Select(a => a.Scalar("docker", "buildArgs", "SERVICE")!).Order());
        foreach (var service in models.Select(a => a.Scalar("docker", "buildArgs", "SERVICE")!))
            Assert.True(File.Exists(Path.Combine(Manifests.RepositoryRoot, "services", $"RsMoe.{service}", $"RsMoe.{service}.csproj")), service);
        var lines = File.ReadAllLines(Path.Combine(Manifests.RepositoryRoot, "services", "Dockerfile"));
        // Each service reads its own model directory setting; all three are set so one image file serves them all.
        foreach (var service in new[] { "ImageEncoder", "VlmEncoder", "Expert" })
            Assert.Contains(lines, l => l.Trim().StartsWith($"{service}__ModelDirectory=/models/default", StringComparison.Ordinal));
    }

    /// <summary>A project the published one references, directly or not, but the image's build stage never copies fails only
    /// at docker build time, which no test here runs; this reads the references instead.</summary>
    [Fact]
    public void Every_dockerfile_copies_every_project_its_service_references()
    {
        var root = Manifests.RepositoryRoot;
        var artifacts = ((YamlSequenceNode)Config.At("build", "artifacts")!).Children.OfType<YamlMappingNode>().Select(a => new K8sObject("", "", a)).ToList();
        foreach (var artifact in artifacts)
        {
            string dockerfile = artifact.Scalar("docker", "dockerfile")!;
            string? service = artifact.Scalar("docker", "buildArgs", "SERVICE");
            string project = service is null ? "gateway/RsMoe.Gateway/RsMoe.Gateway.csproj" : $"services/RsMoe.{service}/RsMoe.{service}.csproj";
            var copied = File.ReadAllLines(Path.Combine(root, dockerfile)).Select(l => l.Trim().Split(' '))
                .Where(w => w.Length == 3 && w[0] == "COPY" && !w[1].StartsWith("--"))
                .Select(w => w[1].Replace("${SERVICE}", service)).ToList();
            foreach (string referenced in ProjectClosure(root, project))
            {
                string folder = Path.GetDirectoryName(referenced)!.Replace('\\', '/') + "/";
                Assert.True(copied.Any(c => folder.StartsWith(c, StringComparison.Ordinal)), $"{dockerfile} ({artifact.Scalar("image")}) does not copy {folder}");
            }
        }
    }

    /// <summary>The project and every project it references, transitively, as paths relative to the repository root.</summary>
    static IEnumerable<string> ProjectClosure(string root, string project)
    {
        var seen = new HashSet<string>();
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var current))
        {
            if (!seen.Add(current)) continue;
            var xml = System.Xml.Linq.XDocument.Load(Path.Combine(root, current));
            foreach (var include in xml.Descendants("ProjectReference").Select(r => (string)r.Attribute("Include")!))
            {
                string path = include.Replace("$(RepoRoot)", "").Replace('\\', '/');
                if (!include.Contains("$(RepoRoot)"))
                    path = Path.GetRelativePath(root, Path.GetFullPath(Path.Combine(root, Path.GetDirectoryName(current)!, path))).Replace('\\', '/');
                pending.Push(path);
            }
        }
        return seen;
    }
}
