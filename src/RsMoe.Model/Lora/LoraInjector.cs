using System.Text.RegularExpressions;
using TorchSharp;

namespace RsMoe.Model.Lora;

/// <summary>Attaches, merges and lists LoRA adapters on the <see cref="LoraLinear"/> layers a target list names.</summary>
public static class LoraInjector
{
    /// <summary>
    /// PEFT's matching: an entry that looks like a regular expression must match the whole module path;
    /// a plain name matches the path itself or its last segments (<c>q_proj</c> matches <c>model.layers.0.self_attn.q_proj</c>).
    /// </summary>
    public static bool Matches(string modulePath, IReadOnlyList<string> targets) => targets.Any(target =>
        target.IndexOfAny(['*', '(', '[', '\\', '|', '$', '^', '+', '?']) >= 0
            ? Regex.IsMatch(modulePath, "^(?:" + target + ")$")
            : modulePath == target || modulePath.EndsWith("." + target, StringComparison.Ordinal));

    public static IEnumerable<(string Path, LoraLinear Layer)> Layers(torch.nn.Module root) =>
        root.named_modules().Where(m => m.module is LoraLinear).Select(m => (m.name, (LoraLinear)m.module));

    /// <summary>Adds a fresh adapter to every matching layer; returns the paths adapted. Fails if none match.</summary>
    public static IReadOnlyList<string> Attach(torch.nn.Module root, LoraSettings settings)
    {
        var adapted = new List<string>();
        foreach (var (path, layer) in Layers(root).ToList())
        {
            if (!Matches(path, settings.TargetModules)) continue;
            layer.AttachAdapter(settings);
            adapted.Add(path);
        }
        if (adapted.Count == 0)
            throw new ArgumentException($"no layer matches the LoRA targets [{string.Join(", ", settings.TargetModules)}]");
        return adapted;
    }

    public static void Merge(torch.nn.Module root)
    {
        foreach (var (_, layer) in Layers(root)) layer.Merge();
    }

    public static void Unmerge(torch.nn.Module root)
    {
        foreach (var (_, layer) in Layers(root)) layer.Unmerge();
    }

    /// <summary>Freezes everything, then makes only the adapters trainable (LoRA training).</summary>
    public static void FreezeAllButAdapters(torch.nn.Module root)
    {
        foreach (var (name, parameter) in root.named_parameters())
            parameter.requires_grad = name.Contains(".lora_A.", StringComparison.Ordinal) || name.Contains(".lora_B.", StringComparison.Ordinal);
    }
}
