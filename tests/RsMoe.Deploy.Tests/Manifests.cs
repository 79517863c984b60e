using System.Diagnostics;
using YamlDotNet.RepresentationModel;

namespace RsMoe.Deploy.Tests;

/// <summary>A rendered Kubernetes object: kind, name and its YAML tree.</summary>
public sealed record K8sObject(string Kind, string Name, YamlMappingNode Node)
{
    /// <summary>The whole object as one string, for comparing two renders.</summary>
    public string Canonical => Write(Node);

    static string Write(YamlNode node) => node switch
    {
        YamlMappingNode map => "{" + string.Join(",", map.Children.Select(c => Write(c.Key) + ":" + Write(c.Value))) + "}",
        YamlSequenceNode seq => "[" + string.Join(",", seq.Children.Select(Write)) + "]",
        YamlScalarNode scalar => "\"" + scalar.Value + "\"",
        _ => "?",
    };

    public YamlNode? At(params string[] path)
    {
        YamlNode? node = Node;
        foreach (var key in path)
        {
            node = node switch
            {
                YamlMappingNode map => map.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null,
                YamlSequenceNode seq when int.TryParse(key, out int i) => i < seq.Children.Count ? seq.Children[i] : null,
                _ => null,
            };
            if (node is null) return null;
        }
        return node;
    }

    public string? Scalar(params string[] path) => (At(path) as YamlScalarNode)?.Value;

    public IEnumerable<YamlMappingNode> Containers =>
        (At("spec", "template", "spec", "containers") as YamlSequenceNode)?.Children.OfType<YamlMappingNode>() ?? [];

    public IReadOnlyDictionary<string, string> Labels(params string[] path) =>
        (At(path) as YamlMappingNode)?.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value ?? "")
        ?? new Dictionary<string, string>();
}

/// <summary>The repository's k8s/ folder rendered with <c>kubectl kustomize</c> (kubectl ships kustomize).</summary>
public static class Manifests
{
    public static string RepositoryRoot { get; } = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RsMoe.Micro.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("repository root not found");
    }

    public static IReadOnlyList<K8sObject> Render(string overlay, string? k8sRoot = null)
    {
        string folder = Path.Combine(k8sRoot ?? Path.Combine(RepositoryRoot, "k8s"), "overlays", overlay);
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("kustomize");
        start.ArgumentList.Add(folder);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("these tests render the manifests with kubectl (a single static binary with kustomize built in); install it");
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"kubectl kustomize {folder} failed: {error.Result}");
            return Parse(output.Result);
        }
    }

    public static IReadOnlyList<K8sObject> Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode)
            .Select(node => new K8sObject(
                ((YamlScalarNode)node.Children[new YamlScalarNode("kind")]).Value!,
                ((YamlScalarNode)((YamlMappingNode)node.Children[new YamlScalarNode("metadata")]).Children[new YamlScalarNode("name")]).Value!,
                node))
            .ToList();
    }

    public static YamlMappingNode LoadYaml(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }
}
