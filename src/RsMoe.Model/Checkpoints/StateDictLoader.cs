using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints;

/// <summary>What a checkpoint load found: keys the module wanted but the file lacked, and the reverse.</summary>
public sealed record LoadReport(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, int Loaded)
{
    public bool IsComplete => Missing.Count == 0 && Unexpected.Count == 0;

    /// <summary>Throws unless every key matched, naming each that did not.</summary>
    public LoadReport EnsureComplete(string what)
    {
        if (IsComplete) return this;
        throw new InvalidDataException($"{what}: {Missing.Count} missing key(s) [{string.Join(", ", Missing.Take(20))}]"
            + $" and {Unexpected.Count} unexpected key(s) [{string.Join(", ", Unexpected.Take(20))}]");
    }
}

/// <summary>
/// Copies checkpoint tensors into a module's parameters and buffers, one tensor at a time, converting
/// the dtype to the parameter's. Keys are renamed through an optional map (checkpoint name to module
/// name); a shape mismatch fails at once and names the key.
/// </summary>
public static class StateDictLoader
{
    public static LoadReport Load(nn.Module module, CheckpointDirectory checkpoint, string checkpointPrefix = "",
        Func<string, string?>? rename = null, IEnumerable<string>? ignoreMissing = null)
    {
        var targets = module.state_dict();
        var ignored = new HashSet<string>(ignoreMissing ?? [], StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var unexpected = new List<string>();

        foreach (var key in checkpoint.Keys.OrderBy(k => k, StringComparer.Ordinal))
        {
            if (!key.StartsWith(checkpointPrefix, StringComparison.Ordinal)) continue;
            string local = key[checkpointPrefix.Length..];
            string? name = rename is null ? local : rename(local);
            if (name is null) continue;   // the rename table drops keys this module never holds (e.g. rotary caches)
            if (!targets.TryGetValue(name, out var target)) { unexpected.Add(key); continue; }

            var entry = checkpoint.Entry(key);
            if (!entry.Shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"checkpoint key '{key}' has shape [{string.Join(", ", entry.Shape)}] but the model's '{name}' is [{string.Join(", ", target.shape)}]");
            using (no_grad())
            using (var source = checkpoint.Read(key))
                target.copy_(source);
            seen.Add(name);
        }
        var missing = targets.Keys.Where(k => !seen.Contains(k) && !ignored.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        return new LoadReport(missing, unexpected, seen.Count);
    }

    /// <summary>Same checks for an in-memory state dict (tensors keyed by module name).</summary>
    public static LoadReport Load(nn.Module module, IReadOnlyDictionary<string, Tensor> tensors, IEnumerable<string>? ignoreMissing = null)
    {
        var targets = module.state_dict();
        var ignored = new HashSet<string>(ignoreMissing ?? [], StringComparer.Ordinal);
        var unexpected = new List<string>();
        int loaded = 0;
        foreach (var (name, source) in tensors)
        {
            if (!targets.TryGetValue(name, out var target)) { unexpected.Add(name); continue; }
            if (!source.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"key '{name}' has shape [{string.Join(", ", source.shape)}] but the model's is [{string.Join(", ", target.shape)}]");
            using (no_grad()) target.copy_(source);
            loaded++;
        }
        var missing = targets.Keys.Where(k => !tensors.ContainsKey(k) && !ignored.Contains(k)).OrderBy(k => k).ToList();
        return new LoadReport(missing, unexpected, loaded);
    }
}
